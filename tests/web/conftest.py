"""The web side in process: the real application on the in-memory Bot API, its web app
through httpx's ASGI transport, and people who signed up through the chat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest

from bot.config import Settings
from bot.services import proposals, voting
from bot.web.app import create_web_app
from bot.web.auth import sign_init_data
from domain.proposals import Scope
from tests.harness import Harness, running_harness
from tests.voting.conftest import ballot_file

PUBLIC_URL = "https://civic.example.org"


@dataclass
class Web:
    h: Harness
    client: httpx.AsyncClient

    def headers(self, user_id: int, at: datetime | None = None, token: str | None = None) -> dict:
        signed = sign_init_data(
            token or self.h.app.bot.token, user_id, "ko", at or self.h.app.services.clock()
        )
        return {"Authorization": f"tma {signed}"}


@pytest.fixture
async def web(settings: Settings) -> AsyncIterator[Web]:
    settings = settings.model_copy(update={"results_cache_seconds": 0})
    async with running_harness(settings) as h:
        h.app.web_url = PUBLIC_URL
        app = create_web_app(h.app, PUBLIC_URL)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            yield Web(h, client)


async def onboard(h: Harness, user_id: int, district: str = "마포구") -> None:
    """Sign up through the chat, as a resident of `district`."""
    await h.say(user_id, "/start")
    await h.press(user_id, "동의합니다")
    await h.press(user_id, "서울에 살아요")
    await h.press(user_id, district)


async def propose(h: Harness, author: int, **changes: Any) -> int:
    """A 민주주의 서울 proposal by `author` (through the service the chat's flow ends in)."""
    fields: dict[str, Any] = {
        "programme_key": "democracy-seoul",
        "title": "한강공원 쓰레기통 확충",
        "description": "주말마다 한강공원 쓰레기가 넘쳐요. 분리수거함을 늘려 주세요.",
        "field": "environment",
        "scope": Scope.CITY,
        "districts": ("mapo", "yeongdeungpo"),
    }
    fields.update(changes)
    submitted = await proposals.submit(
        h.db, author, proposals.Draft(**fields), h.app.services.clock(), 14
    )
    assert submitted.proposal_id is not None, submitted
    return submitted.proposal_id


async def open_ballots(h: Harness) -> dict[str, int]:
    """The city-wide PB vote's headings (an official imports them: `civicbot import-ballot`)."""
    return {heading.key: hid for hid, heading in await voting.import_ballot(h.db, ballot_file)}
