"""The global error handler: log with context, and never leave a person in silence."""

from __future__ import annotations

import logging

from telegram import Update

from bot.context import BotContext, translator
from bot.handlers.common import send

log = logging.getLogger("civicbot.errors")


async def on_error(update: object, context: BotContext) -> None:
    summary = update.to_dict() if isinstance(update, Update) else repr(update)
    log.error("Error while handling update %s", summary, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    try:
        t = await translator(update, context)
        await send(
            update,
            context,
            t.gettext(
                "Sorry, something went wrong on our side. Nothing you entered was lost;"
                " please try again in a moment."
            ),
        )
    except Exception:
        log.exception("Could not tell the person about the error")
