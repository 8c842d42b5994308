""" "Why these projects?": the Method of Equal Shares explained in the chat (issue 23).

Reached from the results screen's button (``vt:x:<heading>[:<rule>]``). Per selected project:
how many supporters paid, how much each, and what share of their budget they kept; per
rejected project: which project beat it and at what price per supporter, or why it never had a
chance. The figures come from `bot.services.voting.explain_result` (the web shows the same).
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler

from bot.context import BotContext, CivicApplication, translator
from bot.explanations import explanation_text
from bot.handlers.common import answer, send
from bot.i18n import Translator
from bot.services import voting as service

# Telegram's limit is 4096 characters; the list is cut with a note before that.
LIMIT = 3800


async def on_explain(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    await answer(update)
    parts = query.data.split(":")
    heading_id = int(parts[2])
    rule = parts[3] if len(parts) > 3 else None
    t = await translator(update, context)
    services = context.services
    found = await service.explain_result(
        services.db, heading_id, update.effective_user.id, rule, services.settings.admin_ids
    )
    if isinstance(found, service.Refusal):
        await send(update, context, refusal_text(t, found))
        return
    titles = {item.key: item.title_in(t.language) for item in found.heading.items}
    text = explanation_text(t, found.heading.name(t.language), found.explanation, titles, LIMIT)
    await send(update, context, text, parse_mode=ParseMode.HTML)


def refusal_text(t: Translator, refusal: service.Refusal) -> str:
    if refusal is service.Refusal.CLOSED:
        return t.gettext("The reasons are shown once the result is confirmed.")
    if refusal is service.Refusal.INVALID:
        return t.gettext("Only an Equal Shares tally of online ballots can be explained this way.")
    return t.gettext("That ballot no longer exists. See /vote for the open votes.")


def register(application: CivicApplication) -> None:
    application.add_handler(
        CallbackQueryHandler(
            on_explain, pattern=r"^vt:x:\d{1,9}(:(mes|mes\+greedy|mes\+add1|mes\+add1\+greedy))?$"
        )
    )
