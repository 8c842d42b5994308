"""SIGKILL a worker under load (issue 21): no acknowledged update is lost, none is applied
twice, and the restarted worker takes its share of the load.

Three `civicbot run --webhook` workers on PostgreSQL; citizens signed up through the chat
first, then each opens and supports four proposals while one worker is killed (and started
again by the supervisor). The citizens do not wait for replies (a reply of the update caught
between its commit and its answer may be missing: the effect is what must not be lost); each
waits for its update to be done in the intake table before the next.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage.ballotkey import BallotKey, attach
from storage.clock import to_db
from storage.db import Database, open_database
from tests.conftest import TEST_BALLOT_KEY
from tests.load.citizens import Citizen, prepare_world
from tests.load.cluster import running_cluster

WORKERS = 3
CITIZENS = 24
PROPOSALS = 4
FIRST = 600_001
NO_QUIET_HOURS = {"QUIET_HOURS_START": "00:00", "QUIET_HOURS_END": "00:00"}


def worker_pids(supervisor: int) -> list[int]:
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return [int(pid) for pid in children]


async def done(db: Database, update_id: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with db.reading() as session:
            if await session.scalar(
                "SELECT 1 FROM updates WHERE update_id = ? AND done_at IS NOT NULL", (update_id,)
            ):
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"update {update_id} was not done within {timeout} s")


async def test_a_worker_killed_under_load_loses_nothing_and_applies_nothing_twice(
    database_url: str, tmp_path: Path
) -> None:
    db = open_database(database_url)
    if not db.shared:
        pytest.skip("several workers need PostgreSQL; an SQLite file serves one process")
    await db.connect()
    try:
        await db.migrate()
        await attach(db, BallotKey.from_text(TEST_BALLOT_KEY))
        world = await prepare_world(db, datetime.now(UTC), proposals=PROPOSALS)
        async with running_cluster(
            database_url, WORKERS, tmp_path, extra_env=NO_QUIET_HOURS
        ) as cluster:
            api = cluster.api
            citizens = [Citizen(api, FIRST + n) for n in range(CITIZENS)]
            await asyncio.gather(*(citizen.sign_up() for citizen in citizens))
            pushed_before = api.updates_pushed
            progress = 0
            taps = CITIZENS * PROPOSALS * 2

            async def supports(citizen: Citizen) -> None:
                nonlocal progress
                for proposal_id in world.proposal_ids:
                    api.send_text(citizen.user_id, f"/start p_{proposal_id}")
                    await done(db, api.last_update_id)
                    progress += 1
                    card = api.last_bot_message(citizen.user_id)["message_id"]
                    api.press(citizen.user_id, card, f"pr:sup:{proposal_id}")
                    await done(db, api.last_update_id)
                    progress += 1

            killed_at = ""

            async def killer() -> None:
                nonlocal killed_at
                while progress < taps * 0.3:
                    await asyncio.sleep(0.01)
                victim = worker_pids(cluster.process.pid)[0]
                killed_at = to_db(datetime.now(UTC))
                os.kill(victim, signal.SIGKILL)

            commands = sum(1 for method, _ in api.calls if method == "setMyCommands")
            await asyncio.gather(killer(), *(supports(c) for c in citizens))
            # The supervisor starts the killed worker again; once it is up, more load comes.
            await api.wait_until(
                lambda: sum(1 for m, _ in api.calls if m == "setMyCommands") >= commands + 5,
                timeout=60,
            )
            restarted_at = to_db(datetime.now(UTC))

            async def asks_for_help(citizen: Citizen) -> None:
                for _ in range(4):
                    api.send_text(citizen.user_id, "/help")
                    await done(db, api.last_update_id)

            await asyncio.gather(*(asks_for_help(c) for c in citizens))
            pushed = api.updates_pushed
            async with db.reading() as session:
                rows = await session.fetchall(
                    "SELECT update_id, claimed_by, claimed_at, done_at FROM updates"
                )
                supports_by_proposal = dict(
                    await session.fetchall(
                        "SELECT proposal_id, COUNT(*) FROM supports GROUP BY proposal_id"
                    )
                )
                counts = dict(await session.fetchall("SELECT id, support_count FROM proposals"))
    finally:
        await db.close()
    assert killed_at
    # Nothing lost: every update Telegram delivered is recorded and done.
    assert len(rows) == pushed and all(row["done_at"] is not None for row in rows)
    assert pushed - pushed_before == taps + CITIZENS * 4
    # Nothing applied twice: every support once, and the counts agree.
    for proposal_id in world.proposal_ids:
        assert supports_by_proposal[proposal_id] == CITIZENS
        assert counts[proposal_id] == CITIZENS
    # No button answered twice (a second handling would answer it again).
    answers = Counter(
        params["callback_query_id"]
        for method, params in api.calls
        if method == "answerCallbackQuery"
    )
    assert not [query for query, n in answers.items() if n > 1]
    # The restarted worker took a share of what came after its restart, though Telegram's
    # connections stayed with the others.
    after = Counter(row["claimed_by"] for row in rows if row["claimed_at"] > restarted_at)
    assert len(after) == WORKERS and min(after.values()) >= CITIZENS * 4 / WORKERS / 4, after
