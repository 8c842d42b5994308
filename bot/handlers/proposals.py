"""Proposal cards and what people do with them: support (공감), follow, comment, report,
share by deep link; browsing and search (/proposals) and "my page" (/my). SPEC §4."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import (
    CallbackQueryHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.automation import StageEvent, one_worker_at_a_time
from bot.context import BotContext, CivicApplication, translator
from bot.flows.guard import flow, guided_steps
from bot.handlers.common import answer, ask, edit_or_send, retire_question, send, send_stored_photos
from bot.handlers.proposal_views import proposal_card, summary_line
from bot.i18n import N_, Translator
from bot.menu import CommandRegistry, MenuCommand
from bot.services import proposals as service
from domain.people import DISTRICTS, DISTRICTS_BY_CODE
from domain.programmes import Action, ProgrammeKind
from domain.proposals import (
    COMMENT_MAX,
    DECIDED,
    FIELDS_BY_CODE,
    POLICY_FIELDS,
    SUPPORT_OPEN,
    DebateKind,
    Stance,
    Status,
)
from storage.db import Session
from storage.proposals import Filters, Proposal, ProposalsRepository, Sort

PAGE = 5
SORTS: dict[str, Sort] = {"s": "supported", "n": "newest", "e": "ending"}
SORT_LABELS = {"s": N_("Most supported"), "n": N_("Newest"), "e": N_("Ending soon")}
STATUS_GROUPS: dict[str, tuple[Status, ...]] = {
    "c": tuple(SUPPORT_OPEN),
    "r": (Status.THRESHOLD_REACHED, Status.UNDER_REVIEW, Status.IN_DEBATE),
    "d": tuple(DECIDED),
}
STATUS_GROUP_LABELS = {
    "c": N_("Collecting support"),
    "r": N_("In review or debate"),
    "d": N_("Decided"),
    "-": N_("Any status"),
}
OUTCOME_TEXTS = {
    service.Outcome.ALREADY: N_("That is already done."),
    service.Outcome.CLOSED: N_("That is not possible at this stage."),
    service.Outcome.NOT_FOUND: N_("That proposal does not exist or is hidden."),
    service.Outcome.FORBIDDEN: N_("Only the proposer can do that."),
    service.Outcome.NOT_SIGNED_UP: N_("Please sign up first with /start."),
    service.Outcome.BLOCKED: N_("A moderator has stopped you from posting."),
    service.Outcome.OWN: N_("You cannot report what you wrote yourself."),
}


# What a tap that changes nothing, or comes too late, means for the action tapped.
ACTION_OUTCOMES = {
    ("sup", service.Outcome.ALREADY): N_(
        "You already support this proposal; each person's support counts once."
    ),
    ("uns", service.Outcome.ALREADY): N_(
        "You are not supporting this proposal, so there is nothing to withdraw."
    ),
    ("repy", service.Outcome.ALREADY): N_(
        "You already reported this proposal; moderators will look at it."
    ),
    ("repcy", service.Outcome.ALREADY): N_(
        "You already reported this comment; moderators will look at it."
    ),
    ("repy", service.Outcome.OWN): N_(
        "This is your own proposal, so you cannot report it. To take it back, withdraw it from"
        " its card."
    ),
    ("repcy", service.Outcome.OWN): N_("This is your own comment, so you cannot report it."),
    ("sup", service.Outcome.CLOSED): N_(
        "This proposal is no longer collecting support; its card shows where it stands."
    ),
    ("uns", service.Outcome.CLOSED): N_(
        "This proposal is no longer collecting support, so support can't be withdrawn."
    ),
    ("st", service.Outcome.CLOSED): N_("The debate has ended; stances can no longer change."),
    ("wdy", service.Outcome.CLOSED): N_(
        "This proposal can no longer be withdrawn at its stage; see its history."
    ),
    ("com", service.Outcome.CLOSED): N_(
        "Comments are closed: this proposal was withdrawn, merged or not accepted."
    ),
}


async def say_outcome(
    update: Update, context: BotContext, outcome: service.Outcome, action: str = ""
) -> None:
    t = await translator(update, context)
    text = t.gettext(ACTION_OUTCOMES.get((action, outcome), OUTCOME_TEXTS[outcome]))
    await answer(update, text, alert=True)
    if update.callback_query is None:
        await send(update, context, text)


def proposal_id_of(data: str, position: int = 2) -> int:
    return int(data.split(":")[position])


# -- the card's buttons ------------------------------------------------------------------
async def on_card_action(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    _, action, raw_id, *rest = query.data.split(":")
    proposal_id = int(raw_id)
    user_id = update.effective_user.id
    services = context.services
    now = services.clock()
    t = await translator(update, context)
    outcome = service.Outcome.DONE
    supported_now: service.Supported | None = None
    if action == "card":
        await answer(update)
        await proposal_card(update, context, proposal_id, new_message=True)
        return
    if action == "sup":
        supported_now = await service.support_seen(services.db, proposal_id, user_id, now)
        outcome = supported_now.outcome
        message = t.gettext("Thank you for your support (공감)!")
    elif action == "uns":
        outcome = await service.withdraw_support(services.db, proposal_id, user_id, now)
        message = t.gettext("Your support is withdrawn.")
    elif action in ("fol", "unf"):
        outcome = await service.set_following(services.db, proposal_id, user_id, action == "fol")
        message = (
            t.gettext("You will be told about every change.")
            if action == "fol"
            else t.gettext("You will no longer be told about changes.")
        )
    elif action == "st":
        stance = Stance(rest[0])
        outcome = await service.set_stance(services.db, proposal_id, user_id, stance, now)
        message = t.gettext("Your stance is recorded; you can change it until the debate ends.")
    elif action in ("rep", "repc"):
        # A report asks first: one tap too many is better than a report made by mistake.
        await confirm_report(update, context, action, proposal_id)
        return
    elif action == "keep":
        await answer(update)
        await edit_or_send(update, context, t.gettext("Nothing was reported."))
        return
    elif action == "repy":
        outcome, _ = await service.report(services.db, "proposal", proposal_id, user_id, now)
        message = t.gettext("Thank you. Moderators will look at it.")
        if outcome is service.Outcome.DONE:
            await answer(update, message)
            await edit_or_send(update, context, message)
            return
    elif action == "wd":
        await answer(update)
        await confirm_withdrawal(update, context, proposal_id)
        return
    elif action == "wdy":
        outcome = await service.withdraw(services.db, proposal_id, user_id, now)
        message = t.gettext("Your proposal is withdrawn.")
    elif action == "hist":
        await answer(update)
        await show_history(update, context, proposal_id)
        return
    elif action == "com":
        await answer(update)
        await show_comments(update, context, proposal_id)
        return
    elif action == "repcy":
        outcome, _ = await service.report(services.db, "comment", proposal_id, user_id, now)
        message = t.gettext("Thank you. Moderators will look at it.")
        if outcome is service.Outcome.DONE:
            await answer(update, message)
            await edit_or_send(update, context, message)
            return
    elif action == "ph":
        await answer(update)
        await show_photos(update, context, proposal_id)
        return
    else:
        await answer(update)
        return
    if outcome is not service.Outcome.DONE:
        await say_outcome(update, context, outcome, action)
        if action in ("sup", "uns") and outcome is not service.Outcome.NOT_FOUND:
            # The card tapped was out of date: show it as it stands.
            await proposal_card(update, context, proposal_id)
        return
    await answer(update, message)
    # The same card, edited in place with the new count and buttons.
    if action != "wdy":
        await proposal_card(update, context, proposal_id, supported_now=supported_now)
    else:
        await edit_or_send(update, context, message)


async def confirm_report(update: Update, context: BotContext, action: str, target_id: int) -> None:
    """Ask before a report: what it is for, and a way back. One's own content is refused
    here already, with why (the service refuses it too)."""
    t = await translator(update, context)
    assert update.effective_user is not None
    async with context.services.db.reading() as session:
        repository = ProposalsRepository(session)
        found = await (
            repository.get_comment(target_id) if action == "repc" else repository.get(target_id)
        )
    if found is None:
        await say_outcome(update, context, service.Outcome.NOT_FOUND)
        return
    if found.author_id == update.effective_user.id:
        await say_outcome(update, context, service.Outcome.OWN, f"{action}y")
        return
    await answer(update)
    question = (
        t.gettext(
            "Report only what breaks the rules, such as insults, someone's personal data or"
            " advertising. Report this comment to the moderators?"
        )
        if action == "repc"
        else t.gettext(
            "Report only what breaks the rules, such as insults, someone's personal data or"
            " advertising. Report proposal #%(id)d to the moderators?"
        )
        % {"id": target_id}
    )
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.gettext("Yes, report it"), callback_data=f"pr:{action}y:{target_id}"
                ),
                InlineKeyboardButton(t.gettext("No"), callback_data=f"pr:keep:{target_id}"),
            ]
        ]
    )
    await send(update, context, question, reply_markup=keyboard)


async def confirm_withdrawal(update: Update, context: BotContext, proposal_id: int) -> None:
    t = await translator(update, context)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.gettext("Yes, withdraw it"), callback_data=f"pr:wdy:{proposal_id}"
                ),
                InlineKeyboardButton(t.gettext("No"), callback_data=f"pr:card:{proposal_id}"),
            ]
        ]
    )
    await send(
        update,
        context,
        t.gettext("Withdraw proposal #%(id)d? It leaves review; supporters and followers are told.")
        % {"id": proposal_id},
        reply_markup=keyboard,
    )


async def show_history(update: Update, context: BotContext, proposal_id: int) -> None:
    t = await translator(update, context)
    async with context.services.db.reading() as session:
        repository = ProposalsRepository(session)
        proposal = await repository.get(proposal_id)
        events = await repository.history(proposal_id) if proposal else []
    if proposal is None:
        await send(update, context, t.gettext("That proposal does not exist or is hidden."))
        return
    lines = [t.gettext("History of #%(id)d") % {"id": proposal_id}]
    for event in events[-15:]:
        label = service.label_of(event.status, proposal.kind is not None)
        line = f"{t.day(event.at)} — {t.gettext(label)}"
        if event.progress is not None:
            line += f" ({event.progress}%)"
        if event.note:
            line += f"\n   {event.note[:300]}"
        lines.append(line)
    await send(update, context, "\n".join(lines))


async def show_photos(update: Update, context: BotContext, proposal_id: int) -> None:
    async with context.services.db.reading() as session:
        proposal = await ProposalsRepository(session).get(proposal_id)
    if proposal is None or not proposal.photos:
        return
    await send_stored_photos(update, context, proposal.photos)


async def show_comments(update: Update, context: BotContext, proposal_id: int) -> None:
    t = await translator(update, context)
    async with context.services.db.reading() as session:
        repository = ProposalsRepository(session)
        proposal = await repository.get(proposal_id)
        comments = await repository.comments(proposal_id) if proposal else []
    if proposal is None or proposal.hidden:
        await send(update, context, t.gettext("That proposal does not exist or is hidden."))
        return
    lines = [t.gettext("Comments on #%(id)d") % {"id": proposal_id}]
    rows = []
    if not comments:
        lines.append(t.gettext("No comments yet."))
    for number, comment in enumerate(comments, 1):
        tag = ""
        if comment.stance is Stance.FOR:
            tag = f"[{t.gettext('For')}] "
        elif comment.stance is Stance.AGAINST:
            tag = f"[{t.gettext('Against')}] "
        lines.append(f"{number}. {tag}{comment.text}")
        if update.effective_user is None or comment.author_id != update.effective_user.id:
            rows.append(
                InlineKeyboardButton(
                    t.gettext("Report %(number)d") % {"number": number},
                    callback_data=f"pr:repc:{comment.id}",
                )
            )
    keyboard = [rows[i : i + 5] for i in range(0, len(rows), 5)]
    if proposal.status is Status.IN_DEBATE and proposal.debate_kind is DebateKind.FOR_AGAINST:
        keyboard.append(
            [
                InlineKeyboardButton(
                    t.gettext("Comment for"), callback_data=f"cw:{proposal_id}:for"
                ),
                InlineKeyboardButton(
                    t.gettext("Comment against"), callback_data=f"cw:{proposal_id}:against"
                ),
            ]
        )
    else:
        keyboard.append(
            [InlineKeyboardButton(t.gettext("Write a comment"), callback_data=f"cw:{proposal_id}")]
        )
    await send(
        update, context, "\n".join(lines)[:4000], reply_markup=InlineKeyboardMarkup(keyboard)
    )


# -- writing a comment (a one-step flow) -------------------------------------------------
WRITING = "writing"
COMMENT_FLOW = N_("writing a comment")


async def start_comment(update: Update, context: BotContext) -> str:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    parts = query.data.split(":")
    context.udata["comment"] = {
        "proposal": int(parts[1]),
        "stance": parts[2] if len(parts) > 2 else None,
    }
    return await ask_comment(update, context)


async def ask_comment(update: Update, context: BotContext) -> str:
    t = await translator(update, context)
    cancel_row = [InlineKeyboardButton(t.gettext("Cancel"), callback_data="cw:cancel")]
    await ask(
        update,
        context,
        t.gettext("Write your comment (at most %(max)d characters).") % {"max": COMMENT_MAX},
        InlineKeyboardMarkup([cancel_row]),
    )
    return WRITING


async def on_comment_text(update: Update, context: BotContext) -> str | int:
    assert update.message is not None and update.message.text is not None
    assert update.effective_user is not None
    t = await translator(update, context)
    text = update.message.text.strip()
    if len(text) > COMMENT_MAX:
        await send(
            update,
            context,
            t.gettext("That is %(length)d characters; please keep it to %(max)d.")
            % {"length": len(text), "max": COMMENT_MAX},
        )
        return await ask_comment(update, context)
    pending = context.udata.get("comment") or {}
    proposal_id = int(pending.get("proposal", 0))
    stance = Stance(pending["stance"]) if pending.get("stance") in ("for", "against") else None
    services = context.services
    outcome = await service.comment(
        services.db, proposal_id, update.effective_user.id, text, stance, services.clock()
    )
    await retire_question(update, context)
    context.udata.pop("comment", None)
    if outcome is not service.Outcome.DONE:
        await say_outcome(update, context, outcome, "com")
        return ConversationHandler.END
    await send(update, context, t.gettext("Your comment is posted."))
    await show_comments(update, context, proposal_id)
    return ConversationHandler.END


async def cancel_comment(update: Update, context: BotContext) -> int:
    await answer(update)
    context.udata.pop("comment", None)
    await retire_question(update, context)
    t = await translator(update, context)
    await send(update, context, t.gettext("No comment was posted."))
    return ConversationHandler.END


def comment_handler(registry: CommandRegistry) -> ConversationHandler[BotContext]:
    return flow(
        entry_points=[CallbackQueryHandler(start_comment, pattern=r"^cw:\d+(:(for|against))?$")],
        states={
            WRITING: guided_steps("cw", None, cancel_comment, ask_comment, COMMENT_FLOW, registry)(
                MessageHandler(filters.TEXT & ~filters.COMMAND, on_comment_text)
            )
        },
        name="comment",
    )


# -- browse and search -------------------------------------------------------------------
def browse_data(sort: str, field: str, district: str, group: str, page: int) -> str:
    return f"br:{sort}:{field}:{district}:{group}:{page}"


async def browse_command(update: Update, context: BotContext) -> None:
    if context.args:
        await show_search(update, context, " ".join(context.args)[:100], 0)
        return
    await show_page(update, context, "s", "-", "-", "-", 0, edit=False)


async def show_page(
    update: Update,
    context: BotContext,
    sort: str,
    field: str,
    district: str,
    group: str,
    page: int,
    edit: bool = True,
) -> None:
    t = await translator(update, context)
    filters_ = Filters(
        field=None if field == "-" else field,
        district=None if district == "-" else district,
        statuses=STATUS_GROUPS.get(group, ()),
    )
    async with context.services.db.reading() as session:
        found, total = await ProposalsRepository(session).search(
            filters_, SORTS[sort], PAGE, page * PAGE
        )
    header = [t.gettext("Proposals — %(sort)s") % {"sort": t.gettext(SORT_LABELS[sort])}]
    if field != "-":
        header.append(FIELDS_BY_CODE[field].name(t.language))
    if district != "-":
        header.append(DISTRICTS_BY_CODE[district].name(t.language))
    header.append(t.gettext(STATUS_GROUP_LABELS[group]))
    text = " · ".join(header) + "\n\n" + list_text(t, found, page, total)
    rows = open_buttons(found)
    pager = []
    if page > 0:
        pager.append(
            InlineKeyboardButton(
                t.gettext("Previous"),
                callback_data=browse_data(sort, field, district, group, page - 1),
            )
        )
    if (page + 1) * PAGE < total:
        pager.append(
            InlineKeyboardButton(
                t.gettext("Next"), callback_data=browse_data(sort, field, district, group, page + 1)
            )
        )
    if pager:
        rows.append(pager)
    rows.append(
        [
            InlineKeyboardButton(
                ("✓ " if key == sort else "") + t.gettext(label),
                callback_data=browse_data(key, field, district, group, 0),
            )
            for key, label in SORT_LABELS.items()
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(t.gettext("Field"), callback_data=f"bf:{sort}:{district}:{group}"),
            InlineKeyboardButton(t.gettext("District"), callback_data=f"bd:{sort}:{field}:{group}"),
            InlineKeyboardButton(
                t.gettext("Status"),
                callback_data=browse_data(sort, field, district, next_group(group), 0),
            ),
        ]
    )
    rows.append([InlineKeyboardButton(t.gettext("Search"), callback_data="bs")])
    markup = InlineKeyboardMarkup(rows)
    if edit:
        await edit_or_send(update, context, text, markup, parse_mode=ParseMode.HTML)
    else:
        await send(update, context, text, reply_markup=markup, parse_mode=ParseMode.HTML)


def next_group(group: str) -> str:
    order = ["-", "c", "r", "d"]
    return order[(order.index(group) + 1) % len(order)] if group in order else "-"


def list_text(t: Translator, found: list[Proposal], page: int, total: int) -> str:
    if not found:
        return t.gettext("No proposals match.")
    lines = []
    for number, proposal in enumerate(found, page * PAGE + 1):
        lines.append(f"{number}. {summary_line(t, proposal)}")
    lines.append(
        t.gettext("%(first)d–%(last)d of %(total)d")
        % {"first": page * PAGE + 1, "last": page * PAGE + len(found), "total": total}
    )
    return "\n".join(lines)


def open_buttons(found: list[Proposal]) -> list[list[InlineKeyboardButton]]:
    buttons = [InlineKeyboardButton(f"#{p.id}", callback_data=f"pr:card:{p.id}") for p in found]
    return [buttons] if buttons else []


async def on_browse(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    _, sort, field, district, group, page = query.data.split(":")
    # Forged or stale filter values fall back to "any" rather than failing.
    field = field if field in FIELDS_BY_CODE else "-"
    district = district if district in DISTRICTS_BY_CODE else "-"
    await show_page(update, context, sort, field, district, group, int(page))


async def on_pick_field(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    _, sort, district, group = query.data.split(":")
    district = district if district in DISTRICTS_BY_CODE else "-"
    t = await translator(update, context)
    buttons = [
        InlineKeyboardButton(
            t.gettext("All fields"), callback_data=browse_data(sort, "-", district, group, 0)
        )
    ]
    buttons += [
        InlineKeyboardButton(
            f.name(t.language), callback_data=browse_data(sort, f.code, district, group, 0)
        )
        for f in POLICY_FIELDS
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    await edit_or_send(
        update, context, t.gettext("Which policy field?"), InlineKeyboardMarkup(rows)
    )


async def on_pick_district(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    _, sort, field, group = query.data.split(":")
    field = field if field in FIELDS_BY_CODE else "-"
    t = await translator(update, context)
    buttons = [
        InlineKeyboardButton(
            t.gettext("All districts"), callback_data=browse_data(sort, field, "-", group, 0)
        )
    ]
    buttons += [
        InlineKeyboardButton(
            d.name(t.language), callback_data=browse_data(sort, field, d.code, group, 0)
        )
        for d in DISTRICTS
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    await edit_or_send(update, context, t.gettext("Which district?"), InlineKeyboardMarkup(rows))


SEARCHING = "searching"
SEARCH_FLOW = N_("searching proposals")


async def start_search(update: Update, context: BotContext) -> str:
    await answer(update)
    return await ask_search(update, context)


async def ask_search(update: Update, context: BotContext) -> str:
    t = await translator(update, context)
    await ask(
        update,
        context,
        t.gettext("Type words to look for in titles and descriptions."),
        InlineKeyboardMarkup(
            [[InlineKeyboardButton(t.gettext("Cancel"), callback_data="bs:cancel")]]
        ),
    )
    return SEARCHING


async def on_search_text(update: Update, context: BotContext) -> int:
    assert update.message is not None and update.message.text is not None
    await retire_question(update, context)
    await show_search(update, context, update.message.text.strip()[:100], 0)
    return ConversationHandler.END


async def cancel_search(update: Update, context: BotContext) -> int:
    await answer(update)
    await retire_question(update, context)
    return ConversationHandler.END


async def show_search(update: Update, context: BotContext, text: str, page: int) -> None:
    t = await translator(update, context)
    context.udata["search"] = text
    async with context.services.db.reading() as session:
        found, total = await ProposalsRepository(session).search(
            Filters(text=text), "supported", PAGE, page * PAGE
        )
    body = t.gettext("Search: “%(text)s”") % {"text": escape(text)}
    body += "\n\n" + list_text(t, found, page, total)
    rows = open_buttons(found)
    pager = []
    if page > 0:
        pager.append(InlineKeyboardButton(t.gettext("Previous"), callback_data=f"bq:{page - 1}"))
    if (page + 1) * PAGE < total:
        pager.append(InlineKeyboardButton(t.gettext("Next"), callback_data=f"bq:{page + 1}"))
    if pager:
        rows.append(pager)
    markup = InlineKeyboardMarkup(rows)
    if update.callback_query is not None:
        await edit_or_send(update, context, body, markup, parse_mode=ParseMode.HTML)
    else:
        await send(update, context, body, reply_markup=markup, parse_mode=ParseMode.HTML)


async def on_search_page(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    text = context.udata.get("search")
    if not isinstance(text, str):
        t = await translator(update, context)
        await send(update, context, t.gettext("That search has expired; search again."))
        return
    await show_search(update, context, text, int(query.data.split(":")[1]))


def search_handler(registry: CommandRegistry) -> ConversationHandler[BotContext]:
    return flow(
        entry_points=[CallbackQueryHandler(start_search, pattern=r"^bs$")],
        states={
            SEARCHING: guided_steps("bs", None, cancel_search, ask_search, SEARCH_FLOW, registry)(
                MessageHandler(filters.TEXT & ~filters.COMMAND, on_search_text)
            )
        },
        name="search",
    )


async def open_deep_link(update: Update, context: BotContext, proposal_id: int) -> None:
    await proposal_card(update, context, proposal_id, new_message=True)


async def deadlines_job(context: BotContext) -> None:
    """Apply support and debate deadlines and remind proposers short of their goal (also
    after downtime: each run looks at what is due now)."""
    services = context.services
    now = services.clock()
    await service.close_due(services.db, now)
    await service.queue_support_reminders(services.db, now, services.settings.reminder_offsets)


async def on_stage_close(session: Session, event: StageEvent) -> None:
    """A PB proposal call that closes sends what it collected to review (민관예산협의회)."""
    if (
        event.programme.kind is ProgrammeKind.PARTICIPATORY_BUDGET
        and Action.PROPOSE in event.stage.actions
    ):
        await service.close_call_in(session, event.programme_id, event.at)


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    registry.add(
        MenuCommand(
            "proposals",
            N_("Browse and search proposals"),
            N_("Proposals"),
            browse_command,
            on_keyboard=True,
        )
    )
    application.add_handler(comment_handler(registry))
    application.add_handler(search_handler(registry))
    application.add_handler(
        CallbackQueryHandler(
            on_card_action,
            pattern=r"^pr:(card|sup|uns|fol|unf|rep|repy|repc|repcy|keep|wd|wdy|hist|com|ph):\d{1,12}$"
            r"|^pr:st:\d{1,12}:(for|against)$",
        )
    )
    application.add_handler(
        CallbackQueryHandler(on_browse, pattern=r"^br:[sne]:[a-z-]+:[a-z-]+:[crd-]:\d{1,4}$")
    )
    application.add_handler(
        CallbackQueryHandler(on_pick_field, pattern=r"^bf:[sne]:[a-z-]+:[crd-]$")
    )
    application.add_handler(
        CallbackQueryHandler(on_pick_district, pattern=r"^bd:[sne]:[a-z-]+:[crd-]$")
    )
    application.add_handler(CallbackQueryHandler(on_search_page, pattern=r"^bq:\d{1,4}$"))
    application.deep_links.add_id("p_", open_deep_link)
    application.automation.on_stage_close(on_stage_close)
    assert application.job_queue is not None
    application.job_queue.run_repeating(
        one_worker_at_a_time("proposal-deadlines", deadlines_job),
        interval=60,
        first=1,
        name="proposal-deadlines",
    )
