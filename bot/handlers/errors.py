"""The global error handler: log with context, and never leave a person in silence."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError

from bot.context import BotContext, translator
from bot.handlers.common import send
from storage.people import PeopleRepository

log = logging.getLogger("civicbot.errors")


async def on_error(update: object, context: BotContext) -> None:
    if (
        isinstance(context.error, Forbidden)
        and isinstance(update, Update)
        and update.effective_user
    ):
        # The person blocked the bot: stop writing to them until they come back (/start).
        async with context.services.db.transaction() as session:
            await PeopleRepository(session).set_active(update.effective_user.id, False)
        log.info("user %s blocked the bot", update.effective_user.id)
        return
    if isinstance(context.error, NetworkError) and not isinstance(update, Update):
        # Polling hiccups: PTB retries by itself; one line is enough.
        log.warning("network error while polling: %s", context.error)
        return
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
