"""The answers participatory budgeting needs (SPEC §2), asked when a flow needs them: a birth
year and the declaration of not being a city or district official. The web ballot asks them
at the moment a vote needs them, then carries on; the stored answers serve the chat too."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from domain.people import Person, pb_eligibility
from storage.db import Database
from storage.people import PeopleRepository

SEOUL: Final = ZoneInfo("Asia/Seoul")
# The reasons of domain.people.pb_eligibility that an answer can resolve.
ANSWERABLE: Final = frozenset({"birth_year_missing", "official_declaration_missing"})


class AnswerProblem(StrEnum):
    NOT_SIGNED_UP = "not_signed_up"
    BAD_YEAR = "bad_year"
    NO_DECLARATION = "no_declaration"


def missing(person: Person, now: datetime, minimum_age: int) -> set[str]:
    """Which PB questions the person has not answered yet (empty when none is missing)."""
    found = set()
    if person.birth_year is None:
        found.add("birth_year_missing")
    if person.declared_not_official_at is None:
        found.add("official_declaration_missing")
    reason = pb_eligibility(person, now.astimezone(SEOUL).year, minimum_age).reason
    return found if reason in ANSWERABLE or reason is None else set()


async def answer(
    db: Database, user_id: int, now: datetime, birth_year: str | None, not_official: bool
) -> AnswerProblem | None:
    """Store the missing answers; a year is four digits from 1900 to this year."""
    async with db.transaction() as session:
        people = PeopleRepository(session)
        person = await people.get(user_id)
        if person is None:
            return AnswerProblem.NOT_SIGNED_UP
        fields: dict[str, object] = {}
        if person.birth_year is None:
            text = (birth_year or "").strip()
            this_year = now.astimezone(SEOUL).year
            if not (text.isdigit() and len(text) == 4 and 1900 <= int(text) <= this_year):
                return AnswerProblem.BAD_YEAR
            fields["birth_year"] = int(text)
        if person.declared_not_official_at is None:
            if not not_official:
                return AnswerProblem.NO_DECLARATION
            fields["declared_not_official_at"] = now
        if fields:
            await people.update(user_id, now, **fields)
    return None
