"""`civicbot migrate-db --from URL --to URL`: move a whole installation to another database."""

from __future__ import annotations

import argparse
import asyncio
import re
from pathlib import Path
from typing import Any

from bot.cli.common import fail
from storage.db import Database, SqliteDatabase, open_database
from storage.transfer import TransferError, count_rows, transfer


def register(commands: argparse._SubParsersAction[Any]) -> None:
    parser = commands.add_parser(
        "migrate-db",
        help="move every row from one database to another (e.g. SQLite to PostgreSQL)",
        description="Copy every table of the --from database into the empty --to database, "
        "in one transaction: on any failure the target keeps no rows. Both are migrated to "
        "the latest schema first. Stop the bot first: rows written to the source during "
        "the move are not copied (the counts check then fails). DATABASE_URL is not used.",
    )
    parser.add_argument(
        "--from", dest="source", required=True, metavar="URL", help="e.g. sqlite:///old.sqlite3"
    )
    parser.add_argument(
        "--to", dest="target", required=True, metavar="URL", help="e.g. postgresql://user@host/db"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        source, target = open_database(args.source), open_database(args.target)
    except ValueError as error:
        return fail(str(error))
    if isinstance(source, SqliteDatabase) and not Path(source.path).is_file():
        return fail(f"no SQLite database at {source.path}")
    return asyncio.run(move(source, target))


async def move(source: Database, target: Database) -> int:
    print(f"Moving {shown(source.url)} → {shown(target.url)}")
    opened: list[Database] = []
    try:
        for db in (source, target):
            try:
                await db.connect()
            except Exception as error:
                return fail(f"cannot open {shown(db.url)}: {error}")
            opened.append(db)
        try:
            counts = await transfer(source, target)
        except TransferError as error:
            return fail(f"{error}; nothing was moved")
        except Exception as error:
            return fail(f"the move failed, no rows were written: {type(error).__name__}: {error}")
        width = max((len(table) for table in counts), default=0)
        for table, count in counts.items():
            print(f"  {table:<{width}}  {count:>9}")
        print(f"Total: {sum(counts.values())} rows in {len(counts)} tables.")
        before, after = await count_rows(source, counts), await count_rows(target, counts)
        differ = [t for t in counts if not counts[t] == before[t] == after[t]]
        if differ:
            for t in differ:
                fail(f"{t}: copied {counts[t]}, source {before[t]}, target {after[t]}")
            return fail("row counts differ after the move (was the bot still writing?)")
        print("Row counts match on both sides.")
        return 0
    finally:
        for db in opened:
            await db.close()


def shown(url: str) -> str:
    """The URL without its password, if it has one."""
    return re.sub(r"^([a-z+]+://[^:/@]*):[^@/]*@", r"\1:***@", url)
