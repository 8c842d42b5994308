"""The running bot: /settings through the fake Bot API, and the scheduler's jobs delivering."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.config import Settings
from bot.localapi.core import LocalBotApi
from domain.notifications import Category, Mode, Payload
from domain.programmes import parse_programmes
from storage import outbox
from storage.db import Database
from storage.notifications import NotificationSettingsRepository
from storage.people import PeopleRepository
from storage.programmes import ProgrammesRepository
from tests.harness import Harness, running_harness, said
from tests.notifications.conftest import NOON_KST, queue, sign_up, statuses, texts_to

ALICE, BOB = 501, 502


async def modes_of(db: Database, user_id: int) -> dict[Category, Mode]:
    async with db.reading() as session:
        return await NotificationSettingsRepository(session).modes(user_id)


async def test_settings_menu_changes_one_category(fast: Settings) -> None:
    async with running_harness(fast) as h:
        await sign_up(h.db, h.api, ALICE)
        (shown,) = await h.say(ALICE, "/settings")
        assert "마감 알림: 바로 받기" in shown["text"]
        assert "공지: 하루 한 번 08:00에 모아 받기" in shown["text"]
        assert "방해 금지 시간 22:00–08:00" in shown["text"]
        (choice,) = await h.press(ALICE, "공지")
        assert choice["message_id"] == shown["message_id"]  # edited in place
        assert "지금: 하루 한 번 08:00에 모아 받기" in choice["text"]
        (back,) = await h.press(ALICE, "받지 않기")
        assert "공지: 받지 않음" in back["text"]
        assert (await modes_of(h.db, ALICE))[Category.ANNOUNCEMENTS] is Mode.OFF
        await h.press(ALICE, "참여·관심 항목 소식")
        await h.press(ALICE, "알림 설정으로 돌아가기")
        assert (await modes_of(h.db, ALICE))[Category.UPDATES] is Mode.IMMEDIATE
        await h.press(ALICE, "마감 알림")
        await h.press(ALICE, "하루 한 번 모아 받기")
        assert (await modes_of(h.db, ALICE))[Category.DEADLINES] is Mode.DIGEST


async def test_settings_from_the_main_menu_and_before_sign_up(fast: Settings) -> None:
    async with running_harness(fast) as h:
        replies = await h.say(BOB, "/settings")
        assert "먼저 /start로 가입해 주세요" in said(replies)
        await sign_up(h.db, h.api, BOB)
        await h.say(BOB, "/menu")
        replies = await h.press(BOB, "알림 설정")
        assert "<b>알림 설정</b>" in said(replies)
        replies = await h.press_data(BOB, replies[-1]["message_id"], "ntf:set:direct:off")
        # Forged: DIRECT is not settable.
        assert "지난 버튼이라 더 이상 쓸 수 없어요" in said(replies)
        async with h.db.reading() as session:
            assert await session.scalar("SELECT COUNT(*) FROM notification_settings") == 0


async def test_the_running_bot_delivers_the_outbox(fast: Settings) -> None:
    async with running_harness(fast) as h:
        h.set_now(NOON_KST)
        await sign_up(h.db, h.api, ALICE, BOB)
        h.api.block(BOB)
        sent = await queue(h.db, ALICE, "공감 500을 넘었습니다", NOON_KST)
        blocked = await queue(h.db, BOB, "to someone who blocked the bot", NOON_KST)
        await h.api.wait_until(lambda: texts_to(h.api, ALICE) == ["공감 500을 넘었습니다"])
        await wait_for_status(h, blocked, "failed")
        assert (await statuses(h.db))[sent] == "sent"
        async with h.db.reading() as session:
            person = await PeopleRepository(session).get(BOB)
        assert person is not None and not person.active


async def wait_for_status(h: Harness, row_id: int | None, status: str) -> None:
    for _ in range(500):
        if (await statuses(h.db)).get(row_id) == status:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"row {row_id} never became {status}")


async def test_a_restart_does_not_resend_what_was_in_flight(fast: Settings) -> None:
    api = LocalBotApi()
    async with running_harness(fast, api) as h:
        h.set_now(NOON_KST)
        await sign_up(h.db, api, ALICE)
    # Between two runs, as if the process died right after claiming a row.
    async with running_harness(fast, api) as h:
        h.set_now(NOON_KST)
        async with h.db.transaction() as session:
            await outbox.enqueue(
                session,
                user_id=ALICE,
                category=Category.UPDATES,
                payload=Payload(text="in flight"),
                now=NOON_KST,
            )
            await session.execute("UPDATE outbox SET status = 'claimed'")
    async with running_harness(fast, api) as h:
        h.set_now(NOON_KST)
        waiting = await queue(h.db, ALICE, "pending", NOON_KST)
        await h.api.wait_until(lambda: texts_to(api, ALICE) == ["pending"])
        await wait_for_status(h, waiting, "sent")  # recorded just after the send
        assert await statuses(h.db) == {1: "unknown", waiting: "sent"}


OPENS_SOON = """
[[programme]]
key = "poll"
kind = "poll"
name = { ko = "서울시가 묻습니다", en = "Seoul asks" }
[[programme.stage]]
key = "vote"
name = { ko = "투표", en = "Vote" }
starts_at = 2090-05-04T11:00:00
ends_at = 2090-05-11T11:00:00
actions = ["vote"]
"""


async def test_a_stage_opening_is_announced_by_the_running_bot(fast: Settings) -> None:
    async with running_harness(fast) as h:
        h.set_now(NOON_KST)
        await sign_up(h.db, h.api, ALICE)
        await sign_up(h.db, h.api, BOB, language="en")
        async with h.db.transaction() as session:
            await NotificationSettingsRepository(session).set_mode(
                ALICE, Category.ANNOUNCEMENTS, Mode.IMMEDIATE, NOON_KST
            )
            await NotificationSettingsRepository(session).set_mode(
                BOB, Category.ANNOUNCEMENTS, Mode.IMMEDIATE, NOON_KST
            )
            (programme,) = parse_programmes(OPENS_SOON)
            await ProgrammesRepository(session).upsert(programme, NOON_KST)
        h.set_now(datetime(2090, 5, 4, 2, 0, 30, tzinfo=UTC))  # 11:00:30 KST
        await h.app.automation.tick()  # or the scheduler's own job, whichever comes first
        await h.api.wait_until(lambda: bool(texts_to(h.api, ALICE) and texts_to(h.api, BOB)))
        assert texts_to(h.api, ALICE)[0].startswith("<b>서울시가 묻습니다</b>: 투표 단계가 시작")
        assert "Vote is now open until" in texts_to(h.api, BOB)[0]
        await h.app.automation.tick()
        async with h.db.reading() as session:
            assert (
                await session.scalar(
                    "SELECT COUNT(*) FROM stage_transitions s JOIN stages"
                    " t ON t.id = s.stage_id WHERE t.key = 'vote'"
                )
                == 1
            )
        assert len(texts_to(h.api, ALICE)) == 1
