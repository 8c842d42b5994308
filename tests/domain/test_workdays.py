"""Answer deadlines count working days: weekends and Korean public holidays do not count
(docs/glossary.md, 민원 처리에 관한 법률 시행령 제19조)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.workdays import is_working_day, working_days_deadline


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2027, 1, 1), False),  # 신정
        (date(2027, 2, 8), False),  # 설날 연휴
        (date(2027, 2, 9), False),  # 설날 대체공휴일
        (date(2027, 1, 2), False),  # a Saturday
        (date(2027, 1, 4), True),
        (date(2026, 6, 3), False),  # 지방선거일
    ],
)
def test_working_days(day: date, working: bool) -> None:
    assert is_working_day(day) is working


def test_a_deadline_never_falls_on_a_holiday() -> None:
    # Received Thu 31 Dec 2026 (KST): day 1 is the 31st, New Year's Day and the weekend do
    # not count, day 2 is Mon 4 Jan; the deadline is its end, 00:00 on the 5th in Seoul.
    received = datetime(2026, 12, 31, 1, tzinfo=UTC)
    assert working_days_deadline(received, 2) == datetime(2027, 1, 4, 15, tzinfo=UTC)
    # Received on a Saturday: the count starts on Monday.
    saturday = datetime(2027, 1, 2, 3, tzinfo=UTC)
    assert working_days_deadline(saturday, 1) == datetime(2027, 1, 4, 15, tzinfo=UTC)
    # 30 working days from Wed 2 Dec 2026 skip 25 Dec and 1 Jan: the end of Thu 14 Jan.
    assert working_days_deadline(datetime(2026, 12, 2, 1, tzinfo=UTC), 30) == datetime(
        2027, 1, 14, 15, tzinfo=UTC
    )
    with pytest.raises(ValueError):
        working_days_deadline(received, 0)
