"""CPU per update: the bot against a minimal python-telegram-bot 22 bot (issue 22).

    PYTHONPATH=. .venv/bin/python bench/bench_floor.py [--people N] [--rounds R]

Both bots run as processes, one after the other, with long polling against the same HTTP
local Bot API served by this process, and get the same kinds of updates (a text message or a
button press) in the same order: the bot's actions below for N people, one update at a time
(the next when the answer to the last is in and the bot has been quiet for 25 ms). CPU per
update is the process's user + system time (from /proc) over the block of one action, less
what the process spends idle over the same time (measured before), divided by the updates.

The minimal bot (`bench/minimal_bot.py`) is a two-state ConversationHandler that replies to
every message and answers and edits a button's message in place, on PTB's default transport.

A second pass runs the bot in this process on the in-memory Bot API, to count per update the
SQL statements, the units of work (read-only and writing) and the Bot API calls.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.app import build_application, running
from bot.config import Settings
from bot.localapi.core import LocalBotApi
from bot.localapi.request import LocalRequest
from bot.localapi.server import LocalBotApiServer
from storage.db import USAGE, open_database
from tests.load.citizens import World, prepare_world
from tests.load.cluster import BENCH_BALLOT_KEY

CIVICBOT = str(Path(sys.executable).with_name("civicbot"))
MINIMAL = str(Path(__file__).with_name("minimal_bot.py"))
QUIET = 0.025  # seconds without a Bot API call after the first answer: the update is done
FIRST_PERSON = 800_001
BOT_ENV = {
    "BALLOT_KEY": BENCH_BALLOT_KEY,  # the bot does not start without one
    "AUTOMATION_INTERVAL": "3600",
    "SEND_RATE": "10000",
    "BROADCAST_RATE": "5000",
    "QUIET_HOURS_START": "00:00",
    "QUIET_HOURS_END": "00:00",
}


class Driver:
    """Pushes one person's update and waits until the bot has answered and gone quiet."""

    def __init__(self, api: LocalBotApi) -> None:
        self.api = api
        self.calls = 0  # Bot API calls other than getUpdates
        self.last_call = 0.0
        self.kinds: list[str] = []
        api.listeners.append(self._on_call)

    def _on_call(self, method: str, params: dict[str, Any], result: Any) -> None:
        if method != "getUpdates":
            self.calls += 1
            self.last_call = time.perf_counter()

    async def _act(self, kind: str, push: Callable[[], object]) -> None:
        self.kinds.append(kind)
        before = self.calls
        push()
        await self.api.wait_until(lambda: self.calls > before, timeout=30)
        while time.perf_counter() - self.last_call < QUIET:
            await asyncio.sleep(QUIET / 5)

    async def say(self, user: int, text: str) -> None:
        await self._act("text", lambda: self.api.send_text(user, text))

    async def press(self, user: int, label: str | None = None, data: str | None = None) -> None:
        """Press the newest such button, waiting for it if the bot is still answering."""

        def find() -> tuple[int, str] | None:
            for message in reversed(self.api.bot_messages(user)):
                for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                    for button in row:
                        if (label is None or button["text"] == label) and (
                            data is None or button.get("callback_data") == data
                        ):
                            return message["message_id"], button["callback_data"]
            return None

        try:
            await self.api.wait_until(lambda: find() is not None, timeout=10)
        except TimeoutError:
            raise AssertionError(
                f"no button {label or data!r}:\n{self.api.transcript(user)}"
            ) from None
        found = find()
        assert found is not None
        await self._act("button", lambda: self.api.press(user, *found))


Step = Callable[[Driver, int], Awaitable[None]]


def says(text: str) -> Step:
    async def step(driver: Driver, user: int) -> None:
        await driver.say(user, text)

    return step


def presses(label: str | None = None, data: str | None = None) -> Step:
    async def step(driver: Driver, user: int) -> None:
        await driver.press(user, label, data)

    return step


async def to_submit(driver: Driver, user: int) -> None:
    """The proposal's remaining steps (photos, place, similar proposals…): Next until
    Submit, then Submit."""
    wanted = {"pp:submit", "pp:next", "pp:dist:all"}

    def offered() -> set[str]:
        latest = driver.api.last_bot_message(user)
        return {
            str(button.get("callback_data"))
            for row in (latest.get("reply_markup") or {}).get("inline_keyboard", [])
            for button in row
        }

    all_of_seoul = False
    for _ in range(15):
        await driver.api.wait_until(lambda: bool(offered() & wanted), timeout=10)
        now = offered()
        if "pp:submit" in now:
            await driver.press(user, data="pp:submit")
            return
        if "pp:dist:all" in now and not all_of_seoul:
            all_of_seoul = True
            await driver.press(user, data="pp:dist:all")
        else:
            await driver.press(user, data="pp:next")
    raise AssertionError(driver.api.transcript(user)[-3000:])


def actions(world: World) -> list[tuple[str, list[Step]]]:
    """(name, steps per person): every person goes through each action's steps in turn."""
    proposal = world.proposal_ids[0]
    heading = world.heading_id
    return [
        (
            "onboarding (journey)",
            [says("/start"), presses("동의합니다"), presses("서울에 살아요"), presses("마포구")],
        ),
        ("/help", [says("/help")]),
        ("/menu", [says("/menu")]),
        ("programme button", [presses(data="menu:programmes")]),
        ("proposal card (deep link)", [says(f"/start p_{proposal}")]),
        ("공감 tap (card edited)", [presses(data=f"pr:sup:{proposal}")]),
        ("/propose", [says("/propose")]),
        ("/propose title step", [says("벤치마크로 쓰는 제안 제목")]),
        (
            "rest of a proposal (journey)",
            [
                says("공원에 그늘막을 더 세워 주세요. 여름마다 너무 덥습니다."),
                presses("공원"),
                presses(data="pp:scope:city"),
                to_submit,
            ],
        ),
        (
            "a vote (journey)",
            [
                says("/vote"),
                presses(data=f"vt:h:{heading}:0"),
                presses(data=f"vt:t:{heading}:0"),
                presses(data=f"vt:t:{heading}:1"),
                presses(data=f"vt:v:{heading}"),
                presses(data=f"vt:s:{heading}"),
            ],
        ),
    ]


@dataclass
class Block:
    name: str
    updates: int = 0
    kinds: list[str] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # per update, one per round
    statements: float = 0.0
    reads: float = 0.0
    writes: float = 0.0
    api_calls: float = 0.0


def cpu_seconds(pid: int) -> float:
    """CPU time of the process's live threads, in nanoseconds' resolution (schedstat; the
    10 ms ticks of /proc/PID/stat are too coarse here). Both bots' threads live as long as
    the process (the event loop, the executor's)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1e9


async def idle_rate(pid: int, seconds: float = 3.0) -> float:
    before, started = cpu_seconds(pid), time.perf_counter()
    await asyncio.sleep(seconds)
    return (cpu_seconds(pid) - before) / (time.perf_counter() - started)


async def start_process(
    api: LocalBotApi, command: list[str], env: dict[str, str], folder: Path
) -> asyncio.subprocess.Process:
    polls = sum(1 for method, _ in api.calls if method == "getUpdates")
    log = (folder / "bot.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        *command, env=env, cwd=folder, stdout=log, stderr=log
    )
    await api.wait_until(
        lambda: sum(1 for method, _ in api.calls if method == "getUpdates") > polls + 1,
        timeout=60,
    )
    return process


async def stop_process(process: asyncio.subprocess.Process) -> None:
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()


async def make_world(url: str) -> World:
    db = open_database(url)
    await db.connect()
    await db.migrate()
    try:
        return await prepare_world(db, datetime.now(UTC), proposals=2, max_choices=2)
    finally:
        await db.close()


async def run_bot_blocks(
    server: LocalBotApiServer, folder: Path, people: int, blocks: list[Block]
) -> None:
    api = server.api
    url = f"sqlite:///{folder / 'bot.sqlite3'}"
    world = await make_world(url)
    env = dict(
        os.environ,
        TELEGRAM_BOT_TOKEN=api.token,
        TELEGRAM_API_BASE_URL=server.base_url,
        TELEGRAM_API_FILE_URL=server.file_url,
        DATABASE_URL=url,
        **BOT_ENV,
    )
    process = await start_process(api, [CIVICBOT, "run"], env, folder)
    try:
        await measure_blocks(api, process.pid, world, people, FIRST_PERSON, blocks, record=True)
    finally:
        await stop_process(process)


async def measure_blocks(
    api: LocalBotApi,
    pid: int,
    world: World,
    people: int,
    first: int,
    blocks: list[Block],
    record: bool,
) -> None:
    idle = await idle_rate(pid)
    driver = Driver(api)
    for (_name, steps), block in zip(actions(world), blocks, strict=True):
        driver.kinds = []
        cpu, started = cpu_seconds(pid), time.perf_counter()
        for user in range(first, first + people):
            api.user(user)
            for step in steps:
                await step(driver, user)
        await asyncio.sleep(QUIET)
        spent = cpu_seconds(pid) - cpu - idle * (time.perf_counter() - started)
        if record:
            block.updates, block.kinds = len(driver.kinds), driver.kinds
        block.cpu_ms.append(spent / len(driver.kinds) * 1000)


async def run_minimal_blocks(
    server: LocalBotApiServer, folder: Path, people: int, blocks: list[Block], first: int
) -> None:
    api = server.api
    env = dict(os.environ, TELEGRAM_BOT_TOKEN=api.token, TELEGRAM_API_BASE_URL=server.base_url)
    process = await start_process(api, [sys.executable, MINIMAL], env, folder)
    try:
        idle = await idle_rate(process.pid)
        driver = Driver(api)
        for user in range(first, first + people):
            api.user(user)
            await driver.say(user, "hello")  # every chat has a message with the button
        for block in blocks:
            cpu, started = cpu_seconds(process.pid), time.perf_counter()
            per_person = block.updates // people
            for user in range(first, first + people):
                for kind in block.kinds[:per_person]:
                    if kind == "text":
                        await driver.say(user, "텍스트")
                    else:
                        await driver.press(user, data="tap")
            await asyncio.sleep(QUIET)
            spent = cpu_seconds(process.pid) - cpu - idle * (time.perf_counter() - started)
            block.cpu_ms.append(spent / block.updates * 1000)
    finally:
        await stop_process(process)


async def count_in_process(folder: Path, people: int, blocks: list[Block]) -> None:
    """The bot in this process on the in-memory Bot API: SQL and Bot API calls per update."""
    url = f"sqlite:///{folder / 'count.sqlite3'}"
    world = await make_world(url)
    api = LocalBotApi()
    settings = Settings(
        _env_file=None,
        telegram_bot_token=api.token,
        database_url=url,
        automation_interval=3600,
        send_rate=10_000,
        broadcast_rate=5000,
        ballot_key=BENCH_BALLOT_KEY,
    )
    application = build_application(settings, api.token, request=LocalRequest(api))
    driver = Driver(api)
    async with running(application, poll_timeout=0.5):
        for (_name, steps), block in zip(actions(world), blocks, strict=True):
            driver.kinds = []
            usage, calls = USAGE.snapshot(), driver.calls
            for user in range(FIRST_PERSON, FIRST_PERSON + people):
                api.user(user)
                for step in steps:
                    await step(driver, user)
            await asyncio.sleep(QUIET)
            updates = len(driver.kinds)
            statements, reads, writes = (
                b - a for a, b in zip(usage, USAGE.snapshot(), strict=True)
            )
            block.statements, block.reads = statements / updates, reads / updates
            block.writes, block.api_calls = writes / updates, (driver.calls - calls) / updates


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=30, help="people per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each bot, alternating")
    args = parser.parse_args()
    world_actions = [name for name, _ in actions(World((0,), "", 0, (), 0, ()))]
    ours = [Block(name) for name in world_actions]
    floor = [Block(name) for name in world_actions]
    with tempfile.TemporaryDirectory() as scratch:
        server = LocalBotApiServer(LocalBotApi())
        await server.start()
        try:
            for number in range(args.rounds):
                folder = Path(scratch) / f"round{number}"
                folder.mkdir()
                await run_bot_blocks(server, folder, args.people, ours)
                for mine, theirs in zip(ours, floor, strict=True):
                    theirs.updates, theirs.kinds = mine.updates, mine.kinds
                first = FIRST_PERSON + 100_000 * (number + 1)
                await run_minimal_blocks(server, folder, args.people, floor, first)
        finally:
            await server.stop()
        await count_in_process(Path(scratch), min(args.people, 10), ours)
    print(
        f"{args.people} people, {args.rounds} rounds; {os.cpu_count()} CPUs;"
        " CPU ms per update: median of the rounds (min-max)"
    )
    header = (
        f"{'action':<30} {'updates':>7} {'bot ms':>16} {'minimal ms':>16} {'ratio':>6}"
        f" {'SQL':>5} {'reads':>5} {'writes':>6} {'API':>4}"
    )
    print(header)
    total_ours = total_floor = 0.0
    for mine, theirs in zip(ours, floor, strict=True):
        a, b = statistics.median(mine.cpu_ms), statistics.median(theirs.cpu_ms)
        total_ours += a * mine.updates
        total_floor += b * mine.updates
        print(
            f"{mine.name:<30} {mine.updates:>7}"
            f" {a:6.2f} ({min(mine.cpu_ms):4.1f}-{max(mine.cpu_ms):4.1f})"
            f" {b:6.2f} ({min(theirs.cpu_ms):4.1f}-{max(theirs.cpu_ms):4.1f})"
            f" {a / b:5.2f}x {mine.statements:5.1f} {mine.reads:5.1f} {mine.writes:6.1f}"
            f" {mine.api_calls:4.1f}"
        )
    print(f"{'all updates':<30} {'':>7} {'':>16} {'':>16} {total_ours / total_floor:5.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
