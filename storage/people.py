"""The people repository (SPEC §2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.people import Person, Relation
from storage.clock import from_db, maybe_from_db, to_db
from storage.db import Row, Session
from storage.voting import VotingRepository

# Fields a person may change through the bot; anything else is set by its own method.
EDITABLE = frozenset(
    {
        "language",
        "relation",
        "district",
        "gender",
        "birth_year",
        "dong",
        "declared_not_official_at",
        "declared_official_at",
    }
)


def _person(row: Row) -> Person:
    return Person(
        user_id=row["user_id"],
        language=row["language"],
        consented_at=from_db(row["consented_at"]),
        relation=Relation(row["relation"]) if row["relation"] else None,
        district=row["district"],
        gender=row["gender"],
        birth_year=row["birth_year"],
        dong=row["dong"],
        declared_not_official_at=maybe_from_db(row["declared_not_official_at"]),
        declared_official_at=maybe_from_db(row["declared_official_at"]),
        phone_hmac=row["phone_hmac"],
        active=bool(row["active"]),
        created_at=from_db(row["created_at"]),
        updated_at=from_db(row["updated_at"]),
    )


class PeopleRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    async def get(self, user_id: int) -> Person | None:
        row = await self.session.fetchone("SELECT * FROM people WHERE user_id = ?", (user_id,))
        return None if row is None else _person(row)

    async def get_many(self, user_ids: list[int]) -> dict[int, Person]:
        if not user_ids:
            return {}
        rows = await self.session.fetchall(
            f"SELECT * FROM people WHERE user_id IN ({','.join('?' * len(user_ids))})",
            user_ids,
        )
        return {row["user_id"]: _person(row) for row in rows}

    async def consent(self, user_id: int, language: str, now: datetime) -> Person:
        """Record consent; the first thing stored about anyone. Idempotent.

        An account that erased itself and signs up again gets back what its erasure kept under
        its marker (storage/privacy.py `erase_person`): its place on the voter rolls, so it
        cannot vote twice, and its posting block."""
        created = await self.session.scalar(
            "INSERT INTO people (user_id, language, consented_at, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO NOTHING RETURNING 1",
            (user_id, language, to_db(now), to_db(now), to_db(now)),
        )
        key = self.session.ballot_key
        # Without the key (a command run on a database whose key is still inside it; the bot
        # does not start so) nothing could have been erased under a marker it matches.
        if created is not None and key is not None:
            await VotingRepository(self.session).return_to_roll(user_id)
            await self.session.execute(
                "UPDATE posting_blocks SET user_id = ? WHERE user_id = ?",
                (user_id, key.erased(user_id)),
            )
        elif created is None:
            await self.set_active(user_id, True)
        person = await self.get(user_id)
        assert person is not None
        return person

    async def update(self, user_id: int, now: datetime, **fields: Any) -> Person | None:
        unknown = set(fields) - EDITABLE
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        if fields:
            values = [to_db(v) if isinstance(v, datetime) else v for v in fields.values()]
            assignments = ", ".join(f"{name} = ?" for name in fields)
            await self.session.execute(
                f"UPDATE people SET {assignments}, updated_at = ? WHERE user_id = ?",
                (*values, to_db(now), user_id),
            )
        return await self.get(user_id)

    async def active(self) -> list[Person]:
        """Everyone who has not blocked the bot, in id order."""
        rows = await self.session.fetchall("SELECT * FROM people WHERE active = 1 ORDER BY user_id")
        return [_person(row) for row in rows]

    async def set_active(self, user_id: int, active: bool) -> None:
        await self.session.execute(
            "UPDATE people SET active = ? WHERE user_id = ?", (int(active), user_id)
        )

    async def delete(self, user_id: int) -> bool:
        return await self.session.execute("DELETE FROM people WHERE user_id = ?", (user_id,)) > 0

    async def export(self, user_id: int) -> dict[str, Any] | None:
        row = await self.session.fetchone("SELECT * FROM people WHERE user_id = ?", (user_id,))
        return None if row is None else dict(row)
