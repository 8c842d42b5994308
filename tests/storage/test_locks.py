"""Every `Session.lock` kind under real concurrency (issue 21, item 3).

Each test runs one use case several times at once through the services, and checks the
invariant its lock (or constraint) protects. On PostgreSQL the calls run side by side on
separate pooled connections at READ COMMITTED, so without the lock they would all read
before any of them writes; on SQLite writers are one at a time and the same assertions hold.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import TypeVar

import pytest

from bot.services import broadcasts as broadcast_service
from bot.services import panels as panel_service
from bot.services import proposals as proposal_service
from bot.services import voting as voting_service
from bot.services import waste as waste_service
from domain.broadcasts import Audience, Segment
from domain.notifications import Category, Payload
from domain.panels import ApplicationStatus
from domain.panels import Refusal as PanelRefusal
from domain.proposals import Scope, Status
from domain.roles import Role
from domain.voting import parse_ballot_file
from domain.waste import EventKind, Verdict
from domain.waste import Refusal as WasteRefusal
from storage import outbox
from storage.db import USAGE, Database, PostgresDatabase, is_conflict
from storage.intake import UpdatesRepository
from storage.panels import PanelsRepository
from storage.privacy import erase_person
from storage.proposals import ProposalsRepository
from storage.roles import RolesRepository
from storage.waste import WasteRepository
from tests.panels.conftest import ADMIN, ADMINS, AFTER_RECRUITMENT, RECRUITING, answers, seed_panels
from tests.proposals.conftest import IN_PB_CALL, seed_programmes, sign_up
from tests.voting.conftest import (
    AFTER_VOTE,
    BALLOT,
    DURING_VOTE,
    ballot_file,
    proposal_on_the_ballot,
)

OFFICER = 5  # a budget-waste officer for the whole centre


@pytest.fixture(autouse=True)
async def connected(db: Database) -> None:
    """Every pooled PostgreSQL connection open before the test: a call that had to open one
    would start late, after the others had finished, and nothing would run side by side."""
    if not isinstance(db, PostgresDatabase):
        return
    everyone = asyncio.Barrier(db.pool_size)

    async def hold() -> None:
        async with db.reading():
            await everyone.wait()

    await asyncio.gather(*(hold() for _ in range(db.pool_size)))


# -- person ---------------------------------------------------------------------------------
async def test_person_two_devices_vote_in_two_headings_of_one_group(db: Database) -> None:
    """Of a group of headings a person votes in one: two devices casting in two of them at
    once leave one heading on the roll. No lock: the roll's unique index of a group
    (migration 0024, checked failing without it) refuses the second cast."""
    await seed_programmes(db)
    grouped = BALLOT.replace("[[heading]]", '[[heading]]\ngroup = "districts"')
    ids = {h.key: i for i, h in await voting_service.import_ballot(db, parse_ballot_file(grouped))}
    await sign_up(db, 2)
    phone, laptop = await asyncio.gather(
        voting_service.cast(db, 2, ids["city"], ["a"], DURING_VOTE, 14),
        voting_service.cast(db, 2, ids["mapo"], ["m1"], DURING_VOTE, 14),
    )
    refusals = sorted(str(r.refusal) for r in (phone, laptop))
    assert refusals == ["None", str(voting_service.Refusal.OTHER_HEADING)]
    async with db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM voter_roll") == 1
        assert await session.scalar("SELECT COUNT(*) FROM ballot_box") == 1


async def test_person_a_vote_takes_no_lock(db: Database) -> None:
    """A first ballot, a replaced one and one refused for another heading of the group take
    no lock (issue 21: locks held per update; the unique index and the person's row keep
    what the `person` lock kept)."""
    if not isinstance(db, PostgresDatabase):
        pytest.skip("SQLite takes no locks")
    await seed_programmes(db)
    grouped = BALLOT.replace("[[heading]]", '[[heading]]\ngroup = "districts"')
    ids = {h.key: i for i, h in await voting_service.import_ballot(db, parse_ballot_file(grouped))}
    await sign_up(db, 2)
    locks = USAGE.locks
    for key, choices in (("city", ["a"]), ("city", ["b"]), ("mapo", ["m1"])):
        await voting_service.cast(db, 2, ids[key], choices, DURING_VOTE, 14)
    assert USAGE.locks == locks
    assert await voting_service.current_choices(db, 2, ids["city"]) == ["b"]


async def test_person_erasure_and_a_ballot_at_once_leave_no_trace(db: Database) -> None:
    """Ballots cast while their voters erase themselves: each is either refused, or counted
    without a name; the roll never names an erased person (a cast's roll entry share-locks
    the person's row, which erasure locks first; checked failing without either): a counted
    ballot's entry stays under the voter's marker (storage/privacy.py: erase_person)."""
    await seed_programmes(db)
    ids = {h.key: i for i, h in await voting_service.import_ballot(db, ballot_file)}
    voters = range(1, 6)  # five pairs of units of work: one connection each
    await sign_up(db, *voters)

    async def erase(user_id: int) -> None:
        async with db.transaction() as session:
            await erase_person(session, user_id)

    await asyncio.gather(
        *(
            work
            for user in voters
            for work in (
                voting_service.cast(db, user, ids["city"], ["a"], DURING_VOTE, 14),
                erase(user),
            )
        )
    )
    await voting_service.mix_ballots(db)
    async with db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM voter_roll WHERE user_id > 0") == 0
        on_roll = await session.scalar("SELECT COUNT(*) FROM voter_roll")
        assert on_roll == await session.scalar("SELECT COUNT(*) FROM ballots")
        named = await session.scalar("SELECT COUNT(*) FROM ballots WHERE pseudonym IS NOT NULL")
        assert named == 0


async def test_person_a_course_code_sent_from_two_devices_counts_once(db: Database) -> None:
    """예산학교: five people each send their course code from two devices at once: each
    completion is recorded once and the code counts five uses (the `person` lock in
    panels.redeem_code)."""
    await seed_panels(db)
    people = range(1, 6)
    await sign_up(db, *people, ADMIN)
    refusal, code = await panel_service.issue_code(db, ADMIN, "2027 1기", RECRUITING, ADMINS)
    assert refusal is None and code is not None
    refusals = await asyncio.gather(
        *(panel_service.redeem_code(db, user, code, RECRUITING) for user in people for _ in "ab")
    )
    assert Counter(refusals) == {None: 5, PanelRefusal.ALREADY: 5}
    async with db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM budget_school") == 5
        uses = await session.scalar("SELECT uses FROM budget_school_codes WHERE code = ?", (code,))
    assert uses == 5


async def test_person_two_updates_received_at_once_are_not_both_taken(db: Database) -> None:
    """Two updates of one person reach two workers at once: each stores its own and tries to
    take it, as bot/intake.py does; one is taken, the other waits for it. No lock: the unique
    index updates_one_in_hand refuses the second claim, which then stores its update only."""
    now = IN_PB_CALL

    async def worker(update_id: int, person: int) -> bool:
        update = {"update_id": update_id, "message": {"from": {"id": person}, "text": "hi"}}
        try:
            async with db.transaction() as session:
                repository = UpdatesRepository(session)
                await repository.receive([update], now)
                return await repository.claim_one(update_id, f"w{update_id}", now) is not None
        except Exception as error:
            if not is_conflict(error):
                raise
        async with db.transaction() as session:
            await UpdatesRepository(session).receive([update], now)
        return False

    # Ten people, each with two updates at once: whichever worker claims first.
    for person in range(100, 110):
        taken = await asyncio.gather(worker(2 * person, person), worker(2 * person + 1, person))
        assert sorted(taken) == [False, True], person
    async with db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM updates WHERE claimed_by IS NULL") == 10


# -- proposal -------------------------------------------------------------------------------
DONE = proposal_service.Outcome.DONE


async def test_proposal_supports_at_once_count_exactly_and_reach_the_goal_once(
    db: Database,
) -> None:
    """Thirty supports at once: the count is exact and the goal (3) is reached by one status
    change, so followers are told once. The count is one UPDATE and the status is read after
    it, under that row's lock: this holds even without the `proposal` lock (checked)."""
    await seed_programmes(db, small_goal=True)
    await sign_up(db, *range(1, 32))
    proposal_id = await submitted_proposal(db)
    outcomes = await asyncio.gather(
        *(proposal_service.support(db, proposal_id, user, IN_PB_CALL) for user in range(2, 32))
    )
    assert set(outcomes) == {proposal_service.Outcome.DONE}
    async with db.reading() as session:
        repository = ProposalsRepository(session)
        proposal = await repository.get(proposal_id)
        history = [event.status for event in await repository.history(proposal_id)]
    assert proposal is not None and proposal.support_count == 30
    assert history == [Status.PUBLISHED, Status.THRESHOLD_REACHED]


async def test_proposal_a_last_minute_support_and_the_deadline_at_once(db: Database) -> None:
    """Five proposals one support short of their goal get it in the last second, while the
    deadline job closes the window: each either reaches its goal or is not reached, never
    closed as not reached with its goal's supports (the `proposal` lock in support, which
    close_due takes for each proposal it closes)."""
    await seed_programmes(db, small_goal=True)
    await sign_up(db, *range(1, 11))
    proposals = [await submitted_proposal(db, author) for author in (1, 5, 6, 7, 8)]
    for proposal_id in proposals:
        for user in (2, 3):  # the goal is 3
            await proposal_service.support(db, proposal_id, user, IN_PB_CALL)
    deadline = IN_PB_CALL + timedelta(days=30)
    await asyncio.gather(
        proposal_service.close_due(db, deadline + timedelta(seconds=1)),
        *(
            proposal_service.support(db, proposal_id, 4, deadline - timedelta(seconds=1))
            for proposal_id in proposals
        ),
    )
    async with db.reading() as session:
        repository = ProposalsRepository(session)
        for proposal_id in proposals:
            proposal = await repository.get(proposal_id)
            assert proposal is not None
            reached = proposal.support_count >= 3
            assert proposal.status is (Status.THRESHOLD_REACHED if reached else Status.NOT_REACHED)


async def test_proposal_supports_short_of_the_goal_take_no_lock(db: Database) -> None:
    """A 공감 is counted by one conditional UPDATE; only the one that may reach the goal takes
    the `proposal` lock (issue 21: locks held per update)."""
    if not isinstance(db, PostgresDatabase):
        pytest.skip("SQLite takes no locks")
    await seed_programmes(db, small_goal=True)
    await sign_up(db, *range(1, 6))
    proposal_id = await submitted_proposal(db)
    taken = []
    for user in range(2, 6):  # the goal is 3
        locks = USAGE.locks
        assert await proposal_service.support(db, proposal_id, user, IN_PB_CALL) is DONE
        taken.append(USAGE.locks - locks)
    assert taken == [0, 0, 1, 0]


async def test_proposal_a_support_while_the_proposal_is_withdrawn_is_not_counted(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proposer withdraws the proposal after a 공감 found it open and before it is counted:
    the count, which counts only while support is open, refuses it and it leaves nothing."""
    if not isinstance(db, PostgresDatabase):
        pytest.skip("SQLite's writers are one at a time: nothing comes in between")
    await seed_programmes(db, small_goal=True)
    await sign_up(db, 1, 2)
    proposal_id = await submitted_proposal(db)
    follow = ProposalsRepository.follow

    async def withdrawn_meanwhile(self: ProposalsRepository, proposal: int, user: int) -> bool:
        assert await proposal_service.withdraw(db, proposal, 1, IN_PB_CALL) is DONE
        return await follow(self, proposal, user)

    monkeypatch.setattr(ProposalsRepository, "follow", withdrawn_meanwhile)
    outcome = await proposal_service.support(db, proposal_id, 2, IN_PB_CALL)
    assert outcome is proposal_service.Outcome.CLOSED
    async with db.reading() as session:
        proposal = await ProposalsRepository(session).get(proposal_id)
        assert proposal is not None and proposal.status is Status.WITHDRAWN
        assert proposal.support_count == 0
        assert await session.scalar("SELECT COUNT(*) FROM supports") == 0
        assert await session.scalar("SELECT COUNT(*) FROM follows WHERE user_id = 2") == 0


async def test_proposal_a_withdrawal_and_a_decision_at_once_make_one_transition(
    db: Database,
) -> None:
    """The proposer withdraws from two devices while two reviewers reject it: one of them
    moves the status, the others find it moved (the `proposal` lock in review/withdraw)."""
    await seed_programmes(db, small_goal=True)
    await sign_up(db, 1, 9000)
    proposal_id = await submitted_proposal(db)
    reject = proposal_service.ReviewAction(Status.REJECTED, note="중복 제안")
    outcomes = await asyncio.gather(
        proposal_service.withdraw(db, proposal_id, 1, IN_PB_CALL),
        proposal_service.review(db, proposal_id, 9000, reject, IN_PB_CALL, {9000}),
        proposal_service.withdraw(db, proposal_id, 1, IN_PB_CALL),
        proposal_service.review(db, proposal_id, 9000, reject, IN_PB_CALL, {9000}),
    )
    assert Counter(outcomes) == {
        proposal_service.Outcome.DONE: 1,
        proposal_service.Outcome.CLOSED: 3,
    }
    async with db.reading() as session:
        history = await ProposalsRepository(session).history(proposal_id)
    assert len(history) == 2  # published, then one decision


async def submitted_proposal(db: Database, author: int = 1) -> int:
    draft = proposal_service.Draft(
        programme_key="democracy-seoul",
        title="한강공원 쓰레기통 확충",
        description="주말마다 한강공원 쓰레기가 넘칩니다. 분리수거함을 늘려 주세요.",
        field="environment",
        scope=Scope.CITY,
        districts=("mapo", "yeongdeungpo"),
    )
    result = await proposal_service.submit(db, author, draft, IN_PB_CALL, 14)
    assert result.proposal_id is not None
    return result.proposal_id


def proposal_draft(key: str | None = None) -> proposal_service.Draft:
    return proposal_service.Draft(
        programme_key="democracy-seoul",
        title="한강공원 쓰레기통 확충",
        description="주말마다 한강공원 쓰레기가 넘칩니다. 분리수거함을 늘려 주세요.",
        field="environment",
        scope=Scope.CITY,
        districts=("mapo", "yeongdeungpo"),
        key=key or uuid.uuid4().hex,
    )


async def test_person_a_proposal_sent_at_once_from_several_devices_is_made_once(
    db: Database,
) -> None:
    """The same draft sent five times at once, three times over: one proposal each, and
    every send gets it (the `person` lock in proposals.submit, and its key read again under
    it)."""
    await seed_programmes(db)
    await sign_up(db, 1)
    for _ in range(3):
        same = proposal_draft()
        results = await asyncio.gather(
            *(proposal_service.submit(db, 1, same, IN_PB_CALL, 14) for _ in range(5))
        )
        assert {r.refusal for r in results} == {None}
        assert len({r.proposal_id for r in results}) == 1
    async with db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM proposals") == 3


async def test_person_the_daily_proposal_limit_holds_for_drafts_sent_at_once(
    db: Database,
) -> None:
    """Three proposals a day: seven different drafts sent at once make three, two days
    running (the `person` lock in proposals.submit; the count read again under it)."""
    await seed_programmes(db)
    await sign_up(db, 1)
    for day in range(2):
        now = IN_PB_CALL + timedelta(days=day)
        results = await asyncio.gather(
            *(proposal_service.submit(db, 1, proposal_draft(), now, 14) for _ in range(7))
        )
        assert Counter(r.refusal for r in results) == {
            None: 3,
            proposal_service.Refusal.DAILY_LIMIT: 4,
        }
    async with db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM proposals") == 6


T = TypeVar("T")


async def while_erased(db: Database, act: Callable[[int], Awaitable[T]]) -> list[T | None]:
    """Ten people signed up each `act` while erasing themselves, in both orders."""
    await seed_programmes(db)
    people = range(1, 11)
    await sign_up(db, *people)

    async def erase(user_id: int, after: float) -> None:
        await asyncio.sleep(after)
        async with db.transaction() as session:
            await erase_person(session, user_id)

    async def acting(user_id: int, after: float) -> T:
        await asyncio.sleep(after)
        return await act(user_id)

    return await asyncio.gather(
        *(acting(user, 0.001 * (user % 3)) for user in people),
        *(erase(user, 0.001 * (user % 2)) for user in people),
    )


async def test_person_erasure_and_a_proposal_at_once_leave_no_author(db: Database) -> None:
    """Proposals sent while their authors erase themselves: each is either refused or kept
    without an author (the `person` lock in proposals.submit, which erasure takes too, and
    the person read again under it)."""

    async def propose(user_id: int) -> proposal_service.Submitted:
        return await proposal_service.submit(db, user_id, proposal_draft(), IN_PB_CALL, 14)

    results = await while_erased(db, propose)
    refusals = {r.refusal for r in results if isinstance(r, proposal_service.Submitted)}
    assert refusals <= {None, proposal_service.Refusal.STAGE_CLOSED}
    async with db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM people") == 0
        authored = "SELECT COUNT(*) FROM proposals WHERE author_id IS NOT NULL"
        assert await session.scalar(authored) == 0


# -- heading --------------------------------------------------------------------------------
async def test_heading_mixing_at_once_counts_every_ballot_once(db: Database) -> None:
    """Three mixes of one heading at once (two workers' timers and a confirmation): every
    sealed ballot lands in the ballot table once (the `heading` lock in VotingRepository.mix)."""
    await seed_programmes(db)
    ids = {h.key: i for i, h in await voting_service.import_ballot(db, ballot_file)}
    await sign_up(db, *range(1, 13))
    for user in range(1, 13):
        cast = await voting_service.cast(db, user, ids["city"], ["a", "c"], DURING_VOTE, 14)
        assert cast.refusal is None
    moved = await asyncio.gather(*(voting_service.mix_ballots(db, [ids["city"]]) for _ in range(3)))
    assert sorted(moved) == [0, 0, 12]
    async with db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM ballots") == 12
        assert await session.scalar("SELECT COUNT(*) FROM ballot_box") == 0


async def test_heading_one_confirmation_from_several_at_once(db: Database) -> None:
    """Three admins confirm one heading's result at once: one confirmation, and the proposal
    on the ballot changes status once. Kept by the UPDATE that confirms only an unconfirmed
    result, even without the `heading` locks (checked): the others get its refusal."""
    await seed_programmes(db)
    await sign_up(db, 1, 2, 3, 9000)
    proposal_id = await proposal_on_the_ballot(db)
    ids = {h.key: i for i, h in await voting_service.import_ballot(db, ballot_file)}
    for user in (1, 2, 3):
        cast = await voting_service.cast(
            db, user, ids["city"], [f"p{proposal_id}"], DURING_VOTE, 14
        )
        assert cast.refusal is None
    refusals = await asyncio.gather(
        *(voting_service.confirm(db, ids["city"], 9000, AFTER_VOTE, {9000}) for _ in range(3))
    )
    assert Counter(refusals) == {None: 1, voting_service.Refusal.CONFIRMED: 2}
    async with db.reading() as session:
        history = [e.status for e in await ProposalsRepository(session).history(proposal_id)]
    assert history.count(Status.SELECTED) == 1


# -- counter --------------------------------------------------------------------------------
async def test_counter_receipt_numbers_of_reports_sent_at_once_are_unique_and_gapless(
    db: Database,
) -> None:
    """Ten reporters at once: receipts W-2027-000001 to 000010, each once (the year's
    `counter` lock in WasteRepository.number; the unique (year, seq) would refuse a repeat)."""
    await seed_programmes(db)
    await sign_up(db, *range(1, 11))
    results = await asyncio.gather(
        *(waste_service.submit(db, user, waste_draft(), IN_PB_CALL) for user in range(1, 11))
    )
    receipts = sorted(r.report.receipt for r in results if r.report is not None)
    assert receipts == [f"W-2027-{n:06d}" for n in range(1, 11)]
    assert await stored_receipts(db) == receipts


async def test_counter_the_daily_report_limit_holds_for_reports_sent_at_once(
    db: Database,
) -> None:
    """Five budget-waste reports a day: eight sent at once (different drafts) make five,
    three days running, and their receipts leave no gap for the refused ones (the limit is
    counted again in WasteRepository.number, under the year's `counter` lock that every
    report commits under; a refusal there rolls the report back)."""
    await seed_programmes(db)
    await sign_up(db, 1)
    for day in range(3):
        now = IN_PB_CALL + timedelta(days=day)
        results = await asyncio.gather(
            *(waste_service.submit(db, 1, waste_draft(), now) for _ in range(8))
        )
        assert Counter(r.refusal for r in results) == {None: 5, WasteRefusal.DAILY_LIMIT: 3}
    assert await stored_receipts(db) == [f"W-2027-{n:06d}" for n in range(1, 16)]


async def test_counter_reporters_at_their_limit_and_others_at_once_leave_no_gap(
    db: Database,
) -> None:
    """Five reporters one report short of the day's five each send two at once (both pass
    the early check), five others one each: ten are received, numbered 21 to 30 with no gap
    for the five rolled back (the `counter` lock in WasteRepository.number)."""
    await seed_programmes(db)
    await sign_up(db, *range(1, 11))
    near = range(1, 6)
    for user in near:
        for _ in range(4):
            await waste_service.submit(db, user, waste_draft(), IN_PB_CALL)
    sends = [*near, *near, *range(6, 11)]
    results = await asyncio.gather(
        *(waste_service.submit(db, user, waste_draft(), IN_PB_CALL) for user in sends)
    )
    assert Counter(r.refusal for r in results) == {None: 10, WasteRefusal.DAILY_LIMIT: 5}
    received = sorted(r.report.receipt for r in results if r.report is not None)
    assert received == [f"W-2027-{n:06d}" for n in range(21, 31)]
    assert await stored_receipts(db) == [f"W-2027-{n:06d}" for n in range(1, 31)]
    async with db.reading() as session:
        per_reporter = await session.fetchall(
            "SELECT reporter_id, COUNT(*) AS n FROM waste_reports GROUP BY reporter_id"
        )
    assert {r["reporter_id"]: r["n"] for r in per_reporter} == {
        **{user: 5 for user in near},
        **{user: 1 for user in range(6, 11)},
    }


async def test_person_a_draft_sent_at_once_from_several_devices_makes_one_report(
    db: Database,
) -> None:
    """The same draft sent five times at once, three times over: one report each, and every
    send gets its receipt (the draft token's unique index: the others wait for the first
    and find its report; no `person` lock)."""
    await seed_programmes(db)
    await sign_up(db, 1)
    for _ in range(3):
        same = waste_draft()
        results = await asyncio.gather(
            *(waste_service.submit(db, 1, same, IN_PB_CALL) for _ in range(5))
        )
        assert {r.refusal for r in results} == {None}
        assert len({r.report.receipt for r in results if r.report is not None}) == 1
    assert await stored_receipts(db) == [f"W-2027-{n:06d}" for n in range(1, 4)]


async def test_person_erasure_and_a_report_at_once_leave_no_name(db: Database) -> None:
    """Reports sent while their reporters erase themselves, in both orders: each is either
    refused or kept without a link to the person (a report share-locks the reporter's row,
    which erasure locks first; no `person` lock in waste.submit)."""

    async def report(user_id: int) -> waste_service.Submitted:
        named = replace(waste_draft(), named_publicly=True, reporter_name=f"시민 {user_id}")
        return await waste_service.submit(db, user_id, named, IN_PB_CALL)

    results = await while_erased(db, report)
    refusals = {r.refusal for r in results if isinstance(r, waste_service.Submitted)}
    assert refusals <= {None, WasteRefusal.NOT_SIGNED_UP}
    async with db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM people") == 0
        linked = await session.scalar(
            "SELECT COUNT(*) FROM waste_reports WHERE reporter_id IS NOT NULL"
            " OR reporter_name IS NOT NULL OR reporter_username IS NOT NULL"
        )
    assert linked == 0


async def stored_receipts(db: Database) -> list[str]:
    async with db.reading() as session:
        rows = await session.fetchall("SELECT receipt FROM waste_reports ORDER BY receipt")
    return [row["receipt"] for row in rows]


async def test_outbox_claims_at_once_never_take_a_row_twice(db: Database) -> None:
    """Four senders claim at once, in batches of three, until nothing is due: every row is
    claimed by exactly one, and by its first claim (no lock: each claim locks the rows it
    reads and skips those another is claiming; a row claimed meanwhile no longer matches)."""
    await sign_up(db, *range(1, 21))
    async with db.transaction() as session:
        await outbox.enqueue_many(
            session,
            ((user, Payload(text=f"n{user}-{n}"), None) for user in range(1, 21) for n in (1, 2)),
            category=Category.UPDATES,
            now=IN_PB_CALL,
        )

    async def claim_all(worker: str) -> list[tuple[int, int]]:
        taken: list[tuple[int, int]] = []
        while True:
            async with db.transaction() as session:
                rows, _ = await outbox.claim(
                    session, now=IN_PB_CALL, limit=3, quiet_end=None, worker=worker
                )
            if not rows:
                return taken
            taken += [(row.id, row.attempts) for row in rows]
            await asyncio.sleep(0)

    claimed = await asyncio.gather(*(claim_all(f"w{n}") for n in range(4)))
    every = [row for rows in claimed for row in rows]
    assert sorted(every) == [(row, 1) for row in range(1, 41)]
    async with db.reading() as session:
        by = await session.fetchall("SELECT claimed_by, COUNT(*) AS n FROM outbox GROUP BY 1")
    assert {row["claimed_by"]: row["n"] for row in by} == {
        f"w{n}": len(rows) for n, rows in enumerate(claimed) if rows
    }


# -- broadcast ------------------------------------------------------------------------------
async def test_broadcast_confirmed_at_once_queues_its_audience_once(db: Database) -> None:
    """Three confirms of one draft at once (a double tap, two admins): its audience is queued
    once and one confirm reports it; later, three status checks at once see it finish once,
    so one final report. Kept by the status UPDATE's condition even without the `broadcast`
    lock (checked): the others get its refusal (UNCHANGED, not finished)."""
    await sign_up(db, 9000, *range(1, 21))
    audience = Audience(segment=Segment.EVERYONE)
    draft = await broadcast_service.create_draft(
        db, 9000, {"ko": "안녕하세요"}, None, None, audience, IN_PB_CALL, {9000}
    )
    assert draft is not None
    confirmed = await asyncio.gather(
        *(broadcast_service.confirm(db, 9000, draft.id, IN_PB_CALL, {9000}, "ko") for _ in range(3))
    )
    results = Counter(c.result for c in confirmed)
    assert results == {broadcast_service.Result.DONE: 1, broadcast_service.Result.UNCHANGED: 2}
    assert sorted(c.queued for c in confirmed) == [0, 0, 21]
    async with db.transaction() as session:
        assert await session.scalar("SELECT COUNT(*) FROM outbox") == 21
        await session.execute("UPDATE outbox SET status = 'sent'")  # the sender's work, done
    later = IN_PB_CALL + timedelta(minutes=5)
    states = await asyncio.gather(
        *(broadcast_service.settle(db, draft.id, later) for _ in range(3))
    )
    assert [s.just_finished for s in states if s is not None].count(True) == 1


# -- report ---------------------------------------------------------------------------------
async def test_report_a_case_moves_once_when_officers_act_at_once(db: Database) -> None:
    """Two officers (and a double tap) start the investigation of one case at once: one
    does, the others are told it moved (the `report` lock in waste._case_for)."""
    await seed_programmes(db)
    await sign_up(db, 1, OFFICER, 9000)
    async with db.transaction() as session:
        await RolesRepository(session).grant(OFFICER, Role.WASTE_OFFICER, IN_PB_CALL)
    submitted = await waste_service.submit(db, 1, waste_draft(), IN_PB_CALL)
    assert submitted.report is not None
    report_id = submitted.report.id
    admins = frozenset({9000})
    assigned = await waste_service.assign(
        db, report_id, 9000, IN_PB_CALL, admins, department="서울시 도시교통실"
    )
    assert assigned is waste_service.Outcome.DONE
    outcomes = await asyncio.gather(
        *(
            waste_service.start_investigation(db, report_id, actor, IN_PB_CALL, admins)
            for actor in (OFFICER, 9000, OFFICER, 9000)
        )
    )
    assert Counter(outcomes) == {
        waste_service.Outcome.DONE: 1,
        waste_service.Outcome.NOT_ALLOWED: 3,
    }
    async with db.reading() as session:
        kinds = [e.kind for e in await WasteRepository(session).history(report_id)]
    assert kinds.count(EventKind.INVESTIGATING) == 1


async def test_report_information_added_as_the_case_closes_comes_before_the_close(
    db: Database,
) -> None:
    """The reporter adds information again and again while the officer closes the case:
    whatever is added is in the history before the close, never after it (the `report`
    lock in add_information and in the officer's steps)."""
    await seed_programmes(db)
    await sign_up(db, 1, 9000)
    admins = frozenset({9000})
    submitted = await waste_service.submit(db, 1, waste_draft(), IN_PB_CALL)
    assert submitted.report is not None
    report_id = submitted.report.id
    steps = (
        waste_service.assign(db, report_id, 9000, IN_PB_CALL, admins, officer_id=9000),
        waste_service.start_investigation(db, report_id, 9000, IN_PB_CALL, admins),
        waste_service.answer(
            db, report_id, 9000, Verdict.NOT_SUBSTANTIATED,
            "현장 확인 결과 교체 주기에 맞는 정상 교체였습니다.", None, IN_PB_CALL, admins,
        ),
    )  # fmt: skip
    for step in steps:
        assert await step is waste_service.Outcome.DONE
    addition = waste_service.Addition("사진을 한 장 더 보냅니다.")

    async def add(after: float) -> waste_service.Outcome:
        await asyncio.sleep(after)  # spread over the close's unit of work
        return await waste_service.add_information(db, report_id, 1, addition, IN_PB_CALL)

    await asyncio.gather(
        waste_service.close(db, report_id, 9000, IN_PB_CALL, admins),
        *(add(n / 1000) for n in range(8)),
    )
    async with db.reading() as session:
        kinds = [e.kind for e in await WasteRepository(session).history(report_id)]
    assert kinds[-1] is EventKind.CLOSED, kinds


def waste_draft() -> waste_service.Draft:
    return waste_service.Draft(
        token=uuid.uuid4().hex,
        description="버스정류장 안내판을 멀쩡한데도 1년 만에 모두 교체했습니다.",
        agency="서울시 도시교통실",
        district="mapo",
        amount=120_000_000,
    )


# -- panel ----------------------------------------------------------------------------------
WOMEN, MEN = (1, 2, 3, 4, 5), (11, 12, 13, 14, 15)
LATE = (6, 7, 16, 17)  # apply as recruitment closes


async def test_panel_applications_sent_as_the_list_is_fixed_are_in_it_or_refused(
    db: Database,
) -> None:
    """Applications sent as recruitment closes, while an admin (whose clock already says
    closed) fixes the list: each is either in the committed pool or refused, never left
    applied outside it (the `panel` lock in apply and commit)."""
    ids = await seed_panels(db)
    panel = ids["small-panel"]
    await sign_up(db, *WOMEN, *MEN, *LATE, ADMIN)
    for user in (*WOMEN, *MEN):
        given = answers("female" if user in WOMEN else "male")
        assert (await panel_service.apply(db, user, panel, given, RECRUITING, 14)).refusal is None
    late = [
        panel_service.apply(db, user, panel, answers("female" if user < 10 else "male"),
                            RECRUITING, 14)
        for user in LATE
    ]  # fmt: skip
    committed, *applied = await asyncio.gather(
        panel_service.commit(db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS), *late
    )
    assert committed.refusal is None
    assert {a.refusal for a in applied} <= {None, PanelRefusal.LIST_FIXED}
    assert committed.pool_size == await committed_pool_is_the_applied(db, panel)


async def committed_pool_is_the_applied(db: Database, panel: int) -> int:
    """The committed draw's pool is exactly the applications still applied; their number."""
    async with db.reading() as session:
        repository = PanelsRepository(session)
        record = await repository.draw(panel)
        waiting = await repository.in_status(panel, {ApplicationStatus.APPLIED})
    assert record is not None
    assert {a.pseudonym for a in waiting} == {a.id for a in record.pool}
    return len(waiting)


async def test_panel_declines_at_once_call_different_reserves(db: Database) -> None:
    """The two invited women decline at once, then the two called in their place, and so
    on: each seat goes to its own reserve, so two women always hold seats (the `panel`
    lock in panels.replace)."""
    ids = await seed_panels(db)
    panel = ids["small-panel"]
    women = (*WOMEN, 6, 7, 8, 9)  # two seats, seven in reserve
    await sign_up(db, *women, *MEN, ADMIN)
    for user in (*women, *MEN):
        given = answers("female" if user in women else "male")
        assert (await panel_service.apply(db, user, panel, given, RECRUITING, 14)).refusal is None
    assert (await panel_service.commit(db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS)).refusal is None
    drawn = await panel_service.draw(db, ADMIN, panel, "2027-04-05", AFTER_RECRUITMENT, ADMINS)
    assert drawn.refusal is None
    for _ in range(3):
        async with db.reading() as session:
            seated = await PanelsRepository(session).in_status(panel, {ApplicationStatus.INVITED})
        invited = [a for a in seated if a.features["gender"] == "female"]
        assert len(invited) == 2
        refusals = await asyncio.gather(
            *(
                panel_service.respond(db, a.user_id or 0, a.id, False, AFTER_RECRUITMENT, ADMINS)
                for a in invited
            )
        )
        assert refusals == [None, None]
    async with db.reading() as session:
        seated = await PanelsRepository(session).in_status(panel, {ApplicationStatus.INVITED})
    assert Counter(a.features["gender"] for a in seated) == {"female": 2, "male": 2}


async def test_panel_one_draw_from_several_at_once(db: Database) -> None:
    """Three admins draw at once with different seeds: one draw stands, its selected are
    invited once. Kept by storing the seed only where none is, even without the `panel`
    lock in draw (checked): the others are refused (DRAWN)."""
    ids = await seed_panels(db)
    panel = ids["small-panel"]
    await sign_up(db, *WOMEN, *MEN, ADMIN)
    for user in (*WOMEN, *MEN):
        given = answers("female" if user in WOMEN else "male")
        assert (await panel_service.apply(db, user, panel, given, RECRUITING, 14)).refusal is None
    assert (await panel_service.commit(db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS)).refusal is None
    draws = await asyncio.gather(
        *(
            panel_service.draw(db, ADMIN, panel, seed, AFTER_RECRUITMENT, ADMINS)
            for seed in ("2027-04-05", "로또 1161회", "2027-04-06")
        )
    )
    assert Counter(d.refusal for d in draws) == {None: 1, PanelRefusal.DRAWN: 2}
    async with db.reading() as session:
        invited = await PanelsRepository(session).in_status(panel, {ApplicationStatus.INVITED})
        events = await session.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'panel_draw'")
    assert len(invited) == 4 and events == 1
