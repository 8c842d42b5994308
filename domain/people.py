"""People and what the city's rules ask of them (SPEC §2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict

from domain.ids import is_number


class Relation(StrEnum):
    """How a person relates to the city; the PB ordinance admits the first three."""

    RESIDENT = "resident"  # 거주
    WORKER = "worker"  # 직장 소재
    STUDENT = "student"  # 학교 소재
    OTHER = "other"


@dataclass(frozen=True)
class District:
    code: str
    name_ko: str
    name_en: str

    def name(self, language: str) -> str:
        return self.name_ko if language == "ko" else self.name_en


# The 25 자치구 of Seoul, in the city's usual order.
DISTRICTS: Final = tuple(
    District(code, ko, en)
    for code, ko, en in (
        ("jongno", "종로구", "Jongno-gu"),
        ("jung", "중구", "Jung-gu"),
        ("yongsan", "용산구", "Yongsan-gu"),
        ("seongdong", "성동구", "Seongdong-gu"),
        ("gwangjin", "광진구", "Gwangjin-gu"),
        ("dongdaemun", "동대문구", "Dongdaemun-gu"),
        ("jungnang", "중랑구", "Jungnang-gu"),
        ("seongbuk", "성북구", "Seongbuk-gu"),
        ("gangbuk", "강북구", "Gangbuk-gu"),
        ("dobong", "도봉구", "Dobong-gu"),
        ("nowon", "노원구", "Nowon-gu"),
        ("eunpyeong", "은평구", "Eunpyeong-gu"),
        ("seodaemun", "서대문구", "Seodaemun-gu"),
        ("mapo", "마포구", "Mapo-gu"),
        ("yangcheon", "양천구", "Yangcheon-gu"),
        ("gangseo", "강서구", "Gangseo-gu"),
        ("guro", "구로구", "Guro-gu"),
        ("geumcheon", "금천구", "Geumcheon-gu"),
        ("yeongdeungpo", "영등포구", "Yeongdeungpo-gu"),
        ("dongjak", "동작구", "Dongjak-gu"),
        ("gwanak", "관악구", "Gwanak-gu"),
        ("seocho", "서초구", "Seocho-gu"),
        ("gangnam", "강남구", "Gangnam-gu"),
        ("songpa", "송파구", "Songpa-gu"),
        ("gangdong", "강동구", "Gangdong-gu"),
    )
)
DISTRICTS_BY_CODE: Final = {district.code: district for district in DISTRICTS}


def find_district(text: str) -> District | None:
    """Match what a person typed: "강남구", "강남", "Gangnam-gu", "gangnam", or the code."""
    wanted = text.strip().lower().replace(" ", "")
    if not wanted:
        return None
    for district in DISTRICTS:
        names = {
            district.code,
            district.name_ko,
            district.name_ko.removesuffix("구"),
            district.name_en.lower(),
            district.name_en.lower().removesuffix("-gu"),
        }
        if wanted in names:
            return district
    return None


class Person(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: int
    language: str
    consented_at: datetime
    relation: Relation | None = None
    district: str | None = None
    gender: str | None = None
    birth_year: int | None = None
    dong: str | None = None
    declared_not_official_at: datetime | None = None
    declared_official_at: datetime | None = None
    phone_hmac: str | None = None
    active: bool = True
    created_at: datetime
    updated_at: datetime


class Question(StrEnum):
    """An answer a programme may need, asked in the flow that needs it (SPEC §2)."""

    RELATION = "relation"
    DISTRICT = "district"
    BIRTH_YEAR = "birth_year"
    NOT_OFFICIAL = "not_official"  # the declaration of not being an official
    GENDER = "gender"  # only for panels' quotas; kept so /profile can change it
    BUDGET_SCHOOL = "budget_school"  # 예산학교 completion, shown by a course code


class Ineligible(StrEnum):
    """Why a person really may not take part; no further answer changes it."""

    NOT_CONNECTED = "not_connected"  # neither lives, works nor studies in Seoul
    TOO_YOUNG = "too_young"
    OFFICIAL = "official"
    OTHER_DISTRICT = "other_district"  # a vote for the residents of another district


@dataclass(frozen=True)
class Requirements:
    """What a programme (or one ballot of it) asks of a person."""

    connected: bool = False  # lives, works or studies in Seoul
    minimum_age: int | None = None  # counted in years of birth
    not_official: bool = False
    district: str | None = None  # the residents of this district only (residence rule)
    budget_school: bool = False  # 예산학교 graduates only


def pb_requirements(minimum_age: int) -> Requirements:
    """Participatory budgeting (seed 004, ordinance): residents, and people who work or study
    in the city; not officials of the city or its districts nor employees of bodies they
    fund, which the person declares; a minimum age (configurable)."""
    return Requirements(connected=True, minimum_age=minimum_age, not_official=True)


@dataclass(frozen=True)
class Eligibility:
    """Either allowed, or the answers still to ask (in order), or why not at all."""

    missing: tuple[Question, ...] = ()
    refusal: Ineligible | None = None

    @property
    def allowed(self) -> bool:
        return not self.missing and self.refusal is None


def check(
    person: Person, requirements: Requirements, today_year: int, budget_school: bool = False
) -> Eligibility:
    """A refusal that the answers given already settle comes first: nobody is asked a
    question whose answer could not change the outcome."""
    refusal: Ineligible | None = None
    if requirements.connected and person.relation is Relation.OTHER:
        refusal = Ineligible.NOT_CONNECTED
    elif requirements.not_official and person.declared_official_at is not None:
        refusal = Ineligible.OFFICIAL
    elif (
        requirements.minimum_age is not None
        and person.birth_year is not None
        and today_year - person.birth_year < requirements.minimum_age
    ):
        refusal = Ineligible.TOO_YOUNG
    elif requirements.district is not None and person.district not in (
        None,
        requirements.district,
    ):
        refusal = Ineligible.OTHER_DISTRICT
    if refusal is not None:
        return Eligibility(refusal=refusal)
    missing: list[Question] = []
    if requirements.connected and person.relation is None:
        missing.append(Question.RELATION)
    if requirements.district is not None and person.district is None:
        missing.append(Question.DISTRICT)
    if requirements.minimum_age is not None and person.birth_year is None:
        missing.append(Question.BIRTH_YEAR)
    if requirements.not_official and person.declared_not_official_at is None:
        missing.append(Question.NOT_OFFICIAL)
    if requirements.budget_school and not budget_school:
        missing.append(Question.BUDGET_SCHOOL)
    return Eligibility(missing=tuple(missing))


def pb_eligibility(person: Person, today_year: int, minimum_age: int) -> Eligibility:
    """May this person propose and vote in participatory budgeting?"""
    return check(person, pb_requirements(minimum_age), today_year)


def sign_up_missing(person: Person) -> tuple[Question, ...]:
    """What sign-up asks and has no answer yet: `/start` asks it again, whatever stopped the
    first time (a skip, a cancel, a crash between the buttons and the save)."""
    if person.relation is None:
        return (Question.RELATION,)
    if person.relation is not Relation.OTHER and person.district is None:
        return (Question.DISTRICT,)
    return ()


EARLIEST_BIRTH_YEAR: Final = 1900


def parse_birth_year(text: str, today_year: int) -> int | None:
    """Four digits between 1900 and this year, as typed ("1987", " 1987년 ")."""
    digits = text.strip().removesuffix("년").strip()
    if len(digits) != 4 or not is_number(digits):  # not isdigit: int() refuses "²"
        return None
    year = int(digits)
    return year if EARLIEST_BIRTH_YEAR <= year <= today_year else None
