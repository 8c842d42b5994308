"""`civicbot run --webhook`: updates arrive by HTTP POST with the secret-token header
(SPEC §10; the first step of issue 10)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from bot.localapi.core import LocalBotApi
from bot.localapi.server import LocalBotApiServer
from tests.load.cluster import free_port, webhook_environment

CIVICBOT = str(Path(sys.executable).with_name("civicbot"))
SECRET = "s3cret_token-1"


async def test_updates_by_webhook_need_the_secret(database_url: str, tmp_path: Path) -> None:
    api = LocalBotApi()
    server = LocalBotApiServer(api)
    await server.start()
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    env = webhook_environment(server, database_url, SECRET)
    process = await asyncio.create_subprocess_exec(
        CIVICBOT, "run", "--webhook", url, "--listen", "127.0.0.1", "--port", str(port),
        env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await api.wait_until(lambda: api.webhook_url == url, timeout=30)
        await api.wait_until(lambda: ('{"type": "default"}', "ko") in api.commands, timeout=30)
        api.send_text(77, "/help")
        update = api.pending_update_ids()[-1]
        body = next(u for u in api._updates if u["update_id"] == update)
        async with httpx.AsyncClient() as client:
            refused = await client.post(url, json=body)
            assert refused.status_code == 403
            await asyncio.sleep(0.5)
            assert api.bot_messages(77) == []  # nothing handled without the secret
            accepted = await client.post(
                url, json=body, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
            )
            assert accepted.status_code == 200
        await api.wait_until(lambda: len(api.bot_messages(77)) == 1, timeout=10)
        assert "이곳에서 할 수 있는 일" in api.bot_messages(77)[0]["text"]
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), timeout=30)
        await server.stop()


async def test_webhook_mode_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "WEBHOOK_SECRET"}
    env["TELEGRAM_BOT_TOKEN"] = "1:x"
    process = await asyncio.create_subprocess_exec(
        CIVICBOT, "run", "--webhook", "https://bot.example.org/telegram",
        env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 2
    assert b"WEBHOOK_SECRET" in err


async def test_several_workers_refuse_an_sqlite_database(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(
        TELEGRAM_BOT_TOKEN="1:x",
        WEBHOOK_SECRET=SECRET,
        DATABASE_URL=f"sqlite:///{tmp_path / 'bot.sqlite3'}",
    )
    process = await asyncio.create_subprocess_exec(
        CIVICBOT, "run", "--webhook", "https://bot.example.org/telegram", "--workers", "3",
        env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 2
    assert b"DATABASE_URL=postgresql://" in err and b"migrate-db" in err
    assert not (tmp_path / "bot.sqlite3").exists()  # refused before touching anything
