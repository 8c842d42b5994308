"""Storage engines behind one interface: units of work, consistent reads, migrations.

SQLite (the default) is one long-lived connection behind an asyncio lock; PostgreSQL
(`DATABASE_URL=postgresql://…`) is an asyncpg pool shared with other bot processes. The
repositories write one SQL text with `?` placeholders; the PostgreSQL session numbers them.

On SQLite write transactions run one at a time (BEGIN IMMEDIATE). On PostgreSQL they run
side by side at READ COMMITTED: a repository whose write depends on what it read takes the
lock that keeps that read true (`Session.lock`, a transaction-scoped advisory lock per kind
and id: a proposal, a ballot heading, …), or lets a unique constraint or a single UPDATE do
the work; each such place says which invariant it protects.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import sys
import time
import zlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from storage.ballotkey import BallotKey

Params = Sequence[Any]
Dialect = Literal["sqlite", "postgres"]


class Row(Protocol):
    """A result row, by position or by column name (sqlite3.Row and asyncpg.Record)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> Iterable[str]: ...

    def __iter__(self) -> Iterator[Any]: ...


# Advisory locks (pg_advisory_*) are two int4s: the first names the purpose, within this
# installation's schema (installations sharing a database must not block each other).
TASK_LOCKS = "task"  # periodic work that one process at a time should do
# What a repository locks to keep a read-check-write correct (`Session.lock`): each kind is
# one lock space, its key the id of the thing.
LOCK_KINDS = ("proposal", "heading", "panel", "person", "report", "broadcast", "counter")

# Run by every write transaction before it commits, in the same transaction, when set in
# the caller's context: the durable intake marks the update being handled as applied.
WRITE_HOOK: ContextVar[Callable[[Session], Awaitable[None]] | None] = ContextVar(
    "civicbot_write_hook", default=None
)


_PEOPLE_WRITE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+people\b", re.IGNORECASE)
_CHANGES_PEOPLE: dict[str, bool] = {}


def changes_people(sql: str) -> bool:
    """Does the statement write the `people` table? (Learnt once per SQL text.)"""
    found = _CHANGES_PEOPLE.get(sql)
    if found is None:
        found = _CHANGES_PEOPLE[sql] = _PEOPLE_WRITE.search(sql) is not None
    return found


class Session(ABC):
    """SQL access inside one unit of work (or one consistent read)."""

    dialect: Dialect
    scope = ""  # which database: what a process keeps in memory is kept per database
    # The ballot key (outside the database: storage/ballotkey.py), from the Database.
    ballot_key: BallotKey | None = None
    # Whether a statement wrote a person's row: an update's copy of its person (read with the
    # update) stays true across writes that did not (bot/intake.py).
    wrote_people = False

    def _counted(self, sql: str) -> None:
        """Every statement: counted (`USAGE`), and noted if it writes a person's row."""
        USAGE.statements += 1
        if changes_people(sql):
            self.wrote_people = True

    @abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; returns the new row id for an INSERT, else the rows changed."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...

    @abstractmethod
    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...

    @abstractmethod
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def scalar(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def lock(self, kind: str, key: int) -> None:
        """Hold until this unit of work ends: writers of the same `kind` and `key` wait for
        each other. Take it before the read whose answer the write depends on. SQLite needs
        none (its writers are one at a time); PostgreSQL takes a transaction-scoped
        advisory lock."""
        return None


class Usage:
    """Running counts of what a process asks of its database (for benchmarks and logs)."""

    __slots__ = (
        "held_by_kind",
        "lock_held",
        "lock_wait",
        "locks",
        "longest_call",
        "reads",
        "statements",
        "writes",
    )

    def __init__(self) -> None:
        self.statements = 0
        self.reads = 0  # read-only units
        self.writes = 0  # write transactions
        self.longest_call = 0.0  # seconds: the longest SQLite call made on the event loop
        self.locks = 0  # `Session.lock`s taken (PostgreSQL)
        self.lock_wait = 0.0  # seconds spent waiting for them
        self.lock_held = 0.0  # seconds from taking the first to the unit of work's end
        self.held_by_kind: dict[str, float] = {}  # the same, by the first lock's kind

    def summary(self) -> str:
        return (
            f"{self.statements} statements, {self.reads} reads, {self.writes} writes,"
            f" {self.locks} locks (waited {self.lock_wait:.3f} s, held {self.lock_held:.3f} s),"
            f" longest SQLite call {self.longest_call * 1000:.2f} ms; held by kind:"
            + "".join(f" {kind} {held:.3f} s" for kind, held in sorted(self.held_by_kind.items()))
        )

    def snapshot(self) -> tuple[int, int, int]:
        return self.statements, self.reads, self.writes


USAGE = Usage()


def is_conflict(error: BaseException) -> bool:
    """A write refused by a unique constraint, on either engine: the race the constraint
    exists for was lost, and the unit of work may be redone without that write."""
    if isinstance(error, sqlite3.IntegrityError):
        return "UNIQUE" in str(error)
    asyncpg = sys.modules.get("asyncpg")  # imported only by the PostgreSQL engine
    return asyncpg is not None and isinstance(error, asyncpg.UniqueViolationError)


class Database(ABC):
    """One storage engine. Open it with `open_database(url)`."""

    url: str
    dialect: Dialect
    # Whether other processes may use the same database at the same time (PostgreSQL):
    # then per-person state is read from the database for every update, not from memory.
    shared: bool = False
    # Set by whoever opened the database with the settings (bot/ballots.py: attach); every
    # session carries it for the ballot repository.
    ballot_key: BallotKey | None = None

    @abstractmethod
    async def connect(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def transaction(self) -> Any:
        """`async with db.transaction() as session`: COMMIT at the end, ROLLBACK on error."""

    @abstractmethod
    def reading(self) -> Any:
        """`async with db.reading() as session`: one snapshot for every statement inside."""

    @asynccontextmanager
    async def exclusively(self, task: str) -> AsyncIterator[bool]:
        """Yields True in the one process that may do `task` now, False elsewhere."""
        yield True

    @abstractmethod
    async def vacuum(self, tables: Sequence[str]) -> None:
        """Rewrite `tables` (SQLite: the whole file) so deleted rows are gone from disk."""

    async def listen(self, channel: str, wake: Callable[[], None]) -> Callable[[], Awaitable[None]]:
        """Call `wake` when another process notifies `channel`; returns how to stop."""

        async def stop() -> None:
            return None

        return stop

    async def notify(self, session: Session, channel: str) -> None:
        """Wake the processes listening on `channel` once `session` commits."""
        return None

    @abstractmethod
    async def migrate(self) -> list[int]:
        """Apply the numbered migrations not yet applied; returns their numbers."""

    @abstractmethod
    async def tables(self) -> list[str]:
        """The application's tables, in creation order (storage/transfer.py orders them by
        foreign keys: a later migration may add a reference to a newer table)."""


# ----------------------------------------------------------------------------- SQLite
# SQLite runs on the event loop, without a thread hop per call: our statements take
# microseconds (an index lookup, a short write), and in WAL mode with synchronous=NORMAL a
# COMMIT does not wait for the disk (only a checkpoint does). A thread per call, as
# aiosqlite does, cost more than the SQL itself (issue 22: 3-5 hops per statement, 43 % of
# the bot's CPU). What could block the loop is waited for asynchronously instead: another
# process's write lock (busy_timeout is 0; BEGIN IMMEDIATE is retried) and VACUUM INTO
# (run in a thread). `USAGE.longest_call` records the longest call, for the benchmarks.
BUSY_RETRY = 0.005  # seconds between tries while another process holds the write lock
BUSY_TIMEOUT = 5.0  # seconds before giving up, as busy_timeout=5000 did


class SqliteSession(Session):
    dialect: Dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection, scope: str = "") -> None:
        self._connection = connection
        self.scope = scope

    async def execute(self, sql: str, params: Params = ()) -> int:
        self._counted(sql)
        with _timed():
            cursor = self._connection.execute(sql, params)
            try:
                if _is_insert(sql):
                    return cursor.lastrowid or 0
                return cursor.rowcount
            finally:
                cursor.close()

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        self._counted(sql)
        with _timed():
            self._connection.executemany(sql, rows).close()

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        self._counted(sql)
        with _timed():
            cursor = self._connection.execute(sql, params)
            try:
                row: sqlite3.Row | None = cursor.fetchone()
                return row
            finally:
                cursor.close()

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        self._counted(sql)
        with _timed():
            return list(self._connection.execute(sql, params).fetchall())


@contextmanager
def _timed() -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        USAGE.longest_call = max(USAGE.longest_call, time.perf_counter() - started)


class SqliteDatabase(Database):
    """One long-lived connection; all access goes through an asyncio lock, since a
    transaction must not see another coroutine's half-done statements."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self._connection: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        if self.path.parent and str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves (see `transaction`).
        # check_same_thread=False: VACUUM INTO runs in a thread (under our lock).
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA busy_timeout=0")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA synchronous=NORMAL")
        # Deleted rows (sealed ballots once mixed, a removed key) are overwritten, not left
        # in the file's free pages.
        connection.execute("PRAGMA secure_delete=ON")
        self._connection = connection

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    @property
    def connection(self) -> sqlite3.Connection:
        if self._connection is None:
            raise RuntimeError("Database.connect() was not called")
        return self._connection

    async def _begin(self, statement: str) -> None:
        """BEGIN, waiting (without blocking the loop) while another process writes."""
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            try:
                with _timed():
                    self.connection.execute(statement)
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(BUSY_RETRY)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        # IMMEDIATE takes the write lock up front, so two processes never both read, then
        # both try to upgrade to writing and one fails half-way.
        async with self._lock:
            USAGE.writes += 1
            await self._begin("BEGIN IMMEDIATE")
            try:
                session = SqliteSession(self.connection, self.url)
                session.ballot_key = self.ballot_key
                yield session
                hook = WRITE_HOOK.get()
                if hook is not None:
                    await hook(session)
            except BaseException:
                if self.connection.in_transaction:
                    self.connection.execute("ROLLBACK")
                raise
            else:
                with _timed():
                    self.connection.execute("COMMIT")

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Session]:
        async with self._lock:
            USAGE.reads += 1
            await self._begin("BEGIN")
            try:
                session = SqliteSession(self.connection, self.url)
                session.ballot_key = self.ballot_key
                yield session
            finally:
                if self.connection.in_transaction:
                    self.connection.execute("COMMIT")

    async def migrate(self) -> list[int]:
        async with self.transaction() as session:
            await session.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
            )
            return await _apply_migrations(session, lambda sql: sql)

    async def tables(self) -> list[str]:
        async with self.reading() as session:
            rows = await session.fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' AND name != 'schema_migrations' ORDER BY rowid"
            )
        return [row[0] for row in rows]

    async def vacuum(self, tables: Sequence[str]) -> None:
        """Rebuild the file so deleted rows leave nothing in its free pages, nor in the WAL."""
        async with self._lock:
            await asyncio.to_thread(self.connection.execute, "VACUUM")
            self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def backup(self, target: Path) -> None:
        """A consistent online copy, safe while the bot keeps writing."""
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise FileExistsError(f"{target} already exists")
        async with self._lock:
            await asyncio.to_thread(self.connection.execute, "VACUUM INTO ?", (str(target),))


# ------------------------------------------------------------------------- PostgreSQL
class PostgresSession(Session):
    dialect: Dialect = "postgres"

    def __init__(self, connection: Any, database: PostgresDatabase) -> None:
        self._connection = connection
        self._database = database
        self.scope = database.url
        self.locked_at: float | None = None
        self.locked_kind = ""

    async def execute(self, sql: str, params: Params = ()) -> int:
        self._counted(sql)
        statement = self._database.translate(sql)
        args = await self._arguments(statement, params)
        if statement.returns_id:
            new_id = await self._connection.fetchval(statement.sql, *args)
            return int(new_id or 0)
        status: str = await self._connection.execute(statement.sql, *args)
        # "INSERT 0 1", "UPDATE 3", "DELETE 0", "CREATE TABLE"
        last = status.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        self._counted(sql)
        statement = self._database.translate(sql)
        arguments = [await self._arguments(statement, row) for row in rows]
        if arguments:
            await self._connection.executemany(statement.sql, arguments)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        self._counted(sql)
        statement = self._database.translate(sql)
        args = await self._arguments(statement, params)
        row: Row | None = await self._connection.fetchrow(statement.sql, *args)
        return row

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        self._counted(sql)
        statement = self._database.translate(sql)
        args = await self._arguments(statement, params)
        return list(await self._connection.fetch(statement.sql, *args))

    async def lock(self, kind: str, key: int) -> None:
        space = self._database._lock_space[kind]
        started = time.perf_counter()
        await self._connection.execute("SELECT pg_advisory_xact_lock($1, $2)", space, _int32(key))
        USAGE.lock_wait += time.perf_counter() - started
        USAGE.locks += 1
        if self.locked_at is None:
            self.locked_at = time.perf_counter()
            self.locked_kind = kind

    async def _arguments(self, statement: Statement, params: Params) -> list[Any]:
        """SQLite takes any value for any column; asyncpg wants each parameter's own type,
        so values are converted to the types PostgreSQL inferred (learnt once per SQL)."""
        if not params:
            return []
        converters = _CONVERTERS_BY_SQL.get(statement.sql)
        if converters is None:
            prepared = await self._connection.prepare(statement.sql)
            converters = tuple(
                _CONVERTERS.get(parameter.name, _same) for parameter in prepared.get_parameters()
            )
            _CONVERTERS_BY_SQL[statement.sql] = converters
        return [convert(value) for convert, value in zip(converters, params, strict=True)]


def _same(value: Any) -> Any:
    return value


def _to_bool(value: Any) -> Any:
    return value if value is None or isinstance(value, bool) else bool(value)


def _to_int(value: Any) -> Any:
    if isinstance(value, bool | float) or (isinstance(value, str) and value.lstrip("-").isdigit()):
        return int(value)
    return value


def _to_float(value: Any) -> Any:
    return float(value) if isinstance(value, int) else value


def _to_text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return str(int(value)) if isinstance(value, bool) else str(value)


_CONVERTERS = {
    "bool": _to_bool,
    "int2": _to_int,
    "int4": _to_int,
    "int8": _to_int,
    "float4": _to_float,
    "float8": _to_float,
    "numeric": _to_float,
    "text": _to_text,
    "varchar": _to_text,
}


# The parameter types of a statement depend only on its text and the schema, which every
# installation at the same migration shares (no migration changes a column's type): learnt
# once per process.
_CONVERTERS_BY_SQL: dict[str, tuple[Any, ...]] = {}


def _decode_numeric(text: str) -> int | float:
    # SUM over BIGINT is NUMERIC in PostgreSQL; SQLite gives an int, and so do we.
    return int(text) if text.lstrip("-").isdigit() else float(text)


class Statement:
    __slots__ = ("returns_id", "sql")

    def __init__(self, sql: str, returns_id: bool) -> None:
        self.sql = sql
        self.returns_id = returns_id


class PostgresDatabase(Database):
    """An asyncpg pool. Other bot processes may share the database (`shared`)."""

    dialect: Dialect = "postgres"
    shared = True

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.url = url
        self.pool_size = pool_size
        self._pool: Any = None
        self._statements: dict[str, Statement] = {}
        self._tables_with_ids: set[str] = set()
        self._lock_space: dict[str, int] = {}

    async def connect(self) -> None:
        import asyncpg

        self._pool = await asyncpg.create_pool(
            _asyncpg_dsn(self.url), min_size=1, max_size=self.pool_size, init=_init_connection
        )
        await self._learn_schema()

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> Any:
        if self._pool is None:
            raise RuntimeError("Database.connect() was not called")
        return self._pool

    def translate(self, sql: str) -> Statement:
        """`?` → `$n`; an INSERT into a table with a serial id returns the id, as SQLite's
        lastrowid does."""
        cached = self._statements.get(sql)
        if cached is not None:
            return cached
        text = _number_placeholders(sql)
        table = _insert_table(sql)
        returns_id = (
            table is not None and table in self._tables_with_ids and "RETURNING" not in sql.upper()
        )
        if returns_id:
            text += " RETURNING id"
        statement = Statement(text, returns_id)
        self._statements[sql] = statement
        return statement

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        USAGE.writes += 1
        # READ COMMITTED; what a read-check-write needs, it locks (`Session.lock`).
        async with self.pool.acquire() as connection:
            session = PostgresSession(connection, self)
            session.ballot_key = self.ballot_key
            try:
                async with connection.transaction():
                    yield session
                    hook = WRITE_HOOK.get()
                    if hook is not None:
                        await hook(session)
            finally:
                if session.locked_at is not None:
                    held = time.perf_counter() - session.locked_at
                    USAGE.lock_held += held
                    kinds = USAGE.held_by_kind
                    kinds[session.locked_kind] = kinds.get(session.locked_kind, 0.0) + held

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Session]:
        USAGE.reads += 1
        async with (
            self.pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            session = PostgresSession(connection, self)
            session.ballot_key = self.ballot_key
            yield session

    async def listen(self, channel: str, wake: Callable[[], None]) -> Callable[[], Awaitable[None]]:
        import asyncpg

        connection = await asyncpg.connect(_asyncpg_dsn(self.url))
        name = self._channel(channel)

        def on_notice(*_: Any) -> None:
            wake()

        await connection.add_listener(name, on_notice)

        async def stop() -> None:
            await connection.close()

        return stop

    async def notify(self, session: Session, channel: str) -> None:
        await session.execute("SELECT pg_notify(?, '')", (self._channel(channel),))

    def _channel(self, channel: str) -> str:
        # Installations sharing a database (one schema each) must not wake each other.
        return f"civicbot_{self._lock_space[TASK_LOCKS] & 0xFFFFFFFF:x}_{channel}"

    async def vacuum(self, tables: Sequence[str]) -> None:
        # VACUUM FULL writes each table anew: dead row versions go with the old file.
        async with self.pool.acquire() as connection:
            for table in tables:
                await connection.execute(f'VACUUM FULL "{table}"')

    @asynccontextmanager
    async def exclusively(self, task: str) -> AsyncIterator[bool]:
        key = _int32(zlib.crc32(task.encode()))
        async with self.pool.acquire() as connection:
            space = self._lock_space[TASK_LOCKS]
            got = await connection.fetchval("SELECT pg_try_advisory_lock($1, $2)", space, key)
            try:
                yield bool(got)
            finally:
                if got:
                    await connection.execute("SELECT pg_advisory_unlock($1, $2)", space, key)

    async def migrate(self) -> list[int]:
        async with self.transaction() as session:
            await session.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version BIGINT PRIMARY KEY, name TEXT NOT NULL,"
                " applied_at TEXT NOT NULL DEFAULT"
                " (to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')))"
            )
            applied = await _apply_migrations(session, postgres_ddl)
        await self._learn_schema()
        return applied

    async def tables(self) -> list[str]:
        # Creation order: the tables' oids.
        async with self.reading() as session:
            rows = await session.fetchall(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind = 'r' AND n.nspname = current_schema()"
                " AND c.relname != 'schema_migrations' ORDER BY c.oid"
            )
        return [row[0] for row in rows]

    async def _learn_schema(self) -> None:
        async with self.pool.acquire() as connection:
            schema = await connection.fetchval("SELECT current_schema()")
            self._lock_space = {
                purpose: _int32(zlib.crc32(f"{schema}/{purpose}".encode()))
                for purpose in (TASK_LOCKS, *LOCK_KINDS)
            }
            rows = await connection.fetch(
                "SELECT table_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND column_name = 'id'"
                " AND column_default LIKE 'nextval%'"
            )
        self._tables_with_ids = {row[0] for row in rows}
        self._statements.clear()


async def _init_connection(connection: Any) -> None:
    await connection.set_type_codec(
        "numeric", encoder=str, decoder=_decode_numeric, schema="pg_catalog", format="text"
    )


def postgres_ddl(sql: str) -> str:
    """Our SQLite DDL in PostgreSQL's words: 64-bit integers (Telegram ids outgrow 32 bits),
    serial ids, double-precision reals, a JSON text's field."""
    sql = re.sub(r"\bid INTEGER PRIMARY KEY\b", "id BIGSERIAL PRIMARY KEY", sql)
    sql = re.sub(r"\bINTEGER\b", "BIGINT", sql)
    sql = re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql)
    sql = re.sub(r"\bjson_extract\(([\w.]+), '\$\.(\w+)'\)", r"(\1::json ->> '\2')", sql)
    return re.sub(r"\)\s*WITHOUT ROWID", ")", sql)


def _int32(value: int) -> int:
    """Advisory lock keys are two int4s: fold a 64-bit id into one."""
    folded = (value ^ (value >> 32)) & 0xFFFFFFFF
    return folded - (1 << 32) if folded >= 1 << 31 else folded


_QUOTED_OR_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|\?")


def _number_placeholders(sql: str) -> str:
    counter = 0

    def number(match: re.Match[str]) -> str:
        nonlocal counter
        if match.group(0) != "?":
            return match.group(0)
        counter += 1
        return f"${counter}"

    return _QUOTED_OR_PLACEHOLDER.sub(number, sql)


_INSERT_INTO = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE)


def _insert_table(sql: str) -> str | None:
    match = _INSERT_INTO.match(sql)
    return match.group(1).lower() if match else None


def _is_insert(sql: str) -> bool:
    return sql.lstrip()[:6].upper() == "INSERT"


def _asyncpg_dsn(url: str) -> str:
    # asyncpg knows postgresql:// and postgres://; SQLAlchemy-style URLs name the driver.
    return re.sub(r"^postgres(?:ql)?\+asyncpg://", "postgresql://", url)


# ------------------------------------------------------------------------- both engines
def open_database(url: str) -> Database:
    """`sqlite:///path/to/file.sqlite3` or `postgresql://user@host:port/dbname`."""
    if url.startswith("sqlite:///"):
        return SqliteDatabase(Path(url[len("sqlite:///") :]))
    if re.match(r"^postgres(?:ql)?(?:\+asyncpg)?://", url):
        return PostgresDatabase(url)
    raise ValueError(
        f"Unsupported DATABASE_URL {url!r}: use sqlite:///PATH or postgresql://USER@HOST/DB"
    )


async def _apply_migrations(session: Session, dialect_ddl: Any) -> list[int]:
    done = {row[0] for row in await session.fetchall("SELECT version FROM schema_migrations")}
    applied = []
    for version, name, sql in available_migrations():
        if version in done:
            continue
        for statement in split_statements(dialect_ddl(sql)):
            await session.execute(statement)
        await session.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name)
        )
        applied.append(version)
    return applied


def available_migrations() -> list[tuple[int, str, str]]:
    """`storage/migrations/NNNN_name.sql`, in number order."""
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name[5:-4], entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [number for number, _, _ in found]
    if len(set(numbers)) != len(numbers):
        raise RuntimeError(f"Two migrations share a number: {numbers}")
    return found


def split_statements(sql: str) -> list[str]:
    """Split a migration script on `;` at line ends (our migrations keep one statement per `;`)."""
    statements, current = [], []
    for line in sql.splitlines():
        if line.strip().startswith("--"):
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            statements.append("\n".join(current).strip().rstrip(";"))
            current = []
    tail = "\n".join(current).strip()
    if tail:
        statements.append(tail)
    return [statement for statement in statements if statement]
