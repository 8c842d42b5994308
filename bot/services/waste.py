"""Budget-waste reports as use cases: report, assign, investigate, answer, decide the reward,
close, add information — each one unit of work (SPEC §7).

No Telegram here. Every officer action checks the role here, not in the handler, so a forged
button does nothing; it is written to the audit log and the reporter's notice is queued in
the outbox in the same transaction. What an officer may see of the reporter is decided here
too (`CaseFile.report` has the identity removed unless the reporter agreed to be contacted).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from bot.i18n import N_, Translator
from bot.services.admin import labels
from bot.services.proposals import start_of_day
from domain.notifications import Button, Category, Payload
from domain.people import DISTRICTS_BY_CODE
from domain.programmes import Action, Programme, ProgrammeKind
from domain.roles import Role
from domain.waste import (
    ANSWER_MIN,
    FILES_MAX,
    OPEN,
    SEOUL,
    EventKind,
    Refusal,
    Status,
    TransitionError,
    Verdict,
    WasteRules,
    check_address,
    check_agency,
    check_amount,
    check_date,
    check_description,
    check_note,
    check_reward,
    check_transition,
    status_after_assignment,
)
from storage import audit
from storage.clock import to_db
from storage.db import Database, Session
from storage.outbox import enqueue
from storage.people import PeopleRepository
from storage.programmes import ProgrammesRepository
from storage.roles import RolesRepository
from storage.waste import (
    Event,
    Evidence,
    NewFile,
    NewReport,
    Queue,
    Report,
    Statistics,
    WasteRepository,
)

STATUS_LABELS: Final = {
    Status.RECEIVED: N_("Received"),
    Status.ASSIGNED: N_("Assigned"),
    Status.INVESTIGATING: N_("Under investigation"),
    Status.ANSWERED: N_("Answered"),
    Status.REWARD_DECIDED: N_("Reward decided"),
    Status.CLOSED: N_("Closed"),
}
VERDICT_LABELS: Final = {
    Verdict.SUBSTANTIATED: N_("Substantiated"),
    Verdict.PARTLY: N_("Partly substantiated"),
    Verdict.NOT_SUBSTANTIATED: N_("Not substantiated"),
}
EVENT_LABELS: Final = {
    EventKind.RECEIVED: N_("Report received"),
    EventKind.ASSIGNED: N_("Assigned for handling"),
    EventKind.INVESTIGATING: N_("Investigation started"),
    EventKind.ANSWERED: N_("Answered"),
    EventKind.REWARD_DECIDED: N_("Reward decided"),
    EventKind.CLOSED: N_("Closed"),
    EventKind.INFO_ADDED: N_("Information added by the reporter"),
}


def rules_of(programme: Programme) -> WasteRules:
    return WasteRules.from_settings(programme.settings)


def today_in_seoul(now: datetime) -> date:
    return now.astimezone(SEOUL).date()


async def reports_programme(session: Session, now: datetime) -> tuple[int, Programme] | None:
    """The programme taking reports right now (예산낭비신고센터 is open all year)."""
    repository = ProgrammesRepository(session)
    for programme in await repository.all():
        if programme.kind is ProgrammeKind.WASTE_REPORTS and programme.allows(Action.REPORT, now):
            programme_id = await repository.id_of(programme.key)
            assert programme_id is not None
            return programme_id, programme
    return None


# -- reporting ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Draft:
    """What the report flow has collected; kept in the person's conversation data."""

    token: str  # one per draft: submitting it twice finds the first report
    description: str
    agency: str | None = None
    district: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    occurred_on: date | None = None
    amount: int | None = None
    files: tuple[NewFile, ...] = ()
    named_publicly: bool = False
    contact_consent: bool = False
    reporter_name: str | None = None
    reporter_username: str | None = None


async def check_can_report(session: Session, user_id: int, now: datetime) -> Refusal | None:
    return await reporter_refusal(session, user_id, now, await reports_programme(session, now))


async def reporter_refusal(
    session: Session, user_id: int, now: datetime, found: tuple[int, Programme] | None
) -> Refusal | None:
    """`found`: the programme taking reports now (`reports_programme`)."""
    if await PeopleRepository(session).get(user_id) is None:
        return Refusal.NOT_SIGNED_UP
    if found is None:
        return Refusal.CLOSED
    made_today = await WasteRepository(session).count_by_reporter_since(user_id, start_of_day(now))
    if made_today >= rules_of(found[1]).reports_per_day:
        return Refusal.DAILY_LIMIT
    return None


def validate_draft(draft: Draft, today: date) -> Refusal | None:
    checks = [
        check_description(draft.description),
        check_agency(draft.agency) if draft.agency is not None else None,
        check_address(draft.address) if draft.address is not None else None,
        check_date(draft.occurred_on, today),
        check_amount(draft.amount),
        Refusal.TOO_MANY_FILES if len(draft.files) > FILES_MAX else None,
        Refusal.ADDRESS_INVALID
        if draft.district is not None and draft.district not in DISTRICTS_BY_CODE
        else None,
    ]
    return next((refusal for refusal in checks if refusal is not None), None)


@dataclass(frozen=True)
class Submitted:
    report: Report | None
    refusal: Refusal | None


class _OverTheLimit(Exception):
    """The day's reports of the reporter, counted under the lock, include one too many."""


async def submit(db: Database, user_id: int, draft: Draft, now: datetime) -> Submitted:
    """One report per draft token, at most the programme's reports a day per reporter, and
    receipt numbers with no gaps and no repeats: see `WasteRepository.create` and `number`
    for how each holds with units of work at once. The only lock is the year's counter, for
    the last statement (issue 21)."""
    invalid = validate_draft(draft, today_in_seoul(now))
    try:
        async with db.transaction() as session:
            repository = WasteRepository(session)
            earlier = await repository.by_token(draft.token)
            if earlier is not None:
                return _again(earlier, user_id)
            found = await reports_programme(session, now)
            # Refused early when the day's reports are already there (they only grow);
            # `number` counts again under the lock.
            refusal = await reporter_refusal(session, user_id, now, found) or invalid
            if refusal is not None or found is None:
                return Submitted(None, refusal or Refusal.CLOSED)
            programme_id, programme = found
            rules = rules_of(programme)
            # The name and handle are kept only for what the reporter agreed to.
            identity = draft.named_publicly or draft.contact_consent
            report_id = await repository.create(
                NewReport(
                    programme_id=programme_id,
                    reporter_id=user_id,
                    draft_token=draft.token,
                    description=draft.description.strip(),
                    agency=draft.agency.strip() if draft.agency else None,
                    district=draft.district,
                    address=draft.address.strip() if draft.address else None,
                    latitude=draft.latitude,
                    longitude=draft.longitude,
                    occurred_on=draft.occurred_on,
                    amount=draft.amount,
                    named_publicly=draft.named_publicly,
                    contact_consent=draft.contact_consent,
                    reporter_name=draft.reporter_name if identity else None,
                    reporter_username=draft.reporter_username if draft.contact_consent else None,
                    files=draft.files,
                ),
                now,
                rules.answer_due(now),
            )
            if report_id is None:  # the same draft sent at the same moment, or no person
                earlier = await repository.by_token(draft.token)
                if earlier is None:
                    return Submitted(None, Refusal.NOT_SIGNED_UP)
                return _again(earlier, user_id)
            report = await repository.get(report_id)
            assert report is not None
            receipt = await repository.number(
                report_id, now, start_of_day(now), rules.reports_per_day
            )
            if receipt is None:
                raise _OverTheLimit
    except _OverTheLimit:
        return Submitted(None, Refusal.DAILY_LIMIT)
    return Submitted(report.model_copy(update={"receipt": receipt}), None)


def _again(earlier: Report, user_id: int) -> Submitted:
    """A double tap or a retry: the same receipt (a token is the reporter's own draft's)."""
    if earlier.reporter_id != user_id:
        return Submitted(None, Refusal.NOT_SIGNED_UP)
    return Submitted(earlier, None)


@dataclass(frozen=True)
class CaseFile:
    report: Report
    files: list[Evidence]
    history: list[Event]


async def reporter_view(db: Database, report_id: int, user_id: int) -> CaseFile | None:
    """The reporter's own report; None for anyone else, so nobody learns it exists."""
    async with db.reading() as session:
        repository = WasteRepository(session)
        report = await repository.get(report_id)
        if report is None or report.reporter_id != user_id:
            return None
        return CaseFile(
            report, await repository.files(report_id), await repository.history(report_id)
        )


async def my_reports(session: Session, user_id: int) -> list[Report]:
    return await WasteRepository(session).by_reporter(user_id)


class Outcome(StrEnum):
    DONE = "done"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    NOT_ALLOWED = "not_allowed"  # not from the current status
    INVALID = "invalid"  # a value the rules refuse


@dataclass(frozen=True)
class Addition:
    text: str | None
    files: tuple[NewFile, ...] = ()


async def add_information(
    db: Database, report_id: int, user_id: int, addition: Addition, now: datetime
) -> Outcome:
    """The reporter adds text or evidence while the case is open; the officer is told."""
    if addition.text is not None and check_note(addition.text) is not None:
        return Outcome.INVALID
    if not (addition.text or addition.files) or len(addition.files) > FILES_MAX:
        return Outcome.INVALID
    async with db.transaction() as session:
        await session.lock("report", report_id)  # information only while the case is open
        repository = WasteRepository(session)
        report = await repository.get(report_id)
        if report is None or report.reporter_id != user_id:
            return Outcome.NOT_FOUND
        if report.status not in OPEN:
            return Outcome.NOT_ALLOWED
        note = addition.text.strip() if addition.text else None
        event_id = await repository.add_event(report_id, EventKind.INFO_ADDED, now, user_id, note)
        await repository.add_files(report_id, event_id, addition.files, now)
        await repository.update(report_id, now)
        if report.officer_id is not None:
            await notify_officer(
                session,
                report,
                report.officer_id,
                now,
                lambda t: (
                    t.gettext("The reporter added information to case %(receipt)s.")
                    % {"receipt": report.receipt}
                ),
                f"waste-info:{event_id}",
            )
    return Outcome.DONE


# -- officers -------------------------------------------------------------------------------
async def can_handle(
    session: Session, user_id: int, report: Report, admin_ids: Collection[int]
) -> bool:
    return await RolesRepository(session, admin_ids).has(user_id, Role.WASTE_OFFICER, report.scope)


async def officer_scopes(
    session: Session, user_id: int, admin_ids: Collection[int]
) -> frozenset[str] | None:
    """The scopes whose reports this person handles; None: all; empty: not an officer."""
    scopes = await RolesRepository(session, admin_ids).scopes(user_id, Role.WASTE_OFFICER)
    return None if scopes is None else frozenset(scopes)


async def officer_choices(db: Database, report_id: int) -> list[tuple[int, str]]:
    """Who may be given a case, by name: its scope's officers (and admins)."""
    async with db.reading() as session:
        repository = WasteRepository(session)
        report = await repository.get(report_id)
        if report is None:
            return []
        officers = await repository.officers_for(report.scope)
        names = await labels(session, officers)
    return [(user_id, names[user_id]) for user_id in officers]


def officer_view(report: Report) -> Report:
    """What an officer sees: the reporter's identity only if they agreed to be contacted."""
    if report.contact_consent:
        return report
    return report.model_copy(
        update={"reporter_id": None, "reporter_name": None, "reporter_username": None}
    )


async def case_id_of(db: Database, receipt: str) -> int | None:
    async with db.reading() as session:
        report = await WasteRepository(session).by_receipt(receipt.strip().upper())
    return None if report is None else report.id


async def handled_by(
    db: Database,
    report_id: int,
    officer_id: int,
    admin_ids: Collection[int],
    now: datetime,
    attempt: str,
) -> Report | None:
    """The case if this person may handle it (as an officer sees it), else None; a refusal
    is audited, since it may be a forged button."""
    async with db.transaction() as session:
        report = await WasteRepository(session).get(report_id)
        if report is None:
            return None
        if not await can_handle(session, officer_id, report, admin_ids):
            await audit.record(
                session, officer_id, "waste.refused", report.receipt, now, attempt=attempt
            )
            return None
    return officer_view(report)


async def open_case(
    db: Database, report_id: int, officer_id: int, now: datetime, admin_ids: Collection[int]
) -> CaseFile | None:
    """A case as an officer sees it; None without the role. Each look is audited."""
    async with db.transaction() as session:
        repository = WasteRepository(session)
        report = await repository.get(report_id)
        if report is None:
            return None
        if not await can_handle(session, officer_id, report, admin_ids):
            await audit.record(
                session, officer_id, "waste.refused", report.receipt, now, attempt="view"
            )
            return None
        await audit.record(session, officer_id, "waste.view", report.receipt, now)
        return CaseFile(
            officer_view(report),
            await repository.files(report_id),
            await repository.history(report_id),
        )


async def queue(
    db: Database,
    officer_id: int,
    admin_ids: Collection[int],
    statuses: tuple[Status, ...] = (),
    district: str | None = None,
    agency: str | None = None,
    overdue_at: datetime | None = None,
    limit: int = 10,
    offset: int = 0,
) -> tuple[list[Report], int] | None:
    """A page of the officer's queue; None when the person is no officer."""
    async with db.reading() as session:
        scopes = await officer_scopes(session, officer_id, admin_ids)
        if scopes is not None and not scopes:
            return None
        found, total = await WasteRepository(session).queue(
            Queue(scopes, statuses, district, agency, overdue_at), limit, offset
        )
    return [officer_view(r) for r in found], total


async def agencies(db: Database, officer_id: int, admin_ids: Collection[int]) -> list[str]:
    async with db.reading() as session:
        scopes = await officer_scopes(session, officer_id, admin_ids)
        if scopes is not None and not scopes:
            return []
        return await WasteRepository(session).agencies(scopes)


def _plain(value: object) -> object:
    """A value as JSON and CSV hold it."""
    if isinstance(value, datetime):
        return to_db(value)
    if isinstance(value, date):
        return value.isoformat()
    return value.value if isinstance(value, StrEnum) else value


async def _case_for(
    session: Session,
    report_id: int,
    actor_id: int,
    admin_ids: Collection[int],
    now: datetime,
    action: EventKind,
    to: Status | None = None,
) -> Report | Outcome:
    """The case if this officer may act on it (and, with `to`, if it may move there now).
    The case is locked first: a status moves only from the one read here."""
    await session.lock("report", report_id)
    report = await WasteRepository(session).get(report_id)
    if report is None:
        return Outcome.NOT_FOUND
    if not await can_handle(session, actor_id, report, admin_ids):
        # Refused attempts are audited too: a forged button leaves a trace.
        await audit.record(
            session, actor_id, "waste.refused", report.receipt, now, attempt=action.value
        )
        return Outcome.FORBIDDEN
    if to is not None:
        try:
            check_transition(report.status, to, report.verdict)
        except TransitionError:
            return Outcome.NOT_ALLOWED
    return report


async def _record(
    session: Session,
    report: Report,
    actor_id: int,
    kind: EventKind,
    now: datetime,
    status: Status,
    note: str | None = None,
    **fields: Any,
) -> None:
    """One step: the change, its history line, its audit record and the reporter's notice."""
    repository = WasteRepository(session)
    await repository.update(report.id, now, status=status, **fields)
    event_id = await repository.add_event(report.id, kind, now, actor_id, note)
    details = {name: _plain(value) for name, value in {"status": status, **fields}.items()}
    await audit.record(session, actor_id, f"waste.{kind.value}", report.receipt, now, **details)
    updated = await repository.get(report.id)
    assert updated is not None
    await notify_reporter(session, updated, kind, event_id, now)


async def assign(
    db: Database,
    report_id: int,
    actor_id: int,
    now: datetime,
    admin_ids: Collection[int],
    *,
    department: str | None = None,
    officer_id: int | None = None,
) -> Outcome:
    """To a department (which then holds the case) and/or to an officer of its scope."""
    async with db.transaction() as session:
        report = await _case_for(session, report_id, actor_id, admin_ids, now, EventKind.ASSIGNED)
        if isinstance(report, Outcome):
            return report
        try:
            status = status_after_assignment(report.status)
        except TransitionError:
            return Outcome.NOT_ALLOWED
        fields: dict[str, Any] = {}
        scope = report.scope
        if department is not None:
            if check_agency(department) is not None:
                return Outcome.INVALID
            scope = department.strip()
            fields.update(department=scope, officer_id=None)
        if officer_id is not None:
            roles = RolesRepository(session, admin_ids)
            if not await roles.has(officer_id, Role.WASTE_OFFICER, scope):
                return Outcome.INVALID
            fields["officer_id"] = officer_id
        if not fields:
            return Outcome.INVALID
        await _record(session, report, actor_id, EventKind.ASSIGNED, now, status, **fields)
        if officer_id is not None and officer_id != actor_id:
            await notify_officer(
                session,
                report,
                officer_id,
                now,
                lambda t: (
                    t.gettext("Case %(receipt)s was assigned to you.") % {"receipt": report.receipt}
                ),
                f"waste-assigned:{report.id}:{officer_id}:{to_db(now)}",
            )
    return Outcome.DONE


async def start_investigation(
    db: Database, report_id: int, actor_id: int, now: datetime, admin_ids: Collection[int]
) -> Outcome:
    """The officer who starts the investigation takes the case if no one holds it yet."""
    async with db.transaction() as session:
        report = await _case_for(
            session,
            report_id,
            actor_id,
            admin_ids,
            now,
            EventKind.INVESTIGATING,
            Status.INVESTIGATING,
        )
        if isinstance(report, Outcome):
            return report
        await _record(
            session, report, actor_id, EventKind.INVESTIGATING, now, Status.INVESTIGATING,
            officer_id=report.officer_id or actor_id,
        )  # fmt: skip
    return Outcome.DONE


async def answer(
    db: Database,
    report_id: int,
    actor_id: int,
    verdict: Verdict,
    text: str,
    saved_amount: int | None,
    now: datetime,
    admin_ids: Collection[int],
) -> Outcome:
    """The official answer, with the money saved when the report is (partly) substantiated."""
    text = text.strip()
    if len(text) < ANSWER_MIN or check_note(text) is not None:
        return Outcome.INVALID
    if verdict is Verdict.NOT_SUBSTANTIATED:
        saved_amount = None
    elif check_amount(saved_amount, allow_zero=True) is not None:
        return Outcome.INVALID
    async with db.transaction() as session:
        report = await _case_for(
            session, report_id, actor_id, admin_ids, now, EventKind.ANSWERED, Status.ANSWERED
        )
        if isinstance(report, Outcome):
            return report
        await _record(
            session, report, actor_id, EventKind.ANSWERED, now, Status.ANSWERED, text,
            verdict=verdict, answer=text, saved_amount=saved_amount, answered_at=now,
        )  # fmt: skip
    return Outcome.DONE


async def decide_reward(
    db: Database,
    report_id: int,
    actor_id: int,
    amount: int,
    now: datetime,
    admin_ids: Collection[int],
) -> Outcome:
    """예산절약성과금: an amount in won, nil allowed; only for a (partly) substantiated report."""
    async with db.transaction() as session:
        report = await _case_for(
            session,
            report_id,
            actor_id,
            admin_ids,
            now,
            EventKind.REWARD_DECIDED,
            Status.REWARD_DECIDED,
        )
        if isinstance(report, Outcome):
            return report
        if check_reward(report.verdict, amount) is not None:
            return Outcome.INVALID
        await _record(
            session, report, actor_id, EventKind.REWARD_DECIDED, now, Status.REWARD_DECIDED,
            reward=amount,
        )  # fmt: skip
    return Outcome.DONE


async def close(
    db: Database, report_id: int, actor_id: int, now: datetime, admin_ids: Collection[int]
) -> Outcome:
    async with db.transaction() as session:
        report = await _case_for(
            session, report_id, actor_id, admin_ids, now, EventKind.CLOSED, Status.CLOSED
        )
        if isinstance(report, Outcome):
            return report
        await _record(
            session, report, actor_id, EventKind.CLOSED, now, Status.CLOSED, closed_at=now
        )
    return Outcome.DONE


# -- notices --------------------------------------------------------------------------------
def update_text(t: Translator, report: Report, kind: EventKind) -> str:
    lines = [
        t.gettext("Your budget-waste report %(receipt)s: %(step)s")
        % {"receipt": report.receipt, "step": t.gettext(EVENT_LABELS[kind])}
    ]
    if kind is EventKind.ASSIGNED and report.department:
        lines.append(t.gettext("Handled by: %(department)s") % {"department": report.department})
    elif kind is EventKind.ANSWERED and report.verdict is not None:
        lines.append(
            t.gettext("Verdict: %(verdict)s")
            % {"verdict": t.gettext(VERDICT_LABELS[report.verdict])}
        )
        if report.saved_amount:
            lines.append(
                t.gettext("Money saved: %(amount)s") % {"amount": t.money(report.saved_amount)}
            )
        lines += ["", report.answer or ""]
    elif kind is EventKind.REWARD_DECIDED and report.reward:
        lines.append(
            t.gettext("You are awarded a budget-saving reward (예산절약성과금) of %(amount)s.")
            % {"amount": t.money(report.reward)}
        )
    elif kind is EventKind.REWARD_DECIDED:
        lines.append(t.gettext("No budget-saving reward (예산절약성과금) was decided."))
    elif kind is EventKind.CLOSED:
        lines.append(t.gettext("The case is closed. Thank you for watching over public money."))
    return "\n".join(lines)


async def notify_reporter(
    session: Session, report: Report, kind: EventKind, event_id: int, now: datetime
) -> None:
    if report.reporter_id is None:
        return
    person = await PeopleRepository(session).get(report.reporter_id)
    if person is None or not person.active:
        return
    t = Translator(person.language)
    button = Button(text=t.gettext("Open the report"), callback_data=f"wr:v:{report.id}")
    await enqueue(
        session,
        user_id=person.user_id,
        category=Category.UPDATES,
        payload=Payload(text=update_text(t, report, kind)[:4096], buttons=((button,),)),
        now=now,
        dedupe_key=f"waste:{report.id}:{event_id}",
    )


async def notify_officer(
    session: Session,
    report: Report,
    officer_id: int,
    now: datetime,
    text_for: Callable[[Translator], str],
    dedupe_key: str,
    category: Category = Category.UPDATES,
) -> bool:
    """Queue a notice about a case to an officer who uses the bot; True if newly queued."""
    person = await PeopleRepository(session).get(officer_id)
    if person is None or not person.active:
        return False
    t = Translator(person.language)
    button = Button(text=t.gettext("Open the case"), callback_data=f"wc:c:{report.id}")
    queued = await enqueue(
        session,
        user_id=officer_id,
        category=category,
        payload=Payload(text=text_for(t)[:4096], buttons=((button,),)),
        now=now,
        dedupe_key=dedupe_key,
    )
    return queued is not None


async def queue_deadline_reminders(
    db: Database, now: datetime, offsets: Sequence[timedelta], admin_ids: Collection[int]
) -> int:
    """Remind the officer holding a case before its answer deadline (SPEC §7, §8); with no
    officer yet, everyone who could take it. Only the nearest offset is sent, once."""
    queued = 0
    async with db.transaction() as session:
        repository = WasteRepository(session)
        horizon = now + max(offsets, default=timedelta(0))
        for report in await repository.awaiting_answer_due(now, horizon):
            offset = min(o for o in offsets if o >= report.due_at - now)
            if report.officer_id is not None:
                recipients = [report.officer_id]
            else:
                recipients = sorted(
                    set(await repository.officers_for(report.scope)) | set(admin_ids)
                )
            for officer_id in recipients:
                queued += await notify_officer(
                    session,
                    report,
                    officer_id,
                    now,
                    lambda t, report=report: reminder_text(t, report, now),  # type: ignore[misc]
                    f"waste-reminder:{report.id}:{int(offset.total_seconds())}:{officer_id}",
                    Category.DEADLINES,
                )
    return queued


def reminder_text(t: Translator, report: Report, now: datetime) -> str:
    return t.gettext("Case %(receipt)s must be answered by %(due)s (%(left)s).") % {
        "receipt": report.receipt,
        "due": t.deadline(report.due_at, now),
        "left": t.left(now, report.due_at),
    }


# -- public figures -------------------------------------------------------------------------
async def public_statistics(db: Database) -> Statistics:
    async with db.reading() as session:
        return await WasteRepository(session).statistics()


EXPORT_COLUMNS: Final = (
    "receipt", "status", "received_at", "due_at", "district", "address", "latitude",
    "longitude", "agency", "department", "occurred_on", "amount", "files", "verdict",
    "saved_amount", "reward", "answered_at", "closed_at", "reporter_name", "description",
    "answer",
)  # fmt: skip


def _cell(value: object) -> object:
    return "" if value is None else _plain(value)


async def export_rows(session: Session) -> list[list[object]]:
    """`civicbot export reports`: the reporter's name only where they agreed to be named;
    contact details never."""
    rows = []
    for r in await WasteRepository(session).all_for_export():
        name = r.reporter_name if r.named_publicly else None
        values = (
            r.receipt, r.status, r.received_at, r.due_at, r.district, r.address, r.latitude,
            r.longitude, r.agency, r.department, r.occurred_on, r.amount, r.file_count,
            r.verdict, r.saved_amount, r.reward, r.answered_at, r.closed_at, name,
            r.description, r.answer,
        )  # fmt: skip
        rows.append([_cell(v) for v in values])
    return rows
