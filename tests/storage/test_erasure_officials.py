"""/deleteme of an official (SPEC §2; storage/privacy.py: erase_person): their own posting
block stays under their marker, naming no one; the records of what they did as an official
stay, without the link to them, and the screens that read those records still work."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.handlers import broadcasts as status
from bot.services import admin as admin_service
from bot.services import broadcasts as broadcast_service
from bot.services import proposals as proposal_service
from bot.services import voting as voting_service
from domain.broadcasts import Audience, Segment
from domain.broadcasts import Status as BroadcastStatus
from domain.roles import Role
from storage.db import Database
from storage.privacy import OFFICIAL_ACTS, erase_person
from tests.harness import Harness
from tests.proposals.conftest import IN_PB_CALL, seed_programmes, sign_up
from tests.storage.test_locks import submitted_proposal
from tests.voting.conftest import AFTER_VOTE, DURING_VOTE, ballot_file

OFFICIAL, OTHER_OFFICIAL, CITIZEN = 9000, 9001, 7
ADMINS = frozenset({OFFICIAL, OTHER_OFFICIAL})
NOON = datetime(2027, 2, 10, 3, 0, tzinfo=UTC)  # in the PB proposal call


async def erase(db: Database, user_id: int) -> None:
    async with db.transaction() as session:
        await erase_person(session, user_id)


async def linked_acts(db: Database, user_id: int) -> list[str]:
    """The columns of OFFICIAL_ACTS that still name the person."""
    found = []
    async with db.reading() as session:
        for table, column, _ in OFFICIAL_ACTS:
            if await session.scalar(f"SELECT 1 FROM {table} WHERE {column} = ?", (user_id,)):
                found.append(f"{table}.{column}")
    return found


async def queued_broadcast(db: Database, admin_id: int) -> int:
    draft = await broadcast_service.create_draft(
        db, admin_id, {"ko": "안녕하세요", "en": "Hello"}, None, None,
        Audience(segment=Segment.EVERYONE), NOON, ADMINS,
    )  # fmt: skip
    assert draft is not None
    confirmed = await broadcast_service.confirm(db, admin_id, draft.id, NOON, ADMINS, "ko")
    assert confirmed.result is broadcast_service.Result.DONE
    return draft.id


async def test_an_erased_moderator_s_blocks_and_decisions_stay_without_them(
    db: Database,
) -> None:
    """The moderator blocked a citizen and removed a proposal, and was blocked themselves by
    another: after their erasure their own block no longer names them (it stays under their
    marker, tests/storage/test_erasure_markers.py); the citizen is still blocked and the
    decision still keeps the proposal out of the moderation queue, neither naming them."""
    await seed_programmes(db)
    await sign_up(db, OFFICIAL, OTHER_OFFICIAL, CITIZEN, 1, 2)
    proposal_id = await submitted_proposal(db)
    outcome, _ = await proposal_service.report(db, "proposal", proposal_id, 2, IN_PB_CALL)
    assert outcome is proposal_service.Outcome.DONE
    for moderator, person in ((OFFICIAL, CITIZEN), (OTHER_OFFICIAL, OFFICIAL)):
        blocked = await admin_service.block_posting(
            db, moderator, person, "도배", IN_PB_CALL, ADMINS
        )
        assert blocked is admin_service.Result.DONE
    decided = await admin_service.decide(
        db, OFFICIAL, "proposal", proposal_id, admin_service.Decision.REMOVE, "광고",
        IN_PB_CALL, ADMINS,
    )  # fmt: skip
    assert decided is admin_service.Result.DONE

    await erase(db, OFFICIAL)

    assert await linked_acts(db, OFFICIAL) == []
    async with db.reading() as session:
        blocks = await session.fetchall("SELECT user_id, blocked_by FROM posting_blocks")
        decisions = await session.fetchall(
            "SELECT target_id, decision, moderator_id FROM moderation_decisions"
        )
        assert await admin_service.moderation_queue(session) == []
    assert sorted(tuple(row) for row in blocks) == [
        (db.ballot_key.erased(OFFICIAL), OTHER_OFFICIAL),  # type: ignore[union-attr]
        (CITIZEN, None),
    ]
    assert [tuple(row) for row in decisions] == [(proposal_id, "remove", None)]
    refused = await proposal_service.comment(db, proposal_id, CITIZEN, "광고", None, IN_PB_CALL)
    assert refused is proposal_service.Outcome.BLOCKED


async def test_a_result_confirmed_by_an_erased_admin_stays_final(db: Database) -> None:
    """총회 approval outlives the admin who recorded it: the result is still final (shown so,
    and no ballot accepted), without the link to them."""
    await seed_programmes(db)
    await sign_up(db, OFFICIAL, 1, 2, 3)
    ids = {h.key: i for i, h in await voting_service.import_ballot(db, ballot_file)}
    city = ids["city"]
    for user in (1, 2):
        assert (await voting_service.cast(db, user, city, ["a"], DURING_VOTE, 14)).refusal is None
    assert await voting_service.confirm(db, city, OFFICIAL, AFTER_VOTE, ADMINS) is None

    await erase(db, OFFICIAL)

    assert await linked_acts(db, OFFICIAL) == []
    results = await voting_service.results(db, city, AFTER_VOTE)
    assert results is not None and results.state is voting_service.ResultState.FINAL
    assert results.selected == ("a",) and results.confirmed_at == AFTER_VOTE
    refused = await voting_service.cast(db, 3, city, ["a"], AFTER_VOTE, 14)
    assert refused.refusal is voting_service.Refusal.CONFIRMED


async def test_a_broadcast_of_an_erased_admin_goes_on_without_them(harness: Harness) -> None:
    """An admin erases themselves while their broadcasts are under way: they are delivered
    and finish (their own copies, deleted with them, no longer counted); the status is no
    longer shown in their chat, and a status shown elsewhere (a chat that is not theirs) is
    still kept up to date, in the default language."""
    h = harness
    h.set_now(NOON)
    await seed_programmes(h.db)
    await sign_up(h.db, OFFICIAL, OTHER_OFFICIAL, 1, 2, language="en")
    for user in (OFFICIAL, OTHER_OFFICIAL, 1, 2):
        h.api.user(user)
    theirs = await queued_broadcast(h.db, OFFICIAL)
    elsewhere = await queued_broadcast(h.db, OFFICIAL)
    shown = {}
    for broadcast_id, chat in ((theirs, OFFICIAL), (elsewhere, OTHER_OFFICIAL)):
        message = await h.app.bot.send_message(chat, f"Broadcast #{broadcast_id}")
        await broadcast_service.set_status_message(h.db, broadcast_id, chat, message.message_id)
        shown[chat] = message.message_id
    before = len(h.api.bot_messages(OFFICIAL))

    await erase(h.db, OFFICIAL)
    assert await linked_acts(h.db, OFFICIAL) == []
    while (await h.app.automation.sender.run_batch()).worked:
        pass
    await status.refresh(h.app)

    for broadcast_id in (theirs, elsewhere):
        state = await broadcast_service.settle(h.db, broadcast_id, NOON)
        assert state is not None and state.broadcast.status is BroadcastStatus.DONE
        assert state.broadcast.created_by is None
    # Nothing more in the erased admin's chat, not even an edit of the status.
    assert len(h.api.bot_messages(OFFICIAL)) == before
    assert h.api.chats[OFFICIAL].messages[shown[OFFICIAL]]["text"] == f"Broadcast #{theirs}"
    # Elsewhere the status is edited and the report sent, in the default language.
    assert "완료" in h.api.chats[OTHER_OFFICIAL].messages[shown[OTHER_OFFICIAL]]["text"]
    assert "발송: 3" in h.last_text(OTHER_OFFICIAL)


async def test_audit_entries_about_an_erased_person_name_their_marker_without_a_reason(
    db: Database,
) -> None:
    """The log keeps that someone was made a moderator, then blocked and unblocked; after
    their erasure those entries name their marker (as their block would), not them, and keep
    no reason (it may describe them). Entries about others are left as they were."""
    await seed_programmes(db)
    await sign_up(db, OFFICIAL, CITIZEN, 1)
    assert (
        await admin_service.grant(db, OFFICIAL, CITIZEN, Role.MODERATOR, "*", IN_PB_CALL, ADMINS)
        is admin_service.Result.DONE
    )
    for person, block in ((CITIZEN, True), (CITIZEN, False), (1, True)):
        done = await admin_service.block_posting(
            db, OFFICIAL, person, "도배", IN_PB_CALL, ADMINS, block=block
        )
        assert done is admin_service.Result.DONE

    await erase(db, CITIZEN)

    async with db.reading() as session:
        rows = await session.fetchall("SELECT action, subject, details FROM audit_log ORDER BY id")
    about = [
        (row["action"], row["subject"], json.loads(row["details"]))
        for row in rows
        if row["action"] in ("grant", "block", "unblock")
    ]
    marker = f"user:{db.ballot_key.erased(CITIZEN)}"  # type: ignore[union-attr]
    assert about == [
        ("grant", marker, {"role": "moderator", "scope": "*"}),
        ("block", marker, {}),
        ("unblock", marker, {}),
        ("block", "user:1", {"reason": "도배"}),
    ]
