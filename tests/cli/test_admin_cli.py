"""`civicbot migrate`, `import-programmes` and `backup`, and configuration."""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings
from bot.services import proposals as service
from domain.proposals import Scope
from storage.db import SqliteDatabase, available_migrations, open_database
from tests.conftest import fetch_rows
from tests.proposals.conftest import IN_PB_CALL, seed_programmes, sign_up


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env, no data/ folder of the project's


@pytest.fixture
def database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """DATABASE_URL for the commands: an empty database on each engine."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


def test_migrate_then_nothing_to_do(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0
    numbers = ", ".join(str(number) for number, _, _ in available_migrations())
    assert f"Applied migrations: {numbers}" in capsys.readouterr().out
    assert main(["migrate"]) == 0
    assert "Up to date." in capsys.readouterr().out


def test_import_programmes(
    database: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = tmp_path / "p.yaml"
    good.write_text(
        "programme:\n  - key: poll\n    kind: poll\n    name: {ko: 설문, en: Poll}\n"
        "    stage:\n      - key: vote\n        name: {ko: 투표, en: Vote}\n"
        "        starts_at: '2027-01-01T00:00:00'\n        actions: [vote]\n",
        encoding="utf-8",
    )
    assert main(["import-programmes", str(good)]) == 0
    assert "poll: 설문 (1 stages)" in capsys.readouterr().out
    assert asyncio.run(fetch_rows(database, "SELECT key FROM programmes")) == [("poll",)]

    bad = tmp_path / "bad.toml"
    bad.write_text('[[programme]]\nkey = "x"\n', encoding="utf-8")
    assert main(["import-programmes", str(bad)]) == 2
    assert "bad.toml" in capsys.readouterr().err
    assert main(["import-programmes", str(tmp_path / "missing.toml")]) == 2


@pytest.mark.sqlite_only("`civicbot backup` copies the SQLite file (VACUUM INTO)")
def test_backup_writes_a_copy_and_refuses_to_overwrite(
    database: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["migrate"]) == 0
    target = tmp_path / "backups" / "b.sqlite3"
    assert main(["backup", str(target)]) == 0
    with sqlite3.connect(target) as copy:
        (count,) = copy.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()
    assert count == len(available_migrations())
    assert main(["backup", str(target)]) == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
def test_backup_refuses_postgresql_and_names_pg_dump(
    database: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "backups" / "b.sqlite3"
    assert main(["backup", str(target)]) == 2
    assert "pg_dump" in capsys.readouterr().err
    assert not target.exists() and not target.parent.exists()


def test_settings_from_environment_and_dotenv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        "TELEGRAM_BOT_TOKEN=1:abc\nADMIN_IDS=10, 20\nTIMEZONE=Asia/Seoul\n", encoding="utf-8"
    )
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:8081/bot{token}")
    settings = Settings()
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value() == "1:abc"
    assert settings.admin_ids == frozenset({10, 20})
    assert settings.telegram_api_base_url == "http://127.0.0.1:8081/bot{token}"
    assert settings.telegram_api_file_url == "https://api.telegram.org/file/bot{token}"
    assert settings.default_language == "ko"


def test_default_database_is_sqlite_under_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    database = open_database(Settings(_env_file=None).database_url)
    assert isinstance(database, SqliteDatabase)
    assert database.path == Path("data/civicbot.sqlite3")


def test_bad_settings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValueError):
        Settings(_env_file=None)
    monkeypatch.setenv("TIMEZONE", "Asia/Seoul")
    monkeypatch.setenv("DATABASE_URL", "mysql://x")
    with pytest.raises(ValueError, match="Unsupported DATABASE_URL"):
        open_database(Settings(_env_file=None).database_url)


def test_export_proposals_as_csv(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def prepare() -> None:
        db = open_database(database)
        await db.connect()
        await db.migrate()
        await seed_programmes(db)
        await sign_up(db, 1, 2)
        draft = service.Draft(
            programme_key="democracy-seoul",
            title='쉼표, 따옴표 " 가 든 제목',
            description="내보내기 시험용 제안입니다.",
            field="parks",
            scope=Scope.DISTRICT,
            districts=("mapo",),
        )
        result = await service.submit(db, 1, draft, IN_PB_CALL, 14)
        assert result.proposal_id is not None
        await service.support(db, result.proposal_id, 2, IN_PB_CALL)
        await db.close()

    asyncio.run(prepare())
    assert main(["export", "proposals"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 1
    assert rows[0]["title"] == '쉼표, 따옴표 " 가 든 제목'
    assert (rows[0]["status"], rows[0]["supports"], rows[0]["districts"]) == (
        "published",
        "1",
        "mapo",
    )
    assert "author" not in rows[0]  # no personal data in the export
    target = tmp_path / "proposals.csv"
    assert main(["export", "proposals", "--output", str(target)]) == 0
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads Korean right
