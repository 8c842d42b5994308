"""What the database subcommands share: open the configured database, run, close."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.config import Settings
from storage.db import Database, open_database

T = TypeVar("T")


def with_db(work: Callable[[Database], Awaitable[T]], migrate: bool = True) -> T:
    """Run `work` on the database of DATABASE_URL (migrated first, unless told not to)."""

    async def go() -> T:
        db = open_database(Settings().database_url)
        await db.connect()
        try:
            if migrate:
                await db.migrate()
            return await work(db)
        finally:
            await db.close()

    return asyncio.run(go())


def fail(message: str) -> int:
    print(f"civicbot: {message}", file=sys.stderr)
    return 2
