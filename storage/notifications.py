"""Per-person notification settings and the daily digest's runs (SPEC §8)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from domain.notifications import DEFAULT_MODES, SETTABLE, Category, Mode
from storage.clock import to_db
from storage.db import Session


class NotificationSettingsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    async def modes(self, user_id: int) -> dict[Category, Mode]:
        """Every settable category's mode for this person, defaults filled in."""
        rows = await self.session.fetchall(
            "SELECT category, mode FROM notification_settings WHERE user_id = ?", (user_id,)
        )
        chosen = {Category(row["category"]): Mode(row["mode"]) for row in rows}
        return {category: chosen.get(category, DEFAULT_MODES[category]) for category in SETTABLE}

    async def set_mode(self, user_id: int, category: Category, mode: Mode, now: datetime) -> None:
        if category not in SETTABLE:
            raise ValueError(f"{category} is always delivered")
        await self.session.execute(
            "INSERT INTO notification_settings (user_id, category, mode, updated_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (user_id, category) DO UPDATE"
            " SET mode = excluded.mode, updated_at = excluded.updated_at",
            (user_id, category.value, mode.value, to_db(now)),
        )

    async def export(self, user_id: int) -> dict[str, Any]:
        """What /mydata shows: the settings and the notifications kept for this person."""
        modes = await self.modes(user_id)
        rows = await self.session.fetchall(
            "SELECT category, status, created_at, sent_at, payload FROM outbox"
            " WHERE user_id = ? ORDER BY id",
            (user_id,),
        )
        return {
            "settings": {category.value: mode.value for category, mode in modes.items()},
            "messages": [dict(row) for row in rows],
        }

    async def erase(self, user_id: int) -> None:
        # Settings go with the person (ON DELETE CASCADE); the messages are theirs too.
        await self.session.execute("DELETE FROM outbox WHERE user_id = ?", (user_id,))
        await self.session.execute(
            "DELETE FROM notification_settings WHERE user_id = ?", (user_id,)
        )


async def digest_done(session: Session, day: date) -> bool:
    found = await session.scalar("SELECT 1 FROM digest_runs WHERE day = ?", (day.isoformat(),))
    return found is not None


async def record_digest(session: Session, day: date, now: datetime, messages: int) -> bool:
    """Record the day's digest run; False if it was already recorded."""
    inserted = await session.scalar(
        "INSERT INTO digest_runs (day, ran_at, messages) VALUES (?, ?, ?)"
        " ON CONFLICT (day) DO NOTHING RETURNING 1",
        (day.isoformat(), to_db(now), messages),
    )
    return inserted is not None
