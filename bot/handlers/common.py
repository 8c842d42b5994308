"""Small helpers shared by handlers: replying the same way from a message or a button."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from telegram import (
    Bot,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    MaybeInaccessibleMessage,
    Message,
    Update,
)
from telegram.error import BadRequest

from bot.context import BotContext, translator
from bot.i18n import Translator
from bot.intake import CURRENT, needs_saving, unit_of_work

log = logging.getLogger(__name__)


def no_empty_keyboard(markup: Any) -> Any:
    """A keyboard whose rows are all empty is no keyboard (Telegram refuses one)."""
    if isinstance(markup, InlineKeyboardMarkup) and not any(markup.inline_keyboard):
        return None
    return markup


# Buttons' fields that are plain JSON values (the others are objects: see `wire_keyboard`).
PLAIN_BUTTON_FIELDS = (
    "url",
    "callback_data",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "pay",
    "style",
    "icon_custom_emoji_id",
)


def wire_keyboard(markup: Any) -> Any:
    """An inline keyboard as the JSON text PTB would send (`no_empty_keyboard` first); other
    markups as they are. PTB's generic `to_dict` walks every attribute of every button; this
    reads the few a button of ours has, and leaves a button with objects in it (a login URL,
    a web app…) to `to_dict`."""
    markup = no_empty_keyboard(markup)
    if not isinstance(markup, InlineKeyboardMarkup) or markup.api_kwargs:
        return markup
    rows = []
    for row in markup.inline_keyboard:
        buttons: list[dict[str, Any]] = []
        for button in row:
            if (
                button.login_url
                or button.callback_game
                or button.web_app
                or button.switch_inline_query_chosen_chat
                or button.copy_text
                or button.api_kwargs
            ):
                buttons.append(button.to_dict())
                continue
            wired: dict[str, Any] = {"text": button.text}
            for name in PLAIN_BUTTON_FIELDS:
                value = getattr(button, name)
                if value is not None:
                    wired[name] = value
            buttons.append(wired)
        rows.append(buttons)
    return json.dumps({"inline_keyboard": rows})


async def send(update: Update, context: BotContext, text: str, **kwargs: Any) -> int:
    """Send to the chat the update came from, whether it was a message or a button press;
    `kwargs` are sendMessage's parameters (reply_markup, parse_mode…). Returns the message's
    id. This is PTB's `send_message` less the `Message` it builds from Telegram's answer,
    which no caller needs (about a tenth of the CPU of a /help); the request takes the same
    path: defaults, the rate limiter, the transport, and PTB's errors."""
    chat = update.effective_chat
    assert chat is not None
    if "reply_markup" in kwargs:
        kwargs["reply_markup"] = wire_keyboard(kwargs["reply_markup"])
    _note_sent()
    sent = await context.bot._post("sendMessage", {"chat_id": chat.id, "text": text, **kwargs})
    return int(sent["message_id"])


def _note_sent() -> None:
    """A new message goes below whatever this update's question was (see `ask`)."""
    work = CURRENT.get()
    if work is not None:
        work.sent = True


async def edit(
    bot: Bot,
    message: MaybeInaccessibleMessage,
    text: str | None,
    markup: Any = None,
    **kwargs: Any,
) -> None:
    """Edit a message's text and buttons (`text` None: only take its buttons off, or set
    `markup`). Like `send`, PTB's edit less the `Message` it builds from Telegram's answer,
    which no caller needs (a question's keyboard parsed back button by button). Raises
    PTB's errors (BadRequest: not modified, gone…)."""
    await edit_at(bot, message.chat.id, message.message_id, text, markup, **kwargs)


async def edit_at(
    bot: Bot, chat_id: int, message_id: int, text: str | None, markup: Any = None, **kwargs: Any
) -> None:
    """`edit`, for a message known by its chat and id."""
    data: dict[str, Any] = {"chat_id": chat_id, "message_id": message_id}
    if text is None:
        await bot._post("editMessageReplyMarkup", {**data, "reply_markup": wire_keyboard(markup)})
        return
    data.update(text=text, reply_markup=wire_keyboard(markup), **kwargs)
    await bot._post("editMessageText", data)


def hold_answer(text: str) -> bool:
    """Keep a question answered by button (`text`: the question with its answer) for the
    next screen of this update: edited into the question's message, it shows the answer
    above itself, one Bot API call instead of two. False when there is no update in hand
    to keep it with; `show_held_answer` shows it alone if no screen took it."""
    work = CURRENT.get()
    if work is None:
        return False
    work.answered = text
    return True


def take_held_answer() -> str | None:
    work = CURRENT.get()
    if work is None:
        return None
    held, work.answered = work.answered, None
    return held


async def show_held_answer(update: Update, context: BotContext) -> None:
    """The held answer went on no screen (the next one was sent anew): its question shows it."""
    held = take_held_answer()
    if held is not None:
        await edit_or_send(update, context, held)


async def edit_or_send(
    update: Update,
    context: BotContext,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    **kwargs: Any,
) -> None:
    """Edit the message whose button was pressed (Telegram convention); else send anew."""
    markup = no_empty_keyboard(markup)
    query = update.callback_query
    if query is not None and query.message is not None:
        held = take_held_answer()
        if held is not None:
            text = f"{held}\n\n{text}"
        try:
            await edit(context.bot, query.message, text, markup, **kwargs)
            if context.udata.get(QUESTION_KEY) == query.message.message_id and markup is None:
                # The question just lost its buttons here; nothing left to retire.
                context.udata.pop(QUESTION_KEY, None)
            return
        except BadRequest as error:
            if "not modified" in str(error).lower():
                return
            log.info("could not edit message, sending a new one: %s", error)
    await send(update, context, text, reply_markup=markup, **kwargs)


async def drop_keyboard(update: Update) -> None:
    """Take the buttons off a message whose choice is made or out of date."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    try:
        await edit(query.get_bot(), query.message, None)
    except BadRequest as error:
        log.debug("keyboard already gone: %s", error)


async def answer(update: Update, text: str | None = None, alert: bool = False) -> None:
    if update.callback_query is not None:
        try:
            await update.callback_query.answer(text, show_alert=alert)
        except BadRequest as error:
            # An old query can no longer be answered; the person gets our message anyway.
            log.debug("callback query not answered: %s", error)


async def send_stored_photos(
    update: Update, context: BotContext, file_ids: Sequence[str], caption: str | None = None
) -> bool:
    """Photos Telegram keeps for us, by the file ids stored with a proposal or a ballot item.
    An id Telegram no longer serves (a file lost, or one from another bot or test server) is
    said plainly, with the caption, rather than failing the whole reply. False: not shown."""
    chat = update.effective_chat
    if chat is None or not file_ids:
        return False
    _note_sent()
    try:
        if len(file_ids) == 1:
            await context.bot.send_photo(chat.id, file_ids[0], caption=caption)
        else:
            media = [InputMediaPhoto(file_id) for file_id in file_ids]
            await context.bot.send_media_group(chat.id, media)
    except BadRequest as error:
        log.warning("stored photos not shown in chat %s: %s", chat.id, error)
        t = await translator(update, context)
        note = t.gettext("The photo can no longer be shown: Telegram no longer has the file.")
        await send(update, context, f"{caption}\n\n{note}" if caption else note)
        return False
    return True


QUESTION_KEY = "question_message_id"
LASTING_KEY = "lasting_questions"  # answered questions of the flow that kept Back and Cancel
LASTING_MAX = 8


def with_answer(t: Translator, question: str, answer: str) -> str:
    """A question as it stands once answered: the question, then the person's answer."""
    return question + "\n" + t.gettext("Your answer: %(answer)s") % {"answer": answer}


async def ask(
    update: Update,
    context: BotContext,
    text: str,
    markup: InlineKeyboardMarkup,
    flow: tuple[str, object] | None = None,
    answered: str | None = None,
    lasting: bool = False,
) -> None:
    """Ask a flow's question; only the current question can be answered by button (Back and
    Cancel aside: see `lasting`).

    Answered by a button of the current question, the question's message becomes the next
    question, edited in place: one Bot API call per step besides the callback's answer
    (Telegram convention). Otherwise (a typed answer, or a message already sent below the
    question by this update) the previous question loses its buttons and the question is
    sent anew: a question edited above the person's answer would go unseen. `answered`, if
    given, is shown above the question: what the person just chose. With `flow`
    (conversation name, state) the step is saved before the question goes out.

    `lasting`: the question's buttons are only the flow's Back and Cancel, which mean the
    same under any question of the flow: answered by typing, it keeps them (one Bot API
    call per typed step instead of two); `guard.guided_steps(lasting=True)` takes them
    until the flow ends (`is_flow_question`)."""
    held = take_held_answer()
    answered = answered or held
    if answered:
        text = f"{answered}\n\n{text}"
    query = update.callback_query
    work = CURRENT.get()
    if (
        query is not None
        and isinstance(query.message, Message)
        and context.udata.get(QUESTION_KEY) == query.message.message_id
        and not (work is not None and work.sent)
    ):
        if flow is not None:
            await checkpoint(update, context, flow)
        try:
            await edit(context.bot, query.message, text, markup)
            _mark_lasting(context, query.message.message_id, lasting)
            return
        except BadRequest as error:
            if "not modified" in str(error).lower():
                return
            log.info("could not edit the question, sending a new one: %s", error)
    else:
        await retire_question(update, context)
        if flow is not None:
            await checkpoint(update, context, flow)
    await retire_question(update, context)
    message_id = await send(update, context, text, reply_markup=markup)
    context.udata[QUESTION_KEY] = message_id
    _mark_lasting(context, message_id, lasting)


def _mark_lasting(context: BotContext, message_id: int, lasting: bool) -> None:
    kept = context.udata.get(LASTING_KEY)
    if lasting:
        kept = [one for one in kept or [] if one != message_id][-(LASTING_MAX - 1) :]
        context.udata[LASTING_KEY] = [*kept, message_id]
    elif kept and message_id in kept:
        kept.remove(message_id)


def is_flow_question(update: Update, context: BotContext) -> bool:
    """The pressed button is on the current question, or on one of the flow's answered
    questions that kept its Back and Cancel (`ask(lasting=True)`)."""
    query = update.callback_query
    if query is None or query.message is None:
        return False
    pressed = query.message.message_id
    return pressed == context.udata.get(QUESTION_KEY) or pressed in context.udata.get(
        LASTING_KEY, ()
    )


def forget_flow_questions(context: BotContext) -> None:
    """The flow ended: the buttons its answered questions kept are out of date now."""
    context.udata.pop(LASTING_KEY, None)


async def checkpoint(
    update: Update, context: BotContext, flow: tuple[str, object] | None = None
) -> None:
    """Save the person's conversation data (and a conversation's next state) now, before the
    reply shows it: otherwise they are saved when the update is done, after the person saw
    the reply, and a crash in between would bring back the step or choices from before it.
    Writes nothing when nothing changed but which message holds the question (that is saved
    when the update is done)."""
    if not needs_saving(context.civic, flow, ignore=frozenset({QUESTION_KEY, LASTING_KEY})):
        return
    async with unit_of_work(context.civic, flow):
        pass


async def retire_question(update: Update, context: BotContext) -> None:
    """The question loses its buttons; answered by button, it shows the answer instead. A
    lasting question (see `ask`) answered by typing keeps its buttons."""
    message_id = context.udata.pop(QUESTION_KEY, None)
    chat = update.effective_chat
    if not isinstance(message_id, int) or chat is None:
        return
    query = update.callback_query
    pressed = query.message if query is not None else None
    held = take_held_answer() if pressed is not None and pressed.message_id == message_id else None
    if held is None and message_id in context.udata.get(LASTING_KEY, ()):
        return
    _mark_lasting(context, message_id, False)
    try:
        await edit_at(context.bot, chat.id, message_id, held)
    except BadRequest as error:
        log.debug("question keyboard already gone: %s", error)
