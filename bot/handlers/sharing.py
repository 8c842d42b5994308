"""Inline mode (SPEC §4): typed as `@bot …` in any chat, or from a card's "send the card to a
chat" button, the bot offers proposal cards; the one chosen is sent into that chat with a
"go and support it" deep link, which opens the card in the bot (after sign-up if need be).
"""

from __future__ import annotations

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ParseMode
from telegram.ext import InlineQueryHandler

from bot.context import BotContext, CivicApplication, translator
from bot.handlers.proposal_views import card_text, deep_link, progress_line
from bot.i18n import Translator
from bot.services import proposals as service
from domain.ids import parse_id
from domain.proposals import SUPPORT_OPEN
from storage.proposals import Filters, Proposal, ProposalsRepository

RESULTS = 10


async def found_for(context: BotContext, query: str) -> list[Proposal]:
    """`p_<id>`: that proposal; other text: matching proposals; nothing: the most supported
    collecting support. Hidden proposals are never offered."""
    async with context.services.db.reading() as session:
        repository = ProposalsRepository(session)
        wanted = parse_id(query.removeprefix("p_")) if query.startswith("p_") else None
        if wanted is not None:  # out of range: NO_ID, found nowhere
            proposal = await repository.get(wanted)
            return [] if proposal is None or proposal.hidden else [proposal]
        filters = Filters(text=query[:100]) if query else Filters(statuses=tuple(SUPPORT_OPEN))
        found, _ = await repository.search(filters, "supported", RESULTS)
    return found


async def article(
    context: BotContext, t: Translator, proposal: Proposal
) -> InlineQueryResultArticle:
    async with context.services.db.reading() as session:
        programme = await service.programme_of(session, proposal)
    rules = service.rules_of(programme)
    now = context.services.clock()
    link = deep_link(context.bot.username, proposal.id)
    support_open = service.support_is_open(proposal, programme, now)
    label = t.gettext("Go and support it (공감)")
    if not support_open:
        label = t.gettext("Open it in 시민참여봇")
    return InlineQueryResultArticle(
        id=f"p{proposal.id}",
        title=proposal.title,
        description=progress_line(t, proposal, rules, now),
        input_message_content=InputTextMessageContent(
            card_text(t, proposal, rules, now, support_open), parse_mode=ParseMode.HTML
        ),
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton(label, url=link)]]),
    )


async def on_inline_query(update: Update, context: BotContext) -> None:
    query = update.inline_query
    assert query is not None
    t = await translator(update, context)
    results = [await article(context, t, p) for p in await found_for(context, query.query.strip())]
    # Personal: the cards are in the sharer's language.
    await query.answer(results, cache_time=10, is_personal=True)


def register(application: CivicApplication) -> None:
    application.add_handler(InlineQueryHandler(on_inline_query))
