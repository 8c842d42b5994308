"""`civicbot run`: the bot on Telegram, with long polling, or `--webhook` for production.

With `--workers N` (PostgreSQL only) the command supervises N webhook worker processes that
share one port (SO_REUSEPORT: the kernel spreads connections among them) and one database.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from bot.app import build_application
from bot.config import TOKEN_HELP, Settings
from bot.web.app import Webhook
from bot.web.server import bind, public_url_for, serve_polling, serve_webhook
from storage.db import open_database

log = logging.getLogger(__name__)

WEBHOOK_PATH = "telegram"
SECRET_HELP = (
    "Webhook mode needs WEBHOOK_SECRET (1-256 characters of A-Z, a-z, 0-9, _ and -): Telegram"
    " sends it in the X-Telegram-Bot-Api-Secret-Token header, and updates without it are"
    " refused."
)
WORKERS_HELP = (
    "Several workers need a database they can share: set DATABASE_URL=postgresql://… (an"
    " SQLite file serves one process). Move an existing SQLite database with `civicbot"
    " migrate-db --from sqlite:///… --to postgresql://…`."
)
PORT_HELP = (
    "Cannot listen on {listen}:{port} ({error}). The bot serves its web pages there: choose"
    " another address with --listen/--port (webhook) or WEB_LISTEN/WEB_PORT (polling; 0 picks"
    " a free port)."
)
RESTART_DELAY = 1.0  # seconds before a worker that died is started again


def register(commands: argparse._SubParsersAction[Any]) -> None:
    parser = commands.add_parser("run", help="run the bot on Telegram (long polling by default)")
    parser.add_argument(
        "--webhook",
        metavar="URL",
        help="receive updates at this public HTTPS URL instead of polling, e.g."
        " https://bot.example.org/telegram (the path must end in /telegram)",
    )
    parser.add_argument(
        "--listen", default="127.0.0.1", help="address to listen on (webhook and web pages)"
    )
    parser.add_argument(
        "--port", type=int, default=8443, help="port to listen on (webhook and web pages)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="webhook worker processes sharing the port and a PostgreSQL database",
    )
    parser.add_argument(
        "--reuse-port",
        action="store_true",
        help="bind the webhook port with SO_REUSEPORT, so several `civicbot run` processes"
        " (e.g. systemd instances) can share it",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    if settings.telegram_bot_token is None or not settings.telegram_bot_token.get_secret_value():
        print(TOKEN_HELP, file=sys.stderr)
        return 2
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    if args.webhook and not secret:
        print(SECRET_HELP, file=sys.stderr)
        return 2
    if args.workers < 1 or (args.workers > 1 and not args.webhook):
        print("--workers needs --webhook and a number from 1 up.", file=sys.stderr)
        return 2
    if (args.workers > 1 or args.reuse_port) and not open_database(settings.database_url).shared:
        print(WORKERS_HELP, file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Every HTTP call and every scheduler tick would drown what matters.
    for noisy in ("httpx", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.workers > 1:
        return supervise(args, settings)
    application = build_application(settings, settings.telegram_bot_token.get_secret_value())
    listen, port = args.listen, args.port
    if not args.webhook:
        listen, port = settings.web_listen, settings.web_port
    try:
        sock = bind(listen, port, reuse_port=bool(args.webhook and args.reuse_port))
    except OSError as error:
        print(PORT_HELP.format(listen=listen, port=port, error=error), file=sys.stderr)
        return 2
    application.web_url = public_url_for(settings.public_url, args.webhook, sock)
    if args.webhook:
        webhook = Webhook(WEBHOOK_PATH, secret)
        asyncio.run(serve_webhook(application, sock, args.webhook, webhook))
    else:
        asyncio.run(serve_polling(application, sock))
    return 0


def supervise(args: argparse.Namespace, settings: Settings) -> int:
    """Start the workers, start again any that dies, stop them all on SIGINT or SIGTERM."""
    command = [
        sys.executable, "-m", "bot.cli", "run", "--webhook", args.webhook,
        "--listen", args.listen, "--port", str(args.port), "--reuse-port",
    ]  # fmt: skip
    base = settings.worker_name if settings.worker_name != "main" else "worker"

    def environment(number: int) -> dict[str, str]:
        env = dict(os.environ)
        env["WORKER_NAME"] = f"{base}-{number}"
        # Telegram's limits are per bot, not per process: each worker gets its share.
        env["SEND_RATE"] = str(settings.send_rate / args.workers)
        env["BROADCAST_RATE"] = str(settings.broadcast_rate / args.workers)
        return env

    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    workers = {
        number: subprocess.Popen(command, env=environment(number))
        for number in range(1, args.workers + 1)
    }
    log.info("Started %d workers on port %d", args.workers, args.port)
    while not stopping:
        time.sleep(0.2)
        for number, process in list(workers.items()):
            if process.poll() is not None and not stopping:
                log.warning("Worker %d exited (%s); starting it again", number, process.returncode)
                time.sleep(RESTART_DELAY)
                workers[number] = subprocess.Popen(command, env=environment(number))
    for process in workers.values():
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in workers.values():
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    return 0
