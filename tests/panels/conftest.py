"""Panels for the tests: small panels with short recruitments, applicants, the draw."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.services import panels as service
from domain.panels import Answers
from domain.programmes import parse_programmes
from storage.db import Database
from storage.programmes import ProgrammesRepository

# Noon in Seoul (outside quiet hours) during recruitment, after it, and while meeting.
RECRUITING = datetime(2027, 3, 10, 3, 0, tzinfo=UTC)
AFTER_RECRUITMENT = datetime(2027, 4, 2, 3, 0, tzinfo=UTC)
MEETING_STAGE = datetime(2027, 4, 15, 3, 0, tzinfo=UTC)
ADMINS = frozenset({9000})
ADMIN = 9000

STAGES = """
[[programme.stage]]
key = "recruitment"
name = { ko = "모집", en = "Recruitment" }
starts_at = 2027-03-01T09:00:00
ends_at = 2027-04-01T00:00:00
actions = ["apply"]
[[programme.stage]]
key = "lottery"
name = { ko = "추첨", en = "Lottery" }
starts_at = 2027-04-01T00:00:00
ends_at = 2027-04-10T00:00:00
actions = ["draw"]
[[programme.stage]]
key = "meetings"
name = { ko = "회의", en = "Meetings" }
starts_at = 2027-04-10T00:00:00
ends_at = 2027-12-01T00:00:00
actions = ["meet", "vote"]
"""

PANELS = f"""
# Every kind of feature: the three built-in ones and one of the panel's own.
[[programme]]
key = "full-panel"
kind = "panel"
name = {{ ko = "시험 시민패널", en = "Test citizens' panel" }}
[programme.settings]
seats = 4
features = ["gender", "age_band", "district"]
quota_tolerance = 1.0
[[programme.settings.extra_features]]
key = "housing"
name = {{ ko = "주거 형태", en = "Housing" }}
options = [
    {{ code = "owner", ko = "자가", en = "Owner" }},
    {{ code = "tenant", ko = "임차", en = "Tenant" }},
]
shares = {{ owner = 0.45, tenant = 0.55 }}
{STAGES}

# Two women and two men exactly: replacements must keep that.
[[programme]]
key = "small-panel"
kind = "panel"
name = {{ ko = "작은 패널", en = "Small panel" }}
[programme.settings]
seats = 4
features = ["gender"]
invitation_days = 7
[[programme.settings.quotas]]
feature = "gender"
value = "female"
min = 2
max = 2
[[programme.settings.quotas]]
feature = "gender"
value = "male"
min = 2
max = 2
{STAGES}

[[programme]]
key = "school-panel"
kind = "panel"
name = {{ ko = "예산학교 패널", en = "Budget school panel" }}
[programme.settings]
seats = 2
features = ["gender"]
requires_budget_school = true
{STAGES}
"""


async def seed_panels(db: Database) -> dict[str, int]:
    ids = {}
    async with db.transaction() as session:
        repository = ProgrammesRepository(session)
        for programme in parse_programmes(PANELS):
            ids[programme.key] = await repository.upsert(programme, RECRUITING)
    return ids


def answers(
    gender: str = "female",
    birth_year: int = 1990,
    district: str | None = "mapo",
    housing: str | None = "owner",
    not_official: bool = True,
    agreed: bool = True,
) -> Answers:
    return Answers(
        gender=gender,
        birth_year=birth_year,
        district=district,
        extra={} if housing is None else {"housing": housing},
        not_official=not_official,
        agreed=agreed,
    )


async def apply_all(db: Database, programme_id: int, people: dict[int, Answers]) -> None:
    for user_id, given in people.items():
        result = await service.apply(db, user_id, programme_id, given, RECRUITING, 14)
        assert result.refusal is None, (user_id, result.refusal)


async def outbox_rows(db: Database, prefix: str) -> list[tuple[int, dict[str, object]]]:
    async with db.reading() as session:
        rows = await session.fetchall(
            "SELECT user_id, payload FROM outbox WHERE dedupe_key LIKE ? ORDER BY id",
            (f"{prefix}%",),
        )
    return [(r["user_id"], json.loads(r["payload"])) for r in rows]
