"""The sender against the local Bot API: marks, retries, flood control, blocked people."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from telegram import Bot
from telegram.request import RequestData

from bot.config import Settings
from bot.localapi.core import LocalBotApi
from bot.localapi.request import LocalRequest
from bot.notifications.sender import OutboxSender
from domain.notifications import Button, Category, Payload
from storage import outbox
from storage.db import Database
from storage.people import PeopleRepository
from tests.notifications.conftest import NOON_KST, Clock, drain, queue, sign_up, statuses, texts_to


async def row(db: Database, row_id: int | None) -> dict[str, Any]:
    async with db.reading() as session:
        found = await session.fetchone("SELECT * FROM outbox WHERE id = ?", (row_id,))
    assert found is not None
    return dict(found)


async def test_a_sent_row_is_marked_with_its_telegram_message_id(
    db: Database, api: LocalBotApi, sender: OutboxSender
) -> None:
    await sign_up(db, api, 1)
    async with db.transaction() as session:
        row_id = await outbox.enqueue(
            session,
            user_id=1,
            category=Category.UPDATES,
            payload=Payload(
                text="<b>공감 500</b> 달성",
                parse_mode="HTML",
                buttons=((Button(text="보기", callback_data="pr:card:1"),),),
            ),
            now=NOON_KST,
        )
    assert await drain(sender) == 1
    (message,) = api.bot_messages(1)
    assert message["text"] == "<b>공감 500</b> 달성"
    assert message["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "pr:card:1"
    stored = await row(db, row_id)
    assert stored["status"] == "sent"
    assert stored["telegram_message_id"] == message["message_id"]
    assert stored["sent_at"] is not None
    assert await drain(sender) == 0  # nothing goes twice


async def test_a_person_who_blocked_the_bot_becomes_inactive(
    db: Database, api: LocalBotApi, sender: OutboxSender
) -> None:
    await sign_up(db, api, 1, 2)
    api.block(1)
    first = await queue(db, 1, "one", NOON_KST)
    second = await queue(db, 1, "two", NOON_KST + timedelta(seconds=1))
    other = await queue(db, 2, "for someone else", NOON_KST)
    await drain(sender)
    async with db.reading() as session:
        person = await PeopleRepository(session).get(1)
    assert person is not None and not person.active
    assert await statuses(db) == {first: "failed", second: "dropped", other: "sent"}
    assert (await row(db, first))["last_error"].startswith("Forbidden")
    assert texts_to(api, 2) == ["for someone else"]


async def test_flood_control_holds_the_refused_message_only(
    db: Database, api: LocalBotApi, sender: OutboxSender, clock: Clock
) -> None:
    await sign_up(db, api, 1, 2)
    row_id = await queue(db, 1, "after the flood", NOON_KST)
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    batch = await sender.run_batch()
    assert batch.sent == 0
    stored = await row(db, row_id)
    assert stored["status"] == "pending"
    assert stored["not_before"] == "2090-05-04T03:00:07.000000Z"
    assert stored["attempts"] == 0  # flood control is not the message's fault
    # Nothing else stops (the rate limiter slows every send down instead, see
    # tests/broadcasts/test_ratelimit.py): a message for someone else goes out at once.
    await queue(db, 2, "meanwhile", NOON_KST)
    clock.advance(seconds=6)
    assert await drain(sender) == 1
    assert texts_to(api, 2) == ["meanwhile"] and texts_to(api, 1) == []
    clock.advance(seconds=1)
    assert await drain(sender) == 1
    assert texts_to(api, 1) == ["after the flood"]


class FailingRequest(LocalRequest):
    """A transport that fails the next sends before or after Telegram got them."""

    def __init__(self, api: LocalBotApi) -> None:
        super().__init__(api)
        self.failures: list[Exception] = []
        self.after_delivery = False

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, **kwargs: Any
    ) -> tuple[int, bytes]:
        if url.endswith("/sendMessage") and self.failures:
            failure = self.failures.pop(0)
            if self.after_delivery:
                await super().do_request(url, method, request_data, **kwargs)
            raise failure
        return await super().do_request(url, method, request_data, **kwargs)


@pytest.fixture
async def failing(db: Database, api: LocalBotApi, fast: Settings, clock: Clock) -> Any:
    request = FailingRequest(api)
    async with Bot(api.token, request=request, get_updates_request=request) as bot:
        yield request, OutboxSender(db, bot, fast, clock)


async def test_a_connection_failure_is_retried_with_backoff_then_given_up(
    db: Database, api: LocalBotApi, failing: Any, clock: Clock
) -> None:
    request, sender = failing
    await sign_up(db, api, 1)
    row_id = await queue(db, 1, "try again", NOON_KST)
    request.failures = [httpx.ConnectError("no route to host") for _ in range(5)]
    waits = []
    for attempt in range(1, 5):
        await sender.run_batch()
        stored = await row(db, row_id)
        assert (stored["status"], stored["attempts"]) == ("pending", attempt)
        waits.append(stored["not_before"])
        assert await drain(sender) == 0  # not before its time
        clock.advance(seconds=30 * 2 ** (attempt - 1))
    assert waits == [
        "2090-05-04T03:00:30.000000Z",
        "2090-05-04T03:01:30.000000Z",
        "2090-05-04T03:03:30.000000Z",
        "2090-05-04T03:07:30.000000Z",
    ]
    await sender.run_batch()
    stored = await row(db, row_id)
    assert (stored["status"], stored["attempts"]) == ("failed", 5)
    assert "ConnectError" in stored["last_error"]
    assert texts_to(api, 1) == []


async def test_a_connection_failure_then_success_sends_once(
    db: Database, api: LocalBotApi, failing: Any, clock: Clock
) -> None:
    request, sender = failing
    await sign_up(db, api, 1)
    await queue(db, 1, "second time lucky", NOON_KST)
    request.failures = [httpx.ConnectTimeout("slow")]
    assert await drain(sender) == 0
    clock.advance(seconds=30)
    assert await drain(sender) == 1
    assert texts_to(api, 1) == ["second time lucky"]


async def test_a_read_timeout_may_have_been_delivered_so_it_is_not_resent(
    db: Database, api: LocalBotApi, failing: Any, clock: Clock
) -> None:
    request, sender = failing
    await sign_up(db, api, 1)
    row_id = await queue(db, 1, "did it arrive?", NOON_KST)
    request.failures = [httpx.ReadTimeout("no answer")]
    request.after_delivery = True
    await drain(sender)
    clock.advance(hours=2)
    await drain(sender)
    assert texts_to(api, 1) == ["did it arrive?"]  # once, not twice
    assert (await row(db, row_id))["status"] == "unknown"


async def test_a_refused_message_fails_without_retrying(
    db: Database, api: LocalBotApi, sender: OutboxSender, clock: Clock
) -> None:
    await sign_up(db, api, 1)
    row_id = await queue(db, 1, "fine text", NOON_KST)
    api.fail_next("sendMessage", 400, "Bad Request: can't parse entities")
    await drain(sender)
    clock.advance(hours=2)
    await drain(sender)
    assert (await row(db, row_id))["status"] == "failed"
    assert texts_to(api, 1) == []


async def test_recovery_at_start_up_never_resends_what_was_in_flight(
    db: Database, api: LocalBotApi, sender: OutboxSender
) -> None:
    await sign_up(db, api, 1)
    in_flight = await queue(db, 1, "in flight when the process died", NOON_KST)
    waiting = await queue(db, 1, "still waiting", NOON_KST)
    async with db.transaction() as session:
        await outbox.claim(session, now=NOON_KST, limit=1, quiet_end=None)
    assert await sender.recover() == 1
    assert await drain(sender) == 1
    assert texts_to(api, 1) == ["still waiting"]
    assert await statuses(db) == {in_flight: "unknown", waiting: "sent"}


async def test_quiet_hours_hold_all_but_urgent_and_asked_for_until_8(
    db: Database, api: LocalBotApi, sender: OutboxSender, clock: Clock
) -> None:
    await sign_up(db, api, 1)
    clock.now = NOON_KST + timedelta(hours=11)  # 23:00 KST
    await queue(db, 1, "an update", clock.now)
    await queue(db, 1, "a reminder", clock.now, category=Category.DEADLINES)
    await queue(db, 1, "urgent: answer your invitation", clock.now, urgent=True)
    await queue(db, 1, "your export is ready", clock.now, category=Category.DIRECT)
    await drain(sender)
    assert texts_to(api, 1) == ["urgent: answer your invitation", "your export is ready"]
    clock.now = NOON_KST + timedelta(hours=20, seconds=-1)  # 07:59:59
    await drain(sender)
    assert len(texts_to(api, 1)) == 2
    clock.advance(seconds=1)  # 08:00 KST
    await drain(sender)
    assert texts_to(api, 1)[2:] == ["an update", "a reminder"]
