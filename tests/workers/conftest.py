"""Two connections to one database, as two bot processes have (PostgreSQL only)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.db import Database, open_database


@pytest.fixture
async def two_processes(database_url: str) -> AsyncIterator[tuple[Database, Database]]:
    """Two connections to one database, as two bot processes have."""
    first, second = open_database(database_url), open_database(database_url)
    if not first.shared:
        pytest.skip("an SQLite file serves one bot process; nothing to share")
    await first.connect()
    await first.migrate()
    await second.connect()
    yield first, second
    await first.close()
    await second.close()
