"""Kill the sender at random points over thousands of notifications, restart it on the same
database each time, and check that nothing delivered arrives twice and nothing pending is lost.

A "kill" is what a crashed process looks like to the database: the sending task is cancelled
(at any await: while claiming, sending or recording) or dies inside the send path, before or
after Telegram got the request, and nothing of that process runs afterwards. Each restart is
a new connection and a new sender that first applies the start-up rule (rows left `claimed`
become `unknown`, never resent).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import pytest
from telegram import Bot
from telegram.request import RequestData

from bot.config import Settings
from bot.localapi.core import LocalBotApi
from bot.localapi.request import LocalRequest
from bot.notifications.sender import OutboxSender
from domain.notifications import Category, Payload
from storage import outbox
from storage.db import Database, open_database
from tests.notifications.conftest import NOON_KST, Clock, drain, sign_up

PEOPLE = 200
PER_PERSON = 15  # 3,000 notifications


class Killed(BaseException):
    """The process died: not an error anything in the bot may catch."""


class DyingRequest(LocalRequest):
    """Dies now and then inside a send, before or after Telegram delivered the message."""

    def __init__(self, api: LocalBotApi, rng: random.Random, rate: float) -> None:
        super().__init__(api)
        self.rng = rng
        self.rate = rate

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, **kwargs: Any
    ) -> tuple[int, bytes]:
        if not url.endswith("/sendMessage") or self.rng.random() >= self.rate:
            return await super().do_request(url, method, request_data, **kwargs)
        if self.rng.random() < 0.5:
            raise Killed("before delivery")
        await super().do_request(url, method, request_data, **kwargs)
        raise Killed("after delivery")


async def one_life(
    url: str, api: LocalBotApi, settings: Settings, rng: random.Random, faults: bool
) -> str:
    """Run a sender process until it dies or has nothing left; returns how it ended."""
    db = open_database(url)
    await db.connect()
    request = DyingRequest(api, rng, rate=0.005 if faults else 0.0)
    bot = Bot(api.token, request=request, get_updates_request=request)
    try:
        await bot.initialize()
        sender = OutboxSender(db, bot, settings, Clock())
        await sender.recover()
        task = asyncio.create_task(drain(sender))
        if faults and rng.random() < 0.5:
            # Cancelled at a random moment: mid-claim, mid-send or mid-record.
            asyncio.get_running_loop().call_later(rng.uniform(0, 0.03), task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled"
        except Killed:
            return "killed"
        return "finished"
    finally:
        await db.close()


@pytest.mark.parametrize("seed", [1, 2])
async def test_no_duplicates_and_nothing_lost_across_random_crashes(
    db: Database, fast: Settings, seed: int
) -> None:
    rng = random.Random(seed)
    api = LocalBotApi()
    await sign_up(db, api, *range(1, PEOPLE + 1))
    expected: dict[str, int] = {}
    async with db.transaction() as session:
        for n in range(PEOPLE * PER_PERSON):
            user_id = n % PEOPLE + 1
            text = f"notification {n}"
            row_id = await outbox.enqueue(
                session,
                user_id=user_id,
                category=Category.UPDATES,
                payload=Payload(text=text),
                now=NOON_KST,
            )
            assert row_id is not None
            expected[text] = row_id
    url = db.url
    await db.close()

    endings: Counter[str] = Counter()
    while True:
        ending = await one_life(url, api, fast, rng, faults=True)
        endings[ending] += 1
        if ending == "finished" or sum(endings.values()) > 500:
            break
    await one_life(url, api, fast, rng, faults=False)  # the last restart, for stragglers

    await db.connect()
    async with db.reading() as session:
        rows = {
            row["id"]: dict(row)
            for row in await session.fetchall("SELECT id, status, telegram_message_id FROM outbox")
        }
    delivered = Counter(params["text"] for method, params in api.calls if method == "sendMessage")
    messages = {
        message["text"]: message["message_id"]
        for user_id in range(1, PEOPLE + 1)
        for message in api.bot_messages(user_id)
    }
    crashes = endings["cancelled"] + endings["killed"]
    assert crashes >= 10, endings  # the test did kill the sender, many times

    # Never twice: every notification reached Telegram at most once...
    assert max(delivered.values()) == 1
    # ...and nothing was lost: every row ended sent, or unknown by the start-up rule.
    statuses = Counter(row["status"] for row in rows.values())
    assert set(statuses) <= {"sent", "unknown"}, statuses
    for text, row_id in expected.items():
        row = rows[row_id]
        if row["status"] == "sent":
            assert delivered[text] == 1
            assert row["telegram_message_id"] == messages[text]
    # Only rows in flight at a crash can be in doubt: at most one batch per crash.
    assert statuses["unknown"] <= crashes * fast.outbox_batch_size
    assert statuses["sent"] >= len(expected) - crashes * fast.outbox_batch_size
