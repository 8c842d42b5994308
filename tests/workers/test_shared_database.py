"""What several bot processes on one PostgreSQL rely on: writers one at a time, one
person's updates one at a time, periodic work done by one process at a time."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from bot.automation import one_worker_at_a_time
from storage.db import Database


async def test_a_locked_write_waits_for_another_process_to_commit(
    two_processes: tuple[Database, Database],
) -> None:
    """`Session.lock`: a read-check-write under one kind and key waits for the other
    process's unit of work holding it to commit, and then reads what it wrote."""
    first, second = two_processes
    order: list[str] = []
    holding = asyncio.Event()

    async def slow_writer() -> None:
        async with first.transaction() as session:
            await session.lock("proposal", 7)
            count = await session.scalar("SELECT COUNT(*) FROM roles")
            holding.set()
            await asyncio.sleep(0.3)
            await session.execute(
                "INSERT INTO roles (user_id, role, granted_at) VALUES (?, 'moderator', 'x')",
                (count + 1,),
            )
            order.append("first committed")

    async def second_writer() -> None:
        await holding.wait()
        async with second.transaction() as session:
            await session.lock("proposal", 7)
            order.append("second began")
            count = await session.scalar("SELECT COUNT(*) FROM roles")
            await session.execute(
                "INSERT INTO roles (user_id, role, granted_at) VALUES (?, 'moderator', 'x')",
                (count + 1,),
            )

    await asyncio.gather(slow_writer(), second_writer())
    assert order == ["first committed", "second began"]
    async with first.reading() as session:
        ids = [row[0] for row in await session.fetchall("SELECT user_id FROM roles")]
    assert sorted(ids) == [1, 2]


async def test_writes_under_different_locks_or_none_do_not_wait(
    two_processes: tuple[Database, Database],
) -> None:
    """The global write lock is gone: another proposal's writer, or a writer that needs no
    lock, goes ahead while one holds its lock."""
    first, second = two_processes
    holding, done = asyncio.Event(), asyncio.Event()
    order: list[str] = []

    async def holder() -> None:
        async with first.transaction() as session:
            await session.lock("proposal", 1)
            holding.set()
            await asyncio.wait_for(done.wait(), 5)
            order.append("holder committed")

    async def others() -> None:
        await holding.wait()
        async with second.transaction() as session:
            await session.lock("proposal", 2)
            await session.execute("INSERT INTO audit_log (at, action) VALUES ('t', 'other')")
        async with second.transaction() as session:
            await session.execute("INSERT INTO audit_log (at, action) VALUES ('t', 'free')")
        order.append("others committed")
        done.set()

    await asyncio.gather(holder(), others())
    assert order == ["others committed", "holder committed"]


async def test_periodic_work_runs_in_one_process_at_a_time(
    two_processes: tuple[Database, Database],
) -> None:
    first, second = two_processes
    async with first.exclusively("automation") as mine:
        assert mine
        async with second.exclusively("automation") as theirs:
            assert not theirs
        async with second.exclusively("another task") as other:
            assert other
    async with second.exclusively("automation") as now_theirs:
        assert now_theirs


async def test_a_periodic_job_due_in_every_worker_runs_in_one(
    two_processes: tuple[Database, Database],
) -> None:
    ran: list[str] = []

    async def deadlines_job(context: Any) -> None:
        ran.append(context.name)
        await asyncio.sleep(0.2)

    job = one_worker_at_a_time("waste-deadlines", deadlines_job)
    workers = [
        SimpleNamespace(name=f"worker-{n}", services=SimpleNamespace(db=db))
        for n, db in enumerate(two_processes, 1)
    ]
    await asyncio.gather(*(job(worker) for worker in workers))  # type: ignore[arg-type]
    assert len(ran) == 1
    await job(workers[1])  # type: ignore[arg-type]
    assert len(ran) == 2  # the next round is free again
