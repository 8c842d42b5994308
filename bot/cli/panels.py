"""`civicbot panel-pool` and `civicbot budget-school` (SPEC §5, §10).

`panel-pool` writes a panel's published inputs — the pseudonymised pool and the quotas fixed
by its commitment — so anyone can re-run the draw with `civicbot draw` and the published
seed. `budget-school --import` records 예산학교 completions from the course's list.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path
from typing import Any

from bot.cli.common import fail, with_db
from bot.services import panels as service
from storage.clock import utcnow
from storage.db import Database
from storage.programmes import ProgrammesRepository


def register(commands: argparse._SubParsersAction[Any]) -> None:
    pool = commands.add_parser(
        "panel-pool", help="write a panel's committed pool and quotas for `civicbot draw`"
    )
    pool.add_argument("--programme", required=True, help="programme key")
    pool.add_argument("--pool", type=Path, required=True, help="pool CSV to write")
    pool.add_argument("--quotas", type=Path, required=True, help="quotas CSV to write")
    pool.add_argument("--result", type=Path, help="also write the seed and result (JSON)")
    pool.set_defaults(func=run_pool)
    school = commands.add_parser("budget-school", help="record 예산학교 completions")
    school.add_argument(
        "--import",
        dest="source",
        type=Path,
        required=True,
        help="CSV with a telegram_id column, or one Telegram user id a line",
    )
    school.set_defaults(func=run_import)


def run_pool(args: argparse.Namespace) -> int:
    async def read(db: Database) -> tuple[str, str, str] | None:
        async with db.reading() as session:
            programme_id = await ProgrammesRepository(session).id_of(args.programme)
            found = (
                None if programme_id is None else await service.draw_record(session, programme_id)
            )
        if found is None:
            return None
        programme, record = found
        return (
            service.pool_csv(record),
            service.quotas_csv(record),
            service.result_json(programme, record),
        )

    files = with_db(read)
    if files is None:
        return fail(f"panel {args.programme!r} has no published commitment")
    pool, quotas, result = files
    args.pool.write_text(pool, encoding="utf-8")
    args.quotas.write_text(quotas, encoding="utf-8")
    if args.result:
        args.result.write_text(result, encoding="utf-8")
    print(f"Wrote {args.pool} and {args.quotas}")
    return 0


def read_ids(path: Path) -> list[int]:
    """Telegram user ids: a `telegram_id` column, or one id a line; the line of a bad one."""
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    column = 0
    start = 0
    if rows and "telegram_id" in [cell.strip().lower() for cell in rows[0]]:
        column = [cell.strip().lower() for cell in rows[0]].index("telegram_id")
        start = 1
    ids = []
    for line, row in enumerate(rows[start:], start + 1):
        if not any(cell.strip() for cell in row):
            continue
        value = row[column].strip() if column < len(row) else ""
        if not value.isdigit():
            raise ValueError(f"{path}:{line}: {value!r} is not a Telegram user id")
        ids.append(int(value))
    return ids


def run_import(args: argparse.Namespace) -> int:
    try:
        ids = read_ids(args.source)
    except (OSError, ValueError) as error:
        return fail(str(error))
    result = with_db(
        lambda db: service.import_completions(db, ids, utcnow(), f"import:{args.source.name}")
    )
    print(f"Recorded {result.recorded}, already recorded {result.already}.")
    if result.unknown:
        # Nothing is stored about anyone before they sign up: they can use a course code.
        print(
            "Not signed up (nothing stored; give them a course code): "
            + ", ".join(map(str, result.unknown))
        )
    return 0
