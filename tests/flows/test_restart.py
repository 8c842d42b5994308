"""A person halfway through a flow continues after the process restarts (PTB persistence)."""

from __future__ import annotations

from bot.config import Settings
from bot.localapi.core import LocalBotApi
from storage.people import PeopleRepository
from tests.harness import running_harness

ALICE = 777


async def test_onboarding_continues_after_restart(settings: Settings) -> None:
    api = LocalBotApi()
    async with running_harness(settings, api) as first:
        await first.say(ALICE, "/start")
        await first.press(ALICE, "동의합니다")
        assert "서울과 어떤 관계" in first.last_text(ALICE)

    # A new application on the same database and chat: the relation step is still current.
    async with running_harness(settings, api) as second:
        replies = await second.press(ALICE, "서울에서 공부해요")
        assert "어느 자치구" in replies[-1]["text"]
        await second.say(ALICE, "노원구")
        assert "가입을 마쳤어요" in second.last_text(ALICE)
        async with second.db.reading() as session:
            person = await PeopleRepository(session).get(ALICE)
        assert person is not None and person.district == "nowon"


async def test_state_is_written_before_the_next_update(settings: Settings) -> None:
    """No shutdown flush to rely on: the step is in the database as soon as it is handled."""
    async with running_harness(settings) as h:
        await h.say(ALICE, "/start")
        async with h.db.reading() as session:
            rows = await session.fetchall("SELECT name, key, state FROM ptb_conversations")
        assert [(r["name"], r["state"]) for r in rows] == [("onboarding", '"consent"')]
