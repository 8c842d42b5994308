"""/review: the officials' side of proposals — a queue per policy field, answers and
decisions, merges, transfers, debates, ballots and execution updates (SPEC §4).

Every action checks the reviewer's role on the server (`service.review`), whatever the
button says.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext, CivicApplication, translator
from bot.flows.guard import StepHandler, discard_flow, flow, guarded, role_checked
from bot.handlers.common import answer, ask, edit_or_send, retire_question, send
from bot.handlers.proposal_views import card_text, summary_line
from bot.i18n import N_, Translator
from bot.menu import CommandRegistry, MenuCommand
from bot.services import proposals as service
from domain.ids import is_number, parse_number, to_id
from domain.people import DISTRICTS, DISTRICTS_BY_CODE
from domain.proposals import FIELDS_BY_CODE, POLICY_FIELDS, REVIEW_QUEUE, DebateKind, Status
from domain.roles import Role
from storage.proposals import Filters, ProposalsRepository
from storage.roles import RolesRepository

FLOW_NAME = N_("answering a proposal")
ANSWER, MERGE, PROGRESS, MILESTONE = "answer", "merge", "progress", "milestone"
PENDING = "review_pending"
TEXT_ACTIONS = {"acc": Status.ACCEPTED, "part": Status.PARTLY_ACCEPTED, "rej": Status.REJECTED}


async def reviewer_fields(context: BotContext, user_id: int) -> list[str]:
    async with context.services.db.reading() as session:
        scopes = await RolesRepository(session, context.services.settings.admin_ids).scopes(
            user_id, Role.REVIEWER
        )
    if scopes is None:
        return [f.code for f in POLICY_FIELDS]
    return [code for code in scopes if code in FIELDS_BY_CODE]


async def review_command(update: Update, context: BotContext) -> None:
    await answer(update)
    t = await translator(update, context)
    assert update.effective_user is not None
    fields = await reviewer_fields(context, update.effective_user.id)
    if not fields:
        await send(update, context, t.gettext("This is for reviewers only."))
        return
    async with context.services.db.reading() as session:
        repository = ProposalsRepository(session)
        counts = {
            code: (
                await repository.search(Filters(field=code, statuses=tuple(REVIEW_QUEUE)), limit=0)
            )[1]
            for code in fields
        }
    buttons = [
        InlineKeyboardButton(
            f"{FIELDS_BY_CODE[code].name(t.language)} ({counts[code]})",
            callback_data=f"rv:f:{code}:0",
        )
        for code in fields
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    # Opened from /admin's button: the menu becomes the queue (Telegram convention).
    await edit_or_send(
        update,
        context,
        t.gettext("Review queue: proposals waiting for an answer, by policy field."),
        InlineKeyboardMarkup(rows),
    )


async def on_field(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    await answer(update)
    _, _, code, page = query.data.split(":")
    t = await translator(update, context)
    if code not in await reviewer_fields(context, update.effective_user.id):
        await send(update, context, t.gettext("This is for reviewers only."))
        return
    offset = int(page) * 5
    async with context.services.db.reading() as session:
        found, total = await ProposalsRepository(session).search(
            Filters(field=code, statuses=tuple(REVIEW_QUEUE), include_hidden=True),
            "newest",
            5,
            offset,
        )
    lines = [FIELDS_BY_CODE[code].name(t.language)]
    for proposal in found:
        lines.append(summary_line(t, proposal))
    if not found:
        lines.append(t.gettext("Nothing waiting."))
    rows = [[InlineKeyboardButton(f"#{p.id}", callback_data=f"rv:p:{p.id}") for p in found]]
    pager = []
    if offset:
        pager.append(
            InlineKeyboardButton(
                t.gettext("Previous"), callback_data=f"rv:f:{code}:{int(page) - 1}"
            )
        )
    if offset + 5 < total:
        pager.append(
            InlineKeyboardButton(t.gettext("Next"), callback_data=f"rv:f:{code}:{int(page) + 1}")
        )
    rows.append(pager)
    await edit_or_send(
        update, context, "\n".join(lines), InlineKeyboardMarkup([r for r in rows if r]),
        parse_mode=ParseMode.HTML,
    )  # fmt: skip


def action_keyboard(t: Translator, proposal_id: int, status: Status) -> InlineKeyboardMarkup:
    pid = proposal_id
    rows = [
        [
            InlineKeyboardButton(t.gettext("Accept"), callback_data=f"rv:a:{pid}:acc"),
            InlineKeyboardButton(t.gettext("Partly accept"), callback_data=f"rv:a:{pid}:part"),
            InlineKeyboardButton(t.gettext("Reject"), callback_data=f"rv:a:{pid}:rej"),
        ],
        [
            InlineKeyboardButton(t.gettext("Merge into…"), callback_data=f"rv:a:{pid}:merge"),
            InlineKeyboardButton(t.gettext("Transfer to a district"), callback_data=f"rv:t:{pid}"),
        ],
        [
            InlineKeyboardButton(t.gettext("Start review"), callback_data=f"rv:do:{pid}:review"),
            InlineKeyboardButton(t.gettext("Put on a ballot"), callback_data=f"rv:do:{pid}:ballot"),
        ],
        [
            InlineKeyboardButton(t.gettext("Debate: for/against"), callback_data=f"rv:do:{pid}:fa"),
            InlineKeyboardButton(
                t.gettext("Debate: discussion"), callback_data=f"rv:do:{pid}:disc"
            ),
        ],
    ]
    if status in (Status.ACCEPTED, Status.PARTLY_ACCEPTED, Status.SELECTED, Status.BUDGETED,
                  Status.IN_EXECUTION):  # fmt: skip
        rows.append(
            [
                InlineKeyboardButton(
                    t.gettext("Execution update"), callback_data=f"rv:a:{pid}:exec"
                ),
                InlineKeyboardButton(t.gettext("Completed"), callback_data=f"rv:do:{pid}:done"),
            ]
        )
    return InlineKeyboardMarkup(rows)


async def on_proposal(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    await show_for_review(update, context, int(query.data.split(":")[2]))


async def show_for_review(update: Update, context: BotContext, proposal_id: int) -> None:
    t = await translator(update, context)
    assert update.effective_user is not None
    async with context.services.db.reading() as session:
        proposal = await ProposalsRepository(session).get(proposal_id)
        allowed = proposal is not None and await service.can_review(
            session, update.effective_user.id, proposal, context.services.settings.admin_ids
        )
        programme = await service.programme_of(session, proposal) if proposal else None
    if proposal is None or programme is None or not allowed:
        await send(update, context, t.gettext("This is for reviewers only."))
        return
    text = card_text(t, proposal, service.rules_of(programme), context.services.clock())
    await send(
        update,
        context,
        text,
        reply_markup=action_keyboard(t, proposal.id, proposal.status),
        parse_mode=ParseMode.HTML,
    )


async def apply(
    update: Update, context: BotContext, proposal_id: int, action: service.ReviewAction
) -> None:
    assert update.effective_user is not None
    services = context.services
    outcome = await service.review(
        services.db,
        proposal_id,
        update.effective_user.id,
        action,
        services.clock(),
        services.settings.admin_ids,
    )
    t = await translator(update, context)
    if outcome is service.Outcome.DONE:
        await send(
            update,
            context,
            t.gettext("#%(id)d is now: %(status)s. The proposer and followers are told.")
            % {"id": proposal_id, "status": t.gettext(service.STATUS_LABELS[action.status])},
        )
    elif outcome is service.Outcome.FORBIDDEN:
        await send(update, context, t.gettext("This is for reviewers only."))
    elif outcome is service.Outcome.NOT_FOUND:
        await send(update, context, t.gettext("That proposal does not exist."))
    else:
        await send(update, context, t.gettext("That step is not possible from the current status."))


DIRECT = {
    "review": service.ReviewAction(Status.UNDER_REVIEW),
    "ballot": service.ReviewAction(Status.ON_BALLOT),
    "fa": service.ReviewAction(Status.IN_DEBATE, debate_kind=DebateKind.FOR_AGAINST),
    "disc": service.ReviewAction(Status.IN_DEBATE, debate_kind=DebateKind.DISCUSSION),
    "done": service.ReviewAction(Status.COMPLETED, progress=100),
}


async def on_direct(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    _, _, raw_id, action = query.data.split(":")
    await apply(update, context, int(raw_id), DIRECT[action])


async def on_transfer(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    parts = query.data.split(":")
    proposal_id = int(parts[2])
    if not await still_reviewer(update, context):
        return
    if len(parts) == 4 and parts[3] in DISTRICTS_BY_CODE:
        await apply(
            update, context, proposal_id,
            service.ReviewAction(Status.TRANSFERRED, transferred_to=parts[3]),
        )  # fmt: skip
        return
    t = await translator(update, context)
    buttons = [
        InlineKeyboardButton(d.name(t.language), callback_data=f"rv:t:{proposal_id}:{d.code}")
        for d in DISTRICTS
    ]
    await edit_or_send(
        update,
        context,
        t.gettext("Transfer #%(id)d to which district?") % {"id": proposal_id},
        InlineKeyboardMarkup([buttons[i : i + 3] for i in range(0, len(buttons), 3)]),
    )


# -- actions that need typed input --------------------------------------------------------
async def still_reviewer(update: Update, context: BotContext) -> bool:
    """The proposal's reviewer still? At the entry (its id in the button) and every step."""
    assert update.effective_user is not None
    query = update.callback_query
    if query is not None and query.data is not None and query.data.startswith(("rv:a:", "rv:t:")):
        proposal_id = int(query.data.split(":")[2])
    else:
        proposal_id = int(str(context.udata.get(PENDING, {}).get("proposal", 0)))
    services = context.services
    if await service.may_review(
        services.db, proposal_id, update.effective_user.id, services.clock(),
        services.settings.admin_ids,
    ):  # fmt: skip
        return True
    context.udata.pop(PENDING, None)
    await answer(update)
    t = await translator(update, context)
    await send(update, context, t.gettext("This is for reviewers only."))
    return False


def pending(context: BotContext) -> dict[str, object]:
    found = context.udata.setdefault(PENDING, {})
    assert isinstance(found, dict)
    return found


async def start_typed(update: Update, context: BotContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    _, _, raw_id, action = query.data.split(":")
    context.udata[PENDING] = {"proposal": int(raw_id), "action": action}
    return await ask_current(update, context)


async def ask_current(update: Update, context: BotContext) -> str:
    t = await translator(update, context)
    action = pending(context).get("action")
    proposal_id = pending(context).get("proposal")
    cancel_row = [[InlineKeyboardButton(t.gettext("Cancel"), callback_data="rv:cancel")]]
    if action == "merge":
        text, state = (
            t.gettext("Merge #%(id)d into which proposal? Type its number.") % {"id": proposal_id},
            MERGE,
        )
    elif action == "exec" and "progress" not in pending(context):
        text, state = (
            t.gettext("Execution progress of #%(id)d, in percent (0–100)?") % {"id": proposal_id},
            PROGRESS,
        )
    elif action == "exec":
        text, state = t.gettext("What milestone was reached? (a short text)"), MILESTONE
    else:
        text, state = (
            t.gettext(
                "Type the official answer to #%(id)d; the proposer and followers will read it."
            )
            % {"id": proposal_id},
            ANSWER,
        )
    await ask(update, context, text, InlineKeyboardMarkup(cancel_row))
    return state


async def on_typed(update: Update, context: BotContext) -> str | int:
    assert update.message is not None and update.message.text is not None
    text = update.message.text.strip()
    t = await translator(update, context)
    job = pending(context)
    proposal_id = int(str(job.get("proposal", 0)))
    action = str(job.get("action"))
    if action == "merge":
        target = text.lstrip("#")
        if not is_number(target):
            await send(update, context, t.gettext("Please type a proposal number, e.g. 12."))
            return await ask_current(update, context)
        review_action = service.ReviewAction(Status.MERGED, merged_into=to_id(target))
    elif action == "exec" and "progress" not in job:
        if parse_number(text.rstrip("%"), 100) is None:
            await send(update, context, t.gettext("Please type a number from 0 to 100."))
            return await ask_current(update, context)
        job["progress"] = int(text.rstrip("%"))
        await retire_question(update, context)
        return await ask_current(update, context)
    elif action == "exec":
        review_action = service.ReviewAction(
            Status.IN_EXECUTION, note=text[:1000], progress=int(str(job["progress"]))
        )
    elif action in TEXT_ACTIONS:
        if len(text) < 5:
            await send(update, context, t.gettext("Please write the answer in a sentence or more."))
            return await ask_current(update, context)
        review_action = service.ReviewAction(TEXT_ACTIONS[action], note=text[:2000])
    else:
        return await cancel(update, context)
    await retire_question(update, context)
    context.udata.pop(PENDING, None)
    await apply(update, context, proposal_id, review_action)
    return ConversationHandler.END


async def cancel(update: Update, context: BotContext) -> int:
    return await discard_flow(update, context, PENDING, "review", N_("Nothing was changed."))


def typed_handler(registry: CommandRegistry) -> ConversationHandler[BotContext]:
    def step() -> list[StepHandler]:
        return guarded(
            [
                CallbackQueryHandler(cancel, pattern=r"^rv:cancel$"),
                MessageHandler(
                    filters.TEXT & ~filters.COMMAND, role_checked(still_reviewer, on_typed)
                ),
            ],
            ask_current,
            FLOW_NAME,
            cancel,
            registry,
        )

    return flow(
        entry_points=[
            CallbackQueryHandler(
                role_checked(still_reviewer, start_typed),
                pattern=r"^rv:a:\d{1,12}:(acc|part|rej|merge|exec)$",
            )
        ],
        states={ANSWER: step(), MERGE: step(), PROGRESS: step(), MILESTONE: step()},
        name="review",
    )


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    registry.add(
        MenuCommand("review", N_("Answer proposals (reviewers)"), N_("Review"), review_command,
                    admin_only=True)
    )  # fmt: skip
    application.add_handler(typed_handler(registry))
    application.add_handler(CallbackQueryHandler(on_field, pattern=r"^rv:f:[a-z]+:\d{1,4}$"))
    application.add_handler(CallbackQueryHandler(on_proposal, pattern=r"^rv:p:\d{1,12}$"))
    application.add_handler(
        CallbackQueryHandler(on_direct, pattern=r"^rv:do:\d{1,12}:(review|ballot|fa|disc|done)$")
    )
    application.add_handler(CallbackQueryHandler(on_transfer, pattern=r"^rv:t:\d{1,12}(:[a-z]+)?$"))
