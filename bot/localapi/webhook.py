"""Telegram's side of a webhook, for the local Bot API: updates pushed to the bot by HTTP POST.

As Telegram does, it sends each update to the URL given in setWebhook with the secret token
header, keeps at most `max_connections` requests open, sends one chat's updates one after
another, and sends an update again later when the bot did not answer 200.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx

from bot.localapi.core import LocalBotApi

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def chat_of(update: dict[str, Any]) -> int | None:
    for kind in ("message", "edited_message", "callback_query"):
        content = update.get(kind)
        if content:
            sender = content.get("from") or content.get("chat") or {}
            return int(sender["id"]) if "id" in sender else None
    return None


class WebhookDelivery:
    def __init__(self, api: LocalBotApi, retry_after: float = 0.2, timeout: float = 30) -> None:
        self.api = api
        self.retry_after = retry_after
        self.timeout = timeout
        self.delivered = 0
        self.failed_attempts = 0
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._retry_at: dict[int, float] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> WebhookDelivery:
        self._client = httpx.AsyncClient(timeout=self.timeout, limits=httpx.Limits())
        self._loop_task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._loop_task is not None:
            # Asked to end rather than cancelled: Python 3.11's wait_for can swallow a
            # cancellation that comes as its wait ends, and the loop would never stop.
            self._stopping = True
            await self._loop_task
        for task in list(self._in_flight.values()):
            task.cancel()
        await asyncio.gather(*self._in_flight.values(), return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        changed = self.api._condition()
        while not self._stopping:
            if self.api.webhook_url:
                self._start_sends(loop.time())
            async with changed:
                with contextlib.suppress(TimeoutError):
                    # Woken by new updates and confirmations; the timeout serves retries.
                    await asyncio.wait_for(changed.wait(), 0.02)

    def _start_sends(self, now: float) -> None:
        seen_chats: set[int] = set()
        for update in self.api.pending_updates():
            update_id = update["update_id"]
            chat = chat_of(update)
            # Only a chat's oldest pending update may go: its next waits for the answer.
            if chat is not None:
                if chat in seen_chats:
                    continue
                seen_chats.add(chat)
            if update_id in self._in_flight or self._retry_at.get(update_id, 0) > now:
                continue
            if len(self._in_flight) >= self.api.webhook_max_connections:
                return
            self._in_flight[update_id] = asyncio.create_task(self._send(update))

    async def _send(self, update: dict[str, Any]) -> None:
        update_id = update["update_id"]
        assert self._client is not None
        try:
            response = await self._client.post(
                self.api.webhook_url,
                json=update,
                headers={SECRET_HEADER: self.api.webhook_secret},
            )
            ok = response.status_code == 200
        except httpx.HTTPError:
            ok = False
        self._in_flight.pop(update_id, None)
        if ok:
            self.delivered += 1
            self._retry_at.pop(update_id, None)
            self.api.confirm_update(update_id)
        else:
            self.failed_attempts += 1
            self._retry_at[update_id] = asyncio.get_running_loop().time() + self.retry_after
