"""Two bot processes on one PostgreSQL take turns with one person's conversation: each
update may reach either, and each continues from where the other left off."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app import build_application
from bot.config import Settings
from bot.context import CivicApplication
from bot.localapi.core import LocalBotApi
from bot.localapi.request import LocalRequest
from storage.intake import UpdatesRepository
from storage.people import PeopleRepository
from storage.ptbstate import PtbStateRepository

ALICE = 31


@pytest.fixture
async def workers(settings: Settings) -> AsyncIterator[tuple[LocalBotApi, list[CivicApplication]]]:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("an SQLite file serves one bot process; nothing to share")
    api = LocalBotApi()
    apps = [
        build_application(
            settings.model_copy(update={"worker_name": f"worker-{number}"}),
            api.token,
            request=LocalRequest(api),
        )
        for number in (1, 2)
    ]
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
    """`app` receives the update (its webhook answered), takes it itself and handles it."""
    before = app.updates_handled
    await app.intake.receive([update])
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
    await hand_over(update, first)
    await second.intake.receive([update])  # the copy: recorded already, so not taken again
    await asyncio.sleep(0.3)
    assert len(api.bot_messages(ALICE)) == 1
    assert second.updates_handled == 0
    async with first.services.db.reading() as session:
        rows = await session.fetchall("SELECT claimed_by, done_at FROM updates")
    assert [(row["claimed_by"], row["done_at"] is not None) for row in rows] == [("worker-1", True)]


async def test_one_persons_updates_reaching_two_workers_at_once_are_both_handled(
    workers: tuple[LocalBotApi, list[CivicApplication]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both workers record one person's update and try to take it at the same moment: one
    takes its own, the other's claim is refused (one update in hand per person), and that
    update waits for the first to finish instead of being lost or handled alongside it."""
    api, (first, second) = workers
    both_recorded = asyncio.Barrier(2)
    record = UpdatesRepository.receive
    refused: list[bool] = []

    async def record_then_meet(self: UpdatesRepository, *args: Any) -> None:
        await record(self, *args)
        if len(refused) < 2:  # the first recording of each; not the refused one's second
            refused.append(False)
            await both_recorded.wait()
        else:
            refused.append(True)

    monkeypatch.setattr(UpdatesRepository, "receive", record_then_meet)
    # Both try to take theirs: neither leaves it to the other for being busier (a heartbeat
    # seen just before could say so, and then no claim would be refused).
    for worker in (first, second):
        monkeypatch.setattr(worker.intake, "_busier_than_others", lambda: False)
    api.send_text(ALICE, "/help")
    api.send_text(ALICE, "/start")
    updates = api.pending_updates()
    for update in updates:
        api.confirm_update(update["update_id"])
    await asyncio.gather(first.intake.receive([updates[0]]), second.intake.receive([updates[1]]))
    async with asyncio.timeout(10):
        while first.updates_handled + second.updates_handled < 2:
            await asyncio.sleep(0.005)
    async with first.services.db.reading() as session:
        rows = await session.fetchall("SELECT done_at FROM updates")
    assert len(rows) == 2 and all(row["done_at"] is not None for row in rows)
    assert refused == [False, False, True]  # one claim was refused, its update recorded again
    assert len(api.bot_messages(ALICE)) >= 2  # both answered: /help's text and /start's question
