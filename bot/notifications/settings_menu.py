"""/settings: per-person notification settings by category (SPEC §8): immediately, in one
summary a day, or off. Buttons edit the same message in place."""

from __future__ import annotations

import html
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler

from bot.context import BotContext, CivicApplication, person_and_translator
from bot.handlers.common import answer, edit_or_send, send
from bot.i18n import N_, Translator
from bot.menu import CommandRegistry, MenuCommand
from bot.notifications.texts import CATEGORY_LABELS, MODE_BUTTONS, mode_description
from domain.notifications import SETTABLE, Category, Mode
from storage.notifications import NotificationSettingsRepository

_CATEGORIES = "|".join(category.value for category in SETTABLE)
_MODES = "|".join(mode.value for mode in Mode)
CALLBACK = re.compile(
    rf"^ntf:(?:cat:(?P<cat>{_CATEGORIES})"
    rf"|set:(?P<set>{_CATEGORIES}):(?P<mode>{_MODES})"
    r"|(?P<back>back))$"
)


def overview(t: Translator, modes: dict[Category, Mode], context: BotContext) -> str:
    settings = context.services.settings
    lines = [t.gettext("<b>Notification settings</b>"), ""]
    for category, label in CATEGORY_LABELS.items():
        lines.append(
            f"{html.escape(t.gettext(label))}: "
            f"{html.escape(mode_description(t, modes[category], settings.digest_time))}"
        )
    lines += [
        "",
        t.gettext(
            "Quiet hours %(start)s–%(end)s: only what you asked for is sent then; the rest"
            " waits until the morning."
        )
        % {
            "start": settings.quiet_hours_start.strftime("%H:%M"),
            "end": settings.quiet_hours_end.strftime("%H:%M"),
        },
        t.gettext("Choose a kind of notification to change it."),
    ]
    return "\n".join(lines)


def overview_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(t.gettext(label), callback_data=f"ntf:cat:{category.value}")]
            for category, label in CATEGORY_LABELS.items()
        ]
    )


def choice(t: Translator, category: Category, mode: Mode, context: BotContext) -> str:
    digest_at = context.services.settings.digest_time
    return "\n".join(
        [
            f"<b>{html.escape(t.gettext(CATEGORY_LABELS[category]))}</b>",
            t.gettext("Now: %(mode)s")
            % {"mode": html.escape(mode_description(t, mode, digest_at))},
            "",
            t.gettext("How should these reach you?"),
        ]
    )


def choice_keyboard(t: Translator, category: Category) -> InlineKeyboardMarkup:
    rows = [
        [InlineKeyboardButton(t.gettext(label), callback_data=f"ntf:set:{category}:{mode}")]
        for mode, label in MODE_BUTTONS.items()
    ]
    rows.append([InlineKeyboardButton(t.gettext("Back to all settings"), callback_data="ntf:back")])
    return InlineKeyboardMarkup(rows)


async def settings_command(update: Update, context: BotContext) -> None:
    person, t = await person_and_translator(update, context)
    if person is None:
        await send(
            update,
            context,
            t.gettext("Please sign up with /start first; then you can choose your notifications."),
        )
        return
    async with context.services.db.reading() as session:
        modes = await NotificationSettingsRepository(session).modes(person.user_id)
    await send(
        update,
        context,
        overview(t, modes, context),
        reply_markup=overview_keyboard(t),
        parse_mode=ParseMode.HTML,
    )


async def on_settings_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    match = CALLBACK.match(query.data)
    assert match is not None  # the handler's pattern
    person, t = await person_and_translator(update, context)
    if person is None:
        await answer(update)
        await settings_command(update, context)
        return
    services = context.services
    if match["set"]:
        category, mode = Category(match["set"]), Mode(match["mode"])
        async with services.db.transaction() as session:
            repository = NotificationSettingsRepository(session)
            await repository.set_mode(person.user_id, category, mode, services.clock())
            modes = await repository.modes(person.user_id)
        await answer(update, t.gettext("Saved."))
    else:
        await answer(update)
        async with services.db.reading() as session:
            modes = await NotificationSettingsRepository(session).modes(person.user_id)
    if match["cat"]:
        category = Category(match["cat"])
        await edit_or_send(
            update,
            context,
            choice(t, category, modes[category], context),
            choice_keyboard(t, category),
            parse_mode=ParseMode.HTML,
        )
        return
    text = overview(t, modes, context)
    await edit_or_send(update, context, text, overview_keyboard(t), parse_mode=ParseMode.HTML)


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    registry.add(
        MenuCommand(
            "settings",
            N_("Choose which notifications you get and when"),
            N_("Notifications"),
            settings_command,
        )
    )
    application.add_handler(CallbackQueryHandler(on_settings_button, pattern=CALLBACK))
