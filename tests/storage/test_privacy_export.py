"""/mydata holds everything stored about the person (PIPA right of access, SPEC §2, §6;
issue 19). Generic on purpose: every column of the schema that can name a person is found
from the schema itself, and each must be exported (or be declared exempt with why), so a
future table that stores people and is left out of the export fails here."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from bot.demo import BUDGET, PROPOSALS, Citizen, build_demo, sign_up
from bot.services import panels as panels_service
from bot.services import proposals as proposals_service
from bot.services import voting as voting_service
from bot.services import waste as waste_service
from domain.notifications import Category, Mode
from domain.panels import Answers
from domain.proposals import Scope
from domain.roles import Role
from storage import audit
from storage.db import Database
from storage.names import NamesRepository
from storage.notifications import NotificationSettingsRepository
from storage.privacy import OFFICIAL_ACTS, export_person
from storage.programmes import ProgrammesRepository
from storage.ptbstate import PtbStateRepository
from storage.roles import RolesRepository
from tests.proposals.conftest import seed_programmes
from tests.waste.conftest import draft as waste_draft

NOW = datetime(2027, 3, 10, 3, 0, tzinfo=UTC)
PERSON, OTHER = 7_000_123, 7_000_456

# A column that may hold a person's Telegram id: any id or "…_by" column but these, which
# hold ids of other things. A new column like these must be added here, or it is taken to
# name a person (and must then be exported).
ID_COLUMN = re.compile(r"^(id|person|.*_id|.*_by)$")
NOT_A_PERSON = {
    "id", "programme_id", "stage_id", "proposal_id", "heading_id", "report_id", "event_id",
    "meeting_id", "target_id", "digest_id", "broadcast_id", "file_id", "file_unique_id",
    "update_id", "telegram_message_id", "status_message_id", "replaced_by", "claimed_by",
    "respond_by",
}  # fmt: skip
# What the person gave or is: every value of each of their rows is in the export.
OWN = {
    ("people", "user_id"), ("ptb_user_data", "user_id"), ("audit_log", "actor_id"),
    ("outbox", "user_id"), ("notification_settings", "user_id"), ("proposals", "author_id"),
    ("supports", "user_id"), ("follows", "user_id"), ("proposal_events", "actor_id"),
    ("comments", "author_id"), ("content_reports", "reporter_id"),
    ("debate_stances", "user_id"), ("roles", "user_id"), ("waste_reports", "reporter_id"),
    ("budget_school", "user_id"), ("panel_applications", "user_id"),
    ("meeting_rsvps", "user_id"), ("posting_blocks", "user_id"), ("people_names", "user_id"),
}  # fmt: skip
# Delivery internals and draft keys of their own rows: not information about the person.
INTERNAL = {
    "proposals": {"client_key", "report_count", "support_count"},
    "comments": {"report_count"},
    "waste_reports": {"draft_token", "receipt_year", "receipt_seq"},
    "outbox": {
        "urgent", "dedupe_key", "not_before", "attempts", "claimed_at", "telegram_message_id",
        "last_error", "digest_id", "broadcast_id", "claimed_by",
    },
}  # fmt: skip
# Only that they voted and where: never their choices (SPEC §6).
VOTED = {("voter_roll", "user_id")}
# The cases an officer holds: listed by receipt (the reports are other people's data).
CASES = {("waste_reports", "officer_id")}
ACTS = {(table, column) for table, column, _ in OFFICIAL_ACTS}
EXEMPT = {
    ("updates", "person"): "the raw intake of updates, deleted a day after each is handled",
    ("ptb_chat_data", "chat_id"): "never written: the bot keeps no chat_data",
    ("broadcasts", "status_chat_id"): "the official's chat for the status; see as_official",
}


async def person_columns(db: Database) -> set[tuple[str, str]]:
    found = set()
    for table in await db.tables():
        columns = await table_columns(db, table)
        found |= {(table, c) for c in columns if ID_COLUMN.match(c) and c not in NOT_A_PERSON}
    return found


async def table_columns(db: Database, table: str) -> list[str]:
    async with db.reading() as session:
        if db.dialect == "sqlite":
            return [r[1] for r in await session.fetchall(f"PRAGMA table_info({table})")]
        rows = await session.fetchall(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", (table,)
        )
        return [r[0] for r in rows]


async def rows_naming(db: Database, table: str, column: str) -> list[dict[str, Any]]:
    async with db.reading() as session:
        found = await session.fetchall(
            f"SELECT * FROM {table} WHERE {column} = ?",
            (PERSON,),
        )
    return [dict(row) for row in found]


def scalars(value: Any) -> list[Any]:
    """The values a stored cell holds: JSON text is opened up to its leaves."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return [value]
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in scalars(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in scalars(v)]
    return [value]


def missing_from(dump: str, table: str, row: dict[str, Any]) -> list[str]:
    missing = []
    for column, cell in row.items():
        if (
            cell is None
            or ID_COLUMN.match(column)
            or column in INTERNAL.get(table, set())
            or column == "at"
            or column.endswith("_at")
        ):
            continue
        for value in scalars(cell):
            text = json.dumps(value, ensure_ascii=False)
            if isinstance(value, str):
                text = text[1:-1]
            if value is not None and text not in dump and str(value) not in dump:
                missing.append(f"{table}.{column}={value!r}")
    return missing


async def a_person_who_did_everything(db: Database) -> None:
    await seed_programmes(db)
    await build_demo(db, NOW)
    await sign_up(db, PERSON, Citizen("female", 1990, "mapo"), NOW)
    await sign_up(db, OTHER, Citizen("male", 1980, "guro"), NOW)
    async with db.transaction() as session:
        await PtbStateRepository(session).set_user_data(PERSON, {"draft_title": "쓰다 만 제목"})
        settings = NotificationSettingsRepository(session)
        await settings.set_mode(PERSON, Category.UPDATES, Mode.DIGEST, NOW)
        roles = RolesRepository(session, frozenset())
        await roles.grant(PERSON, Role.WASTE_OFFICER, NOW, granted_by=OTHER)
        await roles.grant(OTHER, Role.WASTE_OFFICER, NOW, scope="마포구청", granted_by=PERSON)
        await audit.record(session, PERSON, "role.grant", f"user:{OTHER}", NOW, role="officer")
        programmes = ProgrammesRepository(session)
        panel = await programmes.id_of("demo-panel")
        budget = await programmes.id_of(BUDGET)
        heading = await session.scalar(
            "SELECT h.id FROM ballot_headings h JOIN stages s ON s.id = h.stage_id"
            " WHERE s.programme_id = ? AND h.key = 'city'",
            (budget,),
        )
    assert panel is not None and heading is not None
    draft = proposals_service.Draft(
        programme_key=PROPOSALS,
        title="우리 동네 쉼터를 만들어 주세요",
        description="버스 기다리는 어르신을 위한 쉼터가 필요해요. 사진과 위치를 함께 보내요.",
        field="welfare",
        scope=Scope.CITY,
        districts=(),
        photos=("photo-770", "photo-771"),
        latitude=37.5551,
        longitude=126.9101,
        key="my-draft",
    )
    mine = await proposals_service.submit(db, PERSON, draft, NOW, 14)
    assert mine.proposal_id is not None
    assert await proposals_service.support(db, 1, PERSON, NOW) is proposals_service.Outcome.DONE
    await proposals_service.comment(db, 1, PERSON, "좋은 제안이에요, 꼭 되면 좋겠어요.", None, NOW)
    await proposals_service.report(db, "proposal", 2, PERSON, NOW)
    answers = Answers("female", 1990, "mapo", {}, not_official=True, agreed=True)
    applied = await panels_service.apply(db, PERSON, panel, answers, NOW, 14)
    assert applied.refusal is None
    cast = await voting_service.cast(db, PERSON, heading, ["c1"], NOW, 14)
    assert cast.refusal is None, cast
    await panels_service.import_completions(db, [PERSON], NOW, "import:course.csv")
    submitted = await waste_service.submit(db, PERSON, waste_draft(), NOW)
    assert submitted.report is not None
    # As an officer (an admin here): the case is theirs, and they acted on it.
    outcome = await waste_service.assign(
        db, submitted.report.id, PERSON, NOW, {PERSON}, officer_id=PERSON
    )
    assert outcome is waste_service.Outcome.DONE
    async with db.transaction() as session:  # the Telegram name officials see (issue 15)
        assert await NamesRepository(session).seen(PERSON, "김시민", "kim_citizen", NOW)


async def test_the_export_holds_every_row_that_names_the_person(db: Database) -> None:
    await a_person_who_did_everything(db)
    columns = await person_columns(db)
    unclassified = columns - OWN - VOTED - CASES - ACTS - set(EXEMPT)
    assert not unclassified, f"columns that name a person, not in /mydata: {unclassified}"
    async with db.reading() as session:
        exported = await export_person(session, PERSON)
    dump = json.dumps(exported, ensure_ascii=False, default=str)

    checked = set()
    for table, column in sorted(OWN):
        for row in await rows_naming(db, table, column):
            checked.add(table)
            assert not missing_from(dump, table, row), missing_from(dump, table, row)
    # The proposal whole: text, photos as file references, the pin.
    (proposal,) = exported["participation"]["proposals"]
    assert proposal["description"].startswith("버스 기다리는 어르신을 위한 쉼터")
    assert proposal["photos"] == ["photo-770", "photo-771"]
    assert (proposal["latitude"], proposal["longitude"]) == (37.5551, 126.9101)
    files = exported["budget_waste_reports"]["reports"][0]["files"]
    assert [f["file_id"] for f in files] == ["photo-1"]
    for table, column in ACTS:
        named = await rows_naming(db, table, column)
        assert len(exported["as_official"].get(f"{table}.{column}", [])) == len(named)
    for table, column in CASES:
        for row in await rows_naming(db, table, column):
            assert row["receipt"] in exported["budget_waste_reports"]["cases_assigned_to_me"]
    # Ballots: only "voted in X", never the choices or the pseudonym.
    (voted,) = exported["voting"]["voted_in"]
    assert voted["voted_in"] == "[데모] 시민참여예산 투표 — [데모] 광역 사업"
    assert '"c1"' not in dump and "pseudonym" not in json.dumps(exported["voting"])
    assert len(await rows_naming(db, "voter_roll", "user_id")) == 1
    # The scenario reached the tables it is meant to (so the comparison above compared).
    assert {
        "people", "proposals", "supports", "comments", "content_reports", "panel_applications",
        "waste_reports", "budget_school", "roles", "audit_log", "ptb_user_data", "people_names",
    } <= checked  # fmt: skip
