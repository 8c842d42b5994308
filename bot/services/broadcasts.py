"""Admin broadcasts (SPEC §9): draft, confirm, pause, resume, cancel, settle — each checked.

Only role ADMIN may broadcast; every entry point checks it again, whatever the chat showed,
and a refused attempt is written to the audit log. Delivery is the outbox's: confirming
queues one row per recipient in one unit of work, and the sender does the rest.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.i18n import LANGUAGES, N_, Translator
from bot.services.admin import allowed
from domain.broadcasts import LIVE, Audience, ButtonKind, ButtonTarget, Progress, Status
from domain.notifications import Button, Payload
from domain.roles import Role
from storage import audit
from storage.broadcasts import Broadcast, BroadcastsRepository, audience_sizes
from storage.db import Database, Session

BUTTON_LABELS = {
    ButtonKind.PROPOSAL: N_("View the proposal"),
    ButtonKind.BALLOT: N_("Open the ballot"),
}


class Result(StrEnum):
    DONE = "done"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    UNCHANGED = "unchanged"  # already in that state (a double tap, another admin first)


async def button_exists(session: Session, kind: ButtonKind, target_id: int) -> bool:
    table = "proposals" if kind is ButtonKind.PROPOSAL else "ballot_headings"
    return await session.scalar(f"SELECT 1 FROM {table} WHERE id = ?", (target_id,)) is not None


async def sizes(db: Database, audience: Audience, default: str) -> dict[str, int]:
    async with db.reading() as session:
        return await audience_sizes(session, audience, list(LANGUAGES), default)


async def create_draft(
    db: Database,
    actor_id: int,
    texts: Mapping[str, str],
    photo: str | None,
    button: ButtonTarget | None,
    audience: Audience,
    now: datetime,
    admin_ids: Collection[int],
) -> Broadcast | None:
    """The broadcast as previewed, saved as a draft; None if `actor_id` may not broadcast."""
    async with db.transaction() as session:
        if not await allowed(session, actor_id, Role.ADMIN, admin_ids, "broadcast", now):
            return None
        repository = BroadcastsRepository(session)
        broadcast_id = await repository.create(actor_id, texts, photo, button, audience, now)
        return await repository.get(broadcast_id)


def payloads(broadcast: Broadcast) -> dict[str, Payload]:
    """One message per language version, as its recipients will see it."""
    found = {}
    for language, text in broadcast.texts.items():
        buttons: tuple[tuple[Button, ...], ...] = ()
        if broadcast.button is not None:
            label = Translator(language).gettext(BUTTON_LABELS[broadcast.button.kind])
            buttons = ((Button(text=label, callback_data=broadcast.button.callback_data),),)
        found[language] = Payload(text=text, photo=broadcast.photo, buttons=buttons)
    return found


@dataclass(frozen=True)
class Confirmed:
    result: Result
    queued: int = 0


async def confirm(
    db: Database,
    actor_id: int,
    broadcast_id: int,
    now: datetime,
    admin_ids: Collection[int],
    default_language: str,
) -> Confirmed:
    """Queue the draft for its whole audience, once: a second confirm queues nothing."""
    async with db.transaction() as session:
        await session.lock("broadcast", broadcast_id)  # its audience is queued once
        if not await allowed(session, actor_id, Role.ADMIN, admin_ids, "broadcast", now):
            return Confirmed(Result.FORBIDDEN)
        repository = BroadcastsRepository(session)
        broadcast = await repository.get(broadcast_id)
        if broadcast is None:
            return Confirmed(Result.NOT_FOUND)
        if not await repository.set_status(
            broadcast_id, Status.QUEUED, frozenset({Status.DRAFT}), now
        ):
            return Confirmed(Result.UNCHANGED)
        queued = await repository.enqueue(broadcast, payloads(broadcast), default_language, now)
        await audit.record(
            session,
            actor_id,
            "broadcast",
            f"broadcast:{broadcast_id}",
            now,
            audience=broadcast.audience.model_dump(mode="json"),
            recipients=queued,
        )
    return Confirmed(Result.DONE, queued)


_MOVES = {
    "pause": (Status.PAUSED, frozenset({Status.QUEUED, Status.RUNNING})),
    "resume": (Status.RUNNING, frozenset({Status.PAUSED})),
    "cancel": (Status.CANCELLED, LIVE),
}


async def control(
    db: Database,
    actor_id: int,
    broadcast_id: int,
    action: str,
    now: datetime,
    admin_ids: Collection[int],
) -> Result:
    """Pause, resume or cancel a broadcast that is under way."""
    status, allowed_from = _MOVES[action]
    async with db.transaction() as session:
        # One status move at a time, its messages held, released or dropped with it (the
        # status UPDATE's condition and row lock would keep this too).
        await session.lock("broadcast", broadcast_id)
        if not await allowed(session, actor_id, Role.ADMIN, admin_ids, f"broadcast {action}", now):
            return Result.FORBIDDEN
        repository = BroadcastsRepository(session)
        if await repository.get(broadcast_id) is None:
            return Result.NOT_FOUND
        if not await repository.set_status(broadcast_id, status, allowed_from, now):
            return Result.UNCHANGED
        if action == "pause":
            await repository.hold(broadcast_id)
        elif action == "resume":
            await repository.release(broadcast_id, now)
        else:
            await repository.withdraw(broadcast_id)
        await audit.record(
            session, actor_id, f"broadcast {action}", f"broadcast:{broadcast_id}", now
        )
    return Result.DONE


async def may_cancel(
    db: Database, actor_id: int, broadcast_id: int, now: datetime, admin_ids: Collection[int]
) -> Result:
    """Before asking to confirm a cancel: DONE if `actor_id` may cancel the broadcast and it
    is still under way; FORBIDDEN (audited), NOT_FOUND or UNCHANGED otherwise."""
    async with db.transaction() as session:
        if not await allowed(session, actor_id, Role.ADMIN, admin_ids, "broadcast cancel", now):
            return Result.FORBIDDEN
        broadcast = await BroadcastsRepository(session).get(broadcast_id)
    if broadcast is None:
        return Result.NOT_FOUND
    return Result.DONE if broadcast.status in LIVE else Result.UNCHANGED


@dataclass(frozen=True)
class State:
    broadcast: Broadcast
    progress: Progress
    just_finished: bool  # this call saw it finish: the final report is due
    rate: float | None = None  # messages a second it was delivered at lately, once measured


async def settle(db: Database, broadcast_id: int, now: datetime) -> State | None:
    """Where a broadcast stands; moves it to running once sending began and to done once
    nothing is left (exactly once, so one final report)."""
    async with db.transaction() as session:
        await session.lock("broadcast", broadcast_id)  # done once: one final report
        repository = BroadcastsRepository(session)
        broadcast = await repository.get(broadcast_id)
        if broadcast is None:
            return None
        progress = await repository.progress(broadcast_id, broadcast.total)
        rate = await repository.delivery_rate(broadcast_id, now)
        finished = False
        if broadcast.status in (Status.QUEUED, Status.RUNNING):
            if progress.finished:
                finished = await repository.set_status(
                    broadcast_id, Status.DONE, frozenset({broadcast.status}), now
                )
            elif broadcast.status is Status.QUEUED and progress.remaining < progress.total:
                await repository.set_status(
                    broadcast_id, Status.RUNNING, frozenset({Status.QUEUED}), now
                )
        current = await repository.get(broadcast_id)
        assert current is not None
    return State(current, progress, finished, rate)


async def live(db: Database) -> list[int]:
    async with db.reading() as session:
        return await BroadcastsRepository(session).live()


async def set_status_message(
    db: Database, broadcast_id: int, chat_id: int, message_id: int
) -> None:
    async with db.transaction() as session:
        await BroadcastsRepository(session).set_status_message(broadcast_id, chat_id, message_id)
