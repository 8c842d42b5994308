"""Three `civicbot run --webhook` workers on one PostgreSQL behind one port, with the local
Bot API delivering updates by webhook: many citizens at once, every count right, nothing
handled or sent twice, and every stage transition applied once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage.ballotkey import BallotKey, attach
from storage.db import open_database
from tests.conftest import TEST_BALLOT_KEY
from tests.load.citizens import prepare_world
from tests.load.cluster import running_cluster
from tests.load.scenario import THRESHOLD, everyone_at_once

WORKERS = 3
CITIZENS = 30
FIRST = 300_001
# Quiet hours would hold the notices this test waits for, whatever time CI runs at.
NO_QUIET_HOURS = {"QUIET_HOURS_START": "00:00", "QUIET_HOURS_END": "00:00"}


async def test_three_workers_share_the_load_and_the_database(
    database_url: str, tmp_path: Path
) -> None:
    db = open_database(database_url)
    if not db.shared:
        pytest.skip("several workers need PostgreSQL; an SQLite file serves one process")
    await db.connect()
    try:
        await db.migrate()
        await attach(db, BallotKey.from_text(TEST_BALLOT_KEY))
        # The workers run on the real clock; the world is open around now.
        world = await prepare_world(
            db, datetime.now(UTC), proposals=4, support_threshold=THRESHOLD, max_choices=2
        )
        async with running_cluster(
            database_url, WORKERS, tmp_path, extra_env=NO_QUIET_HOURS
        ) as cluster:
            await everyone_at_once(cluster.api, db, world, FIRST, CITIZENS)
            pushed = cluster.api.updates_pushed
            # A citizen's last press may want no reply: let its delivery and handling finish.
            for _ in range(150):
                async with db.reading() as session:
                    waiting = await session.scalar(
                        "SELECT COUNT(*) FROM updates WHERE done_at IS NULL"
                    )
                if cluster.delivery.delivered >= pushed and waiting == 0:
                    break
                await asyncio.sleep(0.1)
            async with db.reading() as session:
                handled = await session.fetchall(
                    "SELECT claimed_by AS worker FROM updates WHERE done_at IS NOT NULL"
                )
                transitions = await session.fetchall(
                    "SELECT stage_id, kind, COUNT(*) AS n FROM stage_transitions"
                    " GROUP BY stage_id, kind"
                )
                due_now = await session.scalar(
                    "SELECT COUNT(*) FROM stages WHERE starts_at <= ?"
                    " AND key IN ('support', 'vote')",
                    (datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),),
                )
                repeated = await session.fetchall(
                    "SELECT user_id, payload FROM outbox GROUP BY user_id, payload"
                    " HAVING COUNT(*) > 1"
                )
            delivered = cluster.delivery.delivered
    finally:
        await db.close()

    # Each update reached one worker once and was handled once; all three took a share.
    assert delivered == pushed == len(handled)
    shares = Counter(row["worker"] for row in handled)
    assert sorted(shares) == ["worker-1", "worker-2", "worker-3"], shares
    # Each stage transition was applied once, though every worker runs the checks.
    assert transitions and all(row["n"] == 1 for row in transitions)
    assert due_now
    assert not repeated
    log = (tmp_path / "bot.log").read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log and " ERROR " not in log, log[-5000:]
