"""Delivering the outbox (SPEC §8, §9): claim a small batch, send it, record what happened.

The rule for a crash (also written in docs/development.md): rows are claimed in batches of
`OUTBOX_BATCH_SIZE` and their outcomes recorded as soon as the batch's sends return. A row
found `claimed` when a sender starts was in flight when the last one died; Telegram may or
may not have delivered it, and a message must never arrive twice, so it becomes `unknown`
and is not sent again (at most once). Rows still `pending` were never handed to Telegram and
are all sent after the restart. The same doubt applies to a send that failed after the
request may have reached Telegram (a read timeout, a dropped connection): `unknown`, not
retried. Only failures that certainly happened before Telegram got the request are retried,
with exponential backoff, up to `OUTBOX_MAX_ATTEMPTS`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot import transport
from bot.config import Settings
from bot.ratelimit import CHAT_INTERVAL, OUTBOX_SEND, flood_wait
from domain.notifications import Payload, quiet_until, retry_delay
from storage import outbox
from storage.db import Database
from storage.outbox import ClaimedRow, Outcome
from storage.people import PeopleRepository

log = logging.getLogger(__name__)

# Failures that happen before a request leaves this machine: Telegram never saw it (PTB's
# httpx transport, and ours on aiohttp).
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, *transport.NOT_SENT)
BLOCKED = "Forbidden"  # how a 403 outcome's error starts: the person blocked the bot


def certainly_not_sent(error: BaseException) -> bool:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, _NOT_SENT):
            return True
        cause = cause.__cause__
    return False


def markup(payload: Payload) -> InlineKeyboardMarkup | None:
    if not payload.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(button.text, callback_data=button.callback_data)
                if button.url is None
                else InlineKeyboardButton(button.text, url=button.url)
                for button in row
            ]
            for row in payload.buttons
        ]
    )


@dataclass(frozen=True)
class Batch:
    """One round of the sender."""

    claimed: int = 0  # rows handed to Telegram
    routed: int = 0  # rows parked, dropped or held for the morning instead
    sent: int = 0

    @property
    def worked(self) -> bool:
        return bool(self.claimed or self.routed)


class OutboxSender:
    def __init__(
        self, db: Database, bot: Bot, settings: Settings, clock: Callable[[], datetime]
    ) -> None:
        self.db = db
        self.bot = bot
        self.settings = settings
        self.clock = clock
        self._chat_free_at: dict[int, float] = {}  # monotonic time each chat may get the next

    async def recover(self) -> int:
        """At start-up: what the previous process left in flight becomes `unknown`."""
        async with self.db.transaction() as session:
            count = await outbox.recover(session, self.clock(), self.settings.worker_name)
        if count:
            log.warning(
                "%d notification(s) were being sent when the bot stopped; they are marked"
                " 'unknown' and not sent again (Telegram may have delivered them)",
                count,
            )
        return count

    async def run_batch(self) -> Batch:
        now = self.clock()
        settings = self.settings
        quiet_end = quiet_until(
            now, settings.quiet_hours_start, settings.quiet_hours_end, settings.tz
        )
        async with self.db.transaction() as session:
            rows, routed = await outbox.claim(
                session,
                now=now,
                limit=settings.outbox_batch_size,
                quiet_end=quiet_end,
                worker=settings.worker_name,
            )
        if not rows:
            return Batch(routed=routed)
        # The rate limiter paces these at BROADCAST_RATE, smoothly, and serves replies to
        # people first (bot/ratelimit.py).
        lane = OUTBOX_SEND.set(True)
        try:
            results = await asyncio.gather(
                *(self._send(row) for row in rows), return_exceptions=True
            )
        finally:
            OUTBOX_SEND.reset(lane)
        outcomes: list[Outcome] = []
        blocked: set[int] = set()
        for row, result in zip(rows, results, strict=True):
            if isinstance(result, Outcome):
                outcomes.append(result)
                if result.error is not None and result.error.startswith(BLOCKED):
                    blocked.add(row.user_id)
            elif isinstance(result, Exception):
                # Not an answer from Telegram (a bug): we cannot tell whether it was sent.
                log.error("Sending notification %d failed", row.id, exc_info=result)
                outcomes.append(Outcome(row.id, "unknown", error=repr(result)[:500]))
            else:
                raise result  # cancelled or killed: the process is going down
        async with self.db.transaction() as session:
            await outbox.record(session, outcomes, self.clock())
            people = PeopleRepository(session)
            for user_id in blocked:
                await people.set_active(user_id, False)
                await outbox.drop_pending_of(session, user_id, "blocked the bot")
        sent = sum(outcome.status == "sent" for outcome in outcomes)
        return Batch(claimed=len(rows), routed=routed, sent=sent)

    async def _chat_turn(self, chat_id: int) -> None:
        """Wait until `chat_id` may get another message (two rows for one person in a batch)."""
        now = time.monotonic()
        if len(self._chat_free_at) > 10_000:
            self._chat_free_at = {c: t for c, t in self._chat_free_at.items() if t > now}
        free_at = self._chat_free_at.get(chat_id, 0.0)
        self._chat_free_at[chat_id] = max(free_at, now) + CHAT_INTERVAL
        if free_at > now:
            await asyncio.sleep(free_at - now)

    async def _send(self, row: ClaimedRow) -> Outcome:
        payload = row.payload
        await self._chat_turn(row.user_id)
        try:
            if payload.photo is not None:
                message = await self.bot.send_photo(
                    row.user_id,
                    payload.photo,
                    caption=payload.text,
                    parse_mode=payload.parse_mode,
                    reply_markup=markup(payload),
                )
            else:
                message = await self.bot.send_message(
                    row.user_id,
                    payload.text,
                    parse_mode=payload.parse_mode,
                    reply_markup=markup(payload),
                )
        except Forbidden as error:
            return Outcome(row.id, "failed", error=f"{BLOCKED}: {error.message}")
        except RetryAfter as error:
            # Flood control: nothing was sent. This row waits what Telegram asked; the rate
            # limiter has already slowed every send down, so nothing else needs to stop.
            return Outcome(
                row.id,
                "pending",
                error=f"RetryAfter: {error.message}",
                not_before=self.clock() + flood_wait(error),
                attempts=row.attempts - 1,
            )
        except BadRequest as error:
            return Outcome(row.id, "failed", error=f"BadRequest: {error.message}")
        except NetworkError as error:
            return self._network_error(row, error)
        except TelegramError as error:
            return Outcome(row.id, "failed", error=f"{type(error).__name__}: {error.message}")
        return Outcome(row.id, "sent", message_id=message.message_id)

    def _network_error(self, row: ClaimedRow, error: NetworkError) -> Outcome:
        description = f"{type(error).__name__}: {error.message}"
        if not certainly_not_sent(error):
            return Outcome(row.id, "unknown", error=description)
        if row.attempts >= self.settings.outbox_max_attempts:
            return Outcome(row.id, "failed", error=description)
        return Outcome(
            row.id,
            "pending",
            error=description,
            not_before=self.clock() + retry_delay(row.attempts),
        )
