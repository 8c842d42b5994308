"""Broadcasts and their audiences (SPEC §9): the segments as SQL over the existing tables, and
a broadcast's outbox rows (queued, paused, resumed, cancelled, counted)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from domain.broadcasts import (
    RATE_WINDOW,
    Audience,
    ButtonTarget,
    Progress,
    Segment,
    Status,
    measured_rate,
)
from domain.notifications import DEFAULT_MODES, Category, Payload
from storage.clock import from_db, to_db
from storage.db import Session
from storage.outbox import newest_id, queued_since

# A paused broadcast's pending rows wait at this time, so the sender's claim (due rows only,
# through its partial index) never meets them; resuming makes them due again.
PAUSED_UNTIL: Final = to_db(datetime(9999, 1, 1, tzinfo=UTC))

_PROGRAMME_ID = "(SELECT id FROM programmes WHERE key = ?)"
# Everyone who took part in a programme: proposers, supporters, commenters, voters, waste
# reporters and panel applicants.
_PARTICIPANTS = f"""
SELECT author_id FROM proposals WHERE programme_id = {_PROGRAMME_ID}
UNION SELECT s.user_id FROM supports s JOIN proposals x ON x.id = s.proposal_id
    WHERE x.programme_id = {_PROGRAMME_ID}
UNION SELECT c.author_id FROM comments c JOIN proposals x ON x.id = c.proposal_id
    WHERE x.programme_id = {_PROGRAMME_ID}
UNION SELECT r.user_id FROM voter_roll r JOIN ballot_headings h ON h.id = r.heading_id
    JOIN stages st ON st.id = h.stage_id WHERE st.programme_id = {_PROGRAMME_ID}
UNION SELECT reporter_id FROM waste_reports WHERE programme_id = {_PROGRAMME_ID}
UNION SELECT user_id FROM panel_applications WHERE programme_id = {_PROGRAMME_ID}
"""


def _members(audience: Audience) -> tuple[str, tuple[object, ...]]:
    """A condition on `p` (people) selecting the segment."""
    value = audience.value
    match audience.segment:
        case Segment.EVERYONE:
            return "1 = 1", ()
        case Segment.DISTRICT:
            return "p.district = ?", (value,)
        case Segment.LANGUAGE:
            return "p.language = ?", (value,)
        case Segment.PANEL:
            return (
                "p.user_id IN (SELECT a.user_id FROM panel_applications a"
                " JOIN programmes g ON g.id = a.programme_id"
                " WHERE g.key = ? AND a.status = 'accepted')",
                (value,),
            )
        case Segment.PROGRAMME:
            return f"p.user_id IN ({_PARTICIPANTS})", (value,) * 6
        case Segment.NOT_VOTED:
            return (
                "p.user_id NOT IN (SELECT r.user_id FROM voter_roll r"
                " JOIN ballot_headings h ON h.id = r.heading_id WHERE h.stage_id = ?)",
                (int(value or 0),),
            )
        case Segment.FOLLOWERS:
            return (
                "p.user_id IN (SELECT user_id FROM follows WHERE proposal_id = ?)",
                (int(value or 0),),
            )


def _recipients(audience: Audience) -> tuple[str, tuple[object, ...]]:
    """FROM … WHERE for the people a broadcast reaches: active, in the segment, and not having
    turned announcements off (a broadcast is an announcement, SPEC §8)."""
    condition, params = _members(audience)
    category = Category.ANNOUNCEMENTS
    return (
        " FROM people p LEFT JOIN notification_settings s"
        "   ON s.user_id = p.user_id AND s.category = ?"
        f" WHERE p.active = 1 AND COALESCE(s.mode, ?) != 'off' AND {condition}",
        (category.value, DEFAULT_MODES[category].value, *params),
    )


def _language_test(language: str, languages: list[str], default: str) -> tuple[str, list[str]]:
    # People whose language has no version get the default language's.
    others = [other for other in languages if other != language]
    if language == default and others:
        return f"p.language NOT IN ({','.join('?' * len(others))})", others
    return "p.language = ?", [language]


async def audience_sizes(
    session: Session, audience: Audience, languages: list[str], default: str
) -> dict[str, int]:
    """How many people each language version would reach."""
    where, params = _recipients(audience)
    sizes = {}
    for language in languages:
        test, extra = _language_test(language, languages, default)
        sizes[language] = int(
            await session.scalar(f"SELECT COUNT(*){where} AND {test}", (*params, *extra))
        )
    return sizes


@dataclass(frozen=True)
class Broadcast:
    id: int
    created_by: int | None  # None once the admin who made it has erased themselves
    texts: dict[str, str]
    photo: str | None
    button: ButtonTarget | None
    audience: Audience
    status: Status
    total: int
    status_chat_id: int | None
    status_message_id: int | None
    created_at: datetime
    queued_at: datetime | None
    finished_at: datetime | None


class BroadcastsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    async def create(
        self,
        created_by: int,
        texts: Mapping[str, str],
        photo: str | None,
        button: ButtonTarget | None,
        audience: Audience,
        now: datetime,
    ) -> int:
        return int(
            await self.session.scalar(
                "INSERT INTO broadcasts (created_by, texts, photo, button, audience, status,"
                " created_at) VALUES (?, ?, ?, ?, ?, 'draft', ?) RETURNING id",
                (
                    created_by,
                    json.dumps(dict(texts), ensure_ascii=False),
                    photo,
                    None if button is None else button.model_dump_json(),
                    audience.model_dump_json(),
                    to_db(now),
                ),
            )
        )

    async def get(self, broadcast_id: int) -> Broadcast | None:
        row = await self.session.fetchone("SELECT * FROM broadcasts WHERE id = ?", (broadcast_id,))
        if row is None:
            return None
        return Broadcast(
            id=row["id"],
            created_by=row["created_by"],
            texts=json.loads(row["texts"]),
            photo=row["photo"],
            button=None
            if row["button"] is None
            else ButtonTarget.model_validate_json(row["button"]),
            audience=Audience.model_validate_json(row["audience"]),
            status=Status(row["status"]),
            total=row["total"],
            status_chat_id=row["status_chat_id"],
            status_message_id=row["status_message_id"],
            created_at=from_db(row["created_at"]),
            queued_at=None if row["queued_at"] is None else from_db(row["queued_at"]),
            finished_at=None if row["finished_at"] is None else from_db(row["finished_at"]),
        )

    async def live(self) -> list[int]:
        rows = await self.session.fetchall(
            "SELECT id FROM broadcasts WHERE status IN ('queued', 'running', 'paused') ORDER BY id"
        )
        return [row["id"] for row in rows]

    async def set_status(
        self, broadcast_id: int, status: Status, allowed: frozenset[Status], now: datetime
    ) -> bool:
        """Move to `status` if the broadcast is in one of `allowed`; False if it was not (a
        double tap, a stale button, another admin first)."""
        finished = status in (Status.DONE, Status.CANCELLED)
        changed = await self.session.execute(
            "UPDATE broadcasts SET status = ?,"
            " queued_at = CASE WHEN ? = 'queued' THEN ? ELSE queued_at END,"
            " finished_at = CASE WHEN ? THEN ? ELSE finished_at END"
            f" WHERE id = ? AND status IN ({','.join('?' * len(allowed))})",
            (
                status.value,
                status.value,
                to_db(now),
                int(finished),
                to_db(now),
                broadcast_id,
                *sorted(s.value for s in allowed),
            ),
        )
        return changed == 1

    async def set_status_message(self, broadcast_id: int, chat_id: int, message_id: int) -> None:
        await self.session.execute(
            "UPDATE broadcasts SET status_chat_id = ?, status_message_id = ? WHERE id = ?",
            (chat_id, message_id, broadcast_id),
        )

    async def enqueue(
        self,
        broadcast: Broadcast,
        payloads: Mapping[str, Payload],
        default: str,
        now: datetime,
    ) -> int:
        """Queue the broadcast for its whole audience, one statement per language; returns how
        many rows are new (none on a second call: dedupe key `broadcast:<id>:<user_id>`)."""
        where, params = _recipients(broadcast.audience)
        languages = list(payloads)
        stamp = to_db(now)
        before = await newest_id(self.session)
        for language, payload in payloads.items():
            test, extra = _language_test(language, languages, default)
            await self.session.execute(
                "INSERT INTO outbox (user_id, category, urgent, payload, dedupe_key, not_before,"
                " created_at, broadcast_id)"
                f" SELECT p.user_id, ?, 0, ?, ? || p.user_id, ?, ?, ?{where} AND {test}"
                " ORDER BY p.user_id"
                " ON CONFLICT (dedupe_key) DO NOTHING",
                (
                    Category.ANNOUNCEMENTS.value,
                    payload.model_dump_json(exclude_defaults=True),
                    f"broadcast:{broadcast.id}:",
                    stamp,
                    stamp,
                    broadcast.id,
                    *params,
                    *extra,
                ),
            )
        queued = await queued_since(self.session, before)
        await self.session.execute(
            "UPDATE broadcasts SET total = total + ? WHERE id = ?", (queued, broadcast.id)
        )
        return queued

    async def hold(self, broadcast_id: int) -> int:
        """Pause: its waiting rows are no longer due."""
        return await self.session.execute(
            "UPDATE outbox SET not_before = ? WHERE broadcast_id = ? AND status = 'pending'",
            (PAUSED_UNTIL, broadcast_id),
        )

    async def release(self, broadcast_id: int, now: datetime) -> int:
        """Resume: its waiting rows are due now (quiet hours are checked again as they go)."""
        return await self.session.execute(
            "UPDATE outbox SET not_before = ? WHERE broadcast_id = ? AND status = 'pending'",
            (to_db(now), broadcast_id),
        )

    async def withdraw(self, broadcast_id: int) -> int:
        """Cancel: what was not handed to Telegram yet is dropped."""
        return await self.session.execute(
            "UPDATE outbox SET status = 'dropped', last_error = 'broadcast cancelled'"
            " WHERE broadcast_id = ? AND status = 'pending'",
            (broadcast_id,),
        )

    async def progress(self, broadcast_id: int, total: int) -> Progress:
        rows = await self.session.fetchall(
            "SELECT status, COUNT(*) AS n FROM outbox WHERE broadcast_id = ? GROUP BY status",
            (broadcast_id,),
        )
        counts = {row["status"]: int(row["n"]) for row in rows}
        return Progress(
            total=total,
            sent=counts.get("sent", 0),
            failed=counts.get("failed", 0),
            unknown=counts.get("unknown", 0),
            skipped=counts.get("dropped", 0),
        )

    async def delivery_rate(self, broadcast_id: int, now: datetime) -> float | None:
        """Messages of the broadcast delivered a second over the last `RATE_WINDOW`: those
        recorded after the first one in the window, over the time since it."""
        first = await self.session.scalar(
            "SELECT MIN(sent_at) FROM outbox"
            " WHERE broadcast_id = ? AND status = 'sent' AND sent_at >= ?",
            (broadcast_id, to_db(now - RATE_WINDOW)),
        )
        if first is None:
            return None
        later = await self.session.scalar(
            "SELECT COUNT(*) FROM outbox"
            " WHERE broadcast_id = ? AND status = 'sent' AND sent_at > ?",
            (broadcast_id, first),
        )
        return measured_rate(int(later or 0), from_db(str(first)), now)


async def voting_stages(session: Session) -> list[tuple[int, str, str]]:
    """Stages with ballots, newest first: (stage id, Korean label, English label)."""
    rows = await session.fetchall(
        "SELECT DISTINCT st.id, g.name_ko || ' · ' || st.name_ko AS ko,"
        " g.name_en || ' · ' || st.name_en AS en, st.starts_at FROM ballot_headings h"
        " JOIN stages st ON st.id = h.stage_id JOIN programmes g ON g.id = st.programme_id"
        " ORDER BY st.starts_at DESC LIMIT 20"
    )
    return [(row["id"], row["ko"], row["en"]) for row in rows]
