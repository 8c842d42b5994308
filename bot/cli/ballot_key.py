"""`civicbot ballot-key`: make the ballot key, move an old one out of the database, or
replace a lost one (issue 16, docs/ballot-secrecy.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.cli.common import fail, with_db
from bot.services import voting as service
from storage.ballotkey import (
    FINGERPRINT,
    OLD_KEY,
    BallotKey,
    BallotKeyProblem,
    write_key_file,
)
from storage.db import Database, Session
from storage.ptbstate import PtbStateRepository
from storage.voting import VotingRepository

KEY_NOTE = (
    "This file is the ballot key of a 시민참여봇 installation (docs/ballot-secrecy.md).\n"
    "With it and a copy of the database, anyone can link ballots to voters: keep it apart\n"
    "from the database and its backups; the election officer keeps a copy. Without it,\n"
    "no one can replace a ballot already cast; the counts stay valid.\n"
)
# Tables the export rewrites: vacuumed after, so no old row version keeps the key or a link.
REWRITTEN = ("installation_secrets", "ballots", "ballot_box", "ptb_user_data")


def register(commands: argparse._SubParsersAction[Any]) -> None:
    command = commands.add_parser("ballot-key", help="the ballot key, kept outside the database")
    actions = command.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = actions.add_parser("new", help="write a new ballot key to a file")
    new.add_argument("--output", type=Path, required=True, help="the key file (must not exist)")
    new.add_argument(
        "--replace-lost",
        action="store_true",
        help="the database's key is lost: make this one its key (ballots already cast can no"
        " longer be changed)",
    )
    new.set_defaults(func=run_new)
    export = actions.add_parser(
        "export", help="move the key out of the database (installations from before 0021)"
    )
    export.add_argument("--output", type=Path, required=True, help="the key file to write")
    export.set_defaults(func=run_export)


def run_new(args: argparse.Namespace) -> int:
    key = BallotKey.generate()
    if args.output.exists():
        return fail(f"{args.output} already exists; choose another file")
    if args.replace_lost:
        try:
            dropped = with_db(lambda db: replace_lost(db, key), ballot_key=False)
        except BallotKeyProblem as problem:
            return fail(str(problem))
    try:
        write_key_file(args.output, key, KEY_NOTE)
    except FileExistsError:
        return fail(f"{args.output} already exists; choose another file")
    print(f"Wrote a new ballot key to {args.output}. Set BALLOT_KEY_FILE={args.output}.")
    if args.replace_lost:
        print(
            f"It is now this database's key. {dropped} sealed ballot(s) cast since the last mix"
            " could not be read and were dropped; their voters stay on the roll."
        )
    return 0


async def replace_lost(db: Database, key: BallotKey) -> int:
    """The new key's fingerprint replaces the old; sealed ballots no key opens are dropped.
    People already on a roll cannot cast again there (`Refusal.LOCKED`)."""
    async with db.transaction() as session:
        if await session.scalar("SELECT 1 FROM installation_secrets WHERE name = ?", (OLD_KEY,)):
            raise BallotKeyProblem("the key is still in the database: use `ballot-key export`")
        await session.execute(
            "INSERT INTO installation_secrets (name, value) VALUES (?, ?) ON CONFLICT (name)"
            " DO UPDATE SET value = excluded.value",
            (FINGERPRINT, key.fingerprint()),
        )
        dropped: int = await session.execute("DELETE FROM ballot_box")
        return dropped


def run_export(args: argparse.Namespace) -> int:
    try:
        rewritten = with_db(lambda db: export(db, args.output), ballot_key=False)
    except BallotKeyProblem as problem:
        return fail(str(problem))
    except FileExistsError:
        return fail(f"{args.output} already exists and holds another key")
    print(
        f"Wrote the ballot key to {args.output} and removed it from the database; rewrote"
        f" the ballots of {rewritten} heading(s). Set BALLOT_KEY_FILE={args.output}, keep a"
        " copy with your election officer, and start the bot."
    )
    return 0


async def export(db: Database, output: Path) -> int:
    """Write the stored key to `output` (once: an existing file must hold the same key),
    then, in one unit of work, keep only its fingerprint, mix every heading's ballots anew
    and drop cast ballots' drafts from conversation data; then vacuum."""
    async with db.reading() as session:
        stored = await session.scalar(
            "SELECT value FROM installation_secrets WHERE name = ?", (OLD_KEY,)
        )
    if stored is None:
        raise BallotKeyProblem("the database holds no ballot key: nothing to export")
    key = BallotKey.from_text(str(stored))
    if output.exists():
        if BallotKey.from_text(output.read_text(encoding="ascii")).text != key.text:
            raise FileExistsError(output)
    else:
        write_key_file(output, key, KEY_NOTE)
    db.ballot_key = key
    async with db.transaction() as session:
        await session.execute("DELETE FROM installation_secrets WHERE name = ?", (OLD_KEY,))
        await session.execute(
            "INSERT INTO installation_secrets (name, value) VALUES (?, ?) ON CONFLICT (name)"
            " DO UPDATE SET value = excluded.value",
            (FINGERPRINT, key.fingerprint()),
        )
        repository = VotingRepository(session)
        headings = await repository.all_heading_ids()
        for heading_id in headings:
            await repository.mix(heading_id, force=True)
        await forget_cast_drafts(session)
    await db.vacuum(REWRITTEN)
    return len(headings)


async def forget_cast_drafts(session: Session) -> None:
    """Drafts in conversation data of headings the person is on the roll of."""
    states = PtbStateRepository(session)
    for user_id, data in (await states.all_user_data()).items():
        if not isinstance(data.get(service.DRAFTS), dict):
            continue
        for heading_id, _ in await VotingRepository(session).voted_by(user_id):
            await service.forget_draft(session, user_id, heading_id)
