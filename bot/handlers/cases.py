"""/cases: the budget-waste officers' queue and actions (SPEC §7).

Filters (status, district, agency, overdue) are kept in the officer's conversation data, so
callback data stays short. Every action goes through `bot.services.waste`, which checks the
role: a forged button gets a refusal and reveals nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from html import escape
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext, CivicApplication, translator
from bot.flows.guard import StepHandler, discard_flow, end_flow, flow, guarded, role_checked
from bot.flows.report import refusal_text
from bot.handlers.common import answer, ask, edit_or_send, retire_question, send
from bot.handlers.waste_views import district_name, history_lines, report_lines
from bot.i18n import N_, Translator
from bot.menu import CommandRegistry, MenuCommand
from bot.services import admin as admin_service
from bot.services import waste as service
from domain.ids import is_number, to_id
from domain.people import DISTRICTS
from domain.waste import (
    ANSWER_MIN,
    ASSIGNABLE,
    AWAITING_ANSWER,
    FileKind,
    Refusal,
    Status,
    Verdict,
    check_agency,
    check_note,
    check_reward,
    parse_receipt,
    read_amount,
)
from storage.waste import Report

PAGE = 5
FILTER = "cases_filter"
AGENCY_CHOICES = "cases_agencies"
STATUS_FILTERS: dict[str, tuple[Status, ...]] = {
    "open": tuple(s for s in Status if s is not Status.CLOSED),
    "all": (),
    **{s.value: (s,) for s in Status},
}
OFFICERS_ONLY = N_("This is for budget-waste officers only.")


def case_filter(context: BotContext) -> dict[str, Any]:
    found = context.udata.setdefault(FILTER, {})
    assert isinstance(found, dict)
    return found


def status_filter_label(t: Translator, key: str) -> str:
    if key == "open":
        return t.gettext("Not closed")
    if key == "all":
        return t.gettext("Any status")
    return t.gettext(service.STATUS_LABELS[Status(key)])


async def refuse(update: Update, context: BotContext) -> None:
    """The same answer whatever was asked for, so a refusal reveals nothing."""
    t = await translator(update, context)
    await send(update, context, t.gettext(OFFICERS_ONLY))


# -- the queue ---------------------------------------------------------------------------------
async def cases_command(update: Update, context: BotContext) -> None:
    await answer(update)
    assert update.effective_user is not None
    services = context.services
    if context.args and parse_receipt(context.args[0]) is not None:
        report_id = await service.case_id_of(services.db, context.args[0])
        if report_id is not None:
            await show_case(update, context, report_id, edit=False)
            return
    context.udata[FILTER] = {"status": "open", "page": 0}
    # Opened from /admin's button: the menu becomes the list (Telegram convention).
    await show_list(update, context, edit=update.callback_query is not None)


def line_of(t: Translator, report: Report, now: datetime) -> str:
    parts = [report.receipt, t.gettext(service.STATUS_LABELS[report.status])]
    if report.district:
        parts.append(district_name(t, report.district))
    if report.scope:
        parts.append(report.scope[:30])
    if report.overdue(now):
        parts.append(t.gettext("overdue since %(day)s") % {"day": t.deadline(report.due_at, now)})
    elif report.status in AWAITING_ANSWER:
        parts.append(t.gettext("due by %(day)s") % {"day": t.deadline(report.due_at, now)})
    return escape(" · ".join(parts))


async def show_list(update: Update, context: BotContext, edit: bool = True) -> None:
    assert update.effective_user is not None
    t = await translator(update, context)
    services = context.services
    now = services.clock()
    chosen = case_filter(context)
    page = int(chosen.get("page", 0))
    status_key = chosen.get("status", "open")
    found = await service.queue(
        services.db,
        update.effective_user.id,
        services.settings.admin_ids,
        statuses=STATUS_FILTERS.get(status_key, ()),
        district=chosen.get("district"),
        agency=chosen.get("agency"),
        overdue_at=now if chosen.get("overdue") else None,
        limit=PAGE,
        offset=page * PAGE,
    )
    if found is None:
        await refuse(update, context)
        return
    reports, total = found
    overdue = await service.queue(
        services.db, update.effective_user.id, services.settings.admin_ids, overdue_at=now, limit=0
    )
    header = [
        t.gettext("Budget-waste cases (예산낭비신고센터)"),
        status_filter_label(t, status_key),
    ]
    if chosen.get("district"):
        header.append(district_name(t, chosen["district"]))
    if chosen.get("agency"):
        header.append(chosen["agency"])
    if chosen.get("overdue"):
        header.append(t.gettext("overdue only"))
    lines = [f"<b>{escape(' · '.join(header))}</b>"]
    lines.append(
        t.gettext("%(count)s cases · %(overdue)s overdue in all")
        % {"count": f"{total:,}", "overdue": f"{overdue[1] if overdue else 0:,}"}
    )
    lines += [line_of(t, report, now) for report in reports]
    if not reports:
        lines.append(t.gettext("No cases match."))
    buttons = [InlineKeyboardButton(r.receipt, callback_data=f"wc:c:{r.id}") for r in reports]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    pager = []
    if page > 0:
        pager.append(InlineKeyboardButton(t.gettext("Previous"), callback_data=f"wc:pg:{page - 1}"))
    if (page + 1) * PAGE < total:
        pager.append(InlineKeyboardButton(t.gettext("Next"), callback_data=f"wc:pg:{page + 1}"))
    if pager:
        rows.append(pager)
    rows.append(
        [
            InlineKeyboardButton(t.gettext("Status"), callback_data="wc:pick:st"),
            InlineKeyboardButton(t.gettext("District"), callback_data="wc:pick:di"),
            InlineKeyboardButton(t.gettext("Agency"), callback_data="wc:pick:ag"),
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(
                t.gettext("All deadlines") if chosen.get("overdue") else t.gettext("Overdue only"),
                callback_data="wc:od",
            )
        ]
    )
    text, markup = "\n".join(lines)[:4096], InlineKeyboardMarkup(rows)
    if edit:
        await edit_or_send(update, context, text, markup, parse_mode=ParseMode.HTML)
    else:
        await send(update, context, text, reply_markup=markup, parse_mode=ParseMode.HTML)


async def on_filter(update: Update, context: BotContext) -> None:
    """A filter or page button: change one filter, then show the list again (in place)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    _, kind, *rest = query.data.split(":")
    value = rest[0] if rest else ""
    chosen = case_filter(context)
    if kind == "pg":
        chosen["page"] = int(value)
    else:
        chosen["page"] = 0
    if kind == "st" and value in STATUS_FILTERS:
        chosen["status"] = value
    elif kind == "di":
        chosen["district"] = value if any(d.code == value for d in DISTRICTS) else None
    elif kind == "ag":
        agencies = context.udata.get(AGENCY_CHOICES) or []
        index = int(value) if value.isdigit() else -1
        chosen["agency"] = agencies[index] if 0 <= index < len(agencies) else None
    elif kind == "od":
        chosen["overdue"] = not chosen.get("overdue")
    await show_list(update, context)


async def on_pick(update: Update, context: BotContext) -> None:
    """Show the choices of one filter, in place of the list."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    await answer(update)
    t = await translator(update, context)
    services = context.services
    if (
        await service.queue(
            services.db, update.effective_user.id, services.settings.admin_ids, limit=0
        )
        is None
    ):
        await refuse(update, context)
        return
    what = query.data.split(":")[2]
    if what == "st":
        title = t.gettext("Which status?")
        buttons = [
            InlineKeyboardButton(status_filter_label(t, key), callback_data=f"wc:st:{key}")
            for key in STATUS_FILTERS
        ]
    elif what == "di":
        title = t.gettext("Which district?")
        buttons = [InlineKeyboardButton(t.gettext("All districts"), callback_data="wc:di:-")]
        buttons += [
            InlineKeyboardButton(d.name(t.language), callback_data=f"wc:di:{d.code}")
            for d in DISTRICTS
        ]
    else:
        title = t.gettext("Which agency or department?")
        agencies = await service.agencies(
            services.db, update.effective_user.id, services.settings.admin_ids
        )
        # Kept per officer: the button carries an index, never the (long) name.
        context.udata[AGENCY_CHOICES] = agencies
        buttons = [InlineKeyboardButton(t.gettext("All agencies"), callback_data="wc:ag:-")]
        buttons += [
            InlineKeyboardButton(name[:40], callback_data=f"wc:ag:{i}")
            for i, name in enumerate(agencies)
        ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    await edit_or_send(update, context, title, InlineKeyboardMarkup(rows))


# -- one case ------------------------------------------------------------------------------------
def case_keyboard(t: Translator, report: Report) -> InlineKeyboardMarkup:
    rid = report.id
    rows: list[list[InlineKeyboardButton]] = []
    if report.status in AWAITING_ANSWER:
        rows.append(
            [
                InlineKeyboardButton(t.gettext("Assign to me"), callback_data=f"wc:do:{rid}:me"),
                InlineKeyboardButton(t.gettext("To an officer…"), callback_data=f"wc:a:{rid}:off"),
                InlineKeyboardButton(
                    t.gettext("To a department…"), callback_data=f"wc:a:{rid}:dept"
                ),
            ]
        )
    if report.status is Status.ASSIGNED:
        rows.append(
            [
                InlineKeyboardButton(
                    t.gettext("Start investigating"), callback_data=f"wc:do:{rid}:inv"
                )
            ]
        )
    elif report.status is Status.INVESTIGATING:
        rows.append([InlineKeyboardButton(t.gettext("Answer…"), callback_data=f"wc:a:{rid}:ans")])
    elif report.status is Status.ANSWERED:
        row = [
            InlineKeyboardButton(t.gettext("Decide the reward…"), callback_data=f"wc:a:{rid}:rew")
        ]
        if report.verdict is Verdict.NOT_SUBSTANTIATED:
            row.append(InlineKeyboardButton(t.gettext("Close"), callback_data=f"wc:do:{rid}:close"))
        rows.append(row)
    elif report.status is Status.REWARD_DECIDED:
        rows.append([InlineKeyboardButton(t.gettext("Close"), callback_data=f"wc:do:{rid}:close")])
    extra = [InlineKeyboardButton(t.gettext("Back to the list"), callback_data="wc:pg:0")]
    if report.file_count or report.latitude is not None:
        extra.insert(
            0,
            InlineKeyboardButton(
                t.gettext("Evidence (%(count)d)") % {"count": report.file_count},
                callback_data=f"wc:e:{rid}",
            ),
        )
    rows.append(extra)
    return InlineKeyboardMarkup(rows)


def reporter_line(t: Translator, report: Report) -> str:
    """Who reported it: only with the reporter's consent to be contacted (the service has
    already removed the identity otherwise)."""
    if report.reporter_id is None:
        return t.gettext("Reporter: not shown (no consent to be contacted)")
    name = escape(report.reporter_name or "")
    handle = f" @{escape(report.reporter_username)}" if report.reporter_username else ""
    link = f'<a href="tg://user?id={report.reporter_id}">{name or report.reporter_id}</a>'
    return t.gettext("Reporter (agreed to be contacted): %(who)s") % {"who": link + handle}


async def show_case(update: Update, context: BotContext, report_id: int, edit: bool = True) -> None:
    assert update.effective_user is not None
    t = await translator(update, context)
    services = context.services
    now = services.clock()
    found = await service.open_case(
        services.db, report_id, update.effective_user.id, now, services.settings.admin_ids
    )
    if found is None:
        await refuse(update, context)
        return
    report = found.report
    lines = report_lines(t, report, now)
    lines.insert(2, reporter_line(t, report))
    staff = {e.actor_id for e in found.history if e.actor_id is not None}
    if report.officer_id is not None:
        staff.add(report.officer_id)
    names = await admin_service.names_of(services.db, staff)
    if report.officer_id is not None:
        officer = escape(names[report.officer_id])
        lines.insert(3, t.gettext("Officer: %(name)s") % {"name": officer})
    lines.append(
        t.gettext("Name published: %(answer)s")
        % {"answer": t.gettext("yes") if report.named_publicly else t.gettext("no")}
    )
    lines += history_lines(t, found.history, names)
    text, markup = "\n".join(lines)[:4096], case_keyboard(t, report)
    if edit:
        await edit_or_send(update, context, text, markup, parse_mode=ParseMode.HTML)
    else:
        await send(update, context, text, reply_markup=markup, parse_mode=ParseMode.HTML)


async def on_case(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    await show_case(update, context, int(query.data.split(":")[2]), edit=False)


async def on_evidence(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    await answer(update)
    chat = update.effective_chat
    assert chat is not None
    services = context.services
    found = await service.open_case(
        services.db,
        int(query.data.split(":")[2]),
        update.effective_user.id,
        services.clock(),
        services.settings.admin_ids,
    )
    if found is None:
        await refuse(update, context)
        return
    report = found.report
    bot = context.bot
    sends: list[Callable[[], Awaitable[object]]] = []
    if report.latitude is not None and report.longitude is not None:
        sends.append(partial(bot.send_location, chat.id, report.latitude, report.longitude))
    for evidence in found.files:
        method = bot.send_photo if evidence.kind is FileKind.PHOTO else bot.send_document
        sends.append(partial(method, chat.id, evidence.file_id))
    missing = 0
    for send_one in sends:
        try:
            await send_one()
        except TelegramError:
            missing += 1  # e.g. Telegram no longer has the file: say so rather than fail
    if missing:
        t = await translator(update, context)
        await send(
            update,
            context,
            t.ngettext(
                "%(count)d piece of evidence could not be shown.",
                "%(count)d pieces of evidence could not be shown.",
                missing,
            )
            % {"count": missing},
        )


RESULT_TEXTS = {
    service.Outcome.FORBIDDEN: OFFICERS_ONLY,
    service.Outcome.NOT_FOUND: OFFICERS_ONLY,
    service.Outcome.NOT_ALLOWED: N_("That step is not possible from the current status."),
    service.Outcome.INVALID: N_("That value is not accepted here."),
}


async def report_outcome(
    update: Update, context: BotContext, report_id: int, outcome: service.Outcome
) -> None:
    t = await translator(update, context)
    if outcome is service.Outcome.DONE:
        await send(update, context, t.gettext("Done. The reporter is told."))
        await show_case(update, context, report_id, edit=False)
    else:
        await send(update, context, t.gettext(RESULT_TEXTS[outcome]))


async def on_direct(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    await answer(update)
    _, _, raw_id, action = query.data.split(":")
    services = context.services
    args = (services.db, int(raw_id), update.effective_user.id, services.clock())
    admins = services.settings.admin_ids
    if action == "me":
        outcome = await service.assign(*args, admins, officer_id=update.effective_user.id)
    elif action == "inv":
        outcome = await service.start_investigation(*args, admins)
    else:
        outcome = await service.close(*args, admins)
    await report_outcome(update, context, int(raw_id), outcome)


# -- actions that need typed input -----------------------------------------------------------
PENDING = "case_action"
DEPARTMENT, OFFICER, VERDICT, SAVED, ANSWER, REWARD = (
    "department", "officer", "verdict", "saved", "answer", "reward",
)  # fmt: skip
TYPED_FLOW = N_("handling a budget-waste case")
ACTION_STATUSES = {
    "dept": ASSIGNABLE,
    "off": ASSIGNABLE,
    "ans": frozenset({Status.INVESTIGATING}),
    "rew": frozenset({Status.ANSWERED}),
}


def pending(context: BotContext) -> dict[str, Any]:
    found = context.udata.setdefault(PENDING, {})
    assert isinstance(found, dict)
    return found


async def start_typed(update: Update, context: BotContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    await answer(update)
    _, _, raw_id, action = query.data.split(":")
    services = context.services
    report = await service.handled_by(
        services.db,
        int(raw_id),
        update.effective_user.id,
        services.settings.admin_ids,
        services.clock(),
        action,
    )
    if report is None:
        await refuse(update, context)
        return ConversationHandler.END
    if report.status not in ACTION_STATUSES[action]:
        # A button from an older card: say so now, not after the officer has typed.
        t = await translator(update, context)
        await send(update, context, t.gettext(RESULT_TEXTS[service.Outcome.NOT_ALLOWED]))
        return ConversationHandler.END
    context.udata[PENDING] = {"report": report.id, "receipt": report.receipt, "action": action}
    return await ask_current(update, context)


def state_of(job: dict[str, Any]) -> str:
    action = job.get("action")
    if action == "dept":
        return DEPARTMENT
    if action == "off":
        return OFFICER
    if action == "rew":
        return REWARD
    if "verdict" not in job:
        return VERDICT
    if job["verdict"] != Verdict.NOT_SUBSTANTIATED.value and "saved" not in job:
        return SAVED
    return ANSWER


async def ask_current(update: Update, context: BotContext) -> str:
    t = await translator(update, context)
    job = pending(context)
    state = state_of(job)
    values = {"receipt": job.get("receipt", "")}
    cancel_row = [InlineKeyboardButton(t.gettext("Cancel"), callback_data="wc:x")]
    rows = [cancel_row]
    if state == DEPARTMENT:
        text = t.gettext("Which department should handle %(receipt)s? Type its name.")
    elif state == OFFICER:
        text = t.gettext(
            "Which officer should handle %(receipt)s? Pick one, or type their @username."
        )
        officers = await service.officer_choices(context.services.db, int(job.get("report", 0)))
        rows = [
            [InlineKeyboardButton(name[:40], callback_data=f"wc:of:{user_id}")]
            for user_id, name in officers[:10]
        ] + [cancel_row]
    elif state == VERDICT:
        text = t.gettext("What did the investigation of %(receipt)s find?")
        rows = [
            [InlineKeyboardButton(t.gettext(label), callback_data=f"wc:v:{verdict.value}")]
            for verdict, label in service.VERDICT_LABELS.items()
        ] + [cancel_row]
    elif state == SAVED:
        text = t.gettext("How much money does this save or recover, in won? Type an amount, or 0.")
    elif state == ANSWER:
        text = t.gettext("Type the official answer to %(receipt)s; the reporter will read it.")
    else:
        text = t.gettext(
            "The budget-saving reward (예산절약성과금) for %(receipt)s, in won? Type 0 for none."
        )
    await ask(update, context, text % values, InlineKeyboardMarkup(rows))
    return state


async def on_officer(update: Update, context: BotContext) -> str | int:
    """An officer picked by name; the service checks their role for the case's scope."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    await answer(update)
    job = pending(context)
    if state_of(job) != OFFICER:
        return await ask_current(update, context)
    services = context.services
    report_id = int(job.get("report", 0))
    outcome = await service.assign(
        services.db, report_id, update.effective_user.id, services.clock(),
        services.settings.admin_ids, officer_id=int(query.data.split(":")[2]),
    )  # fmt: skip
    if outcome is service.Outcome.INVALID:
        t = await translator(update, context)
        await send(update, context, t.gettext("That person is not an officer for this case."))
        return await ask_current(update, context)
    await end(update, context)
    await report_outcome(update, context, report_id, outcome)
    return ConversationHandler.END


async def on_verdict(update: Update, context: BotContext) -> str:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    job = pending(context)
    if state_of(job) == VERDICT:
        job["verdict"] = Verdict(query.data.split(":")[2]).value
    return await ask_current(update, context)


async def on_typed(update: Update, context: BotContext) -> str | int:
    assert update.message is not None and update.message.text is not None
    assert update.effective_user is not None
    text = update.message.text.strip()
    t = await translator(update, context)
    job = pending(context)
    state = state_of(job)
    services = context.services
    args = (services.db, int(job.get("report", 0)), update.effective_user.id)
    now, admins = services.clock(), services.settings.admin_ids
    if state == DEPARTMENT:
        if check_agency(text) is not None:
            await send(update, context, t.gettext("Please type the department's name."))
            return await ask_current(update, context)
        outcome = await service.assign(*args, now, admins, department=text)
    elif state == OFFICER:
        found = (
            None if is_number(text) else await admin_service.person_by_username(services.db, text)
        )
        if found is None and not is_number(text):
            await send(
                update,
                context,
                t.gettext("Nobody signed up has that @username. Pick an officer from the list."),
            )
            return await ask_current(update, context)
        officer = found.user_id if found is not None else to_id(text)
        outcome = await service.assign(*args, now, admins, officer_id=officer)
        if outcome is service.Outcome.INVALID:
            await send(update, context, t.gettext("That person is not an officer for this case."))
            return await ask_current(update, context)
    elif state in (SAVED, REWARD):
        amount = read_amount(text, allow_zero=True)
        refusal = amount if isinstance(amount, Refusal) else None
        if refusal is None and state == REWARD:
            assert isinstance(amount, int)
            report = await service.handled_by(services.db, args[1], args[2], admins, now, "reward")
            refusal = check_reward(report.verdict if report else None, amount)
        if refusal is not None:
            await send(update, context, amount_refusal(t, refusal))
            return await ask_current(update, context)
        assert isinstance(amount, int)
        if state == SAVED:
            job["saved"] = amount
            await retire_question(update, context)
            return await ask_current(update, context)
        outcome = await service.decide_reward(*args, amount, now, admins)
    elif state == ANSWER:
        if len(text) < ANSWER_MIN or check_note(text) is not None:
            await send(
                update,
                context,
                t.gettext(
                    "Please write the answer in a sentence or more (at most 2,000 characters)."
                ),
            )
            return await ask_current(update, context)
        outcome = await service.answer(
            *args, Verdict(job["verdict"]), text, job.get("saved"), now, admins
        )
    else:
        await send(update, context, t.gettext("Please use the buttons below."))
        return await ask_current(update, context)
    report_id = int(job.get("report", 0))
    await end(update, context)
    await report_outcome(update, context, report_id, outcome)
    return ConversationHandler.END


def amount_refusal(t: Translator, refusal: Refusal) -> str:
    if refusal is Refusal.AMOUNT_NOT_A_NUMBER:
        return t.gettext("Please type an amount in won, e.g. 5,000,000 or 500만, or 0.")
    return refusal_text(t, refusal)


async def end(update: Update, context: BotContext) -> int:
    return await end_flow(update, context, PENDING, "waste_case")


async def cancel(update: Update, context: BotContext) -> int:
    return await discard_flow(update, context, PENDING, "waste_case", N_("Nothing was changed."))


async def still_officer(update: Update, context: BotContext) -> bool:
    """Every step after the first checks the case's officer again (a role may be revoked)."""
    assert update.effective_user is not None
    job = pending(context)
    services = context.services
    report = await service.handled_by(
        services.db, int(job.get("report", 0)), update.effective_user.id,
        services.settings.admin_ids, services.clock(), str(job.get("action", "")),
    )  # fmt: skip
    if report is not None:
        return True
    context.udata.pop(PENDING, None)
    await answer(update)
    await refuse(update, context)
    return False


def typed_handler(registry: CommandRegistry) -> ConversationHandler[BotContext]:
    def step(*own: StepHandler) -> list[StepHandler]:
        return guarded(
            [
                CallbackQueryHandler(cancel, pattern=r"^wc:x$"),
                *own,
                MessageHandler(
                    filters.TEXT & ~filters.COMMAND, role_checked(still_officer, on_typed)
                ),
            ],
            ask_current,
            TYPED_FLOW,
            cancel,
            registry,
        )

    verdicts = "|".join(v.value for v in Verdict)
    return flow(
        entry_points=[
            CallbackQueryHandler(start_typed, pattern=r"^wc:a:\d{1,12}:(dept|off|ans|rew)$")
        ],
        states={
            DEPARTMENT: step(),
            OFFICER: step(
                CallbackQueryHandler(
                    role_checked(still_officer, on_officer), pattern=r"^wc:of:\d{1,15}$"
                )
            ),
            VERDICT: step(
                CallbackQueryHandler(
                    role_checked(still_officer, on_verdict), pattern=rf"^wc:v:({verdicts})$"
                )
            ),
            SAVED: step(),
            ANSWER: step(),
            REWARD: step(),
        },
        name="waste_case",
    )


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    registry.add(
        MenuCommand(
            "cases",
            N_("Handle budget-waste reports (officers)"),
            N_("Waste cases"),
            cases_command,
            admin_only=True,
        )
    )
    application.add_handler(typed_handler(registry))
    statuses = "|".join(STATUS_FILTERS)
    application.add_handler(
        CallbackQueryHandler(
            on_filter,
            pattern=rf"^wc:(pg:\d{{1,4}}|od|st:({statuses})|di:[a-z-]+|ag:(\d{{1,3}}|-))$",
        )
    )
    application.add_handler(CallbackQueryHandler(on_pick, pattern=r"^wc:pick:(st|di|ag)$"))
    application.add_handler(CallbackQueryHandler(on_case, pattern=r"^wc:c:\d{1,12}$"))
    application.add_handler(CallbackQueryHandler(on_evidence, pattern=r"^wc:e:\d{1,12}$"))
    application.add_handler(
        CallbackQueryHandler(on_direct, pattern=r"^wc:do:\d{1,12}:(me|inv|close)$")
    )
