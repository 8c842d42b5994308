"""More read-check-writes under real concurrency (issue 21, item 3), as tests/storage/
test_locks.py: each test runs use cases at once through the services and checks the
invariant the lock (or the conditional write) protects, on SQLite and on PostgreSQL.

Where a lock keeps a use case from acting on a state another unit of work has just moved
on, the state right after that other unit of work returns is read (a "witness"): what was
done once it returned must not change after.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from bot.services import admin as admin_service
from bot.services import broadcasts as broadcast_service
from bot.services import panels as panel_service
from bot.services import proposals as proposal_service
from bot.services import voting as voting_service
from domain.broadcasts import Audience, Segment
from domain.broadcasts import Status as BroadcastStatus
from domain.panels import ApplicationStatus, Refusal, seats_and_quotas
from domain.proposals import DebateKind, Stance, Status
from domain.roles import Role
from storage.db import Database
from storage.panels import Application, PanelsRepository
from storage.privacy import erase_person
from storage.programmes import ProgrammesRepository
from storage.proposals import ProposalsRepository
from storage.roles import RolesRepository
from tests.panels.conftest import ADMIN, ADMINS, AFTER_RECRUITMENT, RECRUITING, answers, seed_panels
from tests.proposals.conftest import IN_PB_CALL, seed_programmes, sign_up
from tests.storage.test_locks import (  # noqa: F401 (connected: a fixture)
    committed_pool_is_the_applied,
    connected,
    submitted_proposal,
)
from tests.voting.conftest import DURING_VOTE, ballot_file

REVIEWER = 9000
REJECT = proposal_service.ReviewAction(Status.REJECTED, note="중복 제안")


async def spread(*calls: Callable[[], Awaitable[Any]], step: float = 1.0) -> list[Any]:
    """Start the calls `step` milliseconds apart, so they fall over each other's units of
    work."""

    async def late(n: int, call: Callable[[], Awaitable[Any]]) -> Any:
        await asyncio.sleep(n * step / 1000)
        return await call()

    return await asyncio.gather(*(late(n, call) for n, call in enumerate(calls)))


# -- proposal -------------------------------------------------------------------------------
async def support_count(db: Database, proposal_id: int) -> int:
    async with db.reading() as session:
        proposal = await ProposalsRepository(session).get(proposal_id)
    assert proposal is not None
    return proposal.support_count


async def test_proposal_no_support_is_withdrawn_once_the_proposal_is_decided(
    db: Database,
) -> None:
    """Eight supporters withdraw their 공감 while the reviewer rejects the proposal: once
    the decision is made, the count it was made at stays (the `proposal` lock in
    withdraw_support: support is withdrawn only while it is collected)."""
    await seed_programmes(db)
    supporters = range(2, 10)
    await sign_up(db, 1, *supporters, REVIEWER)
    proposal_id = await submitted_proposal(db)
    for user in supporters:
        assert await proposal_service.support(db, proposal_id, user, IN_PB_CALL) is (
            proposal_service.Outcome.DONE
        )

    async def decide() -> int:
        outcome = await proposal_service.review(
            db, proposal_id, REVIEWER, REJECT, IN_PB_CALL, {REVIEWER}
        )
        assert outcome is proposal_service.Outcome.DONE
        return await support_count(db, proposal_id)  # the witness

    decided_at, withdrawals = await asyncio.gather(
        decide(),
        spread(
            *(
                lambda user=user: proposal_service.withdraw_support(
                    db, proposal_id, user, IN_PB_CALL
                )
                for user in supporters
            )
        ),
    )
    outcomes = Counter(withdrawals)
    assert set(outcomes) <= {proposal_service.Outcome.DONE, proposal_service.Outcome.CLOSED}
    assert await support_count(db, proposal_id) == decided_at
    assert decided_at == len(supporters) - outcomes[proposal_service.Outcome.DONE]


DEBATE_NOTE = re.compile(r"(\d+)명 참여, 찬성 (\d+)명, 반대 (\d+)명")


async def proposal_in_debate(db: Database) -> int:
    """A proposal past its goal (3), in a for-and-against debate ending 30 days on."""
    await seed_programmes(db, small_goal=True)
    await sign_up(db, 1, 2, 3, 4, REVIEWER)
    proposal_id = await submitted_proposal(db)
    for user in (2, 3, 4):
        await proposal_service.support(db, proposal_id, user, IN_PB_CALL)
    debate = proposal_service.ReviewAction(Status.IN_DEBATE, debate_kind=DebateKind.FOR_AGAINST)
    outcome = await proposal_service.review(
        db, proposal_id, REVIEWER, debate, IN_PB_CALL, {REVIEWER}
    )
    assert outcome is proposal_service.Outcome.DONE
    return proposal_id


async def test_proposal_every_stance_taken_in_the_debate_counts_in_its_result(
    db: Database,
) -> None:
    """Eight people take a side in the debate's last second while the deadline job ends it:
    the result recorded counts every stance stored, none lands after it (the `proposal`
    lock in set_stance, which close_due takes for each debate it ends)."""
    proposal_id = await proposal_in_debate(db)
    voters = range(10, 18)
    await sign_up(db, *voters)
    end = IN_PB_CALL + timedelta(days=30)
    stances = [
        lambda user=user: proposal_service.set_stance(
            db, proposal_id, user, Stance.FOR if user % 2 else Stance.AGAINST,
            end - timedelta(seconds=1),
        )
        for user in voters
    ]  # fmt: skip
    closed, taken = await asyncio.gather(
        proposal_service.close_due(db, end + timedelta(seconds=1)), spread(*stances)
    )
    assert closed == 1
    assert set(taken) <= {proposal_service.Outcome.DONE, proposal_service.Outcome.CLOSED}
    async with db.reading() as session:
        repository = ProposalsRepository(session)
        note = (await repository.history(proposal_id))[-1].note
        counts = await repository.stance_counts(proposal_id)
    found = DEBATE_NOTE.search(note or "")
    assert found is not None, note
    people, in_favour, against = map(int, found.groups())
    assert (in_favour, against) == (counts[Stance.FOR], counts[Stance.AGAINST])
    assert people == in_favour + against == taken.count(proposal_service.Outcome.DONE)


async def comment_count(db: Database, proposal_id: int) -> int:
    async with db.reading() as session:
        count: int = await session.scalar(
            "SELECT COUNT(*) FROM comments WHERE proposal_id = ?", (proposal_id,)
        )
    return count


async def withdrawn(db: Database, proposal_id: int, author: int) -> None:
    outcome = await proposal_service.withdraw(db, proposal_id, author, IN_PB_CALL)
    assert outcome is proposal_service.Outcome.DONE


async def rejected(db: Database, proposal_id: int, author: int) -> None:
    outcome = await proposal_service.review(
        db, proposal_id, REVIEWER, REJECT, IN_PB_CALL, {REVIEWER}
    )
    assert outcome is proposal_service.Outcome.DONE


async def removed(db: Database, proposal_id: int, author: int) -> None:
    result = await admin_service.decide(
        db, REVIEWER, "proposal", proposal_id, admin_service.Decision.REMOVE, "광고",
        IN_PB_CALL, {REVIEWER},
    )  # fmt: skip
    assert result is admin_service.Result.DONE


@pytest.mark.parametrize("close", [withdrawn, rejected, removed])
async def test_proposal_no_comment_lands_once_it_is_closed_or_hidden(
    db: Database, close: Callable[[Database, int, int], Awaitable[None]]
) -> None:
    """Eight people comment while the proposal is withdrawn, rejected or removed by a
    moderator: once that is done, no comment is added to it (the `proposal` lock in
    proposals.comment, which withdraw, review and the moderator's decision take). Ten
    proposals, one after the other, so that some comments fall on the close."""
    await seed_programmes(db)
    commenters = range(20, 28)
    authors = range(1, 11)
    await sign_up(db, *authors, *commenters, REVIEWER)
    for author in authors:
        proposal_id = await submitted_proposal(db, author)

        async def closing(proposal_id: int = proposal_id, author: int = author) -> int:
            await close(db, proposal_id, author)
            return await comment_count(db, proposal_id)  # the witness

        comments = [
            lambda user=user, proposal_id=proposal_id: proposal_service.comment(
                db, proposal_id, user, "저도 같은 생각이에요.", None, IN_PB_CALL
            )
            for user in commenters
        ]
        closed_at, outcomes = await asyncio.gather(
            closing(), spread(*comments, step=author % 3 + 0.5)
        )
        assert set(outcomes) <= {
            proposal_service.Outcome.DONE,
            proposal_service.Outcome.CLOSED,
            proposal_service.Outcome.NOT_FOUND,
        }
        assert await comment_count(db, proposal_id) == closed_at
        assert closed_at == outcomes.count(proposal_service.Outcome.DONE)


# -- heading --------------------------------------------------------------------------------
async def test_heading_a_tally_while_ballots_are_mixed_counts_every_ballot_once(
    db: Database,
) -> None:
    """Tallies run while the heading's sealed ballots are mixed into the ballot table: each
    counts every ballot cast, once (the `heading` lock in run_tally, which the mix takes:
    the tally reads the table, then the sealed ones, and a mix between the two reads would
    hide the ballots it moved)."""
    await seed_programmes(db)
    ids = {h.key: i for i, h in await voting_service.import_ballot(db, ballot_file)}
    heading = ids["city"]
    voters = iter(range(1, 121))
    await sign_up(db, *range(1, 121))
    cast = 0
    for round_ in range(12):
        for user in [next(voters) for _ in range(10)]:
            result = await voting_service.cast(db, user, heading, ["a", "c"], DURING_VOTE, 14)
            assert result.refusal is None
        cast += 10
        tallies = [
            lambda: voting_service.run_tally(db, heading, None, DURING_VOTE) for _ in range(3)
        ]
        mixed, counted = await asyncio.gather(
            voting_service.mix_ballots(db, [heading]), spread(*tallies)
        )
        assert mixed == 10
        assert [outcome.online for outcome in counted] == [cast] * 3, round_


# -- broadcast ------------------------------------------------------------------------------
async def test_broadcast_controls_at_once_leave_its_messages_as_its_status_says(
    db: Database,
) -> None:
    """Two admins pause and cancel a broadcast at once (and pause again): it ends cancelled
    with nothing left to send, and each move that was made is in the audit log once. Kept
    by the status UPDATE's condition even without the `broadcast` lock in control
    (checked): its row lock holds the second move until the first commits, which then
    finds the status moved (UNCHANGED)."""
    await sign_up(db, 9000, 9001, *range(1, 21))
    async with db.transaction() as session:
        await RolesRepository(session).grant(9001, Role.ADMIN, IN_PB_CALL)
    admins = {9000}
    for _ in range(4):
        draft = await broadcast_service.create_draft(
            db, 9000, {"ko": "안녕하세요"}, None, None, Audience(segment=Segment.EVERYONE),
            IN_PB_CALL, admins,
        )  # fmt: skip
        assert draft is not None
        confirmed = await broadcast_service.confirm(db, 9000, draft.id, IN_PB_CALL, admins, "ko")
        assert confirmed.result is broadcast_service.Result.DONE
        moves = ((9000, "pause"), (9001, "cancel"), (9000, "pause"))
        pause, cancel, again = await asyncio.gather(
            *(
                broadcast_service.control(db, actor, draft.id, action, IN_PB_CALL, admins)
                for actor, action in moves
            )
        )
        assert cancel is broadcast_service.Result.DONE
        assert Counter((pause, again))[broadcast_service.Result.DONE] <= 1
        assert {pause, again} <= {broadcast_service.Result.DONE, broadcast_service.Result.UNCHANGED}
        async with db.reading() as session:
            status = await session.scalar("SELECT status FROM broadcasts WHERE id = ?", (draft.id,))
            pending = await session.scalar(
                "SELECT COUNT(*) FROM outbox WHERE broadcast_id = ? AND status = 'pending'",
                (draft.id,),
            )
            logged = await session.fetchall(
                "SELECT action FROM audit_log WHERE subject = ?", (f"broadcast:{draft.id}",)
            )
        assert status == BroadcastStatus.CANCELLED.value and pending == 0
        actions = Counter(row[0] for row in logged)
        done = Counter(
            action
            for (_, action), result in zip(moves, (pause, cancel, again), strict=True)
            if result is broadcast_service.Result.DONE
        )
        assert actions["broadcast pause"] == done["pause"]
        assert actions["broadcast cancel"] == done["cancel"] == 1


# -- panel ----------------------------------------------------------------------------------
WOMEN, MEN = (1, 2, 3, 4, 5), (11, 12, 13, 14, 15)


async def applied(db: Database, panel: int, women: tuple[int, ...], men: tuple[int, ...]) -> None:
    await sign_up(db, *women, *men, ADMIN)
    for user in (*women, *men):
        given = answers("female" if user in women else "male")
        assert (await panel_service.apply(db, user, panel, given, RECRUITING, 14)).refusal is None


async def test_panel_withdrawals_as_the_list_is_fixed_are_in_it_or_refused(
    db: Database,
) -> None:
    """Applicants withdraw as an admin fixes the list: each withdrawal is either made before
    (and they are not in the committed pool) or refused, never made after with them in it
    (the `panel` lock in withdraw, which commit takes)."""
    ids = await seed_panels(db)
    panel = ids["small-panel"]
    leaving = (*WOMEN[2:], *MEN[2:])
    await applied(db, panel, WOMEN, MEN)
    withdrawals = [
        lambda user=user: panel_service.withdraw(db, user, panel, AFTER_RECRUITMENT)
        for user in leaving
    ]
    committed, refusals = await asyncio.gather(
        panel_service.commit(db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS), spread(*withdrawals)
    )
    assert committed.refusal is None
    assert set(refusals) <= {None, Refusal.LIST_FIXED}
    await committed_pool_is_the_applied(db, panel)
    assert committed.pool_size == len(WOMEN) + len(MEN) - refusals.count(None)


async def test_panel_a_quota_plan_saved_as_the_list_is_fixed_is_the_one_it_fixed(
    db: Database,
) -> None:
    """Admins save a narrower quota tolerance while another fixes the list: the plan is
    either saved first and committed, or refused, never saved after the commitment fixed
    the old one (the `panel` lock in set_quota_plan, which commit takes)."""
    ids = await seed_panels(db)
    panel = ids["full-panel"]

    async def plan(tolerance: float) -> Refusal | None:
        return await panel_service.set_quota_plan(
            db, ADMIN, panel, ["gender"], tolerance, AFTER_RECRUITMENT, ADMINS
        )

    await sign_up(db, ADMIN)
    assert await plan(1.0) is None
    await applied(db, panel, WOMEN, MEN)
    committed, saved = await asyncio.gather(
        panel_service.commit(db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS),
        spread(*(lambda: plan(0.5) for _ in range(3))),
    )
    assert committed.refusal is None, committed
    assert set(saved) <= {None, Refusal.COMMITTED}
    async with db.reading() as session:
        record = await PanelsRepository(session).draw(panel)
        programme = await ProgrammesRepository(session).by_id(panel)
    assert record is not None and programme is not None
    _, quotas = seats_and_quotas(panel_service.rules_of(programme), record.pool)
    assert list(record.quotas) == quotas


async def panel_with_an_empty_seat(db: Database) -> int:
    """The small panel drawn with its only two women, one of whom declines: no woman is
    left on the reserve list, so her seat stays empty (five men wait)."""
    ids = await seed_panels(db)
    panel = ids["small-panel"]
    await applied(db, panel, WOMEN[:2], (*MEN, 16, 17))
    assert (await panel_service.commit(db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS)).refusal is None
    drawn = await panel_service.draw(db, ADMIN, panel, "2027-04-05", AFTER_RECRUITMENT, ADMINS)
    assert drawn.refusal is None
    async with db.reading() as session:
        invited = await PanelsRepository(session).in_status(panel, {ApplicationStatus.INVITED})
    await decline(db, next(a for a in invited if a.features["gender"] == "female"))
    return panel


async def decline(db: Database, invited: Application) -> None:
    """The invited decline: a man's seat stays empty too (two men already sit, the most
    the quotas allow, and no woman waits)."""
    refusal = await panel_service.respond(
        db, invited.user_id or 0, invited.id, False, AFTER_RECRUITMENT, ADMINS
    )
    assert refusal is None


async def test_panel_one_empty_seat_one_invitation_outside_the_quotas(db: Database) -> None:
    """Three taps at once (two admins and a double tap) on "invite the next reserve anyway"
    for one empty seat: one invitation, one audit entry; the others are told the seat is
    taken (the `panel` lock in invite_outside_quotas). Four times: each invited declines."""
    panel = await panel_with_an_empty_seat(db)
    for round_ in range(1, 5):
        invitations = await asyncio.gather(
            *(
                panel_service.invite_outside_quotas(db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS)
                for _ in range(3)
            )
        )
        refusals = Counter(i if isinstance(i, Refusal) else None for i in invitations)
        assert refusals == {None: 1, Refusal.ALREADY: 2}
        async with db.reading() as session:
            seated = await PanelsRepository(session).in_status(panel, {ApplicationStatus.INVITED})
            logged = await session.scalar(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'panel_outside_quotas'"
            )
        assert len(seated) == 4 and logged == round_
        await decline(db, next(i for i in invitations if isinstance(i, Application)))


async def test_panel_the_fill_report_reads_one_state(db: Database) -> None:
    """Admins look at how full the panel is while another invites a reserve into the empty
    seat: each report's count of vacancies agrees with the members it lists (the `panel`
    lock in fill: its two reads fall on one side of the invitation). Four times: each
    invited declines."""
    panel = await panel_with_an_empty_seat(db)
    looks = [
        lambda: panel_service.fill(db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS) for _ in range(8)
    ]
    for _ in range(4):
        invited, reports = await asyncio.gather(
            panel_service.invite_outside_quotas(db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS),
            spread(*looks, step=0.5),
        )
        assert isinstance(invited, Application)
        for report in reports:
            assert isinstance(report, panel_service.Fill)
            members = sum(s.applicants for s in report.seated_strata if s.quota.feature == "gender")
            assert report.vacancies == report.seats - members, report.counts
        await decline(db, invited)


# -- erasure --------------------------------------------------------------------------------
async def test_person_erasure_and_grants_at_once_leave_no_role(db: Database) -> None:
    """An admin grants roles to people as they erase themselves: no role is left for an
    erased person (erasure deletes their roles; the `person` lock in admin.grant makes a
    grant after it find no one)."""
    people = range(1, 6)
    await sign_up(db, 9000, *people)
    roles = [(Role.MODERATOR, ""), (Role.WASTE_OFFICER, "")] + [
        (Role.REVIEWER, field) for field in ("transport", "environment", "welfare", "housing")
    ]

    async def erase(user_id: int) -> None:
        async with db.transaction() as session:
            await erase_person(session, user_id)

    for user in people:
        grants = [
            lambda user=user, role=role, scope=scope: admin_service.grant(
                db, 9000, user, role, scope, IN_PB_CALL, frozenset({9000})
            )
            for role, scope in roles
        ]
        await asyncio.gather(erase(user), spread(*grants, step=user / 2))
    async with db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM roles") == 0
        assert await session.scalar("SELECT COUNT(*) FROM people") == 1
