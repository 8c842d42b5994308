"""`t.me/<bot>?start=<payload>` links: each feature claims a prefix (e.g. `p_` for proposals).

A link that names a row by number (`p_12`) is registered with `add_id`: the router reads the
number through `domain.ids`, so every such link is range-checked here, once, and a number no
row can have is answered as an unknown one (issue 17).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update

from bot.context import BotContext, translator
from bot.handlers.common import send
from domain.ids import parse_id

DeepLinkHandler = Callable[[Update, BotContext, str], Awaitable[object]]
IdLinkHandler = Callable[[Update, BotContext, int], Awaitable[object]]

PAYLOAD_KEY = "start_payload"


class DeepLinks:
    def __init__(self) -> None:
        self._handlers: dict[str, DeepLinkHandler] = {}

    def add(self, prefix: str, handler: DeepLinkHandler) -> None:
        self._handlers[prefix] = handler

    def add_id(self, prefix: str, handler: IdLinkHandler) -> None:
        """A link `<prefix><id>`: `handler` gets the id, already range-checked (an id out
        of range arrives as `domain.ids.NO_ID`, which finds nothing)."""

        async def with_id(update: Update, context: BotContext, rest: str) -> None:
            found = parse_id(rest)
            if found is None:
                await invalid(update, context)
            else:
                await handler(update, context, found)

        self.add(prefix, with_id)

    async def open(self, update: Update, context: BotContext, payload: str) -> None:
        for prefix, handler in self._handlers.items():
            if payload.startswith(prefix):
                await handler(update, context, payload.removeprefix(prefix))
                return
        await invalid(update, context)


async def invalid(update: Update, context: BotContext) -> None:
    t = await translator(update, context)
    await send(update, context, t.gettext("That link is not valid or has expired."))
