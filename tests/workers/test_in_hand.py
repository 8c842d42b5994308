"""UPDATES_IN_HAND bounds how many people's updates one process handles at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.app import build_application
from bot.config import Settings
from bot.context import CivicApplication
from bot.localapi.core import LocalBotApi
from bot.localapi.request import LocalRequest


async def test_a_process_holds_no_more_updates_than_its_setting(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = LocalBotApi()
    app = build_application(
        settings.model_copy(update={"updates_in_hand": 2}), api.token, request=LocalRequest(api)
    )
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    await app.start()
    release = asyncio.Event()
    handling = CivicApplication.process_update

    async def held(self: CivicApplication, update: Any) -> None:
        await release.wait()
        await handling(self, update)

    monkeypatch.setattr(CivicApplication, "process_update", held)
    try:
        for person in (41, 42, 43, 44):
            api.send_text(person, "/help")
        updates = api.pending_updates()
        for update in updates:
            api.confirm_update(update["update_id"])
            await app.intake.receive([update])
        await asyncio.sleep(0.3)  # the dispatcher's chance to take more than it may
        assert len(app.intake.in_hand) == 2
        release.set()
        async with asyncio.timeout(10):
            while app.updates_handled < 4:
                await asyncio.sleep(0.01)
    finally:
        release.set()
        await app.stop()
        await app.shutdown()
