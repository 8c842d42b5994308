"""Citizen panels (시민회의, 시민참여예산위원회, 온시민예산광장, 의제선정단), SPEC §5: who may
apply, what an application records, the quotas of a programme, and an application's life.

Plain Python: the lottery itself is `domain.sortition`; this module turns a programme's
settings and its applicants into that lottery's inputs.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from domain.people import DISTRICTS, DISTRICTS_BY_CODE, Person, Relation
from domain.sortition import Applicant, Quota, proportional_quotas

GENDER: Final = "gender"
AGE_BAND: Final = "age_band"
DISTRICT: Final = "district"
BUILT_IN_FEATURES: Final = (GENDER, AGE_BAND, DISTRICT)


@dataclass(frozen=True)
class Option:
    code: str
    name_ko: str
    name_en: str

    def name(self, language: str) -> str:
        return self.name_ko if language == "ko" else self.name_en


# Six bands (연령대); the youngest starts at the programme's minimum age.
AGE_BANDS: Final = (
    Option("under20", "20세 미만", "Under 20"),
    Option("20s", "20대", "20s"),
    Option("30s", "30대", "30s"),
    Option("40s", "40대", "40s"),
    Option("50s", "50대", "50s"),
    Option("60plus", "60세 이상", "60 and over"),
)
GENDERS: Final = (
    Option("female", "여성", "Female"),
    Option("male", "남성", "Male"),
)


def age_band(birth_year: int, year: int) -> str:
    """The band of someone born in `birth_year`, counted in years of birth as Korean
    administrative age limits usually are."""
    age = year - birth_year
    if age < 20:
        return "under20"
    if age >= 60:
        return "60plus"
    return f"{age // 10 * 10}s"


# Approximate shares of Seoul's population (resident registration, around 2023): gender,
# the six age bands among people of 14 and over, and each district's residents (in
# thousands; shares are normalised). Configurable per programme with `population_shares`.
SEOUL_SHARES: Final[Mapping[str, Mapping[str, float]]] = {
    GENDER: {"female": 0.515, "male": 0.485},
    AGE_BAND: {
        "under20": 0.05, "20s": 0.15, "30s": 0.17, "40s": 0.16, "50s": 0.17, "60plus": 0.30,
    },
    DISTRICT: {
        "jongno": 141, "jung": 121, "yongsan": 217, "seongdong": 280, "gwangjin": 335,
        "dongdaemun": 339, "jungnang": 382, "seongbuk": 431, "gangbuk": 289, "dobong": 306,
        "nowon": 500, "eunpyeong": 463, "seodaemun": 309, "mapo": 370, "yangcheon": 435,
        "gangseo": 562, "guro": 400, "geumcheon": 229, "yeongdeungpo": 375, "dongjak": 381,
        "gwanak": 487, "seocho": 405, "gangnam": 536, "songpa": 658, "gangdong": 463,
    },
}  # fmt: skip


class _Names(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ko: str = Field(min_length=1, max_length=100)
    en: str = Field(min_length=1, max_length=100)


class _OptionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z0-9_]{1,20}$")
    ko: str = Field(min_length=1, max_length=40)
    en: str = Field(min_length=1, max_length=40)


class _ExtraSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,19}$")
    name: _Names
    options: list[_OptionSpec] = Field(min_length=2, max_length=12)
    shares: dict[str, float]

    @model_validator(mode="after")
    def _sound(self) -> _ExtraSpec:
        if self.key in BUILT_IN_FEATURES:
            raise ValueError(f"extra feature {self.key!r} has the name of a built-in one")
        codes = [option.code for option in self.options]
        if len(set(codes)) != len(codes):
            raise ValueError(f"extra feature {self.key!r} has two options with the same code")
        if set(self.shares) != set(codes):
            raise ValueError(f"extra feature {self.key!r}: give a share for every option")
        return self


class _QuotaSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feature: str
    value: str
    min: int = Field(ge=0)
    max: int = Field(ge=0)


class _PanelSettings(BaseModel):
    """The part of `[programme.settings]` panels read; other keys belong to other features."""

    model_config = ConfigDict(extra="ignore")

    seats: int = Field(gt=0)
    # "up to N" (시민참여예산위원회): when fewer apply, everyone who applied is chosen.
    seats_up_to: bool = False
    features: list[str] = Field(default_factory=lambda: list(BUILT_IN_FEATURES))
    extra_features: list[_ExtraSpec] = Field(default_factory=list)
    requires_budget_school: bool = False
    quota_tolerance: float = Field(default=0.1, ge=0, le=1)
    invitation_days: int = Field(default=7, ge=1, le=60)
    population_shares: dict[str, dict[str, float]] = Field(default_factory=dict)
    quotas: list[_QuotaSpec] = Field(default_factory=list)
    minimum_age: int | None = Field(default=None, ge=0, le=120)
    exclude_officials: bool = True
    meeting_reminder_hours: list[int] = Field(default_factory=lambda: [48, 3])

    @model_validator(mode="after")
    def _known_features(self) -> _PanelSettings:
        unknown = sorted(set(self.features) - set(BUILT_IN_FEATURES))
        if unknown:
            raise ValueError(f"unknown features {unknown}; extra ones go in extra_features")
        return self


class PanelSettingsError(ValueError):
    """A panel programme whose settings cannot be used; the message says which."""


@dataclass(frozen=True)
class ExtraFeature:
    key: str
    name_ko: str
    name_en: str
    options: tuple[Option, ...]

    def name(self, language: str) -> str:
        return self.name_ko if language == "ko" else self.name_en

    def option(self, code: str) -> Option | None:
        return next((option for option in self.options if option.code == code), None)


@dataclass(frozen=True)
class PanelRules:
    """A panel programme's rules; every figure is configurable in its settings (SPEC §5)."""

    seats: int
    seats_up_to: bool = False
    features: tuple[str, ...] = BUILT_IN_FEATURES
    extra_features: tuple[ExtraFeature, ...] = ()
    requires_budget_school: bool = False
    quota_tolerance: float = 0.1
    invitation_days: int = 7
    population_shares: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: dict(SEOUL_SHARES)
    )
    quota_overrides: tuple[Quota, ...] = ()
    minimum_age: int | None = None  # None: the installation's MINIMUM_AGE
    exclude_officials: bool = True
    meeting_reminder_hours: tuple[int, ...] = (48, 3)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> PanelRules:
        try:
            parsed = _PanelSettings.model_validate(settings)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in issue['loc']) or 'settings'}: {issue['msg']}"
                for issue in error.errors()
            )
            raise PanelSettingsError(problems) from error
        shares: dict[str, Mapping[str, float]] = dict(SEOUL_SHARES)
        shares.update(parsed.population_shares)
        extras = tuple(
            ExtraFeature(
                spec.key,
                spec.name.ko,
                spec.name.en,
                tuple(Option(o.code, o.ko, o.en) for o in spec.options),
            )
            for spec in parsed.extra_features
        )
        for spec in parsed.extra_features:
            shares[spec.key] = spec.shares
        rules = cls(
            seats=parsed.seats,
            seats_up_to=parsed.seats_up_to,
            features=tuple(dict.fromkeys(parsed.features)),
            extra_features=extras,
            requires_budget_school=parsed.requires_budget_school,
            quota_tolerance=parsed.quota_tolerance,
            invitation_days=parsed.invitation_days,
            population_shares=shares,
            quota_overrides=tuple(Quota(q.feature, q.value, q.min, q.max) for q in parsed.quotas),
            minimum_age=parsed.minimum_age,
            exclude_officials=parsed.exclude_officials,
            meeting_reminder_hours=tuple(sorted(set(parsed.meeting_reminder_hours), reverse=True)),
        )
        for quota in rules.quota_overrides:
            if quota.value not in rules.options(quota.feature):
                raise PanelSettingsError(f"quotas: {quota.feature}={quota.value} is not an option")
        return rules

    @property
    def quota_features(self) -> tuple[str, ...]:
        return self.features + tuple(extra.key for extra in self.extra_features)

    def options(self, feature: str) -> tuple[str, ...]:
        """The values a feature can take."""
        if feature == AGE_BAND:
            return tuple(band.code for band in AGE_BANDS)
        if feature == DISTRICT:
            return tuple(district.code for district in DISTRICTS)
        if feature == GENDER:
            return tuple(self.population_shares[GENDER])
        extra = next((e for e in self.extra_features if e.key == feature), None)
        return () if extra is None else tuple(option.code for option in extra.options)

    def city_order(self, quota: Quota) -> tuple[int, int, str, str]:
        """Sort key: the programme's features in order, each feature's values as the city
        lists them (`options`); anything unknown last, alphabetically."""
        features = self.quota_features
        values = self.options(quota.feature)
        return (
            features.index(quota.feature) if quota.feature in features else len(features),
            values.index(quota.value) if quota.value in values else len(values),
            quota.feature,
            quota.value,
        )

    def extra(self, key: str) -> ExtraFeature | None:
        return next((e for e in self.extra_features if e.key == key), None)


def quotas_for(rules: PanelRules, seats: int) -> list[Quota]:
    """Population-proportional quotas with the programme's tolerance, then the quotas its
    settings give explicitly in their place."""
    shares = {feature: rules.population_shares[feature] for feature in rules.quota_features}
    quotas = {
        (q.feature, q.value): q for q in proportional_quotas(shares, seats, rules.quota_tolerance)
    }
    for override in rules.quota_overrides:
        quotas[override.feature, override.value] = override
    return sorted(quotas.values())


def seats_and_quotas(rules: PanelRules, pool: Sequence[Applicant]) -> tuple[int, list[Quota]]:
    """What the draw is asked for. An "up to" panel with fewer applicants than seats takes
    everyone: its quotas are then the pool's own counts, which only that panel meets."""
    if rules.seats_up_to and len(pool) <= rules.seats:
        held = Counter((f, a.features[f]) for a in pool for f in rules.quota_features)
        return len(pool), sorted(Quota(f, v, n, n) for (f, v), n in held.items())
    return rules.seats, quotas_for(rules, rules.seats)


class ApplicationStatus(StrEnum):
    APPLIED = "applied"
    WITHDRAWN = "withdrawn"
    RESERVE = "reserve"  # drawn into the reserve list: called when a seat frees up
    INVITED = "invited"  # selected (or called from the reserve), waiting for an answer
    ACCEPTED = "accepted"  # a member (위촉)
    DECLINED = "declined"
    EXPIRED = "expired"  # no answer by the deadline
    LEFT = "left"  # a seat given up after the draw (erasure); its replacement is due


TRANSITIONS: Final[Mapping[ApplicationStatus, frozenset[ApplicationStatus]]] = {
    ApplicationStatus.APPLIED: frozenset(
        {ApplicationStatus.WITHDRAWN, ApplicationStatus.INVITED, ApplicationStatus.RESERVE}
    ),
    ApplicationStatus.RESERVE: frozenset({ApplicationStatus.INVITED, ApplicationStatus.WITHDRAWN}),
    ApplicationStatus.INVITED: frozenset(
        {ApplicationStatus.ACCEPTED, ApplicationStatus.DECLINED, ApplicationStatus.EXPIRED,
         ApplicationStatus.LEFT}
    ),
    ApplicationStatus.ACCEPTED: frozenset({ApplicationStatus.LEFT}),
    ApplicationStatus.WITHDRAWN: frozenset(),
    ApplicationStatus.DECLINED: frozenset(),
    ApplicationStatus.EXPIRED: frozenset(),
    ApplicationStatus.LEFT: frozenset(),
}  # fmt: skip
SEATED: Final = frozenset({ApplicationStatus.INVITED, ApplicationStatus.ACCEPTED})


def may_change(current: ApplicationStatus, new: ApplicationStatus) -> bool:
    return new in TRANSITIONS[current]


class Refusal(StrEnum):
    """Why an application or a panel action is refused; the bot turns each into a sentence."""

    NOT_SIGNED_UP = "not_signed_up"
    NOT_FOUND = "not_found"
    CLOSED = "closed"  # recruitment is not open
    ALREADY = "already"
    BUDGET_SCHOOL = "budget_school"
    NOT_CONNECTED = "not_connected"
    TOO_YOUNG = "too_young"
    OFFICIAL = "official"
    INVALID = "invalid"
    LIST_FIXED = "list_fixed"  # the commitment is published: the applicant list is final
    FORBIDDEN = "forbidden"
    RECRUITING = "recruiting"  # the draw waits for recruitment to close
    NOT_COMMITTED = "not_committed"
    COMMITTED = "committed"
    DRAWN = "drawn"
    INFEASIBLE = "infeasible"
    NOT_MEMBER = "not_member"
    PAST_DEADLINE = "past_deadline"
    BAD_SEED = "bad_seed"
    BAD_CODE = "bad_code"
    APPLIED_WITHOUT = "applied_without"  # a quota feature added after people applied


@dataclass(frozen=True)
class Answers:
    """What the application flow collects."""

    gender: str | None
    birth_year: int
    district: str | None
    extra: Mapping[str, str]
    not_official: bool
    agreed: bool


def check_answers(
    rules: PanelRules, answers: Answers, year: int, minimum_age: int
) -> Refusal | None:
    """Each answer within what the programme asks; the eligibility rules of SPEC §2."""
    if not answers.agreed:
        return Refusal.INVALID
    if GENDER in rules.features and answers.gender not in rules.options(GENDER):
        return Refusal.INVALID
    if DISTRICT in rules.features and answers.district not in DISTRICTS_BY_CODE:
        return Refusal.INVALID
    for extra in rules.extra_features:
        if answers.extra.get(extra.key) not in rules.options(extra.key):
            return Refusal.INVALID
    if not 1900 <= answers.birth_year <= year:
        return Refusal.INVALID
    limit = minimum_age if rules.minimum_age is None else rules.minimum_age
    if year - answers.birth_year < limit:
        return Refusal.TOO_YOUNG
    if rules.exclude_officials and not answers.not_official:
        return Refusal.OFFICIAL
    return None


def connected(person: Person) -> bool:
    """Residents, and people who work or study in the city (SPEC §2)."""
    return person.relation in (Relation.RESIDENT, Relation.WORKER, Relation.STUDENT)


def features_of(rules: PanelRules, answers: Answers, year: int) -> dict[str, str]:
    """The values the quotas look at, fixed when the person applies."""
    values: dict[str, str] = {}
    for feature in rules.features:
        if feature == GENDER and answers.gender is not None:
            values[GENDER] = answers.gender
        elif feature == AGE_BAND:
            values[AGE_BAND] = age_band(answers.birth_year, year)
        elif feature == DISTRICT and answers.district is not None:
            values[DISTRICT] = answers.district
    for extra in rules.extra_features:
        values[extra.key] = answers.extra[extra.key]
    return values


def applicant_pseudonym(secret: bytes, programme_key: str, user_id: int) -> str:
    """A keyed pseudonym per programme: it names an applicant in the published pool, and
    only the installation's key links it to a Telegram id (panels' ids are unlinkable)."""
    message = f"panel:{programme_key}:{user_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class Stratum:
    """Applicants of one feature value against its quota."""

    quota: Quota
    applicants: int

    @property
    def short(self) -> int:
        """How many more applicants the quota's minimum needs."""
        return max(0, self.quota.min - self.applicants)


def strata(
    quotas: Iterable[Quota], pool: Iterable[Applicant], rules: PanelRules | None = None
) -> list[Stratum]:
    """Applicants per quota, in the city's order when the rules are given (features as the
    programme lists them; districts as the city lists them, age bands youngest first)."""
    held = Counter((f, v) for a in pool for f, v in a.features.items())
    ordered = sorted(quotas, key=rules.city_order) if rules is not None else sorted(quotas)
    return [Stratum(q, held[q.feature, q.value]) for q in ordered]


def replacement_quotas(
    quotas: Iterable[Quota], pool: Iterable[Applicant], panel_with_vacated: Collection[str]
) -> list[Quota]:
    """The quotas a replacement is held to: a minimum the panel already missed before this
    seat was given up (no one fitting was left for an earlier one) counts only as far as
    the panel then met it, so one empty seat does not leave every later one empty too.
    Whole panels meet their quotas, and these are the quotas themselves."""
    by_id = {applicant.id: applicant for applicant in pool}
    held = Counter((f, v) for name in panel_with_vacated for f, v in by_id[name].features.items())
    return [Quota(q.feature, q.value, min(q.min, held[q.feature, q.value]), q.max) for q in quotas]


SEED_MAX: Final = 200


def check_seed(seed: str) -> bool:
    """A public value typed by an admin: one line of printable text."""
    return 0 < len(seed) <= SEED_MAX and seed.isprintable()
