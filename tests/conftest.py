"""Shared fixtures: a settings object on a temporary database, and a bot on a fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from storage.db import Database
from tests.harness import Harness, running_harness


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        telegram_bot_token="123456:LOCAL-TEST-TOKEN",
        database_url=f"sqlite:///{tmp_path / 'civicbot.sqlite3'}",
        admin_ids="9000",
        send_rate=10_000,
    )


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(tmp_path / "storage.sqlite3")
    await database.connect()
    await database.migrate()
    yield database
    await database.close()


@pytest.fixture
async def harness(settings: Settings) -> AsyncIterator[Harness]:
    async with running_harness(settings) as h:
        yield h
