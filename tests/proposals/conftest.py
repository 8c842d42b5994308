"""Fixtures for proposals: the shipped programmes and a few signed-up people."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.people import Relation
from domain.programmes import default_programmes, parse_programmes
from storage.db import Database
from storage.people import PeopleRepository
from storage.programmes import ProgrammesRepository

# 민주주의 서울 is open all year; the city-wide PB call is open in February 2027.
IN_PB_CALL = datetime(2027, 2, 10, 3, 0, tzinfo=UTC)

SMALL_GOAL = """
[[programme]]
key = "democracy-seoul"
kind = "proposals"
name = { ko = "민주주의 서울 시민제안", en = "Democracy Seoul citizen proposals" }
[programme.settings]
support_threshold = 3
support_window_days = 30
reports_to_hide = 2
[[programme.stage]]
key = "always-open"
name = { ko = "상시 제안", en = "Open all year" }
starts_at = 2020-01-01T00:00:00
actions = ["propose", "support", "comment", "debate"]
"""


async def seed_programmes(db: Database, small_goal: bool = False) -> None:
    async with db.transaction() as session:
        repository = ProgrammesRepository(session)
        for programme in default_programmes():
            await repository.upsert(programme, IN_PB_CALL)
        if small_goal:
            for programme in parse_programmes(SMALL_GOAL):
                await repository.upsert(programme, IN_PB_CALL)


async def sign_up(
    db: Database,
    *user_ids: int,
    language: str = "ko",
    eligible_for_pb: bool = True,
    district: str = "mapo",
) -> None:
    async with db.transaction() as session:
        people = PeopleRepository(session)
        for user_id in user_ids:
            await people.consent(user_id, language, IN_PB_CALL)
            fields: dict[str, object] = {"relation": Relation.RESIDENT.value, "district": district}
            if eligible_for_pb:
                fields.update(birth_year=1990, declared_not_official_at=IN_PB_CALL)
            await people.update(user_id, IN_PB_CALL, **fields)
