"""Drive the real application through the in-memory Bot API, one update at a time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from bot.app import build_application, running
from bot.config import Settings
from bot.context import CivicApplication
from bot.localapi.core import LocalBotApi
from bot.localapi.request import LocalRequest


class ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Harness:
    def __init__(self, api: LocalBotApi, app: CivicApplication) -> None:
        self.api = api
        self.app = app
        self.errors = ErrorLog()

    @property
    def db(self) -> Any:
        return self.app.services.db

    def set_now(self, moment: datetime) -> None:
        self.app.services.clock = lambda: moment

    async def _settle(self, before: int, count: int = 1, timeout: float = 10) -> None:
        # Handling ends after the last Bot API call, so poll rather than wait on the API.
        deadline = asyncio.get_running_loop().time() + timeout
        while self.app.updates_handled < before + count:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("update not handled; the bot sent:\n" + self.api.transcript())
            await asyncio.sleep(0.002)

    async def say(self, user_id: int, text: str) -> list[dict[str, Any]]:
        """Send text as a person; returns the messages the bot sent or edited in reply."""
        return await self._act(user_id, lambda: self.api.send_text(user_id, text))

    async def press(self, user_id: int, label: str) -> list[dict[str, Any]]:
        """Press the button labelled `label` on the newest bot message that has it."""
        for message in reversed(self.api.bot_messages(user_id)):
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    if button["text"] == label:
                        data = button["callback_data"]
                        return await self.press_data(user_id, message["message_id"], data)
        raise AssertionError(f"no button {label!r}; the bot sent:\n{self.api.transcript(user_id)}")

    async def press_data(self, user_id: int, message_id: int, data: str) -> list[dict[str, Any]]:
        return await self._act(user_id, lambda: self.api.press(user_id, message_id, data))

    async def inline(self, user_id: int, query: str) -> list[dict[str, Any]]:
        """Type `@bot query` in any chat; returns the results the bot offered."""
        self.api.user(user_id)
        before = self.app.updates_handled
        query_id = self.api.inline_query(user_id, query)
        await self._settle(before)
        results: list[dict[str, Any]] = self.api.inline_answers[query_id]["results"]
        return results

    async def forward(
        self, user_id: int, from_user_id: int, text: str, hidden: bool = False
    ) -> list[dict[str, Any]]:
        """Forward to the bot a message written by `from_user_id`."""
        return await self._act(
            user_id, lambda: self.api.forward_text(user_id, from_user_id, text, hidden)
        )

    async def send_photo(self, user_id: int) -> list[dict[str, Any]]:
        return await self._act(user_id, lambda: self.api.send_photo(user_id))

    async def send_document(
        self, user_id: int, filename: str, content: str | bytes
    ) -> list[dict[str, Any]]:
        data = content.encode() if isinstance(content, str) else content
        return await self._act(user_id, lambda: self.api.send_document(user_id, filename, data))

    async def _act(self, user_id: int, action: Any) -> list[dict[str, Any]]:
        self.api.user(user_id)
        before = self.app.updates_handled
        seen = {m["message_id"]: dict(m) for m in self.api.bot_messages(user_id)}
        action()
        await self._settle(before)
        return [
            m
            for m in self.api.bot_messages(user_id)
            if m["message_id"] not in seen or seen[m["message_id"]] != m
        ]

    def texts(self, user_id: int) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.api.bot_messages(user_id)]

    def last_text(self, user_id: int) -> str:
        return self.texts(user_id)[-1]

    def calls_since(self, before: int) -> list[str]:
        """The Bot API methods the bot called since `len(api.calls)` was `before`."""
        return [method for method, _ in self.api.calls[before:] if method != "getUpdates"]


@asynccontextmanager
async def running_harness(
    settings: Settings, api: LocalBotApi | None = None
) -> AsyncIterator[Harness]:
    api = api or LocalBotApi()
    app = build_application(settings, api.token, request=LocalRequest(api))
    harness = Harness(api, app)
    logging.getLogger().addHandler(harness.errors)
    try:
        async with running(app, poll_timeout=0.5):
            # The start-up rounds of the jobs (the first scheduler check, the first outbox
            # batch) run before the test acts, as they would before anyone writes to a bot.
            await asyncio.sleep(0.05)
            yield harness
    finally:
        logging.getLogger().removeHandler(harness.errors)


def said(messages: list[dict[str, Any]]) -> str:
    """All the text of some bot messages, for "the bot said X" checks."""
    return "\n".join(m.get("text") or m.get("caption") or "" for m in messages)
