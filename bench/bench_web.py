"""Web side benchmark: the public results page and the Mini App's ballot submit, served by a
real `civicbot run` process, on SQLite and on PostgreSQL.

    PYTHONPATH=. .venv/bin/python bench/bench_web.py [--voters N] [--ballots N]
        [--requests N] [--concurrency N] [--engines sqlite,postgres]

For each engine: a fresh database with a city-wide PB vote open now (30 projects, a budget,
k = 5), N voters signed up with their PB answers and B ballots already cast; then
`civicbot run` (long polling against the HTTP local Bot API in this process, the pages on a
free port). This process then sends, C at a time:

- `GET /healthz` — the reference: the same server's smallest answer;
- `GET /results/ID` — the public results page (chart image excluded), counted live at most
  every RESULTS_CACHE_SECONDS (15 s) as deployed, and with RESULTS_CACHE_SECONDS=0 (every
  request recounts all ballots: the worst case);
- `POST /app/f/ballot/ID/submit` — a ballot cast through the Mini App with signed initData, one
  per voter (each a new voter or a replaced ballot), through `bot.services.voting.cast`.

Reported: requests per second (requests ÷ wall time), latency p50 / p95 as the client saw it,
and the server process's CPU time per request (from /proc). The client (httpx) runs on the
same 2 cores as the server, so rates are a floor; `cores ÷ CPU per request` is the ceiling.
PostgreSQL comes from CIVICBOT_BENCH_POSTGRES (default: the local server's `test` database);
each run uses a scratch schema, dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from bench.bench_workers import cpu_seconds
from bot.localapi.core import LocalBotApi
from bot.localapi.server import LocalBotApiServer
from bot.services import voting
from bot.web.auth import sign_init_data
from domain.people import Relation
from domain.programmes import parse_programmes
from domain.voting import parse_ballot_file
from storage.ballotkey import BallotKey, attach
from storage.db import Database, Session, open_database
from storage.people import PeopleRepository
from storage.programmes import ProgrammesRepository
from storage.voting import VotingRepository
from tests.load.cluster import BENCH_BALLOT_KEY, free_port

POSTGRES = os.environ.get("CIVICBOT_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
CIVICBOT = str(Path(sys.executable).with_name("civicbot"))
FIRST_VOTER = 100_000


def programme(now: datetime) -> str:
    start = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    end = (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return f"""
[[programme]]
key = "bench-pb"
kind = "participatory_budget"
name = {{ ko = "벤치마크 시민참여예산", en = "Benchmark PB" }}
[[programme.stage]]
key = "vote"
name = {{ ko = "시민투표", en = "Citizens' vote" }}
starts_at = {start}
ends_at = {end}
actions = ["vote"]
"""


def ballot() -> str:
    items = "".join(
        f'[[heading.item]]\nkey = "p{n:02d}"\ntitle = "사업 {n}"\ncost = {(n % 7 + 1) * 100}\n'
        f'summary = "벤치마크 사업 {n}의 요약"\n'
        for n in range(1, 31)
    )
    return (
        'programme = "bench-pb"\nstage = "vote"\n[[heading]]\nkey = "city"\n'
        'name = { ko = "광역 사업", en = "City-wide" }\nmax_choices = 5\nbudget = 3000\n'
        f"knapsack = true\n{items}"
    )


def choices_of(number: int) -> list[str]:
    """Five projects that fit the budget, varying with the voter."""
    return sorted({f"p{(number * k) % 30 + 1:02d}" for k in (1, 3, 7, 11, 13)})[:3]


async def cast_ballots(
    session: Session, heading_id: int, voters: Iterable[int], now: datetime
) -> None:
    """Each voter's ballot, stored as `cast` stores it (waiting in the ballot table)."""
    repository = VotingRepository(session)
    stage_id, heading = (await repository.heading(heading_id)) or (0, None)
    assert heading is not None
    for user_id in voters:
        name = repository.key().pseudonym(stage_id, heading.key, user_id)
        await repository.cast(
            heading_id, stage_id, heading.group, user_id, name, choices_of(user_id), 1.0, "", now
        )


async def prepare(db: Database, voters: int, ballots: int, now: datetime) -> int:
    async with db.transaction() as session:
        for item in parse_programmes(programme(now)):
            await ProgrammesRepository(session).upsert(item, now)
    heading_id = (await voting.import_ballot(db, parse_ballot_file(ballot())))[0][0]
    async with db.transaction() as session:
        people = PeopleRepository(session)
        for user_id in range(FIRST_VOTER, FIRST_VOTER + max(voters, ballots)):
            await people.consent(user_id, "ko", now)
            await people.update(
                user_id, now, relation=Relation.RESIDENT.value, district="mapo",
                birth_year=1985, declared_not_official_at=now,
            )  # fmt: skip
        await cast_ballots(session, heading_id, range(FIRST_VOTER, FIRST_VOTER + ballots), now)
    await voting.mix_ballots(db)  # as the bot's periodic mix would have
    return heading_id


@contextlib.asynccontextmanager
async def database(engine: str, folder: Path) -> AsyncIterator[str]:
    if engine == "sqlite":
        yield f"sqlite:///{folder / 'web.sqlite3'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES)
    await admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES}{'&' if '?' in POSTGRES else '?'}search_path={schema}"
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


@contextlib.asynccontextmanager
async def bot_process(
    url: str, api: LocalBotApiServer, folder: Path, cache_seconds: float
) -> AsyncIterator[tuple[str, int]]:
    port = free_port()
    env = dict(os.environ)
    env.update(
        BALLOT_KEY=BENCH_BALLOT_KEY,
        TELEGRAM_BOT_TOKEN=api.api.token,
        TELEGRAM_API_BASE_URL=api.base_url,
        TELEGRAM_API_FILE_URL=api.file_url,
        DATABASE_URL=url,
        WEB_PORT=str(port),
        RESULTS_CACHE_SECONDS=str(cache_seconds),
        WEB_WRITE_LIMIT="1000/minute",
        WEB_READ_LIMIT="100000/minute",
    )
    process = await asyncio.create_subprocess_exec(
        CIVICBOT, "run", env=env, cwd=folder,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{base}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
        yield base, process.pid
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), timeout=60)


async def load(
    server: tuple[str, int],
    requests: int,
    concurrency: int,
    send: Callable[[httpx.AsyncClient, int], object],
) -> str:
    """ "requests/s | p50 ms | p95 ms | server CPU ms per request" for `requests` calls,
    `concurrency` at a time."""
    base, pid = server
    cpu_before = cpu_seconds(pid)
    latencies: list[float] = []
    counter = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def worker() -> None:
            for number in counter:
                started = time.perf_counter()
                answer = await send(client, number)  # type: ignore[misc]
                assert answer.status_code == 200, (answer.status_code, answer.text[:300])
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - began
    cpu = (cpu_seconds(pid) - cpu_before) / requests * 1000
    cuts = statistics.quantiles(latencies, n=100)
    return f"{requests / wall:,.0f} | {cuts[49] * 1000:.1f} | {cuts[94] * 1000:.1f} | {cpu:.2f}"


async def measure(engine: str, args: argparse.Namespace, folder: Path) -> list[str]:
    rows = []
    now = datetime.now(UTC)
    api = LocalBotApi()
    server = LocalBotApiServer(api)
    await server.start()
    try:
        async with database(engine, folder) as url:
            db = open_database(url)
            await db.connect()
            await db.migrate()
            await attach(db, BallotKey.from_text(BENCH_BALLOT_KEY))
            heading = await prepare(db, args.voters, args.ballots, now)
            await db.close()
            token = api.token
            signed = {
                n: sign_init_data(token, FIRST_VOTER + n, "ko", datetime.now(UTC))
                for n in range(args.voters)
            }

            def health(client: httpx.AsyncClient, n: int) -> object:
                return client.get("/healthz")

            def results(client: httpx.AsyncClient, n: int) -> object:
                return client.get(f"/results/{heading}")

            def submit(client: httpx.AsyncClient, n: int) -> object:
                voter = n % args.voters
                return client.post(
                    f"/app/f/ballot/{heading}/submit",
                    data={"choice": choices_of(voter + 1)},
                    headers={"Authorization": f"tma {signed[voter]}"},
                )

            async with bot_process(url, server, folder, 15) as running:
                for name, send in (
                    ("GET /healthz (reference)", health),
                    ("GET /results/ID (cached 15 s)", results),
                    ("POST ballot submit (Mini App)", submit),
                ):
                    figures = await load(running, args.requests, args.concurrency, send)
                    rows.append(f"| {engine} | {name} | {figures} |")
            async with bot_process(url, server, folder, 0) as running:
                count = max(args.requests // 10, 50)
                figures = await load(running, count, args.concurrency, results)
                rows.append(f"| {engine} | GET /results/ID (recounted each time) | {figures} |")
    finally:
        await server.stop()
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voters", type=int, default=2000)
    parser.add_argument("--ballots", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    args.ballots = max(args.ballots, args.voters)
    print(
        f"{args.ballots:,} ballots cast by {args.ballots:,} voters; {args.voters:,} of them"
        f" submit again through the Mini App; {args.requests:,} requests per line,"
        f" {args.concurrency} at a time"
    )
    print("| engine | request | requests/s | p50 ms | p95 ms | server CPU ms/request |")
    print("|---|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as scratch:
        for engine in args.engines.split(","):
            for row in await measure(engine, args, Path(scratch)):
                print(row, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
