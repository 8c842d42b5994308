"""How a proposal looks in the chat: the card, its buttons, and refusals in words."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode

from bot.context import BotContext, person_and_translator
from bot.handlers.common import edit_or_send, send
from bot.i18n import Translator
from bot.services import proposals as service
from domain.people import DISTRICTS_BY_CODE
from domain.proposals import (
    FIELDS_BY_CODE,
    WITHDRAWABLE,
    DebateKind,
    ProposalRules,
    Refusal,
    Status,
)
from storage.proposals import Proposal, ProposalsRepository

CARD_DESCRIPTION = 600  # keeps a card on one phone screen


def refusal_text(t: Translator, refusal: Refusal, **values: Any) -> str:
    texts = {
        Refusal.TITLE_EMPTY: t.gettext("The title can't be empty."),
        Refusal.TITLE_TOO_LONG: t.gettext(
            "The title is too long (%(length)d characters); keep it to 80."
        ),
        Refusal.DESCRIPTION_TOO_SHORT: t.gettext(
            "Please describe the proposal in a few sentences (at least 10 characters)."
        ),
        Refusal.DESCRIPTION_TOO_LONG: t.gettext(
            "The description is too long (%(length)d characters); keep it to 2,000."
        ),
        Refusal.COST_NOT_A_NUMBER: t.gettext(
            "I couldn't read that amount. Type digits, e.g. 150,000,000, or 1억 5,000만."
        ),
        Refusal.OVER_CAP: t.gettext(
            "This kind of project must cost less than %(cap)s. Lower the estimate, or split"
            " the project."
        ),
        Refusal.TOO_FEW_DISTRICTS: t.gettext(
            "A city-wide participatory budget proposal must benefit at least two districts;"
            " one for a single district or one of its neighbourhoods belongs to that"
            " district's track (구단위)."
        ),
        Refusal.DAILY_LIMIT: t.gettext(
            "You have reached today's limit of proposals. Please try again tomorrow."
        ),
        Refusal.STAGE_CLOSED: t.gettext(
            "This programme is not taking proposals now. See /programmes for the dates."
        ),
        Refusal.BLOCKED: t.gettext(
            "A moderator has stopped you from posting. Write to the city if you think this is"
            " a mistake."
        ),
        Refusal.ONE_DISTRICT_ONLY: t.gettext(
            "Proposals to the district track are for one district or one of its"
            " neighbourhoods. A proposal for several districts belongs to the city-wide call."
        ),
        Refusal.INELIGIBLE: t.gettext(
            "Participatory budget proposals are open to people who live, work or study in"
            " Seoul and are not officials of the city, its districts or bodies they fund."
            " See your answers in /profile."
        ),
    }
    text = texts[refusal]
    try:
        return text % values if values and "%(" in text else text
    except KeyError:
        return text


def summary_line(t: Translator, proposal: Proposal) -> str:
    """One line for lists: "#12 Title — collecting support · Support: 312"."""
    status = t.gettext(service.status_label(proposal))
    count = t.gettext("Support: %(count)s") % {"count": f"{proposal.support_count:,}"}
    return f"#{proposal.id} {escape(proposal.title)} — {status} · {count}"


def progress_line(t: Translator, proposal: Proposal, rules: ProposalRules, now: datetime) -> str:
    """ "공감 312 / 500 · 9일 남음" — live progress toward the goal."""
    count = f"{proposal.support_count:,}"
    if rules.support_threshold is None:
        line = t.gettext("Support: %(count)s") % {"count": count}
    else:
        line = t.gettext("Support: %(count)s / %(goal)s") % {
            "count": count,
            "goal": f"{rules.support_threshold:,}",
        }
    if proposal.status is Status.PUBLISHED and proposal.support_ends_at is not None:
        if now < proposal.support_ends_at:
            line += " · " + t.left(now, proposal.support_ends_at)
    return line


def card_text(
    t: Translator,
    proposal: Proposal,
    rules: ProposalRules,
    now: datetime,
    support_open: bool = True,
) -> str:
    field = (
        FIELDS_BY_CODE[proposal.field].name(t.language)
        if proposal.field in FIELDS_BY_CODE
        else proposal.field
    )
    districts = (
        t.gettext("All of Seoul")
        if set(proposal.districts) >= set(DISTRICTS_BY_CODE)
        else ", ".join(
            DISTRICTS_BY_CODE[c].name(t.language)
            for c in proposal.districts
            if c in DISTRICTS_BY_CODE
        )
    )
    place = " · ".join(part for part in (field, districts, proposal.dong or "") if part)
    status = t.gettext(service.status_label(proposal, support_open))
    lines = [
        f"<b>#{proposal.id} {escape(proposal.title)}</b>",
        escape(place),
        t.gettext("Status: %(status)s") % {"status": status},
        progress_line(t, proposal, rules, now),
    ]
    if proposal.cost is not None:
        lines.append(t.gettext("Cost: %(cost)s") % {"cost": t.money(proposal.cost)})
    if proposal.progress is not None:
        lines.append(t.gettext("Progress: %(percent)d%%") % {"percent": proposal.progress})
    if proposal.status is Status.IN_DEBATE and proposal.debate_ends_at is not None:
        lines.append(
            t.gettext("Public debate until %(end)s") % {"end": t.deadline(proposal.debate_ends_at)}
        )
    description = proposal.description
    if len(description) > CARD_DESCRIPTION:
        description = description[:CARD_DESCRIPTION].rstrip() + "…"
    lines += ["", escape(description)]
    if proposal.answer:
        lines += ["", t.gettext("Official answer:"), escape(proposal.answer[:800])]
    return "\n".join(lines)


def deep_link(bot_username: str, proposal_id: int) -> str:
    """`t.me/<bot>?start=p_<id>`: opens the card, after sign-up if need be (SPEC §4)."""
    return f"https://t.me/{bot_username}?start=p_{proposal_id}"


def share_url(t: Translator, proposal: Proposal, bot_username: str, support_open: bool) -> str:
    """Telegram's share sheet: the person picks any chat and sends the link with a line."""
    text = (
        t.gettext("Support “%(title)s” (공감): every supporter counts.")
        if support_open
        else t.gettext("Have a look at “%(title)s” on 시민참여봇.")
    ) % {"title": proposal.title}
    query = urlencode({"url": deep_link(bot_username, proposal.id), "text": text})
    return f"https://t.me/share/url?{query}"


def share_buttons(
    t: Translator, proposal: Proposal, bot_username: str, inline_mode: bool, support_open: bool
) -> list[InlineKeyboardButton]:
    """Send the proposal into another chat: by Telegram's share sheet, and (where the bot
    has inline mode on) as a card with a button back to it, through inline mode."""
    url = share_url(t, proposal, bot_username, support_open)
    buttons = [InlineKeyboardButton(t.gettext("Share"), url=url)]
    if inline_mode:
        buttons.append(
            InlineKeyboardButton(
                t.gettext("Send the card to a chat"), switch_inline_query=f"p_{proposal.id}"
            )
        )
    return buttons


def card_keyboard(
    t: Translator,
    proposal: Proposal,
    bot_username: str,
    supported: bool,
    following: bool,
    is_author: bool,
    support_open: bool,
    inline_mode: bool = False,
) -> InlineKeyboardMarkup:
    pid = proposal.id
    rows: list[list[InlineKeyboardButton]] = []
    first = []
    if support_open:
        first.append(
            InlineKeyboardButton(t.gettext("Withdraw support"), callback_data=f"pr:uns:{pid}")
            if supported
            else InlineKeyboardButton(t.gettext("Support (공감)"), callback_data=f"pr:sup:{pid}")
        )
    first.append(
        InlineKeyboardButton(t.gettext("Unfollow"), callback_data=f"pr:unf:{pid}")
        if following
        else InlineKeyboardButton(t.gettext("Follow"), callback_data=f"pr:fol:{pid}")
    )
    rows.append(first)
    if proposal.status is Status.IN_DEBATE and proposal.debate_kind is DebateKind.FOR_AGAINST:
        rows.append(
            [
                InlineKeyboardButton(t.gettext("For"), callback_data=f"pr:st:{pid}:for"),
                InlineKeyboardButton(t.gettext("Against"), callback_data=f"pr:st:{pid}:against"),
            ]
        )
    rows.append(
        [
            InlineKeyboardButton(t.gettext("Comments"), callback_data=f"pr:com:{pid}"),
            InlineKeyboardButton(t.gettext("History"), callback_data=f"pr:hist:{pid}"),
        ]
    )
    rows.append(share_buttons(t, proposal, bot_username, inline_mode, support_open))
    # One's own proposal is not reported: withdrawn, below, if need be.
    extra = (
        []
        if is_author
        else [InlineKeyboardButton(t.gettext("Report"), callback_data=f"pr:rep:{pid}")]
    )
    if proposal.photos:
        extra.insert(0, InlineKeyboardButton(t.gettext("Photos"), callback_data=f"pr:ph:{pid}"))
    rows.append(extra)
    if is_author and proposal.status in WITHDRAWABLE:
        rows.append(
            [InlineKeyboardButton(t.gettext("Withdraw my proposal"), callback_data=f"pr:wd:{pid}")]
        )
    return InlineKeyboardMarkup(rows)


async def proposal_card(
    update: Update,
    context: BotContext,
    proposal_id: int,
    new_message: bool = False,
    heading: str | None = None,
    supported_now: service.Supported | None = None,
) -> bool:
    """Show a proposal's card (editing the pressed message unless `new_message`), with
    `heading` (plain text) above it if given. `supported_now`: the person's support just
    counted, with the proposal as that transaction saw it (a supporter follows it)."""
    person, t = await person_and_translator(update, context)
    user_id = update.effective_user.id if update.effective_user else 0
    now = context.services.clock()
    if supported_now is not None and supported_now.proposal is not None:
        proposal = supported_now.proposal
        assert supported_now.programme is not None
        programme, supported, following = supported_now.programme, True, True
    else:
        async with context.services.db.reading() as session:
            repository = ProposalsRepository(session)
            found = await repository.get(proposal_id)
            if found is None or found.hidden:
                await send(update, context, t.gettext("That proposal does not exist or is hidden."))
                return False
            proposal = found
            programme = await service.programme_of(session, proposal)
            supported = await repository.supports(proposal_id, user_id)
            following = await repository.follows(proposal_id, user_id)
    rules = service.rules_of(programme)
    support_open = service.support_is_open(proposal, programme, now)
    keyboard = card_keyboard(
        t,
        proposal,
        context.bot.username,
        supported,
        following,
        person is not None and proposal.author_id == person.user_id,
        support_open,
        bool(context.bot.supports_inline_queries),
    )
    text = card_text(t, proposal, rules, now, support_open)
    if heading:
        text = f"{escape(heading)}\n\n{text}"
    if new_message:
        await send(update, context, text, reply_markup=keyboard, parse_mode=ParseMode.HTML)
    else:
        await edit_or_send(update, context, text, keyboard, parse_mode=ParseMode.HTML)
    return True
