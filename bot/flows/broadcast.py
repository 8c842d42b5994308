"""/broadcast: compose an admin broadcast (SPEC §9) — Korean text, English text (or the same),
an optional photo, an optional button to a proposal or ballot, the audience — then see the
audience size and a preview of both versions, and confirm.

The draft lives in the admin's conversation data (saved before every question). Confirming
queues the whole audience in one unit of work with per-person dedupe keys, so a double tap or
a restart never queues anyone twice; the service checks the admin role at every step.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext, CivicApplication, translator
from bot.flows.guard import (
    StepHandler,
    discard_flow,
    end_flow,
    flow,
    guided_steps,
    role_checked,
)
from bot.handlers import broadcasts as status
from bot.handlers.admin import holds
from bot.handlers.common import answer, ask, send
from bot.i18n import N_, Translator
from bot.menu import CommandRegistry, MenuCommand, entry_points
from bot.services import admin as admin_service
from bot.services import broadcasts as service
from domain.broadcasts import TEXT_MAX, Audience, ButtonKind, ButtonTarget, Segment, text_limit
from domain.ids import is_number, to_id
from domain.people import DISTRICTS
from domain.programmes import ProgrammeKind
from domain.roles import Role
from storage.broadcasts import Broadcast, voting_stages
from storage.programmes import ProgrammesRepository

FLOW_NAME = N_("composing a broadcast")
NAME = "broadcast"
DRAFT = "broadcast_draft"
KOREAN, ENGLISH, PHOTO, BUTTON, TARGET, AUDIENCE, VALUE, PREVIEW = (
    "korean", "english", "photo", "button", "target", "audience", "value", "preview",
)  # fmt: skip

SEGMENT_LABELS = {
    Segment.EVERYONE: N_("Everyone"),
    Segment.DISTRICT: N_("People in one district"),
    Segment.LANGUAGE: N_("People using one language"),
    Segment.PANEL: N_("A panel's members"),
    Segment.PROGRAMME: N_("A programme's participants"),
    Segment.NOT_VOTED: N_("People who have not voted in a stage"),
    Segment.FOLLOWERS: N_("People following a proposal"),
}
# The question for each audience that takes a value: it names what is chosen.
VALUE_QUESTIONS = {
    Segment.DISTRICT: N_("People of which district?"),
    Segment.LANGUAGE: N_("People using which language?"),
    Segment.PANEL: N_("The members of which panel?"),
    Segment.PROGRAMME: N_("The participants of which programme?"),
    Segment.NOT_VOTED: N_("Those who have not voted in which voting stage?"),
}
LANGUAGE_NAMES = {"ko": "한국어", "en": "English"}


def draft(context: BotContext) -> dict[str, Any]:
    found = context.udata.setdefault(DRAFT, {})
    assert isinstance(found, dict)
    return found


def cancel_row(t: Translator) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(t.gettext("Cancel"), callback_data="bc:cancel")]


async def value_choices(
    context: BotContext, t: Translator, segment: Segment
) -> list[tuple[str, str]]:
    """(value, label) a segment can take; empty for FOLLOWERS (the proposal id is typed)."""
    if segment is Segment.DISTRICT:
        return [(d.code, d.name(t.language)) for d in DISTRICTS]
    if segment is Segment.LANGUAGE:
        return list(LANGUAGE_NAMES.items())
    async with context.services.db.reading() as session:
        if segment is Segment.NOT_VOTED:
            return [
                (str(stage_id), ko if t.language == "ko" else en)
                for stage_id, ko, en in await voting_stages(session)
            ]
        programmes = await ProgrammesRepository(session).all()
    if segment is Segment.PANEL:
        programmes = [p for p in programmes if p.kind is ProgrammeKind.PANEL]
    if segment in (Segment.PANEL, Segment.PROGRAMME):
        return [(p.key, p.name.get(t.language)) for p in programmes]
    return []


async def ask_step(update: Update, context: BotContext, step: str) -> str:
    t = await translator(update, context)
    d = draft(context)
    rows: list[list[InlineKeyboardButton]] = []
    if step == KOREAN:
        text = t.gettext("Write the broadcast in Korean (at most %(max)d characters).") % {
            "max": text_limit(False)
        }
    elif step == ENGLISH:
        text = t.gettext("Now the English version, or use the Korean text for everyone.")
        rows = [[InlineKeyboardButton(t.gettext("Same as Korean"), callback_data="bc:same")]]
    elif step == PHOTO:
        text = t.gettext("Send a photo to go with it, or skip.")
        rows = [[InlineKeyboardButton(t.gettext("Skip"), callback_data="bc:skip")]]
    elif step == BUTTON:
        text = t.gettext("Add a button under the message?")
        rows = [
            [InlineKeyboardButton(t.gettext("To a proposal"), callback_data="bc:btn:proposal")],
            [InlineKeyboardButton(t.gettext("To a ballot"), callback_data="bc:btn:ballot")],
            [InlineKeyboardButton(t.gettext("No button"), callback_data="bc:btn:none")],
        ]
    elif step == TARGET:
        if d["button_kind"] == ButtonKind.PROPOSAL.value:
            text = t.gettext("Type the number of the proposal, e.g. 12.")
        else:
            text = t.gettext("Type the number of the ballot heading, e.g. 3.")
    elif step == AUDIENCE:
        text = t.gettext("Who should receive it?")
        rows = [
            [InlineKeyboardButton(t.gettext(label), callback_data=f"bc:seg:{segment.value}")]
            for segment, label in SEGMENT_LABELS.items()
        ]
    elif step == VALUE:
        segment = Segment(d["segment"])
        choices = await value_choices(context, t, segment)
        if segment is Segment.FOLLOWERS:
            text = t.gettext("Type the number of the proposal whose followers should receive it.")
        elif choices:
            text = t.gettext(VALUE_QUESTIONS[segment])
        else:
            text = t.gettext("There is nothing to choose from yet. Choose another audience.")
            rows = [[InlineKeyboardButton(t.gettext("Back"), callback_data="bc:seg:back")]]
        buttons = [InlineKeyboardButton(label, callback_data=f"bc:val:{v}") for v, label in choices]
        rows += [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    else:
        text = await preview(update, context, t)
        rows = [[InlineKeyboardButton(t.gettext("Send now"), callback_data="bc:go")]]
    rows.append(cancel_row(t))
    d["step"] = step
    await ask(update, context, text, InlineKeyboardMarkup(rows), flow=(NAME, step))
    return step


async def preview(update: Update, context: BotContext, t: Translator) -> str:
    """Save the draft broadcast and return the preview question: every language version as
    its readers will see it, with its audience size, in this one message (several would
    trickle in under Telegram's limit of one message a second per chat)."""
    d = draft(context)
    services = context.services
    assert update.effective_user is not None
    audience = Audience(segment=Segment(d["segment"]), value=d.get("value"))
    button = None if d.get("button") is None else ButtonTarget.model_validate(d["button"])
    saved = await service.create_draft(
        services.db, update.effective_user.id, d["texts"], d.get("photo"), button, audience,
        services.clock(), services.settings.admin_ids,
    )  # fmt: skip
    if saved is None:
        return t.gettext("This is for administrators only.")
    d["id"] = saved.id
    sizes = await service.sizes(services.db, audience, services.settings.default_language)
    return preview_text(t, saved, sizes)


def preview_text(t: Translator, saved: Broadcast, sizes: dict[str, int]) -> str:
    # Languages with the same text (e.g. "Same as Korean") share one block.
    versions: dict[str, list[str]] = {}
    for language, text in saved.texts.items():
        versions.setdefault(text, []).append(language)
    headers = [
        t.ngettext(
            "%(language)s version, %(count)s person:",
            "%(language)s version, %(count)s people:",
            count,
        )
        % {
            "language": " · ".join(LANGUAGE_NAMES[language] for language in languages),
            "count": status.number(t, count),
        }
        for languages in versions.values()
        for count in [sum(sizes[language] for language in languages)]
    ]
    notes = []
    if saved.photo is not None:
        notes.append(t.gettext("With the photo you sent above."))
    if saved.button is not None:
        label = t.gettext(service.BUTTON_LABELS[saved.button.kind])
        notes.append(
            (
                t.gettext("Button under it: “%(label)s”, to proposal #%(id)d")
                if saved.button.kind is ButtonKind.PROPOSAL
                else t.gettext("Button under it: “%(label)s”, to ballot heading #%(id)d")
            )
            % {"label": label, "id": saved.button.id}
        )
    total = sum(sizes.values())
    question = t.ngettext(
        "Send this broadcast to %(count)s person?",
        "Send this broadcast to %(count)s people?",
        total,
    ) % {"count": status.number(t, total)}
    notes_block = ["\n".join(notes)] if notes else []

    def message(bodies: list[str]) -> str:
        blocks = [f"{header}\n{body}" for header, body in zip(headers, bodies, strict=True)]
        return "\n\n".join([*blocks, *notes_block, question])

    # Long versions are shortened so that everything fits in one message.
    room = (TEXT_MAX - len(message([""] * len(versions)))) // len(versions)
    cut = "…\n" + t.gettext("(Shortened here; it is sent in full.)")
    return message(
        [text if len(text) <= room else text[: room - len(cut)] + cut for text in versions]
    )


async def go_to(update: Update, context: BotContext, step: str) -> str:
    return await ask_step(update, context, step)


async def start(update: Update, context: BotContext) -> str | int:
    await answer(update)
    if not await holds(update, context, Role.ADMIN):
        return ConversationHandler.END
    context.udata[DRAFT] = {"texts": {}}
    return await go_to(update, context, KOREAN)


async def on_text(update: Update, context: BotContext) -> str:
    assert update.message is not None and update.message.text is not None
    d = draft(context)
    t = await translator(update, context)
    text = update.message.text.strip()
    step = d.get("step")
    if step in (KOREAN, ENGLISH):
        if len(text) > text_limit(False):
            await send(
                update,
                context,
                t.gettext("That is %(length)d characters; at most %(max)d fit.")
                % {"length": len(text), "max": text_limit(False)},
            )
            return await go_to(update, context, step)
        d["texts"]["ko" if step == KOREAN else "en"] = text
        return await go_to(update, context, ENGLISH if step == KOREAN else PHOTO)
    if step in (TARGET, VALUE) and not is_number(text):
        await send(update, context, t.gettext("Please type a number, e.g. 12."))
        return await go_to(update, context, step)
    if step == TARGET or (step == VALUE and d.get("segment") == Segment.FOLLOWERS.value):
        # A button's target, or the proposal whose followers get it: it must exist.
        kind = ButtonKind(d["button_kind"]) if step == TARGET else ButtonKind.PROPOSAL
        target_id = to_id(text)
        async with context.services.db.reading() as session:
            exists = await service.button_exists(session, kind, target_id)
        if not exists:
            await send(update, context, t.gettext("There is nothing with that number."))
            return await go_to(update, context, step)
        if step == VALUE:
            d["value"] = str(target_id)
            return await go_to(update, context, PREVIEW)
        d["button"] = ButtonTarget(kind=kind, id=target_id).model_dump(mode="json")
        return await go_to(update, context, AUDIENCE)
    await send(
        update, context, t.gettext("I can't use that here. Please answer the question below.")
    )
    return await go_to(update, context, step or KOREAN)


async def on_photo(update: Update, context: BotContext) -> str:
    assert update.message is not None
    d = draft(context)
    t = await translator(update, context)
    longest = max(len(text) for text in d["texts"].values())
    if longest > text_limit(True):
        await send(
            update,
            context,
            t.gettext(
                "With a photo the text is its caption, which holds at most %(max)d characters;"
                " yours has %(length)d. Skip the photo or start again with a shorter text."
            )
            % {"max": text_limit(True), "length": longest},
        )
        return await go_to(update, context, PHOTO)
    d["photo"] = update.message.photo[-1].file_id
    return await go_to(update, context, BUTTON)


async def on_button(update: Update, context: BotContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    d = draft(context)
    step = d.get("step")
    _, action, *rest = query.data.split(":")
    value = rest[0] if rest else ""
    if action == "same" and step == ENGLISH:
        d["texts"]["en"] = d["texts"]["ko"]
        return await go_to(update, context, PHOTO)
    if action == "skip" and step == PHOTO:
        d.pop("photo", None)
        return await go_to(update, context, BUTTON)
    if action == "btn" and step == BUTTON and value in ("proposal", "ballot", "none"):
        d.pop("button", None)
        if value == "none":
            return await go_to(update, context, AUDIENCE)
        d["button_kind"] = value
        return await go_to(update, context, TARGET)
    if action == "seg" and step == VALUE and value == "back":
        return await go_to(update, context, AUDIENCE)
    if action == "seg" and step == AUDIENCE and value in set(Segment):
        d["segment"] = value
        d.pop("value", None)
        return await go_to(update, context, PREVIEW if value == Segment.EVERYONE else VALUE)
    if action == "val" and step == VALUE:
        t = await translator(update, context)
        choices = await value_choices(context, t, Segment(d["segment"]))
        if value in {choice for choice, _ in choices}:
            d["value"] = value
            return await go_to(update, context, PREVIEW)
    if action == "go" and step == PREVIEW and "id" in d:
        return await confirm(update, context)
    return await stale(update, context)


async def stale(update: Update, context: BotContext) -> str:
    t = await translator(update, context)
    await send(
        update, context, t.gettext("That button is out of date. Here is the current question.")
    )
    return await ask_current(update, context)


async def confirm(update: Update, context: BotContext) -> str | int:
    d = draft(context)
    services = context.services
    t = await translator(update, context)
    assert update.effective_user is not None and update.effective_chat is not None
    confirmed = await service.confirm(
        services.db, update.effective_user.id, d["id"], services.clock(),
        services.settings.admin_ids, services.settings.default_language,
    )  # fmt: skip
    if confirmed.result is service.Result.FORBIDDEN:
        await send(update, context, t.gettext("This is for administrators only."))
        return await end(update, context)
    if confirmed.result is service.Result.DONE:
        state = await service.settle(services.db, d["id"], services.clock())
        assert state is not None
        message_id = await send(
            update,
            context,
            status.status_text(t, state, services.settings.broadcast_rate),
            reply_markup=status.status_keyboard(t, state),
        )
        await service.set_status_message(services.db, d["id"], update.effective_chat.id, message_id)
    return await end(update, context)


async def end(update: Update, context: BotContext) -> int:
    return await end_flow(update, context, DRAFT, NAME)


async def cancel(update: Update, context: BotContext) -> int:
    return await discard_flow(
        update, context, DRAFT, NAME, N_("The broadcast was discarded; nothing was sent.")
    )


async def ask_current(update: Update, context: BotContext) -> str:
    return await go_to(update, context, draft(context).get("step") or KOREAN)


async def still_admin(update: Update, context: BotContext) -> bool:
    """Every step checks the role again: an admin revoked mid-way is stopped (and audited)."""
    assert update.effective_user is not None
    services = context.services
    async with services.db.transaction() as session:
        permitted = await admin_service.allowed(
            session, update.effective_user.id, Role.ADMIN, services.settings.admin_ids,
            "broadcast:step", services.clock(),
        )  # fmt: skip
    if not permitted:
        context.udata.pop(DRAFT, None)
        await answer(update)
        t = await translator(update, context)
        await send(update, context, t.gettext("This is for administrators only."))
    return permitted


def handler(registry: CommandRegistry) -> ConversationHandler[BotContext]:
    step = guided_steps("bc", None, cancel, ask_current, FLOW_NAME, registry)

    text: StepHandler = MessageHandler(
        filters.TEXT & ~filters.COMMAND, role_checked(still_admin, on_text)
    )
    buttons: StepHandler = CallbackQueryHandler(
        role_checked(still_admin, on_button), pattern=r"^bc:[a-z]+(:[a-z0-9_-]+)?$"
    )
    return flow(
        entry_points=entry_points(registry, NAME, start),
        states={
            KOREAN: step(text),
            ENGLISH: step(text, buttons),
            PHOTO: step(
                MessageHandler(filters.PHOTO, role_checked(still_admin, on_photo)), buttons
            ),
            BUTTON: step(buttons),
            TARGET: step(text),
            AUDIENCE: step(buttons),
            VALUE: step(text, buttons),
            PREVIEW: step(buttons),
        },
        name=NAME,
    )


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    registry.add(
        MenuCommand(
            NAME,
            N_("Send a message to many people"),
            N_("Broadcast"),
            start,
            admin_only=True,
            opens_flow=True,
        )
    )
    application.add_handler(handler(registry))
