"""`civicbot migrate`, `backup` and `import-programmes`: operating the database."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from bot.config import Settings
from domain.programmes import ProgrammeFileError, load_programmes
from storage.clock import utcnow
from storage.db import Database
from storage.programmes import ProgrammesRepository


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


async def _open() -> Database:
    db = Database(Settings().sqlite_path)
    await db.connect()
    await db.migrate()
    return db


def run_migrate(args: argparse.Namespace) -> int:
    async def go() -> list[int]:
        db = Database(Settings().sqlite_path)
        await db.connect()
        try:
            return await db.migrate()
        finally:
            await db.close()

    applied = asyncio.run(go())
    print(f"Applied migrations: {', '.join(map(str, applied))}" if applied else "Up to date.")
    return 0


def run_backup(args: argparse.Namespace) -> int:
    async def go() -> None:
        db = await _open()
        try:
            await db.backup(args.path)
        finally:
            await db.close()

    try:
        asyncio.run(go())
    except FileExistsError as error:
        print(f"civicbot backup: {error}", file=sys.stderr)
        return 2
    print(f"Backup written to {args.path}")
    return 0


def run_import_programmes(args: argparse.Namespace) -> int:
    try:
        programmes = load_programmes(args.file)
    except (OSError, ProgrammeFileError) as error:
        print(f"civicbot import-programmes: {error}", file=sys.stderr)
        return 2

    async def go() -> None:
        db = await _open()
        try:
            async with db.transaction() as session:
                repository = ProgrammesRepository(session)
                for programme in programmes:
                    await repository.upsert(programme, utcnow())
        finally:
            await db.close()

    asyncio.run(go())
    for programme in programmes:
        print(f"{programme.key}: {programme.name.ko} ({len(programme.stages)} stages)")
    return 0
