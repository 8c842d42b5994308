"""Shared fixtures: a settings object on a scratch database, and a bot on a fake Bot API.

Every test that asks for `database_url`, `settings`, `db` or `harness` runs twice: on SQLite
and on PostgreSQL (the server at CIVICBOT_TEST_POSTGRES, by default the local server's `test`
database). Without a reachable server the PostgreSQL runs are skipped, each with the reason.
`@pytest.mark.sqlite_only("why")` keeps a test about SQLite itself to SQLite.

An empty PostgreSQL database is a new schema in that database. A migrated one (`db`,
`settings`) is a copy of a template database migrated once per run: copying takes a tenth of
the time of migrating (where the server lets us create databases; else a migrated schema).
"""

from __future__ import annotations

import asyncio
import os
import uuid
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from bot.config import Settings
from storage.ballotkey import BallotKey, attach
from storage.db import Database, open_database
from tests.harness import Harness, running_harness

POSTGRES_URL = os.environ.get("CIVICBOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
# A ballot key for every test and every process a test starts (docs/ballot-secrecy.md):
# settings, the CLI and `civicbot run` read BALLOT_KEY. Tests of a missing or wrong key
# remove or change it themselves.
TEST_BALLOT_KEY = "7e57" * 16
os.environ.setdefault("BALLOT_KEY", TEST_BALLOT_KEY)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only(reason): the test is about SQLite itself; no PostgreSQL run"
    )


@cache
def postgres_unreachable() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""

    async def probe() -> None:
        connection = await asyncpg.connect(POSTGRES_URL, timeout=5)
        await connection.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"PostgreSQL not reachable at {POSTGRES_URL} ({error!r})"
    return None


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> str:
    engine: str = request.param
    if engine == "postgres":
        reason = postgres_unreachable()
        if reason:
            pytest.skip(reason)
        marker = request.node.get_closest_marker("sqlite_only")
        if marker is not None:
            pytest.skip(f"SQLite only: {marker.args[0] if marker.args else ''}")
    return engine


TEMPLATE = f"civicbot_template_{os.getpid()}"
_template: dict[str, str | None] = {}


def _database_url(name: str) -> str:
    parts = urlsplit(POSTGRES_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def migrated_template() -> str | None:
    """The template database's name, made and migrated on first use; None if the server
    does not let us create databases."""
    if "name" not in _template:
        admin = await asyncpg.connect(POSTGRES_URL)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
            await admin.execute(f"CREATE DATABASE {TEMPLATE}")
        except asyncpg.InsufficientPrivilegeError as error:
            warnings.warn(f"PostgreSQL tests migrate each database: {error}", stacklevel=1)
            _template["name"] = None
        else:
            template = open_database(_database_url(TEMPLATE))
            await template.connect()
            await template.migrate()
            await template.close()
            _template["name"] = TEMPLATE
        finally:
            await admin.close()
    return _template["name"]


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _template.get("name"):

        async def drop() -> None:
            admin = await asyncpg.connect(POSTGRES_URL)
            await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
            await admin.close()

        asyncio.run(drop())


@asynccontextmanager
async def scratch_database(
    engine: str, sqlite_file: Path, migrated: bool = False
) -> AsyncIterator[str]:
    """The URL of an empty database (a new file, or a new PostgreSQL schema), dropped after;
    `migrated`: one at the latest schema, if that is quicker to make."""
    if engine == "sqlite":
        yield f"sqlite:///{sqlite_file}"
        return
    template = await migrated_template() if migrated else None
    if template is not None:
        name = f"t_{uuid.uuid4().hex[:16]}"
        admin = await asyncpg.connect(POSTGRES_URL)
        try:
            await admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
            yield _database_url(name)
        finally:
            await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
            await admin.close()
        return
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
        separator = "&" if "?" in POSTGRES_URL else "?"
        yield f"{POSTGRES_URL}{separator}search_path={schema}"
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


async def fetch_rows(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """What a query reads from the database at `url` (for instance one a `civicbot`
    process wrote), as tuples, through the engine the bot itself uses."""
    database = open_database(url)
    await database.connect()
    try:
        async with database.reading() as session:
            return [tuple(row) for row in await session.fetchall(sql, params)]
    finally:
        await database.close()


@pytest.fixture
async def database_url(engine: str, tmp_path: Path) -> AsyncIterator[str]:
    async with scratch_database(engine, tmp_path / "civicbot.sqlite3") as url:
        yield url


@pytest.fixture
async def settings(engine: str, tmp_path: Path) -> AsyncIterator[Settings]:
    async with scratch_database(engine, tmp_path / "civicbot.sqlite3", migrated=True) as url:
        yield Settings(
            _env_file=None,
            telegram_bot_token="123456:LOCAL-TEST-TOKEN",
            database_url=url,
            admin_ids="9000",
            send_rate=10_000,
            ballot_key=TEST_BALLOT_KEY,
        )


@pytest.fixture
async def db(engine: str, tmp_path: Path) -> AsyncIterator[Database]:
    async with scratch_database(engine, tmp_path / "storage.sqlite3", migrated=True) as url:
        database = open_database(url)
        await database.connect()
        await database.migrate()
        await attach(database, BallotKey.from_text(TEST_BALLOT_KEY))
        yield database
        await database.close()


@pytest.fixture
async def harness(settings: Settings) -> AsyncIterator[Harness]:
    async with running_harness(settings) as h:
        yield h
