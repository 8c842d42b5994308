"""Programmes and their ordered stages — the backbone of every activity (SPEC §3).

A programme file (TOML or YAML) holds a list of `[[programme]]` tables, each with its
`[[programme.stage]]`s. Times may carry an offset; times without one are read in Seoul time.
Everything is stored and compared in UTC.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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
        if filename.endswith((".yaml", ".yml")):
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
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}"
            for issue in error.errors()
        )
        raise ProgrammeFileError(f"{filename}: {problems}") from error


def _format(filename: str) -> str:
    return "YAML" if filename.endswith((".yaml", ".yml")) else "TOML"


def load_programmes(path: Path) -> list[Programme]:
    return parse_programmes(path.read_text(encoding="utf-8"), path.name)


def default_programmes() -> list[Programme]:
    """The city's yearly cycle shipped with the project."""
    text = resources.files("domain.data").joinpath(DEFAULT_PROGRAMMES_FILE).read_text("utf-8")
    return parse_programmes(text, DEFAULT_PROGRAMMES_FILE)
