"""Posting blocks set by moderators."""

from __future__ import annotations

from storage.db import Session


async def is_blocked(session: Session, user_id: int) -> bool:
    found = await session.scalar("SELECT 1 FROM posting_blocks WHERE user_id = ?", (user_id,))
    return found is not None
