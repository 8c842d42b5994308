"""Fixtures for budget-waste reports: the shipped programmes, people, officers, reports."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from bot.services import waste as service
from domain.roles import Role
from domain.waste import FileKind
from storage.db import Database
from storage.roles import RolesRepository
from storage.waste import NewFile, Report, WasteRepository
from tests.proposals.conftest import seed_programmes, sign_up

# Wednesday 10 March 2027, noon in Seoul.
NOW = datetime(2027, 3, 10, 3, 0, tzinfo=UTC)
ADMINS = frozenset({9000})
REPORTER, OTHER, TRANSPORT_OFFICER, MAPO_OFFICER, CENTRE_OFFICER, ADMIN = (
    1, 2, 3, 4, 5, 9000,
)  # fmt: skip
TRANSPORT = "서울시 도시교통실"


def photo(number: int) -> NewFile:
    return NewFile(FileKind.PHOTO, f"photo-{number}", f"unique-{number}", "image/jpeg")


def draft(**changes: object) -> service.Draft:
    base: dict[str, object] = {
        "token": uuid.uuid4().hex,
        "description": "버스정류장 안내판을 멀쩡한데도 1년 만에 모두 교체했습니다.",
        "agency": TRANSPORT,
        "district": "mapo",
        "address": "마포구 월드컵로 212",
        "amount": 120_000_000,
        "files": (photo(1),),
        "named_publicly": True,
        "contact_consent": True,
        "reporter_name": "김시민",
        "reporter_username": "kimcitizen",
    }
    base.update(changes)
    return service.Draft(**base)  # type: ignore[arg-type]


@pytest.fixture
async def ready(db: Database) -> Database:
    """Programmes, six signed-up people, and officers: one for 도시교통실, one for 마포구청
    건설관리과, one for the whole centre (scope "")."""
    await seed_programmes(db)
    await sign_up(db, REPORTER, OTHER, TRANSPORT_OFFICER, MAPO_OFFICER, CENTRE_OFFICER, ADMIN)
    async with db.transaction() as session:
        roles = RolesRepository(session)
        await roles.grant(TRANSPORT_OFFICER, Role.WASTE_OFFICER, NOW, scope=TRANSPORT)
        await roles.grant(MAPO_OFFICER, Role.WASTE_OFFICER, NOW, scope="마포구청 건설관리과")
        await roles.grant(CENTRE_OFFICER, Role.WASTE_OFFICER, NOW)
    return db


async def submit(db: Database, user_id: int = REPORTER, **changes: object) -> Report:
    result = await service.submit(db, user_id, draft(**changes), NOW)
    assert result.refusal is None and result.report is not None, result.refusal
    return result.report


async def get(db: Database, report_id: int) -> Report:
    async with db.reading() as session:
        report = await WasteRepository(session).get(report_id)
    assert report is not None
    return report


async def outbox(db: Database) -> list[tuple[int, str, str]]:
    """(user id, category, text) of every queued notification, in order."""
    async with db.reading() as session:
        rows = await session.fetchall("SELECT user_id, category, payload FROM outbox ORDER BY id")
    return [(r["user_id"], r["category"], json.loads(r["payload"])["text"]) for r in rows]


async def audit_actions(db: Database) -> list[tuple[int | None, str, str]]:
    async with db.reading() as session:
        rows = await session.fetchall("SELECT actor_id, action, subject FROM audit_log ORDER BY id")
    return [(r[0], r[1], r[2]) for r in rows]
