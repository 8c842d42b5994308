"""`civicbot run` as a separate process against a local HTTP Bot API (SPEC §10, §11)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.localapi.core import LocalBotApi
from bot.localapi.server import LocalBotApiServer
from tests.conftest import fetch_rows

CIVICBOT = str(Path(sys.executable).with_name("civicbot"))
ALICE = 4242


def button(api: LocalBotApi, user_id: int, label: str) -> tuple[int, str]:
    for message in reversed(api.bot_messages(user_id)):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for b in row:
                if b["text"] == label:
                    return message["message_id"], b["callback_data"]
    raise AssertionError(f"no button {label!r}:\n{api.transcript(user_id)}")


@pytest.fixture
async def server() -> AsyncIterator[LocalBotApiServer]:
    api = LocalBotApi()
    srv = LocalBotApiServer(api)
    await srv.start()
    yield srv
    await srv.stop()


def bot_env(srv: LocalBotApiServer, database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        TELEGRAM_BOT_TOKEN=srv.api.token,
        TELEGRAM_API_BASE_URL=srv.base_url,
        TELEGRAM_API_FILE_URL=srv.file_url,
        DATABASE_URL=database_url,
        WEB_PORT="0",  # the web pages on any free port: tests run side by side
    )
    return env


async def test_new_user_onboards_against_the_real_process(
    server: LocalBotApiServer, database_url: str, tmp_path: Path
) -> None:
    api = server.api
    process = await asyncio.create_subprocess_exec(
        CIVICBOT, "run", env=bot_env(server, database_url), cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        # The bot publishes its command menu once it is up.
        await api.wait_until(lambda: ('{"type": "default"}', "ko") in api.commands, timeout=30)

        api.send_text(ALICE, "/start")
        await api.wait_until(lambda: len(api.bot_messages(ALICE)) == 1, timeout=10)
        api.press(ALICE, *button(api, ALICE, "동의합니다"))
        await api.wait_until(lambda: "서울과 어떤 관계" in api.transcript(ALICE), timeout=10)
        api.press(ALICE, *button(api, ALICE, "서울에 살아요"))
        await api.wait_until(lambda: "어느 자치구" in api.transcript(ALICE), timeout=10)
        api.send_text(ALICE, "송파구")
        await api.wait_until(lambda: "가입을 마쳤어요" in api.transcript(ALICE), timeout=10)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, output.decode()

    rows = await fetch_rows(
        database_url, "SELECT relation, district, language FROM people WHERE user_id = ?", (ALICE,)
    )
    assert rows == [("resident", "songpa", "ko")]


async def test_run_without_a_token_says_how_to_set_one(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "TELEGRAM_BOT_TOKEN"}
    process = await asyncio.create_subprocess_exec(
        CIVICBOT, "run", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 2
    message = err.decode()
    assert "@BotFather" in message and "TELEGRAM_BOT_TOKEN" in message
