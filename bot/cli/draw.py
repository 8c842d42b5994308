"""`civicbot draw`: re-run (or run) a panel lottery from its published inputs and seed."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from domain.sortition import (
    DataFileError,
    DistributionCheckError,
    InfeasibleQuotasError,
    InputError,
    draw_panel,
    fairness,
    read_pool,
    read_quotas,
)

# bad files and infeasible quotas both mean "fix the inputs", like argparse's usage errors
EXIT_BAD_INPUT = 2
# the optimiser produced a lottery that failed the sanity check: a bug, never drawn from
EXIT_REFUSED = 1


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not positive")
    return value


def register(commands: argparse._SubParsersAction[Any]) -> None:
    parser = commands.add_parser(
        "draw",
        help="stratified random selection of a citizen panel (추첨)",
        description=(
            "Draw a panel that meets every quota, with selection probabilities as equal as "
            "the quotas allow. The same files, seats and seed give the same panel anywhere."
        ),
    )
    parser.add_argument("--pool", required=True, help="CSV: an id column, one column per feature")
    parser.add_argument("--quotas", required=True, help="CSV: feature,value,min,max")
    parser.add_argument("--seats", required=True, type=_positive, help="panel size")
    parser.add_argument("--seed", required=True, help="the public seed, fixed after the commitment")
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"selected", "reserve", "seed", "commitment", "probabilities", "min_ratio", '
        '"gini", "upper_bound", "upper_bound_ratio", "method"} instead of one id a line: '
        "every applicant's selection probability and the draw's fairness figures",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        quotas = read_quotas(args.quotas)
        pool = read_pool(args.pool, quotas)
        result = draw_panel(pool, quotas, args.seats, args.seed)
    except (DataFileError, InputError) as error:
        print(f"civicbot draw: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except InfeasibleQuotasError as error:
        print("civicbot draw: the quotas cannot all be met.", file=sys.stderr)
        for message in error.infeasibility.messages:
            print(message, file=sys.stderr)
        return EXIT_BAD_INPUT
    except DistributionCheckError as error:
        print(f"civicbot draw: refusing to draw: {error}", file=sys.stderr)
        return EXIT_REFUSED
    if args.json:
        document = {
            "selected": list(result.selected),
            "reserve": list(result.reserve),
            "seed": result.seed,
            "commitment": result.commitment,
            **fairness(result).as_dict(),
        }
        print(json.dumps(document, ensure_ascii=False))
    else:
        print("\n".join(result.selected))
    return 0
