"""/vote: the conversational ballot (SPEC §6), and /results for admins (총회 approval).

The ballot is one message edited in place: projects with cost, toggles, a running count and
the money left; every tap is checked against the heading's rules and again on the server
when the ballot is cast. Choices in progress are kept in the person's conversation data.

Before a ballot opens and again before it is cast, the answers the vote needs (SPEC §2) are
asked if missing (`bot.flows.eligibility`), and the ballot carries on where it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from html import escape
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode
from telegram.ext import CallbackQueryHandler, ConversationHandler

from bot.automation import ReminderDue, StageEvent
from bot.charts import ChartProject, png, results_figure
from bot.context import BotContext, CivicApplication, person_and_translator, translator
from bot.flows import eligibility as asking
from bot.flows.guard import end_flow, flow
from bot.handlers.common import answer, checkpoint, edit_or_send, send, send_stored_photos
from bot.i18n import N_, Translator
from bot.intake import unit_of_work
from bot.menu import CommandRegistry, MenuCommand
from bot.services import voting as service
from bot.services.overview import programmes as programmes_overview
from bot.web.links import webapp_button
from domain.people import DISTRICTS_BY_CODE, Ineligible, Question
from domain.programmes import Programme, Stage
from domain.tally import MES_RULES
from domain.voting import BallotProblem, Heading, HeadingKind, Item, check_toggle, spent, toggle
from storage.db import Session
from storage.voting import VotingRepository

PAGE = 6
IN_PROGRESS = service.DRAFTS  # ballots being filled in, by heading id, until cast
NAME = "ballot"  # the conversation that asks what a vote needs
FLOW_NAME = N_("getting ready to vote")
RESUME = "ballot_resume"  # what to do once the answers are in: open, submit or list

REFUSALS = {
    service.Refusal.NOT_SIGNED_UP: N_("Please sign up first with /start."),
    service.Refusal.NOT_FOUND: N_("That ballot no longer exists. See /vote for the open votes."),
    service.Refusal.CLOSED: N_("This vote is not open now. See /vote for the open votes."),
    service.Refusal.INELIGIBLE: N_(
        "This vote is open to people who live, work or study in Seoul and are not officials of"
        " the city, its districts or bodies they fund. See your answers in /profile."
    ),
    service.Refusal.WRONG_DISTRICT: N_(
        "This ballot is for the people of another district. If you moved, change your district"
        " in /profile."
    ),
    service.Refusal.NEEDS_ANSWERS: N_(
        "This vote needs an answer you have not given yet. Open the ballot again from /vote."
    ),
    service.Refusal.OTHER_HEADING: N_(
        "You already voted in another ballot of this group; open it from /vote to change it."
    ),
    service.Refusal.INVALID: N_("That ballot is not valid."),
    service.Refusal.FORBIDDEN: N_("This is for administrators only."),
    service.Refusal.NOT_MEMBER: N_("This vote is for the members of the panel only."),
    service.Refusal.LOCKED: N_(
        "You have already voted here: your ballot is counted and can no longer be changed."
    ),
    service.Refusal.STILL_OPEN: N_(
        "The vote is still open, so this is an interim count. The result can be confirmed"
        " once the vote has closed."
    ),
    service.Refusal.CONFIRMED: N_(
        "The result of this vote is confirmed (총회 승인), so it no longer takes ballots."
        " See /vote for the open votes."
    ),
    service.Refusal.CHANGED: N_(
        "The count has changed since it was shown to you (ballots or paper counts came in)."
        " Nothing was confirmed: check the new count before confirming."
    ),
}
PROBLEMS = {
    BallotProblem.UNKNOWN_ITEM: N_(
        "That project is not on this ballot. Here is the ballot as it is now."
    ),
    BallotProblem.TOO_MANY: N_(
        "You can choose at most %(max)d projects. Remove one to choose another."
    ),
    BallotProblem.TOO_FEW: N_("Choose at least %(min)d projects."),
    BallotProblem.OVER_BUDGET: N_(
        "Your choices cost %(spent)s, %(over)s over the budget of %(budget)s. Remove a project."
    ),
    BallotProblem.ONE_ANSWER: N_("Choose one answer."),
}
ANSWER_LABELS = {"yes": N_("In favour"), "no": N_("Against"), "abstain": N_("Abstain")}
# Why a ballot is not the person's, in a few words for the /vote list.
NOT_YOURS = {
    Ineligible.OTHER_DISTRICT: N_("a vote for the people of %(district)s"),
    Ineligible.NOT_CONNECTED: N_("for people who live, work or study in Seoul"),
    Ineligible.TOO_YOUNG: N_("from the age of %(age)d"),
    Ineligible.OFFICIAL: N_("not open to officials"),
}


def problem_text(
    t: Translator, heading: Heading, problem: BallotProblem, choices: list[str]
) -> str:
    used = spent(heading, choices)
    return t.gettext(PROBLEMS[problem]) % {
        "max": heading.max_choices,
        "min": heading.min_choices,
        "budget": t.money(heading.budget or 0),
        "spent": t.money(used),
        "over": t.money(max(0, used - (heading.budget or 0))),
    }


def over_budget_text(t: Translator, heading: Heading, choices: list[str], item: Item) -> str:
    """A tap that would go over: what the project costs, by how much, and what is left."""
    left = (heading.budget or 0) - spent(heading, choices)
    return t.gettext(
        "“%(item)s” costs %(cost)s, %(over)s more than the %(left)s left of the budget."
        " Remove a project to make room."
    ) % {
        "item": item.title_in(t.language)[:30],
        "cost": t.money(item.cost),
        "over": t.money(item.cost - left),
        "left": t.money(left),
    }


def in_progress(context: BotContext, heading_id: int) -> list[str] | None:
    found = context.udata.get(IN_PROGRESS, {}).get(str(heading_id))
    return list(found) if isinstance(found, list) else None


async def draft_or_cast(update: Update, context: BotContext, heading_id: int) -> list[str]:
    """The ballot being built, else the one cast (shown and changed from there; it becomes a
    draft in conversation data only once a choice changes)."""
    found = in_progress(context, heading_id)
    if found is None:
        assert update.effective_user is not None
        found = await service.current_choices(
            context.services.db, update.effective_user.id, heading_id
        )
    return found


def keep(context: BotContext, heading_id: int, choices: list[str]) -> None:
    context.udata.setdefault(IN_PROGRESS, {})[str(heading_id)] = choices


def item_label(t: Translator, heading: Heading, key: str) -> str:
    item = heading.item(key)
    title = item.title_in(t.language) if item else key
    if heading.kind is HeadingKind.QUESTION and key in ANSWER_LABELS:
        title = t.gettext(ANSWER_LABELS[key])
    return title


def not_yours(t: Translator, entry: service.OpenHeading, minimum_age: int) -> str:
    refusal = entry.eligibility.refusal
    assert refusal is not None
    district = DISTRICTS_BY_CODE.get(entry.heading.district or "")
    return t.gettext(NOT_YOURS[refusal]) % {
        "district": district.name(t.language) if district else "",
        "age": minimum_age,
    }


async def vote_command(update: Update, context: BotContext) -> None:
    """The open votes: the person's own with a button each, the others named with why not."""
    await answer(update)
    t = await translator(update, context)
    assert update.effective_user is not None
    minimum_age = context.services.settings.minimum_age
    now = context.services.clock()
    async with context.services.db.reading() as session:
        found = await service.open_headings(session, update.effective_user.id, now, minimum_age)
    waiting = await votes_not_listed(context, found, now)
    if not found and not waiting:
        await send(update, context, t.gettext("No vote is open right now. See /programmes."))
        return
    yours = [e for e in found if e.eligibility.refusal is None]
    by_district = [e for e in yours if Question.DISTRICT in e.eligibility.missing]
    yours = [e for e in yours if e not in by_district]
    others = [e for e in found if e.eligibility.refusal is not None]
    rows = []
    lines = [t.gettext("Open votes:")]
    for entry in yours + [e for e in others if e.voted]:
        state = t.gettext("voted") if entry.voted else t.gettext("not voted yet")
        line = (
            f"• {entry.programme.name.get(t.language)} — {entry.heading.name(t.language)} ({state})"
        )
        if entry.stage.ends_at is not None:
            line += "\n  " + t.gettext("open until %(end)s") % {
                "end": t.deadline(entry.stage.ends_at, now)
            }
        if entry.voted and entry.eligibility.refusal is not None:
            line += "\n  " + t.gettext(
                "Your ballot stays valid, but it is no longer yours to change (%(reason)s)."
            ) % {"reason": not_yours(t, entry, minimum_age)}
        else:
            rows.append(
                [
                    InlineKeyboardButton(
                        entry.heading.name(t.language), callback_data=f"vt:h:{entry.heading_id}:0"
                    )
                ]
            )
        lines.append(line)
    if len(lines) == 1:
        lines.append(t.gettext("None you can cast."))
    if waiting:
        # /programmes shows these stages as open: say why they have no ballot here.
        lines.append("")
        for programme, stage, members_only in waiting:
            reason = (
                t.gettext("only the members of its panel vote")
                if members_only
                else t.gettext("its ballot is not published yet; it will be listed here once it is")
            )
            lines.append(
                f"• {programme.name.get(t.language)} — {stage.name.get(t.language)}: {reason}"
            )
    if by_district:
        lines += [
            "",
            t.ngettext(
                "%(count)d more vote is for the people of one district; tell us yours to see it.",
                "%(count)d more votes are for the people of one district each; tell us yours to"
                " see its vote.",
                len(by_district),
            )
            % {"count": len(by_district)},
        ]
        rows.append(
            [InlineKeyboardButton(t.gettext("Tell us your district"), callback_data="vt:dist")]
        )
    unavailable = [e for e in others if not e.voted]
    if unavailable:
        lines += ["", t.gettext("Not yours to cast:")]
        lines += [
            f"• {entry.heading.name(t.language)} — {not_yours(t, entry, minimum_age)}"
            for entry in unavailable
        ]
        lines.append(t.gettext("Your answers, and how to change them: /profile"))
    app = webapp_button(context.civic.web_url, t.gettext("Vote with project cards"))
    if app is not None:
        rows.append([app])
    await send(update, context, "\n".join(lines)[:4000], reply_markup=InlineKeyboardMarkup(rows))


async def votes_not_listed(
    context: BotContext, found: list[service.OpenHeading], now: datetime
) -> list[tuple[Programme, Stage, bool]]:
    """Voting stages open now that have no ballot listed for this person: none published yet
    (False), or only members' ballots (True)."""
    listed = {(entry.programme.key, entry.stage.key) for entry in found}
    waiting = []
    for overview in await programmes_overview(context.services.db):
        for stage in overview.programme.stages:
            if not service.voting_open(stage, now):
                continue
            if (overview.programme.key, stage.key) in listed:
                continue
            ballots = [b for b in overview.ballots if b.stage.key == stage.key]
            waiting.append((overview.programme, stage, bool(ballots)))
    return waiting


def render_ballot(
    t: Translator, heading_id: int, heading: Heading, choices: list[str], page: int
) -> tuple[list[str], list[list[InlineKeyboardButton]]]:
    """The ballot as the voter sees it: its lines and buttons (an admin's preview shows the
    same, from bot/handlers/programme_admin.py)."""
    pages = max(1, -(-len(heading.items) // PAGE))
    page = min(max(page, 0), pages - 1)
    lines = [f"<b>{escape(heading.name(t.language))}</b>"]
    if heading.kind is HeadingKind.QUESTION:
        lines.append(t.gettext("Choose one answer, then submit."))
    else:
        lines.append(
            t.gettext("Chosen: %(count)d of at most %(max)d")
            % {"count": len(choices), "max": heading.max_choices}
        )
        if heading.budget is not None and heading.knapsack:
            left = heading.budget - spent(heading, choices)
            lines.append(t.gettext("Money left: %(money)s") % {"money": t.money(left)})
    lines.append("")
    rows = []
    for number, item in enumerate(heading.items[page * PAGE : (page + 1) * PAGE], page * PAGE + 1):
        chosen = item.key in choices
        label = item_label(t, heading, item.key)
        line = f"{number}. {escape(label)}"
        if item.cost:
            line += f" — {t.money(item.cost)}"
        if item.summary:
            line += f"\n   {escape(item.summary[:120])}"
        lines.append(line)
        text = (
            t.gettext("Chosen: %(item)s") % {"item": f"{number}. {label}"}
            if chosen
            else f"{number}. {label}"
        )
        index = heading.items.index(item)
        buttons = [InlineKeyboardButton(text[:60], callback_data=f"vt:t:{heading_id}:{index}")]
        if item.summary or item.photo:
            buttons.append(
                InlineKeyboardButton(
                    t.gettext("Details"), callback_data=f"vt:d:{heading_id}:{index}"
                )
            )
        rows.append(buttons)
    pager = []
    if page > 0:
        pager.append(
            InlineKeyboardButton(
                t.gettext("Previous"), callback_data=f"vt:h:{heading_id}:{page - 1}"
            )
        )
    if page + 1 < pages:
        pager.append(
            InlineKeyboardButton(t.gettext("Next"), callback_data=f"vt:h:{heading_id}:{page + 1}")
        )
    if pager:
        rows.append(pager)
    rows.append(
        [InlineKeyboardButton(t.gettext("Review and submit"), callback_data=f"vt:v:{heading_id}")]
    )
    return lines, rows


async def ballot_view(
    update: Update,
    context: BotContext,
    heading_id: int,
    page: int,
    note: str = "",
    new_message: bool = False,
) -> None:
    t = await translator(update, context)
    assert update.effective_user is not None
    async with context.services.db.reading() as session:
        where = await service.locate(session, heading_id)
    if where is None:
        await send(update, context, t.gettext(REFUSALS[service.Refusal.NOT_FOUND]))
        return
    heading = where.heading
    choices = await draft_or_cast(update, context, heading_id)
    lines, rows = render_ballot(t, heading_id, heading, choices, page)
    if note:
        lines += ["", note]
    text = "\n".join(lines)[:4000]
    if new_message:
        await send(
            update,
            context,
            text,
            reply_markup=InlineKeyboardMarkup(rows),
            parse_mode=ParseMode.HTML,
        )
    else:
        await edit_or_send(
            update, context, text, InlineKeyboardMarkup(rows), parse_mode=ParseMode.HTML
        )


# -- the answers a vote needs, before the ballot opens and before it is cast ----------------------
async def ready(
    update: Update, context: BotContext, heading_id: int, then: dict[str, Any]
) -> object:
    """None when the person may vote in this heading now; else the conversation's next state:
    a question the vote needs (`then` is done once it is answered), or the end after saying
    why this ballot is not theirs."""
    person, t = await person_and_translator(update, context)
    async with context.services.db.reading() as session:
        where = await service.locate(session, heading_id)
    if where is None or person is None:
        refusal = service.Refusal.NOT_FOUND if person else service.Refusal.NOT_SIGNED_UP
        await send(update, context, t.gettext(REFUSALS[refusal]))
        return ConversationHandler.END
    services = context.services
    found = service.heading_eligibility(
        person, where.programme, where.heading, services.clock(), services.settings.minimum_age
    )
    if found.refusal is not None:
        name = (
            where.heading.name(t.language)
            if found.refusal is Ineligible.OTHER_DISTRICT
            else where.programme.name.get(t.language)
        )
        await asking.refuse(update, context, found.refusal, name, where.heading.district)
        return await end(update, context)
    if found.missing:
        context.udata[RESUME] = then
        purpose = asking.Purpose(asking.VOTE, where.heading.name_ko, where.heading.name_en)
        return await asking.ask(update, context, HOST, found.missing, purpose)
    return None


async def on_open(update: Update, context: BotContext) -> object:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    _, _, heading_id, page = query.data.split(":")
    return await open_ballot(update, context, int(heading_id), int(page))


async def open_ballot(
    update: Update, context: BotContext, heading_id: int, page: int, new_message: bool = False
) -> object:
    waiting = await ready(update, context, heading_id, {"do": "open", "heading": heading_id})
    if waiting is not None:
        return waiting
    await ballot_view(update, context, heading_id, page, new_message=new_message)
    return ConversationHandler.END


async def on_tell_district(update: Update, context: BotContext) -> object:
    """From /vote: the district's own ballot shows once the district is known."""
    await answer(update)
    context.udata[RESUME] = {"do": "list"}
    # The button said what this is for: the question comes without an introduction.
    purpose = asking.Purpose(asking.ANSWER_ONLY)
    return await asking.ask(update, context, HOST, (Question.DISTRICT,), purpose)


async def resume(update: Update, context: BotContext) -> object:
    then = context.udata.pop(RESUME, None) or {}
    heading_id = int(then.get("heading", 0))
    if then.get("do") == "submit":
        return await submit(update, context, heading_id, new_message=True)
    if then.get("do") == "open":
        return await open_ballot(update, context, heading_id, 0, new_message=True)
    await end(update, context)
    await vote_command(update, context)
    return ConversationHandler.END


async def end(update: Update, context: BotContext) -> int:
    return await end_flow(update, context, RESUME, NAME)


async def cancel(update: Update, context: BotContext) -> int:
    await answer(update)
    t = await translator(update, context)
    await end(update, context)
    await send(
        update,
        context,
        t.gettext("Nothing was cast. Your choices are kept; vote any time before it closes: /vote"),
    )
    return ConversationHandler.END


HOST = asking.Host(NAME, FLOW_NAME, resume, cancel, end)


# -- the ballot itself -----------------------------------------------------------------------
async def on_toggle(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _, _, raw_heading, raw_index = query.data.split(":")
    heading_id, index = int(raw_heading), int(raw_index)
    t = await translator(update, context)
    async with context.services.db.reading() as session:
        where = await service.locate(session, heading_id)
    if where is None:
        await answer(update, t.gettext(REFUSALS[service.Refusal.NOT_FOUND]), alert=True)
        return
    if not service.voting_open(where.stage, context.services.clock()):
        await answer(update, t.gettext(REFUSALS[service.Refusal.CLOSED]), alert=True)
        return
    heading = where.heading
    choices = await draft_or_cast(update, context, heading_id)
    if index >= len(heading.items):
        # A forged or stale button: say so, and show the ballot as it is.
        await answer(
            update, problem_text(t, heading, BallotProblem.UNKNOWN_ITEM, choices), alert=True
        )
        await ballot_view(update, context, heading_id, 0)
        return
    item = heading.items[index]
    problem = check_toggle(heading, choices, item.key)
    if problem is BallotProblem.OVER_BUDGET:
        await answer(update, over_budget_text(t, heading, choices, item), alert=True)
        return
    if problem is not None:
        await answer(update, problem_text(t, heading, problem, choices), alert=True)
        return
    await answer(update)
    choices = toggle(heading, choices, item.key)
    keep(context, heading_id, choices)
    # Saved before the ballot shows the tap: a crash must not undo a choice the person saw.
    await checkpoint(update, context)
    await ballot_view(update, context, heading_id, index // PAGE)


async def on_details(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_chat is not None
    await answer(update)
    _, _, raw_heading, raw_index = query.data.split(":")
    async with context.services.db.reading() as session:
        where = await service.locate(session, int(raw_heading))
    if where is None or int(raw_index) >= len(where.heading.items):
        return
    item = where.heading.items[int(raw_index)]
    t = await translator(update, context)
    text = (
        f"{item.title_in(t.language)}\n{t.money(item.cost)}\n\n{item.summary_in(t.language)}"
        if item.cost
        else f"{item.title_in(t.language)}\n\n{item.summary_in(t.language)}"
    )
    if item.photo:
        await send_stored_photos(update, context, [item.photo], caption=text[:1024])
    else:
        await send(update, context, text)


async def on_review(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    heading_id = int(query.data.split(":")[2])
    t = await translator(update, context)
    async with context.services.db.reading() as session:
        where = await service.locate(session, heading_id)
    if where is None:
        return
    choices = await draft_or_cast(update, context, heading_id)
    lines = [t.gettext("Your ballot:")]
    lines += [f"• {item_label(t, where.heading, key)}" for key in choices] or [
        t.gettext(
            "(nothing chosen) Submitted like this, it counts as a blank ballot: you took part"
            " and chose no project. Press Change to choose."
        )
    ]
    if where.heading.kind is HeadingKind.APPROVAL and any(i.cost for i in where.heading.items):
        lines.append(
            t.gettext("Total cost: %(money)s") % {"money": t.money(spent(where.heading, choices))}
        )
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.gettext("Submit my ballot")
                    if choices
                    else t.gettext("Submit a blank ballot"),
                    callback_data=f"vt:s:{heading_id}",
                )
            ],
            [InlineKeyboardButton(t.gettext("Change"), callback_data=f"vt:h:{heading_id}:0")],
        ]
    )
    await edit_or_send(update, context, "\n".join(lines), keyboard)


async def on_submit(update: Update, context: BotContext) -> object:
    query = update.callback_query
    assert query is not None and query.data is not None
    return await submit(update, context, int(query.data.split(":")[2]))


async def submit(
    update: Update, context: BotContext, heading_id: int, new_message: bool = False
) -> object:
    assert update.effective_user is not None
    waiting = await ready(update, context, heading_id, {"do": "submit", "heading": heading_id})
    if waiting is not None:
        await answer(update)
        return waiting
    t = await translator(update, context)
    services = context.services
    choices = await draft_or_cast(update, context, heading_id)

    def cast_done() -> None:
        # The draft goes in the cast's unit of work: the choices stay in the ballot only.
        context.udata.get(IN_PROGRESS, {}).pop(str(heading_id), None)
        if not context.udata.get(IN_PROGRESS, True):
            context.udata.pop(IN_PROGRESS)

    result = await service.cast(
        services.db,
        update.effective_user.id,
        heading_id,
        choices,
        services.clock(),
        services.settings.minimum_age,
        transaction=lambda: unit_of_work(context.civic),
        on_cast=cast_done,
    )
    if result.refusal is not None:
        async with services.db.reading() as session:
            where = await service.locate(session, heading_id)
        text = (
            problem_text(t, where.heading, result.problem, choices)
            if result.problem is not None and where is not None
            else t.gettext(REFUSALS[result.refusal])
        )
        await answer(update, text, alert=True)
        if update.callback_query is None:
            await send(update, context, text)
        return ConversationHandler.END
    await answer(update)
    text = (
        t.gettext(
            "Your ballot is changed. Receipt: %(code)s. The last ballot you submit before the"
            " vote closes is the one that counts."
        )
        if result.replaced
        else t.gettext(
            "Your ballot is in. Receipt: %(code)s. You can change it until the vote closes;"
            " the last one counts."
        )
    ) % {"code": result.receipt}
    # Where the receipt is kept and what it is for (docs/ballot-secrecy.md: it proves to the
    # voter alone that the ballot is counted).
    text += "\n" + t.gettext(
        "/my shows this receipt again, and the results page tells you with it that your ballot"
        " is counted."
    )
    if context.civic.web_url:
        text += f"\n{context.civic.web_url}/results/{heading_id}"
    if new_message:
        await send(update, context, text)
    else:
        await edit_or_send(update, context, text)
    return ConversationHandler.END


# -- results (admins) -----------------------------------------------------------------------
async def results_command(update: Update, context: BotContext) -> None:
    await answer(update)
    t = await translator(update, context)
    assert update.effective_user is not None
    async with context.services.db.reading() as session:
        allowed = await service.may_run_results(
            session, update.effective_user.id, context.services.settings.admin_ids
        )
        rows = await session.fetchall(
            "SELECT id, definition FROM ballot_headings ORDER BY id DESC LIMIT 20"
        )
    if not allowed:
        await send(update, context, t.gettext(REFUSALS[service.Refusal.FORBIDDEN]))
        return
    if not rows:
        await send(update, context, t.gettext("No ballots have been set up."))
        return
    async with context.services.db.reading() as session:
        repository = VotingRepository(session)
        headings = [await repository.heading(r["id"]) for r in rows]
    buttons = [
        [InlineKeyboardButton(found[1].name(t.language), callback_data=f"vt:r:{row['id']}")]
        for row, found in zip(rows, headings, strict=True)
        if found is not None
    ]
    # Opened from /admin's button: the menu becomes this list (Telegram convention).
    await edit_or_send(
        update, context, t.gettext("Which ballot's results?"), InlineKeyboardMarkup(buttons)
    )


async def on_results(update: Update, context: BotContext) -> None:
    """Admins tally (any time); everyone sees a result once it is confirmed."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    await answer(update)
    parts = query.data.split(":")
    heading_id = int(parts[2])
    rule = parts[3] if len(parts) > 3 else None
    t = await translator(update, context)
    services = context.services
    async with services.db.reading() as session:
        is_admin = await service.may_run_results(
            session, update.effective_user.id, services.settings.admin_ids
        )
        stored = await VotingRepository(session).result(heading_id)
        where = await service.locate(session, heading_id)
    if where is None:
        await send(update, context, t.gettext(REFUSALS[service.Refusal.NOT_FOUND]))
        return
    confirmed = stored is not None and stored["confirmed_at"] is not None
    if not is_admin and not confirmed:
        await send(update, context, t.gettext("The result is not confirmed yet."))
        return
    assert update.effective_chat is not None
    await context.bot.send_chat_action(update.effective_chat.id, ChatAction.UPLOAD_PHOTO)
    try:
        outcome = await service.run_tally(
            services.db, heading_id, None if confirmed else rule, services.clock()
        )
    except ValueError as error:
        await send(
            update,
            context,
            t.gettext("The tally could not run: %(reason)s") % {"reason": str(error)},
        )
        return
    heading = where.heading
    selected = outcome.result.selected if not confirmed else stored["selected"]  # type: ignore[index]
    now = services.clock()
    state = service.result_state(where.stage, confirmed, now)
    lines = [
        f"<b>{escape(heading.name(t.language))}</b>",
        state_line(t, state, where, now),
        t.gettext("Rule: %(rule)s · online ballots %(online)s · offline votes %(offline)s")
        % {
            "rule": t.gettext(service.RULE_NAMES.get(outcome.result.rule, outcome.result.rule)),
            "online": f"{outcome.online:,}",
            "offline": f"{outcome.offline:,}",
        },
        t.gettext("Selected %(count)d projects, %(cost)s of %(budget)s")
        % {
            "count": len(selected),
            "cost": t.money(outcome.result.cost),
            "budget": t.money(outcome.result.budget),
        },
        "",
    ]
    ranked = sorted(heading.items, key=lambda i: (-outcome.votes.get(i.key, 0.0), i.key))
    for item in ranked[:40]:
        mark = t.gettext("selected") if item.key in selected else ""
        votes = f"{outcome.votes.get(item.key, 0):,.0f}"
        lines.append(
            f"{item.key} {escape(item.title_in(t.language)[:40])} — {votes} {mark}".rstrip()
        )
    projects = [
        ChartProject(i.key, i.title_in(t.language), outcome.votes.get(i.key, 0), i.cost)
        for i in heading.items
    ]
    title = f"{where.programme.name.get(t.language)}\n{heading.name(t.language)}"
    budget, interim, at = heading.budget or 0, not confirmed, services.clock()
    # Drawing takes a moment; other people's updates go on meanwhile.
    chart = await asyncio.to_thread(
        lambda: png(results_figure(t, title, projects, selected, budget, interim, at))
    )
    await context.bot.send_photo(update.effective_chat.id, chart)
    keyboard = None
    if is_admin and not confirmed:
        rows = [
            [
                InlineKeyboardButton(
                    t.gettext("Greedy"), callback_data=f"vt:r:{heading_id}:greedy"
                ),
                InlineKeyboardButton(
                    t.gettext("Equal shares"), callback_data=f"vt:r:{heading_id}:mes"
                ),
                InlineKeyboardButton(
                    t.gettext("Equal shares, then greedy"),
                    callback_data=f"vt:r:{heading_id}:mes+greedy",
                ),
            ],
            [
                InlineKeyboardButton(
                    t.gettext("Equal shares as cities run it (Add1)"),
                    callback_data=f"vt:r:{heading_id}:mes+add1",
                ),
            ],
        ]
        if state is service.ResultState.CLOSED:
            # Only a closed vote's result can be confirmed (the service checks it too).
            confirm = t.gettext("Confirm the result (총회 승인)")
            data = f"vt:c:{heading_id}:{outcome.result.rule}"
            rows.append([InlineKeyboardButton(confirm, callback_data=data)])
        keyboard = InlineKeyboardMarkup(rows)
    elif confirmed:
        lines.append("")
        lines.append(t.gettext("Confirmed on %(date)s.") % {"date": t.when(stored["confirmed_at"])})  # type: ignore[index]
    keyboard = with_explain_button(t, keyboard, heading_id, outcome.result.rule, confirmed)
    await send(
        update, context, "\n".join(lines)[:4000], reply_markup=keyboard, parse_mode=ParseMode.HTML
    )


def with_explain_button(
    t: Translator,
    keyboard: InlineKeyboardMarkup | None,
    heading_id: int,
    rule: str,
    confirmed: bool,
) -> InlineKeyboardMarkup | None:
    """Equal Shares results get a "why these projects?" button (bot/handlers/tally_explain)."""
    if rule not in MES_RULES:
        return keyboard
    data = f"vt:x:{heading_id}" if confirmed else f"vt:x:{heading_id}:{rule}"
    row = [InlineKeyboardButton(t.gettext("Why these projects?"), callback_data=data)]
    rows = list(keyboard.inline_keyboard) if keyboard is not None else []
    return InlineKeyboardMarkup([row, *rows])


def state_line(
    t: Translator, state: service.ResultState, where: service.Located, now: datetime
) -> str:
    """Say which count this is: 중간 집계 while the vote runs, awaiting 총회 after it."""
    if state is service.ResultState.FINAL:
        return t.gettext("This is the final result (최종 결과).")
    if state is service.ResultState.CLOSED:
        return t.gettext(
            "The vote has closed. This count awaits confirmation (총회 승인), which is final."
        )
    if state is service.ResultState.NOT_STARTED:
        return t.gettext("Interim count (중간 집계): the vote has not started yet.")
    if where.stage.ends_at is None:
        return t.gettext("Interim count (중간 집계): the vote is still open.")
    return t.gettext(
        "Interim count (중간 집계): the vote is open until %(end)s. These figures change until"
        " then, and the result can be confirmed only after it closes."
    ) % {"end": t.deadline(where.stage.ends_at, now)}


RULE_PATTERN = r"(greedy|seoul|mes|mes\+greedy|mes\+add1|mes\+add1\+greedy)"


def rule_of(data: str) -> str | None:
    parts = data.split(":")
    return parts[3] if len(parts) > 3 else None


async def on_confirm(update: Update, context: BotContext) -> None:
    """Step one of 총회 approval: what confirming will do, and a second, final button."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await show_confirmation(update, context, int(query.data.split(":")[2]), rule_of(query.data))


async def show_confirmation(
    update: Update, context: BotContext, heading_id: int, rule: str | None, changed: bool = False
) -> None:
    """What confirming will do, with the final button; `changed`: shown again because the
    count changed since the last time (said first)."""
    assert update.effective_user is not None
    t = await translator(update, context)
    services = context.services
    preview = await service.confirm_preview(
        services.db,
        heading_id,
        update.effective_user.id,
        rule,
        services.clock(),
        services.settings.admin_ids,
    )
    if isinstance(preview, service.Refusal):
        await refuse_confirmation(update, context, t, preview)
        return
    await answer(update)
    heading = preview.heading
    titles = [item.title for key in preview.selected if (item := heading.item(key)) is not None]
    lines = [t.gettext(REFUSALS[service.Refusal.CHANGED]), ""] if changed else []
    lines += [
        t.gettext("Confirm the result of %(ballot)s?") % {"ballot": heading.name(t.language)},
        t.gettext("Rule: %(rule)s") % {"rule": t.gettext(service.RULE_NAMES[preview.rule])},
        t.gettext("Selected %(count)d projects, %(cost)s of %(budget)s")
        % {
            "count": len(titles),
            "cost": t.money(preview.cost),
            "budget": t.money(preview.budget),
        },
        *(f"• {title}" for title in titles),
        "",
    ]
    if preview.to_selected or preview.to_not_selected:
        lines.append(
            t.gettext(
                "Proposals on the ballot: %(selected)d become selected, %(not)d not selected."
            )
            % {"selected": len(preview.to_selected), "not": len(preview.to_not_selected)}
        )
    lines.append(
        t.ngettext(
            "%(voters)d voter is told the result; %(followers)d proposers and supporters are"
            " told their proposal's new status.",
            "%(voters)d voters are told the result; %(followers)d proposers and supporters are"
            " told their proposal's new status.",
            preview.voters,
        )
        % {"voters": preview.voters, "followers": preview.followers}
    )
    lines.append(t.gettext("This cannot be undone: after it no ballot is accepted."))
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.gettext("Yes, confirm it for good"),
                    callback_data=f"vt:C:{heading_id}:{preview.rule}:{preview.mark}",
                )
            ],
            [InlineKeyboardButton(t.gettext("Not now"), callback_data=f"vt:n:{heading_id}")],
        ]
    )
    await edit_or_send(update, context, "\n".join(lines)[:4000], keyboard)


async def refuse_confirmation(
    update: Update, context: BotContext, t: Translator, refusal: service.Refusal
) -> None:
    text = t.gettext(REFUSALS[refusal])
    await answer(update, text, alert=True)
    await edit_or_send(update, context, text)


async def on_confirm_final(update: Update, context: BotContext) -> None:
    """Step two: the service checks everything again (a forged button gets the same no)."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    # vt:C:<heading>:<rule>[:<the count's selection_mark>]; without a mark: a button from
    # before marks, confirmed as it was.
    _, _, heading, rule, *mark = query.data.split(":")
    heading_id, seen = int(heading), mark[0] if mark else None
    t = await translator(update, context)
    services = context.services
    refusal = await service.confirm(
        services.db,
        heading_id,
        update.effective_user.id,
        services.clock(),
        services.settings.admin_ids,
        rule,
        seen,
    )
    if refusal is service.Refusal.CHANGED:
        await show_confirmation(update, context, heading_id, rule, changed=True)
    elif refusal is service.Refusal.CONFIRMED:
        await answer(update)
        await edit_or_send(update, context, t.gettext("This result was already confirmed."))
    elif refusal is not None:
        await refuse_confirmation(update, context, t, refusal)
    else:
        await answer(update)
        await edit_or_send(
            update,
            context,
            t.gettext("The result is confirmed. Proposers, supporters and voters are being told."),
        )


async def on_confirm_cancel(update: Update, context: BotContext) -> None:
    await answer(update)
    t = await translator(update, context)
    await edit_or_send(
        update, context, t.gettext("Not confirmed. The result can be confirmed from /results.")
    )


def ballot_handler(registry: CommandRegistry) -> ConversationHandler[BotContext]:
    """Opening and casting a ballot: a conversation only while a needed answer is asked."""
    return flow(
        entry_points=[
            CallbackQueryHandler(on_open, pattern=r"^vt:h:\d{1,9}:\d{1,4}$"),
            CallbackQueryHandler(on_submit, pattern=r"^vt:s:\d{1,9}$"),
            CallbackQueryHandler(on_tell_district, pattern=r"^vt:dist$"),
        ],
        states=asking.states(HOST, registry),
        name=NAME,
    )


async def close_vote(session: Session, event: StageEvent) -> None:
    await service.mix_closed_stage(session, event.stage_id)


def mixing(application: CivicApplication) -> Callable[[], Awaitable[int]]:
    """Every BALLOT_MIX_INTERVAL, the ballots cast meanwhile join the ballot table."""
    services = application.services
    last: list[datetime] = []

    async def mix() -> int:
        now = services.clock()
        interval = timedelta(seconds=services.settings.ballot_mix_interval)
        if last and now - last[0] < interval:
            return 0
        last[:] = [now]
        return await service.mix_ballots(services.db)

    return mix


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    minimum_age = application.services.settings.minimum_age

    async def non_voters(session: Session, due: ReminderDue) -> int:
        return await service.remind_non_voters(session, due, minimum_age)

    application.automation.add_reminder_audience(non_voters)
    application.automation.on_stage_close(close_vote)
    application.automation.every_check(mixing(application))
    registry.add(
        MenuCommand(
            "vote", N_("Open votes and your ballots"), N_("Vote"), vote_command, on_keyboard=True
        )
    )
    registry.add(
        MenuCommand(
            "results",
            N_("Tally and confirm results (admins)"),
            N_("Results"),
            results_command,
            admin_only=True,
        )
    )
    application.add_handler(ballot_handler(registry))
    application.add_handler(CallbackQueryHandler(on_toggle, pattern=r"^vt:t:\d{1,9}:\d{1,4}$"))
    application.add_handler(CallbackQueryHandler(on_details, pattern=r"^vt:d:\d{1,9}:\d{1,4}$"))
    application.add_handler(CallbackQueryHandler(on_review, pattern=r"^vt:v:\d{1,9}$"))
    application.add_handler(
        CallbackQueryHandler(
            on_results, pattern=r"^vt:r:\d{1,9}(:(greedy|mes|mes\+greedy|mes\+add1))?$"
        )
    )
    application.add_handler(
        CallbackQueryHandler(on_confirm, pattern=rf"^vt:c:\d{{1,9}}(:{RULE_PATTERN})?$")
    )
    application.add_handler(
        CallbackQueryHandler(
            on_confirm_final, pattern=rf"^vt:C:\d{{1,9}}:{RULE_PATTERN}(:[0-9a-f]{{10}})?$"
        )
    )
    application.add_handler(CallbackQueryHandler(on_confirm_cancel, pattern=r"^vt:n:\d{1,9}$"))
