"""The durable intake: updates recorded before they are acknowledged, taken by workers one
person at a time (see migration 0017)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from storage.clock import to_db
from storage.db import Session

# Telegram re-sends an unanswered update within minutes; a day is ample.
DONE_KEPT = timedelta(days=1)
PRUNE_EVERY = 1000  # update ids: prune done rows once every this many
# A worker whose heartbeat is older than this is taken for dead: its claims go to others.
# Long enough that a live worker on a busy machine does not lose its claims.
WORKER_TIMEOUT = timedelta(seconds=15)

# Kinds of update whose content names the person ("from"), or only the chat.
_PERSON_FIELDS = ("from", "user", "voter_chat", "chat")


def person_of(payload: dict[str, Any]) -> int:
    """Whose update this is: the sender (or the chat, when none is named); 0 for none."""
    for key, content in payload.items():
        if key == "update_id" or not isinstance(content, dict):
            continue
        for name in _PERSON_FIELDS:
            who = content.get(name)
            if isinstance(who, dict) and isinstance(who.get("id"), int):
                return int(who["id"])
    return 0


@dataclass(frozen=True)
class Claimed:
    update_id: int
    person: int
    payload: dict[str, Any]
    applied: bool  # a worker that died had already applied it: only finish it


_CLAIMED_COLUMNS = "update_id, person, payload, applied_at"
# A person's next update may be taken only when every earlier one is done and none is in
# hand (one that arrived late, on another connection, waits for the one taken before it).
# The unique index updates_one_in_hand (migration 0023) keeps the second half when two
# claims race.
_FIRST_OF_ITS_PERSON = (
    "NOT EXISTS (SELECT 1 FROM updates e WHERE e.person = u.person AND e.done_at IS NULL"
    " AND (e.update_id < u.update_id OR e.claimed_by IS NOT NULL))"
)


class UpdatesRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    async def receive(self, updates: Iterable[dict[str, Any]], now: datetime) -> None:
        """Record updates; one already recorded (Telegram sent it again) is ignored."""
        await self.session.executemany(
            "INSERT INTO updates (update_id, person, payload, received_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (update_id) DO NOTHING",
            [
                (
                    int(update["update_id"]),
                    person_of(update),
                    json.dumps(update, ensure_ascii=False, separators=(",", ":")),
                    to_db(now),
                )
                for update in updates
            ],
        )

    async def claim_one(self, update_id: int, worker: str, now: datetime) -> Claimed | None:
        """Take this update if it is waiting and first in its person's line. Two of their
        updates received at once (on two connections) are not both taken: the second claim
        waits for the first and fails on updates_one_in_hand (`storage.db.is_conflict`); the
        caller records the update without taking it."""
        rows = await self.session.fetchall(
            f"UPDATE updates SET claimed_by = ?, claimed_at = ? WHERE update_id IN ("
            f" SELECT u.update_id FROM updates u WHERE u.update_id = ? AND u.done_at IS NULL"
            f" AND u.claimed_by IS NULL AND {_FIRST_OF_ITS_PERSON})"
            f" AND claimed_by IS NULL RETURNING {_CLAIMED_COLUMNS}",
            (worker, to_db(now), update_id),
        )
        return _claimed(rows[0]) if rows else None

    async def claim(self, worker: str, now: datetime, limit: int) -> list[Claimed]:
        """Take up to `limit` waiting updates, each the first in its person's line, oldest
        first. On PostgreSQL the candidates are locked as they are chosen, skipping rows
        another worker's claim holds (SKIP LOCKED): claims never wait for each other, nor
        deadlock (two claims locking the same rows in different orders did). SQLite's
        writers are one at a time anyway."""
        if limit <= 0:
            return []
        skip_locked = " FOR UPDATE SKIP LOCKED" if self.session.dialect == "postgres" else ""
        rows = await self.session.fetchall(
            f"UPDATE updates SET claimed_by = ?, claimed_at = ? WHERE update_id IN ("
            f" SELECT u.update_id FROM updates u WHERE u.done_at IS NULL"
            f" AND u.claimed_by IS NULL AND {_FIRST_OF_ITS_PERSON}"
            f" ORDER BY u.update_id LIMIT ?{skip_locked})"
            f" AND claimed_by IS NULL RETURNING {_CLAIMED_COLUMNS}",
            (worker, to_db(now), limit),
        )
        return sorted((_claimed(row) for row in rows), key=lambda c: c.update_id)

    async def mark_applied(self, update_id: int, worker: str, now: datetime) -> bool:
        """The first unit of work that writes for an update marks it applied; False if the
        update is no longer this worker's (taken over: its work must not commit)."""
        changed = await self.session.execute(
            "UPDATE updates SET applied_at = ? WHERE update_id = ? AND claimed_by = ?"
            " AND done_at IS NULL",
            (to_db(now), update_id, worker),
        )
        return changed == 1

    async def finish(self, update_id: int, worker: str, now: datetime) -> bool:
        """Done: the person's next update may be taken (the payload is not kept). False if
        the update is no longer this worker's: then nothing else of it may be written."""
        changed = await self.session.execute(
            "UPDATE updates SET done_at = ?, payload = NULL"
            " WHERE update_id = ? AND claimed_by = ? AND done_at IS NULL",
            (to_db(now), update_id, worker),
        )
        if update_id % PRUNE_EVERY == 0:
            await self.session.execute(
                "DELETE FROM updates WHERE done_at IS NOT NULL AND done_at < ?",
                (to_db(now - DONE_KEPT),),
            )
        return changed == 1

    async def release_own(self, worker: str) -> int:
        """At start-up: what this worker had claimed before it stopped is waiting again."""
        return await self.session.execute(
            "UPDATE updates SET claimed_by = NULL, claimed_at = NULL"
            " WHERE claimed_by = ? AND done_at IS NULL",
            (worker,),
        )

    async def heartbeat(self, worker: str, now: datetime, load: int = 0) -> int:
        """This worker is alive (and finished `load` updates since its last beat); claims of
        workers silent for WORKER_TIMEOUT are released. Returns how many were released."""
        await self.session.execute(
            "INSERT INTO workers (name, seen_at, load) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET seen_at = excluded.seen_at, load = excluded.load",
            (worker, to_db(now), load),
        )
        # Rows another transaction holds are left for the next beat (SKIP LOCKED): two
        # workers releasing the same rows in different orders would deadlock.
        skip_locked = " FOR UPDATE SKIP LOCKED" if self.session.dialect == "postgres" else ""
        return await self.session.execute(
            "UPDATE updates SET claimed_by = NULL, claimed_at = NULL WHERE update_id IN ("
            " SELECT update_id FROM updates WHERE done_at IS NULL AND claimed_by IN ("
            f" SELECT name FROM workers WHERE seen_at < ?){skip_locked})",
            (to_db(now - WORKER_TIMEOUT),),
        )

    async def least_load_elsewhere(self, worker: str, now: datetime) -> int | None:
        """The smallest load of the other live workers; None when this one is alone."""
        value = await self.session.scalar(
            "SELECT MIN(load) FROM workers WHERE name <> ? AND seen_at >= ?",
            (worker, to_db(now - WORKER_TIMEOUT)),
        )
        return None if value is None else int(value)

    async def waiting(self) -> int:
        return int(
            await self.session.scalar("SELECT COUNT(*) FROM updates WHERE done_at IS NULL") or 0
        )


def _claimed(row: Any) -> Claimed:
    return Claimed(
        update_id=int(row["update_id"]),
        person=int(row["person"]),
        payload=json.loads(row["payload"]),
        applied=row["applied_at"] is not None,
    )
