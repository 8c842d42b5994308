"""Everything stored about one person, for /mydata and /deleteme (PIPA, SPEC §2).

Each feature that stores personal data adds its tables here, so export and erasure can't
forget one.
"""

from __future__ import annotations

from typing import Any, Final

from storage import audit
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
    """Everything about the person, readable. The markers `erase_person` keeps are not in it:
    while they exist the person does not (an erased account has nothing to export, and a
    marker says nothing readable: only the ballot key tells whose it is); once the account
    signs up again they are its roll entries and block again, in `voting` and
    `posting_blocks` like any other."""
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
    """Delete the person; records that must outlive them lose the link (SPEC §2: /deleteme
    erases or anonymises).

    What is about the person goes with them. Where they acted as an official
    (`OFFICIAL_ACTS`: a block or a moderation decision they made, a broadcast they sent, a
    result they confirmed, …) the city keeps the record of the act, as it keeps the audit log
    (SPEC §2: every admin action is written to it), and only the link to them is removed
    (NULL, as in the audit log and `roles.granted_by`). A broadcast of theirs still under way
    goes on, but its status is no longer shown in their chat.

    Two records stop the person from doing something again, and erasing must not lift them:
    their counted ballots (one per heading, one heading of a group; SPEC §6) and their own
    posting block. Deleted, the same Telegram account could sign up again and vote a second
    time while the first ballot still counts, or post again at once. So their voter roll
    entries and their block stay, with the person's id replaced by a marker: a keyed hash of
    it under a sub-key of the ballot key (`BallotKey.erased`; negative, never a Telegram id).
    Without the key nobody tells whose a marker is, nor finds one from a user id; the roll
    entry keeps only its heading, stage and group (its times become the stage's opening), the
    block only when it was set and by whom (not its reason, which may describe the person);
    the audit log's entries about them (a role granted or revoked, a block set or lifted) name
    the marker too, also without a reason.
    When the same account signs up again (`PeopleRepository.consent`), its markers become its
    rows again: the roll's keys (migration 0024) refuse a second ballot as they refuse anyone
    on the roll whose ballot cannot be changed (Refusal.LOCKED; OTHER_HEADING in another
    heading of the group), and `is_blocked` holds. Matching at sign-up, not at each cast,
    keeps the cast as it was (no lock, no extra read or index). A heading's markers go once
    no heading they could refuse takes ballots (`VotingRepository.drop_markers`: confirmed,
    총회 승인); a block's stays until a moderator lifts it, which they do once the person is
    back. Replacing a lost ballot key orphans the markers (the new key matches none), as it
    locks the ballots cast before."""
    # Their own writes (a ballot, a report, a proposal) wait or come after, and then find
    # no person: none is stored under the name of someone erased.
    await session.lock("person", user_id)
    if session.dialect == "postgres":
        # A cast takes no lock but share-locks this row with its roll entry: wait for the
        # casts under way (their entries are then read below), and make later ones find no
        # person.
        await session.scalar("SELECT 1 FROM people WHERE user_id = ? FOR UPDATE", (user_id,))
    state = PtbStateRepository(session)
    await ProposalsRepository(session).erase_person(user_id)
    await VotingRepository(session).erase_person(user_id)
    await PanelsRepository(session).erase_person(user_id)
    await WasteRepository(session).erase_person(user_id)
    # Their messages go (below), also a broadcast's: its total counts one fewer, or it
    # would wait for theirs forever and never be done.
    await session.execute(
        "UPDATE broadcasts SET total = total - 1 WHERE id IN"
        " (SELECT broadcast_id FROM outbox WHERE user_id = ? AND broadcast_id IS NOT NULL)",
        (user_id,),
    )
    await NotificationSettingsRepository(session).erase(user_id)
    await NamesRepository(session).erase_person(user_id)
    await RolesRepository(session).erase_person(user_id)
    await state.drop_user_data(user_id)
    await state.drop_conversations_of(user_id)
    # Their block stays under their marker, without its reason (see above); so do the audit
    # entries about them (a role granted or revoked, a block set or lifted).
    marker = VotingRepository(session).key().erased(user_id)
    await session.execute(
        "UPDATE posting_blocks SET user_id = ?, reason = NULL WHERE user_id = ?",
        (marker, user_id),
    )
    await audit.anonymise_subject(session, f"user:{user_id}", f"user:{marker}")
    # The acts of OFFICIAL_ACTS not unlinked by their repositories above.
    for table, column in (
        ("posting_blocks", "blocked_by"),
        ("moderation_decisions", "moderator_id"),
        ("broadcasts", "created_by"),
        ("tally_results", "confirmed_by"),
    ):
        await session.execute(f"UPDATE {table} SET {column} = NULL WHERE {column} = ?", (user_id,))
    await session.execute(
        "UPDATE broadcasts SET status_chat_id = NULL, status_message_id = NULL"
        " WHERE status_chat_id = ?",
        (user_id,),
    )
    await session.execute("UPDATE audit_log SET actor_id = NULL WHERE actor_id = ?", (user_id,))
    await PeopleRepository(session).delete(user_id)
