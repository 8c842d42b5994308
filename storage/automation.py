"""What the scheduler has already done: stage transitions and deadline reminders (SPEC §3, §8).

Both are computed from the `stages` table on every check, so re-importing a programme with
new dates moves them without any rescheduling step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from domain.programmes import Programme
from storage.clock import from_db, maybe_from_db, to_db
from storage.db import Session
from storage.programmes import ProgrammesRepository

Kind = Literal["open", "close"]


@dataclass(frozen=True)
class DueTransition:
    stage_id: int
    programme_id: int
    stage_key: str
    kind: Kind
    at: datetime


# A transition is due when its time has come and it has not been applied since that time
# (a stage moved later after it opened or closed opens or closes again). At the same
# instant a closing comes before an opening ('close' < 'open'), then stages in order.
_DUE_TRANSITIONS = """
SELECT s.id, s.programme_id, s.key, 'open' AS kind, s.starts_at AS at, s.position
FROM stages s
WHERE s.starts_at <= ? {stage_filter} AND NOT EXISTS (
    SELECT 1 FROM stage_transitions t
    WHERE t.stage_id = s.id AND t.kind = 'open' AND t.applied_at >= s.starts_at)
UNION ALL
SELECT s.id, s.programme_id, s.key, 'close' AS kind, s.ends_at AS at, s.position
FROM stages s
WHERE s.ends_at IS NOT NULL AND s.ends_at <= ? {stage_filter} AND NOT EXISTS (
    SELECT 1 FROM stage_transitions t
    WHERE t.stage_id = s.id AND t.kind = 'close' AND t.applied_at >= s.ends_at)
ORDER BY at, kind, programme_id, position
"""


async def due_transitions(
    session: Session, now: datetime, stage_id: int | None = None
) -> list[DueTransition]:
    stage_filter = "" if stage_id is None else "AND s.id = ?"
    params = (to_db(now),) if stage_id is None else (to_db(now), stage_id)
    rows = await session.fetchall(_DUE_TRANSITIONS.format(stage_filter=stage_filter), params * 2)
    return [DueTransition(row[0], row[1], row[2], row[3], from_db(row[4])) for row in rows]


async def record_transition(
    session: Session, stage_id: int, kind: Kind, at: datetime, now: datetime
) -> bool:
    """Record a transition as applied; False if this very one already was."""
    inserted = await session.scalar(
        "INSERT INTO stage_transitions (stage_id, kind, at, applied_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (stage_id, kind, at) DO NOTHING RETURNING 1",
        (stage_id, kind, to_db(at), to_db(now)),
    )
    return inserted is not None


@dataclass(frozen=True)
class Deadline:
    stage_id: int
    programme_id: int
    stage_key: str
    starts_at: datetime
    ends_at: datetime


async def upcoming_deadlines(
    session: Session, now: datetime, stage_id: int | None = None
) -> list[Deadline]:
    """Open stages with a deadline still ahead (of one stage, if given)."""
    stage_filter = "" if stage_id is None else " AND id = ?"
    params = (to_db(now), to_db(now)) + (() if stage_id is None else (stage_id,))
    rows = await session.fetchall(
        "SELECT id, programme_id, key, starts_at, ends_at FROM stages"
        " WHERE ends_at IS NOT NULL AND ends_at > ? AND starts_at <= ?"
        f"{stage_filter} ORDER BY ends_at",
        params,
    )
    deadlines = []
    for row in rows:
        ends_at = maybe_from_db(row["ends_at"])
        assert ends_at is not None
        deadlines.append(
            Deadline(row["id"], row["programme_id"], row["key"], from_db(row["starts_at"]), ends_at)
        )
    return deadlines


async def last_reminders(session: Session, stage_id: int) -> dict[timedelta, datetime]:
    """When each offset's reminder last went out (or was skipped) for this stage."""
    rows = await session.fetchall(
        "SELECT offset_seconds, MAX(ran_at) FROM stage_reminders WHERE stage_id = ?"
        " GROUP BY offset_seconds",
        (stage_id,),
    )
    return {timedelta(seconds=row[0]): from_db(row[1]) for row in rows}


async def record_reminder(
    session: Session,
    stage_id: int,
    offset: timedelta,
    deadline: datetime,
    now: datetime,
    *,
    queued: int = 0,
    skipped: bool = False,
) -> bool:
    inserted = await session.scalar(
        "INSERT INTO stage_reminders (stage_id, offset_seconds, deadline, ran_at, queued,"
        " skipped) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (stage_id, offset_seconds, deadline) DO NOTHING RETURNING 1",
        (stage_id, int(offset.total_seconds()), to_db(deadline), to_db(now), queued, int(skipped)),
    )
    return inserted is not None


async def set_reminder_count(
    session: Session, stage_id: int, offset: timedelta, deadline: datetime, queued: int
) -> None:
    await session.execute(
        "UPDATE stage_reminders SET queued = ?"
        " WHERE stage_id = ? AND offset_seconds = ? AND deadline = ?",
        (queued, stage_id, int(offset.total_seconds()), to_db(deadline)),
    )


async def programme_by_id(session: Session, programme_id: int) -> Programme:
    programme = await ProgrammesRepository(session).by_id(programme_id)
    if programme is None:
        raise LookupError(f"no programme {programme_id}")
    return programme
