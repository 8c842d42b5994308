"""Citizen proposals and support (공감): fields, rules, thresholds, lifecycle (SPEC §4).

Everything here is plain Python: the bot, the CLI and the tests share it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from domain.ids import MAX_ID
from domain.programmes import ProgrammeKind

TITLE_MAX: Final = 80
DESCRIPTION_MAX: Final = 2000
PHOTOS_MAX: Final = 5
COMMENT_MAX: Final = 500


@dataclass(frozen=True)
class PolicyField:
    code: str
    name_ko: str
    name_en: str

    def name(self, language: str) -> str:
        return self.name_ko if language == "ko" else self.name_en


# The 18 policy fields (정책분야) of 2021.
POLICY_FIELDS: Final = tuple(
    PolicyField(code, ko, en)
    for code, ko, en in (
        ("democracy", "민주서울", "Democratic Seoul"),
        ("women", "여성", "Women"),
        ("welfare", "복지", "Welfare"),
        ("environment", "환경", "Environment"),
        ("health", "시민건강", "Public health"),
        ("labour", "노동민생", "Labour and livelihoods"),
        ("safety", "안전", "Safety"),
        ("transport", "교통", "Transport"),
        ("culture", "문화", "Culture"),
        ("tourism", "관광체육", "Tourism and sports"),
        ("housing", "주택", "Housing"),
        ("regeneration", "도시재생", "Urban regeneration"),
        ("parks", "공원", "Parks"),
        ("economy", "경제", "Economy"),
        ("smartcity", "스마트도시", "Smart city"),
        ("education", "교육", "Education"),
        ("water", "물순환안전", "Water cycle safety"),
        ("hanriver", "한강", "Han River"),
    )
)
FIELDS_BY_CODE: Final = {f.code: f for f in POLICY_FIELDS}


class Scope(StrEnum):
    CITY = "city"  # 광역 (city-wide)
    DISTRICT = "district"  # 구 단위
    DONG = "dong"  # 동 단위


class ProjectKind(StrEnum):
    GENERAL = "general"  # 일반사업
    EVENT = "event"  # 프로그램·행사성 사업


class Status(StrEnum):
    SUBMITTED = "submitted"
    PUBLISHED = "published"  # collecting support
    THRESHOLD_REACHED = "threshold_reached"  # → 의제 검토 (agenda review)
    NOT_REACHED = "not_reached"
    UNDER_REVIEW = "under_review"
    IN_DEBATE = "in_debate"  # 공론
    ACCEPTED = "accepted"
    PARTLY_ACCEPTED = "partly_accepted"
    REJECTED = "rejected"
    MERGED = "merged"
    TRANSFERRED = "transferred"  # to a district's track
    ON_BALLOT = "on_ballot"
    SELECTED = "selected"
    NOT_SELECTED = "not_selected"
    BUDGETED = "budgeted"
    IN_EXECUTION = "in_execution"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"


class DebateKind(StrEnum):
    FOR_AGAINST = "for_against"  # 찬반형
    DISCUSSION = "discussion"  # 토론형


class Stance(StrEnum):
    FOR = "for"
    AGAINST = "against"


_DECIDED = {Status.ACCEPTED, Status.PARTLY_ACCEPTED, Status.REJECTED}
_REVIEWABLE = {Status.SUBMITTED, Status.PUBLISHED, Status.THRESHOLD_REACHED, Status.UNDER_REVIEW}

# Which status may follow which; anything else is refused, whoever asks.
TRANSITIONS: Final[Mapping[Status, frozenset[Status]]] = {
    Status.SUBMITTED: frozenset({Status.PUBLISHED, Status.WITHDRAWN} | _DECIDED),
    Status.PUBLISHED: frozenset(
        {Status.THRESHOLD_REACHED, Status.NOT_REACHED, Status.UNDER_REVIEW, Status.WITHDRAWN,
         Status.MERGED, Status.TRANSFERRED} | _DECIDED
    ),
    Status.THRESHOLD_REACHED: frozenset(
        {Status.UNDER_REVIEW, Status.IN_DEBATE, Status.WITHDRAWN, Status.MERGED} | _DECIDED
    ),
    Status.NOT_REACHED: frozenset({Status.WITHDRAWN}),
    Status.UNDER_REVIEW: frozenset(
        {Status.IN_DEBATE, Status.MERGED, Status.TRANSFERRED, Status.ON_BALLOT, Status.WITHDRAWN}
        | _DECIDED
    ),
    Status.IN_DEBATE: frozenset({Status.UNDER_REVIEW, Status.WITHDRAWN} | _DECIDED),
    Status.ACCEPTED: frozenset({Status.ON_BALLOT, Status.BUDGETED, Status.IN_EXECUTION}),
    Status.PARTLY_ACCEPTED: frozenset({Status.ON_BALLOT, Status.BUDGETED, Status.IN_EXECUTION}),
    Status.REJECTED: frozenset(),
    Status.MERGED: frozenset(),
    Status.TRANSFERRED: frozenset(),
    Status.ON_BALLOT: frozenset({Status.SELECTED, Status.NOT_SELECTED}),
    Status.SELECTED: frozenset({Status.BUDGETED, Status.IN_EXECUTION}),
    Status.NOT_SELECTED: frozenset(),
    Status.BUDGETED: frozenset({Status.IN_EXECUTION}),
    Status.IN_EXECUTION: frozenset({Status.IN_EXECUTION, Status.COMPLETED}),
    Status.COMPLETED: frozenset(),
    Status.WITHDRAWN: frozenset(),
}  # fmt: skip

SUPPORT_OPEN: Final = frozenset({Status.PUBLISHED, Status.THRESHOLD_REACHED})
WITHDRAWABLE: Final = frozenset(s for s, after in TRANSITIONS.items() if Status.WITHDRAWN in after)
DECIDED: Final = frozenset(
    {Status.ACCEPTED, Status.PARTLY_ACCEPTED, Status.REJECTED, Status.MERGED, Status.TRANSFERRED,
     Status.ON_BALLOT, Status.SELECTED, Status.NOT_SELECTED, Status.BUDGETED,
     Status.IN_EXECUTION, Status.COMPLETED}
)  # fmt: skip
REVIEW_QUEUE: Final = frozenset(_REVIEWABLE)


class TransitionError(ValueError):
    pass


def check_transition(current: Status, new: Status) -> None:
    if new not in TRANSITIONS[current]:
        raise TransitionError(f"{current.value} → {new.value} is not allowed")


@dataclass(frozen=True)
class ProposalRules:
    """A programme's proposal rules; every figure is configurable in its settings (SPEC §4)."""

    support_threshold: int | None = None  # 민주주의 서울: 500
    support_window_days: int = 30
    debate_days: int = 30
    mayor_answer_participants: int = 1000
    deliberation_participants: int = 5000
    general_project_cap: int | None = None  # PB: under 40억원
    event_project_cap: int | None = None  # PB: under 3억원
    minimum_districts: int | None = None  # city-wide PB: at least 2 districts benefit
    proposals_per_day: int = 3
    reports_to_hide: int = 3

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> ProposalRules:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in settings.items() if key in known})

    @property
    def is_budget(self) -> bool:
        return self.general_project_cap is not None or self.event_project_cap is not None

    def cap(self, kind: ProjectKind) -> int | None:
        return self.general_project_cap if kind is ProjectKind.GENERAL else self.event_project_cap


def takes_proposals(kind: ProgrammeKind) -> bool:
    return kind in (
        ProgrammeKind.PROPOSALS,
        ProgrammeKind.PARTICIPATORY_BUDGET,
        ProgrammeKind.DISTRICT_PLAN,
    )


class Refusal(StrEnum):
    """Why a draft or an action is refused; the bot turns each into a sentence."""

    TITLE_EMPTY = "title_empty"
    TITLE_TOO_LONG = "title_too_long"
    DESCRIPTION_TOO_SHORT = "description_too_short"
    DESCRIPTION_TOO_LONG = "description_too_long"
    COST_NOT_A_NUMBER = "cost_not_a_number"
    OVER_CAP = "over_cap"
    TOO_FEW_DISTRICTS = "too_few_districts"
    ONE_DISTRICT_ONLY = "one_district_only"  # the district track takes one district's needs
    DAILY_LIMIT = "daily_limit"
    STAGE_CLOSED = "stage_closed"
    INELIGIBLE = "ineligible"
    BLOCKED = "blocked"  # a moderator stopped this person from posting


def check_title(text: str) -> Refusal | None:
    text = text.strip()
    if not text:
        return Refusal.TITLE_EMPTY
    if len(text) > TITLE_MAX:
        return Refusal.TITLE_TOO_LONG
    return None


def check_description(text: str) -> Refusal | None:
    text = text.strip()
    if len(text) < 10:
        return Refusal.DESCRIPTION_TOO_SHORT
    if len(text) > DESCRIPTION_MAX:
        return Refusal.DESCRIPTION_TOO_LONG
    return None


_UNITS: Final = {"조": 10**12, "억": 10**8, "천만": 10**7, "백만": 10**6, "만": 10**4, "천": 10**3}
_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(조|억|천만|백만|만|천)?")


def parse_won(text: str) -> int | None:
    """Read an amount as people type it: "350000000", "350,000,000", "3억 5천만", "40억 원"."""
    cleaned = text.replace(",", "").replace("₩", "").replace("원", "").strip()
    if not cleaned:
        return None
    total = 0
    position = 0
    previous_unit = 10**16
    for match in _AMOUNT.finditer(cleaned):
        if cleaned[position : match.start()].strip():
            return None
        number, unit_name = match.groups()
        unit = _UNITS.get(unit_name or "", 1)
        # Units must come largest first ("3억 5천만"), a bare number only last.
        if unit >= previous_unit or (unit == 1 and "." in number):
            return None
        # Exact: a float overflows on a long string of digits (issue 17).
        total += round(Decimal(number) * unit)
        previous_unit = unit
        position = match.end()
    if position == 0 or cleaned[position:].strip():
        return None
    return total


def check_cost(cost: int, kind: ProjectKind, rules: ProposalRules) -> Refusal | None:
    """Caps are strict upper bounds: the seeds say "미만" (under). No cost is beyond what the
    cost column holds (issue 17)."""
    if cost > MAX_ID:
        return Refusal.COST_NOT_A_NUMBER
    cap = rules.cap(kind)
    if cap is not None and cost >= cap:
        return Refusal.OVER_CAP
    return None


def check_districts(
    scope: Scope,
    districts: Iterable[str],
    rules: ProposalRules,
    kind: ProgrammeKind = ProgrammeKind.PROPOSALS,
) -> Refusal | None:
    """Where a proposal may apply (SPEC §3, §4), whichever way the scope was chosen:
    - a city-wide PB proposal must benefit at least `minimum_districts` districts; one for a
      single district (or one of its dong) belongs to that district's track (구단위), so
      the scopes "one district" and "one dong" are refused there too;
    - a proposal to the district track (구단위·동단위) is for one district.
    """
    chosen = set(districts)
    if kind is ProgrammeKind.DISTRICT_PLAN and (scope is Scope.CITY or len(chosen) > 1):
        return Refusal.ONE_DISTRICT_ONLY
    if rules.minimum_districts and (scope is not Scope.CITY or chosen):
        if len(chosen) < rules.minimum_districts:
            return Refusal.TOO_FEW_DISTRICTS
    return None


@dataclass(frozen=True)
class SupportProgress:
    count: int
    threshold: int | None
    ends_at: datetime | None

    def missing(self) -> int:
        return 0 if self.threshold is None else max(0, self.threshold - self.count)


def support_deadline(published_at: datetime, rules: ProposalRules) -> datetime | None:
    if rules.support_threshold is None:
        return None
    return published_at + timedelta(days=rules.support_window_days)


def status_after_support(
    status: Status, count: int, deadline: datetime | None, now: datetime, rules: ProposalRules
) -> Status:
    """500 supports within 30 days → agenda review; the deadline passing short → not reached."""
    if status is not Status.PUBLISHED or rules.support_threshold is None:
        return status
    if count >= rules.support_threshold and (deadline is None or now < deadline):
        return Status.THRESHOLD_REACHED
    if deadline is not None and now >= deadline:
        return Status.NOT_REACHED
    return status


@dataclass(frozen=True)
class DebateOutcome:
    participants: int
    in_favour: int
    against: int
    mayor_answers: bool  # 1,000 participants → the mayor answers in person
    to_deliberation: bool  # 5,000 and, for 찬반형, a majority in favour


def debate_outcome(
    kind: DebateKind, participants: int, in_favour: int, against: int, rules: ProposalRules
) -> DebateOutcome:
    enough = participants >= rules.deliberation_participants
    majority = kind is DebateKind.DISCUSSION or in_favour > against
    return DebateOutcome(
        participants=participants,
        in_favour=in_favour,
        against=against,
        mayor_answers=participants >= rules.mayor_answer_participants,
        to_deliberation=enough and majority,
    )


# -- similar proposals ------------------------------------------------------------------

_NOT_WORD = re.compile(r"[^\w]+")


def char_ngrams(text: str, n: int = 2) -> Counter[str]:
    """Character n-grams inside each word: Korean needs no word segmentation this way."""
    grams: Counter[str] = Counter()
    for word in _NOT_WORD.split(text.lower()):
        if not word:
            continue
        if len(word) < n:
            grams[word] += 1
            continue
        for i in range(len(word) - n + 1):
            grams[word[i : i + n]] += 1
    return grams


def cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(count * b[gram] for gram, count in a.items() if gram in b)
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm


def most_similar(
    text: str, candidates: Iterable[tuple[int, str]], limit: int = 3, minimum: float = 0.3
) -> list[tuple[int, float]]:
    """The ids of up to `limit` candidates whose text looks like `text`, best first."""
    target = char_ngrams(text)
    scored = [(cid, cosine(target, char_ngrams(other))) for cid, other in candidates]
    scored = [(cid, score) for cid, score in scored if score >= minimum]
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored[:limit]
