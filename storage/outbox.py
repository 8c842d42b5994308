"""The durable outbox: notifications are written in the same unit of work as the change that
causes them, and delivered later by the sender (SPEC §8).

A row's life: `pending` → `claimed` (taken by the sender, at most one batch at a time) →
`sent` / `failed` / back to `pending` for a retry. Rows the person will not get now are
routed instead of claimed: `digest` (kept for the daily digest, then `digested`), `dropped`
(category turned off, person gone or blocked), or left `pending` with a later `not_before`
(quiet hours). A row still `claimed` when the sender starts is `unknown`: see `recover`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from domain.notifications import DEFAULT_MODES, Category, Mode, Payload, Route, route
from storage.clock import to_db
from storage.db import Session


async def enqueue(
    session: Session,
    *,
    user_id: int,
    category: Category,
    payload: Payload,
    now: datetime,
    urgent: bool = False,
    dedupe_key: str | None = None,
    not_before: datetime | None = None,
) -> int | None:
    """Queue one message; returns its id, or None when `dedupe_key` was already queued."""
    row_id = await session.scalar(
        "INSERT INTO outbox (user_id, category, urgent, payload, dedupe_key, not_before,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING"
        " RETURNING id",
        (
            user_id,
            category.value,
            int(urgent),
            payload.model_dump_json(exclude_defaults=True),
            dedupe_key,
            to_db(not_before or now),
            to_db(now),
        ),
    )
    return None if row_id is None else int(row_id)


async def enqueue_many(
    session: Session,
    messages: Iterable[tuple[int, Payload, str | None]],
    *,
    category: Category,
    now: datetime,
    urgent: bool = False,
) -> int:
    """Queue (user_id, payload, dedupe_key) messages at once; returns how many were new."""
    before = await newest_id(session)
    stamp = to_db(now)
    await session.executemany(
        "INSERT INTO outbox (user_id, category, urgent, payload, dedupe_key, not_before,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING",
        (
            (
                user_id,
                category.value,
                int(urgent),
                payload.model_dump_json(exclude_defaults=True),
                key,
                stamp,
                stamp,
            )
            for user_id, payload, key in messages
        ),
    )
    return await queued_since(session, before)


async def enqueue_to_subscribers(
    session: Session,
    *,
    category: Category,
    payloads: Mapping[str, Payload],
    default_language: str,
    dedupe_prefix: str,
    now: datetime,
) -> int:
    """Queue one message to every active person who has not turned `category` off, in their
    language; the dedupe key is `dedupe_prefix:<user_id>`. One statement per language, so a
    city-wide announcement is not a hundred thousand round trips."""
    before = await newest_id(session)
    stamp = to_db(now)
    for language, payload in payloads.items():
        others = [other for other in payloads if other != language]
        # People whose language has no payload get the default language's.
        language_test = "p.language = ?"
        params: list[object] = [language]
        if language == default_language and others:
            language_test = f"p.language NOT IN ({','.join('?' * len(others))})"
            params = list(others)
        await session.execute(
            "INSERT INTO outbox (user_id, category, urgent, payload, dedupe_key, not_before,"
            " created_at)"
            " SELECT p.user_id, ?, 0, ?, ? || ':' || p.user_id, ?, ? FROM people p"
            " LEFT JOIN notification_settings s"
            "   ON s.user_id = p.user_id AND s.category = ?"
            f" WHERE p.active = 1 AND {language_test} AND COALESCE(s.mode, ?) != 'off'"
            " ON CONFLICT (dedupe_key) DO NOTHING",
            (
                category.value,
                payload.model_dump_json(exclude_defaults=True),
                dedupe_prefix,
                stamp,
                stamp,
                category.value,
                *params,
                DEFAULT_MODES.get(category, Mode.IMMEDIATE).value,
            ),
        )
    return await queued_since(session, before)


async def newest_id(session: Session) -> int:
    """The outbox's highest id so far; with `queued_since`, counts what an INSERT … ON CONFLICT
    DO NOTHING added, on both engines (writers run one at a time, and new rows get higher ids:
    SQLite's rowid and PostgreSQL's sequence only grow)."""
    return int(await session.scalar("SELECT COALESCE(MAX(id), 0) FROM outbox"))


async def queued_since(session: Session, newest: int) -> int:
    """How many rows were queued after `newest_id` returned `newest`."""
    return int(await session.scalar("SELECT COUNT(*) FROM outbox WHERE id > ?", (newest,)))


async def cancel(session: Session, dedupe_keys: Sequence[str]) -> int:
    """Withdraw queued rows that no longer apply (a reminder about a case just answered);
    returns how many were still waiting."""
    if not dedupe_keys:
        return 0
    return await session.execute(
        "UPDATE outbox SET status = 'dropped', last_error = 'cancelled'"
        f" WHERE status IN ('pending', 'digest') AND dedupe_key IN"
        f" ({','.join('?' * len(dedupe_keys))})",
        tuple(dedupe_keys),
    )


@dataclass(frozen=True)
class ClaimedRow:
    id: int
    user_id: int
    category: Category
    payload: Payload
    attempts: int  # including this one


async def claim(
    session: Session,
    *,
    now: datetime,
    limit: int,
    quiet_end: datetime | None,
    scan: int | None = None,
    worker: str = "main",
) -> tuple[list[ClaimedRow], int]:
    """Claim up to `limit` due rows to send, routing the due rows met on the way.

    Call inside `db.transaction()`. No two workers claim the same row, without waiting for
    each other (PostgreSQL): the rows read are locked to the commit and skipped by the
    others meanwhile, and a row another worker claimed since this statement began no longer
    matches when it is locked (READ COMMITTED reads it again). Sending comes after the
    commit. Looks at up to `scan` due rows (default 5 × `limit`), so
    a queue head of parked or unwanted rows is routed in bulk.
    Returns the claimed rows and how many were routed.
    """
    skip_locked = " FOR UPDATE OF o SKIP LOCKED" if session.dialect == "postgres" else ""
    rows = await session.fetchall(
        "SELECT o.id, o.user_id, o.category, o.urgent, o.payload, o.attempts,"
        " o.broadcast_id, p.active, s.mode FROM outbox o"
        " LEFT JOIN people p ON p.user_id = o.user_id"
        " LEFT JOIN notification_settings s ON s.user_id = o.user_id AND s.category = o.category"
        " WHERE o.status = 'pending' AND o.not_before <= ?"
        f" ORDER BY o.not_before, o.id LIMIT ?{skip_locked}",
        (to_db(now), scan or 5 * limit),
    )
    claimed: list[ClaimedRow] = []
    parked: list[int] = []
    dropped: list[int] = []
    waiting: list[int] = []
    broken: list[int] = []
    for row in rows:
        category = Category(row["category"])
        mode = Mode(row["mode"]) if row["mode"] else None
        if row["broadcast_id"] is not None and mode is not Mode.OFF:
            # An admin broadcast is one deliberate message, not news for the digest: it goes
            # now (quiet hours still hold it) unless the person turned announcements off.
            mode = Mode.IMMEDIATE
        decision = route(
            category,
            urgent=bool(row["urgent"]),
            mode=mode,
            reachable=bool(row["active"]),
            quiet=quiet_end is not None,
        )
        if decision is Route.SEND:
            if len(claimed) == limit:
                break  # the rest stays for the next round, in order
            try:
                payload = Payload.model_validate_json(row["payload"])
            except ValidationError:
                broken.append(row["id"])  # would fail every round; set it aside
                continue
            claimed.append(
                ClaimedRow(row["id"], row["user_id"], category, payload, row["attempts"] + 1)
            )
        elif decision is Route.DIGEST:
            parked.append(row["id"])
        elif decision is Route.DROP:
            dropped.append(row["id"])
        else:
            waiting.append(row["id"])
    stamp = to_db(now)
    await _update(
        session,
        "status = 'claimed', claimed_at = ?, claimed_by = ?, attempts = attempts + 1",
        [stamp, worker],
        [row.id for row in claimed],
    )
    await _update(session, "status = 'digest'", [], parked)
    await _update(session, "status = 'dropped', last_error = 'not wanted'", [], dropped)
    await _update(session, "status = 'failed', last_error = 'unreadable payload'", [], broken)
    if quiet_end is not None:
        await _update(session, "not_before = ?", [to_db(quiet_end)], waiting)
    return claimed, len(parked) + len(dropped) + len(waiting) + len(broken)


async def _update(session: Session, assignments: str, values: list[object], ids: list[int]) -> None:
    if ids:
        await session.execute(
            f"UPDATE outbox SET {assignments} WHERE id IN ({','.join('?' * len(ids))})",
            (*values, *ids),
        )


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed row."""

    id: int
    status: str  # sent, failed, unknown, or pending (retry at `not_before`)
    message_id: int | None = None
    error: str | None = None
    not_before: datetime | None = None
    attempts: int | None = None  # None: keep the count


async def record(session: Session, outcomes: Sequence[Outcome], now: datetime) -> None:
    stamp = to_db(now)
    await session.executemany(
        "UPDATE outbox SET status = ?, telegram_message_id = ?, last_error = ?,"
        " sent_at = CASE WHEN ? = 'sent' THEN ? END,"
        " not_before = COALESCE(?, not_before), attempts = COALESCE(?, attempts)"
        " WHERE id = ? AND status = 'claimed'",
        [
            (
                outcome.status,
                outcome.message_id,
                outcome.error,
                outcome.status,
                stamp,
                None if outcome.not_before is None else to_db(outcome.not_before),
                outcome.attempts,
                outcome.id,
            )
            for outcome in outcomes
        ],
    )


async def recover(session: Session, now: datetime, worker: str = "main") -> int:
    """Rows this worker left `claimed` when it stopped: mark them `unknown`, never resend.

    Telegram may have delivered them before the process died, and a message must never
    arrive twice; a batch is small (`OUTBOX_BATCH_SIZE`), so few rows are ever in doubt.
    Rows other workers claimed are theirs: they may be sending them right now.
    """
    return await session.execute(
        "UPDATE outbox SET status = 'unknown',"
        " last_error = 'sender stopped before recording the outcome (found ' || ? || ')'"
        " WHERE status = 'claimed' AND (claimed_by = ? OR claimed_by IS NULL)",
        (to_db(now), worker),
    )


async def drop_pending_of(session: Session, user_id: int, reason: str) -> int:
    """Nothing more for someone who blocked the bot: their queued rows are dropped."""
    return await session.execute(
        "UPDATE outbox SET status = 'dropped', last_error = ?"
        " WHERE user_id = ? AND status IN ('pending', 'digest')",
        (reason, user_id),
    )


@dataclass(frozen=True)
class ParkedRow:
    id: int
    user_id: int
    language: str | None  # None: the person is gone
    category: Category
    payload: Payload


async def parked(session: Session) -> list[ParkedRow]:
    """Rows waiting for the daily digest, by person then in the order they came."""
    rows = await session.fetchall(
        "SELECT o.id, o.user_id, p.language, o.category, o.payload FROM outbox o"
        " LEFT JOIN people p ON p.user_id = o.user_id AND p.active = 1"
        " WHERE o.status = 'digest' ORDER BY o.user_id, o.id"
    )
    return [
        ParkedRow(
            row["id"],
            row["user_id"],
            row["language"],
            Category(row["category"]),
            Payload.model_validate_json(row["payload"]),
        )
        for row in rows
    ]


async def mark_digested(session: Session, ids: Sequence[int], digest_id: int | None) -> None:
    await _update(session, "status = 'digested', digest_id = ?", [digest_id], list(ids))
