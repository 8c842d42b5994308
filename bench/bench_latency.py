"""Latency under load (issue 22): one worker, 100 updates/s, 50 ms added to every Bot API call.

    PYTHONPATH=. .venv/bin/python bench/bench_latency.py [--rate 100] [--seconds 20]
        [--latency 0.05] [--people 400] [--engine sqlite|postgres]

`civicbot run --webhook` (one process) behind the HTTP local Bot API, which delivers updates
by webhook (40 connections at most, a chat's updates one after another, as Telegram does)
and answers every method but getUpdates after `--latency` seconds, as Telegram's servers far
away would. Updates arrive open-loop at `--rate` per second for `--seconds`, round-robin over
`--people` (so each person's previous update is long done): /help, /programmes and /menu in
turn. Latency: from the Bot API having the update to the bot's first message in that chat
(the added latency included), at p50, p95 and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

from bench.bench_workers import POSTGRES, REPLIES, cpu_seconds
from tests.load.cluster import running_cluster

TEXTS = ("/help", "/programmes", "/menu")


class Clock:
    """Per chat, the times its updates arrived, first in first out: each first reply after an
    update ends its wait (a person's next update may arrive before the last is answered)."""

    def __init__(self) -> None:
        self.waiting: dict[int, list[float]] = {}
        self.latencies: list[float] = []
        self.replied: dict[int, int] = {}

    def pushed(self, chat: int) -> None:
        self.waiting.setdefault(chat, []).append(time.perf_counter())

    def on_call(self, method: str, params: dict[str, object], result: object) -> None:
        chat = params.get("chat_id")  # an int or its text, as the transport sent it
        if method in REPLIES and chat is not None and self.waiting.get(int(chat)):
            self.latencies.append(time.perf_counter() - self.waiting[int(chat)].pop(0))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--people", type=int, default=400)
    parser.add_argument("--engine", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        admin = schema = None
        if args.engine == "postgres":
            schema = f"bench_{uuid.uuid4().hex[:12]}"
            admin = await asyncpg.connect(POSTGRES)
            await admin.execute(f"CREATE SCHEMA {schema}")
            url = f"{POSTGRES}{'&' if '?' in POSTGRES else '?'}search_path={schema}"
        else:
            url = f"sqlite:///{folder / 'bench.sqlite3'}"
        try:
            async with running_cluster(url, 1, folder) as cluster:
                api = cluster.api
                people = [900_001 + n for n in range(args.people)]
                for person in people:
                    api.user(person)
                api.latency = args.latency
                clock = Clock()
                api.listeners.append(clock.on_call)
                total = int(args.rate * args.seconds)
                cpu = cpu_seconds(cluster.process.pid)
                started = time.perf_counter()
                for number in range(total):
                    due = started + number / args.rate
                    wait = due - time.perf_counter()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    person = people[number % len(people)]
                    clock.pushed(person)
                    api.send_text(person, TEXTS[number // len(people) % len(TEXTS)])
                sent_in = time.perf_counter() - started
                await api.wait_until(lambda: len(clock.latencies) >= total, timeout=300)
                cpu = cpu_seconds(cluster.process.pid) - cpu
        finally:
            if admin is not None:
                await admin.execute(f"DROP SCHEMA {schema} CASCADE")
                await admin.close()
    latencies = sorted(clock.latencies)
    n = len(latencies)
    print(
        f"{args.engine}, 1 worker, {os.cpu_count()} CPUs: {total} updates at"
        f" {total / sent_in:.1f}/s over {sent_in:.1f} s, Bot API latency"
        f" {args.latency * 1000:.0f} ms per call"
    )
    print(
        f"first reply after p50 {statistics.median(latencies) * 1000:.1f} ms,"
        f" p95 {latencies[int(n * 0.95)] * 1000:.1f} ms,"
        f" p99 {latencies[int(n * 0.99)] * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms;"
        f" bot CPU {cpu / total * 1000:.2f} ms per update"
    )


if __name__ == "__main__":
    asyncio.run(main())
