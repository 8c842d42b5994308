"""One budget of Telegram messages per second, with replies to people served first (SPEC §9).

Telegram allows about 30 messages a second in total. Replies to what a person just did and the
outbox (notifications, broadcasts) share that budget, but a reply must never wait behind a
broadcast: outbox sends are marked (`OUTBOX_SEND`) and take capacity only while no reply is
waiting and `reserve` messages of room stay free, checking again shortly otherwise. They never
join the limiter's queue, so a reply waits at most for the budget itself, not for the backlog.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any

from aiolimiter import AsyncLimiter
from telegram._utils.types import JSONDict
from telegram.ext import AIORateLimiter

# Set by the outbox sender around its sends (tasks inherit it); everything else is a reply.
OUTBOX_SEND: ContextVar[bool] = ContextVar("outbox_send", default=False)


class InteractiveFirstRateLimiter(AIORateLimiter):
    """PTB's `AIORateLimiter` (retries after 429, group limits) with the overall limit split
    into an interactive lane and an outbox lane."""

    def __init__(self, rate: float, reserve: float, max_retries: int) -> None:
        # The overall limit is ours; PTB's base limiter would queue both lanes together.
        super().__init__(overall_max_rate=0, max_retries=max_retries)
        self._overall = AsyncLimiter(rate, 1)
        self._reserve = max(min(reserve, rate - 1), 0)
        self._replies_waiting = 0

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        # As PTB's limiter: only requests to a chat count against Telegram's message limit.
        if data.get("chat_id") is not None:
            if OUTBOX_SEND.get():
                await self._outbox_slot()
            else:
                self._replies_waiting += 1
                try:
                    await self._overall.acquire()
                finally:
                    self._replies_waiting -= 1
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )

    async def _outbox_slot(self) -> None:
        while self._replies_waiting or not self._overall.has_capacity(1 + self._reserve):
            await asyncio.sleep(1 / self._overall.max_rate)
        # Capacity was just checked and nothing ran since, so this does not wait.
        await self._overall.acquire()
