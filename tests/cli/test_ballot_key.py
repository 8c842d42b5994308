"""The ballot key outside the database (issue 16): the fingerprint check at start, `civicbot
ballot-key export` for installations that kept it in a table, `ballot-key new`, and the
development key of `civicbot chat`."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.app import build_application
from bot.cli import main
from bot.cli.chat import with_dev_key
from bot.config import Settings
from bot.localapi.core import LocalBotApi
from bot.localapi.request import LocalRequest
from bot.services import voting as service
from domain.voting import pseudonym
from storage.ballotkey import (
    FINGERPRINT,
    NO_KEY_HELP,
    OLD_KEY,
    OLD_KEY_HELP,
    WRONG_KEY_HELP,
    BallotKey,
    BallotKeyProblem,
    attach,
)
from storage.db import Database, SqliteDatabase, open_database
from storage.ptbstate import PtbStateRepository
from storage.transfer import TransferError, transfer
from storage.voting import VotingRepository
from tests.conftest import TEST_BALLOT_KEY, fetch_rows
from tests.proposals.conftest import seed_programmes, sign_up
from tests.voting.conftest import DURING_VOTE, ballot_file

OLD = "ab" * 32  # the key an installation from before 0021 made and kept in a table


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env


async def test_the_bot_refuses_to_start_without_its_own_key(settings: Settings) -> None:
    # The first start with a key records its fingerprint, and only that.
    api = LocalBotApi()
    app = build_application(settings, api.token, request=LocalRequest(api))
    await app.initialize()
    await app.shutdown()
    rows = await fetch_rows(settings.database_url, "SELECT name, value FROM installation_secrets")
    assert rows == [(FINGERPRINT, BallotKey.from_text(TEST_BALLOT_KEY).fingerprint())]
    for key, problem in ((None, NO_KEY_HELP), (SecretStr("cd" * 32), WRONG_KEY_HELP)):
        app = build_application(settings.model_copy(update={"ballot_key": key}), "1:T")
        with pytest.raises(BallotKeyProblem) as refused:
            await app.initialize()
        await app.services.db.close()
        assert str(refused.value) == problem


async def an_old_installation(db: Database) -> int:
    """What the 0021 migration leaves of an installation that kept its key in a table:
    the key row, ballots in voting order, a cast ballot's draft in conversation data."""
    await seed_programmes(db)
    await sign_up(db, 1, 2, 3)
    heading_id, heading = (await service.import_ballot(db, ballot_file))[0]
    async with db.transaction() as session:
        await session.execute("DELETE FROM installation_secrets")
        await session.execute(
            "INSERT INTO installation_secrets (name, value) VALUES (?, ?)", (OLD_KEY, OLD)
        )
        stage_id = (await VotingRepository(session).heading(heading_id) or (0,))[0]
        for user_id, choice in ((1, "a"), (2, "b"), (3, "c")):
            await session.execute(
                "INSERT INTO ballots (id, heading_id, pseudonym, choices) VALUES (?, ?, ?, ?)",
                (user_id, heading_id,
                 pseudonym(bytes.fromhex(OLD), stage_id, heading.key, user_id),
                 json.dumps([choice])),
            )  # fmt: skip
            await session.execute(
                "INSERT INTO voter_roll (heading_id, user_id, first_voted_at, last_voted_at)"
                " VALUES (?, ?, ?, ?)",
                (heading_id, user_id, "2027-07-25T03:00:00Z", "2027-07-25T03:00:00Z"),
            )
        states = PtbStateRepository(session)
        await states.set_user_data(1, {"ballots": {str(heading_id): ["a"]}, "x": 1})
        await states.set_user_data(4, {"ballots": {str(heading_id): ["d"]}})  # not cast
    return heading_id


async def test_export_moves_the_key_out_and_rewrites_what_linked(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("BALLOT_KEY")
    db = open_database(database_url)
    await db.connect()
    await db.migrate()
    heading_id = await an_old_installation(db)
    await db.close()
    # Nothing starts, nor copies the database, while the key is in it.
    app = build_application(Settings(_env_file=None, database_url=database_url), "1:T")
    with pytest.raises(BallotKeyProblem) as refused:
        await app.initialize()
    await app.services.db.close()
    assert str(refused.value) == OLD_KEY_HELP
    exporting = ["export-pabulib", "--programme", "pb-citywide-2027"]
    assert await asyncio.to_thread(main, exporting) == 2
    assert "ballot-key export" in capsys.readouterr().err
    if database_url.startswith("sqlite"):
        target = open_database(f"sqlite:///{tmp_path / 'copy.sqlite3'}")
        source = open_database(database_url)
        await source.connect()
        await target.connect()
        with pytest.raises(TransferError, match="ballot-key export"):
            await transfer(source, target)
        await source.close()
        await target.close()

    key_file = tmp_path / "keys" / "ballot.key"
    assert await asyncio.to_thread(main, ["ballot-key", "export", "--output", str(key_file)]) == 0
    assert key_file.read_text().strip() == OLD
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    secrets_rows = await fetch_rows(database_url, "SELECT name, value FROM installation_secrets")
    assert secrets_rows == [(FINGERPRINT, BallotKey.from_text(OLD).fingerprint())]
    ids = await fetch_rows(database_url, "SELECT id FROM ballots")
    assert len(ids) == 3 and not {row[0] for row in ids} & {1, 2, 3}  # random ids now
    data = await fetch_rows(database_url, "SELECT user_id, data FROM ptb_user_data ORDER BY 1")
    assert [(user, json.loads(text)) for user, text in data] == [
        (1, {"x": 1}),  # the cast ballot's draft is gone
        (4, {"ballots": {str(heading_id): ["d"]}}),  # a draft never cast stays
    ]
    if database_url.startswith("sqlite"):
        raw = Path(database_url.removeprefix("sqlite:///")).read_bytes()
        assert OLD.encode() not in raw  # vacuumed: not in the free pages either

    # With the exported key the bot starts, and an old voter still changes their ballot.
    monkeypatch.setenv("BALLOT_KEY_FILE", str(key_file))
    db = open_database(database_url)
    await db.connect()
    await attach(db, Settings(_env_file=None).ballot_key_value())
    assert await service.current_choices(db, 2, heading_id) == ["b"]
    again = await service.cast(db, 2, heading_id, ["d"], DURING_VOTE, 14)
    assert again.replaced and again.refusal is None
    async with db.reading() as session:
        counts = await VotingRepository(session).counts(heading_id)
    assert counts["online"] == 3
    await db.close()


async def test_a_lost_key_is_replaced_and_cast_ballots_stay_counted(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    db = open_database(database_url)
    await db.connect()
    await db.migrate()
    await attach(db, BallotKey.from_text(TEST_BALLOT_KEY))
    await seed_programmes(db)
    await sign_up(db, 1, 2)
    heading_id = (await service.import_ballot(db, ballot_file))[0][0]
    await service.cast(db, 1, heading_id, ["a"], DURING_VOTE, 14)
    await service.mix_ballots(db)
    await db.close()

    key_file = tmp_path / "new.key"
    monkeypatch.delenv("BALLOT_KEY")
    args = ["ballot-key", "new", "--output", str(key_file), "--replace-lost"]
    assert await asyncio.to_thread(main, args) == 0
    assert await asyncio.to_thread(main, args) == 2  # never overwrites a key file
    db = open_database(database_url)
    await db.connect()
    await attach(db, BallotKey.from_text(key_file.read_text()))
    # Voter 1's ballot counts and can no longer change; voter 2 votes as usual.
    refused = await service.cast(db, 1, heading_id, ["b"], DURING_VOTE, 14)
    assert refused.refusal is service.Refusal.LOCKED
    assert (await service.cast(db, 2, heading_id, ["c"], DURING_VOTE, 14)).refusal is None
    async with db.reading() as session:
        ballots = await VotingRepository(session).ballots(heading_id)
    assert sorted(b.choices for b in ballots) == [("a",), ("c",)]
    await db.close()


@pytest.mark.sqlite_only("`civicbot chat` runs on a local SQLite file")
async def test_chat_makes_a_development_key_beside_its_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BALLOT_KEY")
    path = tmp_path / "chat.sqlite3"
    settings = Settings(_env_file=None, database_url=f"sqlite:///{path}")
    ready = await with_dev_key(settings)
    assert ready.ballot_key_file == tmp_path / "chat.sqlite3.dev-ballot-key"
    assert "DEVELOPMENT BALLOT KEY" in Path(f"{ready.ballot_key_file}.README").read_text()
    key = ready.ballot_key_value()
    assert key is not None
    again = await with_dev_key(settings)
    assert again.ballot_key_value() is not None
    assert again.ballot_key_value().text == key.text  # type: ignore[union-attr]
    # A chat database from before 0021 has its key moved into that file.
    old_path = tmp_path / "old.sqlite3"
    db = SqliteDatabase(old_path)
    await db.connect()
    await db.migrate()
    async with db.transaction() as session:
        await session.execute(
            "INSERT INTO installation_secrets (name, value) VALUES (?, ?)", (OLD_KEY, OLD)
        )
    await db.close()
    moved = await with_dev_key(Settings(_env_file=None, database_url=f"sqlite:///{old_path}"))
    assert moved.ballot_key_value().text == OLD  # type: ignore[union-attr]
