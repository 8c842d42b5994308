"""The `civicbot` command line: one module per subcommand, each with `register`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot.cli import admin, chat, draw, export, migrate_db, panels, run, tally, voting


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="civicbot", description="시민참여봇 — citizen participation bot"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (run, chat, admin, export, migrate_db, tally, draw, voting, panels):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
