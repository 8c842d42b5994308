"""Scripted citizens against the in-process bot: many at once, each through every journey,
and the database agrees with what they did (nothing lost, nothing counted or sent twice)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import pytest

from domain.people import DISTRICTS
from tests.harness import Harness
from tests.load.citizens import Citizen, JourneyError, buttons, prepare_world

# Noon in Seoul, outside quiet hours; 민주주의 서울 and waste reports are open all year.
NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
CITIZENS = 20
FIRST = 100_001
PROPOSALS = 4
THRESHOLD = 5  # reached halfway: the proposer and the first supporters are told


async def test_citizens_at_once_each_sign_up_support_vote_and_report(harness: Harness) -> None:
    harness.set_now(NOW)
    world = await prepare_world(
        harness.db, NOW, proposals=PROPOSALS, support_threshold=THRESHOLD, max_choices=2
    )
    for author in world.authors:
        harness.api.user(author)  # signed up in the database only: give them a chat for notices
    citizens = [Citizen(harness.api, FIRST + number) for number in range(CITIZENS)]

    def supported_by(number: int) -> tuple[int, int]:
        ids = world.proposal_ids
        return ids[number % PROPOSALS], ids[(number + 1) % PROPOSALS]

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
    assert len(ballot_receipts) == CITIZENS and len(report_receipts) == CITIZENS
    expected_supports = Counter(p for n in range(CITIZENS) for p in supported_by(n))
    db = harness.db
    async with db.reading() as session:
        people = await session.fetchall(
            "SELECT user_id, relation, district FROM people WHERE user_id BETWEEN ? AND ?"
            " ORDER BY user_id",
            (FIRST, FIRST + CITIZENS - 1),
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
        ballots = await session.fetchall(
            "SELECT choices FROM ballots WHERE heading_id = ?", (world.heading_id,)
        )
        voters = await session.scalar(
            "SELECT COUNT(*) FROM voter_roll WHERE heading_id = ?", (world.heading_id,)
        )
        reports = await session.fetchall(
            "SELECT reporter_id, receipt FROM waste_reports ORDER BY receipt"
        )
    assert [(r["user_id"], r["relation"]) for r in people] == [
        (FIRST + n, "resident") for n in range(CITIZENS)
    ]
    assert [r["district"] for r in people] == [
        DISTRICTS[n % len(DISTRICTS)].code for n in range(CITIZENS)
    ]
    for proposal_id in world.proposal_ids:
        assert counts[proposal_id] == (expected_supports[proposal_id], "threshold_reached")
        assert supports[proposal_id] == expected_supports[proposal_id]
    assert [b["choices"] for b in ballots] == ['["i1", "i2"]'] * CITIZENS and voters == CITIZENS
    assert sorted(r["reporter_id"] for r in reports) == [FIRST + n for n in range(CITIZENS)]
    assert {r["receipt"] for r in reports} == report_receipts

    # Reaching the goal told the proposer and the supporters so far, once each, through the
    # outbox: every row is sent once, and each shows up once in its chat.
    async with db.reading() as session:
        queued = await session.scalar("SELECT COUNT(*) FROM outbox WHERE category = 'updates'")
    assert queued == PROPOSALS * (1 + THRESHOLD)
    chats = [*world.authors, *(c.user_id for c in citizens)]

    def notices() -> Counter[int]:
        return Counter(
            chat
            for chat in chats
            for message in harness.api.bot_messages(chat)
            if any(str(b.get("callback_data")).startswith("pr:card:") for b in buttons(message))
        )

    await harness.api.wait_until(lambda: notices().total() == queued, timeout=15)
    deadline = asyncio.get_running_loop().time() + 10
    while True:  # the sender records a delivery just after the Bot API call returns
        async with db.reading() as session:
            sent = await session.fetchall(
                "SELECT user_id, telegram_message_id FROM outbox WHERE status = 'sent'"
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
        assert any(m["message_id"] == message_id for m in harness.api.bot_messages(user))
    sends = sum(1 for method, _ in harness.api.calls if method == "sendMessage")
    assert sends >= sum(len(harness.api.bot_messages(chat)) for chat in chats)
    assert not harness.errors.records


async def test_a_journey_that_goes_wrong_fails_at_once_with_the_chat(harness: Harness) -> None:
    harness.set_now(NOW)
    citizen = Citizen(harness.api, FIRST, timeout=10)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(JourneyError, match="먼저 /start 로 가입해 주세요") as failed:
        await citizen.report_waste()  # not signed up
    assert "/report" in str(failed.value)  # the chat comes with the error
    with pytest.raises(JourneyError, match="진행 중인 투표가 없습니다"):
        await citizen.vote()  # no vote programme in this world
    await citizen.sign_up()
    with pytest.raises(JourneyError, match="다시 오신 것을 환영합니다"):
        await citizen.sign_up()
    with pytest.raises(JourneyError, match="없는 제안이거나 숨겨진 제안입니다"):
        await citizen.support(999_999)
    assert loop.time() - started < 5  # each failed at the bot's answer, not at the timeout
    assert not harness.errors.records
