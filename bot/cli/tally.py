"""`civicbot tally`: tally a participatory-budgeting vote stored as a pabulib file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from domain.pabulib import PabulibError, read_pabulib
from domain.tally import Sat, tally

CLI_RULES = ("greedy", "mes", "mes+greedy")
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
        "mes+greedy: MES, then greedy on what is left",
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
        help='print {"rule": ..., "selected": [...], "cost": ..., "budget": ...}',
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
    result = tally(instance, args.rule, Sat(args.sat))
    if args.json:
        document = {
            "rule": result.rule,
            "selected": result.selected,
            "cost": result.cost,
            "budget": result.budget,
        }
        print(json.dumps(document, ensure_ascii=False))
    else:
        for project_id in result.selected:
            print(project_id)
    return 0
