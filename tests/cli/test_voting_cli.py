"""`civicbot import-ballot`, `offline-votes` and `export-pabulib` (SPEC §6, §10)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pabutools.election import parse_pabulib

from bot.cli import main
from bot.services import voting as service
from storage.ballotkey import BallotKey, attach
from storage.db import open_database
from tests.conftest import TEST_BALLOT_KEY
from tests.proposals.conftest import seed_programmes, sign_up
from tests.voting.conftest import BALLOT, DURING_VOTE


@pytest.fixture
def database(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)

    async def prepare() -> None:
        db = open_database(database_url)
        await db.connect()
        await db.migrate()
        await seed_programmes(db)
        await sign_up(db, 1, 2, 3)
        await db.close()

    asyncio.run(prepare())
    return database_url


async def cast_some(database_url: str) -> None:
    db = open_database(database_url)
    await db.connect()
    await attach(db, BallotKey.from_text(TEST_BALLOT_KEY))
    await service.cast(db, 1, 1, ["a", "c"], DURING_VOTE, 14)
    await service.cast(db, 2, 1, ["b"], DURING_VOTE, 14)
    await db.close()


def test_import_offline_and_export(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ballot = tmp_path / "ballot.toml"
    ballot.write_text(BALLOT, encoding="utf-8")
    assert main(["import-ballot", str(ballot)]) == 0
    assert "heading 1: city (4 items)" in capsys.readouterr().out
    asyncio.run(cast_some(database))

    counts = tmp_path / "paper.csv"
    counts.write_text("item,votes\nd,7\n", encoding="utf-8")
    assert main(["offline-votes", "--heading-id", "1", "--counts", str(counts)]) == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("item,votes\nzz,1\n", encoding="utf-8")
    assert main(["offline-votes", "--heading-id", "1", "--counts", str(bad)]) == 2
    assert "not on this ballot: zz" in capsys.readouterr().err
    bad.write_text("item,votes\nd,many\n", encoding="utf-8")
    assert main(["offline-votes", "--heading-id", "1", "--counts", str(bad)]) == 2
    assert "bad.csv:2" in capsys.readouterr().err

    out = tmp_path / "pb"
    assert main(["export-pabulib", "--programme", "pb-citywide-2027", "--output", str(out)]) == 0
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [
        "pb-citywide-2027_citizen-vote_city.pb",
        "pb-citywide-2027_citizen-vote_mapo.pb",
    ]  # the yes/no question is no budget vote
    instance, profile = parse_pabulib(str(files[0]))
    assert instance.budget_limit == 1000
    assert len(profile) == 2 + 7  # two online ballots, seven paper votes for d
    assert {p.name for p in instance} == {"a", "b", "c", "d"}


def test_bad_ballot_files_and_unknown_programmes(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ballot = tmp_path / "ballot.toml"
    ballot.write_text(BALLOT.replace("citizen-vote", "no-such-stage"), encoding="utf-8")
    assert main(["import-ballot", str(ballot)]) == 2
    assert "no stage 'no-such-stage'" in capsys.readouterr().err
    assert main(["export-pabulib", "--programme", "nothing"]) == 2
    assert "no ballots in programme 'nothing'" in capsys.readouterr().err
