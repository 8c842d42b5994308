"""Districts and PB eligibility (SPEC §2)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.people import DISTRICTS, Person, Relation, find_district, pb_eligibility

NOW = datetime(2027, 1, 1, tzinfo=UTC)


def test_the_25_districts_of_seoul() -> None:
    assert len(DISTRICTS) == 25
    assert len({d.code for d in DISTRICTS}) == 25
    assert all(d.name_ko.endswith("구") for d in DISTRICTS)


@pytest.mark.parametrize("typed", ["강남구", "강남", " Gangnam-gu ", "gangnam", "GANGNAM"])
def test_find_district_by_what_people_type(typed: str) -> None:
    district = find_district(typed)
    assert district is not None and district.code == "gangnam"


@pytest.mark.parametrize("typed", ["", "서울", "강", "Busan"])
def test_unknown_districts(typed: str) -> None:
    assert find_district(typed) is None


def person(**fields: object) -> Person:
    base: dict[str, object] = {
        "user_id": 1,
        "language": "ko",
        "consented_at": NOW,
        "relation": Relation.RESIDENT,
        "birth_year": 1990,
        "declared_not_official_at": NOW,
        "created_at": NOW,
        "updated_at": NOW,
    }
    base.update(fields)
    return Person.model_validate(base)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, None),
        ({"relation": Relation.WORKER}, None),
        ({"relation": Relation.STUDENT, "birth_year": 2013}, None),  # 14 in 2027
        ({"relation": Relation.OTHER}, "not_connected_to_city"),
        ({"relation": None}, "not_connected_to_city"),
        ({"declared_not_official_at": None}, "official_declaration_missing"),
        ({"birth_year": None}, "birth_year_missing"),
        ({"birth_year": 2014}, "too_young"),
    ],
)
def test_pb_eligibility(fields: dict[str, object], reason: str | None) -> None:
    result = pb_eligibility(person(**fields), today_year=2027, minimum_age=14)
    assert result.allowed is (reason is None)
    assert result.reason == reason


def test_minimum_age_is_a_setting() -> None:
    assert not pb_eligibility(person(birth_year=2010), 2027, minimum_age=18).allowed
