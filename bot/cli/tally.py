"""`civicbot tally`: tally a participatory-budgeting vote stored as a pabulib file."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

# Before numpy loads: OpenBLAS's worker threads would otherwise spin on the other cores at
# start-up (0.1 s of CPU), where Add1's forked child works. The tally's dot products run on
# one thread anyway (see domain.equal_shares), so nothing else changes.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from domain.pabulib import PabulibError, read_pabulib
from domain.tally import Sat, tally_explained

CLI_RULES = ("greedy", "mes", "mes+greedy", "mes+add1", "mes+add1+greedy")
# Same as argparse's usage errors: the input, not the program, is at fault.
EXIT_BAD_INPUT = 2


def register(commands: argparse._SubParsersAction[Any]) -> None:
    parser = commands.add_parser(
        "tally",
        help="select projects from a pabulib (.pb) file of approval ballots",
        description="Print the selected project ids, one per line, in the order the rule "
        "selects them. Ties go to the project id that comes first (as in pabutools).",
    )
    parser.add_argument("--pabulib", required=True, type=Path, metavar="FILE")
    parser.add_argument(
        "--rule",
        required=True,
        choices=CLI_RULES,
        help="greedy: most votes first; mes: Method of Equal Shares; "
        "mes+greedy: MES, then greedy on what is left; mes+add1: MES with Add1 completion "
        "(each voter's share raised 1 unit of money at a time while the outcome fits, as "
        "cities run it); mes+add1+greedy: that, then greedy",
    )
    parser.add_argument(
        "--sat",
        choices=[sat.value for sat in Sat],
        default=Sat.COST.value,
        help="voters' satisfaction with a project: its cost (default) or 1",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"rule": ..., "selected": [...], "cost": ..., "budget": ...}; MES rules add '
        '"explanation": who paid what for each selected project, and for each rejected one '
        "the project that beat it and both prices per supporter",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path: Path = args.pabulib
    try:
        instance = read_pabulib(path)
    except PabulibError as exc:
        print(f"{path}:{exc.line}: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"{path}: cannot read the file: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    # Add1 searches from both ends with a forked child where a second core is free. The
    # command is a process of its own with one thread, which makes forking safe (the bot's
    # tallies run in one process).
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = 2 if (cores or 1) > 1 else 1
    result, explanation = tally_explained(
        instance, args.rule, Sat(args.sat), explain=args.json, workers=workers
    )
    if args.json:
        document: dict[str, object] = {
            "rule": result.rule,
            "selected": result.selected,
            "cost": _amount(result.cost, result.unit),
            "budget": _amount(result.budget, result.unit),
        }
        if explanation is not None:
            document["explanation"] = explanation.as_dict()
        print(json.dumps(document, ensure_ascii=False))
    else:
        for project_id in result.selected:
            print(project_id)
    return 0


def _amount(value: int, unit: int) -> int | float:
    """Whole money as an integer, decimals (files that write them) as a number with them."""
    return value // unit if value % unit == 0 else value / unit
