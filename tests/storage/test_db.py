"""Storage on both engines: units of work, migrations; SQLite's pragmas, locks and backup."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage.db import (
    Database,
    available_migrations,
    changes_people,
    open_database,
    split_statements,
)
from storage.people import PeopleRepository

NOW = datetime(2027, 3, 6, 6, 5, tzinfo=UTC)


@pytest.mark.sqlite_only("SQLite pragmas")
async def test_connection_uses_wal_and_foreign_keys_and_never_blocks_in_sqlite(
    db: Database,
) -> None:
    async with db.reading() as session:
        assert await session.scalar("PRAGMA journal_mode") == "wal"
        assert await session.scalar("PRAGMA synchronous") == 1  # NORMAL: no fsync per commit
        # SQLite runs on the event loop: it must not sleep there waiting for a lock.
        assert await session.scalar("PRAGMA busy_timeout") == 0
        assert await session.scalar("PRAGMA foreign_keys") == 1


@pytest.mark.sqlite_only("SQLite's file lock")
async def test_a_write_waits_for_another_process_without_blocking_the_loop(db: Database) -> None:
    other = sqlite3.connect(db.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    async def release() -> None:
        await asyncio.sleep(0.2)
        other.execute("INSERT INTO audit_log (at, action) VALUES ('t', 'other')")
        other.execute("COMMIT")

    running = asyncio.create_task(ticker())
    releasing = asyncio.create_task(release())
    try:
        async with db.transaction() as session:
            await session.execute("INSERT INTO audit_log (at, action) VALUES ('t', 'ours')")
    finally:
        running.cancel()
        await releasing
        other.close()
    assert ticks > 20  # the loop kept running while our BEGIN IMMEDIATE waited
    async with db.reading() as session:
        actions = [r[0] for r in await session.fetchall("SELECT action FROM audit_log")]
    assert actions == ["other", "ours"]


async def test_migrations_are_numbered_recorded_and_applied_once(database_url: str) -> None:
    database = open_database(database_url)
    await database.connect()
    try:
        first = await database.migrate()
        assert first == [number for number, _, _ in available_migrations()]
        assert await database.migrate() == []
        async with database.reading() as session:
            rows = await session.fetchall(
                "SELECT version, name FROM schema_migrations ORDER BY version"
            )
        assert next((r["version"], r["name"]) for r in rows) == (1, "foundation")
    finally:
        await database.close()


def test_statement_splitting_skips_comments() -> None:
    sql = "-- a comment; with a semicolon\nCREATE TABLE a (x INT);\nCREATE TABLE b (\n y INT\n);"
    assert split_statements(sql) == ["CREATE TABLE a (x INT)", "CREATE TABLE b (\n y INT\n)"]


async def test_a_failing_unit_of_work_leaves_nothing_behind(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await PeopleRepository(session).consent(1, "ko", NOW)
            raise RuntimeError("half-way")
    async with db.reading() as session:
        assert await PeopleRepository(session).get(1) is None


async def test_units_of_work_holding_one_lock_do_not_interleave(db: Database) -> None:
    """What a read-check-write needs (`Session.lock`): same kind and key, one at a time."""

    async def bump(user_id: int) -> None:
        async with db.transaction() as session:
            await session.lock("counter", 1)
            await PeopleRepository(session).consent(user_id, "ko", NOW)
            count = await session.scalar("SELECT COUNT(*) FROM people")
            await asyncio.sleep(0)  # let the others try to run in between
            await session.execute(
                "INSERT INTO audit_log (at, action, details) VALUES (?, 'count', ?)",
                ("now", str(count)),
            )

    await asyncio.gather(*(bump(user_id) for user_id in range(1, 51)))
    async with db.reading() as session:
        counts = [int(r[0]) for r in await session.fetchall("SELECT details FROM audit_log")]
    assert sorted(counts) == list(range(1, 51))  # each saw exactly the rows before it


@pytest.mark.sqlite_only("SQLite's file lock")
async def test_begin_immediate_makes_a_second_process_wait(db: Database) -> None:
    other = sqlite3.connect(db.path, timeout=0.1, isolation_level=None)
    try:
        async with db.transaction() as session:
            await session.execute("INSERT INTO audit_log (at, action) VALUES ('t', 'a')")
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()


async def test_people_repository_returns_models_and_refuses_unknown_fields(db: Database) -> None:
    async with db.transaction() as session:
        people = PeopleRepository(session)
        await people.consent(7, "en", NOW)
        person = await people.update(7, NOW, relation="student", district="guro")
        with pytest.raises(ValueError):
            await people.update(7, NOW, phone_hmac="x")
    assert person is not None
    assert person.model_dump()["district"] == "guro"
    assert person.consented_at == NOW


@pytest.mark.sqlite_only("VACUUM INTO; PostgreSQL uses pg_dump")
async def test_backup_is_a_consistent_copy_under_writes(db: Database, tmp_path: Path) -> None:
    async with db.transaction() as session:
        for user_id in range(100):
            await PeopleRepository(session).consent(user_id, "ko", NOW)

    stop = asyncio.Event()

    async def keep_writing() -> None:
        user_id = 1000
        while not stop.is_set():
            async with db.transaction() as session:
                await PeopleRepository(session).consent(user_id, "ko", NOW)
            user_id += 1
            await asyncio.sleep(0)

    writer = asyncio.create_task(keep_writing())
    await asyncio.sleep(0.05)
    target = tmp_path / "copy" / "backup.sqlite3"
    await db.backup(target)
    stop.set()
    await writer

    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        copied = {row[0] for row in copy.execute("SELECT user_id FROM people")}
    assert set(range(100)) <= copied
    # Whatever writes made it in form a prefix: no gap, so no half-applied state.
    extra = sorted(copied - set(range(100)))
    assert extra == list(range(1000, 1000 + len(extra)))
    with pytest.raises(FileExistsError):
        await db.backup(target)


def test_which_statements_change_a_persons_row() -> None:
    assert changes_people("UPDATE people SET language = ? WHERE user_id = ?")
    assert changes_people("insert into people (user_id) values (?)")
    assert changes_people("DELETE FROM people WHERE user_id = ?")
    assert not changes_people("SELECT * FROM people WHERE user_id = ?")
    assert not changes_people("UPDATE people_names SET name = ? WHERE user_id = ?")
    assert not changes_people(
        "INSERT INTO supports (proposal_id, user_id) SELECT ?, user_id FROM people"
    )
