"""End-to-end throughput: the local Bot API → webhook → bot → database → reply.

    PYTHONPATH=. .venv/bin/python bench/bench_workers.py [--citizens N] [--configs ...]

For each configuration — 1 worker on SQLite, 1 worker on PostgreSQL, 3 workers on
PostgreSQL — starts `civicbot run --webhook` (with `--workers 3` for the last) on a fresh
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
`cores ÷ bot CPU per update` is what more cores could serve.

PostgreSQL comes from CIVICBOT_BENCH_POSTGRES (default: the local server's `test` database);
each run uses a scratch schema, dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bot.localapi.core import LocalBotApi
from storage.db import open_database
from tests.load.citizens import prepare_world
from tests.load.cluster import running_cluster
from tests.load.scenario import THRESHOLD, everyone_at_once

POSTGRES = os.environ.get("CIVICBOT_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
CONFIGS = {"sqlite-1": ("sqlite", 1), "postgres-1": ("postgres", 1), "postgres-3": ("postgres", 3)}
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

    @property
    def per_second(self) -> float:
        return self.updates / self.seconds

    def line(self) -> str:
        return (
            f"{self.config:<11} {self.updates:>6} updates  {self.seconds:7.1f} s"
            f"  {self.per_second:7.1f} updates/s  p50 {self.p50_ms:7.1f} ms"
            f"  p95 {self.p95_ms:7.1f} ms  CPU per update: bot {self.bot_cpu_ms:5.1f} ms,"
            f" driver {self.driver_cpu_ms:5.1f} ms"
        )


async def measure(config: str, citizens: int, folder: Path) -> Figures:
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
        world = await prepare_world(
            db, datetime.now(UTC), proposals=4, support_threshold=THRESHOLD, max_choices=2
        )
        async with running_cluster(
            url,
            workers,
            folder,
            extra_env={"QUIET_HOURS_START": "00:00", "QUIET_HOURS_END": "00:00"},
        ) as cluster:
            clock = ReplyClock(cluster.api)
            bot_before, driver_before = cpu_seconds(cluster.process.pid), time.process_time()
            await everyone_at_once(cluster.api, db, world, 500_001, citizens)
            bot_cpu = cpu_seconds(cluster.process.pid) - bot_before
            driver_cpu = time.process_time() - driver_before
            assert clock.first_push is not None
            latencies = sorted(clock.latencies)
            return Figures(
                config,
                len(latencies),
                clock.last_reply - clock.first_push,
                statistics.median(latencies) * 1000,
                latencies[int(len(latencies) * 0.95)] * 1000,
                bot_cpu / len(latencies) * 1000,
                driver_cpu / len(latencies) * 1000,
            )
    finally:
        await db.close()
        if admin is not None:
            await admin.execute(f"DROP SCHEMA {schema} CASCADE")
            await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--citizens", type=int, default=100)
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    args = parser.parse_args()
    print(f"{args.citizens} citizens at once; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as scratch:
        for config in args.configs:
            folder = Path(scratch) / config
            folder.mkdir()
            print((await measure(config, args.citizens, folder)).line(), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
