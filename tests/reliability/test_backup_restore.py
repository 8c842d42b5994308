"""`civicbot backup` of a live database under write load, restored and compared (issue 9)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from bot.config import Settings
from bot.services import proposals as service
from domain.proposals import Scope
from tests.harness import running_harness, said
from tests.proposals.conftest import IN_PB_CALL, sign_up

CIVICBOT = str(Path(sys.executable).with_name("civicbot"))


def rows(path: Path, table: str) -> set[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return set(db.execute(f"SELECT * FROM {table}").fetchall())


@pytest.mark.sqlite_only(
    "`civicbot backup` copies a SQLite file (VACUUM INTO); PostgreSQL is backed up with pg_dump"
)
async def test_backup_under_load_restores_to_a_working_bot(
    settings: Settings, tmp_path: Path
) -> None:
    live = Path(settings.database_url.removeprefix("sqlite:///"))
    backup = tmp_path / "backups" / "snapshot.sqlite3"
    async with running_harness(settings) as h:
        h.set_now(IN_PB_CALL)
        await sign_up(h.db, *range(1, 401))
        draft = service.Draft(
            programme_key="democracy-seoul",
            title="백업 시험 제안",
            description="백업하는 동안에도 공감이 계속 들어옵니다.",
            field="parks",
            scope=Scope.CITY,
            districts=(),
        )
        proposal_id = (await service.submit(h.db, 1, draft, IN_PB_CALL, 14)).proposal_id
        assert proposal_id is not None

        async def supporters() -> None:
            for user in range(2, 401):
                await service.support(h.db, proposal_id, user, IN_PB_CALL)

        writing = asyncio.create_task(supporters())
        await asyncio.sleep(0.05)
        env = {**os.environ, "DATABASE_URL": settings.database_url}
        copy = await asyncio.create_subprocess_exec(CIVICBOT, "backup", str(backup), env=env)
        assert await copy.wait() == 0
        await writing

    # The snapshot is consistent: counts match rows, and it is a prefix of what was written.
    with sqlite3.connect(backup) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        count, listed = db.execute(
            "SELECT support_count, (SELECT COUNT(*) FROM supports) FROM proposals"
        ).fetchone()
    assert count == listed
    assert rows(backup, "supports") <= rows(live, "supports")
    assert rows(backup, "people") == rows(live, "people")

    # Restore: the snapshot becomes the database of a new bot, which works.
    restored = tmp_path / "restored.sqlite3"
    shutil.copy(backup, restored)
    again = settings.model_copy(update={"database_url": f"sqlite:///{restored}"})
    async with running_harness(again) as h:
        h.set_now(IN_PB_CALL)
        replies = await h.say(1, "/my")
        assert "백업 시험 제안" in said(replies)
