"""/admin → 참여 사업: programmes, stages and ballots run from the phone (SPEC §3, §6; issue 15).

List programmes and stages with their state, create one from the shipped yearly cycle,
rename, move dates, open or close a stage now, build a voting stage's ballot, or send a
programme or ballot file (TOML/YAML) as a document. Every change is shown first (what changes,
who is told) and saved only on "Save"; the service checks the role again on every step and
writes the audit log (bot/services/programmes.py).
"""

from __future__ import annotations

import logging
from datetime import datetime
from html import escape
from typing import Any, Final

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext, CivicApplication, translator
from bot.flows.guard import StepHandler, discard_flow, end_flow, flow, guided_steps
from bot.handlers.common import answer, ask, edit_or_send, send
from bot.handlers.voting import render_ballot
from bot.i18n import N_, Translator
from bot.menu import CommandRegistry
from bot.services import programmes as service
from bot.services.voting import TallyRefusal, stage_by_id
from domain.filelines import is_ballot_file
from domain.people import DISTRICTS_BY_CODE
from domain.programmes import (
    Action,
    Change,
    ChangeKind,
    EditProblem,
    EditRefused,
    LocalizedText,
    Programme,
    ProgrammeFileError,
    Stage,
    closed_now,
    moved,
    opened_now,
    parse_programmes,
    read_moment,
    renamed,
)
from domain.proposals import parse_won
from domain.voting import BallotFile, parse_ballot_file
from storage.programmes import ProgrammesRepository

log = logging.getLogger(__name__)

PENDING: Final = "pg_pending"  # a change shown and waiting for "Save"
EDIT: Final = "pg_edit"  # what the next typed text is for
DRAFT: Final = "pg_ballot"  # a ballot being built
NAME: Final = "programme_admin"
TYPING: Final = "typing"
FLOW_NAME: Final = N_("changing a programme")
MAX_FILE_BYTES: Final = 512 * 1024
FILE_NAMES: Final = (".toml", ".yaml", ".yml")

PROBLEMS: Final = {
    EditProblem.NO_STAGE: N_("That stage no longer exists."),
    EditProblem.ENDS_BEFORE_START: N_("A stage must end after it starts."),
    EditProblem.OUT_OF_ORDER: N_(
        "Stages keep their order: this date would put the stage before the one ahead of it or"
        " after the one behind it. Move that stage first."
    ),
    EditProblem.ALREADY_OPEN: N_("This stage is already open."),
    EditProblem.NOT_OPEN: N_("This stage is not open, so there is nothing to close."),
    EditProblem.NEEDS_END: N_(
        "This stage is over. To open it again, first give it a new end date."
    ),
}
QUESTIONS: Final = {
    "rename": N_("Type the new name: Korean on the first line, English on the second."),
    "starts": N_("When does it start? Type a date and time in Seoul time, e.g. 2027-07-20 09:00."),
    "ends": N_(
        "When does it end? Type a date and time in Seoul time, e.g. 2027-08-09 18:00;"
        " a date alone means the end of that day (24:00)."
    ),
    "k": N_("How many projects may each voter choose at most? Type a number, e.g. 5."),
    "budget": N_(
        "What is each ballot's budget? Type an amount, e.g. 10억, or 0 for no budget"
        " (then votes are counted without one)."
    ),
}


def bold(text: str) -> str:
    return f"<b>{escape(text)}</b>"


# -- role checks, on every step ----------------------------------------------------------------
async def permitted(update: Update, context: BotContext, action: str) -> bool:
    assert update.effective_user is not None
    services = context.services
    async with services.db.transaction() as session:
        ok = await service.may_manage(
            session, update.effective_user.id, services.settings.admin_ids, action,
            services.clock(),
        )  # fmt: skip
    if not ok:
        t = await translator(update, context)
        context.udata.pop(PENDING, None)
        context.udata.pop(DRAFT, None)
        await answer(update)
        await send(update, context, t.gettext("This is for administrators only."))
    return ok


def number_in(data: str | None, position: int) -> int:
    assert data is not None
    return int(data.split(":")[position])


# -- the list, a programme, a stage ------------------------------------------------------------
def stage_state(t: Translator, stage: Stage, now: datetime) -> str:
    if stage.is_open(now):
        if stage.ends_at is None:
            return t.gettext("open, no closing date")
        return t.gettext("open until %(end)s") % {"end": t.deadline(stage.ends_at, now)}
    if stage.starts_at > now:
        return t.gettext("from %(start)s") % {"start": t.opening(stage.starts_at, now)}
    return t.gettext("closed")


def programme_state(t: Translator, programme: Programme, now: datetime) -> str:
    current = programme.open_stages(now)
    if current:
        return t.gettext("now: %(stage)s") % {
            "stage": ", ".join(stage.name.get(t.language) for stage in current)
        }
    upcoming = programme.next_stage(now)
    if upcoming is not None:
        return t.gettext("next: %(stage)s, from %(start)s") % {
            "stage": upcoming.name.get(t.language),
            "start": t.opening(upcoming.starts_at, now),
        }
    return t.gettext("finished")


async def on_list(update: Update, context: BotContext) -> None:
    await answer(update)
    if not await permitted(update, context, "list"):
        return
    t = await translator(update, context)
    now = context.services.clock()
    async with context.services.db.reading() as session:
        found = await service.listing(session)
    lines = [t.gettext("Programmes and their stages (times in Seoul):"), ""]
    rows = []
    for programme_id, programme in found:
        name = programme.name.get(t.language)
        lines.append(f"• {escape(name)} — {escape(programme_state(t, programme, now))}")
        rows.append([InlineKeyboardButton(name[:60], callback_data=f"pg:p:{programme_id}")])
    if not found:
        lines.append(t.gettext("No programmes have been set up yet."))
    lines += [
        "",
        t.gettext(
            "To add or change programmes or a ballot from a file, send the TOML or YAML file"
            " here (see `docs/programme-file.md` and `docs/ballot-file.md`)."
        ),
    ]
    rows.append(
        [InlineKeyboardButton(t.gettext("New from the yearly cycle"), callback_data="pg:new")]
    )
    await edit_or_send(
        update, context, "\n".join(lines)[:4000], InlineKeyboardMarkup(rows),
        parse_mode=ParseMode.HTML,
    )  # fmt: skip


async def show_programme(update: Update, context: BotContext, programme_id: int) -> None:
    t = await translator(update, context)
    now = context.services.clock()
    async with context.services.db.reading() as session:
        programme = await ProgrammesRepository(session).by_id(programme_id)
        ids = await service.stage_ids(session, programme_id)
    if programme is None:
        await edit_or_send(update, context, t.gettext("That programme no longer exists."))
        return
    lines = [f"<b>{escape(programme.name.get(t.language))}</b>", ""]
    rows = []
    for number, stage in enumerate(programme.stages, 1):
        name = stage.name.get(t.language)
        lines.append(f"{number}. {escape(name)} — {escape(stage_state(t, stage, now))}")
        rows.append(
            [InlineKeyboardButton(f"{number}. {name}"[:60], callback_data=f"pg:s:{ids[stage.key]}")]
        )
    rows.append(
        [
            InlineKeyboardButton(t.gettext("Rename"), callback_data=f"pg:rn:{programme_id}"),
            InlineKeyboardButton(t.gettext("Back"), callback_data="pg:list"),
        ]
    )
    await edit_or_send(
        update, context, "\n".join(lines)[:4000], InlineKeyboardMarkup(rows),
        parse_mode=ParseMode.HTML,
    )  # fmt: skip


async def on_programme(update: Update, context: BotContext) -> None:
    await answer(update)
    query = update.callback_query
    assert query is not None
    if await permitted(update, context, "view"):
        await show_programme(update, context, number_in(query.data, 2))


async def locate_stage(context: BotContext, stage_id: int) -> tuple[int, Programme, Stage] | None:
    async with context.services.db.reading() as session:
        found = await stage_by_id(session, stage_id)
        if found is None:
            return None
        programme_id = await ProgrammesRepository(session).id_of(found[0].key)
    assert programme_id is not None
    return programme_id, found[0], found[1]


async def show_stage(update: Update, context: BotContext, stage_id: int) -> None:
    t = await translator(update, context)
    now = context.services.clock()
    found = await locate_stage(context, stage_id)
    if found is None:
        await edit_or_send(update, context, t.gettext(PROBLEMS[EditProblem.NO_STAGE]))
        return
    programme_id, programme, stage = found
    ends = t.gettext("no closing date") if stage.ends_at is None else t.deadline(stage.ends_at, now)
    lines = [
        f"<b>{escape(programme.name.get(t.language))}</b>",
        f"<b>{escape(stage.name.get(t.language))}</b> — {escape(stage_state(t, stage, now))}",
        t.gettext("Starts: %(start)s") % {"start": t.opening(stage.starts_at, now)},
        t.gettext("Ends: %(end)s") % {"end": ends},
    ]
    rows = []
    if stage.is_open(now):
        rows.append(
            [InlineKeyboardButton(t.gettext("Close it now"), callback_data=f"pg:c:{stage_id}")]
        )
    else:
        rows.append(
            [InlineKeyboardButton(t.gettext("Open it now"), callback_data=f"pg:o:{stage_id}")]
        )
    rows.append(
        [
            InlineKeyboardButton(t.gettext("Change start"), callback_data=f"pg:ds:{stage_id}"),
            InlineKeyboardButton(t.gettext("Change end"), callback_data=f"pg:de:{stage_id}"),
        ]
    )
    if Action.VOTE in stage.actions:
        rows.append([InlineKeyboardButton(t.gettext("Ballot"), callback_data=f"pg:b:{stage_id}")])
    rows.append(
        [
            InlineKeyboardButton(t.gettext("Rename"), callback_data=f"pg:rs:{stage_id}"),
            InlineKeyboardButton(t.gettext("Back"), callback_data=f"pg:p:{programme_id}"),
        ]
    )
    await edit_or_send(
        update, context, "\n".join(lines), InlineKeyboardMarkup(rows), parse_mode=ParseMode.HTML
    )


async def on_stage(update: Update, context: BotContext) -> None:
    await answer(update)
    query = update.callback_query
    assert query is not None
    if await permitted(update, context, "view"):
        await show_stage(update, context, number_in(query.data, 2))


# -- open or close now ---------------------------------------------------------------------------
async def on_open_or_close(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    opening = query.data.split(":")[1] == "o"
    if not await permitted(update, context, "open" if opening else "close"):
        return
    t = await translator(update, context)
    stage_id = number_in(query.data, 2)
    found = await locate_stage(context, stage_id)
    if found is None:
        await answer(update, t.gettext(PROBLEMS[EditProblem.NO_STAGE]), alert=True)
        return
    _, programme, stage = found
    now = context.services.clock()
    try:
        changed = (opened_now if opening else closed_now)(programme, stage.key, now)
    except EditRefused as refused:
        await answer(update, t.gettext(PROBLEMS[refused.problem]), alert=True)
        await show_stage(update, context, stage_id)
        return
    await answer(update)
    await show_preview(update, context, [changed], "open" if opening else "close", stage_id)


# -- templates -----------------------------------------------------------------------------------
async def on_templates(update: Update, context: BotContext) -> None:
    await answer(update)
    if not await permitted(update, context, "templates"):
        return
    t = await translator(update, context)
    async with context.services.db.reading() as session:
        found = await service.templates(session, context.services.clock())
    rows = [
        [InlineKeyboardButton(p.name.get(t.language)[:60], callback_data=f"pg:t:{p.key}"[:64])]
        for p in found
    ]
    rows.append([InlineKeyboardButton(t.gettext("Back"), callback_data="pg:list")])
    text = (
        t.gettext("Which programme of the city's yearly cycle do you want to set up?")
        if found
        else t.gettext("Every programme of the yearly cycle is set up already.")
    )
    await edit_or_send(update, context, text, InlineKeyboardMarkup(rows))


async def on_template(update: Update, context: BotContext) -> None:
    await answer(update)
    query = update.callback_query
    assert query is not None and query.data is not None
    if not await permitted(update, context, "create"):
        return
    key = query.data.split(":", 2)[2]
    async with context.services.db.reading() as session:
        chosen = next(
            (p for p in await service.templates(session, context.services.clock()) if p.key == key),
            None,
        )
    if chosen is None:
        await on_templates(update, context)
        return
    await show_preview(update, context, [chosen], "create", None)


# -- previews and saving -------------------------------------------------------------------------
def change_lines(
    t: Translator, changes: list[Change], programmes: list[Programme], now: datetime
) -> list[str]:
    by_key = {programme.key: programme for programme in programmes}

    def name(value: object) -> str:
        return value.get(t.language) if isinstance(value, LocalizedText) else ""

    def moment(value: object, end: bool) -> str:
        if not isinstance(value, datetime):
            return t.gettext("no closing date")
        return t.deadline(value, now) if end else t.opening(value, now)

    lines = []
    for change in changes:
        programme = by_key[change.programme]
        stage = next((s for s in programme.stages if s.key == change.stage), None)
        stage_name = stage.name.get(t.language) if stage else name(change.before)
        values = {"programme": programme.name.get(t.language), "stage": stage_name}
        if change.kind is ChangeKind.PROGRAMME_ADDED:
            lines.append(t.gettext("New programme: %(programme)s") % values)
            lines += [
                f"  · {s.name.get(t.language)}: {moment(s.starts_at, False)} – "
                f"{moment(s.ends_at, True)}"
                for s in programme.stages
            ]
            continue
        if change.kind in (ChangeKind.PROGRAMME_RENAMED, ChangeKind.STAGE_RENAMED):
            values |= {"before": name(change.before), "after": name(change.after)}
        if change.kind in (ChangeKind.STAGE_STARTS, ChangeKind.STAGE_ENDS):
            end = change.kind is ChangeKind.STAGE_ENDS
            values |= {"before": moment(change.before, end), "after": moment(change.after, end)}
        lines.append(t.gettext(CHANGE_TEXTS[change.kind]) % values)
    return [escape(line) for line in lines]


CHANGE_TEXTS: Final = {
    ChangeKind.PROGRAMME_RENAMED: N_("Programme name: %(before)s → %(after)s"),
    ChangeKind.PROGRAMME_EDITED: N_("%(programme)s: kind, description or settings change"),
    ChangeKind.STAGE_ADDED: N_("New stage: %(stage)s"),
    ChangeKind.STAGE_REMOVED: N_("Stage removed: %(stage)s"),
    ChangeKind.STAGE_RENAMED: N_("Stage name: %(before)s → %(after)s"),
    ChangeKind.STAGE_STARTS: N_("%(stage)s starts: %(before)s → %(after)s"),
    ChangeKind.STAGE_ENDS: N_("%(stage)s ends: %(before)s → %(after)s"),
    ChangeKind.STAGE_ACTIONS: N_("%(stage)s: what people can do there changes"),
}


def in_use_lines(t: Translator, preview: service.Preview) -> list[str]:
    return [
        escape(
            t.gettext(
                "Stage %(stage)s cannot be removed: %(count)d ballots were cast in it. Keep it"
                " in the file."
            )
            % {"stage": stage, "count": count}
        )
        for _, stage, count in preview.in_use
    ]


def told_lines(t: Translator, preview: service.Preview) -> list[str]:
    lines = []
    for programme, key in preview.opens_now:
        stage = next(s for s in programme.stages if s.key == key)
        lines.append(
            t.gettext("%(stage)s opens now: %(count)d people who get announcements are told.")
            % {"stage": stage.name.get(t.language), "count": preview.audience}
        )
    for programme, key in preview.closes_now:
        stage = next(s for s in programme.stages if s.key == key)
        lines.append(
            t.gettext("%(stage)s closes now: %(count)d people who get announcements are told.")
            % {"stage": stage.name.get(t.language), "count": preview.audience}
        )
    for programme, key in preview.without_ballot:
        stage = next(s for s in programme.stages if s.key == key)
        lines.append(
            t.gettext(
                "%(stage)s has no ballot yet: people would find nothing to vote on. Build it"
                " with this stage's “Ballot” button, before or right after opening."
            )
            % {"stage": stage.name.get(t.language)}
        )
    if preview.deadlines_moved:
        lines.append(
            t.gettext(
                "Reminders before the deadline go out before the new date, to those who have"
                " not acted yet."
            )
        )
    if not lines:
        lines.append(
            t.gettext("Nobody is told now; openings and closings are announced when they come.")
        )
    return [escape(line) for line in lines]


async def show_preview(
    update: Update,
    context: BotContext,
    programmes: list[Programme],
    action: str,
    stage_id: int | None,
) -> None:
    """What a change does, to confirm: in place of the pressed button's message, or as a new
    message after a file (edit_or_send)."""
    t = await translator(update, context)
    now = context.services.clock()
    async with context.services.db.reading() as session:
        preview = await service.preview(session, programmes, now)
    if not preview.changes:
        await edit_or_send(update, context, t.gettext("That changes nothing."))
        return
    lines = [
        bold(t.gettext("Check before saving")),
        *change_lines(t, preview.changes, programmes, now),
        "",
        bold(t.gettext("Who is told")),
        *told_lines(t, preview),
    ]
    if preview.in_use:
        await edit_or_send(
            update, context, "\n".join([*lines, "", *in_use_lines(t, preview)])[:4000],
            back_to_stage(t, stage_id), parse_mode=ParseMode.HTML,
        )  # fmt: skip
        return
    context.udata[PENDING] = {
        "kind": "programmes",
        "action": action,
        "programmes": service.serialised(programmes),
        "stage": stage_id,
    }
    await edit_or_send(
        update, context, "\n".join(lines)[:4000], confirm_keyboard(t), parse_mode=ParseMode.HTML
    )


def confirm_keyboard(t: Translator) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t.gettext("Save"), callback_data="pg:ok"),
                InlineKeyboardButton(t.gettext("Cancel"), callback_data="pg:no"),
            ]
        ]
    )


async def on_save(update: Update, context: BotContext) -> None:
    await answer(update)
    assert update.effective_user is not None
    t = await translator(update, context)
    pending = context.udata.get(PENDING)
    action = str(pending.get("action", "save")) if isinstance(pending, dict) else "save"
    if not await permitted(update, context, action):
        return
    if not isinstance(pending, dict):
        await edit_or_send(update, context, t.gettext("Nothing is waiting to be saved."))
        return
    context.udata.pop(PENDING, None)
    services = context.services
    now = services.clock()
    if pending["kind"] == "ballot":
        ballot = BallotFile.model_validate(pending["ballot"])
        saved = await service.save_ballot(
            services.db, update.effective_user.id, ballot, action, now,
            services.settings.admin_ids,
        )  # fmt: skip
        if saved is service.Result.FORBIDDEN or not isinstance(saved, list):
            await send(update, context, t.gettext("This is for administrators only."))
            return
        text = t.ngettext(
            "Saved: %(count)d ballot. Voters find it in /vote while the stage is open.",
            "Saved: %(count)d ballots. Voters find them in /vote while the stage is open.",
            len(saved),
        ) % {"count": len(saved)}
        await edit_or_send(update, context, text, back_to_stage(t, pending.get("stage")))
        return
    programmes = service.deserialised(pending["programmes"])
    result = await service.save_programmes(
        services.db, update.effective_user.id, programmes, action, now,
        services.settings.admin_ids,
    )  # fmt: skip
    if result is service.Result.FORBIDDEN:
        await send(update, context, t.gettext("This is for administrators only."))
        return
    if result is service.Result.IN_USE:
        # Ballots were cast, since the preview, in a stage the change removes.
        await edit_or_send(
            update,
            context,
            t.gettext("Nothing was changed: ballots were cast in a stage this would remove."),
        )
        return
    if result is service.Result.DONE:
        # Openings and closings take effect (and are announced) now, not at the next check.
        await context.civic.automation.run_transitions()
    text = (
        t.gettext("Saved.") if result is service.Result.DONE else t.gettext("That changes nothing.")
    )
    await edit_or_send(update, context, text, back_to_stage(t, pending.get("stage")))


def back_to_stage(t: Translator, stage_id: object) -> InlineKeyboardMarkup:
    target = f"pg:s:{stage_id}" if isinstance(stage_id, int) else "pg:list"
    return InlineKeyboardMarkup([[InlineKeyboardButton(t.gettext("Back"), callback_data=target)]])


async def on_discard(update: Update, context: BotContext) -> None:
    await answer(update)
    t = await translator(update, context)
    pending = context.udata.pop(PENDING, None) or {}
    draft = context.udata.pop(DRAFT, None) or {}
    stage_id = pending.get("stage") or draft.get("stage")
    await edit_or_send(
        update, context, t.gettext("Nothing was changed."), back_to_stage(t, stage_id)
    )


# -- typed answers: names, dates, k, budget ------------------------------------------------------
async def start_typing(update: Update, context: BotContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    _, code, raw = query.data.split(":")
    what = {
        "rn": "rename",
        "rs": "rename",
        "ds": "starts",
        "de": "ends",
        "bk": "k",
        "bm": "budget",
    }[code]
    if not await permitted(update, context, what):
        return ConversationHandler.END
    target = "programme" if code == "rn" else "stage"
    context.udata[EDIT] = {"what": what, target: int(raw)}
    return await ask_current(update, context)


async def ask_current(update: Update, context: BotContext) -> str:
    t = await translator(update, context)
    edit = context.udata.get(EDIT) or {}
    cancel_row = [InlineKeyboardButton(t.gettext("Cancel"), callback_data="pg:cancel")]
    question = QUESTIONS[str(edit.get("what", "rename"))]
    await ask(update, context, t.gettext(question), InlineKeyboardMarkup([cancel_row]))
    return TYPING


async def on_typed(update: Update, context: BotContext) -> str | int:
    assert update.message is not None and update.message.text is not None
    edit = dict(context.udata.get(EDIT) or {})
    what = str(edit.get("what", ""))
    if not await permitted(update, context, what or "edit"):
        return await end_flow(update, context, EDIT, NAME)
    t = await translator(update, context)
    text = update.message.text.strip()
    if what in ("k", "budget"):
        return await typed_for_ballot(update, context, what, text)
    if "programme" in edit:
        async with context.services.db.reading() as session:
            programme = await ProgrammesRepository(session).by_id(int(edit["programme"]))
        stage_key = None
        stage_id = None
    else:
        stage_id = int(edit["stage"])
        found = await locate_stage(context, stage_id)
        programme, stage_key = (found[1], found[2].key) if found else (None, None)
    if programme is None:
        await send(update, context, t.gettext(PROBLEMS[EditProblem.NO_STAGE]))
        return await end_flow(update, context, EDIT, NAME)
    try:
        if what == "rename":
            parts = [line.strip() for line in text.splitlines() if line.strip()]
            if len(parts) != 2 or any(len(part) > 200 for part in parts):
                await send(
                    update, context, t.gettext("Please type two lines: Korean, then English.")
                )
                return await ask_current(update, context)
            changed = renamed(programme, LocalizedText(ko=parts[0], en=parts[1]), stage_key)
        else:
            assert stage_key is not None
            moment = read_moment(text, end_of_day=what == "ends")
            if moment is None:
                await send(
                    update,
                    context,
                    t.gettext("That is not a date I can read, e.g. 2027-07-20 09:00."),
                )
                return await ask_current(update, context)
            changed = moved(programme, stage_key, **{f"{what}_at": moment})
    except EditRefused as refused:
        await send(update, context, t.gettext(PROBLEMS[refused.problem]))
        return await ask_current(update, context)
    await end_flow(update, context, EDIT, NAME)
    action = "rename" if what == "rename" else "dates"
    await show_preview(update, context, [changed], action, stage_id)
    return ConversationHandler.END


async def cancel(update: Update, context: BotContext) -> int:
    return await discard_flow(update, context, EDIT, NAME, N_("Nothing was changed."))


# -- ballots -------------------------------------------------------------------------------------
async def on_ballot(update: Update, context: BotContext) -> None:
    await answer(update)
    query = update.callback_query
    assert query is not None
    if not await permitted(update, context, "ballot"):
        return
    t = await translator(update, context)
    stage_id = number_in(query.data, 2)
    async with context.services.db.reading() as session:
        found = await service.stage_headings(session, stage_id)
        on_ballot = 0 if found is None else await service.on_ballot_count(session, found[0].key)
    if found is None:
        await edit_or_send(update, context, t.gettext(PROBLEMS[EditProblem.NO_STAGE]))
        return
    _, _, headings = found
    lines = [t.gettext("Ballots of this stage:")]
    for _, heading in headings:
        lines.append(f"• {heading_summary(t, heading)}")
    if not headings:
        lines.append(t.gettext("None yet."))
    lines += [
        "",
        t.ngettext(
            "%(count)d proposal is on the ballot (put there from /review).",
            "%(count)d proposals are on the ballot (put there from /review).",
            on_ballot,
        )
        % {"count": on_ballot},
        t.gettext("Or send a ballot file (TOML or YAML) here; see `docs/ballot-file.md`."),
    ]
    rows = [
        [
            InlineKeyboardButton(
                t.gettext("Build from the proposals on the ballot"),
                callback_data=f"pg:bb:{stage_id}",
            )
        ],
        [InlineKeyboardButton(t.gettext("Back"), callback_data=f"pg:s:{stage_id}")],
    ]
    await edit_or_send(update, context, escape("\n".join(lines))[:4000], InlineKeyboardMarkup(rows))


def heading_summary(t: Translator, heading: Any) -> str:
    text = t.gettext("%(name)s: %(count)d projects, at most %(max)d each") % {
        "name": heading.name(t.language),
        "count": len(heading.items),
        "max": heading.max_choices,
    }
    if heading.budget is not None:
        text += " · " + t.gettext("budget %(money)s") % {"money": t.money(heading.budget)}
    if heading.district is not None and heading.district in DISTRICTS_BY_CODE:
        text += " · " + t.gettext("residents of %(district)s only") % {
            "district": DISTRICTS_BY_CODE[heading.district].name(t.language)
        }
    return str(text)


async def on_build(update: Update, context: BotContext) -> None:
    await answer(update)
    query = update.callback_query
    assert query is not None
    if not await permitted(update, context, "ballot"):
        return
    context.udata[DRAFT] = {
        "stage": number_in(query.data, 2),
        "k": 5,
        "budget": None,
        "per_district": False,
    }
    await show_draft(update, context)


async def show_draft(update: Update, context: BotContext, new_message: bool = False) -> None:
    t = await translator(update, context)
    draft = context.udata.get(DRAFT)
    if not isinstance(draft, dict):
        await edit_or_send(update, context, t.gettext("Nothing is waiting to be saved."))
        return
    budget = draft.get("budget")
    lines = [
        t.gettext("The ballot, from the proposals on the ballot:"),
        t.gettext("Each voter chooses at most %(max)d") % {"max": int(draft["k"])},
        t.gettext("Budget of each ballot: %(money)s") % {"money": t.money(int(budget))}
        if budget
        else t.gettext("Budget: none (votes are counted without one)"),
        t.gettext("One ballot per district, for its residents")
        if draft.get("per_district")
        else t.gettext("One ballot for all of Seoul"),
    ]
    stage_id = int(draft["stage"])
    rule = (
        t.gettext("Make it one ballot for all of Seoul")
        if draft.get("per_district")
        else t.gettext("Make it one ballot per district")
    )
    rows = [
        [
            InlineKeyboardButton(t.gettext("Choices per voter"), callback_data=f"pg:bk:{stage_id}"),
            InlineKeyboardButton(t.gettext("Budget"), callback_data=f"pg:bm:{stage_id}"),
        ],
        [InlineKeyboardButton(rule, callback_data="pg:br")],
        [InlineKeyboardButton(t.gettext("Preview as voters see it"), callback_data="pg:bp")],
        [InlineKeyboardButton(t.gettext("Cancel"), callback_data="pg:no")],
    ]
    text = escape("\n".join(lines))
    if new_message:
        await send(update, context, text, reply_markup=InlineKeyboardMarkup(rows))
    else:
        await edit_or_send(update, context, text, InlineKeyboardMarkup(rows))


async def on_district_rule(update: Update, context: BotContext) -> None:
    await answer(update)
    if not await permitted(update, context, "ballot"):
        return
    draft = context.udata.get(DRAFT)
    if isinstance(draft, dict):
        draft["per_district"] = not draft.get("per_district")
    await show_draft(update, context)


async def typed_for_ballot(update: Update, context: BotContext, what: str, text: str) -> str | int:
    t = await translator(update, context)
    draft = context.udata.get(DRAFT)
    if not isinstance(draft, dict):
        await send(update, context, t.gettext("Nothing is waiting to be saved."))
        return await end_flow(update, context, EDIT, NAME)
    if what == "k":
        if not text.isdigit() or not 1 <= int(text) <= 50:
            await send(update, context, t.gettext("Please type a number from 1 to 50."))
            return await ask_current(update, context)
        draft["k"] = int(text)
    else:
        amount = 0 if text.strip() == "0" else parse_won(text)
        if amount is None:
            await send(update, context, t.gettext("That is not an amount I can read, e.g. 10억."))
            return await ask_current(update, context)
        draft["budget"] = amount or None
    await end_flow(update, context, EDIT, NAME)
    await show_draft(update, context, new_message=True)
    return ConversationHandler.END


async def draft_ballot(context: BotContext, draft: dict[str, Any]) -> BallotFile | None:
    async with context.services.db.reading() as session:
        found = await service.stage_headings(session, int(draft["stage"]))
        if found is None:
            return None
        programme, stage_key, _ = found
        districts = await service.on_ballot_districts(session, programme.key)
    stage = next(s for s in programme.stages if s.key == stage_key)
    common = {
        "max_choices": int(draft["k"]),
        "budget": draft.get("budget"),
        "knapsack": draft.get("budget") is not None,
        "include_on_ballot": True,
    }
    if draft.get("per_district"):
        headings = [
            {
                "key": code,
                "name": {
                    "ko": DISTRICTS_BY_CODE[code].name_ko,
                    "en": DISTRICTS_BY_CODE[code].name_en,
                },
                "district": code,
                "only_district": code,
                "group": "districts",
                **common,
            }
            for code in districts
            if code in DISTRICTS_BY_CODE
        ]
    else:
        headings = [{"key": "city", "name": stage.name.model_dump(), **common}]
    if not headings:
        return None
    return BallotFile.model_validate(
        {"programme": programme.key, "stage": stage_key, "heading": headings}
    )


async def on_ballot_preview(update: Update, context: BotContext) -> None:
    await answer(update)
    if not await permitted(update, context, "ballot"):
        return
    t = await translator(update, context)
    draft = context.udata.get(DRAFT)
    if not isinstance(draft, dict):
        await edit_or_send(update, context, t.gettext("Nothing is waiting to be saved."))
        return
    ballot = await draft_ballot(context, draft)
    if ballot is None:
        await answer(
            update, t.gettext("No proposal of a district is on the ballot yet."), alert=True
        )
        return
    await show_ballot_preview(update, context, ballot, "ballot")


async def show_ballot_preview(
    update: Update,
    context: BotContext,
    ballot: BallotFile,
    action: str,
    new_message: bool = False,
    index: int = 0,
) -> None:
    t = await translator(update, context)
    async with context.services.db.reading() as session:
        try:
            preview = await service.preview_ballot(session, ballot)
        except TallyRefusal:
            await send(
                update,
                context,
                t.gettext("There is no stage %(stage)s in programme %(programme)s.")
                % {"stage": ballot.stage, "programme": ballot.programme},
            )
            return
    context.udata[PENDING] = {
        "kind": "ballot",
        "action": action,
        "ballot": ballot.model_dump(mode="json", by_alias=True),
        "stage": preview.stage_id,
    }
    context.udata.pop(DRAFT, None)
    count = len(preview.headings)
    index = min(max(index, 0), count - 1)
    # Exactly what a voter sees, from the voter's own rendering; its buttons only say so here.
    voter_lines, voter_rows = render_ballot(t, 0, preview.headings[index], [], 0)
    rows = [
        [InlineKeyboardButton(button.text, callback_data="pg:pv") for button in row]
        for row in voter_rows
    ]
    others = []
    if index > 0:
        others.append(
            InlineKeyboardButton(t.gettext("Previous ballot"), callback_data=f"pg:bv:{index - 1}")
        )
    if index + 1 < count:
        others.append(
            InlineKeyboardButton(t.gettext("Next ballot"), callback_data=f"pg:bv:{index + 1}")
        )
    if others:
        rows.append(others)
    lines = [
        bold(t.gettext("Check before saving")),
        escape(
            t.ngettext(
                "As voters will see it (%(count)d ballot):",
                "As voters will see ballot %(number)d of %(count)d:",
                count,
            )
            % {"count": count, "number": index + 1}
        ),
        "",
        *voter_lines,
        "",
    ]
    lines += [escape(f"• {heading_summary(t, heading)}") for heading in preview.headings]
    if preview.added:
        lines.append(escape(t.gettext("New: %(keys)s") % {"keys": ", ".join(preview.added)}))
    if preview.changed:
        lines.append(
            escape(
                t.gettext("Replaced: %(keys)s (%(count)d ballots already cast stay as cast)")
                % {"keys": ", ".join(preview.changed), "count": preview.ballots_cast}
            )
        )
    if preview.kept:
        lines.append(
            escape(t.gettext("Kept as they are: %(keys)s") % {"keys": ", ".join(preview.kept)})
        )
    lines.append(
        escape(t.gettext("Nobody is told now; voters see it in /vote while the stage is open."))
    )
    rows += [list(row) for row in confirm_keyboard(t).inline_keyboard]
    markup = InlineKeyboardMarkup(rows)
    text = "\n".join(lines)[:4000]
    if new_message:
        await send(update, context, text, reply_markup=markup, parse_mode=ParseMode.HTML)
    else:
        await edit_or_send(update, context, text, markup, parse_mode=ParseMode.HTML)


async def on_other_ballot(update: Update, context: BotContext) -> None:
    """The preview of another heading of the same ballot file or draft."""
    await answer(update)
    query = update.callback_query
    assert query is not None
    if not await permitted(update, context, "ballot"):
        return
    t = await translator(update, context)
    pending = context.udata.get(PENDING)
    if not isinstance(pending, dict) or pending.get("kind") != "ballot":
        await edit_or_send(update, context, t.gettext("Nothing is waiting to be saved."))
        return
    ballot = BallotFile.model_validate(pending["ballot"])
    action = str(pending.get("action", "ballot"))
    await show_ballot_preview(update, context, ballot, action, index=number_in(query.data, 2))


async def on_preview_button(update: Update, context: BotContext) -> None:
    t = await translator(update, context)
    await answer(update, t.gettext("This is a preview: voters choose with these buttons."))


# -- files sent as documents ---------------------------------------------------------------------
async def on_document(update: Update, context: BotContext) -> None:
    message = update.message
    assert message is not None and message.document is not None
    t = await translator(update, context)
    if not await permitted(update, context, "file"):
        return
    document = message.document
    filename = document.file_name or "file.toml"
    if not filename.lower().endswith(FILE_NAMES):
        await send(
            update,
            context,
            t.gettext("Send a programme or ballot file ending in .toml, .yaml or .yml."),
        )
        return
    if (document.file_size or 0) > MAX_FILE_BYTES:
        await send(
            update, context, t.gettext("That file is too large for a programme or ballot file.")
        )
        return
    found = await context.bot.get_file(document.file_id)
    try:
        text = bytes(await found.download_as_bytearray()).decode("utf-8-sig")
    except UnicodeDecodeError:
        await send(update, context, t.gettext("The file must be UTF-8 text."))
        return
    if is_ballot_file(text, filename):
        try:
            ballot = parse_ballot_file(text, filename)
        except ValueError as error:
            await refuse_file(update, context, str(error))
            return
        await show_ballot_preview(update, context, ballot, "file", new_message=True)
        return
    try:
        programmes = parse_programmes(text, filename)
    except ProgrammeFileError as error:
        await refuse_file(update, context, str(error))
        return
    await show_preview(update, context, programmes, "file", None)  # a new message: a file


async def refuse_file(update: Update, context: BotContext, problems: str) -> None:
    t = await translator(update, context)
    text = (
        escape(t.gettext("Nothing was saved: the file has problems (line and field first):"))
        + "\n"
        + escape(problems.replace("; ", "\n"), quote=False)
    )
    await send(update, context, text[:4000], parse_mode=ParseMode.HTML)


# -- registration --------------------------------------------------------------------------------
def conversation(registry: CommandRegistry) -> ConversationHandler[BotContext]:
    step = guided_steps("pg", None, cancel, ask_current, FLOW_NAME, registry)
    text: StepHandler = MessageHandler(filters.TEXT & ~filters.COMMAND, on_typed)
    return flow(
        entry_points=[
            CallbackQueryHandler(start_typing, pattern=r"^pg:(rn|rs|ds|de|bk|bm):\d{1,12}$")
        ],
        states={TYPING: step(text)},
        name=NAME,
    )


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    application.add_handler(conversation(registry))
    for handler, pattern in (
        (on_list, r"^pg:list$"),
        (on_programme, r"^pg:p:\d{1,12}$"),
        (on_stage, r"^pg:s:\d{1,12}$"),
        (on_open_or_close, r"^pg:[oc]:\d{1,12}$"),
        (on_templates, r"^pg:new$"),
        (on_template, r"^pg:t:[a-z0-9][a-z0-9_-]{0,39}$"),
        (on_save, r"^pg:ok$"),
        (on_discard, r"^pg:no$"),
        (on_ballot, r"^pg:b:\d{1,12}$"),
        (on_build, r"^pg:bb:\d{1,12}$"),
        (on_district_rule, r"^pg:br$"),
        (on_ballot_preview, r"^pg:bp$"),
        (on_preview_button, r"^pg:pv$"),
        (on_other_ballot, r"^pg:bv:\d{1,3}$"),
    ):
        application.add_handler(CallbackQueryHandler(handler, pattern=pattern))
    application.add_handler(
        MessageHandler(filters.Document.ALL & filters.ChatType.PRIVATE, on_document)
    )
