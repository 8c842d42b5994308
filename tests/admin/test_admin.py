"""Roles, moderation, posting blocks and the audit log (SPEC §2; issue 8)."""

from __future__ import annotations

import json

import pytest

from bot.services import admin as service
from bot.services import proposals as proposals_service
from bot.services import voting as voting_service
from domain.proposals import Refusal, Scope
from domain.roles import Role
from storage import audit
from storage.db import Database
from storage.proposals import ProposalsRepository
from storage.roles import RolesRepository
from tests.harness import Harness, said
from tests.proposals.conftest import IN_PB_CALL, seed_programmes, sign_up
from tests.voting.conftest import ballot_file

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


def labels_of(message: dict[str, object]) -> list[str]:
    markup = message.get("reply_markup") or {}
    rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
    return [button["text"] for row in rows for button in row]


async def test_roles_are_granted_by_person_not_number(harness: Harness) -> None:
    from tests.journeys.steps import sign_up as sign_up_in_chat

    harness.set_now(NOW)
    people = {
        ADMIN: ("김민지", "minji_k"),
        MODERATOR: ("박서준", "SeoJun"),
        CITIZEN: ("이하늘", None),
    }
    for user_id, (name, username) in people.items():
        harness.api.name(user_id, name, username)
        await sign_up_in_chat(harness, user_id)
    await harness.say(9000, "/admin")
    await harness.press(9000, "권한")

    # Picked from the people who used the bot lately, by name.
    replies = await harness.press(9000, "운영자 권한 주기")
    question = replies[-1]
    assert "누구에게 운영자 권한을 드릴까요?" in question["text"]
    assert {"김민지 (@minji_k)", "박서준 (@seojun)", "이하늘"} <= set(labels_of(question))
    replies = await harness.press(9000, "이하늘")
    assert "처리했어요. 이하늘 님에게 운영자 권한을 드렸어요." in said(replies)

    # By @username (any case); a reviewer is asked for a policy field, and only that.
    await harness.say(9000, "/admin")
    await harness.press(9000, "권한")
    await harness.press(9000, "검토자 권한 주기")
    replies = await harness.say(9000, "@nobody")
    assert "@nobody 님을 찾지 못했어요." in said(replies)
    replies = await harness.say(9000, "@SEOJUN")
    question = replies[-1]
    assert question["text"] == "박서준 (@seojun) 님은 어느 정책분야의 제안을 검토할까요?"
    assert "교통" in labels_of(question) and "기관" not in question["text"]
    replies = await harness.press(9000, "교통")
    assert "박서준 (@seojun) 님에게 검토자 · transport 권한을 드렸어요." in said(replies)

    # By forwarding a message the person wrote; a waste officer is asked for an agency only.
    await harness.say(9000, "/admin")
    await harness.press(9000, "권한")
    await harness.press(9000, "예산낭비신고 담당자 권한 주기")
    replies = await harness.forward(9000, 9999, "안녕하세요")  # never signed up
    assert "아직 가입하지 않았어요" in said(replies)
    replies = await harness.forward(9000, ADMIN, "안녕하세요", hidden=True)
    assert "전달한 메시지에 작성자가 보이지 않아요" in said(replies)
    replies = await harness.forward(9000, ADMIN, "안녕하세요")
    question = replies[-1]
    assert "김민지 (@minji_k) 님은 어느 기관·부서의 예산낭비신고를 맡을까요?" in question["text"]
    assert labels_of(question) == ["전체", "취소"]  # no policy fields: not a waste case's
    replies = await harness.say(9000, "마포구청 건설관리과")
    assert "김민지 (@minji_k) 님에게 예산낭비신고 담당자 · 마포구청 건설관리과" in said(replies)

    async with harness.db.reading() as session:
        roles = RolesRepository(session)
        assert await roles.has(CITIZEN, Role.MODERATOR)
        assert await roles.scopes(MODERATOR, Role.REVIEWER) == {"transport"}
        assert await roles.scopes(ADMIN, Role.WASTE_OFFICER) == {"마포구청 건설관리과"}
    # Shown by name in the list of roles.
    await harness.say(9000, "/admin")
    replies = await harness.press(9000, "권한")
    assert "이하늘 · 운영자" in said(replies) and "박서준 (@seojun) · 검토자 · transport" in said(
        replies
    )
    assert f"{CITIZEN} · " not in said(replies)
    assert not harness.errors.records


async def test_each_step_of_a_grant_checks_the_role_again(harness: Harness) -> None:
    from tests.journeys.steps import sign_up as sign_up_in_chat

    harness.set_now(NOW)
    await sign_up_in_chat(harness, CITIZEN)
    await sign_up_in_chat(harness, ADMIN)
    async with harness.db.transaction() as session:
        await RolesRepository(session).grant(ADMIN, Role.ADMIN, NOW)
    await harness.say(ADMIN, "/admin")
    await harness.press(ADMIN, "권한")
    await harness.press(ADMIN, "운영자 권한 주기")
    async with harness.db.transaction() as session:  # revoked while the question is open
        await RolesRepository(session).revoke(ADMIN, Role.ADMIN)
    replies = await harness.press(ADMIN, "시민")
    assert "관리자만 쓸 수 있어요" in said(replies)
    async with harness.db.reading() as session:
        assert not await RolesRepository(session).has(CITIZEN, Role.MODERATOR)
        logged = await session.scalar(
            "SELECT COUNT(*) FROM audit_log WHERE actor_id = ? AND subject = 'grant:person'",
            (ADMIN,),
        )
    assert logged == 1
    # The audit log names who did it, with their number.
    await harness.say(9000, "/admin")
    replies = await harness.press(9000, "감사 기록")
    assert f"시민 #{ADMIN} · refused · grant:person" in said(replies)
    assert not harness.errors.records


async def test_the_kept_name_is_in_the_export_and_goes_with_erasure(harness: Harness) -> None:
    from storage.privacy import erase_person, export_person
    from tests.journeys.steps import sign_up as sign_up_in_chat

    harness.set_now(NOW)
    harness.api.name(CITIZEN, "이하늘", "haneul")
    await harness.say(CITIZEN, "/help")  # not signed up: nothing kept
    async with harness.db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM people_names") == 0
    await sign_up_in_chat(harness, CITIZEN)
    async with harness.db.transaction() as session:
        exported = await export_person(session, CITIZEN)
        assert exported["telegram_name"]["full_name"] == "이하늘"
        assert exported["telegram_name"]["username"] == "haneul"
        await erase_person(session, CITIZEN)
        assert await session.scalar("SELECT COUNT(*) FROM people_names") == 0


async def test_erasure_takes_the_roles_held_and_the_admin_menu(harness: Harness) -> None:
    """/deleteme erases everything stored about the person (SPEC §2), their roles too: an
    erased admin holds none, and their chat loses the admin commands. A role they granted
    stays with whom it was granted to, no longer naming them."""
    harness.set_now(NOW)
    await sign_up(harness.db, 9000, ADMIN, MODERATOR)
    await harness.say(9000, "/admin")
    await harness.press(9000, "권한")
    await harness.press(9000, "관리자 권한 주기")
    assert "처리했어요" in said(await harness.say(9000, str(ADMIN)))
    await harness.say(ADMIN, "/admin")
    await harness.press(ADMIN, "권한")
    await harness.press(ADMIN, "운영자 권한 주기")
    assert "처리했어요" in said(await harness.say(ADMIN, str(MODERATOR)))
    menu = (f'{{"chat_id": {ADMIN}, "type": "chat"}}', "ko")
    assert "admin" in {c["command"] for c in harness.api.commands[menu]}

    await harness.say(ADMIN, "/deleteme")
    await harness.press(ADMIN, "네, 모두 삭제합니다")
    async with harness.db.reading() as session:
        roles = await session.fetchall("SELECT user_id, role, granted_by FROM roles")
        assert not await RolesRepository(session).has(ADMIN, Role.ADMIN)
    assert [tuple(r) for r in roles] == [(MODERATOR, "moderator", None)]
    assert menu not in harness.api.commands
    assert not harness.errors.records


async def test_every_officials_screen_is_reachable_from_admin(harness: Harness) -> None:
    harness.set_now(NOW)
    await sign_up(harness.db, 9000, MODERATOR, AUTHOR)
    async with harness.db.transaction() as session:
        roles = RolesRepository(session)
        await roles.grant(MODERATOR, Role.REVIEWER, NOW, scope="transport")
        await roles.grant(AUTHOR, Role.WASTE_OFFICER, NOW, scope="마포구청 건설관리과")
    replies = await harness.say(9000, "/admin")
    assert {"제안 검토", "투표 결과", "시민참여단 관리", "예산낭비신고 처리"} <= set(
        labels_of(replies[-1])
    )
    replies = await harness.press(9000, "투표 결과")
    assert "준비된 투표가 없어요." in said(replies)
    replies = await harness.press(9000, "시민참여단 관리")
    assert "예산학교" in str(replies[-1].get("reply_markup"))
    # Each person sees the screens of their own roles only, and each opens.
    replies = await harness.say(MODERATOR, "/admin")
    assert {"제안 검토"} == set(labels_of(replies[-1])) & {
        "제안 검토", "투표 결과", "시민참여단 관리", "예산낭비신고 처리",
    }  # fmt: skip
    replies = await harness.press(MODERATOR, "제안 검토")
    assert "검토자만" not in said(replies)
    replies = await harness.say(AUTHOR, "/admin")
    assert "예산낭비신고 처리" in labels_of(replies[-1])
    replies = await harness.press(AUTHOR, "예산낭비신고 처리")
    assert "담당자만" not in said(replies)
    assert not harness.errors.records


@pytest.mark.parametrize(
    ("button", "screen"),
    [
        ("투표 결과", "어느 투표의 결과를 볼까요?"),
        ("제안 검토", "답변을 기다리는 제안"),
        ("예산낭비신고 처리", "조건에 맞는 신고가 없어요"),
    ],
)
async def test_a_screen_opened_from_admin_replaces_the_menu(
    harness: Harness, button: str, screen: str
) -> None:
    # One message edited in place per step: the menu becomes the screen its button opens.
    harness.set_now(NOW)
    await seed_programmes(harness.db)
    await voting_service.import_ballot(harness.db, ballot_file)
    await harness.say(9000, "/admin")
    menu = harness.api.bot_messages(9000)[-1]
    sent = len(harness.api.bot_messages(9000))
    await harness.press(9000, button)
    shown = harness.api.bot_messages(9000)
    assert len(shown) == sent
    assert shown[-1]["message_id"] == menu["message_id"] and screen in shown[-1]["text"]
    assert not harness.errors.records
