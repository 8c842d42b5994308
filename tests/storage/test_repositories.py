"""Programmes and privacy repositories on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.programmes import default_programmes, parse_programmes
from storage.db import Database
from storage.people import PeopleRepository
from storage.privacy import erase_person, export_person
from storage.programmes import ProgrammesRepository
from storage.ptbstate import PtbStateRepository

NOW = datetime(2026, 11, 22, tzinfo=UTC)

TWO_STAGES = """
[[programme]]
key = "poll"
kind = "poll"
name = { ko = "서울시가 묻습니다", en = "Seoul asks" }
[programme.settings]
question = "q1"
[[programme.stage]]
key = "debate"
name = { ko = "토론", en = "Debate" }
starts_at = 2027-01-01T00:00:00
ends_at = 2027-01-31T00:00:00
actions = ["debate", "comment"]
[[programme.stage]]
key = "vote"
name = { ko = "투표", en = "Vote" }
starts_at = 2027-02-01T00:00:00
ends_at = 2027-02-08T00:00:00
actions = ["vote"]
"""


async def test_default_programmes_round_trip(db: Database) -> None:
    programmes = default_programmes()
    async with db.transaction() as session:
        for programme in programmes:
            await ProgrammesRepository(session).upsert(programme, NOW)
    async with db.reading() as session:
        stored = await ProgrammesRepository(session).all()
    assert stored == programmes


async def test_reimport_keeps_stage_ids_and_drops_removed_stages(db: Database) -> None:
    (programme,) = parse_programmes(TWO_STAGES)
    async with db.transaction() as session:
        await ProgrammesRepository(session).upsert(programme, NOW)
        before = {r["key"]: r["id"] for r in await session.fetchall("SELECT id, key FROM stages")}
    changed = TWO_STAGES.replace("2027-02-08", "2027-02-15").split("[[programme.stage]]")
    # Keep only the vote stage, with a later end.
    (edited,) = parse_programmes(changed[0] + "[[programme.stage]]" + changed[2])
    async with db.transaction() as session:
        await ProgrammesRepository(session).upsert(edited, NOW)
        after = {r["key"]: r["id"] for r in await session.fetchall("SELECT id, key FROM stages")}
        stored = await ProgrammesRepository(session).get("poll")
    assert after == {"vote": before["vote"]}
    assert stored is not None and stored.stages[0].ends_at == datetime(2027, 2, 14, 15, tzinfo=UTC)
    assert stored.settings == {"question": "q1"}


async def test_export_and_erase_cover_profile_and_conversation_state(db: Database) -> None:
    async with db.transaction() as session:
        await PeopleRepository(session).consent(5, "ko", NOW)
        await PtbStateRepository(session).set_user_data(5, {"draft": "제안"})
        await PtbStateRepository(session).set_conversation("onboarding", (5, 5), "district")
        await PtbStateRepository(session).set_conversation("onboarding", (6, 6), "consent")
        await session.execute(
            "INSERT INTO audit_log (at, actor_id, action) VALUES ('t', 5, 'broadcast')"
        )
        exported = await export_person(session, 5)
        await erase_person(session, 5)
        after = await export_person(session, 5)
        others = await PtbStateRepository(session).conversations("onboarding")
        audit_actor = await session.scalar("SELECT actor_id FROM audit_log")
    assert exported["profile"]["language"] == "ko"
    assert exported["conversation_data"] == {"draft": "제안"}
    assert exported["conversations_in_progress"] == [
        {"conversation": "onboarding", "state": "district"}
    ]
    assert exported["admin_actions"][0]["action"] == "broadcast"
    assert after["profile"] is None and after["conversation_data"] == {}
    assert after["conversations_in_progress"] == []
    assert others == {(6, 6): "consent"}  # someone else's state untouched
    assert audit_actor is None  # the audit entry stays, unlinked
