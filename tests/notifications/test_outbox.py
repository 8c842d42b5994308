"""The outbox on a real SQLite file: queueing, atomic claims, routing, and the restart rule."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from domain.notifications import Category, Mode, Payload
from storage import outbox
from storage.db import Database, Session, open_database
from storage.notifications import NotificationSettingsRepository
from storage.people import PeopleRepository
from storage.privacy import erase_person, export_person
from tests.notifications.conftest import NOON_KST, queue, sign_up, statuses


async def test_a_dedupe_key_queues_once(db: Database) -> None:
    await sign_up(db, None, 1)
    first = await queue(db, 1, "hello", NOON_KST, dedupe_key="k")
    assert first is not None
    assert await queue(db, 1, "hello again", NOON_KST, dedupe_key="k") is None
    assert await statuses(db) == {first: "pending"}


async def test_rows_wait_for_not_before_and_come_out_in_order(db: Database) -> None:
    await sign_up(db, None, 1)
    later = await queue(db, 1, "later", NOON_KST, not_before=NOON_KST + timedelta(hours=1))
    first = await queue(db, 1, "first", NOON_KST)
    second = await queue(db, 1, "second", NOON_KST)
    async with db.transaction() as session:
        claimed, _ = await outbox.claim(session, now=NOON_KST, limit=10, quiet_end=None)
    assert [row.id for row in claimed] == [first, second]
    assert [row.attempts for row in claimed] == [1, 1]
    async with db.transaction() as session:
        claimed, _ = await outbox.claim(
            session, now=NOON_KST + timedelta(hours=1), limit=10, quiet_end=None
        )
    assert [row.id for row in claimed] == [later]


async def test_two_processes_never_claim_the_same_row(db: Database, tmp_path: Path) -> None:
    await sign_up(db, None, *range(1, 51))
    async with db.transaction() as session:
        await outbox.enqueue_many(
            session,
            (
                (user_id, Payload(text=f"n{n}"), None)
                for n in range(600)
                for user_id in [n % 50 + 1]
            ),
            category=Category.UPDATES,
            now=NOON_KST,
        )
    # A second connection to the same file, as a second process would have.
    other = open_database(db.url)
    await other.connect()

    async def claim_all(database: Database) -> list[int]:
        taken: list[int] = []
        while True:
            async with database.transaction() as session:
                claimed, _ = await outbox.claim(session, now=NOON_KST, limit=7, quiet_end=None)
            if not claimed:
                return taken
            taken += [row.id for row in claimed]
            await asyncio.sleep(0.001)  # let the other process in

    try:
        mine, theirs = await asyncio.gather(claim_all(db), claim_all(other))
    finally:
        await other.close()
    assert mine and theirs
    assert not set(mine) & set(theirs)
    assert sorted(mine + theirs) == list(range(1, 601))


async def test_claiming_routes_what_is_not_sent_now(db: Database) -> None:
    await sign_up(db, None, 1, 2, 3)
    async with db.transaction() as session:
        settings = NotificationSettingsRepository(session)
        await settings.set_mode(2, Category.UPDATES, Mode.DIGEST, NOON_KST)
        await settings.set_mode(3, Category.UPDATES, Mode.OFF, NOON_KST)
        await PeopleRepository(session).set_active(1, False)
    blocked = await queue(db, 1, "to someone who blocked us", NOON_KST)
    parked = await queue(db, 2, "for the digest", NOON_KST)
    unwanted = await queue(db, 3, "turned off", NOON_KST)
    urgent = await queue(db, 3, "urgent anyway", NOON_KST, urgent=True)
    nobody = await queue(db, 99, "never signed up", NOON_KST)
    async with db.transaction() as session:
        claimed, routed = await outbox.claim(session, now=NOON_KST, limit=10, quiet_end=None)
    assert [row.id for row in claimed] == [urgent]
    assert routed == 4
    assert await statuses(db) == {
        blocked: "dropped",
        parked: "digest",
        unwanted: "dropped",
        urgent: "claimed",
        nobody: "dropped",
    }


async def test_quiet_hours_hold_rows_until_the_morning(db: Database) -> None:
    await sign_up(db, None, 1)
    night = NOON_KST + timedelta(hours=11)  # 23:00 KST
    morning = NOON_KST + timedelta(hours=20)  # 08:00 KST
    held = await queue(db, 1, "an update", night)
    direct = await queue(db, 1, "what you asked for", night, category=Category.DIRECT)
    async with db.transaction() as session:
        claimed, routed = await outbox.claim(session, now=night, limit=10, quiet_end=morning)
        not_before = await session.scalar("SELECT not_before FROM outbox WHERE id = ?", (held,))
    assert [row.id for row in claimed] == [direct]
    assert routed == 1
    assert not_before == "2090-05-04T23:00:00.000000Z"  # 08:00 KST


async def test_claims_stop_at_the_limit_leaving_the_rest_in_order(db: Database) -> None:
    await sign_up(db, None, 1)
    ids = [await queue(db, 1, f"m{n}", NOON_KST) for n in range(5)]
    async with db.transaction() as session:
        claimed, _ = await outbox.claim(session, now=NOON_KST, limit=2, quiet_end=None)
    assert [row.id for row in claimed] == ids[:2]
    assert list((await statuses(db)).values()) == ["claimed"] * 2 + ["pending"] * 3


async def test_an_unreadable_payload_is_set_aside_not_retried_forever(db: Database) -> None:
    await sign_up(db, None, 1)
    async with db.transaction() as session:
        broken = await session.execute(
            "INSERT INTO outbox (user_id, category, payload, not_before, created_at)"
            " VALUES (1, 'direct', '{\"text\": \"\"}', '2000-01-01', '2000-01-01')"
        )
        claimed, routed = await outbox.claim(session, now=NOON_KST, limit=10, quiet_end=None)
    assert (claimed, routed) == ([], 1)
    assert await statuses(db) == {broken: "failed"}


async def test_recovery_marks_rows_left_in_flight_unknown(db: Database) -> None:
    await sign_up(db, None, 1)
    in_flight = await queue(db, 1, "in flight", NOON_KST)
    waiting = await queue(db, 1, "waiting", NOON_KST)
    async with db.transaction() as session:
        await outbox.claim(session, now=NOON_KST, limit=1, quiet_end=None)
    async with db.transaction() as session:
        assert await outbox.recover(session, NOON_KST) == 1
    assert await statuses(db) == {in_flight: "unknown", waiting: "pending"}


async def test_a_restarting_worker_leaves_other_workers_rows_in_flight(db: Database) -> None:
    await sign_up(db, None, 1)
    theirs = await queue(db, 1, "worker-2 sends this", NOON_KST)
    mine = await queue(db, 1, "worker-1 died sending this", NOON_KST)
    async with db.transaction() as session:
        await outbox.claim(session, now=NOON_KST, limit=1, quiet_end=None, worker="worker-2")
        await outbox.claim(session, now=NOON_KST, limit=1, quiet_end=None, worker="worker-1")
    async with db.transaction() as session:
        assert await outbox.recover(session, NOON_KST, worker="worker-1") == 1
    assert await statuses(db) == {theirs: "claimed", mine: "unknown"}


async def test_the_sender_and_the_start_up_check_use_partial_indexes(db: Database) -> None:
    """The start-up cost must not grow with the rows already delivered."""
    async with db.reading() as session:
        due = await query_plan(
            session,
            "SELECT id FROM outbox WHERE status = 'pending'"
            " AND not_before <= ? ORDER BY not_before, id LIMIT 10",
            ("x",),
        )
        claimed = await query_plan(
            session, "UPDATE outbox SET status = 'unknown' WHERE status = 'claimed'"
        )
    assert "outbox_due" in due
    assert "outbox_claimed" in claimed


async def query_plan(session: Session, sql: str, params: tuple[object, ...] = ()) -> str:
    """The engine's plan for `sql`, as text naming the indexes it uses."""
    if session.dialect == "postgres":  # "Index Scan using outbox_due on outbox", …
        rows = await session.fetchall(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in rows)
    rows = await session.fetchall(f"EXPLAIN QUERY PLAN {sql}", params)
    return "\n".join(row["detail"] for row in rows)


async def test_a_reminder_no_longer_needed_can_be_withdrawn(db: Database) -> None:
    await sign_up(db, None, 1)
    later = NOON_KST + timedelta(days=3)
    waiting = await queue(
        db, 1, "case 7 is due in 3 h", NOON_KST, not_before=later, dedupe_key="c7"
    )
    kept = await queue(db, 1, "case 8 is due in 3 h", NOON_KST, not_before=later, dedupe_key="c8")
    async with db.transaction() as session:
        assert await outbox.cancel(session, ["c7", "c9"]) == 1
        claimed, _ = await outbox.claim(session, now=later, limit=10, quiet_end=None)
    assert [row.id for row in claimed] == [kept]
    assert (await statuses(db))[waiting] == "dropped"


async def test_mydata_shows_and_deleteme_erases_notifications(db: Database) -> None:
    await sign_up(db, None, 1, 2)
    async with db.transaction() as session:
        await NotificationSettingsRepository(session).set_mode(
            1, Category.UPDATES, Mode.OFF, NOON_KST
        )
    await queue(db, 1, "about you", NOON_KST)
    kept = await queue(db, 2, "about someone else", NOON_KST)
    async with db.transaction() as session:
        exported = await export_person(session, 1)
        await erase_person(session, 1)
        modes = await session.scalar("SELECT COUNT(*) FROM notification_settings")
    assert exported["notifications"]["settings"]["updates"] == "off"
    assert [m["payload"] for m in exported["notifications"]["messages"]] == ['{"text":"about you"}']
    assert modes == 0
    assert await statuses(db) == {kept: "pending"}
