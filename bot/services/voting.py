"""Voting as use cases: open ballots, cast (and replace) a ballot, tally, confirm (SPEC §6).

No Telegram here. Every check that matters — the stage is open, the person may vote in this
heading, the choices are on this ballot and within its rules — happens in `cast`, whatever the
buttons said.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Final

from bot.i18n import N_, Translator
from bot.notifications.hooks import ReminderDue
from bot.notifications.texts import reminder_text
from bot.services import proposals as proposal_service
from domain.ids import is_number, to_id
from domain.notifications import Button, Category, Payload
from domain.pabulib import PBInstance
from domain.people import (
    Eligibility,
    Ineligible,
    Person,
    Question,
    Requirements,
    check,
    pb_requirements,
)
from domain.programmes import Action, Programme, ProgrammeKind, Stage
from domain.proposals import Status
from domain.roles import Role
from domain.tally import MES_RULES, Explanation, TallyResult, tally, tally_explained
from domain.voting import (
    CITIZENS,
    BallotFile,
    BallotProblem,
    Heading,
    HeadingKind,
    Item,
    StoredBallot,
    VotingRules,
    check_ballot,
    tally_input,
)
from storage import audit
from storage.db import Database, Session
from storage.outbox import enqueue
from storage.panels import PanelsRepository
from storage.people import PeopleRepository
from storage.programmes import ProgrammesRepository
from storage.proposals import Proposal, ProposalsRepository
from storage.ptbstate import PtbStateRepository
from storage.roles import RolesRepository
from storage.voting import Enrolment, VotingRepository

PROPOSAL_ITEM: Final = "p"  # ballot items made from proposals are keyed "p<id>"
# The chat's ballot drafts in the person's user_data, by heading id (bot/handlers/voting.py):
# a cast removes its heading's draft in its own unit of work, whoever cast it (chat or web).
DRAFTS: Final = "ballots"


class Refusal(StrEnum):
    NOT_SIGNED_UP = "not_signed_up"
    NOT_FOUND = "not_found"
    CLOSED = "closed"
    INELIGIBLE = "ineligible"
    WRONG_DISTRICT = "wrong_district"
    NEEDS_ANSWERS = "needs_answers"  # an answer the vote needs was never given: ask it
    OTHER_HEADING = "other_heading"
    INVALID = "invalid"
    FORBIDDEN = "forbidden"
    NOT_MEMBER = "not_member"
    # On the roll, but no ballot under the current key (the key was lost and replaced): the
    # ballot stays counted and can no longer be changed.
    LOCKED = "locked"
    STILL_OPEN = "still_open"  # a result cannot be confirmed before the vote closes
    CONFIRMED = "confirmed"  # the result is confirmed (총회 승인): final, no more ballots
    # The count is no longer the one the official saw when asked to confirm it (ballots or
    # paper counts came in between): they are shown the new one.
    CHANGED = "changed"


@dataclass(frozen=True)
class OpenHeading:
    heading_id: int
    stage_id: int
    heading: Heading
    programme: Programme
    stage: Stage
    voted: bool
    eligibility: Eligibility  # what the person still has to answer, or why they may not


async def stage_by_id(session: Session, stage_id: int) -> tuple[Programme, Stage] | None:
    row = await session.fetchone(
        "SELECT g.key, s.key AS stage_key FROM stages s JOIN programmes g"
        " ON g.id = s.programme_id WHERE s.id = ?",
        (stage_id,),
    )
    if row is None:
        return None
    programme = await ProgrammesRepository(session).get(row["key"])
    if programme is None:
        return None
    stage = next((s for s in programme.stages if s.key == row["stage_key"]), None)
    return None if stage is None else (programme, stage)


async def stage_id_of(session: Session, programme_key: str, stage_key: str) -> int | None:
    found = await session.scalar(
        "SELECT s.id FROM stages s JOIN programmes g ON g.id = s.programme_id"
        " WHERE g.key = ? AND s.key = ?",
        (programme_key, stage_key),
    )
    return None if found is None else int(found)


def voting_open(stage: Stage, now: datetime) -> bool:
    return stage.is_open(now) and Action.VOTE in stage.actions


BUDGET_VOTES: Final = (
    ProgrammeKind.PARTICIPATORY_BUDGET,
    ProgrammeKind.DELIBERATIVE_BUDGET,
    ProgrammeKind.DISTRICT_PLAN,
)


def requirements(programme: Programme, heading: Heading, minimum_age: int) -> Requirements:
    """A budget vote follows the PB ordinance (SPEC §2); a district's heading is for that
    district's people only (the residence rule, SPEC §6)."""
    base = pb_requirements(minimum_age) if programme.kind in BUDGET_VOTES else Requirements()
    return replace(base, district=heading.district)


def heading_eligibility(
    person: Person, programme: Programme, heading: Heading, now: datetime, minimum_age: int
) -> Eligibility:
    year = now.astimezone(proposal_service.SEOUL).year
    return check(person, requirements(programme, heading, minimum_age), year)


def eligibility(
    person: Person | None, programme: Programme, heading: Heading, now: datetime, minimum_age: int
) -> Refusal | None:
    if person is None:
        return Refusal.NOT_SIGNED_UP
    found = heading_eligibility(person, programme, heading, now, minimum_age)
    if found.refusal is Ineligible.OTHER_DISTRICT:
        return Refusal.WRONG_DISTRICT
    if found.refusal is not None:
        return Refusal.INELIGIBLE
    if found.missing:
        return Refusal.NEEDS_ANSWERS
    return None


async def open_headings(
    session: Session, user_id: int, now: datetime, minimum_age: int = 14
) -> list[OpenHeading]:
    """Every open heading the person could be concerned by (member-only votes only for the
    panel's members), with whether they voted and what their answers allow."""
    repository = VotingRepository(session)
    person = await PeopleRepository(session).get(user_id)
    rows = await session.fetchall("SELECT DISTINCT stage_id FROM ballot_headings ORDER BY stage_id")
    found = []
    for row in rows:
        located = await stage_by_id(session, row["stage_id"])
        if located is None or not voting_open(located[1], now):
            continue
        programme, stage = located
        for heading_id, heading in await repository.headings(row["stage_id"]):
            if heading.panel and not await PanelsRepository(session).is_member(
                heading.panel, user_id
            ):
                continue
            found.append(
                OpenHeading(
                    heading_id,
                    row["stage_id"],
                    heading,
                    programme,
                    stage,
                    await repository.has_voted(heading_id, user_id),
                    Eligibility()
                    if person is None
                    else heading_eligibility(person, programme, heading, now, minimum_age),
                )
            )
    return found


@dataclass(frozen=True)
class Located:
    stage_id: int
    heading: Heading
    programme: Programme
    stage: Stage


async def locate(session: Session, heading_id: int) -> Located | None:
    found = await VotingRepository(session).heading(heading_id)
    if found is None:
        return None
    stage_id, heading = found
    located = await stage_by_id(session, stage_id)
    if located is None:
        return None
    return Located(stage_id, heading, located[0], located[1])


class TallyRefusal(ValueError):
    pass


@dataclass(frozen=True)
class CastResult:
    refusal: Refusal | None = None
    problem: BallotProblem | None = None
    receipt: str | None = None
    replaced: bool = False


async def check_voter(
    session: Session, where: Located, heading_id: int, user_id: int, now: datetime, minimum_age: int
) -> Refusal | None:
    """May this person cast a ballot in this heading now? The chat and the web ask here."""
    if await is_confirmed(session, heading_id):
        # Final whatever the stage's dates say now (they can be changed after 총회 승인).
        return Refusal.CONFIRMED
    if not voting_open(where.stage, now):
        return Refusal.CLOSED
    person = await PeopleRepository(session).get(user_id)
    refusal = eligibility(person, where.programme, where.heading, now, minimum_age)
    if refusal is not None:
        return refusal
    if where.heading.panel and not await PanelsRepository(session).is_member(
        where.heading.panel, user_id
    ):
        return Refusal.NOT_MEMBER
    if where.heading.group is not None:
        repository = VotingRepository(session)
        for other_id in await repository.voted_headings(where.stage_id, user_id):
            other = await repository.heading(other_id)
            if other_id != heading_id and other and other[1].group == where.heading.group:
                return Refusal.OTHER_HEADING
    return None


async def may_vote(
    db: Database, user_id: int, heading_id: int, now: datetime, minimum_age: int
) -> Refusal | None:
    async with db.reading() as session:
        where = await locate(session, heading_id)
        if where is None:
            return Refusal.NOT_FOUND
        return await check_voter(session, where, heading_id, user_id, now, minimum_age)


async def cast(
    db: Database,
    user_id: int,
    heading_id: int,
    choices: list[str],
    now: datetime,
    minimum_age: int,
    transaction: Callable[[], AbstractAsyncContextManager[Session]] | None = None,
    on_cast: Callable[[], None] | None = None,
) -> CastResult:
    """One ballot per person per heading; casting again replaces it until the stage closes.

    `transaction`: the unit of work to cast in (the chat's also saves the person's
    conversation state); `on_cast` runs inside it once the ballot is stored (the chat drops
    its draft from memory there)."""
    async with transaction() if transaction is not None else db.transaction() as session:
        where = await locate(session, heading_id)
        if where is None:
            return CastResult(Refusal.NOT_FOUND)
        problem = check_ballot(where.heading, choices)
        if problem is not None:
            return CastResult(Refusal.INVALID, problem)
        # No lock: of two casts at once in two headings of a group (the chat and the Mini
        # App), the roll's index lets one through and the other gets OTHER_HEADING below
        # (VotingRepository.cast); the ballot waits sealed for the mix.
        refusal = await check_voter(session, where, heading_id, user_id, now, minimum_age)
        if refusal is not None:
            return CastResult(refusal)
        repository = VotingRepository(session)
        key = repository.key()
        name = key.pseudonym(where.stage_id, where.heading.key, user_id)
        if await repository.locked_out(heading_id, user_id, name):
            return CastResult(Refusal.LOCKED)
        rules = VotingRules.from_settings(where.programme.settings)
        weight = 1.0
        if rules.budget_school_weight != 1.0 and await repository.completed_budget_school(user_id):
            weight = rules.budget_school_weight
        group = ""
        if rules.group_shares:
            group = CITIZENS
            for candidate, panel_key in sorted(rules.group_panels.items()):
                if await PanelsRepository(session).is_member(panel_key, user_id):
                    group = candidate
                    break
        enrolment = await repository.cast(
            heading_id,
            where.stage_id,
            where.heading.group,
            user_id,
            name,
            sorted(set(choices)),
            weight,
            group,
            now,
        )
        if enrolment is Enrolment.OTHER_HEADING:
            return CastResult(Refusal.OTHER_HEADING)
        if enrolment is Enrolment.NO_PERSON:
            return CastResult(Refusal.NOT_SIGNED_UP)
        await forget_draft(session, user_id, heading_id)
        if on_cast is not None:
            on_cast()
    return CastResult(receipt=key.receipt(name), replaced=enrolment is Enrolment.AGAIN)


async def forget_draft(session: Session, user_id: int, heading_id: int) -> None:
    """The choices of a cast ballot stay in the ballot table only (issue 16)."""
    states = PtbStateRepository(session)
    data = await states.user_data(user_id)
    drafts = data.get(DRAFTS)
    if isinstance(drafts, dict) and str(heading_id) in drafts:
        del drafts[str(heading_id)]
        if not drafts:
            del data[DRAFTS]
        await states.set_user_data(user_id, data)


async def current_choices(db: Database, user_id: int, heading_id: int) -> list[str]:
    """The person's stored ballot, found through their pseudonym (only they can ask)."""
    async with db.reading() as session:
        where = await locate(session, heading_id)
        if where is None:
            return []
        repository = VotingRepository(session)
        name = repository.key().pseudonym(where.stage_id, where.heading.key, user_id)
        found = await repository.ballot_of(heading_id, name)
    return [] if found is None else found


@dataclass(frozen=True)
class CastBallot:
    heading_id: int
    heading: Heading
    programme: Programme
    voted_at: datetime  # from the voter roll
    receipt: str | None
    changeable: bool  # the vote is still open: casting again replaces it


async def my_ballots(session: Session, user_id: int, now: datetime) -> list[CastBallot]:
    """The person's cast ballots for their page: which heading and when come from the voter
    roll; the receipt is the code `cast` gave (the same for every ballot of the heading)."""
    repository = VotingRepository(session)
    roll = await repository.voted_by(user_id)
    found = []
    for heading_id, voted_at in roll:
        where = await locate(session, heading_id)
        if where is None:
            continue
        name = repository.key().pseudonym(where.stage_id, where.heading.key, user_id)
        ballot = await repository.ballot_of(heading_id, name)
        found.append(
            CastBallot(
                heading_id,
                where.heading,
                where.programme,
                voted_at,
                None if ballot is None else repository.key().receipt(name),
                voting_open(where.stage, now) and ballot is not None,
            )
        )
    return found


async def mix_ballots(db: Database, heading_ids: Collection[int] | None = None) -> int:
    """Move sealed ballots into the ballot table, one heading per unit of work (all of them
    with waiting ballots, or `heading_ids`). Returns how many moved."""
    if heading_ids is None:
        async with db.reading() as session:
            heading_ids = await VotingRepository(session).headings_to_mix()
    moved = 0
    for heading_id in heading_ids:
        async with db.transaction() as session:
            moved += await VotingRepository(session).mix(heading_id)
    return moved


async def mix_closed_stage(session: Session, stage_id: int) -> None:
    """A vote that closes is mixed at once: its final count needs no key."""
    repository = VotingRepository(session)
    for heading_id, _ in await repository.headings(stage_id):
        await repository.mix(heading_id)


async def is_confirmed(session: Session, heading_id: int) -> bool:
    stored = await VotingRepository(session).result(heading_id)
    return stored is not None and stored["confirmed_at"] is not None


async def may_run_results(session: Session, user_id: int, admin_ids: Collection[int]) -> bool:
    return await RolesRepository(session, admin_ids).has(user_id, Role.ADMIN)


@dataclass(frozen=True)
class Outcome:
    result: TallyResult
    votes: dict[str, float]
    online: int
    offline: int


def count(
    heading: Heading,
    ballots: Sequence[StoredBallot],
    rules: VotingRules,
    offline: Mapping[str, int],
    rule: str,
) -> tuple[TallyResult | None, dict[str, float]]:
    """The tally (None for a heading without a budget) and the weighted votes per item.

    Called in a thread (`asyncio.to_thread`): a city-wide vote with Add1 takes about a second,
    in which the bot goes on answering others."""
    if offline and rule != "greedy":
        # Per-project counts say nothing about who else a paper voter approved.
        raise TallyRefusal("offline per-project counts can only be used with greedy")
    budgeted = heading if heading.budget is not None else replace(heading, budget=0)
    instance = tally_input(budgeted, ballots, rules, offline)
    result = tally(instance, rule) if heading.budget is not None else None
    votes: dict[str, float] = {item.key: 0.0 for item in heading.items}
    for vote in instance.votes:
        for key in vote.approved:
            votes[key] = votes.get(key, 0.0) + vote.weight
    return result, votes


async def run_tally(db: Database, heading_id: int, rule: str | None, now: datetime) -> Outcome:
    async with db.transaction() as session:
        # Every ballot counted once: the count reads the ballot table, then the sealed ones,
        # and a mix (which takes this lock) moving them in between would hide them.
        await session.lock("heading", heading_id)
        where = await locate(session, heading_id)
        if where is None:
            raise TallyRefusal("no such heading")
        repository = VotingRepository(session)
        rules = VotingRules.from_settings(where.programme.settings)
        chosen_rule = rule or rules.tally_rule
        ballots = await repository.ballots(heading_id)
        offline = await repository.offline_counts(heading_id)
        if where.heading.budget is None:
            raise TallyRefusal(f"heading {where.heading.key!r} has no budget to tally against")
        result, votes = await asyncio.to_thread(
            count, where.heading, ballots, rules, offline, chosen_rule
        )
        assert result is not None
        await repository.save_result(heading_id, chosen_rule, result.selected, now)
    online = sum(not ballot.offline for ballot in ballots)
    paper = len(ballots) - online + sum(offline.values())
    return Outcome(result, votes, online, paper)


@dataclass(frozen=True)
class Explained:
    heading: Heading
    result: TallyResult
    explanation: Explanation
    confirmed: bool


async def explain_result(
    db: Database,
    heading_id: int,
    user_id: int,
    rule: str | None,
    admin_ids: Collection[int],
) -> Explained | Refusal:
    """Why an MES tally selected what it did (the chat's "why" screen and the web's results).

    Admins may ask for any rule at any time (an interim count); everyone else gets the
    confirmed result's explanation, under the rule it was confirmed with.
    """
    async with db.reading() as session:
        where = await locate(session, heading_id)
        if where is None:
            return Refusal.NOT_FOUND
        repository = VotingRepository(session)
        stored = await repository.result(heading_id)
        confirmed = stored is not None and stored["confirmed_at"] is not None
        if not confirmed and not await may_run_results(session, user_id, admin_ids):
            return Refusal.CLOSED
        rules = VotingRules.from_settings(where.programme.settings)
        chosen = str(stored["rule"]) if confirmed and stored else rule or rules.tally_rule
        if chosen not in MES_RULES or await repository.offline_counts(heading_id):
            # Per-project paper counts say nothing about who paid for what.
            return Refusal.INVALID
        ballots = await repository.ballots(heading_id)
    instance = tally_input(where.heading, ballots, rules)
    # In a thread, as `count`.
    result, explanation = await asyncio.to_thread(tally_explained, instance, chosen)
    assert explanation is not None
    return Explained(where.heading, result, explanation, confirmed)


class ResultState(StrEnum):
    NOT_STARTED = "not_started"
    INTERIM = "interim"  # 중간 집계: the vote is still open
    CLOSED = "closed"  # the vote has closed; the result awaits 총회 approval
    FINAL = "final"  # 최종 결과: confirmed


def result_state(stage: Stage, confirmed: bool, now: datetime) -> ResultState:
    """Where a heading's result stands: the chat, the web and `confirm` all ask here."""
    if confirmed:
        return ResultState.FINAL
    if now < stage.starts_at:
        return ResultState.NOT_STARTED
    if stage.ends_at is None or now < stage.ends_at:
        return ResultState.INTERIM
    return ResultState.CLOSED


@dataclass(frozen=True)
class Results:
    """A heading's count as anyone may see it: totals only, never a voter."""

    heading_id: int
    where: Located
    state: ResultState
    rule: str
    selected: tuple[str, ...]
    votes: dict[str, float]
    online: int
    offline: int
    counted_at: datetime
    confirmed_at: datetime | None
    tallied: bool  # False: votes only (no budget, or offline counts with another rule)

    @property
    def cost(self) -> int:
        return sum(item.cost for item in self.where.heading.items if item.key in self.selected)


async def results(db: Database, heading_id: int, now: datetime) -> Results | None:
    """Count a heading without writing anything: live while the vote runs (중간 집계), as
    confirmed once 총회 approved it (최종 결과). Officials' tallies go through run_tally."""
    async with db.reading() as session:
        where = await locate(session, heading_id)
        if where is None:
            return None
        repository = VotingRepository(session)
        stored = await repository.result(heading_id)
        ballots = await repository.ballots(heading_id)
        offline = await repository.offline_counts(heading_id)
    rules = VotingRules.from_settings(where.programme.settings)
    confirmed_at = stored["confirmed_at"] if stored is not None else None
    state = result_state(where.stage, confirmed_at is not None, now)
    rule = stored["rule"] if stored is not None and confirmed_at is not None else rules.tally_rule
    try:
        result, votes = await asyncio.to_thread(count, where.heading, ballots, rules, offline, rule)
    except TallyRefusal:
        result, votes = await asyncio.to_thread(count, where.heading, ballots, rules, {}, "greedy")
        result = None
        for key, extra in offline.items():
            votes[key] = votes.get(key, 0.0) + extra
    if where.heading.kind is HeadingKind.QUESTION:
        result = None
    selected: tuple[str, ...] = ()
    if confirmed_at is not None and stored is not None:
        selected = tuple(stored["selected"])
    elif result is not None:
        selected = tuple(result.selected)
    return Results(
        heading_id=heading_id,
        where=where,
        state=state,
        rule=rule,
        selected=selected,
        votes=votes,
        online=sum(not ballot.offline for ballot in ballots),
        offline=sum(ballot.offline for ballot in ballots) + sum(offline.values()),
        counted_at=now,
        confirmed_at=confirmed_at,
        tallied=result is not None or confirmed_at is not None,
    )


async def receipt_counted(db: Database, heading_id: int, code: str) -> bool:
    """Was a ballot recorded under this receipt code in this heading? A voter checks their own
    with it; the code leads to no ballot row, so it tells no one the choices
    (docs/ballot-secrecy.md)."""
    async with db.reading() as session:
        return await VotingRepository(session).receipt_recorded(heading_id, code)


@dataclass(frozen=True)
class ConfirmPreview:
    """What confirming a result will do, shown before the official confirms it."""

    heading: Heading
    rule: str
    selected: tuple[str, ...]  # item keys, in the rule's order
    cost: int
    budget: int
    to_selected: tuple[str, ...]  # proposals on the ballot that become 선정 (titles)
    to_not_selected: tuple[str, ...]  # … and 미선정
    voters: int  # voters told the result
    followers: int  # proposers and supporters told of their proposal's new status

    @property
    def mark(self) -> str:
        return selection_mark(self.rule, self.selected)


def selection_mark(rule: str, selected: Sequence[str]) -> str:
    """A short fingerprint of a count's outcome. The confirmation button carries the one the
    official was shown; `confirm` refuses (Refusal.CHANGED) if the count now gives another."""
    return hashlib.sha256(f"{rule}|{','.join(selected)}".encode()).hexdigest()[:10]


async def _confirmable(
    session: Session, heading_id: int, user_id: int, now: datetime, admin_ids: Collection[int]
) -> Located | Refusal:
    """The checks of both steps: an admin, a heading with a budget, a closed vote, not yet
    confirmed."""
    if not await may_run_results(session, user_id, admin_ids):
        return Refusal.FORBIDDEN
    where = await locate(session, heading_id)
    if where is None or where.heading.budget is None:
        return Refusal.NOT_FOUND
    state = result_state(where.stage, await is_confirmed(session, heading_id), now)
    if state is ResultState.FINAL:
        return Refusal.CONFIRMED
    if state is not ResultState.CLOSED:
        return Refusal.STILL_OPEN
    return where


async def _final_count(
    session: Session, heading_id: int, where: Located, rule: str | None
) -> TallyResult:
    """The count to confirm, of every ballot now in: the rule asked for, else the one last
    used for this heading, else the programme's."""
    repository = VotingRepository(session)
    stored = await repository.result(heading_id)
    rules = VotingRules.from_settings(where.programme.settings)
    chosen = rule or (str(stored["rule"]) if stored is not None else rules.tally_rule)
    ballots = await repository.ballots(heading_id)
    offline = await repository.offline_counts(heading_id)
    result, _ = await asyncio.to_thread(count, where.heading, ballots, rules, offline, chosen)
    assert result is not None  # the heading has a budget (_confirmable)
    return result


async def _on_ballot(session: Session, where: Located) -> list[Proposal]:
    """The heading's proposals still 투표 중: confirming decides their status."""
    found = []
    proposals = ProposalsRepository(session)
    for item in where.heading.items:
        if not item.key.startswith(PROPOSAL_ITEM) or not is_number(item.key[1:]):
            continue
        proposal = await proposals.get(to_id(item.key[1:]))
        if proposal is not None and proposal.status is Status.ON_BALLOT:
            found.append(proposal)
    return found


async def confirm_preview(
    db: Database,
    heading_id: int,
    user_id: int,
    rule: str | None,
    now: datetime,
    admin_ids: Collection[int],
) -> ConfirmPreview | Refusal:
    """Step one of 총회 approval: what will change and who will be told; nothing is written
    but a refusal to the audit log."""
    async with db.transaction() as session:
        where = await _confirmable(session, heading_id, user_id, now, admin_ids)
        if isinstance(where, Refusal):
            if where in (Refusal.FORBIDDEN, Refusal.STILL_OPEN):
                await audit.record(session, user_id, "refused", f"confirm:{heading_id}", now)
            return where
        try:
            result = await _final_count(session, heading_id, where, rule)
        except ValueError:  # offline counts with another rule than greedy, Seoul's shares
            return Refusal.INVALID
        chosen = set(result.selected)
        proposals = await _on_ballot(session, where)
        followers: set[int] = set()
        for proposal in proposals:
            followers.update(await ProposalsRepository(session).followers(proposal.id))
        voters = len(await VotingRepository(session).voters(heading_id))
    return ConfirmPreview(
        heading=where.heading,
        rule=result.rule,
        selected=tuple(result.selected),
        cost=result.cost,
        budget=result.budget,
        to_selected=tuple(p.title for p in proposals if f"{PROPOSAL_ITEM}{p.id}" in chosen),
        to_not_selected=tuple(p.title for p in proposals if f"{PROPOSAL_ITEM}{p.id}" not in chosen),
        voters=voters,
        followers=len(followers),
    )


async def confirm(
    db: Database,
    heading_id: int,
    admin_id: int,
    now: datetime,
    admin_ids: Collection[int],
    rule: str | None = None,
    seen: str | None = None,
) -> Refusal | None:
    """총회 approval, once the vote has closed: the count of every ballot in stands, statuses
    change, everyone concerned is told. Final: no ballot is accepted after it (check_voter).
    `seen`: the `selection_mark` of the count the official was shown; if the count now gives
    another outcome, nothing is confirmed (Refusal.CHANGED)."""
    async with db.transaction() as session:
        await session.lock("heading", heading_id)  # confirmed once, from the count made here
        where = await _confirmable(session, heading_id, admin_id, now, admin_ids)
        if isinstance(where, Refusal):
            if where in (Refusal.FORBIDDEN, Refusal.STILL_OPEN):
                await audit.record(session, admin_id, "refused", f"confirm:{heading_id}", now)
            return where
        repository = VotingRepository(session)
        try:
            result = await _final_count(session, heading_id, where, rule)
        except ValueError:
            return Refusal.INVALID
        if seen is not None and selection_mark(result.rule, result.selected) != seen:
            return Refusal.CHANGED
        await repository.save_result(heading_id, result.rule, result.selected, now)
        if not await repository.confirm(heading_id, admin_id, now):
            return Refusal.CONFIRMED
        selected = set(result.selected)
        for proposal in await _on_ballot(session, where):
            chosen = f"{PROPOSAL_ITEM}{proposal.id}" in selected
            status = Status.SELECTED if chosen else Status.NOT_SELECTED
            await proposal_service.change_status(session, proposal, status, now, admin_id)
        await notify_voters(session, heading_id, where, selected, now)
        await audit.record(
            session, admin_id, "confirm_result", f"heading:{heading_id}:{result.rule}", now
        )
    return None


async def notify_voters(
    session: Session, heading_id: int, where: Located, selected: set[str], now: datetime
) -> None:
    people = PeopleRepository(session)
    chosen = [item for item in where.heading.items if item.key in selected]
    for user_id in await VotingRepository(session).voters(heading_id):
        person = await people.get(user_id)
        if person is None or not person.active:
            continue
        t = Translator(person.language)
        text = t.gettext("The result of %(ballot)s is confirmed. Selected:") % {
            "ballot": where.heading.name(t.language)
        }
        text += "\n" + "\n".join(f"• {item.title_in(t.language)}" for item in chosen)
        await enqueue(
            session,
            user_id=user_id,
            category=Category.UPDATES,
            payload=Payload(
                text=text[:4096],
                buttons=(
                    (
                        Button(
                            text=t.gettext("See the results"), callback_data=f"vt:r:{heading_id}"
                        ),
                    ),
                ),
            ),
            now=now,
            dedupe_key=f"result:{heading_id}:{user_id}",
        )


async def import_ballot(db: Database, ballot: BallotFile) -> list[tuple[int, Heading]]:
    """Save a stage's headings; proposals put on the ballot join where the file says so."""
    async with db.transaction() as session:
        return await save_headings(session, ballot)


async def ballot_headings(session: Session, ballot: BallotFile) -> tuple[int, list[Heading]]:
    """The stage and the headings a ballot file (or a ballot built in the chat) makes, with
    the programme's proposals put on the ballot where it says so."""
    stage_id = await stage_id_of(session, ballot.programme, ballot.stage)
    programme_id = await ProgrammesRepository(session).id_of(ballot.programme)
    if stage_id is None or programme_id is None:
        raise TallyRefusal(f"no stage {ballot.stage!r} in programme {ballot.programme!r}")
    proposals = await ProposalsRepository(session).in_status(programme_id, Status.ON_BALLOT)
    headings = []
    for spec in ballot.headings:
        extra: list[Item] = []
        if spec.include_on_ballot:
            extra = [
                Item(
                    key=f"{PROPOSAL_ITEM}{p.id}",
                    title=p.title,
                    cost=p.cost or 0,
                    summary=p.description[:300],
                    photo=p.photos[0] if p.photos else None,
                )
                for p in proposals
                if (spec.only_district is None or spec.only_district in p.districts)
                and (spec.only_field is None or p.field == spec.only_field)
            ]
        headings.append(ballot.heading(spec, extra))
    return stage_id, headings


async def save_headings(session: Session, ballot: BallotFile) -> list[tuple[int, Heading]]:
    stage_id, headings = await ballot_headings(session, ballot)
    repository = VotingRepository(session)
    return [(await repository.save_heading(stage_id, heading), heading) for heading in headings]


async def pabulib_instance(db: Database, heading_id: int) -> PBInstance:
    """The heading's ballots, online and offline, for audit (pabulib format)."""
    async with db.reading() as session:
        where = await locate(session, heading_id)
        if where is None:
            raise TallyRefusal("no such heading")
        repository = VotingRepository(session)
        rules = VotingRules.from_settings(where.programme.settings)
        instance = tally_input(
            where.heading,
            await repository.ballots(heading_id),
            rules,
            await repository.offline_counts(heading_id),
        )
    meta = {
        "description": f"{where.programme.name.ko} / {where.heading.name_ko}",
        "country": "South Korea",
        "unit": "Seoul",
        "instance": f"{where.programme.key}/{where.stage.key}/{where.heading.key}",
        "num_projects": str(len(instance.projects)),
        "num_votes": str(len(instance.votes)),
        "budget": str(instance.budget),
        "vote_type": "approval",
        "rule": rules.tally_rule,
        "max_length": str(where.heading.max_choices),
    }
    return PBInstance(instance.budget, instance.projects, instance.votes, meta)


async def remind_non_voters(session: Session, due: ReminderDue, minimum_age: int) -> int:
    """Before a vote closes: everyone who may vote in a heading of the stage and has not
    (SPEC §8), including people who still lack an answer the vote needs (the button asks it).
    Returns how many reminders were queued."""
    repository = VotingRepository(session)
    headings = await repository.headings(due.stage_id)
    if not headings or Action.VOTE not in due.stage.actions:
        return 0
    # One query per heading, not one per person: a city-wide vote reaches everyone.
    voted = {heading_id: set(await repository.voters(heading_id)) for heading_id, _ in headings}
    members: dict[str, set[int]] = {}
    for _, heading in headings:
        if heading.panel and heading.panel not in members:
            members[heading.panel] = set(await PanelsRepository(session).member_ids(heading.panel))
    queued = 0
    for person in await PeopleRepository(session).active():
        for heading_id, heading in headings:
            found = heading_eligibility(person, due.programme, heading, due.now, minimum_age)
            # Answers still missing are asked when the button opens the ballot; only who really
            # may not vote is left out (and, without a district, every district's heading).
            if found.refusal is not None or Question.DISTRICT in found.missing:
                continue
            if heading.panel and person.user_id not in members[heading.panel]:
                continue
            if person.user_id in voted[heading_id]:
                continue
            t = Translator(person.language)
            text = (
                reminder_text(t, due)
                + "\n"
                + t.gettext("You have not voted in %(ballot)s yet.")
                % {"ballot": html.escape(heading.name(t.language))}
            )
            button = Button(text=t.gettext("Vote now"), callback_data=f"vt:h:{heading_id}:0")
            added = await enqueue(
                session,
                user_id=person.user_id,
                category=Category.DEADLINES,
                payload=Payload(text=text, parse_mode="HTML", buttons=((button,),)),
                now=due.now,
                dedupe_key=due.dedupe_key(person.user_id, heading_id),
            )
            queued += added is not None
    return queued


# The tally rules as a person reads them (never the engine's word on a Korean screen).
RULE_NAMES: Final = {
    "greedy": N_("Greedy"),
    "seoul": N_("Seoul's rule: the least-voted projects drop out"),
    "mes": N_("Equal shares"),
    "mes+greedy": N_("Equal shares, then greedy"),
    "mes+add1": N_("Equal shares as cities run it (Add1)"),
    "mes+add1+greedy": N_("Equal shares (Add1), then greedy"),
}
