"""The durable outbox: notifications are written in the same unit of work as the change that
causes them, and delivered later by the sender (SPEC §8)."""

from __future__ import annotations

from datetime import datetime

from domain.notifications import Category, Payload
from storage.clock import to_db
from storage.db import Session


async def enqueue(
    session: Session,
    *,
    user_id: int,
    category: Category,
    payload: Payload,
    now: datetime,
    urgent: bool = False,
    dedupe_key: str | None = None,
    not_before: datetime | None = None,
) -> int | None:
    """Queue one message; returns its id, or None when `dedupe_key` was already queued."""
    row_id = await session.scalar(
        "INSERT INTO outbox (user_id, category, urgent, payload, dedupe_key, not_before,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING"
        " RETURNING id",
        (
            user_id,
            category.value,
            int(urgent),
            payload.model_dump_json(exclude_defaults=True),
            dedupe_key,
            to_db(not_before or now),
            to_db(now),
        ),
    )
    return None if row_id is None else int(row_id)
