"""Fixtures for notifications: a movable clock, signed-up people, a bot on the local Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from telegram import Bot

from bot.config import Settings
from bot.localapi.core import LocalBotApi
from bot.localapi.request import LocalRequest
from bot.notifications.sender import OutboxSender
from domain.notifications import Category, Payload
from storage import outbox
from storage.db import Database
from storage.people import PeopleRepository

# Noon in Seoul: outside the default quiet hours (22:00–08:00 KST).
NOON_KST = datetime(2090, 5, 4, 3, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = NOON_KST) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fast(settings: Settings) -> Settings:
    """No pacing: these tests count messages, not seconds."""
    return settings.model_copy(update={"broadcast_rate": 1_000_000.0})


@pytest.fixture
def api() -> LocalBotApi:
    return LocalBotApi()


@pytest.fixture
async def bot(api: LocalBotApi) -> AsyncIterator[Bot]:
    request = LocalRequest(api)
    async with Bot(api.token, request=request, get_updates_request=request) as telegram_bot:
        yield telegram_bot


@pytest.fixture
def sender(db: Database, bot: Bot, fast: Settings, clock: Clock) -> OutboxSender:
    return OutboxSender(db, bot, fast, clock)


async def drain(sender: OutboxSender) -> int:
    """Run the sender until nothing is due; returns how many were sent."""
    sent = 0
    while True:
        batch = await sender.run_batch()
        sent += batch.sent
        if not batch.worked:
            return sent


async def sign_up(
    db: Database, api: LocalBotApi | None, *user_ids: int, language: str = "ko"
) -> None:
    async with db.transaction() as session:
        for user_id in user_ids:
            await PeopleRepository(session).consent(user_id, language, NOON_KST)
            if api is not None:
                api.user(user_id)


async def queue(
    db: Database,
    user_id: int,
    text: str,
    now: datetime,
    category: Category = Category.UPDATES,
    **options: object,
) -> int | None:
    async with db.transaction() as session:
        return await outbox.enqueue(
            session,
            user_id=user_id,
            category=category,
            payload=Payload(text=text),
            now=now,
            **options,  # type: ignore[arg-type]
        )


async def statuses(db: Database) -> dict[int, str]:
    async with db.reading() as session:
        rows = await session.fetchall("SELECT id, status FROM outbox ORDER BY id")
    return {row["id"]: row["status"] for row in rows}


def texts_to(api: LocalBotApi, user_id: int) -> list[str]:
    return [message.get("text", "") for message in api.bot_messages(user_id)]
