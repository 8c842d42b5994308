"""Ballots for a voting stage (엠보팅 / 시민투표), SPEC §6: what a valid ballot is, and how
online, offline and weighted ballots become one tally input.

No Telegram and no database here.
"""

from __future__ import annotations

import hashlib
import hmac
import tomllib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import Final

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from domain.filelines import describe, is_yaml
from domain.pabulib import PBInstance, Project, Vote
from domain.tally import RULES


class HeadingKind(StrEnum):
    APPROVAL = "approval"  # choose up to k projects, optionally within a budget
    QUESTION = "question"  # yes / no / abstain (polls and 찬반형 debates)


class Answer(StrEnum):
    YES = "yes"
    NO = "no"
    ABSTAIN = "abstain"


@dataclass(frozen=True)
class Item:
    """One project (or, for a question, one answer) on a ballot."""

    key: str
    title: str
    cost: int = 0
    summary: str = ""
    photo: str | None = None  # Telegram file_id, shown on demand
    # English beside the Korean, from the ballot file; Korean where there is none.
    title_en: str = ""
    summary_en: str = ""

    def title_in(self, language: str) -> str:
        return self.title_en if language == "en" and self.title_en else self.title

    def summary_in(self, language: str) -> str:
        return self.summary_en if language == "en" and self.summary_en else self.summary


@dataclass(frozen=True)
class Heading:
    """One ballot of a voting stage: city-wide, or one per district or field (one each)."""

    key: str
    name_ko: str
    name_en: str
    kind: HeadingKind = HeadingKind.APPROVAL
    items: tuple[Item, ...] = ()
    max_choices: int = 5
    min_choices: int = 0
    budget: int | None = None  # the heading's money: the tally's limit
    knapsack: bool = False  # the chosen projects' costs must fit the budget
    district: str | None = None  # only residents of this district may vote (residence rule)
    # Headings of one group (e.g. the districts): a person votes in one of them, as in CONSUL.
    group: str | None = None
    # A member-only vote: the key of the panel programme whose members may vote (SPEC §5).
    panel: str | None = None

    def name(self, language: str) -> str:
        return self.name_ko if language == "ko" else self.name_en

    def item(self, key: str) -> Item | None:
        return next((item for item in self.items if item.key == key), None)


class BallotProblem(StrEnum):
    UNKNOWN_ITEM = "unknown_item"
    TOO_MANY = "too_many"
    TOO_FEW = "too_few"
    OVER_BUDGET = "over_budget"
    ONE_ANSWER = "one_answer"


def check_ballot(heading: Heading, choices: Collection[str]) -> BallotProblem | None:
    """Whatever the client sends, only projects on this ballot, within the rules."""
    chosen = set(choices)
    if any(heading.item(key) is None for key in chosen):
        return BallotProblem.UNKNOWN_ITEM
    if heading.kind is HeadingKind.QUESTION:
        return None if len(chosen) == 1 else BallotProblem.ONE_ANSWER
    if len(chosen) > heading.max_choices:
        return BallotProblem.TOO_MANY
    if len(chosen) < heading.min_choices:
        return BallotProblem.TOO_FEW
    if heading.knapsack and heading.budget is not None:
        if spent(heading, chosen) > heading.budget:
            return BallotProblem.OVER_BUDGET
    return None


def check_toggle(heading: Heading, choices: Collection[str], key: str) -> BallotProblem | None:
    """May this tap be made? Removing is always fine; adding must keep the ballot valid (the
    minimum is only checked when submitting)."""
    if heading.item(key) is None:
        return BallotProblem.UNKNOWN_ITEM
    if key in choices:
        return None
    if heading.kind is HeadingKind.QUESTION:
        return None
    problem = check_ballot(heading, {*choices, key})
    return None if problem is BallotProblem.TOO_FEW else problem


def toggle(heading: Heading, choices: Sequence[str], key: str) -> list[str]:
    if heading.kind is HeadingKind.QUESTION:
        return [key]
    if key in choices:
        return [c for c in choices if c != key]
    return [*choices, key]


def spent(heading: Heading, choices: Iterable[str]) -> int:
    return sum(item.cost for key in set(choices) if (item := heading.item(key)) is not None)


def pseudonym(secret: bytes, stage_id: int, heading: str, user_id: int) -> str:
    """A keyed pseudonym: lets a person replace their ballot, names no one without the key."""
    message = f"{stage_id}:{heading}:{user_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class StoredBallot:
    choices: tuple[str, ...]
    weight: float = 1.0
    group: str = ""  # a voter group (e.g. citizens, committee) with a fixed share
    offline: bool = False


@dataclass(frozen=True)
class VotingRules:
    """Configurable per programme (SPEC §6)."""

    budget_school_weight: float = 1.0  # 예산학교 수료자 가중치; the seeds give no figure
    # Voter groups with fixed shares, e.g. {"citizens": 0.5, "committee": 0.5}; a voter is in
    # the group whose panel (group_panels: group → panel programme key) they are a member of,
    # else in "citizens".
    group_shares: Mapping[str, float] = field(default_factory=dict)
    group_panels: Mapping[str, str] = field(default_factory=dict)
    tally_rule: str = "greedy"

    @classmethod
    def from_settings(cls, settings: Mapping[str, object]) -> VotingRules:
        weight = settings.get("budget_school_weight", 1.0)
        shares = settings.get("group_shares", {})
        rule = settings.get("tally_rule", "greedy")
        if rule not in RULES:
            raise ValueError(f"unknown tally rule {rule!r}; expected one of {', '.join(RULES)}")
        panels = settings.get("group_panels", {})
        return cls(
            budget_school_weight=float(weight) if isinstance(weight, int | float) else 1.0,
            group_shares=dict(shares) if isinstance(shares, Mapping) else {},
            group_panels=dict(panels) if isinstance(panels, Mapping) else {},
            tally_rule=str(rule),
        )


def group_weights(
    ballots: Sequence[StoredBallot], shares: Mapping[str, float]
) -> dict[str, Fraction]:
    """Per-ballot multipliers so that each voter group counts for its fixed share.

    A ballot of group g is multiplied by share_g × N / n_g (N ballots in all, n_g in g), so
    the groups' totals stand in the ratio of their shares whatever their turnouts.
    """
    if not shares:
        return {}
    sizes: dict[str, int] = {}
    for ballot in ballots:
        sizes[ballot.group] = sizes.get(ballot.group, 0) + 1
    total = sum(sizes.values())
    share_sum = sum(Fraction(str(v)) for g, v in shares.items() if g in sizes)
    return {
        group: Fraction(str(shares.get(group, 0))) / share_sum * total / count
        for group, count in sizes.items()
        if share_sum
    }


CITIZENS: Final = "citizens"
OFFLINE_PREFIX: Final = "offline-"


def tally_input(
    heading: Heading,
    ballots: Sequence[StoredBallot],
    rules: VotingRules,
    offline_counts: Mapping[str, int] | None = None,
) -> PBInstance:
    """The heading's ballots (online, offline, weighted) as one pabulib instance.

    Per-project offline counts (paper votes counted only per project, as 노원구 did) become
    single-project ballots: for greedy by votes that is the same as adding the counts.
    """
    if heading.budget is None:
        raise ValueError(f"heading {heading.key!r} has no budget to tally against")
    multipliers = group_weights(ballots, rules.group_shares)
    # Few distinct (weight, group) pairs among many ballots: each weight is worked out once.
    weights: dict[tuple[float, str], float] = {}
    votes: list[Vote] = []
    for number, ballot in enumerate(ballots, 1):
        weight = weights.get((ballot.weight, ballot.group))
        if weight is None:
            exact = Fraction(str(ballot.weight)) * multipliers.get(ballot.group, Fraction(1))
            weight = weights[ballot.weight, ballot.group] = float(exact) if exact > 0 else 0.0
        if weight <= 0:
            continue
        votes.append(Vote(str(number), tuple(sorted(set(ballot.choices))), weight))
    for key, count in sorted((offline_counts or {}).items()):
        for copy in range(count):
            votes.append(Vote(f"{OFFLINE_PREFIX}{key}-{copy + 1}", (key,)))
    projects = {item.key: Project(item.key, item.cost, item.title) for item in heading.items}
    return PBInstance(budget=heading.budget, projects=projects, votes=votes)


def question_result(ballots: Sequence[StoredBallot]) -> dict[Answer, float]:
    totals = {answer: 0.0 for answer in Answer}
    for ballot in ballots:
        for choice in ballot.choices:
            if choice in {a.value for a in Answer}:
                totals[Answer(choice)] += ballot.weight
    return totals


# -- ballot files ----------------------------------------------------------------------
class _ItemSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[A-Za-z0-9_-]{1,20}$")
    title: str = Field(min_length=1, max_length=200)
    cost: int = Field(default=0, ge=0)
    summary: str = Field(default="", max_length=1000)
    photo: str | None = None
    title_en: str = Field(default="", max_length=200)
    summary_en: str = Field(default="", max_length=1000)


class _HeadingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9_-]{1,20}$")
    name: dict[str, str]
    kind: HeadingKind = HeadingKind.APPROVAL
    max_choices: int = Field(default=5, ge=1)
    min_choices: int = Field(default=0, ge=0)
    budget: int | None = Field(default=None, ge=0)
    knapsack: bool = False
    district: str | None = None
    group: str | None = Field(default=None, pattern=r"^[a-z0-9_-]{1,20}$")
    # Add the programme's proposals put on the ballot (status on_ballot), optionally only
    # those of one district or policy field.
    include_on_ballot: bool = False
    only_district: str | None = None
    only_field: str | None = None
    items: list[_ItemSpec] = Field(default_factory=list, alias="item")

    @model_validator(mode="after")
    def _sound(self) -> _HeadingSpec:
        if not {"ko", "en"} <= set(self.name):
            raise ValueError(f"heading {self.key!r} needs a name in ko and en")
        if self.min_choices > self.max_choices:
            raise ValueError(f"heading {self.key!r}: min_choices is above max_choices")
        if self.knapsack and self.budget is None:
            raise ValueError(f"heading {self.key!r}: a knapsack ballot needs a budget")
        keys = [item.key for item in self.items]
        if len(set(keys)) != len(keys):
            raise ValueError(f"heading {self.key!r} has two items with the same key")
        return self


class BallotFile(BaseModel):
    """`[[heading]]` tables for one voting stage of one programme."""

    model_config = ConfigDict(extra="forbid")

    programme: str
    stage: str
    headings: list[_HeadingSpec] = Field(alias="heading", min_length=1)

    def heading(self, spec: _HeadingSpec, extra_items: Sequence[Item] = ()) -> Heading:
        items: tuple[Item, ...]
        if spec.kind is HeadingKind.QUESTION:
            items = tuple(Item(answer.value, answer.value) for answer in Answer)
        else:
            items = tuple(Item(**i.model_dump()) for i in spec.items) + tuple(extra_items)
        return Heading(
            key=spec.key,
            name_ko=spec.name["ko"],
            name_en=spec.name["en"],
            kind=spec.kind,
            items=items,
            max_choices=1 if spec.kind is HeadingKind.QUESTION else spec.max_choices,
            min_choices=spec.min_choices,
            budget=spec.budget,
            knapsack=spec.knapsack,
            district=spec.district,
            group=spec.group,
        )


def parse_ballot_file(text: str, filename: str = "ballot.toml") -> BallotFile:
    """A ballot file (TOML, or YAML by its name); errors name the file, line and field."""
    kind = "YAML" if is_yaml(filename) else "TOML"
    try:
        data = yaml.safe_load(text) if is_yaml(filename) else tomllib.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"{filename}: not valid {kind}: {error}") from error
    if not isinstance(data, dict):
        raise ValueError(f"{filename}: expected programme, stage and [[heading]] entries")
    try:
        return BallotFile.model_validate(data)
    except ValidationError as error:
        raise ValueError(describe(error, text, filename)) from error
