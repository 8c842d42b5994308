"""The `civicbot` command line: one module per subcommand, each with `register`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

# Offline commands that need no bot: named first on the command line, only their module is
# imported, so `civicbot tally` starts without loading Telegram or the database layer (nor the
# ballot key's, whose problems only the other commands can meet).
STANDALONE = {"tally": "tally", "draw": "draw"}
MODULES = (
    "run",
    "chat",
    "admin",
    "export",
    "migrate_db",
    "tally",
    "draw",
    "voting",
    "panels",
    "ballot_key",
)


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"bot.cli.{name}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="civicbot", description="시민참여봇 — citizen participation bot"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in (only,) if only else MODULES:
        _module(name).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    only = STANDALONE.get(arguments[0]) if arguments else None
    args = build_parser(only).parse_args(arguments)
    if only:
        standalone: int = args.func(args)
        return standalone
    from storage.ballotkey import BallotKeyProblem

    try:
        code: int = args.func(args)
    except BallotKeyProblem as problem:  # what the operator does about it, no traceback
        print(f"civicbot: {problem}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
