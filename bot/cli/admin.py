"""`civicbot migrate`, `backup` and `import-programmes`: operating the database."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.cli.common import fail, with_db
from bot.services.programmes import StageInUse, apply_programmes
from domain.programmes import ProgrammeFileError, load_programmes
from storage.clock import utcnow
from storage.db import Database, SqliteDatabase


def register(commands: argparse._SubParsersAction[Any]) -> None:
    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(func=run_migrate)
    backup = commands.add_parser("backup", help="write a consistent copy of the live database")
    backup.add_argument("path", type=Path, help="where to write the copy (must not exist)")
    backup.set_defaults(func=run_backup)
    programmes = commands.add_parser(
        "import-programmes", help="add or update programmes from a TOML or YAML file"
    )
    programmes.add_argument("file", type=Path)
    programmes.set_defaults(func=run_import_programmes)


class BackupRefused(Exception):
    pass


def run_migrate(args: argparse.Namespace) -> int:
    applied = with_db(lambda db: db.migrate(), migrate=False)
    print(f"Applied migrations: {', '.join(map(str, applied))}" if applied else "Up to date.")
    return 0


def run_backup(args: argparse.Namespace) -> int:
    async def backup(db: Database) -> None:
        if not isinstance(db, SqliteDatabase):
            raise BackupRefused("PostgreSQL is backed up with its own tools (pg_dump)")
        await db.backup(args.path)

    try:
        with_db(backup)
    except (FileExistsError, BackupRefused) as error:
        return fail(f"backup: {error}")
    print(f"Backup written to {args.path}")
    return 0


def run_import_programmes(args: argparse.Namespace) -> int:
    try:
        programmes = load_programmes(args.file)
    except (OSError, ProgrammeFileError) as error:
        return fail(f"import-programmes: {error}")

    async def save(db: Database) -> None:
        async with db.transaction() as session:
            await apply_programmes(session, programmes, utcnow())

    try:
        with_db(save)
    except StageInUse as error:
        return fail(f"import-programmes: {error}")
    for programme in programmes:
        print(f"{programme.key}: {programme.name.ko} ({len(programme.stages)} stages)")
    return 0
