"""Everything stored about one person, for /mydata and /deleteme (PIPA, SPEC §2).

Each feature that stores personal data adds its tables here, so export and erasure can't
forget one.
"""

from __future__ import annotations

from typing import Any, Final

from storage.db import Session
from storage.names import NamesRepository
from storage.notifications import NotificationSettingsRepository
from storage.panels import PanelsRepository
from storage.people import PeopleRepository
from storage.proposals import ProposalsRepository
from storage.ptbstate import PtbStateRepository
from storage.roles import RolesRepository
from storage.voting import VotingRepository
from storage.waste import WasteRepository

# Where a person appears as the official who acted: each act is listed with what identifies
# it, not the whole record (a draw's pool, say, is other people's data).
OFFICIAL_ACTS: Final = (
    ("roles", "granted_by", "user_id, role, scope, granted_at"),
    ("posting_blocks", "blocked_by", "user_id, reason, at"),
    ("moderation_decisions", "moderator_id", "target_type, target_id, decision, reason, at"),
    ("broadcasts", "created_by", "id, audience, status, created_at"),
    ("panel_meetings", "created_by", "programme_id, title, starts_at, created_at"),
    ("panel_draws", "committed_by", "programme_id, commitment, committed_at"),
    ("panel_draws", "drawn_by", "programme_id, seed, drawn_at"),
    ("tally_results", "confirmed_by", "heading_id, rule, confirmed_at"),
    ("budget_school_codes", "created_by", "code, label, created_at"),
    ("waste_report_events", "actor_id", "report_id, at, kind, note"),
)


async def export_person(session: Session, user_id: int) -> dict[str, Any]:
    state = PtbStateRepository(session)

    async def rows(sql: str) -> list[dict[str, Any]]:
        return [dict(r) for r in await session.fetchall(sql, (user_id,))]

    acts = {
        f"{table}.{column}": await rows(f"SELECT {columns} FROM {table} WHERE {column} = ?")
        for table, column, columns in OFFICIAL_ACTS
    }
    audit = await session.fetchall(
        "SELECT at, action, subject, details FROM audit_log WHERE actor_id = ? ORDER BY id",
        (user_id,),
    )
    return {
        "user_id": user_id,
        "profile": await PeopleRepository(session).export(user_id),
        "telegram_name": await NamesRepository(session).export_person(user_id),
        "conversation_data": await state.user_data(user_id),
        "conversations_in_progress": await state.conversations_of(user_id),
        "admin_actions": [dict(row) for row in audit],
        "participation": await ProposalsRepository(session).export_person(user_id),
        "voting": await VotingRepository(session).export_person(user_id),
        "panels": await PanelsRepository(session).export_person(user_id),
        "budget_waste_reports": await WasteRepository(session).export_person(user_id),
        "notifications": await NotificationSettingsRepository(session).export(user_id),
        "roles": await rows("SELECT role, scope, granted_at FROM roles WHERE user_id = ?"),
        "posting_blocks": await rows("SELECT reason, at FROM posting_blocks WHERE user_id = ?"),
        "as_official": {name: found for name, found in acts.items() if found},
    }


async def erase_person(session: Session, user_id: int) -> None:
    """Delete the person; records that must outlive them (the audit log) lose the link."""
    # Their own writes (a ballot, a report, a proposal) wait or come after, and then find
    # no person: none is stored under the name of someone erased.
    await session.lock("person", user_id)
    state = PtbStateRepository(session)
    await ProposalsRepository(session).erase_person(user_id)
    await VotingRepository(session).erase_person(user_id)
    await PanelsRepository(session).erase_person(user_id)
    await WasteRepository(session).erase_person(user_id)
    await NotificationSettingsRepository(session).erase(user_id)
    await NamesRepository(session).erase_person(user_id)
    await RolesRepository(session).erase_person(user_id)
    await state.drop_user_data(user_id)
    await state.drop_conversations_of(user_id)
    await session.execute("UPDATE audit_log SET actor_id = NULL WHERE actor_id = ?", (user_id,))
    await PeopleRepository(session).delete(user_id)
