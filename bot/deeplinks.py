"""`t.me/<bot>?start=<payload>` links: each feature claims a prefix (e.g. `p_` for proposals)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update

from bot.context import BotContext, translator
from bot.handlers.common import send

DeepLinkHandler = Callable[[Update, BotContext, str], Awaitable[object]]

PAYLOAD_KEY = "start_payload"


class DeepLinks:
    def __init__(self) -> None:
        self._handlers: dict[str, DeepLinkHandler] = {}

    def add(self, prefix: str, handler: DeepLinkHandler) -> None:
        self._handlers[prefix] = handler

    async def open(self, update: Update, context: BotContext, payload: str) -> None:
        for prefix, handler in self._handlers.items():
            if payload.startswith(prefix):
                await handler(update, context, payload.removeprefix(prefix))
                return
        t = await translator(update, context)
        await send(update, context, t.gettext("That link is not valid or has expired."))
