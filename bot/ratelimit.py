"""One smooth budget of Telegram messages a second, shared by replies and the outbox, replies
first (SPEC §9, issue 17).

Telegram allows about 30 messages a second in total and about one a second per chat, and
answers 429 ("retry after N") beyond that. So:

- **Smooth.** `SmoothBucket` hands out one message at a time, each at least 1/rate after the
  one before: a token bucket that holds a single token. No second ever carries more than the
  rate. (aiolimiter's `AsyncLimiter` lets a whole second's worth go at once, since its bucket
  holds `max_rate`; those bursts were what tipped Telegram's one-second windows over, and it
  has neither priorities nor a rate that can change.)
- **Replies first.** Replies to what a person just did and the outbox share the one bucket;
  a waiting reply is served before every waiting outbox send. The outbox also keeps to
  `BROADCAST_RATE` on a lane of its own, so `SEND_RATE − BROADCAST_RATE` stays free for
  replies even while a broadcast runs.
- **Adaptive.** A 429 lowers the shared rate (× `SLOW_DOWN`, at most once a second) instead
  of holding every request, and the rate climbs back by `RECOVERY` messages/s each second
  until it is the configured one again. Only the refused message waits its `retry_after`: a
  reply is sent again then; an outbox send is handed back to the sender, which queues the
  row again for then. A 429 in a chat we wrote to less than a second before is that chat's
  limit, not the bot's: it slows nothing else.

Built on python-telegram-bot's `BaseRateLimiter` interface, so every Bot API call the
application makes passes through it; outbox sends are marked with `OUTBOX_SEND`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, Final

from telegram._utils.types import JSONDict
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)

# Set by the outbox sender around its sends (tasks inherit it); everything else is a reply.
OUTBOX_SEND: ContextVar[bool] = ContextVar("outbox_send", default=False)

REPLY: Final = 0  # priorities: lower goes first
OUTBOX: Final = 1
SLOW_DOWN: Final = 0.8  # the rate after a 429, as a fraction of the rate before
RECOVERY: Final = 2.0  # messages/s regained per second without a 429
MIN_RATE: Final = 1.0
CHAT_INTERVAL: Final = 1.0  # Telegram: about one message a second to one chat
OUTBOX_CATCH_UP: Final = 0.12  # seconds of outbox sending the lane may make up after a gap

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


def flood_wait(error: RetryAfter) -> timedelta:
    """How long Telegram asked us to wait."""
    with warnings.catch_warnings():
        # PTB returns seconds until its next major version; we only want the duration.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


class SmoothBucket:
    """At most `rate` grants a second, evenly spaced, by priority and then in arrival order.

    `catch_up` lets time the bucket was not asked for be made up later, up to that many
    seconds' worth (0: never, so grants are always at least 1/rate apart). `clock` and `sleep`
    are injectable so tests can run it on simulated time.
    """

    def __init__(
        self,
        rate: float,
        *,
        catch_up: float = 0.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.ceiling = rate
        self.rate = rate
        self._catch_up = catch_up
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")  # the earliest time of the next grant
        self._changed = clock()  # when `rate` was last recomputed
        self._slowed = float("-inf")
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._dispatcher: asyncio.Task[None] | None = None

    async def acquire(self, priority: int = REPLY) -> None:
        now = self._clock()
        if not self._waiters and now >= self._next:
            self._grant(now)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch())
        await future

    def slow_down(self) -> None:
        """Telegram said 429: fewer messages a second from now on (once per second at most,
        since one burst brings several 429s at once)."""
        now = self._clock()
        self._recover(now)
        if now - self._slowed < 1.0:
            return
        self._slowed = now
        self.rate = max(MIN_RATE, min(self.rate, self.ceiling) * SLOW_DOWN)
        log.info("Telegram's flood limit reached: sending at %.1f messages/s", self.rate)

    def _recover(self, now: float) -> None:
        if self.rate < self.ceiling:
            self.rate = min(self.ceiling, self.rate + RECOVERY * (now - self._changed))
        self._changed = now

    def _grant(self, now: float) -> None:
        self._recover(now)
        self._next = max(self._next, now - self._catch_up) + 1 / self.rate

    async def _dispatch(self) -> None:
        while self._waiters:
            now = self._clock()
            if now < self._next:
                await self._sleep(self._next - now)
                continue
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():  # a cancelled waiter takes no turn
                self._grant(now)
                future.set_result(None)


class SharedRateLimiter(BaseRateLimiter[int]):
    """Every request to a chat takes a turn from one `SmoothBucket` of `rate` a second;
    outbox sends (`OUTBOX_SEND`) also keep to `outbox_rate` and yield to waiting replies.

    The per-request argument (`rate_limit_args`) is how many times a reply refused with 429
    is sent again after its `retry_after` (default `max_retries`); outbox sends are never
    retried here, the sender re-queues them."""

    def __init__(
        self,
        rate: float,
        outbox_rate: float,
        max_retries: int = 3,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.bucket = SmoothBucket(rate, clock=clock, sleep=sleep)
        self.outbox = SmoothBucket(
            min(outbox_rate, rate), catch_up=OUTBOX_CATCH_UP, clock=clock, sleep=sleep
        )
        self._max_retries = max_retries
        self._clock = clock
        self._sleep = sleep
        self._last_in_chat: dict[object, float] = {}

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        chat = data.get("chat_id")
        if chat is None:  # as PTB's limiter: only requests to a chat count as messages
            return await callback(*args, **kwargs)
        outbox = OUTBOX_SEND.get()
        retries = 0 if outbox else (rate_limit_args or self._max_retries)
        for attempt in range(retries + 1):
            if outbox:
                await self.outbox.acquire()
            await self.bucket.acquire(OUTBOX if outbox else REPLY)
            started = self._clock()
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as error:
                self._flooded(chat, started)
                if attempt == retries:
                    raise
                await self._sleep(flood_wait(error).total_seconds())
            else:
                self._sent(chat, started)
                return result
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _sent(self, chat: object, at: float) -> None:
        if len(self._last_in_chat) > 10_000:
            self._last_in_chat = {
                c: t for c, t in self._last_in_chat.items() if at - t < CHAT_INTERVAL
            }
        self._last_in_chat[chat] = at

    def _flooded(self, chat: object, at: float) -> None:
        last = self._last_in_chat.get(chat)
        if last is not None and at - last < CHAT_INTERVAL:
            return  # that chat's own limit: the chat waits, everyone else carries on
        self.bucket.slow_down()
