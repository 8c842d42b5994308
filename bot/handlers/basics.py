"""/help, /menu, /cancel, /language, and what happens to anything no flow expected."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    MessageHandler,
    filters,
)

from bot.context import BotContext, CivicApplication, person_and_translator, translator
from bot.handlers.common import answer, drop_keyboard, edit_or_send, send
from bot.i18n import LANGUAGES, N_, Translator
from bot.menu import CommandRegistry, MenuCommand, MenuLabel
from storage.people import PeopleRepository

LANGUAGE_NAMES = {"ko": "한국어", "en": "English"}


async def help_command(update: Update, context: BotContext) -> None:
    person, t = await person_and_translator(update, context)
    lines = [t.gettext("What you can do here:"), ""]
    user = update.effective_user
    is_admin = user is not None and user.id in context.services.settings.admin_ids
    for command in context.civic.commands.all():
        if command.admin_only and not is_admin:
            continue
        lines.append(f"/{command.name} — {t.gettext(command.description)}")
    if person is None:
        lines += ["", t.gettext("Send /start to sign up first.")]
    await send(update, context, "\n".join(lines))


async def menu_command(update: Update, context: BotContext) -> None:
    t = await translator(update, context)
    user = update.effective_user
    is_admin = user is not None and user.id in context.services.settings.admin_ids
    await send(
        update,
        context,
        t.gettext("Main menu"),
        reply_markup=context.civic.commands.inline_menu(t, is_admin),
    )


async def on_menu_button(update: Update, context: BotContext) -> None:
    """A main-menu button: inline (`menu:<command>`) or a persistent keyboard label."""
    registry = context.civic.commands
    if update.callback_query is not None:
        await answer(update)
        name = (update.callback_query.data or "").removeprefix("menu:")
        command = registry.get(name)
    else:
        assert update.message is not None and update.message.text is not None
        command = registry.by_label(update.message.text)
    user = update.effective_user
    if command is None or (
        command.admin_only and (user is None or user.id not in context.services.settings.admin_ids)
    ):
        await stale_button(update, context)
        return
    await command.callback(update, context)


async def cancel_command(update: Update, context: BotContext) -> None:
    t = await translator(update, context)
    await send(update, context, t.gettext("There is nothing to cancel."))


def language_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(LANGUAGE_NAMES[code], callback_data=f"lang:{code}")]
            for code in LANGUAGES
        ]
    )


async def language_command(update: Update, context: BotContext) -> None:
    t = await translator(update, context)
    await send(
        update, context, t.gettext("Choose your language."), reply_markup=language_keyboard()
    )


async def on_language(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    await answer(update)
    language = query.data.removeprefix("lang:")
    services = context.services
    async with services.db.transaction() as session:
        person = await PeopleRepository(session).update(
            update.effective_user.id, services.clock(), language=language
        )
    if person is None:
        # Not signed up: remember the choice for this conversation only.
        context.udata["language"] = language
    t = Translator(language, services.settings.tz)
    await edit_or_send(update, context, t.gettext("Language: English"))
    if person is not None:
        await send(
            update,
            context,
            t.gettext("The menu is now in English."),
            reply_markup=context.civic.commands.main_keyboard(t),
        )


async def stale_button(update: Update, context: BotContext) -> None:
    """A button no handler recognises: from an old message, another flow, or forged."""
    t = await translator(update, context)
    await answer(update, t.gettext("That button is out of date."), alert=True)
    await drop_keyboard(update)
    await send(update, context, t.gettext("That button is out of date. Use /menu to start again."))


async def on_edited(update: Update, context: BotContext) -> None:
    """Edits of earlier messages are not read: say so, and let no flow take them as answers."""
    t = await translator(update, context)
    await send(
        update,
        context,
        t.gettext("I only read new messages; please send your corrected answer again."),
    )
    raise ApplicationHandlerStop


async def not_understood(update: Update, context: BotContext) -> None:
    t = await translator(update, context)
    await send(
        update,
        context,
        t.gettext("Sorry, I didn't understand that. Use the menu buttons, /menu or /help."),
    )


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    application.add_handler(MessageHandler(filters.UpdateType.EDITED, on_edited), group=-1)
    registry.add(
        MenuCommand("help", N_("What this bot can do"), N_("Help"), help_command, on_keyboard=True)
    )
    registry.add(MenuCommand("menu", N_("Main menu"), N_("Menu"), menu_command, on_keyboard=True))
    registry.add(MenuCommand("language", N_("Change language"), N_("Language"), language_command))
    registry.add(MenuCommand("cancel", N_("Leave the current step"), N_("Cancel"), cancel_command))
    application.add_handler(CallbackQueryHandler(on_language, pattern=r"^lang:(ko|en)$"))


def register_fallbacks(application: CivicApplication, registry: CommandRegistry) -> None:
    """Registered last: every feature's /commands, menu buttons and labels, then anything
    nobody else handled."""
    for handler in registry.command_handlers():
        application.add_handler(handler)
    application.add_handler(CallbackQueryHandler(on_menu_button, pattern=r"^menu:[a-z_]+$"))
    application.add_handler(MessageHandler(MenuLabel(registry), on_menu_button))
    application.add_handler(CallbackQueryHandler(stale_button))
    application.add_handler(MessageHandler(filters.ALL, not_understood))
