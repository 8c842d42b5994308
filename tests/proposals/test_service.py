"""Proposals use cases on a real SQLite file (SPEC §4)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from bot.services import proposals as service
from domain.proposals import DebateKind, ProjectKind, Refusal, Scope, Stance, Status
from domain.roles import Role
from storage.db import Database
from storage.proposals import ProposalsRepository
from storage.roles import RolesRepository
from tests.proposals.conftest import IN_PB_CALL, seed_programmes, sign_up

NOW = IN_PB_CALL
ADMINS = frozenset({9000})


def draft(**changes: object) -> service.Draft:
    base: dict[str, object] = {
        "programme_key": "democracy-seoul",
        "title": "한강공원 쓰레기통 확충",
        "description": "주말마다 한강공원 쓰레기가 넘칩니다. 분리수거함을 늘려 주세요.",
        "field": "environment",
        "scope": Scope.CITY,
        "districts": ("mapo", "yeongdeungpo"),
    }
    base.update(changes)
    return service.Draft(**base)  # type: ignore[arg-type]


@pytest.fixture
async def ready(db: Database) -> Database:
    await seed_programmes(db, small_goal=True)
    await sign_up(db, *range(1, 11))
    return db


async def get(db: Database, proposal_id: int):  # type: ignore[no-untyped-def]
    async with db.reading() as session:
        return await ProposalsRepository(session).get(proposal_id)


async def outbox(db: Database) -> list[tuple[int, str]]:
    async with db.reading() as session:
        rows = await session.fetchall("SELECT user_id, payload FROM outbox ORDER BY id")
    return [(r["user_id"], json.loads(r["payload"])["text"]) for r in rows]


async def test_submit_publishes_with_a_support_window(ready: Database) -> None:
    result = await service.submit(ready, 1, draft(), NOW, 14)
    assert result.refusal is None and result.proposal_id is not None
    proposal = await get(ready, result.proposal_id)
    assert proposal.status is Status.PUBLISHED
    assert proposal.support_ends_at == NOW + timedelta(days=30)
    async with ready.reading() as session:
        history = await ProposalsRepository(session).history(result.proposal_id)
        assert await ProposalsRepository(session).follows(result.proposal_id, 1)
    assert [(e.status, e.actor_id) for e in history] == [(Status.PUBLISHED, 1)]


async def test_daily_limit_counts_from_midnight_in_seoul(ready: Database) -> None:
    for _ in range(3):
        assert (await service.submit(ready, 1, draft(), NOW, 14)).refusal is None
    assert (await service.submit(ready, 1, draft(), NOW, 14)).refusal is Refusal.DAILY_LIMIT
    # 03:00 UTC is noon in Seoul; midnight KST is 15:00 UTC.
    tomorrow = NOW.replace(hour=15, minute=0)
    assert (await service.submit(ready, 1, draft(), tomorrow, 14)).refusal is None


async def test_pb_rules_caps_districts_eligibility_and_stage(ready: Database) -> None:
    pb = {"programme_key": "pb-citywide-2027", "kind": ProjectKind.GENERAL}
    over = await service.submit(ready, 1, draft(**pb, cost=4_000_000_000), NOW, 14)
    assert over.refusal is Refusal.OVER_CAP
    event = {**pb, "kind": ProjectKind.EVENT}
    assert (await service.submit(ready, 1, draft(**event, cost=300_000_000), NOW, 14)).refusal is (
        Refusal.OVER_CAP
    )
    one = await service.submit(ready, 1, draft(**pb, cost=10**8, districts=("mapo",)), NOW, 14)
    assert one.refusal is Refusal.TOO_FEW_DISTRICTS
    fine = await service.submit(ready, 1, draft(**pb, cost=3_999_999_999), NOW, 14)
    assert fine.refusal is None
    await sign_up(ready, 50, eligible_for_pb=False)
    assert (await service.submit(ready, 50, draft(**pb, cost=10**8), NOW, 14)).refusal is (
        Refusal.INELIGIBLE
    )
    after_call = NOW.replace(month=3, day=5)
    assert (await service.submit(ready, 1, draft(**pb, cost=10**8), after_call, 14)).refusal is (
        Refusal.STAGE_CLOSED
    )


async def test_200_concurrent_supports_and_a_double_tap_count_exactly(db: Database) -> None:
    await seed_programmes(db)
    await sign_up(db, *range(1, 202))
    proposal_id = (await service.submit(db, 201, draft(), NOW, 14)).proposal_id
    assert proposal_id is not None
    taps = [service.support(db, proposal_id, user, NOW) for user in range(1, 201)]
    taps += [service.support(db, proposal_id, 7, NOW)]  # one person taps twice
    outcomes = await asyncio.gather(*taps)
    assert outcomes.count(service.Outcome.DONE) == 200
    assert outcomes.count(service.Outcome.ALREADY) == 1
    proposal = await get(db, proposal_id)
    async with db.reading() as session:
        rows = await session.scalar(
            "SELECT COUNT(*) FROM supports WHERE proposal_id = ?", (proposal_id,)
        )
    assert proposal.support_count == rows == 200


async def test_reaching_the_goal_changes_status_and_tells_followers(ready: Database) -> None:
    proposal_id = (await service.submit(ready, 1, draft(), NOW, 14)).proposal_id
    assert proposal_id is not None
    for user in (2, 3):
        assert await service.support(ready, proposal_id, user, NOW) is service.Outcome.DONE
    assert (await get(ready, proposal_id)).status is Status.PUBLISHED
    await service.support(ready, proposal_id, 4, NOW)
    assert (await get(ready, proposal_id)).status is Status.THRESHOLD_REACHED
    messages = await outbox(ready)
    # The proposer and the three supporters (who follow by default) are told.
    assert sorted(user for user, _ in messages) == [1, 2, 3, 4]
    assert all("의제 검토" in text for _, text in messages)


async def test_support_can_be_withdrawn_while_open(ready: Database) -> None:
    proposal_id = (await service.submit(ready, 1, draft(), NOW, 14)).proposal_id
    assert proposal_id is not None
    await service.support(ready, proposal_id, 2, NOW)
    assert await service.withdraw_support(ready, proposal_id, 2, NOW) is service.Outcome.DONE
    assert await service.withdraw_support(ready, proposal_id, 2, NOW) is service.Outcome.ALREADY
    assert (await get(ready, proposal_id)).support_count == 0
    late = NOW + timedelta(days=31)
    assert await service.support(ready, proposal_id, 3, late) is service.Outcome.CLOSED


async def test_deadline_marks_not_reached_once(ready: Database) -> None:
    proposal_id = (await service.submit(ready, 1, draft(), NOW, 14)).proposal_id
    assert proposal_id is not None
    assert await service.close_due(ready, NOW + timedelta(days=29)) == 0
    assert await service.close_due(ready, NOW + timedelta(days=30)) == 1
    assert await service.close_due(ready, NOW + timedelta(days=31)) == 0
    assert (await get(ready, proposal_id)).status is Status.NOT_REACHED


async def test_pb_call_closing_sends_proposals_to_review(ready: Database) -> None:
    pb = draft(programme_key="pb-citywide-2027", kind=ProjectKind.GENERAL, cost=10**8)
    proposal_id = (await service.submit(ready, 1, pb, NOW, 14)).proposal_id
    assert proposal_id is not None
    assert await service.close_call(ready, "pb-citywide-2027", NOW.replace(month=3)) == 1
    assert (await get(ready, proposal_id)).status is Status.UNDER_REVIEW


async def test_review_needs_the_role_for_the_field(ready: Database) -> None:
    proposal_id = (await service.submit(ready, 1, draft(), NOW, 14)).proposal_id
    assert proposal_id is not None
    answer = service.ReviewAction(Status.ACCEPTED, note="내년 예산에 반영하겠습니다.")
    assert await service.review(ready, proposal_id, 2, answer, NOW, ADMINS) is (
        service.Outcome.FORBIDDEN
    )
    async with ready.transaction() as session:
        await RolesRepository(session).grant(3, Role.REVIEWER, NOW, scope="transport")
        await RolesRepository(session).grant(4, Role.REVIEWER, NOW, scope="environment")
    assert await service.review(ready, proposal_id, 3, answer, NOW, ADMINS) is (
        service.Outcome.FORBIDDEN
    )
    assert await service.review(ready, proposal_id, 4, answer, NOW, ADMINS) is (
        service.Outcome.DONE
    )
    proposal = await get(ready, proposal_id)
    assert proposal.status is Status.ACCEPTED and proposal.answer == "내년 예산에 반영하겠습니다."
    # A decided proposal can't be rejected afterwards, even by a super-admin.
    reject = service.ReviewAction(Status.REJECTED, note="다시 생각해 보니")
    assert await service.review(ready, proposal_id, 9000, reject, NOW, ADMINS) is (
        service.Outcome.CLOSED
    )
    execution = service.ReviewAction(Status.IN_EXECUTION, note="설계 완료", progress=40)
    assert await service.review(ready, proposal_id, 9000, execution, NOW, ADMINS) is (
        service.Outcome.DONE
    )
    async with ready.reading() as session:
        history = await ProposalsRepository(session).history(proposal_id)
    assert [(e.status, e.actor_id, e.progress) for e in history][-2:] == [
        (Status.ACCEPTED, 4, None),
        (Status.IN_EXECUTION, 9000, 40),
    ]
    texts = [text for user, text in await outbox(ready) if user == 1]
    assert any("진행률: 40%" in text and "설계 완료" in text for text in texts)


async def test_merge_and_transfer(ready: Database) -> None:
    first = (await service.submit(ready, 1, draft(), NOW, 14)).proposal_id
    second = (await service.submit(ready, 2, draft(), NOW, 14)).proposal_id
    assert first is not None and second is not None
    merge = service.ReviewAction(Status.MERGED, merged_into=first)
    assert await service.review(ready, second, 9000, merge, NOW, ADMINS) is service.Outcome.DONE
    assert (await get(ready, second)).merged_into == first
    into_itself = service.ReviewAction(Status.MERGED, merged_into=first)
    assert await service.review(ready, first, 9000, into_itself, NOW, ADMINS) is (
        service.Outcome.NOT_FOUND
    )
    transfer = service.ReviewAction(Status.TRANSFERRED, transferred_to="mapo")
    assert await service.review(ready, first, 9000, transfer, NOW, ADMINS) is service.Outcome.DONE
    assert (await get(ready, first)).transferred_to == "mapo"


async def test_debate_outcome_is_applied_when_the_debate_ends(ready: Database) -> None:
    proposal_id = (await service.submit(ready, 1, draft(), NOW, 14)).proposal_id
    assert proposal_id is not None
    debate = service.ReviewAction(Status.IN_DEBATE, debate_kind=DebateKind.FOR_AGAINST)
    # Only proposals past the support goal or under review go to a public debate (공론).
    assert await service.review(ready, proposal_id, 9000, debate, NOW, ADMINS) is (
        service.Outcome.CLOSED
    )
    for user in (7, 8, 9):
        await service.support(ready, proposal_id, user, NOW)
    assert await service.review(ready, proposal_id, 9000, debate, NOW, ADMINS) is (
        service.Outcome.DONE
    )
    for user in (2, 3, 4):
        await service.set_stance(ready, proposal_id, user, Stance.FOR, NOW)
    await service.set_stance(ready, proposal_id, 5, Stance.AGAINST, NOW)
    await service.set_stance(ready, proposal_id, 4, Stance.AGAINST, NOW)  # changed their mind
    proposal = await get(ready, proposal_id)
    assert proposal.debate_ends_at == NOW + timedelta(days=30)
    assert await service.close_due(ready, NOW + timedelta(days=30)) == 1
    proposal = await get(ready, proposal_id)
    assert proposal.status is Status.UNDER_REVIEW
    async with ready.reading() as session:
        history = await ProposalsRepository(session).history(proposal_id)
    assert history[-1].note == "공론이 끝났어요. 4명 참여, 찬성 2명, 반대 2명."
    late = NOW + timedelta(days=31)
    assert await service.set_stance(ready, proposal_id, 6, Stance.FOR, late) is (
        service.Outcome.CLOSED
    )


async def test_reports_hide_content_after_the_configured_number(ready: Database) -> None:
    proposal_id = (await service.submit(ready, 1, draft(), NOW, 14)).proposal_id
    assert proposal_id is not None
    assert await service.comment(ready, proposal_id, 2, "좋은 제안입니다", None, NOW) is (
        service.Outcome.DONE
    )
    async with ready.reading() as session:
        (comment,) = await ProposalsRepository(session).comments(proposal_id)
    assert await service.report(ready, "comment", comment.id, 3, NOW) == (
        service.Outcome.DONE,
        False,
    )
    assert await service.report(ready, "comment", comment.id, 3, NOW) == (
        service.Outcome.ALREADY,
        False,
    )
    assert await service.report(ready, "comment", comment.id, 4, NOW) == (
        service.Outcome.DONE,
        True,
    )
    async with ready.reading() as session:
        assert await ProposalsRepository(session).comments(proposal_id) == []
    await service.report(ready, "proposal", proposal_id, 5, NOW)
    await service.report(ready, "proposal", proposal_id, 6, NOW)
    assert (await get(ready, proposal_id)).hidden
    assert await service.support(ready, proposal_id, 7, NOW) is service.Outcome.NOT_FOUND


async def test_withdrawal_by_the_proposer_only(ready: Database) -> None:
    proposal_id = (await service.submit(ready, 1, draft(), NOW, 14)).proposal_id
    assert proposal_id is not None
    assert await service.withdraw(ready, proposal_id, 2, NOW) is service.Outcome.FORBIDDEN
    assert await service.withdraw(ready, proposal_id, 1, NOW) is service.Outcome.DONE
    assert await service.withdraw(ready, proposal_id, 1, NOW) is service.Outcome.CLOSED


async def test_proposers_short_of_their_goal_are_reminded_once_per_offset(
    ready: Database,
) -> None:
    proposal_id = (await service.submit(ready, 1, draft(), NOW, 14)).proposal_id
    assert proposal_id is not None
    await service.support(ready, proposal_id, 2, NOW)
    offsets = (timedelta(hours=72), timedelta(hours=24), timedelta(hours=3))
    ends = NOW + timedelta(days=30)
    assert await service.queue_support_reminders(ready, ends - timedelta(days=4), offsets) == 0
    # Down for a while: at 10 hours left only the 24-hour reminder goes, not the 72-hour one.
    assert await service.queue_support_reminders(ready, ends - timedelta(hours=10), offsets) == 1
    assert await service.queue_support_reminders(ready, ends - timedelta(hours=9), offsets) == 0
    assert await service.queue_support_reminders(ready, ends - timedelta(hours=2), offsets) == 1
    texts = [text for user, text in await outbox(ready) if user == 1]
    assert texts[-2].startswith("“한강공원 쓰레기통 확충” 목표까지 공감 2개가 더 필요해요")
    assert "10시간 남음" in texts[-2] and "2시간 남음" in texts[-1]
    # Reached goals get no reminder.
    await service.support(ready, proposal_id, 3, NOW)
    await service.support(ready, proposal_id, 4, NOW)
    assert await service.queue_support_reminders(ready, ends - timedelta(hours=1), offsets) == 0


async def test_submitting_the_same_draft_twice_makes_one_proposal(ready: Database) -> None:
    keyed = draft(key="draft-1")
    first, second = await asyncio.gather(
        service.submit(ready, 1, keyed, NOW, 14), service.submit(ready, 1, keyed, NOW, 14)
    )
    assert first.proposal_id == second.proposal_id is not None
    async with ready.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM proposals") == 1
