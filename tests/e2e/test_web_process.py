"""The web side served by the real processes: `civicbot run` (polling: the pages on
WEB_PORT; webhook: on the webhook's port) and `civicbot chat` (localhost, address printed)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from urllib.parse import unquote

import httpx

from bot.i18n import Translator
from bot.localapi.core import LocalBotApi
from bot.localapi.server import LocalBotApiServer
from tests.load.cluster import free_port, webhook_environment

CIVICBOT = str(Path(sys.executable).with_name("civicbot"))


def published(api: LocalBotApi) -> bool:
    return ('{"type": "default"}', "ko") in api.commands


async def test_run_serves_the_pages_and_sets_the_menu_button(
    database_url: str, tmp_path: Path
) -> None:
    api = LocalBotApi()
    server = LocalBotApiServer(api)
    await server.start()
    port = free_port()
    env = dict(os.environ)
    env.update(
        TELEGRAM_BOT_TOKEN=api.token,
        TELEGRAM_API_BASE_URL=server.base_url,
        TELEGRAM_API_FILE_URL=server.file_url,
        DATABASE_URL=database_url,
        WEB_PORT=str(port),
        PUBLIC_URL="https://civic.example.org/",
    )
    process = await asyncio.create_subprocess_exec(
        CIVICBOT, "run", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        await api.wait_until(lambda: published(api), timeout=30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            home = await client.get("/")
            assert home.status_code == 200 and "서울 시민참여" in home.text
            assert 'href="https://civic.example.org/"' in home.text  # the public address
            assert (await client.get("/healthz")).text == "ok"
        assert api.menu_button == {
            "type": "web_app",
            "text": "참여하기",
            "web_app": {"url": "https://civic.example.org/app"},
        }
        # The bot still answers while the pages are served.
        api.send_text(77, "/help")
        await api.wait_until(lambda: len(api.bot_messages(77)) == 1, timeout=10)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
        await server.stop()
    assert process.returncode == 0, output.decode()


async def test_a_taken_web_port_is_refused_with_a_way_out(
    database_url: str, tmp_path: Path
) -> None:
    taken = free_port()
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", taken)
    env = dict(os.environ)
    env.update(TELEGRAM_BOT_TOKEN="1:x", DATABASE_URL=database_url, WEB_PORT=str(taken))
    try:
        process = await asyncio.create_subprocess_exec(
            CIVICBOT, "run", env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        blocker.close()
    assert process.returncode == 2
    assert b"WEB_PORT" in err and str(taken).encode() in err


async def test_webhook_and_pages_share_one_port(database_url: str, tmp_path: Path) -> None:
    api = LocalBotApi()
    server = LocalBotApiServer(api)
    await server.start()
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    process = await asyncio.create_subprocess_exec(
        CIVICBOT, "run", "--webhook", url, "--listen", "127.0.0.1", "--port", str(port),
        env=webhook_environment(server, database_url, "s3cret"), cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await api.wait_until(lambda: api.webhook_url == url and published(api), timeout=30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/proposals")).status_code == 200
            refused = await client.post("/telegram", json={"update_id": 1})
            assert refused.status_code == 403
        assert api.menu_button is None  # no HTTPS address: no Mini App button
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), timeout=30)
        await server.stop()
    assert process.returncode == 0


async def read_until(stream: asyncio.StreamReader, marker: str) -> str:
    while True:
        line = (await asyncio.wait_for(stream.readline(), timeout=60)).decode()
        assert line, f"no line with {marker!r}"
        if marker in line:
            return line


async def test_chat_serves_the_pages_and_a_signed_mini_app_link(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "TELEGRAM_BOT_TOKEN"}
    process = await asyncio.create_subprocess_exec(
        CIVICBOT, "chat", "--fresh", env=env, cwd=tmp_path,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    try:
        line = await read_until(process.stdout, "Web pages: ")
        address = line.split("Web pages: ")[1].strip().rstrip("/")
        assert address.startswith("http://127.0.0.1:")
        await read_until(process.stdout, "buttons:")  # the bot is up and asked its question
        process.stdin.write("#1\n#1\n마포구\n:app\n".encode())
        await process.stdin.drain()
        link = (await read_until(process.stdout, "/app#tgWebAppData=")).strip()
        init_data = unquote(link.split("#tgWebAppData=")[1])
        async with httpx.AsyncClient(base_url=address) as client:
            assert (await client.get("/")).status_code == 200
            mine = await client.get("/app/f/my", headers={"Authorization": f"tma {init_data}"})
            assert mine.status_code == 200
            assert Translator("ko").gettext("My page") in mine.text
    finally:
        process.stdin.write(b":quit\n")
        await process.stdin.drain()
        await asyncio.wait_for(process.wait(), timeout=30)
    assert process.returncode == 0
