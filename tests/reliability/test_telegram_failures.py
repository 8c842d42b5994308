"""What Telegram can do to the bot, each through the local Bot API (issue 9): network errors
while polling, 429 with retry_after, 403 blocked, 400 not modified, too-long messages."""

from __future__ import annotations

import time

from bot.localapi.core import MAX_TEXT
from bot.services import proposals as service
from domain.programmes import parse_programmes
from domain.proposals import Scope
from storage.people import PeopleRepository
from storage.programmes import ProgrammesRepository
from tests.harness import Harness, said
from tests.proposals.conftest import IN_PB_CALL, sign_up

ALICE = 801


async def test_polling_survives_network_errors(harness: Harness) -> None:
    harness.api.fail_next("getUpdates", 502, "Bad Gateway", times=2)
    replies = await harness.say(ALICE, "/help")
    assert "이곳에서 할 수 있는 일" in said(replies)
    assert not harness.errors.records  # logged as a warning, not an error


async def test_429_on_a_reply_is_retried_after_retry_after(harness: Harness) -> None:
    harness.api.fail_next(
        "sendMessage", 429, "Too Many Requests: retry after 1", chat_id=ALICE, retry_after=1
    )
    started = time.monotonic()
    replies = await harness.say(ALICE, "/help")
    assert "이곳에서 할 수 있는 일" in said(replies)
    assert time.monotonic() - started >= 1.0
    assert not harness.errors.records


async def test_a_person_who_blocked_the_bot_is_marked_inactive(harness: Harness) -> None:
    harness.set_now(IN_PB_CALL)
    await sign_up(harness.db, ALICE)
    harness.api.block(ALICE)
    await harness.say(ALICE, "/help")
    async with harness.db.reading() as session:
        person = await PeopleRepository(session).get(ALICE)
    assert person is not None and not person.active
    assert not harness.errors.records
    harness.api.blocked.discard(ALICE)
    await harness.say(ALICE, "/start")
    async with harness.db.reading() as session:
        person = await PeopleRepository(session).get(ALICE)
    assert person is not None and person.active


async def test_pressing_what_is_already_shown_is_not_an_error(harness: Harness) -> None:
    await harness.say(ALICE, "/proposals")
    await harness.press(ALICE, "✓ 공감 많은 순")  # the list already sorted that way
    await harness.press(ALICE, "✓ 공감 많은 순")
    assert not harness.errors.records


async def test_long_content_is_split_or_trimmed_to_telegrams_limit(harness: Harness) -> None:
    harness.set_now(IN_PB_CALL)
    await sign_up(harness.db, ALICE)
    many = "\n".join(
        f"""
[[programme]]
key = "p{n}"
kind = "poll"
name = {{ ko = "{"아주 긴 이름의 설문 " * 6}{n}", en = "Poll {n}" }}
[[programme.stage]]
key = "s"
name = {{ ko = "{"긴 단계 이름 " * 8}", en = "Stage" }}
starts_at = 2027-01-01T00:00:00
actions = ["vote"]
"""
        for n in range(60)
    )
    async with harness.db.transaction() as session:
        for programme in parse_programmes(many):
            await ProgrammesRepository(session).upsert(programme, IN_PB_CALL)
    replies = await harness.say(ALICE, "/programmes")
    assert len(replies) > 1 and all(len(m["text"]) <= MAX_TEXT for m in replies)

    result = await service.submit(
        harness.db,
        ALICE,
        service.Draft(
            programme_key="democracy-seoul",
            title="의견이 아주 많은 제안",
            description="가" * 2000,
            field="parks",
            scope=Scope.CITY,
            districts=(),
        ),
        IN_PB_CALL,
        14,
    )
    assert result.proposal_id is not None
    for _ in range(12):
        await service.comment(harness.db, result.proposal_id, ALICE, "나" * 500, None, IN_PB_CALL)
    replies = await harness.say(ALICE, f"/start p_{result.proposal_id}")
    assert len(replies[-1]["text"]) <= MAX_TEXT
    replies = await harness.press(ALICE, "의견")
    assert len(replies[-1]["text"]) <= MAX_TEXT
    assert not harness.errors.records
