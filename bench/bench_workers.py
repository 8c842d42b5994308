"""End-to-end throughput: the local Bot API → webhook → bot → database → reply.

    PYTHONPATH=. .venv/bin/python bench/bench_workers.py [--citizens N] [--configs ...]

For each configuration — 1 worker on SQLite, 1, 2 and 3 workers on PostgreSQL — starts
`civicbot run --webhook` (with `--workers N` for several) on a fresh
database, behind the HTTP local Bot API delivering updates by webhook (40 connections at
most, a chat's updates one after another, as Telegram does). N scripted citizens then, all at
once, sign up, support two proposals, vote and report budget waste (tests/load/scenario.py,
which also checks every count afterwards). Each citizen waits for the bot's answer before
its next step, as a person does.

Reported per configuration: updates handled per second (updates ÷ the time from the first
update to the last reply) and the latency of each update — from the moment the Bot API has
it to the bot's first message or edit in that chat — at p50 and p95. Also the CPU time per
update spent by the bot's processes and by this driver (the Bot API, webhook delivery and the
citizens), read from /proc: on a machine with few cores the two compete, and
`cores ÷ bot CPU per update` is what more cores could serve. PostgreSQL's CPU is that of
every server process on the machine (keep the server otherwise quiet). Units of work per
update (read-only and writing), and the time spent waiting for and holding the per-use-case
locks (`Session.lock`), are what the workers log as they stop, over the updates handled.
The last lines project updates/s on 8 free cores from bot + PostgreSQL CPU per update.

PostgreSQL comes from CIVICBOT_BENCH_POSTGRES (default: the local server's `test` database);
each run uses a scratch schema, dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bot.localapi.core import LocalBotApi
from storage.ballotkey import BallotKey, attach
from storage.db import open_database
from tests.load.citizens import prepare_world
from tests.load.cluster import BENCH_BALLOT_KEY, running_cluster
from tests.load.scenario import THRESHOLD, everyone_at_once

POSTGRES = os.environ.get("CIVICBOT_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
CONFIGS = {
    "sqlite-1": ("sqlite", 1),
    "postgres-1": ("postgres", 1),
    "postgres-2": ("postgres", 2),
    "postgres-3": ("postgres", 3),
}
# What each worker held its locks for, by the kind of the unit of work's first lock.
KINDS = re.compile(r"held by kind:((?: \w+ [\d.]+ s)*)")
KIND = re.compile(r" (\w+) ([\d.]+) s")
USE = re.compile(
    r"Database use: (\d+) statements, (\d+) reads, (\d+) writes, (\d+) locks"
    r" \(waited ([\d.]+) s, held ([\d.]+) s\)"
)
REPLIES = {"sendMessage", "editMessageText", "editMessageReplyMarkup", "sendPhoto", "sendDocument"}


class ReplyClock:
    """Times each update from the Bot API having it to the bot's first reply in its chat."""

    def __init__(self, api: LocalBotApi) -> None:
        self.api = api
        self.waiting: dict[int, float] = {}  # chat → when its pending update arrived
        self.latencies: list[float] = []
        self.first_push: float | None = None
        self.last_reply = 0.0
        push = api.push_update

        def timed_push(payload: dict[str, Any]) -> int:
            now = time.perf_counter()
            self.first_push = self.first_push or now
            for kind in ("message", "callback_query"):
                if kind in payload:
                    self.waiting[int(payload[kind]["from"]["id"])] = now
            return push(payload)

        api.push_update = timed_push  # type: ignore[method-assign]
        api.listeners.append(self.on_call)

    def on_call(self, method: str, params: dict[str, Any], result: Any) -> None:
        if method not in REPLIES:
            return
        chat = params.get("chat_id")
        started = self.waiting.pop(int(chat), None) if chat is not None else None
        if started is not None:
            now = time.perf_counter()
            self.latencies.append(now - started)
            self.last_reply = now


def postgres_cpu_seconds() -> float:
    """User + system CPU time of every PostgreSQL server process on this machine (other
    users of the server count too: run this on a quiet server)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children (the workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        pending += [int(child) for child in children]
    return total


@dataclass
class Figures:
    config: str
    updates: int
    seconds: float
    p50_ms: float
    p95_ms: float
    bot_cpu_ms: float
    driver_cpu_ms: float
    postgres_cpu_ms: float = 0.0
    transactions: float = 0.0  # per update: reads + writes, all the bot's processes
    writes: float = 0.0
    lock_wait_ms: float = 0.0
    lock_held_ms: float = 0.0
    held_by_kind_ms: dict[str, float] = field(default_factory=dict)  # per update

    @property
    def per_second(self) -> float:
        return self.updates / self.seconds

    def line(self) -> str:
        return (
            f"{self.config:<11} {self.updates:>5} updates {self.seconds:6.1f} s"
            f" {self.per_second:6.1f}/s  p50 {self.p50_ms:6.1f} ms  p95 {self.p95_ms:6.1f} ms"
            f"  CPU/update: bot {self.bot_cpu_ms:4.1f} ms, PostgreSQL {self.postgres_cpu_ms:4.1f}"
            f" ms, driver {self.driver_cpu_ms:4.1f} ms"
            f"  transactions/update {self.transactions:4.2f}"
            f" (writes {self.writes:4.2f})  lock wait {self.lock_wait_ms:5.2f} ms,"
            f" held {self.lock_held_ms:5.2f} ms per update"
            + (" (" + ", ".join(f"{k} {v:.2f}" for k, v in self.held_by_kind_ms.items()) + ")")
        )

    def projection(self, cores: int = 8) -> str:
        per_update = (self.bot_cpu_ms + self.postgres_cpu_ms) / 1000
        return (
            f"{self.config:<11} on {cores} free cores (bot + PostgreSQL CPU only; Telegram is"
            f" elsewhere): about {cores / per_update:,.0f} updates/s"
        )


async def measure(config: str, citizens: int, folder: Path, in_hand: int) -> Figures:
    engine, workers = CONFIGS[config]
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = None
    if engine == "postgres":
        admin = await asyncpg.connect(POSTGRES)
        await admin.execute(f"CREATE SCHEMA {schema}")
        url = f"{POSTGRES}{'&' if '?' in POSTGRES else '?'}search_path={schema}"
    else:
        url = f"sqlite:///{folder / f'{config}.sqlite3'}"
    db = open_database(url)
    await db.connect()
    try:
        await db.migrate()
        await attach(db, BallotKey.from_text(BENCH_BALLOT_KEY))
        world = await prepare_world(
            db, datetime.now(UTC), proposals=4, support_threshold=THRESHOLD, max_choices=2
        )
        async with running_cluster(
            url,
            workers,
            folder,
            extra_env={
                "QUIET_HOURS_START": "00:00",
                "QUIET_HOURS_END": "00:00",
                "UPDATES_IN_HAND": str(in_hand),
            },
        ) as cluster:
            clock = ReplyClock(cluster.api)
            bot_before, driver_before = cpu_seconds(cluster.process.pid), time.process_time()
            postgres_before = postgres_cpu_seconds()
            await everyone_at_once(cluster.api, db, world, 500_001, citizens)
            bot_cpu = cpu_seconds(cluster.process.pid) - bot_before
            driver_cpu = time.process_time() - driver_before
            postgres_cpu = postgres_cpu_seconds() - postgres_before
            assert clock.first_push is not None
            latencies = sorted(clock.latencies)
            updates = len(latencies)
            figures = Figures(
                config,
                updates,
                clock.last_reply - clock.first_push,
                statistics.median(latencies) * 1000,
                latencies[int(updates * 0.95)] * 1000,
                bot_cpu / updates * 1000,
                driver_cpu / updates * 1000,
                postgres_cpu / updates * 1000 if engine == "postgres" else 0.0,
            )
        # Each worker logs what it asked of the database as it stops (start-up included).
        log = (folder / "bot.log").read_text(encoding="utf-8", errors="replace")
        uses = USE.findall(log)
        totals = [sum(float(use[index]) for use in uses) for index in range(6)]
        figures.transactions = (totals[1] + totals[2]) / updates
        figures.writes = totals[2] / updates
        figures.lock_wait_ms = totals[4] / updates * 1000
        figures.lock_held_ms = totals[5] / updates * 1000
        for kinds in KINDS.findall(log):
            for kind, held in KIND.findall(kinds):
                by_kind = figures.held_by_kind_ms
                by_kind[kind] = by_kind.get(kind, 0.0) + float(held) / updates * 1000
        return figures
    finally:
        await db.close()
        if admin is not None:
            await admin.execute(f"DROP SCHEMA {schema} CASCADE")
            await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--citizens", type=int, default=100)
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument(
        "--in-hand", type=int, default=64, help="UPDATES_IN_HAND: updates at once per process"
    )
    args = parser.parse_args()
    print(
        f"{args.citizens} citizens at once; {os.cpu_count()} CPUs;"
        f" up to {args.in_hand} updates in hand per process"
    )
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for config in args.configs:
            folder = Path(scratch) / config
            folder.mkdir()
            results.append(await measure(config, args.citizens, folder, args.in_hand))
            print(results[-1].line(), flush=True)
    for figures in results:
        print(figures.projection())


if __name__ == "__main__":
    asyncio.run(main())
