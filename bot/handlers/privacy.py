"""/privacy, /mydata and /deleteme (PIPA; SPEC §2)."""

from __future__ import annotations

import json
from io import BytesIO

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.constants import ChatAction
from telegram.ext import CallbackQueryHandler

from bot.context import BotContext, CivicApplication, person_and_translator, translator
from bot.handlers.admin import publish_commands
from bot.handlers.common import answer, edit_or_send, send
from bot.i18n import N_
from bot.menu import CommandRegistry, MenuCommand
from storage.privacy import erase_person, export_person


async def privacy_command(update: Update, context: BotContext) -> None:
    """The notice PIPA asks for: purpose, items, retention period, the controller and how to
    reach them, and the right to refuse with what refusing means (SPEC §2)."""
    t = await translator(update, context)
    settings = context.services.settings
    await send(
        update,
        context,
        t.gettext(
            "Privacy notice (개인정보 처리방침)\n\n"
            "Controller: %(controller)s\n"
            "Contact for questions and requests about your data: %(contact)s\n\n"
            "Purpose: to check who may take part in each programme (participatory budget,"
            " citizen panels, proposals, budget-waste reports) and to run it, as the city's"
            " participation ordinances require.\n\n"
            "Items: your Telegram user id; your language; your consent and when you gave it;"
            " how you are connected to Seoul and your district; and, only when a programme"
            " needs it, gender, birth year, neighbourhood (동) and your declaration that you are"
            " not a public official. Then what you give to a programme: proposals, supports,"
            " comments, panel applications, reports. Ballots are stored apart from your name."
            " If you share your phone number, we keep only a keyed fingerprint of it, to catch"
            " one person with two accounts, never the number itself.\n\n"
            "Retention: until you erase your data with /deleteme. After that, proposals,"
            " comments and reports already made public stay on the record without your name,"
            " and ballots already counted stay counted, without any link to you. So that the"
            " same account cannot vote twice or get round a posting block, we then keep a coded"
            " record that is neither your name nor your user id, only until the vote's result"
            " is confirmed (for a block, until it is lifted).\n\n"
            "Your right to refuse: you may refuse to agree. Then nothing about you is stored,"
            " and you cannot propose, support, apply to a panel, vote or report; you can still"
            " see what is open with /programmes.\n\n"
            "Your rights: /mydata sends you everything we keep about you; /deleteme erases it."
        )
        % {
            "controller": settings.privacy_controller(t.language),
            "contact": settings.privacy_contact,
        },
    )


async def mydata_command(update: Update, context: BotContext) -> None:
    assert update.effective_user is not None and update.effective_chat is not None
    user_id = update.effective_user.id
    t = await translator(update, context)
    await context.bot.send_chat_action(update.effective_chat.id, ChatAction.UPLOAD_DOCUMENT)
    async with context.services.db.reading() as session:
        data = await export_person(session, user_id)
    if data["profile"] is None and not data["conversation_data"]:
        await send(update, context, t.gettext("We store nothing about you."))
        return
    document = BytesIO(json.dumps(data, ensure_ascii=False, indent=2).encode())
    await context.bot.send_document(
        update.effective_chat.id,
        document,
        filename=f"mydata-{user_id}.json",
        caption=t.gettext("Everything we store about you."),
    )


async def deleteme_command(update: Update, context: BotContext) -> None:
    person, t = await person_and_translator(update, context)
    if person is None:
        await send(update, context, t.gettext("We store nothing about you."))
        return
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(t.gettext("Yes, erase everything"), callback_data="del:yes")],
            [InlineKeyboardButton(t.gettext("No, keep my data"), callback_data="del:no")],
        ]
    )
    await send(
        update,
        context,
        t.gettext(
            "This erases your profile and everything linked to you. Ballots already counted stay"
            " counted, without your name. Are you sure?"
        ),
        reply_markup=keyboard,
    )


async def on_deleteme(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and update.effective_user is not None
    await answer(update)
    t = await translator(update, context)
    if query.data != "del:yes":
        await edit_or_send(update, context, t.gettext("Nothing was deleted."))
        return
    user_id = update.effective_user.id
    async with context.services.db.transaction() as session:
        await erase_person(session, user_id)
    # Keep PTB from writing the in-memory copy back on its next persistence run.
    context.udata.clear()
    context.application.drop_user_data(user_id)
    await publish_commands(context, user_id)  # their roles went with them
    await edit_or_send(update, context, t.gettext("Everything about you has been erased."))
    await send(
        update,
        context,
        t.gettext("Goodbye. Send /start if you want to come back."),
        reply_markup=ReplyKeyboardRemove(),
    )


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    registry.add(MenuCommand("privacy", N_("How we use your data"), N_("Privacy"), privacy_command))
    registry.add(
        MenuCommand("mydata", N_("Everything stored about you"), N_("My data"), mydata_command)
    )
    registry.add(
        MenuCommand("deleteme", N_("Erase your data"), N_("Erase my data"), deleteme_command)
    )
    application.add_handler(CallbackQueryHandler(on_deleteme, pattern=r"^del:(yes|no)$"))
