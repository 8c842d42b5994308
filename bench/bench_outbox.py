"""Outbox benchmark: a million pending reminders, how fast they are queued and delivered, and
how long the bot takes to start with them waiting.

    .venv/bin/python bench/bench_outbox.py [--people N] [--stages N] [--sample N] [--keep PATH]

Builds a fresh SQLite database with N people (default 100,000) and one programme with M stages
(default 10) whose deadlines are 72 hours away, then:

1. schedules: one scheduler check (`Automation.tick`) runs a reminder audience per stage that
   queues one DEADLINES reminder per person with `enqueue_many` — people × stages rows;
2. starts the bot on that database (build, initialize, post_init with its start-up recovery,
   polling and jobs started) against the in-process local Bot API, and stops it; then starts
   `civicbot run` as a new process against the HTTP local Bot API, until it polls;
3. claims and marks: the real sender (`OutboxSender.run_batch`) against the in-process local
   Bot API stub, for a sample of rows; the same over HTTP (PTB's default transport, and the
   bot's aiohttp transport) to the local Bot API served by this process, with the CPU per
   row this process spent (sender and server together, so an upper bound for the sender);
   and the storage half alone (claim + record, no Telegram) for a larger sample.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from telegram import Bot

from bot.app import build_application
from bot.automation import Automation, ReminderDue
from bot.config import Settings
from bot.context import Services
from bot.i18n import Translator
from bot.localapi.core import LocalBotApi
from bot.localapi.request import LocalRequest
from bot.localapi.server import LocalBotApiServer
from bot.notifications.sender import OutboxSender
from bot.notifications.texts import reminder_text
from bot.transport import AiohttpRequest
from domain.notifications import Category, Payload
from domain.programmes import parse_programmes
from storage import outbox
from storage.clock import to_db
from storage.db import Session, SqliteDatabase
from storage.outbox import Outcome
from storage.programmes import ProgrammesRepository
from tests.load.cluster import BENCH_BALLOT_KEY

NOW = datetime(2090, 5, 4, 3, 0, tzinfo=UTC)  # noon in Seoul: no quiet hours


def programme_file(stages: int) -> str:
    deadline = NOW + timedelta(hours=72)
    blocks = [
        '[[programme]]\nkey = "bench"\nkind = "poll"\n'
        'name = { ko = "벤치마크", en = "Benchmark" }\n'
    ]
    for number in range(stages):
        blocks.append(
            f'[[programme.stage]]\nkey = "s{number}"\n'
            f'name = {{ ko = "단계 {number}", en = "Stage {number}" }}\n'
            f"starts_at = {(NOW - timedelta(days=10)).isoformat()}\n"
            f"ends_at = {deadline.isoformat()}\n"
        )
    return "\n".join(blocks)


def settings_for(path: Path, batch: int) -> Settings:
    return Settings(
        _env_file=None,
        telegram_bot_token="123456:LOCAL-TEST-TOKEN",
        database_url=f"sqlite:///{path}",
        outbox_batch_size=batch,
        broadcast_rate=1_000_000,
        send_rate=1_000_000,
    )


async def fill(path: Path, people: int, stages: int) -> tuple[float, int]:
    """People and stages, then one scheduler check that queues every reminder."""
    db = SqliteDatabase(path)
    await db.connect()
    await db.migrate()
    stamp = to_db(NOW)
    async with db.transaction() as session:
        await session.executemany(
            "INSERT INTO people (user_id, language, consented_at, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                (user_id, "ko" if user_id % 5 else "en", stamp, stamp, stamp)
                for user_id in range(1, people + 1)
            ),
        )
        for programme in parse_programmes(programme_file(stages)):
            await ProgrammesRepository(session).upsert(programme, NOW)

    async def everyone(session: Session, due: ReminderDue) -> int:
        texts = {language: reminder_text(Translator(language), due) for language in ("ko", "en")}
        rows = await session.fetchall("SELECT user_id, language FROM people WHERE active = 1")
        return await outbox.enqueue_many(
            session,
            (
                (
                    row["user_id"],
                    Payload(text=texts[row["language"]], parse_mode="HTML"),
                    due.dedupe_key(row["user_id"]),
                )
                for row in rows
            ),
            category=Category.DEADLINES,
            now=due.now,
        )

    automation = Automation(Services(settings_for(path, 10), db, lambda: NOW))
    automation.add_reminder_audience(everyone)
    started = time.perf_counter()
    report = await automation.tick()
    elapsed = time.perf_counter() - started
    await db.close()
    return elapsed, report.reminders


async def start_up(path: Path, api: LocalBotApi) -> tuple[float, float]:
    """From nothing to a running bot (polling and jobs started) on this database; then to the
    end of its first scheduler check and first sender batch."""
    started = time.perf_counter()
    application = build_application(settings_for(path, 10), api.token, request=LocalRequest(api))
    application.services.clock = lambda: NOW
    await application.initialize()
    assert application.post_init is not None and application.updater is not None
    await application.post_init(application)
    await application.updater.start_polling(poll_interval=0, timeout=timedelta(seconds=0.1))
    await application.start()
    ready = time.perf_counter() - started
    await application.automation.tick()
    await application.automation.sender.run_batch()
    working = time.perf_counter() - started
    await application.updater.stop()
    await application.stop()
    await application.shutdown()
    return ready, working


async def cold_start(path: Path) -> float:
    """`civicbot run` as a new process (imports included) until it polls for updates."""
    api = LocalBotApi()
    server = LocalBotApiServer(api)
    await server.start()
    env = dict(
        os.environ,
        TELEGRAM_BOT_TOKEN=api.token,
        TELEGRAM_API_BASE_URL=server.base_url,
        TELEGRAM_API_FILE_URL=server.file_url,
        DATABASE_URL=f"sqlite:///{path}",
    )
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("civicbot")),
        "run",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        # Polled: the long poll it opens answers only when it times out.
        while not any(method == "getUpdates" for method, _ in api.calls):
            if time.perf_counter() - started > 60:
                raise TimeoutError("civicbot run did not start polling within 60 s")
            await asyncio.sleep(0.005)
        return time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGINT)
        await process.wait()
        await server.stop()


async def send_sample(path: Path, api: LocalBotApi, sample: int, batch: int) -> float:
    """The real sender against the local Bot API stub: claim, send, mark."""
    db = SqliteDatabase(path)
    await db.connect()
    request = LocalRequest(api)
    async with Bot(api.token, request=request, get_updates_request=request) as bot:
        sender = OutboxSender(db, bot, settings_for(path, batch), lambda: NOW)
        sent = 0
        started = time.perf_counter()
        while sent < sample:
            batch_sent = (await sender.run_batch()).sent
            if not batch_sent:
                raise SystemExit(f"only {sent:,} rows left to send; use a smaller --sample")
            sent += batch_sent
        elapsed = time.perf_counter() - started
    await db.close()
    return sent / elapsed


async def send_over_http(
    path: Path, people: int, sample: int, batch: int, transport: str
) -> tuple[float, float]:
    """The real sender over HTTP, with python-telegram-bot's default transport (httpx) or the
    bot's (aiohttp), to the local Bot API served by this process: (rows/s, CPU ms per row of
    this process, the server's share included)."""
    api = LocalBotApi()
    for user_id in range(1, people + 1):
        api.user(user_id)
    server = LocalBotApiServer(api)
    await server.start()
    db = SqliteDatabase(path)
    await db.connect()
    try:
        request = AiohttpRequest() if transport == "aiohttp" else None
        async with Bot(api.token, base_url=server.base_url, request=request) as bot:
            sender = OutboxSender(db, bot, settings_for(path, batch), lambda: NOW)
            sent = 0
            started, cpu = time.perf_counter(), time.process_time()
            while sent < sample:
                batch_sent = (await sender.run_batch()).sent
                if not batch_sent:
                    raise SystemExit(f"only {sent:,} rows left to send; use a smaller --sample")
                sent += batch_sent
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await db.close()
        await server.stop()
    return sent / elapsed, cpu / sent * 1000


async def storage_sample(path: Path, sample: int, batch: int) -> float:
    """The database half alone: claim a batch, record it sent."""
    db = SqliteDatabase(path)
    await db.connect()
    done = 0
    started = time.perf_counter()
    while done < sample:
        async with db.transaction() as session:
            rows, _ = await outbox.claim(session, now=NOW, limit=batch, quiet_end=None)
        if not rows:
            raise SystemExit(f"only {done:,} rows left to claim; use a smaller --sample")
        async with db.transaction() as session:
            await outbox.record(
                session, [Outcome(row.id, "sent", message_id=row.id) for row in rows], NOW
            )
        done += len(rows)
    elapsed = time.perf_counter() - started
    await db.close()
    return done / elapsed


async def run(args: argparse.Namespace, path: Path) -> None:
    rows = args.people * args.stages
    print(f"outbox: {args.people:,} people x {args.stages} stages = {rows:,} reminders, {path}")
    elapsed, queued = await fill(path, args.people, args.stages)
    print(
        f"schedule: {queued:,} reminders queued in {elapsed:.1f} s ({queued / elapsed:,.0f} rows/s)"
    )
    print(f"database: {path.stat().st_size / 2**20:,.0f} MiB")

    api = LocalBotApi()
    for user_id in range(1, args.people + 1):
        api.user(user_id)
    for ready, working in [await start_up(path, api) for _ in range(3)]:
        print(
            f"start-up with {queued:,} pending: running in {ready:.3f} s,"
            f" first check and first batch done in {working:.3f} s"
        )
    for _ in range(3):
        loaded = await cold_start(path)
        empty = await cold_start(path.with_name("empty.sqlite3"))
        print(
            f"cold start of `civicbot run` until it polls: {loaded:.2f} s"
            f" (with an empty database: {empty:.2f} s)"
        )
    for batch in (10, 50):
        rate = await send_sample(path, api, args.sample, batch)
        print(f"claim+send+mark via local Bot API, batch {batch}: {rate:,.0f} rows/s")
    for transport, name in (("httpx", "PTB's default transport, httpx"), ("aiohttp", "aiohttp")):
        for batch in (10, 50):
            rate, cpu_ms = await send_over_http(
                path, args.people, args.sample // 4, batch, transport
            )
            print(
                f"claim+send+mark over HTTP ({name}), batch {batch}:"
                f" {rate:,.0f} rows/s, {cpu_ms:.2f} ms CPU per row (sender and Bot API server)"
            )
    for batch in (10, 50):
        rate = await storage_sample(path, args.sample * 5, batch)
        print(f"claim+mark, storage only, batch {batch}: {rate:,.0f} rows/s")
    print("Telegram allows about 30 messages/s")


def main() -> int:
    # The bot does not start without a ballot key (docs/ballot-secrecy.md).
    os.environ.setdefault("BALLOT_KEY", BENCH_BALLOT_KEY)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--stages", type=int, default=10)
    parser.add_argument("--sample", type=int, default=20_000, help="rows sent per measure")
    parser.add_argument("--keep", type=Path, help="write the database here and keep it")
    args = parser.parse_args()
    if args.keep is not None:
        asyncio.run(run(args, args.keep))
        return 0
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(args, Path(folder) / "bench.sqlite3"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
