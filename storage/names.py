"""The names Telegram shows for signed-up people, for officials' screens (issue 15).

A person is shown as their Telegram name and @username, never as a bare number; the number is
what a person without a known name falls back to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.clock import to_db
from storage.db import Session


@dataclass(frozen=True)
class KnownName:
    user_id: int
    full_name: str
    username: str | None

    @property
    def label(self) -> str:
        """ "홍길동 (@gildong)", or the name alone."""
        return f"{self.full_name} (@{self.username})" if self.username else self.full_name


def clean_username(text: str) -> str:
    """ "@GilDong" → "gildong": Telegram usernames are case-insensitive."""
    return text.strip().removeprefix("@").lower()


class NamesRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    async def seen(self, user_id: int, full_name: str, username: str | None, now: datetime) -> bool:
        """Keep a signed-up person's current name; False (nothing kept) for anyone else."""
        if await self.session.scalar("SELECT 1 FROM people WHERE user_id = ?", (user_id,)) is None:
            return False
        await self.session.execute(
            "INSERT INTO people_names (user_id, full_name, username, seen_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET full_name = excluded.full_name,"
            " username = excluded.username, seen_at = excluded.seen_at",
            (user_id, full_name[:128], clean_username(username) if username else None, to_db(now)),
        )
        return True

    async def of(self, user_ids: Iterable[int]) -> dict[int, KnownName]:
        wanted = sorted(set(user_ids))
        if not wanted:
            return {}
        rows = await self.session.fetchall(
            "SELECT user_id, full_name, username FROM people_names"
            f" WHERE user_id IN ({','.join('?' * len(wanted))})",
            tuple(wanted),
        )
        return {r["user_id"]: KnownName(r["user_id"], r["full_name"], r["username"]) for r in rows}

    async def by_username(self, username: str) -> KnownName | None:
        row = await self.session.fetchone(
            "SELECT user_id, full_name, username FROM people_names WHERE username = ?",
            (clean_username(username),),
        )
        return None if row is None else KnownName(row["user_id"], row["full_name"], row["username"])

    async def recent(self, limit: int, leave_out: Iterable[int] = ()) -> list[KnownName]:
        """The people seen most recently, newest first."""
        skip = sorted(set(leave_out))
        where = f" WHERE user_id NOT IN ({','.join('?' * len(skip))})" if skip else ""
        rows = await self.session.fetchall(
            "SELECT user_id, full_name, username FROM people_names"
            f"{where} ORDER BY seen_at DESC, user_id LIMIT ?",
            (*skip, limit),
        )
        return [KnownName(r["user_id"], r["full_name"], r["username"]) for r in rows]

    async def export_person(self, user_id: int) -> dict[str, Any] | None:
        row = await self.session.fetchone(
            "SELECT full_name, username, seen_at FROM people_names WHERE user_id = ?", (user_id,)
        )
        return None if row is None else dict(row)

    async def erase_person(self, user_id: int) -> None:
        await self.session.execute("DELETE FROM people_names WHERE user_id = ?", (user_id,))
