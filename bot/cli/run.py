"""`civicbot run`: the bot on Telegram, with long polling, or `--webhook` for production."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from bot.app import build_application
from bot.config import TOKEN_HELP, Settings

WEBHOOK_PATH = "telegram"
SECRET_HELP = (
    "Webhook mode needs WEBHOOK_SECRET (1-256 characters of A-Z, a-z, 0-9, _ and -): Telegram"
    " sends it in the X-Telegram-Bot-Api-Secret-Token header, and updates without it are"
    " refused."
)


def register(commands: argparse._SubParsersAction[Any]) -> None:
    parser = commands.add_parser("run", help="run the bot on Telegram (long polling by default)")
    parser.add_argument(
        "--webhook",
        metavar="URL",
        help="receive updates at this public HTTPS URL instead of polling, e.g."
        " https://bot.example.org/telegram (the path must end in /telegram)",
    )
    parser.add_argument("--listen", default="127.0.0.1", help="address to listen on (webhook)")
    parser.add_argument("--port", type=int, default=8443, help="port to listen on (webhook)")
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
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Every HTTP call and every scheduler tick would drown what matters.
    for noisy in ("httpx", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    application = build_application(settings, settings.telegram_bot_token.get_secret_value())
    if args.webhook:
        application.run_webhook(
            listen=args.listen,
            port=args.port,
            url_path=WEBHOOK_PATH,
            webhook_url=args.webhook,
            secret_token=secret,
        )
    else:
        application.run_polling()
    return 0
