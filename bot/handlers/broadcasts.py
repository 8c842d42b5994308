"""A broadcast under way (SPEC §9): the admin's status message, edited in place every few
seconds with sent / failed / remaining / ETA, its Pause, Resume and Cancel buttons, and the
final report. The compose flow is bot/flows/broadcast.py."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from babel.dates import format_timedelta
from babel.numbers import format_decimal
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import CallbackQueryHandler

from bot.automation import one_worker_at_a_time
from bot.context import BotContext, CivicApplication, translator
from bot.handlers.common import answer, edit_or_send, send
from bot.i18n import N_, Translator
from bot.menu import CommandRegistry
from bot.ratelimit import CHAT_INTERVAL
from bot.services import broadcasts as service
from domain.broadcasts import Status, eta
from storage.people import PeopleRepository

log = logging.getLogger(__name__)

STATUS_JOB = "broadcast-status"
STATUS_SECONDS = 3.0  # how often the status message of a running broadcast is edited

STATUS_LABELS = {
    Status.DRAFT: N_("draft"),
    Status.QUEUED: N_("queued"),
    Status.RUNNING: N_("sending"),
    Status.PAUSED: N_("paused"),
    Status.CANCELLED: N_("cancelled"),
    Status.DONE: N_("done"),
}


def number(t: Translator, value: int) -> str:
    return format_decimal(value, locale=t.language)


def status_text(t: Translator, state: service.State, rate: float) -> str:
    """The live status; counts each outcome as the final report does (`report_text`). The
    ETA is at the rate measured lately (`state.rate`), at `rate` until there is one."""
    broadcast, progress = state.broadcast, state.progress
    lines = [
        t.gettext("Broadcast #%(id)d · %(status)s")
        % {"id": broadcast.id, "status": t.gettext(STATUS_LABELS[broadcast.status])},
        t.gettext("%(sent)s / %(total)s sent · %(failed)s failed · %(remaining)s remaining")
        % {
            "sent": number(t, progress.sent),
            "total": number(t, progress.total),
            "failed": number(t, progress.failed),
            "remaining": number(t, progress.remaining),
        },
    ]
    if progress.skipped:
        lines.append(
            t.gettext("%(count)s not sent (announcements turned off, left, or cancelled)")
            % {"count": number(t, progress.skipped)}
        )
    if progress.unknown:
        lines.append(
            t.gettext("%(count)s in flight during a restart, maybe delivered, not resent")
            % {"count": number(t, progress.unknown)}
        )
    if broadcast.status in (Status.QUEUED, Status.RUNNING) and progress.remaining:
        left = format_timedelta(eta(progress.remaining, state.rate or rate), locale=t.language)
        if state.rate is None:
            lines.append(t.gettext("ETA %(time)s") % {"time": left})
        else:
            lines.append(
                t.gettext("ETA %(time)s at %(rate)s messages a second")
                % {"time": left, "rate": format_decimal(state.rate, "#,##0.0", t.language)}
            )
    return "\n".join(lines)


def status_keyboard(t: Translator, state: service.State) -> InlineKeyboardMarkup | None:
    status, broadcast_id = state.broadcast.status, state.broadcast.id
    if status not in (Status.QUEUED, Status.RUNNING, Status.PAUSED):
        return None
    first = (
        InlineKeyboardButton(t.gettext("Resume"), callback_data=f"bcs:resume:{broadcast_id}")
        if status is Status.PAUSED
        else InlineKeyboardButton(t.gettext("Pause"), callback_data=f"bcs:pause:{broadcast_id}")
    )
    # Cancel on a row of its own, away from Pause, and it asks first (`ask_cancel`).
    cancel = InlineKeyboardButton(
        t.gettext("Cancel the broadcast…"), callback_data=f"bcs:cancel:{broadcast_id}"
    )
    return InlineKeyboardMarkup([[first], [cancel]])


def report_text(t: Translator, state: service.State) -> str:
    progress = state.progress
    lines = [
        t.gettext("Broadcast #%(id)d is %(status)s.")
        % {"id": state.broadcast.id, "status": t.gettext(STATUS_LABELS[state.broadcast.status])},
        t.gettext("Sent: %(count)s") % {"count": number(t, progress.sent)},
        t.gettext("Failed (blocked the bot or refused by Telegram): %(count)s")
        % {"count": number(t, progress.failed)},
        t.gettext("Not sent (announcements turned off, left, or cancelled): %(count)s")
        % {"count": number(t, progress.skipped)},
    ]
    if progress.unknown:
        lines.append(
            t.gettext("In flight during a restart, maybe delivered, not resent: %(count)s")
            % {"count": number(t, progress.unknown)}
        )
    broadcast = state.broadcast
    if broadcast.queued_at is not None and broadcast.finished_at is not None:
        took = format_timedelta(
            broadcast.finished_at - broadcast.queued_at, locale=t.language, threshold=2
        )
        lines.append(t.gettext("Took %(time)s.") % {"time": took})
    return "\n".join(lines)


async def admin_translator(application: CivicApplication, user_id: int | None) -> Translator:
    """In the language of the admin who made the broadcast (the default once they are
    erased)."""
    services = application.services
    async with services.db.reading() as session:
        person = None if user_id is None else await PeopleRepository(session).get(user_id)
    language = person.language if person else services.settings.default_language
    return Translator(language, services.settings.tz)


async def show(application: CivicApplication, bot: Bot, state: service.State) -> None:
    """Edit the status message in place (nothing to do if it already says this)."""
    broadcast = state.broadcast
    if broadcast.status_chat_id is None or broadcast.status_message_id is None:
        return
    t = await admin_translator(application, broadcast.created_by)
    try:
        await bot.edit_message_text(
            status_text(t, state, application.services.settings.broadcast_rate),
            chat_id=broadcast.status_chat_id,
            message_id=broadcast.status_message_id,
            reply_markup=status_keyboard(t, state),
        )
    except BadRequest as error:
        if "not modified" not in str(error).lower():
            log.warning("Could not update the status of broadcast %d: %s", broadcast.id, error)


async def report(application: CivicApplication, bot: Bot, state: service.State) -> None:
    """The final report, a new message under the status message just edited."""
    broadcast = state.broadcast
    if broadcast.status_chat_id is None:
        return
    # Telegram allows about one message a second to one chat; a 429 would hold every reply.
    await asyncio.sleep(CHAT_INTERVAL)
    t = await admin_translator(application, broadcast.created_by)
    await bot.send_message(broadcast.status_chat_id, report_text(t, state))


async def refresh(application: CivicApplication) -> None:
    """One round of the live status: every broadcast under way, its message edited, and the
    final report for those that just finished."""
    services = application.services
    for broadcast_id in await service.live(services.db):
        state = await service.settle(services.db, broadcast_id, services.clock())
        if state is None:
            continue
        await show(application, application.bot, state)
        if state.just_finished:
            await report(application, application.bot, state)


async def _status_job(context: BotContext) -> None:
    try:
        await refresh(context.civic)
    except TelegramError as error:
        log.warning("Broadcast status not updated this round: %s", error)


async def on_control(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    _, action, raw_id = query.data.split(":")
    if action in ("cancel", "keep"):
        await ask_cancel(update, context, int(raw_id), action == "cancel")
        return
    services = context.services
    t = await translator(update, context)
    command = "cancel" if action == "stop" else action
    result = await service.control(
        services.db, update.effective_user.id, int(raw_id), command, services.clock(),
        services.settings.admin_ids,
    )  # fmt: skip
    if await refused(update, context, t, result):
        return
    await answer(update, None if result is service.Result.DONE else t.gettext("Already done."))
    if action == "stop":
        text = (
            t.gettext("Broadcast #%(id)d is cancelled.")
            if result is service.Result.DONE
            else t.gettext("Broadcast #%(id)d is no longer under way.")
        )
        await edit_or_send(update, context, text % {"id": int(raw_id)})
    state = await service.settle(services.db, int(raw_id), services.clock())
    if state is None:
        return
    await show(context.civic, context.bot, state)
    if result is service.Result.DONE and command == "cancel":
        await report(context.civic, context.bot, state)


async def refused(
    update: Update, context: BotContext, t: Translator, result: service.Result
) -> bool:
    """A press from someone who may not (the service has audited it): say so."""
    if result is not service.Result.FORBIDDEN:
        return False
    await answer(update)
    await send(update, context, t.gettext("This is for administrators only."))
    return True


async def ask_cancel(update: Update, context: BotContext, broadcast_id: int, ask: bool) -> None:
    """Cancel asks first, in a message of its own (the status message keeps being edited):
    cancelling cannot be undone. `ask` False: the admin chose to keep sending."""
    assert update.effective_user is not None
    services = context.services
    t = await translator(update, context)
    result = await service.may_cancel(
        services.db, update.effective_user.id, broadcast_id, services.clock(),
        services.settings.admin_ids,
    )  # fmt: skip
    if await refused(update, context, t, result):
        return
    state = await service.settle(services.db, broadcast_id, services.clock())
    if result is not service.Result.DONE or state is None or not ask:
        text = (
            t.gettext("Broadcast #%(id)d is not cancelled.")
            if result is service.Result.DONE
            else t.gettext("Broadcast #%(id)d is no longer under way.")
        ) % {"id": broadcast_id}
        await answer(update, text)
        if not ask:  # pressed on the question: it becomes the answer
            await edit_or_send(update, context, text)
        return
    await answer(update)
    remaining = state.progress.remaining
    question = t.ngettext(
        "Cancel broadcast #%(id)d? The %(count)s person who has not received it yet will not"
        " get it. This cannot be undone.",
        "Cancel broadcast #%(id)d? The %(count)s people who have not received it yet will not"
        " get it. This cannot be undone.",
        remaining,
    ) % {"id": broadcast_id, "count": number(t, remaining)}
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.gettext("Yes, cancel it"), callback_data=f"bcs:stop:{broadcast_id}"
                ),
                InlineKeyboardButton(
                    t.gettext("No, keep it"), callback_data=f"bcs:keep:{broadcast_id}"
                ),
            ]
        ]
    )
    await send(update, context, question, reply_markup=keyboard)


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    application.add_handler(
        CallbackQueryHandler(on_control, pattern=r"^bcs:(pause|resume|cancel|stop|keep):\d{1,12}$")
    )
    job_queue: Any = application.job_queue
    job_queue.run_repeating(
        one_worker_at_a_time(STATUS_JOB, _status_job),
        interval=STATUS_SECONDS,
        first=STATUS_SECONDS,
        name=STATUS_JOB,
    )
