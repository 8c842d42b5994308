"""The durable intake's table (storage/intake.py): one person's updates one at a time and in
order, across workers; a copy sent again recorded once; a dead worker's claims taken over."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from storage.db import Database, is_conflict
from storage.intake import WORKER_TIMEOUT, UpdatesRepository, person_of

NOW = datetime(2027, 3, 6, 6, 5, tzinfo=UTC)


def text(update_id: int, person: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {"message_id": update_id, "from": {"id": person}, "chat": {"id": person}},
    }


def test_whose_update_it_is() -> None:
    assert person_of(text(1, 42)) == 42
    press = {"update_id": 2, "callback_query": {"id": "q", "from": {"id": 7}, "data": "x"}}
    assert person_of(press) == 7
    assert person_of({"update_id": 3, "poll_answer": {"user": {"id": 9}}}) == 9
    assert person_of({"update_id": 4, "channel_post": {"chat": {"id": -100}}}) == -100
    assert person_of({"update_id": 5, "poll": {"id": "p"}}) == 0


async def test_one_persons_updates_are_taken_one_at_a_time_in_order(db: Database) -> None:
    async with db.transaction() as session:
        intake = UpdatesRepository(session)
        await intake.receive([text(1, 10), text(2, 10), text(3, 20), text(4, 10)], NOW)
        first = await intake.claim("w1", NOW, limit=10)
        # Person 10's first and person 20's: their next waits for the one before.
        assert [(c.update_id, c.person) for c in first] == [(1, 10), (3, 20)]
        assert await intake.claim("w2", NOW, limit=10) == []
        assert await intake.claim_one(2, "w2", NOW) is None
        assert await intake.finish(1, "w1", NOW)
        (second,) = await intake.claim("w2", NOW, limit=10)
        assert second.update_id == 2 and second.payload == text(2, 10)
        assert await intake.finish(2, "w2", NOW)
        assert [c.update_id for c in await intake.claim("w1", NOW, limit=10)] == [4]


async def test_an_update_that_arrives_late_waits_for_the_one_in_hand(db: Database) -> None:
    """Update 3 came on another connection after 5 was taken: it is not taken alongside."""
    async with db.transaction() as session:
        intake = UpdatesRepository(session)
        await intake.receive([text(5, 10)], NOW)
        assert await intake.claim_one(5, "w1", NOW) is not None
        await intake.receive([text(3, 10)], NOW)
        assert await intake.claim_one(3, "w2", NOW) is None
        assert await intake.claim("w2", NOW, limit=10) == []
        assert await intake.finish(5, "w1", NOW)
        assert [c.update_id for c in await intake.claim("w2", NOW, limit=10)] == [3]


async def test_two_claims_racing_for_one_person_take_one_update(
    two_processes: tuple[Database, Database],
) -> None:
    """Two workers receive one person's two updates at the same moment, neither seeing the
    other's yet: the unique index lets one take its update and refuses the other."""
    both_received = asyncio.Barrier(2)

    async def receive_and_take(db: Database, update_id: int) -> bool:
        try:
            async with db.transaction() as session:
                intake = UpdatesRepository(session)
                await intake.receive([text(update_id, 10)], NOW)
                await both_received.wait()
                return await intake.claim_one(update_id, f"w{update_id}", NOW) is not None
        except Exception as error:
            assert is_conflict(error), error
            return False

    first, second = two_processes
    taken = await asyncio.gather(receive_and_take(first, 1), receive_and_take(second, 2))
    assert sorted(taken) == [False, True]


async def test_an_update_sent_again_is_recorded_once(db: Database) -> None:
    async with db.transaction() as session:
        intake = UpdatesRepository(session)
        await intake.receive([text(5, 10)], NOW)
        await intake.receive([text(5, 10)], NOW)  # before it is handled
        (claimed,) = await intake.claim("w1", NOW, limit=10)
        await intake.finish(claimed.update_id, "w1", NOW)
        await intake.receive([text(5, 10)], NOW)  # after: Telegram did not get our 200
        assert await intake.claim("w1", NOW, limit=10) == []
        assert await intake.waiting() == 0


async def test_a_dead_workers_claims_are_taken_over(db: Database) -> None:
    async with db.transaction() as session:
        intake = UpdatesRepository(session)
        await intake.heartbeat("w1", NOW)
        await intake.receive([text(1, 10), text(2, 20)], NOW)
        assert len(await intake.claim("w1", NOW, limit=10)) == 2
        # w1 stops sending heartbeats; w2 keeps going.
        assert await intake.heartbeat("w2", NOW + WORKER_TIMEOUT / 2) == 0
        assert await intake.claim("w2", NOW + WORKER_TIMEOUT / 2, limit=10) == []
        later = NOW + WORKER_TIMEOUT + timedelta(seconds=1)
        assert await intake.heartbeat("w2", later) == 2
        taken = await intake.claim("w2", later, limit=10)
        assert [c.update_id for c in taken] == [1, 2]
        # w1 comes back: its late work on the update is refused, and so is its "done".
        assert not await intake.mark_applied(1, "w1", later)
        assert not await intake.finish(1, "w1", later)
        assert await intake.mark_applied(1, "w2", later)
        assert await intake.finish(1, "w2", later)


async def test_a_restarted_worker_takes_its_own_claims_back_at_once(db: Database) -> None:
    async with db.transaction() as session:
        intake = UpdatesRepository(session)
        await intake.receive([text(1, 10)], NOW)
        await intake.claim("w1", NOW, limit=10)
        await intake.mark_applied(1, "w1", NOW)
        assert await intake.release_own("w1") == 1
        (again,) = await intake.claim("w1", NOW, limit=10)
        # It had been applied: the worker only finishes it, never applies it twice.
        assert again.applied


async def test_workers_racing_for_updates_keep_each_persons_order(
    two_processes: tuple[Database, Database],
) -> None:
    """Two processes, each with several claimers at once, take 120 updates of 6 people:
    each update is handled once, a person's never two at a time, always in order."""
    first, second = two_processes
    people = [100 + n for n in range(6)]
    updates = [text(number, people[number % len(people)]) for number in range(1, 121)]
    async with first.transaction() as session:
        await UpdatesRepository(session).receive(updates, NOW)
    handled: dict[int, list[int]] = defaultdict(list)
    in_hand: set[int] = set()
    random.seed(7)

    async def claimer(db: Database, worker: str) -> None:
        idle = 0
        while idle < 20:
            async with db.transaction() as session:
                claimed = await UpdatesRepository(session).claim(worker, NOW, limit=2)
            if not claimed:
                idle += 1
                await asyncio.sleep(0.005)
                continue
            idle = 0
            for item in claimed:
                assert item.person not in in_hand, f"{item.person} handled twice at once"
                in_hand.add(item.person)
            await asyncio.sleep(random.random() * 0.003)
            async with db.transaction() as session:
                for item in claimed:
                    handled[item.person].append(item.update_id)
                    in_hand.discard(item.person)
                    assert await UpdatesRepository(session).finish(item.update_id, worker, NOW)

    await asyncio.gather(
        *(claimer(db, f"w{n}") for n, db in enumerate([first, second, first, second]))
    )
    for person in people:
        expected = [u["update_id"] for u in updates if u["message"]["from"]["id"] == person]
        assert handled[person] == expected
