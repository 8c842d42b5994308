"""One long-lived SQLite connection, units of work, and numbered migrations.

All access goes through an asyncio lock: the connection is shared by every handler, and a
transaction must not see another coroutine's half-done statements.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

Row = sqlite3.Row
Params = Sequence[Any] | dict[str, Any]


class Session:
    """SQL access inside one unit of work (or one consistent read)."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run a statement; returns the new row id for an INSERT, else the rows changed."""
        cursor = await self._connection.execute(sql, params)
        try:
            if sql.lstrip()[:6].upper() == "INSERT":
                return cursor.lastrowid or 0
            return cursor.rowcount
        finally:
            await cursor.close()

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._connection.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        async with self._connection.execute(sql, params) as cursor:
            row: Row | None = await cursor.fetchone()
            return row

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._connection.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def scalar(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        if self.path.parent and str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves (see `transaction`).
        connection = await aiosqlite.connect(self.path, isolation_level=None)
        connection.row_factory = sqlite3.Row
        await connection.execute("PRAGMA journal_mode=WAL")
        await connection.execute("PRAGMA busy_timeout=5000")
        await connection.execute("PRAGMA foreign_keys=ON")
        await connection.execute("PRAGMA synchronous=NORMAL")
        self._connection = connection

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    @property
    def connection(self) -> aiosqlite.Connection:
        if self._connection is None:
            raise RuntimeError("Database.connect() was not called")
        return self._connection

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        """A unit of work: BEGIN IMMEDIATE … COMMIT, or ROLLBACK if anything raises.

        IMMEDIATE takes the write lock up front, so two processes never both read, then
        both try to upgrade to writing and one fails half-way.
        """
        async with self._lock:
            await self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield Session(self.connection)
            except BaseException:
                await self.connection.execute("ROLLBACK")
                raise
            else:
                await self.connection.execute("COMMIT")

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Session]:
        """A consistent read: one snapshot for all statements inside."""
        async with self._lock:
            await self.connection.execute("BEGIN")
            try:
                yield Session(self.connection)
            finally:
                await self.connection.execute("COMMIT")

    async def migrate(self) -> list[int]:
        """Apply the numbered migrations not yet applied; returns their numbers."""
        async with self.transaction() as session:
            await session.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
            )
            done = {
                row[0] for row in await session.fetchall("SELECT version FROM schema_migrations")
            }
            applied = []
            for version, name, sql in available_migrations():
                if version in done:
                    continue
                for statement in split_statements(sql):
                    await session.execute(statement)
                await session.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name)
                )
                applied.append(version)
        return applied

    async def backup(self, target: Path) -> None:
        """A consistent online copy, safe while the bot keeps writing."""
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise FileExistsError(f"{target} already exists")
        async with self._lock:
            await self.connection.execute("VACUUM INTO ?", (str(target),))


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
