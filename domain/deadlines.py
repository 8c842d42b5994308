"""When reminders before a stage deadline are due (SPEC §8).

A reminder is set `offset` before the deadline (72 h, 24 h, 3 h by default). It is *done*
once it has gone out at or after that moment for the current deadline, so moving the
deadline later schedules it again and moving it earlier does not repeat one already sent.
After downtime only the most urgent of the missed reminders goes out; the others are
recorded as skipped, so nobody gets "3 days left" and "3 hours left" in the same minute.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ReminderPlan:
    send: timedelta | None  # the offset whose reminder goes out now
    skip: tuple[timedelta, ...] = ()  # missed offsets recorded without sending

    def __bool__(self) -> bool:
        return self.send is not None or bool(self.skip)


def reminder_time(deadline: datetime, offset: timedelta) -> datetime:
    return deadline - offset


def plan_reminders(
    starts_at: datetime,
    deadline: datetime,
    offsets: Iterable[timedelta],
    now: datetime,
    last_sent: Mapping[timedelta, datetime],
) -> ReminderPlan:
    """Which reminder of one stage to send now, given when each offset last went out."""
    if now >= deadline:
        return ReminderPlan(None)
    due: list[timedelta] = []
    done: list[timedelta] = []
    for offset in offsets:
        moment = reminder_time(deadline, offset)
        # A reminder that would fall before the stage opens says nothing the opening did not.
        if moment <= starts_at or moment > now:
            continue
        sent = last_sent.get(offset)
        (done if sent is not None and sent >= moment else due).append(offset)
    if not due:
        return ReminderPlan(None)
    nearest = min(due)
    skipped = tuple(sorted((o for o in due if o != nearest), reverse=True))
    if any(offset < nearest for offset in done):
        # A more urgent reminder already went out after this one's time.
        return ReminderPlan(None, tuple(sorted(due, reverse=True)))
    return ReminderPlan(nearest, skipped)
