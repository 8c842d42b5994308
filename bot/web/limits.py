"""Request limits per person (Mini App) and per address (public pages), in this process.

With several workers each counts its own share; the limit then holds per worker.
"""

from __future__ import annotations

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter


class RequestLimits:
    def __init__(self, writes: str, reads: str) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.writes: RateLimitItem = parse(writes)
        self.reads: RateLimitItem = parse(reads)

    async def allow(self, who: str, write: bool) -> bool:
        return await self._limiter.hit(self.writes if write else self.reads, who)
