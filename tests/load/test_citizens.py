"""Scripted citizens against the in-process bot (tests/load/scenario.py: many at once), and
journeys that go wrong failing at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tests.harness import Harness
from tests.load.citizens import Citizen, JourneyError, prepare_world
from tests.load.scenario import THRESHOLD, everyone_at_once

# Noon in Seoul, outside quiet hours; 민주주의 서울 and waste reports are open all year.
NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
CITIZENS = 20
FIRST = 100_001
PROPOSALS = 4


async def test_citizens_at_once_each_sign_up_support_vote_and_report(harness: Harness) -> None:
    harness.set_now(NOW)
    world = await prepare_world(
        harness.db, NOW, proposals=PROPOSALS, support_threshold=THRESHOLD, max_choices=2
    )
    await everyone_at_once(harness.api, harness.db, world, FIRST, CITIZENS)
    assert not harness.errors.records


async def test_a_journey_that_goes_wrong_fails_at_once_with_the_chat(harness: Harness) -> None:
    harness.set_now(NOW)
    citizen = Citizen(harness.api, FIRST, timeout=10)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(JourneyError, match="먼저 /start로 가입해 주세요") as failed:
        await citizen.report_waste()  # not signed up
    assert "/report" in str(failed.value)  # the chat comes with the error
    with pytest.raises(JourneyError, match="진행 중인 투표가 없어요"):
        await citizen.vote()  # no vote programme in this world
    await citizen.sign_up()
    with pytest.raises(JourneyError, match="다시 오신 것을 환영해요"):
        await citizen.sign_up()
    with pytest.raises(JourneyError, match="없는 제안이거나 숨겨진 제안이에요"):
        await citizen.support(999_999)
    assert loop.time() - started < 5  # each failed at the bot's answer, not at the timeout
    assert not harness.errors.records
