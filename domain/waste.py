"""Budget-waste reports (예산낭비신고, 지방재정법 제48조의2): the handling chain, verdicts,
receipt numbers, limits and the checks on what a reporter types (SPEC §7).

The seeds name the centre and the reward (예산절약성과금) but give no procedure; the chain
below is the product's, and every figure is a programme setting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo

from domain.proposals import parse_won
from domain.workdays import working_days_deadline

SEOUL: Final = ZoneInfo("Asia/Seoul")

DESCRIPTION_MIN: Final = 10
DESCRIPTION_MAX: Final = 2000
AGENCY_MAX: Final = 100
ADDRESS_MAX: Final = 200
NOTE_MAX: Final = 2000  # information added by the reporter, an officer's answer
ANSWER_MIN: Final = 5
FILES_MAX: Final = 10  # per report, and per addition of information
# Far above any city budget (서울시 ~50조 원), low enough to stay inside SQLite's integers.
AMOUNT_MAX: Final = 10**15
EARLIEST_DATE: Final = date(2000, 1, 1)


class Status(StrEnum):
    RECEIVED = "received"  # 접수
    ASSIGNED = "assigned"  # 배정 (to an officer or a department)
    INVESTIGATING = "investigating"  # 조사
    ANSWERED = "answered"  # 답변
    REWARD_DECIDED = "reward_decided"  # 예산절약성과금 결정
    CLOSED = "closed"  # 종결


class Verdict(StrEnum):
    SUBSTANTIATED = "substantiated"  # 인정
    PARTLY = "partly"  # 일부 인정
    NOT_SUBSTANTIATED = "not_substantiated"  # 불인정


class EventKind(StrEnum):
    """What the history of a report records: each status reached, and what happened between."""

    RECEIVED = "received"
    ASSIGNED = "assigned"  # also a reassignment, which keeps the status
    INVESTIGATING = "investigating"
    ANSWERED = "answered"
    REWARD_DECIDED = "reward_decided"
    CLOSED = "closed"
    INFO_ADDED = "info_added"  # by the reporter


class FileKind(StrEnum):
    PHOTO = "photo"
    DOCUMENT = "document"


# Which status may follow which; anything else is refused, whoever asks.
TRANSITIONS: Final[Mapping[Status, frozenset[Status]]] = {
    Status.RECEIVED: frozenset({Status.ASSIGNED}),
    Status.ASSIGNED: frozenset({Status.INVESTIGATING}),
    Status.INVESTIGATING: frozenset({Status.ANSWERED}),
    Status.ANSWERED: frozenset({Status.REWARD_DECIDED, Status.CLOSED}),
    Status.REWARD_DECIDED: frozenset({Status.CLOSED}),
    Status.CLOSED: frozenset(),
}
# Assignment (and reassignment) is possible until the answer; it moves only a new report on.
ASSIGNABLE: Final = frozenset({Status.RECEIVED, Status.ASSIGNED, Status.INVESTIGATING})
# The answer deadline runs while these wait for an answer.
AWAITING_ANSWER: Final = ASSIGNABLE
# The reporter may add information until the case is closed.
OPEN: Final = frozenset(set(Status) - {Status.CLOSED})


class TransitionError(ValueError):
    pass


def check_transition(current: Status, new: Status, verdict: Verdict | None) -> None:
    if new not in TRANSITIONS[current]:
        raise TransitionError(f"{current.value} → {new.value} is not allowed")
    # A substantiated report is closed only once its reward is decided (even if nil).
    if current is Status.ANSWERED and new is Status.CLOSED:
        if verdict is not Verdict.NOT_SUBSTANTIATED:
            raise TransitionError("decide the reward before closing a substantiated report")


def status_after_assignment(current: Status) -> Status:
    if current not in ASSIGNABLE:
        raise TransitionError(f"a report that is {current.value} can't be reassigned")
    return Status.ASSIGNED if current is Status.RECEIVED else current


@dataclass(frozen=True)
class WasteRules:
    """The programme's settings (SPEC §7: configurable deadlines and limits)."""

    answer_deadline_days: int = 30
    reports_per_day: int = 5

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> WasteRules:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in settings.items() if key in known})

    def answer_due(self, received_at: datetime) -> datetime:
        """The end of the answer period, counted in working days (domain.workdays)."""
        return working_days_deadline(received_at, self.answer_deadline_days)


def is_overdue(status: Status, due_at: datetime, now: datetime) -> bool:
    return status in AWAITING_ANSWER and now >= due_at


# -- receipt numbers ----------------------------------------------------------------------
_RECEIPT: Final = re.compile(r"^W-(\d{4})-(\d{6,})$")


def receipt_year(now: datetime) -> int:
    """Numbers restart each year in Seoul time: 23:30 KST on 31 December is still that year."""
    return now.astimezone(SEOUL).year


def format_receipt(year: int, sequence: int) -> str:
    return f"W-{year}-{sequence:06d}"


def parse_receipt(text: str) -> tuple[int, int] | None:
    match = _RECEIPT.match(text.strip().upper())
    return None if match is None else (int(match[1]), int(match[2]))


# -- what the reporter types ------------------------------------------------------------------
class Refusal(StrEnum):
    """Why an answer or an action is refused; the bot turns each into a sentence."""

    DESCRIPTION_TOO_SHORT = "description_too_short"
    DESCRIPTION_TOO_LONG = "description_too_long"
    AGENCY_INVALID = "agency_invalid"
    ADDRESS_INVALID = "address_invalid"
    DATE_NOT_UNDERSTOOD = "date_not_understood"
    DATE_IN_FUTURE = "date_in_future"
    DATE_TOO_EARLY = "date_too_early"
    AMOUNT_NOT_A_NUMBER = "amount_not_a_number"
    AMOUNT_TOO_LARGE = "amount_too_large"
    TOO_MANY_FILES = "too_many_files"
    REWARD_NOT_ALLOWED = "reward_not_allowed"
    NOTE_INVALID = "note_invalid"
    DAILY_LIMIT = "daily_limit"
    CLOSED = "closed"  # no programme takes reports now
    NOT_SIGNED_UP = "not_signed_up"


def check_description(text: str) -> Refusal | None:
    length = len(text.strip())
    if length < DESCRIPTION_MIN:
        return Refusal.DESCRIPTION_TOO_SHORT
    if length > DESCRIPTION_MAX:
        return Refusal.DESCRIPTION_TOO_LONG
    return None


def check_agency(text: str) -> Refusal | None:
    return None if 2 <= len(text.strip()) <= AGENCY_MAX else Refusal.AGENCY_INVALID


def check_address(text: str) -> Refusal | None:
    return None if 2 <= len(text.strip()) <= ADDRESS_MAX else Refusal.ADDRESS_INVALID


def check_note(text: str) -> Refusal | None:
    return None if 1 <= len(text.strip()) <= NOTE_MAX else Refusal.NOTE_INVALID


def read_amount(text: str, allow_zero: bool = False) -> int | Refusal:
    """An amount in won as people type it ("5000000", "500만", "3억 5천만 원")."""
    amount = parse_won(text)
    if amount is None or (amount == 0 and not allow_zero):
        return Refusal.AMOUNT_NOT_A_NUMBER
    if amount > AMOUNT_MAX:
        return Refusal.AMOUNT_TOO_LARGE
    return amount


def check_amount(amount: int | None, allow_zero: bool = False) -> Refusal | None:
    if amount is None:
        return None
    if amount < 0 or (amount == 0 and not allow_zero):
        return Refusal.AMOUNT_NOT_A_NUMBER
    return Refusal.AMOUNT_TOO_LARGE if amount > AMOUNT_MAX else None


_FULL_DATE: Final = re.compile(
    r"^(\d{4})\s*(?:[-./]|년)\s*(\d{1,2})\s*(?:[-./]|월)\s*(\d{1,2})\s*(?:일|\.)?$"
)
_MONTH_DAY: Final = re.compile(r"^(\d{1,2})\s*월\s*(\d{1,2})\s*일?$")


def parse_date(text: str, today: date) -> date | None:
    """ "2027-03-05", "2027.3.5", "2027년 3월 5일"; "3월 5일" is the latest such day so far."""
    cleaned = text.strip()
    try:
        if match := _FULL_DATE.match(cleaned):
            return date(int(match[1]), int(match[2]), int(match[3]))
        if match := _MONTH_DAY.match(cleaned):
            month, day = int(match[1]), int(match[2])
            found = date(today.year, month, day)
            return found if found <= today else date(today.year - 1, month, day)
    except ValueError:
        return None  # 2월 30일 and the like
    return None


def check_date(day: date | None, today: date) -> Refusal | None:
    if day is None:
        return None
    if day > today:
        return Refusal.DATE_IN_FUTURE
    if day < EARLIEST_DATE:
        return Refusal.DATE_TOO_EARLY
    return None


def check_reward(verdict: Verdict | None, amount: int) -> Refusal | None:
    """예산절약성과금 goes only with a (partly) substantiated report; nil is always allowed."""
    if amount < 0:
        return Refusal.AMOUNT_NOT_A_NUMBER
    if amount > AMOUNT_MAX:
        return Refusal.AMOUNT_TOO_LARGE
    if amount > 0 and verdict not in (Verdict.SUBSTANTIATED, Verdict.PARTLY):
        return Refusal.REWARD_NOT_ALLOWED
    return None
