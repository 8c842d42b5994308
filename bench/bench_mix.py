"""The ballot mix (issue 16): how long one mix of a heading takes, since it rewrites all of the
heading's ballot rows in one transaction (on SQLite that transaction holds the one writer lock,
so every other write waits for it).

    PYTHONPATH=. .venv/bin/python bench/bench_mix.py [--ballots N,N,...] [--waiting N]
        [--engines sqlite,postgres]

For each engine and each N: a fresh database with the web benchmark's city-wide vote
(bench/bench_web.py: 30 projects, k = 5), N ballots cast through the repository and mixed once
(as the bot's periodic mix leaves them), then `--waiting` more voters' ballots sealed in the
ballot box; reported is the wall time of the next `bot.services.voting.mix_ballots` call,
which moves them and rewrites the N + waiting rows.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.bench_web import BENCH_BALLOT_KEY, FIRST_VOTER, cast_ballots, database, prepare
from bot.services import voting
from storage.ballotkey import BallotKey, attach
from storage.db import open_database


async def one(engine: str, ballots: int, waiting: int, folder: Path) -> str:
    now = datetime.now(UTC)
    async with database(engine, folder) as url:
        db = open_database(url)
        await db.connect()
        await db.migrate()
        await attach(db, BallotKey.from_text(BENCH_BALLOT_KEY))
        heading_id = await prepare(db, ballots + waiting, ballots, now)
        async with db.transaction() as session:
            await cast_ballots(
                session,
                heading_id,
                range(FIRST_VOTER + ballots, FIRST_VOTER + ballots + waiting),
                now,
            )
        began = time.perf_counter()
        moved = await voting.mix_ballots(db, [heading_id])
        took = time.perf_counter() - began
        async with db.reading() as session:
            rows = await session.scalar(
                "SELECT COUNT(*) FROM ballots WHERE heading_id = ?", (heading_id,)
            )
        await db.close()
    assert moved == waiting and rows == ballots + waiting, (moved, rows)
    return f"| {engine:8} | {ballots:>9,} | {waiting:>7,} | {took * 1000:>9,.0f} |"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ballots", default="10000,50000")
    parser.add_argument("--waiting", type=int, default=500)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    print("| engine   |   ballots | waiting | mix ms    |")
    print("|----------|----------:|--------:|----------:|")
    with tempfile.TemporaryDirectory() as folder:
        for engine in args.engines.split(","):
            for n, ballots in enumerate(int(b) for b in args.ballots.split(",")):
                place = Path(folder) / f"{engine}-{n}"
                place.mkdir()
                print(await one(engine, ballots, args.waiting, place), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
