"""Broadcast benchmark (SPEC §9, issues 8 and 17): an admin broadcast to N people through
`civicbot run` against a local Bot API that enforces Telegram-like flood limits, while people
use the bot, killed mid-way and restarted.

    .venv/bin/python bench/bench_broadcast.py [--people 100000] [--scale 20] [--kill-at 0.4]
        [--talkers 20] [--talk-every 2] [--batch 25] [--idle-first]

Telegram allows about 30 messages/s in total and 1/s per chat; the bot is configured at
BROADCAST_RATE 25/s and SEND_RATE 30/s. The local Bot API answers 429 (`retry_after`) to a
message that would make more than 30 in the second up to it, or a second message within a second
to one chat (`FloodLimits`). A real-rate run to 100,000 people takes over an hour, so every rate
(the Bot API's total limit, BROADCAST_RATE, SEND_RATE) is multiplied by `--scale` (×20: 600/s,
500/s, 600/s); `--scale 1` is the real rate (use a smaller `--people`). The per-chat limit stays
at 1/s. `--talkers` simulated people (not in the audience) each send /help every `--talk-every`
seconds throughout. `--kill-at 0` runs without the SIGKILL; `--idle-first` runs the same
broadcast with nobody talking first, for comparison in the same run. Prints:

- the sustained delivery rate while the bot runs, as a fraction of the configured rate;
- the 429s the Bot API answered, and their share of all messages the bot tried;
- duplicates: people who received the broadcast more than once, after a SIGKILL of the bot
  process mid-way and a restart (and how many rows the kill left `unknown`, never resent);
- p50/p95 latency of replies to the people sending /help during the broadcast;
- the admin's status message half-way (its ETA) against how long the rest really took, and the
  final status and report.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.i18n import LANGUAGES
from bot.localapi.core import FloodLimits, LocalBotApi
from bot.localapi.server import LocalBotApiServer
from bot.services import broadcasts as service
from domain.broadcasts import Audience, Segment
from storage.clock import to_db
from storage.db import SqliteDatabase
from tests.load.cluster import BENCH_BALLOT_KEY

ADMIN = 9_000_000
TALKER_BASE = 5_000_000  # people using the bot during the broadcast get ids from here
TELEGRAM_TOTAL, BROADCAST_RATE, SEND_RATE = 30, 25, 30


async def build(path: Path, people: int) -> int:
    """A database with `people` signed-up people and a confirmed broadcast to everyone."""
    db = SqliteDatabase(path)
    await db.connect()
    await db.migrate()
    now = datetime.now(UTC)
    stamp = to_db(now)
    async with db.transaction() as session:
        await session.executemany(
            "INSERT INTO people (user_id, language, consented_at, district, created_at,"
            " updated_at) VALUES (?, ?, ?, 'mapo', ?, ?)",
            (
                (user_id, LANGUAGES[user_id % 5 == 0], stamp, stamp, stamp)
                for user_id in [ADMIN, *range(1, people)]
            ),
        )
    texts = {"ko": "시민참여예산 투표가 시작되었습니다.", "en": "The citizen budget vote is open."}
    admins = frozenset({ADMIN})
    draft = await service.create_draft(
        db, ADMIN, texts, None, None, Audience(segment=Segment.EVERYONE), now, admins
    )
    assert draft is not None
    await service.confirm(db, ADMIN, draft.id, now, admins, "ko")
    await db.close()
    return draft.id


async def progress(path: Path, broadcast_id: int) -> dict[str, int]:
    db = SqliteDatabase(path)
    await db.connect()
    try:
        async with db.reading() as session:
            rows = await session.fetchall(
                "SELECT status, COUNT(*) AS n FROM outbox WHERE broadcast_id = ? GROUP BY status",
                (broadcast_id,),
            )
        return {row["status"]: row["n"] for row in rows}
    finally:
        await db.close()


async def main() -> None:
    # The bot does not start without a ballot key (docs/ballot-secrecy.md).
    os.environ.setdefault("BALLOT_KEY", BENCH_BALLOT_KEY)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--scale", type=float, default=20)
    parser.add_argument(
        "--kill-at", type=float, default=0.4, help="fraction sent at SIGKILL (0: no kill)"
    )
    parser.add_argument("--batch", type=int, default=25, help="OUTBOX_BATCH_SIZE")
    parser.add_argument("--talkers", type=int, default=20, help="people sending /help")
    parser.add_argument("--talk-every", type=float, default=2.0, help="seconds between /helps")
    parser.add_argument(
        "--idle-first", action="store_true", help="first the same broadcast with nobody talking"
    )
    args = parser.parse_args()
    rate = BROADCAST_RATE * args.scale
    print(
        f"broadcast to {args.people:,} people; rates x{args.scale:g}: Bot API limit"
        f" {TELEGRAM_TOTAL * args.scale:g}/s in total and 1/s per chat, BROADCAST_RATE"
        f" {rate:g}/s, SEND_RATE {SEND_RATE * args.scale:g}/s, OUTBOX_BATCH_SIZE {args.batch}"
    )
    if args.idle_first:
        print("\n-- nobody talking")
        await scenario(args, talkers=0)
    print(
        f"\n-- {args.talkers} people each sending /help every {args.talk_every:g} s"
        f" ({args.talkers / args.talk_every:.1f} replies/s)"
    )
    await scenario(args, talkers=args.talkers)


async def scenario(args: argparse.Namespace, talkers: int) -> None:
    talker_ids = range(TALKER_BASE, TALKER_BASE + talkers)
    total_limit = TELEGRAM_TOTAL * args.scale
    rate = BROADCAST_RATE * args.scale
    workdir = Path(tempfile.mkdtemp(prefix="bench-broadcast-"))
    path = workdir / "bench.sqlite3"
    started = time.perf_counter()
    broadcast_id = await build(path, args.people)
    print(f"database with the broadcast queued: {time.perf_counter() - started:.1f} s")

    api = LocalBotApi()
    api.flood = FloodLimits(per_second=total_limit)
    for user_id in [ADMIN, *range(1, args.people), *talker_ids]:
        api.user(user_id)
    status = await api.call("sendMessage", {"chat_id": ADMIN, "text": "…"})
    status_id = status["result"]["message_id"]
    db = SqliteDatabase(path)
    await db.connect()
    await service.set_status_message(db, broadcast_id, ADMIN, status_id)
    await db.close()

    received: Counter[int] = Counter()
    deliveries: list[tuple[float, int]] = []  # (time, process number)
    accepted = [0]  # messages the Bot API took (sends and edits)
    asked: dict[int, float] = {}
    answered: dict[int, float] = {}
    latencies: list[float] = []
    halfway: list[tuple[float, str]] = []  # (time, text) of the first status edit past half
    talking_ids = set(talker_ids)
    process_number = [0]

    def listener(method: str, params: dict[str, Any], result: Any) -> None:
        if method.lower().startswith(("send", "edit")):
            accepted[0] += 1
        chat = params.get("chat_id")
        edit = method.lower() == "editmessagetext" and params.get("message_id") == status_id
        if edit and chat == ADMIN and not halfway and len(deliveries) >= args.people // 2:
            halfway.append((time.perf_counter(), str(params.get("text", ""))))
        if method.lower() != "sendmessage" or not isinstance(result, dict):
            return
        if chat in talking_ids:
            if chat in asked:
                answered[chat] = time.perf_counter()
                latencies.append(answered[chat] - asked.pop(chat))
        elif isinstance(chat, int) and chat != ADMIN:
            received[chat] += 1
            deliveries.append((time.perf_counter(), process_number[0]))

    api.listeners.append(listener)
    logging.getLogger("tornado.access").setLevel(logging.ERROR)  # a line per request otherwise
    server = LocalBotApiServer(api)
    await server.start()
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_BASE_URL": server.base_url,
        "TELEGRAM_API_FILE_URL": server.file_url,
        "DATABASE_URL": f"sqlite:///{path}",
        "ADMIN_IDS": str(ADMIN),
        "BROADCAST_RATE": str(rate),
        "SEND_RATE": str(SEND_RATE * args.scale),
        "OUTBOX_BATCH_SIZE": str(args.batch),
        "QUIET_HOURS_START": "00:00",  # no quiet hours: the benchmark may run at night
        "QUIET_HOURS_END": "00:00",
    }
    civicbot = str(Path(sys.executable).with_name("civicbot"))

    async def start() -> asyncio.subprocess.Process:
        process_number[0] += 1
        return await asyncio.create_subprocess_exec(
            civicbot, "run", cwd=workdir, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip

    talking_paused = [False]

    async def talk(stop: asyncio.Event) -> None:
        """Each simulated person sends /help about every `--talk-every` seconds (staggered),
        and not within 1.5 s of the last reply (Telegram's 1/s per chat applies to the
        replies too). They begin once the bot is up and sending."""
        while not deliveries:
            await asyncio.sleep(0.05)
        while not stop.is_set():
            for talker in talker_ids:
                quiet = time.perf_counter() - answered.get(talker, 0.0) > 1.5
                if talker not in asked and quiet and not talking_paused[0]:
                    asked[talker] = time.perf_counter()
                    api.send_text(talker, "/help")
                await asyncio.sleep(args.talk_every / len(talker_ids))

    stop_talking = asyncio.Event()
    talking = asyncio.create_task(talk(stop_talking)) if talkers else None
    process = await start()
    if args.kill_at > 0:
        kill_after = int(args.kill_at * args.people)
        while len(deliveries) < kill_after:
            await asyncio.sleep(0.05)
        # Nobody talks across the restart: a /help the dead process took but did not confirm
        # is answered again by the next one, which is no reply latency.
        talking_paused[0] = True
        await asyncio.sleep(2)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        print(f"SIGKILL after {len(deliveries):,} deliveries; restarting")
        asked.clear()
        process = await start()
        await asyncio.sleep(3)
        talking_paused[0] = False
    while True:
        counts = await progress(path, broadcast_id)
        if not counts.get("pending") and not counts.get("claimed"):
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(4)  # the status job's final edit and report
    stop_talking.set()
    if talking is not None:
        await talking
    process.send_signal(signal.SIGTERM)
    await process.wait()
    await server.stop()

    configured = rate
    runs = [[at for at, n in deliveries if n == number] for number in (1, 2)]
    for number, times in enumerate(runs, start=1):
        if len(times) > 1 and args.kill_at > 0:
            span = times[-1] - times[0]
            sustained = (len(times) - 1) / span
            print(
                f"process {number}: {len(times):,} delivered in {span:.1f} s ="
                f" {sustained:,.1f}/s = {sustained / configured:.1%} of the configured"
                f" {configured:g}/s"
            )
    all_times = [at for at, _ in deliveries]
    running = sum(times[-1] - times[0] for times in runs if times)
    overall = (len(all_times) - sum(1 for times in runs if times)) / running
    print(
        f"sustained delivery rate while running: {overall:,.1f}/s ="
        f" {overall / configured:.1%} of the configured rate"
        + (
            f" (restart gap excluded; {len(all_times) / (all_times[-1] - all_times[0]):,.1f}/s"
            " including it)"
            if args.kill_at > 0
            else ""
        )
    )
    rejected = api.flood.rejected
    tried = accepted[0] + rejected
    print(
        f"429 answers from the Bot API: {rejected} of {tried:,} messages tried"
        f" ({rejected / max(tried, 1):.1%})"
    )
    duplicates = sum(1 for count in received.values() if count > 1)
    once = sum(1 for count in received.values() if count == 1)
    print(
        f"recipients: {args.people:,} (the admin's copy not counted below); received once:"
        f" {once:,}; duplicates: {duplicates}; outbox rows: {dict(sorted(counts.items()))}"
    )
    latencies.sort()
    if latencies:
        p50 = statistics.median(latencies) * 1000
        p95 = latencies[int(0.95 * (len(latencies) - 1))] * 1000
        print(
            f"interactive /help replies during the broadcast: {len(latencies)},"
            f" p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
        )
    if halfway:
        at, text = halfway[0]
        print(
            f"status half-way: {text.replace(chr(10), ' | ')}"
            f" -- the rest took {all_times[-1] - at:.0f} s"
        )
    reports = [m.get("text", "") for m in api.bot_messages(ADMIN)]
    print("admin status message:", reports[0].replace("\n", " | "))
    print("final report:", reports[-1].replace("\n", " | "))


if __name__ == "__main__":
    asyncio.run(main())
