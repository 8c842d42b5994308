"""Roles, moderation, posting blocks and the audit log (SPEC §2; issue 8)."""

from __future__ import annotations

import json

import pytest

from bot.services import admin as service
from bot.services import proposals as proposals_service
from domain.proposals import Refusal, Scope
from domain.roles import Role
from storage import audit
from storage.db import Database
from storage.proposals import ProposalsRepository
from storage.roles import RolesRepository
from tests.harness import Harness, said
from tests.proposals.conftest import IN_PB_CALL, seed_programmes, sign_up

NOW = IN_PB_CALL
SUPER = frozenset({9000})
ADMIN, MODERATOR, CITIZEN, AUTHOR = 9001, 9002, 9003, 9004


@pytest.fixture
async def ready(db: Database) -> Database:
    await seed_programmes(db, small_goal=True)
    await sign_up(db, 9000, ADMIN, MODERATOR, CITIZEN, AUTHOR, 1, 2)
    return db


def draft() -> proposals_service.Draft:
    return proposals_service.Draft(
        programme_key="democracy-seoul",
        title="광고성 제안",
        description="이 제안은 신고를 받게 될 내용입니다.",
        field="economy",
        scope=Scope.CITY,
        districts=(),
    )


async def test_who_may_grant_what(ready: Database) -> None:
    assert await service.grant(ready, CITIZEN, 1, Role.MODERATOR, "", NOW, SUPER) is (
        service.Result.FORBIDDEN
    )
    assert await service.grant(ready, 9000, ADMIN, Role.ADMIN, "", NOW, SUPER) is (
        service.Result.DONE
    )
    # Admins grant lesser roles but do not make admins; only super-admins do.
    assert await service.grant(ready, ADMIN, MODERATOR, Role.MODERATOR, "", NOW, SUPER) is (
        service.Result.DONE
    )
    assert await service.grant(ready, ADMIN, 1, Role.ADMIN, "", NOW, SUPER) is (
        service.Result.FORBIDDEN
    )
    assert await service.grant(ready, ADMIN, 424242, Role.REVIEWER, "", NOW, SUPER) is (
        service.Result.NOT_FOUND
    )
    assert await service.revoke(ready, ADMIN, MODERATOR, Role.MODERATOR, "", NOW, SUPER) is (
        service.Result.DONE
    )
    async with ready.reading() as session:
        assert not await RolesRepository(session).has(MODERATOR, Role.MODERATOR)
        entries = await audit.entries(session, 20)
    actions = [(e.actor_id, e.action) for e in reversed(entries)]
    assert actions == [
        (CITIZEN, "refused"),
        (9000, "grant"),
        (ADMIN, "grant"),
        (ADMIN, "refused"),
        (ADMIN, "revoke"),
    ]


async def test_moderation_restore_remove_and_block(ready: Database) -> None:
    async with ready.transaction() as session:
        await RolesRepository(session).grant(MODERATOR, Role.MODERATOR, NOW)
    proposal_id = (await proposals_service.submit(ready, AUTHOR, draft(), NOW, 14)).proposal_id
    assert proposal_id is not None
    await proposals_service.report(ready, "proposal", proposal_id, 1, NOW)
    await proposals_service.report(ready, "proposal", proposal_id, 2, NOW)  # hidden at 2 here
    async with ready.reading() as session:
        (item,) = await service.moderation_queue(session)
    assert (item.target, item.target_id, item.hidden, item.reports) == (
        "proposal",
        proposal_id,
        True,
        2,
    )
    assert (
        await service.decide(
            ready, CITIZEN, "proposal", proposal_id, service.Decision.RESTORE, "", NOW, SUPER
        )
        is service.Result.FORBIDDEN
    )
    assert (
        await service.decide(
            ready, MODERATOR, "proposal", proposal_id, service.Decision.RESTORE, "", NOW, SUPER
        )
        is service.Result.DONE
    )
    async with ready.reading() as session:
        proposal = await ProposalsRepository(session).get(proposal_id)
        assert await service.moderation_queue(session) == []
    assert proposal is not None and not proposal.hidden

    await service.decide(
        ready, MODERATOR, "proposal", proposal_id, service.Decision.REMOVE, "광고입니다", NOW, SUPER
    )
    async with ready.reading() as session:
        proposal = await ProposalsRepository(session).get(proposal_id)
        notices = await session.fetchall(
            "SELECT user_id, payload FROM outbox WHERE user_id = ?", (AUTHOR,)
        )
    assert proposal is not None and proposal.hidden
    assert any("사유: 광고입니다" in json.loads(n["payload"])["text"] for n in notices)

    assert await service.block_posting(ready, MODERATOR, AUTHOR, "반복 광고", NOW, SUPER) is (
        service.Result.DONE
    )
    again = await proposals_service.submit(ready, AUTHOR, draft(), NOW, 14)
    assert again.refusal is Refusal.BLOCKED
    assert await proposals_service.comment(ready, proposal_id, AUTHOR, "또 광고", None, NOW) is (
        proposals_service.Outcome.BLOCKED
    )
    await service.block_posting(ready, MODERATOR, AUTHOR, "", NOW, SUPER, block=False)
    assert (await proposals_service.submit(ready, AUTHOR, draft(), NOW, 14)).refusal is None


async def test_admin_in_the_chat_and_refusals_are_logged(harness: Harness) -> None:
    harness.set_now(NOW)
    await sign_up(harness.db, 9000, CITIZEN, MODERATOR)
    replies = await harness.say(CITIZEN, "/admin")
    assert "관리자만 쓸 수 있어요" in said(replies)
    message_id = harness.api.bot_messages(CITIZEN)[-1]["message_id"]
    replies = await harness.press_data(CITIZEN, message_id, "adm:roles")
    assert "관리자만" in said(replies)
    await harness.press_data(CITIZEN, message_id, "adm:g:moderator")
    await harness.say(CITIZEN, str(CITIZEN))
    async with harness.db.reading() as session:
        assert not await RolesRepository(session).has(CITIZEN, Role.MODERATOR)

    await harness.say(9000, "/admin")
    await harness.press(9000, "권한")
    await harness.press(9000, "운영자 권한 주기")
    replies = await harness.say(9000, str(MODERATOR))
    assert "처리했어요" in said(replies)
    async with harness.db.reading() as session:
        assert await RolesRepository(session).has(MODERATOR, Role.MODERATOR)
    # The new moderator's command menu now carries the admin commands.
    scoped = harness.api.commands[(f'{{"chat_id": {MODERATOR}, "type": "chat"}}', "ko")]
    assert "admin" in {c["command"] for c in scoped}

    await harness.say(9000, "/admin")
    replies = await harness.press(9000, "감사 기록")
    assert f"{CITIZEN} · refused" in said(replies)
    assert f"9000 · grant · user:{MODERATOR}" in said(replies)
