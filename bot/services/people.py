"""A person's answers as use cases (SPEC §2): what a programme needs of them, and saving an
answer given in any flow or in /profile. No Telegram here; the web side calls the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from domain.panels import GENDERS
from domain.people import (
    DISTRICTS_BY_CODE,
    Eligibility,
    Person,
    Question,
    Relation,
    Requirements,
    check,
    parse_birth_year,
)
from storage.db import Database, Session
from storage.people import PeopleRepository
from storage.voting import VotingRepository

SEOUL: Final = ZoneInfo("Asia/Seoul")


def this_year(now: datetime) -> int:
    """Ages are counted in years of birth, in Seoul's calendar."""
    return now.astimezone(SEOUL).year


async def eligibility(
    session: Session, user_id: int, requirements: Requirements, now: datetime
) -> tuple[Person | None, Eligibility]:
    """The person and what `requirements` still ask of them (None: not signed up)."""
    person = await PeopleRepository(session).get(user_id)
    if person is None:
        return None, Eligibility()
    done = requirements.budget_school and await VotingRepository(session).completed_budget_school(
        user_id
    )
    return person, check(person, requirements, this_year(now), budget_school=done)


class Invalid(ValueError):
    """An answer that is not one of the question's answers (a forged button, a typo)."""


async def save_answer(
    db: Database, user_id: int, question: Question, value: str | None, now: datetime
) -> Person:
    """Save one answer. The declaration has two answers, stored as the time each was given;
    giving one clears the other. 예산학교 completion is recorded by a course code
    (`bot.services.panels.redeem_code`), not here."""
    fields: dict[str, object] = {}
    if question is Question.RELATION:
        if value not in {relation.value for relation in Relation}:
            raise Invalid(value)
        fields["relation"] = value
    elif question is Question.DISTRICT:
        if value is not None and value not in DISTRICTS_BY_CODE:
            raise Invalid(value)
        fields["district"] = value
    elif question is Question.BIRTH_YEAR:
        year = parse_birth_year(value or "", this_year(now))
        if year is None:
            raise Invalid(value)
        fields["birth_year"] = year
    elif question is Question.NOT_OFFICIAL:
        if value not in ("no", "yes"):
            raise Invalid(value)
        official = value == "yes"
        fields["declared_official_at"] = now if official else None
        fields["declared_not_official_at"] = None if official else now
    elif question is Question.GENDER:
        if value is not None and value not in {option.code for option in GENDERS}:
            raise Invalid(value)
        fields["gender"] = value
    else:
        raise Invalid(question)
    async with db.transaction() as session:
        person = await PeopleRepository(session).update(user_id, now, **fields)
    if person is None:
        raise Invalid("not signed up")
    return person
