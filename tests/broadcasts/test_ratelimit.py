"""The shared, smooth, adaptive rate limiter (bot/ratelimit.py; issue 17), on simulated time:
no bursts, replies before queued outbox sends, a 429 slows down instead of stopping."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.ratelimit import OUTBOX_SEND, RECOVERY, SLOW_DOWN, SharedRateLimiter

SEND_RATE, BROADCAST_RATE = 30.0, 25.0


class SimulatedTime:
    """A clock and a sleep that move only when every task waits: `run` jumps time to the
    next wake-up. Deterministic, and minutes of sending take milliseconds."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(seconds, 0.0), next(self._order), future))
        await future

    async def run(self, until: float) -> None:
        while True:
            for _ in range(30):  # let every runnable task go as far as it can
                await asyncio.sleep(0)
            if not self._sleepers or self._sleepers[0][0] > until:
                self.now = max(self.now, until)
                return
            wake, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, wake)
            if not future.done():
                future.set_result(None)


def limiter_on(time: SimulatedTime, rate: float = SEND_RATE) -> SharedRateLimiter:
    return SharedRateLimiter(rate, BROADCAST_RATE, clock=time.clock, sleep=time.sleep)


Send = Callable[[], Awaitable[Any]]


async def through(limiter: SharedRateLimiter, chat: int, send: Send, outbox: bool) -> Any:
    token = OUTBOX_SEND.set(outbox)
    try:
        return await limiter.process_request(
            lambda: send(), (), {}, "sendMessage", {"chat_id": chat}, None
        )
    finally:
        OUTBOX_SEND.reset(token)


async def test_sending_is_smooth_replies_go_first_and_the_outbox_keeps_its_rate() -> None:
    """20 s of a broadcast sent as the outbox sender does (batches of 10, a database pause
    between them) while people talk, with bursts of replies: no two messages closer than
    1/SEND_RATE, so no one-second window over the limit; the outbox at BROADCAST_RATE; each
    reply waits only for the replies ahead of it."""
    time = SimulatedTime()
    limiter = limiter_on(time)
    sent: list[tuple[float, str]] = []
    waits: list[tuple[float, float]] = []  # (asked at, waited)

    def record(kind: str) -> Send:
        async def send() -> bool:
            sent.append((time.now, kind))
            return True

        return send

    async def outbox() -> None:
        chats = itertools.count(1)
        while time.now < 20:
            batch = [through(limiter, next(chats), record("outbox"), True) for _ in range(10)]
            await asyncio.gather(*batch)
            await time.sleep(0.02)  # recording the outcomes, claiming the next batch

    async def reply(chat: int) -> None:
        asked = time.now
        await through(limiter, chat, record("reply"), False)
        waits.append((asked, time.now - asked))

    async def people() -> None:
        rng = random.Random(17)
        tasks = []
        while time.now < 19:
            count = 10 if 5 <= time.now < 5.25 else rng.randint(0, 2)
            tasks += [asyncio.create_task(reply(10**6 + len(tasks) + i)) for i in range(count)]
            await time.sleep(0.25)
        await asyncio.gather(*tasks)

    await asyncio.gather(outbox(), people(), time.run(until=25))

    times = [at for at, _ in sent]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1 / SEND_RATE - 1e-9  # one message at a time: no bursts
    # (Less a microsecond: 30 gaps of 1/30 s in floating point may add up to 0.9999999 s.)
    busiest = max(
        sum(1 for t in times if start <= t < start + 1 - 1e-6) for start in times if start <= 19
    )
    assert busiest <= SEND_RATE
    outbox_sent = sum(1 for at, kind in sent if kind == "outbox" and 1 <= at < 19)
    assert outbox_sent >= 0.95 * BROADCAST_RATE * 18
    # A reply waits for the replies ahead of it and one turn more: ten at once (at 5 s) wait
    # at most eleven turns; away from that burst, at most three (two arriving together, and
    # the turn under way). Behind the outbox's queue they would wait for up to ten sends.
    assert len(waits) > 50
    assert max(wait for _, wait in waits) <= 11 / SEND_RATE + 1e-9
    calm = [wait for asked, wait in waits if not 5 <= asked < 5.5]
    assert max(calm) <= 3 / SEND_RATE + 1e-9


async def test_a_reply_overtakes_outbox_sends_already_waiting() -> None:
    time = SimulatedTime()
    limiter = SharedRateLimiter(2, 2, clock=time.clock, sleep=time.sleep)
    order: list[str] = []

    def record(name: str) -> Send:
        async def send() -> bool:
            order.append(name)
            return True

        return send

    async def later_reply() -> None:
        await time.sleep(0.1)
        await through(limiter, 99, record("reply"), False)

    outbox = [through(limiter, chat, record(f"outbox {chat}"), True) for chat in range(8)]
    await asyncio.gather(*outbox, later_reply(), time.run(until=10))
    # Eight outbox sends were queued first; the reply went out at the first free turn.
    assert order.index("reply") <= 2, order
    assert len(order) == 9


async def test_a_429_slows_everything_down_and_holds_only_that_message() -> None:
    time = SimulatedTime()
    limiter = limiter_on(time)
    refused = [True]

    async def flood() -> bool:
        if refused.pop() if refused else False:
            raise RetryAfter(timedelta(seconds=5))
        return True

    with pytest.raises(RetryAfter):  # an outbox send: the sender re-queues the row
        await through(limiter, 1, flood, True)
    assert limiter.bucket.rate == pytest.approx(SEND_RATE * SLOW_DOWN)
    # Nothing is held for the five seconds Telegram named: the next send goes at once.
    started = time.now
    await asyncio.gather(through(limiter, 2, flood, False), time.run(until=1))
    assert time.now - started <= 1
    # Without more 429s the rate climbs back to the configured one.
    recovery = SEND_RATE * (1 - SLOW_DOWN) / RECOVERY

    async def keep_sending() -> None:
        chats = itertools.count(3)
        while time.now < 1 + recovery + 0.5:
            await through(limiter, next(chats), flood, True)

    await asyncio.gather(keep_sending(), time.run(until=60))
    assert limiter.bucket.rate == pytest.approx(SEND_RATE)


async def test_a_refused_reply_is_sent_again_after_retry_after() -> None:
    time = SimulatedTime()
    limiter = limiter_on(time)
    calls: list[float] = []

    async def once_refused() -> bool:
        calls.append(time.now)
        if len(calls) == 1:
            raise RetryAfter(timedelta(seconds=2))
        return True

    results = await asyncio.gather(through(limiter, 7, once_refused, False), time.run(until=5))
    assert results[0] is True
    assert calls[1] - calls[0] >= 2


async def test_a_429_in_a_chat_just_written_to_is_that_chats_limit() -> None:
    """Telegram's one message a second per chat: a 429 there slows nobody else down."""
    time = SimulatedTime()
    limiter = limiter_on(time)
    answers = [True, RetryAfter(timedelta(seconds=1)), True]

    async def scripted() -> bool:
        answer = answers.pop(0)
        if isinstance(answer, RetryAfter):
            raise answer
        return answer

    async def two_messages_to_one_chat() -> None:
        await through(limiter, 5, scripted, False)
        await time.sleep(0.3)
        await through(limiter, 5, scripted, False)

    await asyncio.gather(two_messages_to_one_chat(), time.run(until=5))
    assert not answers
    assert limiter.bucket.rate == SEND_RATE
