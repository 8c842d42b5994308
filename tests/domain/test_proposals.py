"""Proposal rules (SPEC §4): caps, districts, thresholds, debates, lifecycle, similarity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.programmes import ProgrammeKind
from domain.proposals import (
    POLICY_FIELDS,
    TRANSITIONS,
    DebateKind,
    ProjectKind,
    ProposalRules,
    Refusal,
    Scope,
    Status,
    TransitionError,
    check_cost,
    check_description,
    check_districts,
    check_title,
    check_transition,
    debate_outcome,
    most_similar,
    parse_won,
    status_after_support,
    support_deadline,
)

SEOUL_DEMOCRACY = ProposalRules.from_settings(
    {"support_threshold": 500, "support_window_days": 30, "unrelated": "ignored"}
)
PB = ProposalRules.from_settings(
    {"general_project_cap": 4_000_000_000, "event_project_cap": 300_000_000, "minimum_districts": 2}
)
NOW = datetime(2027, 2, 10, tzinfo=UTC)


def test_the_18_policy_fields() -> None:
    assert len(POLICY_FIELDS) == 18
    assert POLICY_FIELDS[0].name_ko == "민주서울" and POLICY_FIELDS[-1].name_ko == "한강"


@pytest.mark.parametrize(
    ("typed", "won"),
    [
        ("350000000", 350_000_000),
        ("350,000,000원", 350_000_000),
        ("₩4,000,000,000", 4_000_000_000),
        ("40억", 4_000_000_000),
        ("40억 원", 4_000_000_000),
        ("3억 5000만", 350_000_000),
        ("3억5천만", 350_000_000),
        ("2.5억", 250_000_000),
        ("1조 2억", 1_000_200_000_000),
    ],
)
def test_amounts_as_people_type_them(typed: str, won: int) -> None:
    assert parse_won(typed) == won


@pytest.mark.parametrize("typed", ["", "많이", "3억 abc", "억", "1.5", "12 34"])
def test_amounts_that_are_not(typed: str) -> None:
    assert parse_won(typed) is None


def test_caps_are_strictly_under() -> None:
    assert check_cost(3_999_999_999, ProjectKind.GENERAL, PB) is None
    assert check_cost(4_000_000_000, ProjectKind.GENERAL, PB) is Refusal.OVER_CAP
    assert check_cost(299_999_999, ProjectKind.EVENT, PB) is None
    assert check_cost(300_000_000, ProjectKind.EVENT, PB) is Refusal.OVER_CAP
    assert check_cost(10**12, ProjectKind.GENERAL, SEOUL_DEMOCRACY) is None  # no cap there


def test_amounts_beyond_any_column_are_refused_not_crashed() -> None:
    # A float overflowed on 400 digits; a cost over 2^63 - 1 could not be stored (issue 17).
    assert (parse_won("9" * 400) or 0) > 2**63
    assert parse_won("9" * 4000 + "억") is not None
    assert check_cost(2**63, ProjectKind.GENERAL, SEOUL_DEMOCRACY) is Refusal.COST_NOT_A_NUMBER
    assert check_cost(2**63 - 1, ProjectKind.GENERAL, SEOUL_DEMOCRACY) is None


def test_city_wide_pb_needs_two_districts() -> None:
    assert check_districts(Scope.CITY, ["mapo"], PB) is Refusal.TOO_FEW_DISTRICTS
    assert check_districts(Scope.CITY, ["mapo", "mapo"], PB) is Refusal.TOO_FEW_DISTRICTS
    assert check_districts(Scope.CITY, ["mapo", "guro"], PB) is None
    # One district or one dong is one district, however it was chosen (issue 14).
    assert check_districts(Scope.DISTRICT, ["mapo"], PB) is Refusal.TOO_FEW_DISTRICTS
    assert check_districts(Scope.DONG, ["mapo"], PB) is Refusal.TOO_FEW_DISTRICTS
    assert check_districts(Scope.DISTRICT, ["mapo"], SEOUL_DEMOCRACY) is None
    track = ProgrammeKind.DISTRICT_PLAN
    assert check_districts(Scope.DISTRICT, ["mapo"], SEOUL_DEMOCRACY, track) is None
    assert check_districts(Scope.DONG, ["mapo"], SEOUL_DEMOCRACY, track) is None
    assert (
        check_districts(Scope.CITY, ["mapo", "guro"], SEOUL_DEMOCRACY, track)
        is Refusal.ONE_DISTRICT_ONLY
    )
    assert check_districts(Scope.CITY, ["mapo"], SEOUL_DEMOCRACY) is None


def test_title_and_description_limits() -> None:
    assert check_title("  ") is Refusal.TITLE_EMPTY
    assert check_title("가" * 80) is None
    assert check_title("가" * 81) is Refusal.TITLE_TOO_LONG
    assert check_description("짧아요") is Refusal.DESCRIPTION_TOO_SHORT
    assert check_description("가" * 2000) is None
    assert check_description("가" * 2001) is Refusal.DESCRIPTION_TOO_LONG


def test_500_supports_within_30_days_reach_agenda_review() -> None:
    deadline = support_deadline(NOW, SEOUL_DEMOCRACY)
    assert deadline == NOW + timedelta(days=30)
    later = NOW + timedelta(days=29)
    assert status_after_support(Status.PUBLISHED, 499, deadline, later, SEOUL_DEMOCRACY) is (
        Status.PUBLISHED
    )
    assert status_after_support(Status.PUBLISHED, 500, deadline, later, SEOUL_DEMOCRACY) is (
        Status.THRESHOLD_REACHED
    )
    after = NOW + timedelta(days=30)
    assert status_after_support(Status.PUBLISHED, 499, deadline, after, SEOUL_DEMOCRACY) is (
        Status.NOT_REACHED
    )
    # Without a goal (PB proposals) support is counted but changes nothing.
    assert support_deadline(NOW, PB) is None
    assert status_after_support(Status.PUBLISHED, 10_000, None, NOW, PB) is Status.PUBLISHED


def test_thresholds_are_configurable() -> None:
    small = ProposalRules.from_settings({"support_threshold": 3, "support_window_days": 2})
    deadline = support_deadline(NOW, small)
    assert status_after_support(Status.PUBLISHED, 3, deadline, NOW, small) is (
        Status.THRESHOLD_REACHED
    )


def test_the_2019_debates() -> None:
    rules = ProposalRules()
    # 난임: 5,259 participants, 5,115 for → deliberation, and the mayor answers.
    infertility = debate_outcome(DebateKind.FOR_AGAINST, 5259, 5115, 144, rules)
    assert infertility.to_deliberation and infertility.mayor_answers
    # Enough people but a majority against → no deliberation.
    against = debate_outcome(DebateKind.FOR_AGAINST, 5259, 2000, 3259, rules)
    assert not against.to_deliberation and against.mayor_answers
    small = debate_outcome(DebateKind.FOR_AGAINST, 999, 999, 0, rules)
    assert not small.mayor_answers and not small.to_deliberation
    discussion = debate_outcome(DebateKind.DISCUSSION, 5000, 0, 0, rules)
    assert discussion.to_deliberation


def test_lifecycle_transitions() -> None:
    check_transition(Status.PUBLISHED, Status.THRESHOLD_REACHED)
    check_transition(Status.UNDER_REVIEW, Status.ACCEPTED)
    check_transition(Status.ACCEPTED, Status.IN_EXECUTION)
    check_transition(Status.IN_EXECUTION, Status.IN_EXECUTION)  # progress updates
    check_transition(Status.IN_EXECUTION, Status.COMPLETED)
    for final in (Status.REJECTED, Status.COMPLETED, Status.WITHDRAWN, Status.MERGED):
        assert not TRANSITIONS[final] - {final}
    with pytest.raises(TransitionError):
        check_transition(Status.REJECTED, Status.ACCEPTED)
    with pytest.raises(TransitionError):
        check_transition(Status.COMPLETED, Status.WITHDRAWN)
    # Every status is reachable from a published proposal.
    seen, frontier = {Status.PUBLISHED}, [Status.PUBLISHED]
    while frontier:
        for after in TRANSITIONS[frontier.pop()]:
            if after not in seen:
                seen.add(after)
                frontier.append(after)
    assert seen == set(Status) - {Status.SUBMITTED}


def test_similar_korean_proposals_are_found_without_word_splitting() -> None:
    existing = [
        (1, "한강공원에 쓰레기통을 더 설치해 주세요"),
        (2, "어린이 도서관 주말 운영 시간 연장"),
        (3, "한강 공원 쓰레기 분리수거함 설치"),
        (4, "지하철 엘리베이터 추가 설치"),
    ]
    found = most_similar("한강공원 쓰레기통 설치 요청", existing)
    assert [pid for pid, _ in found][:2] == [1, 3]
    assert 2 not in [pid for pid, _ in found]
    assert len(most_similar("x", existing * 3, limit=3, minimum=0.0)) == 3
