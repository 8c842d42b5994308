"""`civicbot chat`: the bot in a terminal, with no token and no Telegram (SPEC §10)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from storage.db import open_database

CIVICBOT = str(Path(sys.executable).with_name("civicbot"))


def chat(tmp_path: Path, database_url: str, script: str, *args: str) -> str:
    env = {key: value for key, value in os.environ.items() if key != "TELEGRAM_BOT_TOKEN"}
    env["DATABASE_URL"] = database_url
    result = subprocess.run(
        [CIVICBOT, "chat", *args],
        input=script,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_newcomer_signs_up_by_numbers_and_text(tmp_path: Path, database_url: str) -> None:
    # #1 = 동의합니다, #1 = 서울에 살아요, a typed district, then the 참여 사업 menu button.
    out = chat(tmp_path, database_url, "#1\n#1\n마포구\n참여 사업\n")
    assert "buttons: [#1] 동의합니다  [#2] 동의하지 않습니다  [#3] English" in out
    assert "bot #2 (edited): " in out and "서울과 어떤 관계이신가요?" in out  # in place
    assert ": 자치구: 마포구" in out
    assert "keyboard: [#1] 도움말  [#2] 메뉴  [#3] 제안하기" in out  # the persistent main menu
    assert "참여 사업 (서울 시각 기준)" in out
    assert "<b>" not in out  # HTML is rendered as plain text


def test_state_survives_between_chat_sessions(tmp_path: Path, database_url: str) -> None:
    chat(tmp_path, database_url, "#1\n")
    out = chat(tmp_path, database_url, "", "--language", "en")
    # The consent is stored (in Korean, chosen then): the next question is the relation.
    assert "Do you agree?" not in out
    assert ": 서울과 어떤 관계이신가요?" in out


def test_fresh_uses_a_throwaway_database(tmp_path: Path, database_url: str) -> None:
    out = chat(tmp_path, database_url, ":location 37.56 126.97\n", "--fresh", "--language", "en")
    assert "Do you agree?" in out

    async def tables() -> list[str]:
        database = open_database(database_url)
        await database.connect()
        try:
            return await database.tables()
        finally:
            await database.close()

    assert asyncio.run(tables()) == []  # DATABASE_URL's database was not even set up


def test_the_clock_can_be_set_to_try_a_stage(tmp_path: Path, database_url: str) -> None:
    # --at starts the bot's clock in the PB proposal call; :at moves it on to the vote.
    out = chat(tmp_path, database_url, "#1\n:at 2027-07-25T12:00\n", "--at", "2027-02-10T12:00")
    assert "2027년 2월 10일 (수) 오후 12:00에 개인정보 수집·이용에 동의" in out
    assert "(the bot's clock now reads 2027-07-25 03:00 UTC)" in out


def test_the_demo_is_not_loaded_without_demo(tmp_path: Path, database_url: str) -> None:
    out = chat(tmp_path, database_url, "#2\n/programmes\n", "--fresh")
    assert "민주주의 서울 시민제안" in out
    assert "[데모]" not in out and "DEMO" not in out
    assert "civicbot chat --demo (make demo)" in out  # the first screen says how to try it


def test_an_admin_sends_a_programme_file(tmp_path: Path, database_url: str) -> None:
    """':file PATH' sends a document, as an official sends a programme file to the bot."""
    example = Path(__file__).resolve().parents[2] / "examples" / "programmes.toml"
    script = f"#1\n#1\n마포구\n:file {example}\n#1\n"  # signed up first, as anyone
    out = chat(tmp_path, database_url, script, "--as-admin")
    assert "새 참여 사업: 2027 서울시가 묻습니다: 자전거 전용도로" in out
    assert "[#1] 저장하기  [#2] 취소" in out
    assert "저장했어요." in out
