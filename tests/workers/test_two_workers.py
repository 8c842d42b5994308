"""Two bot processes on one PostgreSQL take turns with one person's conversation: each
update may reach either, and each continues from where the other left off."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Update

from bot.app import build_application
from bot.config import Settings
from bot.context import CivicApplication
from bot.localapi.core import LocalBotApi
from bot.localapi.request import LocalRequest
from storage.people import PeopleRepository
from storage.ptbstate import PtbStateRepository

ALICE = 31


@pytest.fixture
async def workers(settings: Settings) -> AsyncIterator[tuple[LocalBotApi, list[CivicApplication]]]:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("an SQLite file serves one bot process; nothing to share")
    api = LocalBotApi()
    apps = [build_application(settings, api.token, request=LocalRequest(api)) for _ in range(2)]
    for app in apps:
        await app.initialize()
        assert app.post_init is not None
        await app.post_init(app)
        await app.start()
    yield api, apps
    for app in apps:
        await app.stop()
        await app.shutdown()


async def deliver(api: LocalBotApi, app: CivicApplication) -> None:
    """Hand the pending update to `app`, as a load balancer would, and wait for it."""
    (update,) = api.pending_updates()
    api.confirm_update(update["update_id"])
    await hand_over(update, app)


async def hand_over(update: dict[str, Any], app: CivicApplication) -> None:
    before = app.updates_handled
    await app.update_queue.put(Update.de_json(update, app.bot))
    async with asyncio.timeout(10):
        while app.updates_handled == before:
            await asyncio.sleep(0.005)


def button(api: LocalBotApi, label: str) -> tuple[int, str]:
    for message in reversed(api.bot_messages(ALICE)):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for key in row:
                if key["text"] == label:
                    return message["message_id"], key["callback_data"]
    raise AssertionError(f"no button {label!r}:\n{api.transcript(ALICE)}")


async def test_a_conversation_moves_between_workers(
    workers: tuple[LocalBotApi, list[CivicApplication]],
) -> None:
    api, (first, second) = workers
    steps: list[tuple[str, Any]] = [
        ("say", "/start"),
        ("press", "동의합니다"),
        ("press", "서울에 살아요"),
        ("say", "마포구"),
        ("say", "/propose"),
        ("say", "두 일꾼이 번갈아 받은 제안"),
        ("say", "첫 단계는 한 프로세스가, 다음 단계는 다른 프로세스가 처리합니다."),
    ]
    for number, (kind, value) in enumerate(steps):
        if kind == "say":
            api.send_text(ALICE, value)
        else:
            api.press(ALICE, *button(api, value))
        await deliver(api, first if number % 2 == 0 else second)
    assert "가입을 마쳤어요" in api.transcript(ALICE)
    assert "정책분야" in api.bot_messages(ALICE)[-1]["text"]  # the draft went on to step 3
    async with first.services.db.reading() as session:
        person = await PeopleRepository(session).get(ALICE)
        draft = await PtbStateRepository(session).user_data(ALICE)
    assert person is not None and person.district == "mapo"
    assert "두 일꾼이 번갈아 받은 제안" in str(draft)


async def test_an_update_sent_again_is_handled_once(
    workers: tuple[LocalBotApi, list[CivicApplication]],
) -> None:
    """Telegram sends an update again when the answer to its POST was lost; the copy may
    reach the other worker."""
    api, (first, second) = workers
    api.send_text(ALICE, "/help")
    (update,) = api.pending_updates()
    api.confirm_update(update["update_id"])
    for app in (first, second):
        await hand_over(update, app)
    assert len(api.bot_messages(ALICE)) == 1
