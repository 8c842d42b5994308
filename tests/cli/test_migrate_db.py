"""`civicbot migrate-db`: a whole installation moved from SQLite to PostgreSQL (or any engine
to any engine), ids, Korean text and floats intact; refused into a database with data."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.cli import main
from bot.config import Settings
from bot.services import admin as admin_service
from bot.services import broadcasts as broadcasts_service
from bot.services import panels as panels_service
from bot.services import proposals as proposals_service
from bot.services import voting as voting_service
from bot.services import waste as waste_service
from domain.broadcasts import Audience, Segment
from domain.notifications import Category, Mode
from domain.proposals import Scope, Status
from domain.roles import Role
from storage import transfer as transfer_module
from storage.ballotkey import BallotKey, attach
from storage.db import Database, Row, SqliteDatabase, open_database
from storage.notifications import NotificationSettingsRepository
from storage.proposals import ProposalsRepository
from storage.ptbstate import PtbStateRepository
from storage.roles import RolesRepository
from storage.transfer import copy_order, count_rows, table_shape, transfer
from tests.conftest import TEST_BALLOT_KEY, postgres_unreachable, scratch_database
from tests.harness import running_harness, said
from tests.proposals.conftest import IN_PB_CALL, seed_programmes, sign_up
from tests.voting.conftest import AFTER_VOTE, DURING_VOTE, ballot_file
from tests.waste.conftest import NOW as WASTE_NOW
from tests.waste.conftest import draft as waste_draft

CIVICBOT = str(Path(sys.executable).with_name("civicbot"))
ADMIN, AUTHOR, OTHER_AUTHOR, REPORTER = 9000, 1, 2, 3
SUPPORTERS = (4, 5, 6)
ADMINS = frozenset({ADMIN})
TITLE = "한강공원 그늘막 설치"
SEOUL_CITY_HALL = (37.566535, 126.9779692)


@dataclass(frozen=True)
class Installation:
    first: int  # merged into `second`: a reference to a row copied after it
    second: int
    report: int
    broadcast: int


async def build_installation(db: Database) -> Installation:
    """A bot's database as use leaves it: people, proposals with supports, a merge, a
    waste report, votes, a broadcast's outbox rows, roles, settings, PTB state."""
    await seed_programmes(db)
    await sign_up(db, ADMIN, AUTHOR, OTHER_AUTHOR, REPORTER, *SUPPORTERS)
    async with db.transaction() as session:
        await RolesRepository(session).grant(4, Role.MODERATOR, IN_PB_CALL, granted_by=ADMIN)
        await NotificationSettingsRepository(session).set_mode(
            5, Category.UPDATES, Mode.DIGEST, IN_PB_CALL
        )
        ptb = PtbStateRepository(session)
        await ptb.set_conversation("propose", (AUTHOR, AUTHOR), "title")
        await ptb.set_user_data(AUTHOR, {"draft": {"title": "작성 중인 제안"}})
        await session.execute("INSERT INTO ptb_chat_data (chat_id, data) VALUES (?, ?)", (1, "{}"))
        await session.execute("INSERT INTO ptb_bot_data (id, data) VALUES (1, ?)", ('{"n": 1}',))

    def proposal(title: str) -> proposals_service.Draft:
        return proposals_service.Draft(
            programme_key="democracy-seoul",
            title=title,
            description="여름마다 그늘이 없어 시민들이 더위에 지칩니다. 그늘막을 놓아 주세요.",
            field="parks",
            scope=Scope.DISTRICT,
            districts=("mapo",),
            latitude=SEOUL_CITY_HALL[0],
            longitude=SEOUL_CITY_HALL[1],
        )

    first = (
        await proposals_service.submit(db, AUTHOR, proposal(TITLE), IN_PB_CALL, 14)
    ).proposal_id
    second = (
        await proposals_service.submit(db, OTHER_AUTHOR, proposal("그늘막 확대"), IN_PB_CALL, 14)
    ).proposal_id
    assert first is not None and second is not None
    for supporter in SUPPORTERS:
        outcome = await proposals_service.support(db, second, supporter, IN_PB_CALL)
        assert outcome is proposals_service.Outcome.DONE
    await proposals_service.set_following(db, second, AUTHOR, True)
    outcome = await proposals_service.comment(db, second, 4, "좋은 제안입니다 👍", None, IN_PB_CALL)
    assert outcome is proposals_service.Outcome.DONE
    reported = await proposals_service.report(db, "proposal", second, 6, IN_PB_CALL)
    assert reported[0] is proposals_service.Outcome.DONE
    # The older proposal is merged into the newer: proposals.merged_into points forward.
    merge = proposals_service.ReviewAction(Status.MERGED, note="중복", merged_into=second)
    outcome = await proposals_service.review(db, first, ADMIN, merge, IN_PB_CALL, ADMINS)
    assert outcome is proposals_service.Outcome.DONE

    submitted = await waste_service.submit(
        db,
        REPORTER,
        waste_draft(latitude=SEOUL_CITY_HALL[0], longitude=SEOUL_CITY_HALL[1]),
        WASTE_NOW,
    )
    assert submitted.report is not None

    headings = await voting_service.import_ballot(db, ballot_file)
    for voter in (AUTHOR, *SUPPORTERS):
        cast = await voting_service.cast(db, voter, headings[0][0], ["a", "c"], DURING_VOTE, 14)
        assert cast.refusal is None
    assert await voting_service.mix_ballots(db) == 4  # as the bot's periodic mix does
    await voting_service.cast(db, AUTHOR, headings[0][0], ["b"], DURING_VOTE, 14)  # sealed
    tallied = await voting_service.run_tally(db, headings[0][0], None, AFTER_VOTE)
    assert tallied.online == 4
    refusal, code = await panels_service.issue_code(db, ADMIN, "1기 예산학교", IN_PB_CALL, ADMINS)
    assert refusal is None and code is not None
    blocked = await admin_service.block_posting(db, ADMIN, 6, "도배", IN_PB_CALL, ADMINS)
    assert blocked is admin_service.Result.DONE

    # Outbox rows made before `broadcasts` existed reference it: outbox.broadcast_id.
    broadcast = await broadcasts_service.create_draft(
        db,
        ADMIN,
        {"ko": "시민 여러분, 안녕하세요", "en": "Hello"},
        None,
        None,
        Audience(segment=Segment.EVERYONE),
        IN_PB_CALL,
        ADMINS,
    )
    assert broadcast is not None
    confirmed = await broadcasts_service.confirm(db, ADMIN, broadcast.id, IN_PB_CALL, ADMINS, "ko")
    assert confirmed.result is broadcasts_service.Result.DONE
    return Installation(first, second, submitted.report.id, broadcast.id)


@pytest.fixture
async def old_sqlite(tmp_path: Path) -> tuple[str, Installation]:
    db = SqliteDatabase(tmp_path / "old.sqlite3")
    await db.connect()
    await db.migrate()
    await attach(db, BallotKey.from_text(TEST_BALLOT_KEY))
    made = await build_installation(db)
    await db.close()
    return db.url, made


@pytest.fixture
def needs_postgres() -> None:
    # A plain fixture: the probe runs its own event loop.
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)


@pytest.fixture
async def postgres_target(needs_postgres: None, tmp_path: Path) -> AsyncIterator[str]:
    async with scratch_database("postgres", tmp_path / "unused.sqlite3") as url:
        yield url


def civicbot(*args: str) -> subprocess.CompletedProcess[str]:
    # DATABASE_URL is not what migrate-db reads: an unusable one proves it.
    env = {**os.environ, "DATABASE_URL": "mysql://not-used"}
    return subprocess.run(
        [CIVICBOT, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


async def contents(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every application table's rows as column → value, in a stable order."""
    db = open_database(url)
    await db.connect()
    try:
        found = {}
        for table in await db.tables():
            async with db.reading() as session:
                rows = await session.fetchall(f"SELECT * FROM {table}")
            found[table] = sorted((_as_dict(row) for row in rows), key=repr)
        return found
    finally:
        await db.close()


async def test_sqlite_installation_moves_to_postgresql(
    old_sqlite: tuple[str, Installation], postgres_target: str
) -> None:
    source, made = old_sqlite
    done = await asyncio.to_thread(
        civicbot, "migrate-db", "--from", source, "--to", postgres_target
    )
    assert done.returncode == 0, done.stderr
    print(done.stdout)
    before, after = await contents(source), await contents(postgres_target)
    assert list(after) == list(before)  # same tables
    counts = {table: len(rows) for table, rows in before.items()}
    for table, count in counts.items():
        assert f"  {table} " in done.stdout and done.stdout.count(f" {count}\n") >= 1
    assert f"Total: {sum(counts.values())} rows in {len(counts)} tables." in done.stdout
    assert "Row counts match on both sides." in done.stdout
    for table in ("people", "proposals", "supports", "waste_reports", "ballots", "outbox",
                  "broadcasts", "ptb_conversations", "ptb_user_data", "audit_log",
                  "ballot_box", "ballot_receipts"):  # fmt: skip
        assert counts[table] > 0, table
    # The ballot key is not in the database, so not in the copy: its fingerprint only.
    assert TEST_BALLOT_KEY not in repr(after)
    assert "ballot-key-fingerprint" in repr(after["installation_secrets"])
    # Every row, every value: ids kept, Korean text intact, floats exact.
    assert after == before

    connection = await asyncpg.connect(_dsn(postgres_target))
    try:
        await connection.execute(f"SET search_path = {_schema(postgres_target)}")
        first = await connection.fetchrow(
            "SELECT title, latitude, longitude, merged_into FROM proposals WHERE id = $1",
            made.first,
        )
        assert dict(first) == {
            "title": TITLE,
            "latitude": SEOUL_CITY_HALL[0],
            "longitude": SEOUL_CITY_HALL[1],
            "merged_into": made.second,
        }
        linked = await connection.fetchval(
            "SELECT COUNT(*) FROM outbox WHERE broadcast_id = $1", made.broadcast
        )
        assert linked == len(before["people"])  # one row per person signed up
        weights = await connection.fetch("SELECT DISTINCT weight FROM ballots")
        assert [row[0] for row in weights] == [1.0]
    finally:
        await connection.close()

    # New rows on PostgreSQL continue after the copied ids (the sequences were reset).
    db = open_database(postgres_target)
    await db.connect()
    try:
        draft = proposals_service.Draft(
            programme_key="democracy-seoul",
            title="이전 후 첫 제안",
            description="PostgreSQL로 옮긴 뒤에 올린 제안입니다.",
            field="parks",
            scope=Scope.CITY,
            districts=(),
        )
        new = (await proposals_service.submit(db, 5, draft, IN_PB_CALL, 14)).proposal_id
        assert new == made.second + 1
        async with db.transaction() as session:
            audit_id = await session.execute(
                "INSERT INTO audit_log (at, action, details) VALUES (?, ?, ?)",
                ("2027-02-10T03:00:00.000000Z", "test", "{}"),
            )
            assert audit_id == max(row["id"] for row in before["audit_log"]) + 1
            for table, rows in before.items():
                if rows and "id" in rows[0] and table != "ptb_bot_data":
                    next_id = await session.scalar(
                        "SELECT nextval(pg_get_serial_sequence(?, 'id'))", (table,)
                    )
                    assert next_id > max(row["id"] for row in rows), table
        async with db.reading() as session:
            moved = await ProposalsRepository(session).get(made.first)
        assert moved is not None
        assert (moved.title, moved.status, moved.merged_into) == (TITLE, Status.MERGED, made.second)
    finally:
        await db.close()


async def test_second_move_into_the_same_database_is_refused(
    old_sqlite: tuple[str, Installation], postgres_target: str
) -> None:
    source, _ = old_sqlite
    first = await asyncio.to_thread(
        civicbot, "migrate-db", "--from", source, "--to", postgres_target
    )
    assert first.returncode == 0, first.stderr
    moved = await contents(postgres_target)
    again = await asyncio.to_thread(
        civicbot, "migrate-db", "--from", source, "--to", postgres_target
    )
    assert again.returncode == 2
    assert again.stderr.startswith("civicbot: the target already holds data (in people, ")
    assert "nothing was moved" in again.stderr
    assert "Total:" not in again.stdout
    assert await contents(postgres_target) == moved


async def test_a_failed_move_leaves_the_target_empty(
    old_sqlite: tuple[str, Installation], postgres_target: str
) -> None:
    source, made = old_sqlite
    # SQLite keeps what it is given; PostgreSQL refuses text in a BIGINT column. The last
    # table to be copied fails, after every other row was written in the same transaction.
    with sqlite3.connect(source.removeprefix("sqlite:///")) as connection:
        connection.execute("UPDATE broadcasts SET total = 'many' WHERE id = ?", (made.broadcast,))
    done = await asyncio.to_thread(
        civicbot, "migrate-db", "--from", source, "--to", postgres_target
    )
    assert done.returncode == 2
    assert done.stderr.startswith("civicbot: the move failed, no rows were written: ")
    assert all(rows == [] for rows in (await contents(postgres_target)).values())


async def test_the_bot_runs_on_the_moved_database(
    old_sqlite: tuple[str, Installation], postgres_target: str
) -> None:
    source, _ = old_sqlite
    done = await asyncio.to_thread(
        civicbot, "migrate-db", "--from", source, "--to", postgres_target
    )
    assert done.returncode == 0, done.stderr
    settings = Settings(
        _env_file=None,
        telegram_bot_token="123456:LOCAL-TEST-TOKEN",
        database_url=postgres_target,
        admin_ids="9000",
        send_rate=10_000,
    )
    async with running_harness(settings) as h:
        h.set_now(IN_PB_CALL)
        # They were writing a proposal when the database moved: the flow is still there.
        assert "제안 제목" in said(await h.say(AUTHOR, "/my"))
        await h.say(AUTHOR, "/cancel")
        assert TITLE in said(await h.say(AUTHOR, "/my"))
        # The person is known: no consent screen, no sign-up again.
        assert "그늘막 확대" in said(await h.say(OTHER_AUTHOR, "/my"))


async def test_sqlite_to_sqlite_and_refusals_without_a_server(
    old_sqlite: tuple[str, Installation], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Any engine to any engine; in-process (`main` in a thread, as it runs its own loop)."""
    source, _ = old_sqlite

    async def move(source: str, target: str) -> tuple[int, str, str]:
        code = await asyncio.to_thread(main, ["migrate-db", "--from", source, "--to", target])
        out, err = capsys.readouterr()
        return code, out, err

    target = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    code, out, err = await move(source, target)
    assert (code, err) == (0, "")
    assert "Row counts match on both sides." in out
    assert await contents(target) == await contents(source)

    code, out, err = await move(source, target)
    assert code == 2 and err.startswith("civicbot: the target already holds data (in people, ")
    code, _, err = await move(f"sqlite:///{tmp_path / 'typo.sqlite3'}", target)
    assert code == 2 and "no SQLite database at" in err
    assert not (tmp_path / "typo.sqlite3").exists()
    code, _, err = await move(source, source)
    assert code == 2 and "the source and the target are the same database" in err
    code, _, err = await move(source, "mysql://x")
    assert code == 2 and "Unsupported DATABASE_URL" in err


async def test_round_trip_through_postgresql_in_small_batches(
    old_sqlite: tuple[str, Installation],
    postgres_target: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SQLite → PostgreSQL → SQLite with two rows per batch: keyset paging over single and
    composite primary keys on both engines, and the forward references filled in after."""
    monkeypatch.setattr(transfer_module, "BATCH", 2)
    source, _ = old_sqlite
    back = f"sqlite:///{tmp_path / 'back.sqlite3'}"
    for start, end in ((source, postgres_target), (postgres_target, back)):
        from_db, to_db = open_database(start), open_database(end)
        await from_db.connect()
        await to_db.connect()
        try:
            counts = await transfer(from_db, to_db)
            assert counts == await count_rows(to_db, counts) == await count_rows(from_db, counts)
        finally:
            await from_db.close()
            await to_db.close()
    assert await contents(back) == await contents(source)


async def test_copy_order_puts_referenced_tables_first(db: Database) -> None:
    """Creation order is not enough: outbox (0002) gained a reference to broadcasts (0008)."""
    tables = await db.tables()
    assert tables.index("outbox") < tables.index("broadcasts")
    async with db.reading() as session:
        shapes = {table: await table_shape(session, table) for table in tables}
    order = copy_order(tables, shapes)
    assert sorted(order) == sorted(tables)
    assert order.index("broadcasts") < order.index("outbox")
    for table in order:
        for _, parent in shapes[table].references:
            assert parent == table or order.index(parent) < order.index(table), (table, parent)
    proposals = shapes["proposals"]
    assert ("merged_into", "proposals") in proposals.references
    assert proposals.primary_key == ("id",)
    assert "merged_into" not in proposals.not_null and "title" in proposals.not_null
    assert shapes["supports"].primary_key == ("proposal_id", "user_id")


def _as_dict(row: Row) -> dict[str, Any]:
    columns = list(row.keys())  # iterating a row gives its values, not its column names
    return {column: row[column] for column in columns}


def _dsn(url: str) -> str:
    return url.split("?", 1)[0]


def _schema(url: str) -> str:
    return url.rsplit("search_path=", 1)[1]
