"""The production shape, on one machine: the HTTP local Bot API delivering updates by webhook
to `civicbot run --webhook` — one process, or `--workers N` sharing the port and a database."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.localapi.core import LocalBotApi
from bot.localapi.server import LocalBotApiServer
from bot.localapi.webhook import WebhookDelivery

SECRET = "cluster_secret-1"
# The benchmarks' ballot key (tests set their own in the environment first, see conftest).
BENCH_BALLOT_KEY = "be4c" * 16


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def webhook_environment(
    server: LocalBotApiServer, database_url: str, secret: str = SECRET
) -> dict[str, str]:
    """The environment of a `civicbot run --webhook` process on the local Bot API."""
    env = dict(os.environ)
    env.update(
        TELEGRAM_BOT_TOKEN=server.api.token,
        TELEGRAM_API_BASE_URL=server.base_url,
        TELEGRAM_API_FILE_URL=server.file_url,
        DATABASE_URL=database_url,
        WEBHOOK_SECRET=secret,
    )
    env.setdefault("BALLOT_KEY", BENCH_BALLOT_KEY)
    return env


@dataclass
class Cluster:
    api: LocalBotApi
    delivery: WebhookDelivery
    process: asyncio.subprocess.Process
    webhook_url: str


@asynccontextmanager
async def running_cluster(
    database_url: str,
    workers: int,
    folder: Path,
    admin_ids: str = "9000",
    extra_env: dict[str, str] | None = None,
) -> AsyncIterator[Cluster]:
    """Start the Bot API, the bot's processes and webhook delivery; stop them all after.

    The bot's output goes to `folder/bot.log`, for a failing test to show."""
    api = LocalBotApi()
    server = LocalBotApiServer(api)
    await server.start()
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    env = webhook_environment(server, database_url)
    env.update(
        ADMIN_IDS=admin_ids,
        # The bot's own capacity is measured here, not Telegram's 30 messages a second.
        SEND_RATE="10000",
        BROADCAST_RATE="5000",
        AUTOMATION_INTERVAL="1",
    )
    env.update(extra_env or {})
    command = [sys.executable, "-m", "bot.cli", "run", "--webhook", url, "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    log = (folder / "bot.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        *command, env=env, cwd=folder, stdout=log, stderr=log
    )
    try:
        async with WebhookDelivery(api) as delivery:
            await api.wait_until(lambda: api.webhook_url == url, timeout=60)
            # A worker is ready once it has published its commands (CommandRegistry.publish:
            # two languages, the default scope, and both languages in each admin's chat).
            per_worker = 3 + 2 * len(admin_ids.split(","))
            await api.wait_until(
                lambda: (
                    sum(1 for method, _ in api.calls if method == "setMyCommands")
                    >= workers * per_worker
                ),
                timeout=60,
            )
            yield Cluster(api, delivery, process, url)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), timeout=60)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()
        await server.stop()
