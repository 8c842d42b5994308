"""`civicbot import-ballot`, `offline-votes` and `export-pabulib` (SPEC §6, §10)."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

from bot.cli.common import fail, with_db
from bot.services import voting as service
from domain.pabulib import PabulibError, read_pabulib, write_pabulib
from domain.voting import HeadingKind, StoredBallot, parse_ballot_file
from storage.clock import utcnow
from storage.db import Database
from storage.voting import VotingRepository


def register(commands: argparse._SubParsersAction[Any]) -> None:
    ballot = commands.add_parser("import-ballot", help="define a voting stage's ballots (TOML)")
    ballot.add_argument("file", type=Path)
    ballot.set_defaults(func=run_import)
    offline = commands.add_parser(
        "offline-votes", help="add paper or on-site votes to a heading (kept apart, summed)"
    )
    offline.add_argument("--heading-id", type=int, required=True)
    source = offline.add_mutually_exclusive_group(required=True)
    source.add_argument("--counts", type=Path, help="CSV with columns item,votes")
    source.add_argument("--pabulib", type=Path, help="whole ballots in a pabulib file")
    offline.add_argument("--note", default="", help="where the votes were counted")
    offline.set_defaults(func=run_offline)
    export = commands.add_parser("export-pabulib", help="a programme's ballots as pabulib files")
    export.add_argument("--programme", required=True, help="programme key")
    export.add_argument("--output", type=Path, help="folder (default: print the first heading)")
    export.set_defaults(func=run_export)


def run_import(args: argparse.Namespace) -> int:
    try:
        ballot = parse_ballot_file(args.file.read_text(encoding="utf-8"), args.file.name)
        saved = with_db(lambda db: service.import_ballot(db, ballot))
    except (OSError, ValueError) as error:
        return fail(str(error))
    for heading_id, heading in saved:
        print(f"heading {heading_id}: {heading.key} ({len(heading.items)} items)")
    return 0


def read_counts(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    with path.open(encoding="utf-8-sig", newline="") as source:
        for line, row in enumerate(csv.DictReader(source), start=2):
            try:
                counts[row["item"].strip()] = int(row["votes"])
            except (KeyError, TypeError, ValueError) as error:
                raise ValueError(f"{path}:{line}: expected columns item,votes") from error
            if counts[row["item"].strip()] < 0:
                raise ValueError(f"{path}:{line}: votes must not be negative")
    return counts


def run_offline(args: argparse.Namespace) -> int:
    async def add(db: Database) -> None:
        async with db.transaction() as session:
            repository = VotingRepository(session)
            found = await repository.heading(args.heading_id)
            if found is None:
                raise ValueError(f"no heading {args.heading_id}")
            _, heading = found
            if args.counts:
                counts = read_counts(args.counts)
                unknown = sorted(key for key in counts if heading.item(key) is None)
                if unknown:
                    raise ValueError(f"not on this ballot: {', '.join(unknown)}")
                await repository.set_offline_counts(args.heading_id, counts, args.note)
            else:
                instance = read_pabulib(args.pabulib)
                unknown = sorted(set(instance.projects) - {i.key for i in heading.items})
                if unknown:
                    raise ValueError(f"not on this ballot: {', '.join(unknown)}")
                ballots = [StoredBallot(v.approved, v.weight, offline=True) for v in instance.votes]
                await repository.add_offline_ballots(args.heading_id, ballots, utcnow())

    try:
        with_db(add)
    except PabulibError as error:
        return fail(f"{args.pabulib}:{error.line}: {error}")
    except (OSError, ValueError) as error:
        return fail(str(error))
    print("Offline votes recorded.")
    return 0


def run_export(args: argparse.Namespace) -> int:
    async def collect(db: Database) -> list[tuple[str, str]]:
        async with db.reading() as session:
            rows = await session.fetchall(
                "SELECT h.id, s.key AS stage, h.key FROM ballot_headings h"
                " JOIN stages s ON s.id = h.stage_id JOIN programmes g ON g.id = s.programme_id"
                " WHERE g.key = ? ORDER BY h.id",
                (args.programme,),
            )
            headings = [await VotingRepository(session).heading(r["id"]) for r in rows]
        files = []
        for row, found in zip(rows, headings, strict=True):
            # pabulib describes budgeted approval votes; yes/no questions have no such form.
            if (
                found is None
                or found[1].kind is not HeadingKind.APPROVAL
                or found[1].budget is None
            ):
                continue
            instance = await service.pabulib_instance(db, row["id"])
            name = f"{args.programme}_{row['stage']}_{row['key']}.pb"
            files.append((name, write_pabulib(instance)))
        return files

    try:
        files = with_db(collect)
    except ValueError as error:
        return fail(str(error))
    if not files:
        return fail(f"no ballots in programme {args.programme!r}")
    if args.output is None:
        sys.stdout.write(files[0][1])
        return 0
    args.output.mkdir(parents=True, exist_ok=True)
    for name, text in files:
        (args.output / name).write_text(text, encoding="utf-8")
        print(args.output / name)
    return 0
