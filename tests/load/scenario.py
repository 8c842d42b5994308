"""One load scenario, for the in-process bot and for worker processes alike: many citizens
at once, each through every journey; then the database must agree with what they did —
nothing lost, nothing counted twice, no notification sent twice."""

from __future__ import annotations

import asyncio
from collections import Counter

from bot.localapi.core import LocalBotApi
from domain.people import DISTRICTS
from storage.db import Database
from storage.voting import VotingRepository
from tests.load.citizens import Citizen, World, buttons

THRESHOLD = 5  # reached halfway: the proposer and the first supporters are told


async def everyone_at_once(
    api: LocalBotApi, db: Database, world: World, first: int, count: int
) -> None:
    """`count` citizens (user ids from `first`) sign up, support two proposals each, vote and
    report waste, all at once; then every count is checked. `world` comes from
    `prepare_world(…, support_threshold=THRESHOLD, max_choices=2)`."""
    proposals = len(world.proposal_ids)
    for author in world.authors:
        api.user(author)  # signed up in the database only: give them a chat for notices
    citizens = [Citizen(api, first + number) for number in range(count)]

    def supported_by(number: int) -> tuple[int, int]:
        ids = world.proposal_ids
        return ids[number % proposals], ids[(number + 1) % proposals]

    async def journey(number: int, citizen: Citizen) -> tuple[str, str]:
        await citizen.sign_up(district=DISTRICTS[number % len(DISTRICTS)].code)
        for proposal_id in supported_by(number):
            await citizen.support(proposal_id)
        ballot = await citizen.vote(world.heading_id, picks=2)
        report = await citizen.report_waste()
        return ballot, report

    results = await asyncio.gather(*(journey(n, c) for n, c in enumerate(citizens)))

    ballot_receipts = {ballot for ballot, _ in results}
    report_receipts = {report for _, report in results}
    assert len(ballot_receipts) == count and len(report_receipts) == count
    expected_supports = Counter(p for n in range(count) for p in supported_by(n))
    async with db.reading() as session:
        people = await session.fetchall(
            "SELECT user_id, relation, district FROM people WHERE user_id BETWEEN ? AND ?"
            " ORDER BY user_id",
            (first, first + count - 1),
        )
        counts = {
            r["id"]: (r["support_count"], r["status"])
            for r in await session.fetchall(
                "SELECT id, support_count, status FROM proposals ORDER BY id"
            )
        }
        supports = {
            r["proposal_id"]: r["n"]
            for r in await session.fetchall(
                "SELECT proposal_id, COUNT(*) AS n FROM supports GROUP BY proposal_id"
            )
        }
        ballots = await VotingRepository(session).ballots(world.heading_id)  # sealed too
        voters = await session.scalar(
            "SELECT COUNT(*) FROM voter_roll WHERE heading_id = ?", (world.heading_id,)
        )
        reports = await session.fetchall(
            "SELECT reporter_id, receipt FROM waste_reports ORDER BY receipt"
        )
    assert [(r["user_id"], r["relation"]) for r in people] == [
        (first + n, "resident") for n in range(count)
    ]
    assert [r["district"] for r in people] == [
        DISTRICTS[n % len(DISTRICTS)].code for n in range(count)
    ]
    for proposal_id in world.proposal_ids:
        expected = expected_supports[proposal_id]
        status = "threshold_reached" if expected >= THRESHOLD else "published"
        assert counts[proposal_id] == (expected, status), (counts, expected_supports)
        assert supports[proposal_id] == expected_supports[proposal_id]
    assert [b.choices for b in ballots] == [("i1", "i2")] * count and voters == count
    assert sorted(r["reporter_id"] for r in reports) == [first + n for n in range(count)]
    assert {r["receipt"] for r in reports} == report_receipts

    # Reaching the goal told the proposer and the supporters so far, once each, through the
    # outbox: every row is sent once, and each shows up once in its chat.
    async with db.reading() as session:
        queued = await session.scalar("SELECT COUNT(*) FROM outbox WHERE category = 'updates'")
    reached = sum(1 for p in world.proposal_ids if expected_supports[p] >= THRESHOLD)
    assert queued == reached * (1 + THRESHOLD)
    chats = [*world.authors, *(c.user_id for c in citizens)]

    def notices() -> Counter[int]:
        return Counter(
            chat
            for chat in chats
            for message in api.bot_messages(chat)
            if any(str(b.get("callback_data")).startswith("pr:card:") for b in buttons(message))
        )

    await api.wait_until(lambda: notices().total() == queued, timeout=15)
    deadline = asyncio.get_running_loop().time() + 10
    while True:  # the sender records a delivery just after the Bot API call returns
        async with db.reading() as session:
            sent = await session.fetchall(
                "SELECT user_id, telegram_message_id FROM outbox"
                " WHERE status = 'sent' AND category = 'updates'"
            )
            unsettled = await session.scalar(
                "SELECT COUNT(*) FROM outbox WHERE category = 'updates' AND status <> 'sent'"
            )
        if not unsettled or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.02)
    assert unsettled == 0
    delivered = [(r["user_id"], r["telegram_message_id"]) for r in sent]
    assert len(set(delivered)) == len(delivered) == queued
    assert Counter(user for user, _ in delivered) == notices()
    for user, message_id in delivered:
        assert any(m["message_id"] == message_id for m in api.bot_messages(user))
    sends = sum(1 for method, _ in api.calls if method == "sendMessage")
    assert sends >= sum(len(api.bot_messages(chat)) for chat in chats)
