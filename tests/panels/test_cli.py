"""`civicbot budget-school --import`, `panel-pool` and `export panels` (SPEC §5, §10)."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest

from bot.cli import main
from bot.services import panels as service
from storage.db import Database
from storage.voting import VotingRepository
from tests.panels.conftest import ADMIN, ADMINS, AFTER_RECRUITMENT, answers, apply_all, seed_panels
from tests.proposals.conftest import sign_up


@pytest.fixture
def on_db(db: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("DATABASE_URL", db.url)
    return db


async def run(*args: str) -> int:
    # The commands run their own event loop, as they do from a shell.
    return await asyncio.to_thread(main, list(args))


async def test_budget_school_import(
    on_db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await sign_up(on_db, 1, 2, 3)
    listing = tmp_path / "graduates.csv"
    listing.write_text("name,telegram_id\n김서울,1\n이한강,2\n박노원,4040\n\n", encoding="utf-8")
    assert await run("budget-school", "--import", str(listing)) == 0
    out = capsys.readouterr().out
    assert "Recorded 2, already recorded 0." in out and "4040" in out
    plain = tmp_path / "ids.txt"
    plain.write_text("2\n3\n", encoding="utf-8")
    assert await run("budget-school", "--import", str(plain)) == 0
    assert "Recorded 1, already recorded 1." in capsys.readouterr().out
    async with on_db.reading() as session:
        voting = VotingRepository(session)
        done = [await voting.completed_budget_school(u) for u in (1, 2, 3, 4040)]
    assert done == [True, True, True, False]  # nothing stored about who never signed up
    broken = tmp_path / "broken.csv"
    broken.write_text("telegram_id\n1\n@seoul\n", encoding="utf-8")
    assert await run("budget-school", "--import", str(broken)) == 2
    assert "broken.csv:3: '@seoul' is not a Telegram user id" in capsys.readouterr().err


async def test_panel_files_and_export_name_no_one(
    on_db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = await seed_panels(on_db)
    users = (11, 12, 13, 21, 22, 23)
    await sign_up(on_db, *users)
    pool, quotas = tmp_path / "pool.csv", tmp_path / "quotas.csv"
    args = ("panel-pool", "--programme", "small-panel", "--pool", str(pool), "--quotas")
    assert await run(*args, str(quotas)) == 2
    assert "no published commitment" in capsys.readouterr().err
    await apply_all(on_db, ids["small-panel"], {u: answers("female") for u in users[:3]})
    await apply_all(on_db, ids["small-panel"], {u: answers("male") for u in users[3:]})
    committed = await service.commit(on_db, ADMIN, ids["small-panel"], AFTER_RECRUITMENT, ADMINS)
    assert committed.refusal is None
    assert await run(*args, str(quotas)) == 0
    assert quotas.read_text().splitlines() == [
        "feature,value,min,max", "gender,female,2,2", "gender,male,2,2",
    ]  # fmt: skip
    assert len(pool.read_text().splitlines()) == 7
    capsys.readouterr()
    assert await run("export", "panels") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 6 and {r["status"] for r in rows} == {"applied"}
    assert not {str(u) for u in users} & {value for r in rows for value in r.values()}
