"""The daily digest: one message per person per day grouping what they chose to get so."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from bot.automation import Automation
from bot.config import Settings
from bot.context import Services
from bot.localapi.core import LocalBotApi
from bot.notifications.sender import OutboxSender
from domain.notifications import Category, Mode
from storage.db import Database
from storage.notifications import NotificationSettingsRepository
from tests.notifications.conftest import Clock, drain, queue, sign_up, statuses, texts_to

# 13:00 KST on 4 May; the digest goes out at 08:00 KST (23:00 UTC the day before).
AFTERNOON = datetime(2090, 5, 4, 4, 0, tzinfo=UTC)
NEXT_MORNING = datetime(2090, 5, 4, 23, 0, tzinfo=UTC)


async def test_one_digest_a_day_groups_the_items_by_kind(
    db: Database, api: LocalBotApi, fast: Settings, sender: OutboxSender, clock: Clock
) -> None:
    await sign_up(db, api, 1, 2)
    async with db.transaction() as session:
        repository = NotificationSettingsRepository(session)
        for category in (Category.UPDATES, Category.DEADLINES):
            await repository.set_mode(1, category, Mode.DIGEST, AFTERNOON)
    automation = Automation(Services(settings=fast, db=db, clock=clock))
    clock.now = AFTERNOON
    await automation.tick()  # today's digest time has passed: nothing parked yet
    await queue(db, 1, "Update: <your proposal> is under review", clock.now)
    await queue(db, 1, "The vote closes in 3 days", clock.now, category=Category.DEADLINES)
    await queue(db, 1, "Seoul asks: vote is open", clock.now, category=Category.ANNOUNCEMENTS)
    await queue(db, 1, "Urgent: confirm your seat", clock.now, urgent=True)
    await queue(db, 2, "Update for someone on immediate", clock.now)
    await drain(sender)
    assert texts_to(api, 1) == ["Urgent: confirm your seat"]
    assert texts_to(api, 2) == ["Update for someone on immediate"]

    clock.now = NEXT_MORNING - timedelta(seconds=1)
    assert (await automation.tick()).digests == 0
    clock.now = NEXT_MORNING
    assert (await automation.tick()).digests == 1
    assert (await automation.tick()).digests == 0
    await drain(sender)
    digest = texts_to(api, 1)[1]
    assert texts_to(api, 1)[2:] == []
    assert "&lt;your proposal&gt;" in digest  # plain items are escaped inside the HTML
    assert html.unescape(re.sub(r"<[^>]+>", "", digest)).splitlines() == [
        "오늘의 알림 모음 (2090년 5월 5일 (금))",
        "",
        "마감 알림",
        "• The vote closes in 3 days",
        "",
        "참여·관심 항목 소식",
        "• Update: <your proposal> is under review",
        "",
        "공지",
        "• Seoul asks: vote is open",
    ]
    assert set((await statuses(db)).values()) == {"sent", "digested"}

    # Later the same day: it waits for tomorrow's digest.
    clock.now = NEXT_MORNING + timedelta(hours=2)
    await queue(db, 1, "A later update", clock.now)
    await drain(sender)
    await automation.tick()
    await drain(sender)
    assert len(texts_to(api, 1)) == 2
    clock.now = NEXT_MORNING + timedelta(days=1)
    await automation.tick()
    await drain(sender)
    assert "• A later update" in texts_to(api, 1)[2]


async def test_a_long_digest_stays_one_message(
    db: Database, api: LocalBotApi, fast: Settings, sender: OutboxSender, clock: Clock
) -> None:
    await sign_up(db, api, 1)
    async with db.transaction() as session:
        await NotificationSettingsRepository(session).set_mode(
            1, Category.UPDATES, Mode.DIGEST, AFTERNOON
        )
    clock.now = AFTERNOON
    for n in range(60):
        await queue(db, 1, f"update {n}: " + "가" * 150, clock.now)
    await drain(sender)
    clock.now = NEXT_MORNING
    automation = Automation(Services(settings=fast, db=db, clock=clock))
    await automation.tick()
    await drain(sender)
    (digest,) = texts_to(api, 1)
    assert len(digest) <= 4096
    assert digest.endswith("건이 더 있어요.")
    assert "update 0:" in digest
