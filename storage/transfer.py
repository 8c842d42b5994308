"""Move a whole installation's rows from one database to another (`civicbot migrate-db`).

Engine-neutral: any `Database` to any `Database` (mainly SQLite → PostgreSQL). Both are
migrated to the latest schema first, so they have the same tables and columns; a target
that already holds rows is refused before anything is written. The rows are read from one
snapshot of the source and written in ONE target transaction, so a failure leaves the
target as empty as it was.

Tables are copied parents first. The tables' creation order is not quite that (`outbox`,
created early, later gained `broadcast_id` → `broadcasts`; `proposals.merged_into` points at
another proposal), so the order follows the target's foreign keys, and a reference to rows
not yet copied (a cycle, or a row of the same table) is written as NULL and filled in once
every row is there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from storage.ballotkey import OLD_KEY, OLD_KEY_HELP
from storage.db import Database, Row, Session

BATCH = 1000  # rows per read and per executemany


class TransferError(Exception):
    """The move was refused or cannot be done; nothing was written to the target."""


@dataclass(frozen=True)
class TableShape:
    """What the copy needs to know of one table: how to page it, what it references."""

    name: str
    primary_key: tuple[str, ...]
    references: tuple[tuple[str, str], ...]  # (column, referenced table)
    not_null: frozenset[str]


async def transfer(source: Database, target: Database) -> dict[str, int]:
    """Copy every row of `source` into the empty `target`; returns the rows per table, in
    the order they were copied. Both must be connected; both are migrated first."""
    if source.url == target.url:
        raise TransferError("the source and the target are the same database")
    await target.migrate()
    await source.migrate()
    async with source.reading() as session:
        if await session.scalar("SELECT 1 FROM installation_secrets WHERE name = ?", (OLD_KEY,)):
            # The copy must not carry the ballot key (docs/ballot-secrecy.md).
            raise TransferError(OLD_KEY_HELP)
    tables, present = await source.tables(), await target.tables()
    missing = sorted(set(tables) - set(present))
    if missing:
        raise TransferError(f"the target has no table {', '.join(missing)}")
    counts: dict[str, int] = {}
    # Nothing inside the transaction may use `target` itself: on SQLite its lock is held.
    async with target.transaction() as writer:
        holding = [table for table in present if await _has_rows(writer, table)]
        if holding:
            raise TransferError(
                "the target already holds data (in " + ", ".join(holding) + "); "
                "move into an empty database"
            )
        shapes = {table: await table_shape(writer, table) for table in tables}
        order = copy_order(tables, shapes)
        async with source.reading() as reader:
            later: list[tuple[TableShape, str, list[list[Any]]]] = []
            copied: set[str] = set()
            for table in order:
                shape = shapes[table]
                deferred = [
                    column
                    for column, parent in shape.references
                    if parent in shapes and (parent == table or parent not in copied)
                ]
                for column in deferred:
                    if column in shape.not_null or not shape.primary_key:
                        raise TransferError(
                            f"cannot copy {table}: {table}.{column} references rows copied"
                            " later, and cannot wait for them"
                        )
                key = (await table_shape(reader, table)).primary_key
                counts[table], filled = await _copy_table(reader, writer, shape, key, deferred)
                later.extend((shape, column, filled[column]) for column in deferred)
                copied.add(table)
            for shape, column, fills in later:
                await _fill_in(writer, shape, column, fills)
        if writer.dialect == "postgres":
            await _reset_sequences(writer, order)
    return counts


async def count_rows(db: Database, tables: Iterable[str]) -> dict[str, int]:
    """Rows per table, all counted in one snapshot."""
    async with db.reading() as session:
        return {
            table: int(await session.scalar(f"SELECT COUNT(*) FROM {_quote(table)}"))
            for table in tables
        }


def copy_order(tables: Sequence[str], shapes: dict[str, TableShape]) -> list[str]:
    """`tables` reordered so each comes after the tables it references (a row referencing
    its own table is no constraint); in a cycle, the earliest remaining table goes first."""
    order: list[str] = []
    remaining = list(tables)
    while remaining:
        ready = next(
            (
                table
                for table in remaining
                if all(
                    parent == table or parent in order or parent not in remaining
                    for _, parent in shapes[table].references
                )
            ),
            remaining[0],
        )
        order.append(ready)
        remaining.remove(ready)
    return order


async def table_shape(session: Session, table: str) -> TableShape:
    """Primary key, foreign keys and NOT NULL columns of `table`, from the catalogue."""
    if session.dialect == "sqlite":
        columns = await session.fetchall(
            'SELECT name, pk, "notnull" FROM pragma_table_info(?)', (table,)
        )
        primary = sorted((row["pk"], row["name"]) for row in columns if row["pk"])
        references = await session.fetchall(
            'SELECT "from", "table" FROM pragma_foreign_key_list(?)', (table,)
        )
        return TableShape(
            name=table,
            primary_key=tuple(name for _, name in primary),
            references=tuple((row[0], row[1].lower()) for row in references),
            not_null=frozenset(row["name"] for row in columns if row["notnull"]),
        )
    keys = await session.fetchall(
        "SELECT a.attname FROM pg_index i"
        " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        " WHERE i.indrelid = to_regclass(?) AND i.indisprimary"
        " ORDER BY array_position(i.indkey::int2[], a.attnum)",
        (_quote(table),),
    )
    references = await session.fetchall(
        "SELECT a.attname, p.relname FROM pg_constraint c"
        " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)"
        " JOIN pg_class p ON p.oid = c.confrelid"
        " WHERE c.contype = 'f' AND c.conrelid = to_regclass(?)",
        (_quote(table),),
    )
    not_null = await session.fetchall(
        "SELECT attname FROM pg_attribute"
        " WHERE attrelid = to_regclass(?) AND attnum > 0 AND attnotnull AND NOT attisdropped",
        (_quote(table),),
    )
    return TableShape(
        name=table,
        primary_key=tuple(row[0] for row in keys),
        references=tuple((row[0], row[1]) for row in references),
        not_null=frozenset(row[0] for row in not_null),
    )


async def _has_rows(session: Session, table: str) -> bool:
    return await session.scalar(f"SELECT 1 FROM {_quote(table)} LIMIT 1") is not None


async def _copy_table(
    reader: Session, writer: Session, shape: TableShape, key: tuple[str, ...], deferred: list[str]
) -> tuple[int, dict[str, list[list[Any]]]]:
    """Insert every row of one table, `deferred` columns as NULL; returns the row count and,
    per deferred column, [value, *primary key] of the rows to fill in afterwards."""
    count = 0
    fills: dict[str, list[list[Any]]] = {column: [] for column in deferred}
    insert = ""
    columns: list[str] = []
    async for rows in _pages(reader, shape.name, key):
        if not insert:
            columns = list(rows[0].keys())
            insert = (
                f"INSERT INTO {_quote(shape.name)} ({', '.join(map(_quote, columns))})"
                f" VALUES ({', '.join('?' * len(columns))})"
            )
        values = []
        for row in rows:
            for column in deferred:
                if row[column] is not None:
                    fills[column].append([row[column], *(row[k] for k in shape.primary_key)])
            values.append([None if c in deferred else row[c] for c in columns])
        await writer.executemany(insert, values)
        count += len(rows)
    return count, fills


async def _pages(reader: Session, table: str, key: tuple[str, ...]) -> AsyncIterator[list[Row]]:
    """The rows of `table` in batches: by primary key (keyset paging), or all at once for a
    table without one."""
    if not key:
        rows = await reader.fetchall(f"SELECT * FROM {_quote(table)}")
        for start in range(0, len(rows), BATCH):
            yield rows[start : start + BATCH]
        return
    columns = ", ".join(map(_quote, key))
    first = f"SELECT * FROM {_quote(table)} ORDER BY {columns} LIMIT ?"
    after = (
        f"SELECT * FROM {_quote(table)} WHERE ({columns}) > ({', '.join('?' * len(key))})"
        f" ORDER BY {columns} LIMIT ?"
    )
    rows = await reader.fetchall(first, (BATCH,))
    while rows:
        yield rows
        if len(rows) < BATCH:
            return
        last = [rows[-1][column] for column in key]
        rows = await reader.fetchall(after, (*last, BATCH))


async def _fill_in(writer: Session, shape: TableShape, column: str, fills: list[list[Any]]) -> None:
    where = " AND ".join(f"{_quote(k)} = ?" for k in shape.primary_key)
    for start in range(0, len(fills), BATCH):
        await writer.executemany(
            f"UPDATE {_quote(shape.name)} SET {_quote(column)} = ? WHERE {where}",
            fills[start : start + BATCH],
        )


async def _reset_sequences(writer: Session, tables: Iterable[str]) -> None:
    """PostgreSQL: each serial id continues after the largest id copied."""
    serial = {
        row[0]
        for row in await writer.fetchall(
            "SELECT table_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND column_name = 'id'"
            " AND column_default LIKE 'nextval%'"
        )
    }
    for table in tables:
        if table in serial:
            await writer.fetchone(
                "SELECT setval(pg_get_serial_sequence(?, 'id'), COALESCE(MAX(id), 0) + 1, false)"
                f" FROM {_quote(table)}",
                (_quote(table),),
            )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
