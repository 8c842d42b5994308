"""The scheduler inside the bot (SPEC §1, §3, §8): stages open and close on time, reminders go
out before deadlines, the daily digest is put together, and the outbox is delivered.

Everything is computed from the database on every check: the stages table says what is due,
`stage_transitions` and `stage_reminders` say what was already done. Each transition or
reminder is recorded in the same unit of work as its effects, so it runs once even across
restarts, and a bot that was down catches up on its first check. Time comes from
`services.clock`, so tests move it instead of sleeping.

Features hook in at registration time:

    application.automation.on_stage_close(handler)       # (session, StageEvent) -> None
    application.automation.add_reminder_audience(audience)  # (session, ReminderDue) -> int

Two PTB JobQueue jobs drive it, each rescheduling itself when it finishes (so runs never
overlap and `Application.stop()` waits for at most one short run).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.notifications.digest import queue_digests
from bot.notifications.hooks import (
    ReminderAudience,
    ReminderDue,
    StageEvent,
    StageHandler,
)
from bot.notifications.sender import OutboxSender
from bot.notifications.texts import reminder_text
from domain.deadlines import plan_reminders
from domain.notifications import digest_day
from storage import automation as records
from storage.notifications import digest_done, record_digest

if TYPE_CHECKING:
    from bot.context import BotContext, CivicApplication, Services

__all__ = [
    "Automation",
    "ReminderAudience",
    "ReminderDue",
    "StageEvent",
    "StageHandler",
    "reminder_text",
]

log = logging.getLogger(__name__)

AUTOMATION_JOB = "automation"
SENDER_JOB = "outbox-sender"
SENDER_IDLE_SECONDS = 1.0  # how soon a newly queued notification is noticed
SENDER_ERROR_SECONDS = 5.0


@dataclass(frozen=True)
class TickReport:
    transitions: int  # stage openings and closings applied
    reminders: int  # reminder messages queued
    digests: int  # digest messages queued


class Automation:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._on_open: list[StageHandler] = []
        self._on_close: list[StageHandler] = []
        self._audiences: list[ReminderAudience] = []
        self._every: list[Callable[[], Awaitable[int]]] = []
        self._sender: OutboxSender | None = None

    # ----------------------------------------------------------------- hooks
    def on_stage_open(self, handler: StageHandler) -> None:
        self._on_open.append(handler)

    def on_stage_close(self, handler: StageHandler) -> None:
        self._on_close.append(handler)

    def add_reminder_audience(self, audience: ReminderAudience) -> None:
        self._audiences.append(audience)

    def every_check(self, job: Callable[[], Awaitable[int]]) -> None:
        """A job run on every check, after the stage transitions (e.g. the ballot mix)."""
        self._every.append(job)

    # ----------------------------------------------------------------- one check
    async def tick(self) -> TickReport:
        """Do everything due at `services.clock()`; safe to call at any time, any number of
        times (tests call it after moving the clock)."""
        transitions = await self.run_transitions()
        for job in self._every:
            try:
                await job()
            except Exception:
                log.exception("A periodic job failed; it will be tried again")
        return TickReport(
            transitions=transitions,
            reminders=await self.run_reminders(),
            digests=await self.run_digest(),
        )

    async def run_transitions(self) -> int:
        db, now = self.services.db, self.services.clock()
        async with db.reading() as session:
            due = await records.due_transitions(session, now)
        applied = 0
        stuck: set[int] = set()
        for transition in due:
            if transition.programme_id in stuck:
                continue  # keep a programme's transitions in order
            try:
                applied += await self._apply(transition, now)
            except Exception:
                log.exception(
                    "Stage %s %s failed; it will be tried again", transition.kind, transition
                )
                stuck.add(transition.programme_id)
        return applied

    async def _apply(self, transition: records.DueTransition, now: datetime) -> int:
        async with self.services.db.transaction() as session:
            # Checked again inside the unit of work: another check or an import may have
            # got here first.
            if transition not in await records.due_transitions(session, now, transition.stage_id):
                return 0
            if not await records.record_transition(
                session, transition.stage_id, transition.kind, transition.at, now
            ):
                return 0
            programme = await records.programme_by_id(session, transition.programme_id)
            stage = next(s for s in programme.stages if s.key == transition.stage_key)
            event = StageEvent(
                programme=programme,
                programme_id=transition.programme_id,
                stage=stage,
                stage_id=transition.stage_id,
                kind=transition.kind,
                at=transition.at,
            )
            for handler in self._on_open if transition.kind == "open" else self._on_close:
                await handler(session, event)
        log.info("Stage %s of %s: %s", stage.key, programme.key, transition.kind)
        return 1

    async def run_reminders(self) -> int:
        db, now = self.services.db, self.services.clock()
        async with db.reading() as session:
            deadlines = await records.upcoming_deadlines(session, now)
        queued = 0
        for deadline in deadlines:
            try:
                queued += await self._remind(deadline.stage_id, now)
            except Exception:
                log.exception("Reminders for stage %d failed; tried again", deadline.stage_id)
        return queued

    async def _remind(self, stage_id: int, now: datetime) -> int:
        offsets = self.services.settings.reminder_offsets
        async with self.services.db.transaction() as session:
            current = await records.upcoming_deadlines(session, now, stage_id)
            if not current:
                return 0
            (deadline,) = current
            plan = plan_reminders(
                deadline.starts_at,
                deadline.ends_at,
                offsets,
                now,
                await records.last_reminders(session, stage_id),
            )
            for offset in plan.skip:
                await records.record_reminder(
                    session, stage_id, offset, deadline.ends_at, now, skipped=True
                )
            if plan.send is None or not await records.record_reminder(
                session, stage_id, plan.send, deadline.ends_at, now
            ):
                return 0
            programme = await records.programme_by_id(session, deadline.programme_id)
            due = ReminderDue(
                programme=programme,
                programme_id=deadline.programme_id,
                stage=next(s for s in programme.stages if s.key == deadline.stage_key),
                stage_id=stage_id,
                deadline=deadline.ends_at,
                offset=plan.send,
                now=now,
            )
            queued = 0
            for audience in self._audiences:
                queued += await audience(session, due)
            await records.set_reminder_count(session, stage_id, plan.send, deadline.ends_at, queued)
        log.info("Reminder %s before %s: %d queued", plan.send, deadline.ends_at, queued)
        return queued

    async def run_digest(self) -> int:
        settings, now = self.services.settings, self.services.clock()
        day = digest_day(now, settings.digest_time, settings.tz)
        if day is None:
            return 0
        async with self.services.db.transaction() as session:
            if await digest_done(session, day):
                return 0
            queued = await queue_digests(session, settings, now, day)
            await record_digest(session, day, now, queued)
        return queued

    # ----------------------------------------------------------------- running in the bot
    @property
    def sender(self) -> OutboxSender:
        if self._sender is None:
            raise RuntimeError("Automation.start() was not called")
        return self._sender

    async def start(self, application: CivicApplication) -> None:
        """At start-up (post_init): settle what the last process left in flight, then run
        the checks and the sender as jobs, beginning as soon as the application starts."""
        services = self.services
        self._sender = OutboxSender(
            services.db, application.bot, services.settings, lambda: services.clock()
        )
        await self._sender.recover()
        _schedule(application, _automation_job, 0, AUTOMATION_JOB)
        _schedule(application, _sender_job, 0, SENDER_JOB)


Job = Callable[["BotContext"], Coroutine[Any, Any, None]]


def one_worker_at_a_time(name: str, job: Job) -> Job:
    """A periodic job that, with several workers on one database, runs in one of them at a
    time; the others skip that round (each job also re-checks what is due inside its units
    of work, so a skipped or repeated round changes nothing)."""

    async def run(context: BotContext) -> None:
        async with context.services.db.exclusively(name) as mine:
            if mine:
                await job(context)

    return run


def _schedule(
    application: CivicApplication,
    callback: Callable[[BotContext], Awaitable[None]],
    delay: float,
    name: str,
) -> None:
    job_queue: Any = application.job_queue
    if job_queue is None:
        raise RuntimeError("the scheduler needs python-telegram-bot[job-queue]")
    # No misfire limit: a first run scheduled before a slow start must still happen.
    job_queue.run_once(callback, delay, name=name, job_kwargs={"misfire_grace_time": None})


async def _automation_job(context: BotContext) -> None:
    application = context.civic
    if not application.running:
        return
    try:
        # With several workers on one database, one of them checks at a time; the others
        # skip this round (each transition is applied once either way: see `_apply`).
        async with application.services.db.exclusively(AUTOMATION_JOB) as mine:
            if mine:
                await application.automation.tick()
    except Exception:
        log.exception("Scheduled checks failed; trying again later")
    if application.running:
        interval = application.services.settings.automation_interval
        _schedule(application, _automation_job, interval, AUTOMATION_JOB)


async def _sender_job(context: BotContext) -> None:
    application = context.civic
    if not application.running:
        return
    try:
        batch = await application.automation.sender.run_batch()
    except Exception:
        log.exception("The outbox sender failed; trying again shortly")
        delay = SENDER_ERROR_SECONDS
    else:
        # Straight on while there is work: the rate limiter paces the sends themselves.
        delay = 0.0 if batch.worked else SENDER_IDLE_SECONDS
    if application.running:
        _schedule(application, _sender_job, delay, SENDER_JOB)
