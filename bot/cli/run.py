"""`civicbot run`: the bot on Telegram, with long polling."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from bot.app import build_application
from bot.config import TOKEN_HELP, Settings


def register(commands: argparse._SubParsersAction[Any]) -> None:
    parser = commands.add_parser("run", help="run the bot on Telegram (long polling)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    if settings.telegram_bot_token is None or not settings.telegram_bot_token.get_secret_value():
        print(TOKEN_HELP, file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Every HTTP call and every scheduler tick would drown what matters.
    for noisy in ("httpx", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    application = build_application(settings, settings.telegram_bot_token.get_secret_value())
    application.run_polling()
    return 0
