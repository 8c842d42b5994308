"""Proposals as use cases: submit, support, review, close — each one unit of work.

No Telegram here: handlers call these, and so can the CLI and the tests. Notifications are
queued in the outbox inside the same transaction as the change that causes them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo

from bot.i18n import N_, Translator
from domain.notifications import Button, Category, Payload
from domain.people import Person, Requirements, check, pb_requirements
from domain.programmes import Action, Programme, ProgrammeKind
from domain.proposals import (
    DebateKind,
    DebateOutcome,
    ProjectKind,
    ProposalRules,
    Refusal,
    Scope,
    Stance,
    Status,
    TransitionError,
    check_cost,
    check_description,
    check_districts,
    check_title,
    check_transition,
    debate_outcome,
    status_after_support,
    support_deadline,
    takes_proposals,
)
from domain.roles import Role
from storage import audit
from storage.blocks import is_blocked
from storage.db import Database, Session
from storage.outbox import enqueue
from storage.people import PeopleRepository
from storage.programmes import ProgrammesRepository
from storage.proposals import NewProposal, Proposal, ProposalsRepository
from storage.roles import RolesRepository

SEOUL: Final = ZoneInfo("Asia/Seoul")

STATUS_LABELS: Final = {
    Status.SUBMITTED: N_("submitted"),
    Status.PUBLISHED: N_("collecting support"),
    Status.THRESHOLD_REACHED: N_("support goal reached, agenda review"),
    Status.NOT_REACHED: N_("support goal not reached"),
    Status.UNDER_REVIEW: N_("under review"),
    Status.IN_DEBATE: N_("in public debate"),
    Status.ACCEPTED: N_("accepted"),
    Status.PARTLY_ACCEPTED: N_("partly accepted"),
    Status.REJECTED: N_("not accepted"),
    Status.MERGED: N_("merged into another proposal"),
    Status.TRANSFERRED: N_("transferred to a district"),
    Status.ON_BALLOT: N_("on the ballot"),
    Status.SELECTED: N_("selected"),
    Status.NOT_SELECTED: N_("not selected"),
    Status.BUDGETED: N_("budgeted"),
    Status.IN_EXECUTION: N_("in execution"),
    Status.COMPLETED: N_("completed"),
    Status.WITHDRAWN: N_("withdrawn"),
}


def rules_of(programme: Programme) -> ProposalRules:
    return ProposalRules.from_settings(programme.settings)


@dataclass(frozen=True)
class Draft:
    """What the submission flow has collected; kept in the person's conversation data."""

    programme_key: str
    title: str
    description: str
    field: str
    scope: Scope
    districts: tuple[str, ...]
    dong: str | None = None
    kind: ProjectKind | None = None
    cost: int | None = None
    photos: tuple[str, ...] = ()
    latitude: float | None = None
    longitude: float | None = None
    key: str | None = None  # the draft's key: submitting it again finds the same proposal


class Outcome(StrEnum):
    DONE = "done"
    ALREADY = "already"
    CLOSED = "closed"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    NOT_SIGNED_UP = "not_signed_up"
    BLOCKED = "blocked"
    OWN = "own"  # one's own proposal or comment, which one cannot report


async def open_for_proposals(session: Session, now: datetime) -> list[tuple[int, Programme]]:
    """Programmes whose open stage takes proposals right now."""
    repository = ProgrammesRepository(session)
    found = []
    for programme in await repository.all():
        if takes_proposals(programme.kind) and programme.allows(Action.PROPOSE, now):
            programme_id = await repository.id_of(programme.key)
            assert programme_id is not None
            found.append((programme_id, programme))
    return found


def start_of_day(now: datetime) -> datetime:
    """Daily limits count from midnight in Seoul."""
    local = now.astimezone(SEOUL)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def requirements_to_propose(programme: Programme, minimum_age: int) -> Requirements:
    """PB proposals follow the PB ordinance (seed 004): residents, workers, students; no
    officials; a minimum age. 민주주의 서울 is open to everyone signed up."""
    if programme.kind in (ProgrammeKind.PARTICIPATORY_BUDGET, ProgrammeKind.DISTRICT_PLAN):
        return pb_requirements(minimum_age)
    return Requirements()


async def check_can_propose(
    session: Session, person: Person, programme: Programme, now: datetime, minimum_age: int
) -> Refusal | None:
    rules = rules_of(programme)
    if await is_blocked(session, person.user_id):
        return Refusal.BLOCKED
    if not programme.allows(Action.PROPOSE, now):
        return Refusal.STAGE_CLOSED
    requirements = requirements_to_propose(programme, minimum_age)
    if not check(person, requirements, now.astimezone(SEOUL).year).allowed:
        return Refusal.INELIGIBLE
    made_today = await ProposalsRepository(session).count_by_author_since(
        person.user_id, start_of_day(now)
    )
    if made_today >= rules.proposals_per_day:
        return Refusal.DAILY_LIMIT
    return None


def validate_draft(
    draft: Draft, rules: ProposalRules, kind: ProgrammeKind = ProgrammeKind.PROPOSALS
) -> Refusal | None:
    for refusal in (
        check_title(draft.title),
        check_description(draft.description),
        check_districts(draft.scope, draft.districts, rules, kind),
    ):
        if refusal is not None:
            return refusal
    if rules.is_budget and draft.kind is not None and draft.cost is not None:
        return check_cost(draft.cost, draft.kind, rules)
    return None


@dataclass(frozen=True)
class Submitted:
    proposal_id: int | None
    refusal: Refusal | None


async def submit(
    db: Database, user_id: int, draft: Draft, now: datetime, minimum_age: int
) -> Submitted:
    async with db.transaction() as session:
        programmes = ProgrammesRepository(session)
        programme = await programmes.get(draft.programme_key)
        programme_id = await programmes.id_of(draft.programme_key)
        person = await PeopleRepository(session).get(user_id)
        if person is None or programme is None or programme_id is None:
            return Submitted(None, Refusal.STAGE_CLOSED)
        repository = ProposalsRepository(session)
        if draft.key is not None:
            existing = await repository.id_for_key(draft.key)
            if existing is not None:
                return Submitted(existing, None)  # a double tap or a retry
        # Refused early, before the lock: a block, the stage, eligibility, the day's limit.
        rules = rules_of(programme)
        refusal = await check_can_propose(session, person, programme, now, minimum_age)
        refusal = refusal or validate_draft(draft, rules, programme.kind)
        if refusal is not None:
            return Submitted(None, refusal)
        # One author's submissions one at a time from here to the commit, so what is read
        # again now stays true to the insert: the person still there (erasure takes this
        # lock), a draft's key makes one proposal, the day's count is what is already there.
        await session.lock("person", user_id)
        if await PeopleRepository(session).get(user_id) is None:
            return Submitted(None, Refusal.STAGE_CLOSED)
        if draft.key is not None:
            existing = await repository.id_for_key(draft.key)
            if existing is not None:
                return Submitted(existing, None)
        made_today = await repository.count_by_author_since(user_id, start_of_day(now))
        if made_today >= rules.proposals_per_day:
            return Submitted(None, Refusal.DAILY_LIMIT)
        proposal_id = await repository.create(
            NewProposal(
                programme_id=programme_id,
                author_id=user_id,
                title=draft.title.strip(),
                description=draft.description.strip(),
                field=draft.field,
                scope=draft.scope,
                districts=draft.districts,
                dong=draft.dong,
                kind=draft.kind,
                cost=draft.cost,
                photos=draft.photos,
                latitude=draft.latitude,
                longitude=draft.longitude,
                client_key=draft.key,
            ),
            Status.PUBLISHED,
            now,
            support_deadline(now, rules),
        )
    return Submitted(proposal_id, None)


async def programme_of(session: Session, proposal: Proposal) -> Programme:
    programme = await ProgrammesRepository(session).by_id(proposal.programme_id)
    assert programme is not None
    return programme


# A proposal still marked as collecting support after its programme's support stage closed
# (a PB proposal once the call is over): no 공감 button, so the card says so.
SUPPORT_CLOSED: Final = N_("support closed, waiting for the next stage")


# The city's words: officials review (검토) a citizen proposal; the 민관예산협의회 reviews
# (심사) a participatory-budget one, which has a project kind and cost.
UNDER_BUDGET_REVIEW: Final = N_("under review by the budget council")


def label_of(status: Status, budget: bool = False) -> str:
    """A status's name (an N_ msgid); `budget`: a participatory-budget proposal's."""
    if status is Status.UNDER_REVIEW and budget:
        return UNDER_BUDGET_REVIEW
    return STATUS_LABELS[status]


def status_label(proposal: Proposal, support_open: bool = True) -> str:
    """The status a proposal shows (an N_ msgid): its stored one, in its programme's words,
    unless it promises support the programme no longer takes."""
    if proposal.status is Status.PUBLISHED and not support_open:
        return SUPPORT_CLOSED
    return label_of(proposal.status, proposal.kind is not None)


def support_is_open(proposal: Proposal, programme: Programme, now: datetime) -> bool:
    if proposal.status not in (Status.PUBLISHED, Status.THRESHOLD_REACHED):
        return False
    if proposal.support_ends_at is not None and now >= proposal.support_ends_at:
        return False
    return programme.allows(Action.SUPPORT, now)


class _UnderTheLock(Exception):
    """A 공감 the lockless count refused: undone, to be done again under the lock."""


@dataclass(frozen=True)
class Supported:
    """A support's outcome; when counted short of a status change, the proposal as it now
    stands and its programme, so its card can be shown without reading them again."""

    outcome: Outcome
    proposal: Proposal | None = None
    programme: Programme | None = None


async def support(db: Database, proposal_id: int, user_id: int, now: datetime) -> Outcome:
    return (await support_seen(db, proposal_id, user_id, now)).outcome


async def support_seen(db: Database, proposal_id: int, user_id: int, now: datetime) -> Supported:
    """공감: one per person per proposal; supporters follow the proposal by default.

    Counted last, by one UPDATE that counts only while support is open (its row lock lasts
    to the commit). Short of the goal a support cannot reach it, so no status can change and
    no lock is needed. One that may reach it (or finds support closed) is undone and done
    again under the proposal lock, as every status change is, so the goal is reached exactly
    once. Undone, not locked there: on PostgreSQL a refused UPDATE may keep the row locked,
    and waiting for the proposal lock then could deadlock with a holder updating the row."""
    try:
        return await _support(db, proposal_id, user_id, now, locked=False)
    except _UnderTheLock:
        return await _support(db, proposal_id, user_id, now, locked=True)


async def _support(
    db: Database, proposal_id: int, user_id: int, now: datetime, locked: bool
) -> Supported:
    async with db.transaction() as session:
        if await PeopleRepository(session).get(user_id) is None:
            return Supported(Outcome.NOT_SIGNED_UP)
        repository = ProposalsRepository(session)
        proposal = await repository.get(proposal_id)
        if proposal is None or proposal.hidden:
            return Supported(Outcome.NOT_FOUND)
        programme = await programme_of(session, proposal)
        if not support_is_open(proposal, programme, now):
            return Supported(Outcome.CLOSED)
        if not await repository.add_support(proposal_id, user_id, now):
            return Supported(Outcome.ALREADY)
        followed = await repository.follow(proposal_id, user_id)
        rules = rules_of(programme)
        if locked:
            await session.lock("proposal", proposal_id)
            counted = await repository.count_support(proposal_id)
        else:
            counted = await repository.count_support(proposal_id, below=rules.support_threshold)
            if counted is None:
                raise _UnderTheLock
        if counted is None:  # closed or hidden since it was read
            await repository.drop_support(proposal_id, user_id)
            if followed:
                await repository.unfollow(proposal_id, user_id)
            return Supported(Outcome.CLOSED)
        count, status = counted
        new_status = status_after_support(status, count, proposal.support_ends_at, now, rules)
        if new_status is not status:
            updated = await repository.get(proposal_id)
            assert updated is not None
            await change_status(session, updated, new_status, now, actor_id=None)
            return Supported(Outcome.DONE)
    # The count and status are the UPDATE's own; the rest as read in this transaction.
    counted_now = proposal.model_copy(update={"support_count": count, "status": status})
    return Supported(Outcome.DONE, counted_now, programme)


async def withdraw_support(db: Database, proposal_id: int, user_id: int, now: datetime) -> Outcome:
    """Withdrawable while support is being collected; a reached goal stays reached."""
    async with db.transaction() as session:
        # Support is withdrawn only while it is collected: once the proposal is decided or
        # closed (under this lock), the count it was decided at stays.
        await session.lock("proposal", proposal_id)
        repository = ProposalsRepository(session)
        proposal = await repository.get(proposal_id)
        if proposal is None:
            return Outcome.NOT_FOUND
        if not support_is_open(proposal, await programme_of(session, proposal), now):
            return Outcome.CLOSED
        if not await repository.remove_support(proposal_id, user_id):
            return Outcome.ALREADY
    return Outcome.DONE


async def set_following(db: Database, proposal_id: int, user_id: int, follow: bool) -> Outcome:
    async with db.transaction() as session:
        repository = ProposalsRepository(session)
        if await repository.get(proposal_id) is None:
            return Outcome.NOT_FOUND
        if await PeopleRepository(session).get(user_id) is None:
            return Outcome.NOT_SIGNED_UP
        if follow:
            await repository.follow(proposal_id, user_id)
        else:
            await repository.unfollow(proposal_id, user_id)
    return Outcome.DONE


NoteFor = Callable[[Translator], str]


async def change_status(
    session: Session,
    proposal: Proposal,
    status: Status,
    now: datetime,
    actor_id: int | None,
    note: str | None = None,
    note_for: NoteFor | None = None,
    **fields: Any,
) -> None:
    """Record a transition with time and actor, and tell the proposer and every follower.

    `note` is an official's text, shown as written; `note_for` renders a system note in each
    reader's language (the record keeps the Korean one).
    """
    check_transition(proposal.status, status)
    recorded = note if note_for is None else note_for(Translator("ko"))
    repository = ProposalsRepository(session)
    await repository.set_status(proposal.id, status, now, actor_id, recorded, **fields)
    await notify_followers(session, proposal, status, now, note, note_for, fields.get("progress"))


async def notify_followers(
    session: Session,
    proposal: Proposal,
    status: Status,
    now: datetime,
    note: str | None,
    note_for: NoteFor | None,
    progress: int | None,
) -> None:
    people = PeopleRepository(session)
    for user_id in await ProposalsRepository(session).followers(proposal.id):
        person = await people.get(user_id)
        if person is None or not person.active:
            continue
        t = Translator(person.language)
        text = t.gettext("Update on “%(title)s”: %(status)s") % {
            "title": proposal.title,
            "status": t.gettext(label_of(status, proposal.kind is not None)),
        }
        if progress is not None:
            text += "\n" + t.gettext("Progress: %(percent)d%%") % {"percent": progress}
        if note_for is not None:
            text += "\n\n" + note_for(t)
        elif note:
            text += "\n\n" + note
        button = Button(text=t.gettext("Open the proposal"), callback_data=f"pr:card:{proposal.id}")
        # One notice per proposal per status change, whoever retries the change.
        key = f"proposal:{proposal.id}:{status.value}:{now.isoformat()}:{user_id}"
        await enqueue(
            session,
            user_id=user_id,
            category=Category.UPDATES,
            payload=Payload(text=text[:4096], buttons=((button,),)),
            now=now,
            dedupe_key=key,
        )


@dataclass(frozen=True)
class ReviewAction:
    status: Status
    note: str | None = None
    merged_into: int | None = None
    transferred_to: str | None = None
    progress: int | None = None
    debate_kind: DebateKind | None = None


async def can_review(
    session: Session, user_id: int, proposal: Proposal, admin_ids: Collection[int]
) -> bool:
    return await RolesRepository(session, admin_ids).has(user_id, Role.REVIEWER, proposal.field)


async def may_review(
    db: Database, proposal_id: int, user_id: int, now: datetime, admin_ids: Collection[int]
) -> bool:
    """Whether this person may still answer or decide this proposal; checked at every step of
    a reviewer's flow, a refusal audited (a forged button, or a role revoked meanwhile)."""
    async with db.transaction() as session:
        proposal = await ProposalsRepository(session).get(proposal_id)
        if proposal is not None and await can_review(session, user_id, proposal, admin_ids):
            return True
        await audit.record(session, user_id, "refused", f"review:{proposal_id}", now)
    return False


async def review(
    db: Database,
    proposal_id: int,
    reviewer_id: int,
    action: ReviewAction,
    now: datetime,
    admin_ids: Collection[int],
) -> Outcome:
    """An official's answer or decision; refused unless the role and the transition allow it."""
    async with db.transaction() as session:
        # A decision moves the status from the one it read (one transition at a time).
        await session.lock("proposal", proposal_id)
        repository = ProposalsRepository(session)
        proposal = await repository.get(proposal_id)
        if proposal is None:
            return Outcome.NOT_FOUND
        if not await can_review(session, reviewer_id, proposal, admin_ids):
            await audit.record(session, reviewer_id, "refused", f"review:{proposal_id}", now)
            return Outcome.FORBIDDEN
        fields: dict[str, Any] = {}
        if action.note is not None and action.status in (
            Status.ACCEPTED,
            Status.PARTLY_ACCEPTED,
            Status.REJECTED,
        ):
            fields["answer"] = action.note
        if action.status is Status.MERGED:
            target = await repository.get(action.merged_into or 0)
            if target is None or target.id == proposal.id:
                return Outcome.NOT_FOUND
            fields["merged_into"] = target.id
        if action.status is Status.TRANSFERRED:
            fields["transferred_to"] = action.transferred_to
        if action.status is Status.IN_EXECUTION:
            fields["progress"] = max(0, min(100, action.progress or 0))
        if action.status is Status.IN_DEBATE:
            programme = await programme_of(session, proposal)
            fields["debate_kind"] = action.debate_kind or DebateKind.FOR_AGAINST
            fields["debate_ends_at"] = now + timedelta(days=rules_of(programme).debate_days)
        try:
            await change_status(
                session, proposal, action.status, now, reviewer_id, action.note, **fields
            )
        except TransitionError:
            return Outcome.CLOSED
    return Outcome.DONE


async def withdraw(db: Database, proposal_id: int, user_id: int, now: datetime) -> Outcome:
    """The proposer withdraws; a debate's result stands, so a debated proposal keeps it."""
    async with db.transaction() as session:
        await session.lock("proposal", proposal_id)  # as review: one transition at a time
        proposal = await ProposalsRepository(session).get(proposal_id)
        if proposal is None:
            return Outcome.NOT_FOUND
        if proposal.author_id != user_id:
            return Outcome.FORBIDDEN
        try:
            await change_status(session, proposal, Status.WITHDRAWN, now, user_id)
        except TransitionError:
            return Outcome.CLOSED
    return Outcome.DONE


async def set_stance(
    db: Database, proposal_id: int, user_id: int, stance: Stance, now: datetime
) -> Outcome:
    async with db.transaction() as session:
        # A stance only while the debate is open: close_due counts them under this lock, so
        # none is stored after the result it records.
        await session.lock("proposal", proposal_id)
        if await PeopleRepository(session).get(user_id) is None:
            return Outcome.NOT_SIGNED_UP
        repository = ProposalsRepository(session)
        proposal = await repository.get(proposal_id)
        if proposal is None:
            return Outcome.NOT_FOUND
        if (
            proposal.status is not Status.IN_DEBATE
            or proposal.debate_kind is not DebateKind.FOR_AGAINST
            or (proposal.debate_ends_at is not None and now >= proposal.debate_ends_at)
        ):
            return Outcome.CLOSED
        await repository.set_stance(proposal_id, user_id, stance, now)
        await repository.follow(proposal_id, user_id)
    return Outcome.DONE


async def locked_again(session: Session, listed: Proposal) -> Proposal | None:
    """Lock a proposal found by a list, and read it again: None if its status moved on
    since (a decision or a support came in between)."""
    await session.lock("proposal", listed.id)
    proposal = await ProposalsRepository(session).get(listed.id)
    return proposal if proposal is not None and proposal.status is listed.status else None


async def close_due(db: Database, now: datetime) -> int:
    """Apply deadlines: support windows that ended short, debates that ended. Idempotent."""
    changed = 0
    async with db.transaction() as session:
        repository = ProposalsRepository(session)
        for listed in await repository.expired_support_windows(now):
            proposal = await locked_again(session, listed)
            if proposal is None:
                continue
            await change_status(session, proposal, Status.NOT_REACHED, now, actor_id=None)
            changed += 1
        for listed in await repository.ended_debates(now):
            proposal = await locked_again(session, listed)
            if proposal is None:
                continue
            programme = await programme_of(session, proposal)
            counts = await repository.stance_counts(proposal.id)
            outcome = debate_outcome(
                proposal.debate_kind or DebateKind.FOR_AGAINST,
                await repository.debate_participants(proposal.id),
                counts[Stance.FOR],
                counts[Stance.AGAINST],
                rules_of(programme),
            )
            await change_status(
                session,
                proposal,
                Status.UNDER_REVIEW,
                now,
                None,
                note_for=lambda t, outcome=outcome: debate_note(t, outcome),  # type: ignore[misc]
            )
            changed += 1
    return changed


async def queue_support_reminders(db: Database, now: datetime, offsets: Sequence[timedelta]) -> int:
    """Tell proposers short of their goal how many supports they still need (SPEC §8).

    Only the nearest offset is sent ("120 more in 3 days", then "in 24 hours", …), so a bot
    that was down does not send three reminders at once; the outbox key makes each one once.
    """
    queued = 0
    async with db.transaction() as session:
        people = PeopleRepository(session)
        for proposal in await ProposalsRepository(session).collecting_until(
            now, now + max(offsets, default=timedelta(0))
        ):
            assert proposal.support_ends_at is not None
            remaining = proposal.support_ends_at - now
            offset = min(o for o in offsets if o >= remaining)
            rules = rules_of(await programme_of(session, proposal))
            person = await people.get(proposal.author_id) if proposal.author_id else None
            if person is None or rules.support_threshold is None:
                continue
            missing = rules.support_threshold - proposal.support_count
            if missing <= 0:
                continue
            t = Translator(person.language)
            text = t.ngettext(
                "“%(title)s” needs %(count)s more support to reach its goal; %(left)s.",
                "“%(title)s” needs %(count)s more supports to reach its goal; %(left)s.",
                missing,
            ) % {
                "title": proposal.title,
                "count": f"{missing:,}",
                "left": t.left(now, proposal.support_ends_at),
            }
            button = Button(
                text=t.gettext("Open the proposal"), callback_data=f"pr:card:{proposal.id}"
            )
            added = await enqueue(
                session,
                user_id=person.user_id,
                category=Category.DEADLINES,
                payload=Payload(text=text, buttons=((button,),)),
                now=now,
                dedupe_key=f"support-reminder:{proposal.id}:{int(offset.total_seconds())}",
            )
            queued += added is not None
    return queued


def debate_note(t: Translator, outcome: DebateOutcome) -> str:
    lines = [
        t.gettext(
            "The public debate has ended: %(people)s took part, %(for)s for, %(against)s against."
        )
        % {
            "people": f"{outcome.participants:,}",
            "for": f"{outcome.in_favour:,}",
            "against": f"{outcome.against:,}",
        }
    ]
    if outcome.to_deliberation:
        lines.append(t.gettext("It goes on to deliberation and budgeting."))
    if outcome.mayor_answers:
        lines.append(t.gettext("The mayor will answer in person."))
    return "\n".join(lines)


async def close_call(db: Database, programme_key: str, now: datetime) -> int:
    """When a PB proposal call closes, every proposal still collecting support goes to review."""
    async with db.transaction() as session:
        programme_id = await ProgrammesRepository(session).id_of(programme_key)
        if programme_id is None:
            return 0
        return await close_call_in(session, programme_id, now)


async def close_call_in(session: Session, programme_id: int, now: datetime) -> int:
    repository = ProposalsRepository(session)
    waiting = await repository.in_status(programme_id, Status.PUBLISHED)
    for proposal in waiting:
        await change_status(session, proposal, Status.UNDER_REVIEW, now, actor_id=None)
    return len(waiting)


async def comment(
    db: Database, proposal_id: int, user_id: int, text: str, stance: Stance | None, now: datetime
) -> Outcome:
    async with db.transaction() as session:
        if await PeopleRepository(session).get(user_id) is None:
            return Outcome.NOT_SIGNED_UP
        if await is_blocked(session, user_id):
            return Outcome.BLOCKED
        # A comment only while the proposal takes them: once it is withdrawn, decided or
        # hidden (each under this lock), none lands on it.
        await session.lock("proposal", proposal_id)
        repository = ProposalsRepository(session)
        proposal = await repository.get(proposal_id)
        if proposal is None or proposal.hidden:
            return Outcome.NOT_FOUND
        if proposal.status in (Status.WITHDRAWN, Status.MERGED, Status.REJECTED):
            return Outcome.CLOSED
        in_for_against = proposal.status is Status.IN_DEBATE and (
            proposal.debate_kind is DebateKind.FOR_AGAINST
        )
        added = await repository.add_comment(
            proposal_id, user_id, text.strip(), stance if in_for_against else None, now
        )
        if added is None:  # erased meanwhile (/deleteme)
            return Outcome.NOT_SIGNED_UP
    return Outcome.DONE


async def report(
    db: Database, target: str, target_id: int, user_id: int, now: datetime
) -> tuple[Outcome, bool]:
    """Report a proposal or comment; (outcome, hidden now)."""
    async with db.transaction() as session:
        # The hiding threshold is reached once: reports of one target one at a time.
        await session.lock("proposal", target_id if target != "comment" else -target_id)
        if await PeopleRepository(session).get(user_id) is None:
            return Outcome.NOT_SIGNED_UP, False
        repository = ProposalsRepository(session)
        if target == "comment":
            found = await repository.get_comment(target_id)
            proposal = None if found is None else await repository.get(found.proposal_id)
        else:
            proposal = await repository.get(target_id)
        if proposal is None:
            return Outcome.NOT_FOUND, False
        author = found.author_id if target == "comment" and found else proposal.author_id
        if author == user_id:
            return Outcome.OWN, False
        hide_at = rules_of(await programme_of(session, proposal)).reports_to_hide
        counted, hidden = await repository.report(
            "comment" if target == "comment" else "proposal", target_id, user_id, now, hide_at
        )
    return (Outcome.DONE if counted else Outcome.ALREADY), hidden
