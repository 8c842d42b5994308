"""Durable intake and concurrent handling, one person at a time (issues 21 and 22).

Every update is recorded in the database (`storage/intake.py`) before Telegram is told we
have it: the webhook route (`bot/web/app.py`) answers 200 only after `receive` commits, and
long polling moves its offset past a batch only after the batch is recorded (`poll`). Every
worker process takes updates from that record:

- one person's updates one at a time, in update_id order, across all workers (the next is
  taken only when the one before is done); different people's at the same time, up to
  `UPDATES_IN_HAND` per process (a setting);
- the worker that received an update takes it at once while it has fewer than
  `SELF_CLAIM_SHARED` in hand; otherwise it leaves it waiting and every worker is woken to take it
  (LISTEN/NOTIFY on PostgreSQL), so work spreads over workers whatever connections
  Telegram's keep-alive favours;
- a worker that dies leaves claims behind; a worker starting under the same name takes
  them back at once, the others after `WORKER_TIMEOUT` (15 s) without its heartbeat.

An update is handled as one unit of work where it matters (`Work`): the person's
conversation states and user_data are loaded with the claim, the first write transaction
made on the update's behalf marks it applied (a copy taken over after a crash is then only
finished, never applied twice), a flow step writes its answer with its next state
(`unit_of_work`), and what changed after the last write is saved with the "done" mark.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.error import TelegramError
from telegram.warnings import PTBUserWarning

from bot.ids import clamp_update
from domain.people import Person
from storage.db import WRITE_HOOK, Session, is_conflict
from storage.intake import Claimed, UpdatesRepository
from storage.people import PeopleRepository
from storage.ptbstate import PtbStateRepository

if TYPE_CHECKING:
    from bot.context import CivicApplication

log = logging.getLogger(__name__)
# We ask for getUpdates by its raw name to record the JSON as Telegram sent it.
warnings.filterwarnings("ignore", message=".*do_api_request.*getUpdates.*", category=PTBUserWarning)

# A receiving worker takes the update itself while it has fewer than this in hand; beyond,
# it leaves it to whichever worker is free first. One process alone takes everything.
SELF_CLAIM_SHARED = 4
LOAD_SLACK = 2  # updates per beat a worker may be ahead of the least busy before it hands on
HEARTBEAT = 1.0  # seconds between a worker's heartbeats (shared databases)
RESCAN = 1.0  # seconds between looks at the table when nothing woke the worker
CHANNEL = "updates"

ConversationKey = tuple[int | str, ...]


@dataclass
class Work:
    """One update in hand, and the person's state as the database has it."""

    claimed: Claimed
    update: Update
    keys: list[ConversationKey]
    user_id: int | None
    saved_states: dict[tuple[str, ConversationKey], object] = field(default_factory=dict)
    saved_user_data: str = "{}"
    applied: bool = False
    person: Person | None = None
    person_fresh: bool = False  # `person` is what the database has now
    sent: bool = False  # a new message went to the chat while handling it
    # A question answered by button, as it now reads, until the next screen shows it
    # (bot.handlers.common.hold_answer).
    answered: str | None = None


CURRENT: ContextVar[Work | None] = ContextVar("civicbot_current_update", default=None)


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


def conversation_keys(update: Update) -> list[ConversationKey]:
    """Every key a ConversationHandler may file this update under (per chat and/or user)."""
    chat = update.effective_chat.id if update.effective_chat else None
    user = update.effective_user.id if update.effective_user else None
    keys: list[ConversationKey] = []
    if chat is not None and user is not None:
        keys.append((chat, user))
    keys += [(one,) for one in (chat, user) if one is not None]
    return list(dict.fromkeys(keys))


class Intake:
    def __init__(self, application: CivicApplication) -> None:
        self.application = application
        self.in_hand: dict[int, Work] = {}
        self._finished: list[Work] = []
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._finished_count = 0  # updates finished since the last heartbeat
        # Updates this process left waiting in the table (its person was busy, or a polled
        # batch): with one process, finishing an update needs no claim query unless some are
        # (the usual case). Several processes claim on every round, and rescan every RESCAN.
        self._left_waiting = 0
        self._last_claim = 0.0
        self._last_load = 0
        self._least_elsewhere: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._stop_listening: Callable[[], Awaitable[None]] | None = None
        self.running = False

    @property
    def services(self) -> Any:
        return self.application.services

    @property
    def worker(self) -> str:
        return str(self.services.settings.worker_name)

    # ---------------------------------------------------------------- start and stop
    async def start(self) -> None:
        db = self.services.db
        async with db.transaction() as session:
            released = await UpdatesRepository(session).release_own(self.worker)
        if released:
            log.warning("Took back %d update(s) this worker had in hand when it stopped", released)
        self.running = True
        self._stopping.clear()
        self._loops.append(asyncio.create_task(self._dispatch(), name="intake-dispatch"))
        if db.shared:
            self._stop_listening = await db.listen(CHANNEL, self._woken)
            self._loops.append(asyncio.create_task(self._heartbeats(), name="intake-heartbeat"))
        self._wake.set()

    async def stop(self) -> None:
        """Stop taking updates; let those in hand finish (and save them)."""
        self.running = False
        self._stopping.set()
        self._wake.set()
        if self._stop_listening is not None:
            await self._stop_listening()
            self._stop_listening = None
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=30)
        # The loops end by themselves (cancelling one inside a unit of work would leave it
        # half done).
        if self._loops:
            await asyncio.wait(self._loops, timeout=10)
        for task in self._loops:
            task.cancel()
        self._loops.clear()
        if self._finished:
            async with self.services.db.transaction() as session:
                finished = await self._save_finished(session)
            self._forget(finished)

    # ---------------------------------------------------------------- receiving
    async def receive(self, payloads: list[dict[str, Any]]) -> None:
        """Record updates (one unit of work); when this returns they are durable and may be
        acknowledged. A single update is taken by this worker at once if it has room."""
        if not payloads:
            return
        take = len(payloads) == 1 and self.running and not self._busier_than_others()
        try:
            works = await self._receive(payloads, take)
        except Exception as error:
            if not (take and is_conflict(error)):
                raise
            # Another of this person's updates was taken at the same moment: record this
            # one as waiting; it is taken when that one is done.
            works = await self._receive(payloads, take=False)
        if works:
            self._start(works)
        else:
            self._left_waiting += len(payloads)
            self._wake.set()

    async def _receive(self, payloads: list[dict[str, Any]], take: bool) -> list[Work]:
        db = self.services.db
        now = self.services.clock()
        works: list[Work] = []
        async with db.transaction() as session:
            repository = UpdatesRepository(session)
            await repository.receive(payloads, now)
            if take:
                claimed = await repository.claim_one(
                    int(payloads[0]["update_id"]), self.worker, now
                )
                if claimed is not None:
                    works = await self._load(session, [claimed])
            if not works and db.shared:
                await db.notify(session, CHANNEL)
        return works

    def _woken(self) -> None:
        """Another worker left an update waiting (LISTEN/NOTIFY)."""
        self._wake.set()

    def _busier_than_others(self) -> bool:
        """Leave a received update to the others? When this worker has all it may hold in
        hand (`UPDATES_IN_HAND`; with other workers, `SELF_CLAIM_SHARED` at most), or
        finished clearly more in its last beat than the least busy other worker (one just
        started, say: Telegram's connections stay with the old ones)."""
        if not self.services.db.shared:
            return len(self.in_hand) >= self._concurrency()
        if len(self.in_hand) >= min(SELF_CLAIM_SHARED, self._concurrency()):
            return True
        least = self._least_elsewhere
        return least is not None and self._last_load > least + LOAD_SLACK

    # ---------------------------------------------------------------- taking and handling
    async def _dispatch(self) -> None:
        while self.running:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), RESCAN)
            self._wake.clear()
            if not self.running:
                break
            try:
                await self._round()
            except Exception:
                log.exception("Taking updates failed; trying again")
                await asyncio.sleep(0.5)

    async def _round(self) -> None:
        room = max(0, self._concurrency() - len(self.in_hand))
        rescan = asyncio.get_running_loop().time() - self._last_claim >= RESCAN
        if not (self.services.db.shared or self._left_waiting or rescan):
            room = 0
        if not room and not self._finished:
            return
        now = self.services.clock()
        try:
            async with self.services.db.transaction() as session:
                finished = await self._save_finished(session)
                claimed = await UpdatesRepository(session).claim(self.worker, now, room)
                works = await self._load(session, claimed) if claimed else []
        except Exception as error:
            if not is_conflict(error):
                raise
            # A person's update was taken elsewhere at the same moment: take again.
            self._wake.set()
            return
        if room:
            self._last_claim = asyncio.get_running_loop().time()
            self._left_waiting = max(0, self._left_waiting - len(claimed))
        self._forget(finished)
        self._start(works)
        if len(claimed) == room and room:
            self._wake.set()  # there may be more waiting

    def _concurrency(self) -> int:
        return int(self.services.settings.updates_in_hand)

    async def _load(self, session: Session, claimed: list[Claimed]) -> list[Work]:
        """The people's conversation states, user_data and profile, as the database has them."""
        bot = self.application.bot
        works = []
        for item in claimed:
            update = clamp_update(Update.de_json(item.payload, bot), bot)  # bot/ids.py
            user = update.effective_user.id if update.effective_user else None
            works.append(Work(item, update, conversation_keys(update), user, applied=item.applied))
        states = PtbStateRepository(session)
        stored = await states.conversation_states(
            [key for work in works for key in work.keys]  # type: ignore[misc]
        )
        users = [work.user_id for work in works if work.user_id is not None]
        user_data = await states.user_data_of(users)
        people = await PeopleRepository(session).get_many(users)
        for work in works:
            work.saved_states = {
                (name, key): state for (name, key), state in stored.items() if key in work.keys
            }
            if work.user_id is not None:
                work.saved_user_data = _json(user_data.get(work.user_id, {}))
                work.person = people.get(work.user_id)
                work.person_fresh = True
        return works

    def _start(self, works: list[Work]) -> None:
        for work in works:
            self.in_hand[work.claimed.update_id] = work
            task = asyncio.create_task(self._handle(work), name=f"update-{work.claimed.update_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _handle(self, work: Work) -> None:
        application = self.application
        try:
            self._restore(work)
            if work.applied:
                log.info(
                    "Update %d was applied by a worker that stopped; finishing it",
                    work.claimed.update_id,
                )
            else:
                CURRENT.set(work)
                WRITE_HOOK.set(self._write_hook(work))
                await application.process_update(work.update)
        except Exception:
            log.exception("Handling update %d failed", work.claimed.update_id)
        finally:
            self._finished.append(work)
            self._wake.set()

    def _restore(self, work: Work) -> None:
        """Put the person's saved state in PTB's memory (another worker may have moved it)."""
        application = self.application
        if work.user_id is not None:
            memory = application.user_data[work.user_id]  # created on first access, as PTB does
            memory.clear()
            memory.update(json.loads(work.saved_user_data))
        for name, states in application.conversation_states().items():
            for key in work.keys:
                if (name, key) in work.saved_states:
                    states[key] = work.saved_states[name, key]
                else:
                    states.pop(key, None)

    def _write_hook(self, work: Work) -> Callable[[Session], Awaitable[None]]:
        async def on_write(session: Session) -> None:
            if session.wrote_people:
                work.person_fresh = False  # the write changed someone's row: read it again
            if work.applied:
                return
            repository = UpdatesRepository(session)
            if not await repository.mark_applied(
                work.claimed.update_id, self.worker, self.services.clock()
            ):
                raise UpdateTakenOver(work.claimed.update_id)
            work.applied = True

        return on_write

    def changes(
        self, work: Work, override: tuple[str, object] | None = None
    ) -> tuple[dict[tuple[str, ConversationKey], object | None], str | None]:
        """What of the person's conversation states and user_data differs from what the
        database has: (states by (name, key), user_data as JSON or None if unchanged).
        `override`: a conversation's next state, set before the handler returns it."""
        states: dict[tuple[str, ConversationKey], object | None] = {}
        for name, tracked in self.application.conversation_states().items():
            for key in work.keys:
                state = tracked.get(key)
                if override is not None and override[0] == name and key == work.keys[0]:
                    state = override[1]
                if state != work.saved_states.get((name, key)):
                    states[name, key] = state
        user_data = None
        if work.user_id is not None:
            encoded = _json(self.application.user_data.get(work.user_id, {}))
            if encoded != work.saved_user_data:
                user_data = encoded
        return states, user_data

    async def save_state(
        self, session: Session, work: Work, override: tuple[str, object] | None = None
    ) -> None:
        """Write what changed (see `changes`) and remember it as saved."""
        states, user_data = self.changes(work, override)
        repository = PtbStateRepository(session)
        for (name, key), state in states.items():
            await repository.set_conversation(name, key, state)
            if state is None:
                work.saved_states.pop((name, key), None)
            else:
                work.saved_states[name, key] = state
        if work.user_id is not None and user_data is not None:
            await repository.set_user_data(work.user_id, json.loads(user_data))
            work.saved_user_data = user_data

    async def _save_finished(self, session: Session) -> list[Work]:
        """Inside the unit of work: mark the finished updates done, with their state."""
        finished, self._finished = self._finished, []
        repository = UpdatesRepository(session)
        now = self.services.clock()
        for work in finished:
            if await repository.finish(work.claimed.update_id, self.worker, now):
                await self.save_state(session, work)
            else:
                log.warning(
                    "Update %d was taken over by another worker; its end is not saved here",
                    work.claimed.update_id,
                )
        return finished

    def _forget(self, finished: list[Work]) -> None:
        """After the commit: the finished updates' people are free for their next update."""
        for work in finished:
            self.in_hand.pop(work.claimed.update_id, None)
            self.application.forget(work)
            self.application.updates_handled += 1
            self._finished_count += 1

    async def _heartbeats(self) -> None:
        while self.running:
            try:
                load, self._finished_count = self._finished_count, 0
                now = self.services.clock()
                async with self.services.db.transaction() as session:
                    repository = UpdatesRepository(session)
                    released = await repository.heartbeat(self.worker, now, load)
                    self._least_elsewhere = await repository.least_load_elsewhere(self.worker, now)
                self._last_load = load
                if released:
                    log.warning("Took over %d update(s) of a worker that stopped", released)
                    self._woken()
            except Exception:
                log.exception("Heartbeat failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), HEARTBEAT)

    # ---------------------------------------------------------------- long polling
    async def poll(self, timeout: float = 10, stop: asyncio.Event | None = None) -> None:
        """Long polling: each batch is recorded before the next request moves the offset past
        it (Telegram forgets what is below the offset)."""
        bot = self.application.bot
        await bot.delete_webhook()
        offset = 0
        failures = 0
        while stop is None or not stop.is_set():
            try:
                batch = await bot.do_api_request(
                    "getUpdates",
                    api_kwargs={"offset": offset, "timeout": timeout, "limit": 100},
                    read_timeout=timeout + 10,
                )
                failures = 0
            except asyncio.CancelledError:
                raise
            except TelegramError as error:
                failures += 1
                log.warning("getUpdates failed (%s); trying again", error)
                await asyncio.sleep(min(30.0, 0.5 * 2**failures))
                continue
            if not batch:
                continue
            updates = [dict(item) for item in batch]
            await self.receive(updates)
            offset = max(int(item["update_id"]) for item in updates) + 1


class UpdateTakenOver(RuntimeError):
    """The update is another worker's now (this one was taken for dead): roll back."""

    def __init__(self, update_id: int) -> None:
        super().__init__(f"update {update_id} was taken over by another worker")


def needs_saving(
    application: CivicApplication,
    flow: tuple[str, object] | None = None,
    ignore: frozenset[str] = frozenset(),
) -> bool:
    """Whether the update being handled has state the database does not have yet, apart
    from the user_data keys in `ignore` (saved when the update is done anyway)."""
    work = CURRENT.get()
    if work is None:
        return False
    states, user_data = application.intake.changes(work, flow)
    if states:
        return True
    if user_data is None:
        return False
    saved = json.loads(work.saved_user_data)
    now = json.loads(user_data)
    return {k: v for k, v in saved.items() if k not in ignore} != {
        k: v for k, v in now.items() if k not in ignore
    }


@asynccontextmanager
async def unit_of_work(
    application: CivicApplication, flow: tuple[str, object] | None = None
) -> AsyncIterator[Session]:
    """A write transaction that also saves the person's conversation state (with `flow`,
    that conversation's next state) and user_data: a step's answer and the step it leads to
    commit together, or not at all."""
    work = CURRENT.get()
    async with application.services.db.transaction() as session:
        yield session
        if work is not None:
            await application.intake.save_state(session, work, flow)
