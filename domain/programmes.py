"""Programmes and their ordered stages — the backbone of every activity (SPEC §3).

A programme file (TOML or YAML) holds a list of `[[programme]]` tables, each with its
`[[programme.stage]]`s. Times may carry an offset; times without one are read in Seoul time.
Everything is stored and compared in UTC.
"""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from domain.filelines import describe, is_yaml

SEOUL: Final = ZoneInfo("Asia/Seoul")
DEFAULT_PROGRAMMES_FILE: Final = "seoul-yearly-cycle.toml"


class ProgrammeKind(StrEnum):
    PROPOSALS = "proposals"  # 민주주의 서울 시민제안
    PARTICIPATORY_BUDGET = "participatory_budget"  # 시민참여예산
    PANEL = "panel"  # 서울시민회의, 위원회, 온시민예산광장
    DELIBERATIVE_BUDGET = "deliberative_budget"  # 시민숙의예산
    DISTRICT_PLAN = "district_plan"  # 구단위·동단위 계획형
    WASTE_REPORTS = "waste_reports"  # 예산낭비신고
    POLL = "poll"  # 서울시가 묻습니다


class Action(StrEnum):
    """What a stage lets people do."""

    PROPOSE = "propose"
    SUPPORT = "support"  # 공감
    COMMENT = "comment"
    REVIEW = "review"
    OBJECT = "object"  # 이의·조정
    DEBATE = "debate"  # 공론
    VOTE = "vote"  # 시민투표
    APPROVE = "approve"  # 총회
    APPLY = "apply"
    DRAW = "draw"  # 추첨
    APPOINT = "appoint"
    LEARN = "learn"
    MEET = "meet"
    REPORT = "report"
    EXECUTE = "execute"


class LocalizedText(BaseModel):
    model_config = ConfigDict(frozen=True)

    ko: str = Field(min_length=1, max_length=200)
    en: str = Field(min_length=1, max_length=200)

    def get(self, language: str) -> str:
        return self.ko if language == "ko" else self.en


def _as_utc(value: Any) -> Any:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=SEOUL)
        return value.astimezone(UTC)
    return value


class Stage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    name: LocalizedText
    starts_at: datetime
    ends_at: datetime | None = None  # None: open all year (상시)
    actions: frozenset[Action] = frozenset()

    _utc = field_validator("starts_at", "ends_at", mode="before")(_as_utc)

    @model_validator(mode="after")
    def _ends_after_start(self) -> Stage:
        if self.ends_at is not None and self.ends_at <= self.starts_at:
            raise ValueError(f"stage {self.key!r} ends before it starts")
        return self

    def is_open(self, now: datetime) -> bool:
        return self.starts_at <= now and (self.ends_at is None or now < self.ends_at)


class Programme(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    kind: ProgrammeKind
    name: LocalizedText
    description: LocalizedText | None = None
    # Rules the seeds leave open or that differ per programme (thresholds, caps, …).
    settings: dict[str, Any] = Field(default_factory=dict)
    stages: tuple[Stage, ...] = Field(min_length=1, alias="stage")

    @model_validator(mode="after")
    def _stages_in_order(self) -> Programme:
        keys = [stage.key for stage in self.stages]
        if len(set(keys)) != len(keys):
            raise ValueError(f"programme {self.key!r} has two stages with the same key")
        for earlier, later in zip(self.stages, self.stages[1:], strict=False):
            if later.starts_at < earlier.starts_at:
                raise ValueError(
                    f"programme {self.key!r}: stage {later.key!r} starts before {earlier.key!r}"
                )
            if earlier.ends_at is None:
                raise ValueError(
                    f"programme {self.key!r}: only the last stage may be open-ended"
                    f" ({earlier.key!r} is not last)"
                )
        return self

    def open_stages(self, now: datetime) -> list[Stage]:
        return [stage for stage in self.stages if stage.is_open(now)]

    def next_stage(self, now: datetime) -> Stage | None:
        upcoming = [stage for stage in self.stages if stage.starts_at > now]
        return upcoming[0] if upcoming else None

    def allows(self, action: Action, now: datetime) -> bool:
        return any(action in stage.actions for stage in self.open_stages(now))


class ProgrammeFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    programmes: list[Programme] = Field(alias="programme", min_length=1)

    @model_validator(mode="after")
    def _unique_keys(self) -> ProgrammeFile:
        keys = [programme.key for programme in self.programmes]
        duplicated = sorted({key for key in keys if keys.count(key) > 1})
        if duplicated:
            raise ValueError(f"programme keys used twice: {', '.join(duplicated)}")
        return self


class ProgrammeFileError(ValueError):
    """A programme file that cannot be read or does not validate; the message says where."""


def parse_programmes(text: str, filename: str = "programmes.toml") -> list[Programme]:
    try:
        if is_yaml(filename):
            data = yaml.safe_load(text)
        else:
            data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        raise ProgrammeFileError(f"{filename}: not valid {_format(filename)}: {error}") from error
    if not isinstance(data, dict):
        raise ProgrammeFileError(f"{filename}: expected a table with [[programme]] entries")
    try:
        return ProgrammeFile.model_validate(data).programmes
    except ValidationError as error:
        raise ProgrammeFileError(describe(error, text, filename)) from error


def _format(filename: str) -> str:
    return "YAML" if is_yaml(filename) else "TOML"


def load_programmes(path: Path) -> list[Programme]:
    return parse_programmes(path.read_text(encoding="utf-8"), path.name)


def default_programmes() -> list[Programme]:
    """The city's yearly cycle shipped with the project."""
    text = resources.files("domain.data").joinpath(DEFAULT_PROGRAMMES_FILE).read_text("utf-8")
    return parse_programmes(text, DEFAULT_PROGRAMMES_FILE)


# -- changes an official makes (from the chat or a file) -------------------------------------
class ChangeKind(StrEnum):
    PROGRAMME_ADDED = "programme_added"
    PROGRAMME_RENAMED = "programme_renamed"
    PROGRAMME_EDITED = "programme_edited"  # kind, description or settings
    STAGE_ADDED = "stage_added"
    STAGE_REMOVED = "stage_removed"
    STAGE_RENAMED = "stage_renamed"
    STAGE_STARTS = "stage_starts"
    STAGE_ENDS = "stage_ends"
    STAGE_ACTIONS = "stage_actions"


class Change(BaseModel):
    """One difference between a programme as stored and as it would be saved."""

    model_config = ConfigDict(frozen=True)

    kind: ChangeKind
    programme: str
    stage: str | None = None
    before: LocalizedText | datetime | None = None
    after: LocalizedText | datetime | None = None


def programme_changes(before: Programme | None, after: Programme) -> list[Change]:
    """What saving `after` over `before` (None: a new programme) changes, stage by stage."""
    if before is None:
        return [Change(kind=ChangeKind.PROGRAMME_ADDED, programme=after.key, after=after.name)]
    found: list[Change] = []
    key = after.key
    if before.name != after.name:
        found.append(
            Change(
                kind=ChangeKind.PROGRAMME_RENAMED,
                programme=key,
                before=before.name,
                after=after.name,
            )
        )
    if (before.kind, before.description, before.settings) != (
        after.kind,
        after.description,
        after.settings,
    ):
        found.append(Change(kind=ChangeKind.PROGRAMME_EDITED, programme=key))
    old = {stage.key: stage for stage in before.stages}
    new = {stage.key: stage for stage in after.stages}
    for stage in before.stages:
        if stage.key not in new:
            found.append(
                Change(
                    kind=ChangeKind.STAGE_REMOVED, programme=key, stage=stage.key, before=stage.name
                )
            )
    for stage in after.stages:
        was = old.get(stage.key)
        if was is None:
            found.append(
                Change(
                    kind=ChangeKind.STAGE_ADDED, programme=key, stage=stage.key, after=stage.name
                )
            )
            continue
        pairs = (
            (ChangeKind.STAGE_RENAMED, was.name, stage.name),
            (ChangeKind.STAGE_STARTS, was.starts_at, stage.starts_at),
            (ChangeKind.STAGE_ENDS, was.ends_at, stage.ends_at),
        )
        for kind, old_value, new_value in pairs:
            if old_value != new_value:
                found.append(
                    Change(
                        kind=kind, programme=key, stage=stage.key, before=old_value, after=new_value
                    )
                )
        if was.actions != stage.actions:
            found.append(Change(kind=ChangeKind.STAGE_ACTIONS, programme=key, stage=stage.key))
    return found


class EditProblem(StrEnum):
    NO_STAGE = "no_stage"
    ENDS_BEFORE_START = "ends_before_start"
    OUT_OF_ORDER = "out_of_order"  # before the stage ahead of it, or after the one behind
    ALREADY_OPEN = "already_open"
    NOT_OPEN = "not_open"
    NEEDS_END = "needs_end"  # a closed stage opens again only with a new end date


class EditRefused(ValueError):
    def __init__(self, problem: EditProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def _with_stage(programme: Programme, stage_key: str, **changes: Any) -> Programme:
    """The programme with one stage changed, checked as a programme file would be."""
    if not any(stage.key == stage_key for stage in programme.stages):
        raise EditRefused(EditProblem.NO_STAGE)
    stages = [
        {**stage.model_dump(), **changes} if stage.key == stage_key else stage.model_dump()
        for stage in programme.stages
    ]
    for data in stages:
        ends = data["ends_at"]
        if ends is not None and ends <= data["starts_at"]:
            raise EditRefused(EditProblem.ENDS_BEFORE_START)
    for earlier, later in pairwise(stages):
        if later["starts_at"] < earlier["starts_at"]:
            raise EditRefused(EditProblem.OUT_OF_ORDER)
    return Programme.model_validate({**programme.model_dump(by_alias=True), "stage": stages})


def renamed(programme: Programme, name: LocalizedText, stage_key: str | None = None) -> Programme:
    if stage_key is None:
        return Programme.model_validate({**programme.model_dump(by_alias=True), "name": name})
    return _with_stage(programme, stage_key, name=name)


def moved(
    programme: Programme,
    stage_key: str,
    *,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> Programme:
    """New dates for a stage (None keeps a date)."""
    changes: dict[str, datetime] = {}
    if starts_at is not None:
        changes["starts_at"] = starts_at
    if ends_at is not None:
        changes["ends_at"] = ends_at
    return _with_stage(programme, stage_key, **changes)


def stage_of(programme: Programme, stage_key: str) -> Stage:
    stage = next((s for s in programme.stages if s.key == stage_key), None)
    if stage is None:
        raise EditRefused(EditProblem.NO_STAGE)
    return stage


def opened_now(programme: Programme, stage_key: str, now: datetime) -> Programme:
    """The stage starts now (its end date stays; a stage already over needs a new one)."""
    stage = stage_of(programme, stage_key)
    if stage.is_open(now):
        raise EditRefused(EditProblem.ALREADY_OPEN)
    if stage.ends_at is not None and stage.ends_at <= now:
        raise EditRefused(EditProblem.NEEDS_END)
    return moved(programme, stage_key, starts_at=now.replace(microsecond=0))


def closed_now(programme: Programme, stage_key: str, now: datetime) -> Programme:
    stage = stage_of(programme, stage_key)
    if not stage.is_open(now):
        raise EditRefused(EditProblem.NOT_OPEN)
    return moved(programme, stage_key, ends_at=now.replace(microsecond=0))


def read_moment(text: str, end_of_day: bool = False) -> datetime | None:
    """A date an official types: "2027-07-20 09:00" or "2027-07-20" (Seoul time). A bare
    date is the day's start, or with `end_of_day` its end (24:00, the next day's 00:00)."""
    cleaned = text.strip().replace("/", "-").replace(".", "-").rstrip("-")
    if cleaned.endswith("24:00"):  # the city's way of writing the end of a day
        cleaned, end_of_day = cleaned.removesuffix("24:00").strip(), True
    try:
        if len(cleaned) <= 10:
            day = datetime.strptime(cleaned, "%Y-%m-%d").replace(tzinfo=SEOUL)
            if end_of_day:
                day += timedelta(days=1)
            return day.astimezone(UTC)
        moment = datetime.fromisoformat(cleaned.replace(" ", "T"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SEOUL)
    return moment.astimezone(UTC)


def _shifted(moment: datetime, years: int) -> datetime:
    local = moment.astimezone(SEOUL)
    try:
        moved_local = local.replace(year=local.year + years)
    except ValueError:  # 29 February in a year without one
        moved_local = local.replace(year=local.year + years, day=28)
    return moved_local.astimezone(UTC)


def for_year(template: Programme, year: int) -> Programme | None:
    """A yearly programme of the shipped cycle (its key names its year, "pb-citywide-2027")
    set up for another year: key, names and every date moved by whole years. None for a
    programme that is not yearly (open all year, no year in its key)."""
    found = re.search(r"(20\d\d)", template.key)
    if found is None:
        return None
    base = found.group(1)
    years = year - int(base)
    data = template.model_dump(by_alias=True)
    data["key"] = template.key.replace(base, str(year))
    data["name"] = {lang: text.replace(base, str(year)) for lang, text in data["name"].items()}
    for stage in data["stage"]:
        stage["starts_at"] = _shifted(stage["starts_at"], years)
        if stage["ends_at"] is not None:
            stage["ends_at"] = _shifted(stage["ends_at"], years)
    return Programme.model_validate(data)
