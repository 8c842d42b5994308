"""What the database subcommands share: open the configured database, run, close."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.config import Settings
from storage.ballotkey import attach
from storage.db import Database, open_database

T = TypeVar("T")


def with_db(
    work: Callable[[Database], Awaitable[T]], migrate: bool = True, ballot_key: bool = True
) -> T:
    """Run `work` on the database of DATABASE_URL (migrated first, unless told not to), with
    its ballot key (checked; `ballot_key=False` for commands that manage the key itself)."""

    async def go() -> T:
        settings = Settings()
        db = open_database(settings.database_url)
        await db.connect()
        try:
            if migrate:
                await db.migrate()
            if ballot_key:
                await attach(db, settings.ballot_key_value())
            return await work(db)
        finally:
            await db.close()

    return asyncio.run(go())


def fail(message: str) -> int:
    print(f"civicbot: {message}", file=sys.stderr)
    return 2
