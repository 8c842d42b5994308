"""Budget-waste reports after they are made (SPEC §7): the reporter's view and history,
adding information while the case is open, "my page" section, public statistics with a
chart (/wastestats), and the officers' queue (bot/handlers/cases.py)."""

from __future__ import annotations

import asyncio
from html import escape
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode
from telegram.ext import CallbackQueryHandler, ConversationHandler, MessageHandler, filters

from bot.automation import one_worker_at_a_time
from bot.charts import png, waste_figure
from bot.context import BotContext, CivicApplication, translator
from bot.flows.guard import flow, guarded
from bot.flows.report import keep_file, new_files, refusal_text, yes_or_no
from bot.handlers import cases
from bot.handlers.common import answer, ask, retire_question, send
from bot.handlers.waste_views import bold, district_name, history_lines, report_lines
from bot.i18n import N_, Translator
from bot.menu import CommandRegistry, MenuCommand
from bot.services import waste as service
from domain.waste import FILES_MAX, NOTE_MAX, OPEN, Status, check_note
from storage.db import Session
from storage.waste import Report, Statistics


# -- the reporter's view --------------------------------------------------------------------
async def show_report(update: Update, context: BotContext, report_id: int) -> None:
    assert update.effective_user is not None
    t = await translator(update, context)
    found = await service.reporter_view(context.services.db, report_id, update.effective_user.id)
    if found is None:
        await send(update, context, t.gettext("That report does not exist, or is not yours."))
        return
    report = found.report
    lines = report_lines(t, report, context.services.clock())
    lines.append(
        t.gettext("Name me publicly: %(answer)s") % {"answer": yes_or_no(t, report.named_publicly)}
        + " · "
        + t.gettext("The officer may contact me: %(answer)s")
        % {"answer": yes_or_no(t, report.contact_consent)}
    )
    lines += history_lines(t, found.history)
    rows = []
    if report.status in OPEN:
        rows.append(
            [InlineKeyboardButton(t.gettext("Add information"), callback_data=f"wi:{report.id}")]
        )
    # A new message: the receipt or the notice whose button was pressed stays readable.
    await send(
        update,
        context,
        "\n".join(lines)[:4096],
        reply_markup=InlineKeyboardMarkup(rows),
        parse_mode=ParseMode.HTML,
    )


async def on_view(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    await show_report(update, context, int(query.data.split(":")[2]))


async def my_reports_section(
    session: Session, user_id: int, t: Translator
) -> tuple[str, list[InlineKeyboardButton]]:
    """The person's reports for "my page" (HTML), and a button to open each."""
    return reports_section(await service.my_reports(session, user_id), t)


def reports_section(reports: list[Report], t: Translator) -> tuple[str, list[InlineKeyboardButton]]:
    lines = [bold(t.gettext("My budget-waste reports"))]
    if not reports:
        lines.append(t.gettext("None yet."))
    for report in reports[:10]:
        status = t.gettext(service.STATUS_LABELS[report.status])
        lines.append(f"{report.receipt} — {escape(status)} · {t.day(report.received_at)}")
    buttons = [
        InlineKeyboardButton(report.receipt, callback_data=f"wr:v:{report.id}")
        for report in reports[:10]
    ]
    return "\n".join(lines), buttons


# -- adding information -----------------------------------------------------------------------
ADDING = "adding"
ADDITION = "waste_addition"
ADD_FLOW = N_("adding information to a report")


def addition(context: BotContext) -> dict[str, Any]:
    found = context.udata.setdefault(ADDITION, {})
    assert isinstance(found, dict)
    return found


async def start_addition(update: Update, context: BotContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    await answer(update)
    t = await translator(update, context)
    report_id = int(query.data.split(":")[1])
    found = await service.reporter_view(context.services.db, report_id, update.effective_user.id)
    if found is None:
        await send(update, context, t.gettext("That report does not exist, or is not yours."))
        return ConversationHandler.END
    if found.report.status not in OPEN:
        await send(update, context, t.gettext("This case is closed; nothing more can be added."))
        return ConversationHandler.END
    context.udata[ADDITION] = {"report": report_id, "receipt": found.report.receipt, "files": []}
    return await ask_addition(update, context)


async def ask_addition(update: Update, context: BotContext) -> str:
    t = await translator(update, context)
    pending = addition(context)
    text = t.gettext(
        "Send what you want to add to %(receipt)s: a message, photos or documents (up to"
        " %(max)d files). Then press Send. So far: %(count)d files, %(text)s."
    ) % {
        "receipt": pending.get("receipt", ""),
        "max": FILES_MAX,
        "count": len(pending.get("files", [])),
        "text": t.gettext("a message") if pending.get("text") else t.gettext("no message"),
    }
    rows = [
        [
            InlineKeyboardButton(t.gettext("Send"), callback_data="wi:send"),
            InlineKeyboardButton(t.gettext("Cancel"), callback_data="wi:cancel"),
        ]
    ]
    await ask(update, context, text, InlineKeyboardMarkup(rows))
    return ADDING


async def on_addition_text(update: Update, context: BotContext) -> str:
    assert update.message is not None and update.message.text is not None
    pending = addition(context)
    text = "\n".join(part for part in (pending.get("text"), update.message.text.strip()) if part)
    if check_note(text) is not None:
        t = await translator(update, context)
        await send(
            update,
            context,
            t.gettext("That makes %(length)s characters; please keep it to %(max)s.")
            % {"length": f"{len(text):,}", "max": f"{NOTE_MAX:,}"},
        )
    else:
        pending["text"] = text
    return await ask_addition(update, context)


async def on_addition_file(update: Update, context: BotContext) -> str:
    assert update.message is not None
    refusal = keep_file(addition(context).setdefault("files", []), update.message)
    if refusal is not None:
        t = await translator(update, context)
        await send(update, context, refusal_text(t, refusal))
    return await ask_addition(update, context)


async def send_addition(update: Update, context: BotContext) -> str | int:
    assert update.effective_user is not None
    await answer(update)
    t = await translator(update, context)
    pending = addition(context)
    if not pending.get("text") and not pending.get("files"):
        await send(update, context, t.gettext("Nothing to send yet."))
        return await ask_addition(update, context)
    services = context.services
    outcome = await service.add_information(
        services.db,
        int(pending.get("report", 0)),
        update.effective_user.id,
        service.Addition(pending.get("text"), new_files(pending.get("files", []))),
        services.clock(),
    )
    report_id = int(pending.get("report", 0))
    await end_addition(update, context)
    if outcome is service.Outcome.DONE:
        await send(update, context, t.gettext("Thank you. Your information is added to the case."))
        await show_report(update, context, report_id)
    elif outcome is service.Outcome.NOT_ALLOWED:
        await send(update, context, t.gettext("This case is closed; nothing more can be added."))
    else:
        await send(update, context, t.gettext("That report does not exist, or is not yours."))
    return ConversationHandler.END


async def end_addition(update: Update, context: BotContext) -> int:
    context.udata.pop(ADDITION, None)
    await retire_question(update, context)
    return ConversationHandler.END


async def cancel_addition(update: Update, context: BotContext) -> int:
    await answer(update)
    await end_addition(update, context)
    t = await translator(update, context)
    await send(update, context, t.gettext("Nothing was added."))
    return ConversationHandler.END


def addition_handler(registry: CommandRegistry) -> ConversationHandler[BotContext]:
    return flow(
        entry_points=[CallbackQueryHandler(start_addition, pattern=r"^wi:\d{1,12}$")],
        states={
            ADDING: guarded(
                [
                    CallbackQueryHandler(send_addition, pattern=r"^wi:send$"),
                    CallbackQueryHandler(cancel_addition, pattern=r"^wi:cancel$"),
                    MessageHandler(filters.TEXT & ~filters.COMMAND, on_addition_text),
                    MessageHandler(filters.PHOTO | filters.Document.ALL, on_addition_file),
                ],
                ask_addition,
                ADD_FLOW,
                cancel_addition,
                registry,
            )
        },
        name="waste_addition",
    )


# -- public statistics --------------------------------------------------------------------------
def render_chart(stats: Statistics, language: str) -> bytes:
    """A PNG with two bar charts, in the viewer's language: reports by status and by
    district (top 10)."""
    t = Translator(language)
    by_status = [(t.gettext(service.STATUS_LABELS[s]), stats.by_status[s]) for s in Status]
    by_district = [(district_name(t, code), count) for code, count in stats.by_district[:10]]
    return png(waste_figure(t, by_status, by_district))


def counts_line(parts: list[tuple[str, int]]) -> str:
    return " · ".join(f"{escape(name)} {count:,}" for name, count in parts if count)


def stats_text(t: Translator, stats: Statistics) -> str:
    lines = [
        bold(t.gettext("Budget-waste reports (예산낭비신고센터): public statistics")),
        t.gettext("Reports: %(count)s") % {"count": f"{stats.total:,}"},
    ]
    if not stats.total:
        return "\n".join(lines)
    statuses = [(t.gettext(service.STATUS_LABELS[s]), stats.by_status[s]) for s in Status]
    lines.append(t.gettext("By status: %(counts)s") % {"counts": counts_line(statuses)})
    districts = [(district_name(t, code), count) for code, count in stats.by_district[:10]]
    if districts:
        lines.append(t.gettext("By district: %(counts)s") % {"counts": counts_line(districts)})
    departments = list(stats.by_department)
    if stats.officer_only:
        departments.append((t.gettext("an officer, no department named"), stats.officer_only))
    if stats.unassigned:
        departments.append((t.gettext("not yet assigned"), stats.unassigned))
    lines.append(
        t.gettext("By responsible department: %(counts)s") % {"counts": counts_line(departments)}
    )
    lines += [
        t.gettext("Amount reported (estimates): %(amount)s")
        % {"amount": t.money(stats.amount_reported)},
        t.gettext("Amount saved: %(amount)s") % {"amount": t.money(stats.amount_saved)},
        t.gettext("Budget-saving rewards (예산절약성과금): %(amount)s")
        % {"amount": t.money(stats.rewards)},
    ]
    return "\n".join(lines)


async def stats_command(update: Update, context: BotContext) -> None:
    await answer(update)
    chat = update.effective_chat
    assert chat is not None
    t = await translator(update, context)
    stats = await service.public_statistics(context.services.db)
    await send(update, context, stats_text(t, stats), parse_mode=ParseMode.HTML)
    if not stats.total:
        return
    await context.bot.send_chat_action(chat.id, ChatAction.UPLOAD_PHOTO)
    # Drawing takes a moment; other people's updates go on meanwhile.
    png = await asyncio.to_thread(render_chart, stats, t.language)
    await context.bot.send_photo(
        chat.id, png, caption=t.gettext("Budget-waste reports by status and by district")
    )


async def deadlines_job(context: BotContext) -> None:
    """Remind officers before answer deadlines (also after downtime: each run looks at what
    is due now)."""
    services = context.services
    await service.queue_deadline_reminders(
        services.db,
        services.clock(),
        services.settings.reminder_offsets,
        services.settings.admin_ids,
    )


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    registry.add(
        MenuCommand(
            "wastestats",
            N_("Budget-waste report statistics"),
            N_("Waste statistics"),
            stats_command,
        )
    )
    application.add_handler(addition_handler(registry))
    cases.register(application, registry)
    application.add_handler(CallbackQueryHandler(on_view, pattern=r"^wr:v:\d{1,12}$"))
    assert application.job_queue is not None
    application.job_queue.run_repeating(
        one_worker_at_a_time("waste-deadlines", deadlines_job),
        interval=60,
        first=1,
        name="waste-deadlines",
    )
