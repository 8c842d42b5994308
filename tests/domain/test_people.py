"""Districts and PB eligibility (SPEC §2)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.people import (
    DISTRICTS,
    Ineligible,
    Person,
    Question,
    Relation,
    Requirements,
    check,
    find_district,
    parse_birth_year,
    pb_eligibility,
    sign_up_missing,
)

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
    ("fields", "missing", "refusal"),
    [
        ({}, (), None),
        ({"relation": Relation.WORKER}, (), None),
        ({"relation": Relation.STUDENT, "birth_year": 2013}, (), None),  # 14 in 2027
        ({"relation": Relation.OTHER}, (), Ineligible.NOT_CONNECTED),
        ({"relation": None}, (Question.RELATION,), None),
        ({"declared_not_official_at": None}, (Question.NOT_OFFICIAL,), None),
        ({"birth_year": None}, (Question.BIRTH_YEAR,), None),
        ({"birth_year": 2014}, (), Ineligible.TOO_YOUNG),
        (
            {"declared_not_official_at": None, "declared_official_at": NOW},
            (),
            Ineligible.OFFICIAL,
        ),
        # Nothing given yet: every answer, in the order they are asked.
        (
            {"relation": None, "birth_year": None, "declared_not_official_at": None},
            (Question.RELATION, Question.BIRTH_YEAR, Question.NOT_OFFICIAL),
            None,
        ),
        # An answer that already settles it: nobody is asked what cannot change the outcome.
        ({"relation": Relation.OTHER, "birth_year": None}, (), Ineligible.NOT_CONNECTED),
        ({"birth_year": 2020, "declared_not_official_at": None}, (), Ineligible.TOO_YOUNG),
    ],
)
def test_pb_eligibility(
    fields: dict[str, object], missing: tuple[Question, ...], refusal: Ineligible | None
) -> None:
    result = pb_eligibility(person(**fields), today_year=2027, minimum_age=14)
    assert result.allowed is (not missing and refusal is None)
    assert (result.missing, result.refusal) == (missing, refusal)


def test_minimum_age_is_a_setting() -> None:
    assert not pb_eligibility(person(birth_year=2010), 2027, minimum_age=18).allowed


def test_a_district_ballot_and_the_budget_school() -> None:
    mapo_only = Requirements(district="mapo")
    assert check(person(district="mapo"), mapo_only, 2027).allowed
    assert check(person(district=None), mapo_only, 2027).missing == (Question.DISTRICT,)
    assert check(person(district="guro"), mapo_only, 2027).refusal is Ineligible.OTHER_DISTRICT
    graduates = Requirements(connected=True, budget_school=True)
    assert check(person(), graduates, 2027).missing == (Question.BUDGET_SCHOOL,)
    assert check(person(), graduates, 2027, budget_school=True).allowed


def test_sign_up_asks_again_what_it_never_got() -> None:
    assert sign_up_missing(person(relation=None)) == (Question.RELATION,)
    assert sign_up_missing(person(district=None)) == (Question.DISTRICT,)
    assert sign_up_missing(person(relation=Relation.OTHER, district=None)) == ()
    assert sign_up_missing(person(district="mapo")) == ()


@pytest.mark.parametrize(
    ("typed", "year"),
    [
        ("1987", 1987),
        (" 1987년 ", 1987),
        ("87", None),
        ("1899", None),
        ("2028", None),
        ("abcd", None),
        ("²²²²", None),  # digits to str.isdigit, not to int()
        ("１９８７", 1987),  # a full-width keyboard's digits
    ],
)
def test_birth_year_as_typed(typed: str, year: int | None) -> None:
    assert parse_birth_year(typed, 2027) == year
