"""The rules of budget-waste reports as plain Python (SPEC §7)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.waste import (
    AMOUNT_MAX,
    Refusal,
    Status,
    TransitionError,
    Verdict,
    WasteRules,
    check_date,
    check_reward,
    check_transition,
    format_receipt,
    is_overdue,
    parse_date,
    parse_receipt,
    read_amount,
    receipt_year,
    status_after_assignment,
)

TODAY = date(2027, 3, 10)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-03-05", date(2027, 3, 5)),
        ("2027.3.5.", date(2027, 3, 5)),
        ("2027/3/5", date(2027, 3, 5)),
        ("2027년 3월 5일", date(2027, 3, 5)),
        ("3월 5일", date(2027, 3, 5)),
        ("12월 24일", date(2026, 12, 24)),  # the latest 24 December so far
        ("2027-02-30", None),
        ("2월 30일", None),
        ("어제쯤", None),
        ("5/3", None),  # day/month or month/day: not guessed
    ],
)
def test_dates_as_people_type_them(text: str, expected: date | None) -> None:
    assert parse_date(text, TODAY) == expected


def test_dates_must_be_past_and_not_ancient() -> None:
    assert check_date(TODAY, TODAY) is None
    assert check_date(TODAY + timedelta(days=1), TODAY) is Refusal.DATE_IN_FUTURE
    assert check_date(date(1999, 12, 31), TODAY) is Refusal.DATE_TOO_EARLY
    assert check_date(None, TODAY) is None


def test_amounts_reuse_the_won_parser_with_limits() -> None:
    assert read_amount("500만") == 5_000_000
    assert read_amount("3억 5천만 원") == 350_000_000
    assert read_amount("₩1,200,000") == 1_200_000
    assert read_amount("많이") is Refusal.AMOUNT_NOT_A_NUMBER
    assert read_amount("0") is Refusal.AMOUNT_NOT_A_NUMBER
    assert read_amount("0", allow_zero=True) == 0
    assert read_amount("99999999999999999999") is Refusal.AMOUNT_TOO_LARGE
    assert read_amount(str(AMOUNT_MAX)) == AMOUNT_MAX


def test_receipt_numbers_per_year_in_seoul_time() -> None:
    assert format_receipt(2027, 123) == "W-2027-000123"
    assert parse_receipt(" w-2027-000123 ") == (2027, 123)
    assert parse_receipt("W-27-123") is None
    assert receipt_year(datetime(2027, 12, 31, 14, 59, tzinfo=UTC)) == 2027
    assert receipt_year(datetime(2027, 12, 31, 15, 0, tzinfo=UTC)) == 2028


def test_the_handling_chain() -> None:
    chain = [Status.RECEIVED, Status.ASSIGNED, Status.INVESTIGATING, Status.ANSWERED,
             Status.REWARD_DECIDED, Status.CLOSED]  # fmt: skip
    for current, new in itertools.pairwise(chain):
        check_transition(current, new, Verdict.SUBSTANTIATED)
    for current, new in [
        (Status.RECEIVED, Status.INVESTIGATING),
        (Status.ASSIGNED, Status.ANSWERED),
        (Status.CLOSED, Status.RECEIVED),
        (Status.REWARD_DECIDED, Status.ANSWERED),
    ]:
        with pytest.raises(TransitionError):
            check_transition(current, new, None)
    # Closing straight after the answer: only when there is no reward to decide.
    check_transition(Status.ANSWERED, Status.CLOSED, Verdict.NOT_SUBSTANTIATED)
    with pytest.raises(TransitionError):
        check_transition(Status.ANSWERED, Status.CLOSED, Verdict.PARTLY)


def test_assignment_moves_only_a_new_report_on() -> None:
    assert status_after_assignment(Status.RECEIVED) is Status.ASSIGNED
    assert status_after_assignment(Status.INVESTIGATING) is Status.INVESTIGATING
    with pytest.raises(TransitionError):
        status_after_assignment(Status.ANSWERED)


def test_rewards_go_with_substantiated_reports_only() -> None:
    assert check_reward(Verdict.SUBSTANTIATED, 5_000_000) is None
    assert check_reward(Verdict.PARTLY, 0) is None
    assert check_reward(Verdict.NOT_SUBSTANTIATED, 0) is None
    assert check_reward(Verdict.NOT_SUBSTANTIATED, 1) is Refusal.REWARD_NOT_ALLOWED
    assert check_reward(Verdict.SUBSTANTIATED, -1) is Refusal.AMOUNT_NOT_A_NUMBER


def test_rules_from_the_programme_settings_and_the_deadline() -> None:
    assert WasteRules.from_settings({}) == WasteRules(answer_deadline_days=30, reports_per_day=5)
    rules = WasteRules.from_settings({"answer_deadline_days": 14, "something_else": 1})
    received = datetime(2027, 3, 10, 3, tzinfo=UTC)  # Wed 10 Mar, 12:00 in Seoul
    due = rules.answer_due(received)
    # 14 working days: 10 Mar counts; weekends do not; the end (24:00) of Mon 29 Mar.
    assert due == datetime(2027, 3, 29, 15, tzinfo=UTC)
    assert not is_overdue(Status.INVESTIGATING, due, due - timedelta(seconds=1))
    assert is_overdue(Status.INVESTIGATING, due, due)
    assert not is_overdue(Status.ANSWERED, due, due + timedelta(days=1))
