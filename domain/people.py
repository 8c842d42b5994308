"""People and what the city's rules ask of them (SPEC §2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict


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
    phone_hmac: str | None = None
    active: bool = True
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Eligibility:
    allowed: bool
    reason: str | None = None  # a stable code the bot turns into a localised sentence


def pb_eligibility(person: Person, today_year: int, minimum_age: int) -> Eligibility:
    """May this person propose and vote in participatory budgeting (seed 004, ordinance)?

    Residents, and people who work or study in the city; not officials of the city or its
    districts nor employees of bodies they fund, which the person declares.
    """
    if person.relation in (None, Relation.OTHER):
        return Eligibility(False, "not_connected_to_city")
    if person.declared_not_official_at is None:
        return Eligibility(False, "official_declaration_missing")
    if person.birth_year is None:
        return Eligibility(False, "birth_year_missing")
    # Counted in years of birth, as Korean administrative age limits usually are.
    if today_year - person.birth_year < minimum_age:
        return Eligibility(False, "too_young")
    return Eligibility(True)
