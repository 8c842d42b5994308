"""What features hook into the scheduler with (re-exported by `bot.automation`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from domain.programmes import Programme, Stage
from storage.clock import to_db
from storage.db import Session


@dataclass(frozen=True)
class StageEvent:
    """A stage opened or closed (SPEC §3)."""

    programme: Programme
    programme_id: int
    stage: Stage
    stage_id: int
    kind: Literal["open", "close"]
    at: datetime  # when it was due, UTC; after downtime this is in the past


# Runs inside the unit of work that records the transition, exactly once per transition.
StageHandler = Callable[[Session, StageEvent], Awaitable[None]]


@dataclass(frozen=True)
class ReminderDue:
    """A stage deadline is `offset` away: time to remind whoever has not acted (SPEC §8)."""

    programme: Programme
    programme_id: int
    stage: Stage
    stage_id: int
    deadline: datetime
    offset: timedelta
    now: datetime

    def dedupe_key(self, user_id: int, *parts: object) -> str:
        """A key unique to this reminder for this person (and e.g. a proposal id in `parts`),
        for `storage.outbox.enqueue(..., dedupe_key=...)`."""
        offset = int(self.offset.total_seconds())
        fields = ["reminder", self.stage_id, offset, to_db(self.deadline), *parts, user_id]
        return ":".join(str(field) for field in fields)


# Queues its reminders itself (`storage.outbox.enqueue`, category DEADLINES, `dedupe_key`)
# and returns how many; runs once per (stage, offset, deadline).
ReminderAudience = Callable[[Session, ReminderDue], Awaitable[int]]
