"""The rules of notifications as plain functions: routing, quiet hours, backoff, reminders."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from bot.config import Settings
from domain.deadlines import ReminderPlan, plan_reminders
from domain.notifications import (
    Category,
    Mode,
    Route,
    digest_day,
    quiet_until,
    retry_delay,
    route,
)

SEOUL = ZoneInfo("Asia/Seoul")
H = timedelta(hours=1)
OFFSETS = (72 * H, 24 * H, 3 * H)


def kst(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2090, 5, day, hour, minute, tzinfo=SEOUL)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (kst(4, 21, 59), None),
        (kst(4, 22, 0), kst(5, 8)),
        (kst(4, 23, 30), kst(5, 8)),
        (kst(5, 3, 0), kst(5, 8)),
        (kst(5, 7, 59), kst(5, 8)),
        (kst(5, 8, 0), None),
        (kst(5, 12, 0), None),
    ],
)
def test_quiet_hours_span_midnight_in_seoul(moment: datetime, expected: datetime | None) -> None:
    assert quiet_until(moment.astimezone(UTC), time(22), time(8), SEOUL) == expected


def test_quiet_hours_within_a_day_and_none() -> None:
    assert quiet_until(kst(4, 13), time(12), time(14), SEOUL) == kst(4, 14)
    assert quiet_until(kst(4, 11), time(12), time(14), SEOUL) is None
    assert quiet_until(kst(4, 13), time(8), time(8), SEOUL) is None


@pytest.mark.parametrize(
    ("category", "urgent", "mode", "reachable", "quiet", "expected"),
    [
        (Category.UPDATES, False, None, True, False, Route.SEND),
        (Category.UPDATES, False, None, True, True, Route.WAIT),
        (Category.UPDATES, True, None, True, True, Route.SEND),
        (Category.DIRECT, False, None, True, True, Route.SEND),
        (Category.UPDATES, False, Mode.OFF, True, False, Route.DROP),
        (Category.UPDATES, True, Mode.OFF, True, False, Route.SEND),
        (Category.DEADLINES, False, Mode.DIGEST, True, True, Route.DIGEST),
        (Category.ANNOUNCEMENTS, False, None, True, False, Route.DIGEST),  # the default
        (Category.DIRECT, True, None, False, False, Route.DROP),
    ],
)
def test_routing(
    category: Category,
    urgent: bool,
    mode: Mode | None,
    reachable: bool,
    quiet: bool,
    expected: Route,
) -> None:
    assert route(category, urgent, mode, reachable, quiet) is expected


def test_backoff_doubles_and_is_capped() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert retry_delay(30) == timedelta(hours=1)


def test_the_digest_is_due_from_its_time_on_that_local_day() -> None:
    assert digest_day(kst(5, 7, 59).astimezone(UTC), time(8), SEOUL) is None
    assert digest_day(kst(5, 8, 0).astimezone(UTC), time(8), SEOUL) == date(2090, 5, 5)
    # 23:30 UTC on the 4th is already 08:30 on the 5th in Seoul.
    assert digest_day(datetime(2090, 5, 4, 23, 30, tzinfo=UTC), time(8), SEOUL) == date(2090, 5, 5)


DEADLINE = datetime(2090, 6, 1, tzinfo=UTC)
START = DEADLINE - 30 * 24 * H


def plan(now: datetime, sent: dict[timedelta, datetime] | None = None) -> ReminderPlan:
    return plan_reminders(START, DEADLINE, OFFSETS, now, sent or {})


def test_each_reminder_is_due_at_its_offset() -> None:
    assert plan(DEADLINE - 73 * H) == ReminderPlan(None)
    assert plan(DEADLINE - 72 * H) == ReminderPlan(72 * H)
    assert plan(DEADLINE - 70 * H, {72 * H: DEADLINE - 72 * H}) == ReminderPlan(None)
    assert plan(DEADLINE - 24 * H, {72 * H: DEADLINE - 72 * H}) == ReminderPlan(24 * H)
    assert plan(DEADLINE, {}) == ReminderPlan(None)  # too late for any


def test_after_downtime_only_the_nearest_goes_out() -> None:
    assert plan(DEADLINE - 2 * H) == ReminderPlan(3 * H, skip=(72 * H, 24 * H))
    every = dict.fromkeys(OFFSETS, DEADLINE - 2 * H)
    assert not plan(DEADLINE - 2 * H, every)


def test_a_later_deadline_reminds_again_an_earlier_one_does_not() -> None:
    sent = {72 * H: DEADLINE - 72 * H}
    later = plan_reminders(START, DEADLINE + 48 * H, OFFSETS, DEADLINE - 20 * H, sent)
    assert later == ReminderPlan(72 * H)
    earlier = plan_reminders(START, DEADLINE - H, OFFSETS, DEADLINE - 70 * H, sent)
    assert earlier == ReminderPlan(None)


def test_no_reminder_before_the_stage_opens() -> None:
    short = plan_reminders(DEADLINE - 48 * H, DEADLINE, OFFSETS, DEADLINE - 47 * H, {})
    assert short == ReminderPlan(None)
    assert plan_reminders(DEADLINE - 48 * H, DEADLINE, OFFSETS, DEADLINE - 24 * H, {}) == (
        ReminderPlan(24 * H)
    )


def test_a_more_urgent_reminder_already_sent_covers_a_missed_earlier_one() -> None:
    sent = {3 * H: DEADLINE - 2 * H}
    assert plan(DEADLINE - H, sent) == ReminderPlan(None, skip=(72 * H, 24 * H))


def test_reminder_offsets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMINDER_OFFSETS", "90m, 2d,24h")
    assert Settings(_env_file=None).reminder_offsets == (48 * H, 24 * H, timedelta(minutes=90))
    assert Settings(_env_file=None, reminder_offsets="3h,72h,3h").reminder_offsets == (
        72 * H,
        3 * H,
    )
    with pytest.raises(ValidationError, match="not a duration"):
        Settings(_env_file=None, reminder_offsets="3 days")
