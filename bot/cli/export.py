"""`civicbot export proposals`: CSV exports for officials and auditors (SPEC §10)."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

from bot.cli.common import with_db
from bot.services import panels, waste
from storage.clock import to_db
from storage.db import Database, Session
from storage.proposals import ProposalsRepository

PROPOSAL_COLUMNS = (
    "id", "programme", "title", "field", "scope", "districts", "dong", "kind", "cost",
    "status", "supports", "published_at", "support_ends_at", "progress", "merged_into",
    "transferred_to", "hidden", "reports", "created_at",
)  # fmt: skip


async def proposal_rows(session: Session) -> list[list[Any]]:
    """Counts and statuses; no personal data (authors are not exported)."""
    rows = []
    for p in await ProposalsRepository(session).all_for_export():
        rows.append(
            [
                p.id, p.programme_key, p.title, p.field, p.scope.value, " ".join(p.districts),
                p.dong or "", p.kind.value if p.kind else "", "" if p.cost is None else p.cost,
                p.status.value, p.support_count,
                to_db(p.published_at) if p.published_at else "",
                to_db(p.support_ends_at) if p.support_ends_at else "",
                "" if p.progress is None else p.progress, p.merged_into or "",
                p.transferred_to or "", int(p.hidden), p.report_count, to_db(p.created_at),
            ]
        )  # fmt: skip
    return rows


AUDIT_COLUMNS = ("id", "at", "actor_id", "action", "subject", "details")


async def audit_rows(session: Session) -> list[list[Any]]:
    rows = await session.fetchall(
        "SELECT id, at, actor_id, action, subject, details FROM audit_log ORDER BY id"
    )
    return [[r[c] if r[c] is not None else "" for c in AUDIT_COLUMNS] for r in rows]


EXPORTS: dict[str, tuple[tuple[str, ...], Callable[[Session], Awaitable[list[list[Any]]]]]] = {
    "proposals": (PROPOSAL_COLUMNS, proposal_rows),
    "reports": (waste.EXPORT_COLUMNS, waste.export_rows),
    "panels": (panels.EXPORT_COLUMNS, panels.export_rows),
    "audit": (AUDIT_COLUMNS, audit_rows),
}


def register(commands: argparse._SubParsersAction[Any]) -> None:
    parser = commands.add_parser("export", help="write a CSV export")
    parser.add_argument("what", choices=sorted(EXPORTS))
    parser.add_argument("--output", type=Path, help="file to write (default: standard output)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    columns, fetch = EXPORTS[args.what]

    async def fetch_rows(db: Database) -> list[list[Any]]:
        async with db.reading() as session:
            return await fetch(session)

    rows = with_db(fetch_rows)
    if args.output:
        with args.output.open("w", newline="", encoding="utf-8-sig") as out:
            write(out, columns, rows)
    else:
        write(sys.stdout, columns, rows)
    return 0


def write(out: TextIO, columns: tuple[str, ...], rows: list[list[Any]]) -> None:
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
