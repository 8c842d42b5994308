"""Working days (근무일) in Seoul: answer deadlines given in days skip weekends and Korean
public holidays.

The rule is the one the city applies to 민원 처리기간 (민원 처리에 관한 법률 시행령 제19조):
a period in days counts the day of receipt as its first day when that is a working day;
Saturdays, Sundays and public holidays (설날, 추석, 대체공휴일, election days …, from the
`holidays` package's calendar for Korea) do not count; the deadline is the end (24:00) of the
last working day. A deadline of 30 days for a report received on Wed 2 Dec 2026 is the end of
Thu 14 Jan 2027 (25 Dec and 1 Jan do not count), shown as "1월 14일(목) 24:00까지".
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Final
from zoneinfo import ZoneInfo

SEOUL: Final = ZoneInfo("Asia/Seoul")


@cache
def public_holidays(year: int) -> frozenset[date]:
    """Korea's public holidays of a year, substitute holidays included."""
    # Imported here: the calendar takes a tenth of a second to load, and few updates need it.
    import holidays

    return frozenset(holidays.country_holidays("KR", years=year))


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in public_holidays(day.year)


def working_days_deadline(start: datetime, days: int, tz: ZoneInfo = SEOUL) -> datetime:
    """The end of the `days`-th working day from `start` (its own day counts if it is a
    working day), as an aware UTC datetime: 00:00 of the following day in `tz`."""
    if days < 1:
        raise ValueError("a deadline counts at least one working day")
    day = start.astimezone(tz).date()
    counted = 0
    while True:
        if is_working_day(day):
            counted += 1
            if counted == days:
                break
        day += timedelta(days=1)
    return datetime.combine(day + timedelta(days=1), time(0), tz).astimezone(UTC)
