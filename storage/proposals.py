"""The proposals repository: proposals, supports, follows, history, comments, reports."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from domain.proposals import DebateKind, ProjectKind, Scope, Stance, Status
from storage.clock import from_db, maybe_from_db, to_db
from storage.db import Row, Session


class Proposal(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    programme_id: int
    programme_key: str
    author_id: int | None
    title: str
    description: str
    field: str
    scope: Scope
    districts: tuple[str, ...]
    dong: str | None
    kind: ProjectKind | None
    cost: int | None
    photos: tuple[str, ...]
    latitude: float | None
    longitude: float | None
    status: Status
    support_count: int
    published_at: datetime | None
    support_ends_at: datetime | None
    debate_kind: DebateKind | None
    debate_ends_at: datetime | None
    merged_into: int | None
    transferred_to: str | None
    answer: str | None
    progress: int | None
    hidden: bool
    report_count: int
    created_at: datetime


class Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime
    actor_id: int | None
    status: Status
    note: str | None
    progress: int | None


class Comment(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    proposal_id: int
    author_id: int | None
    text: str
    stance: Stance | None
    hidden: bool
    report_count: int
    created_at: datetime


@dataclass(frozen=True)
class NewProposal:
    programme_id: int
    author_id: int
    title: str
    description: str
    field: str
    scope: Scope
    districts: tuple[str, ...]
    dong: str | None
    kind: ProjectKind | None
    cost: int | None
    photos: tuple[str, ...]
    latitude: float | None
    longitude: float | None
    client_key: str | None = None


Sort = Literal["supported", "newest", "ending"]
_ORDER: dict[str, str] = {
    "supported": "p.support_count DESC, p.id DESC",
    "newest": "p.id DESC",
    # Open windows first, soonest end first.
    "ending": "p.support_ends_at IS NULL, p.support_ends_at ASC, p.id DESC",
}

_SELECT = (
    "SELECT p.*, g.key AS programme_key FROM proposals p JOIN programmes g ON g.id = p.programme_id"
)


def _proposal(row: Row) -> Proposal:
    return Proposal(
        id=row["id"],
        programme_id=row["programme_id"],
        programme_key=row["programme_key"],
        author_id=row["author_id"],
        title=row["title"],
        description=row["description"],
        field=row["field"],
        scope=Scope(row["scope"]),
        districts=tuple(json.loads(row["districts"])),
        dong=row["dong"],
        kind=ProjectKind(row["kind"]) if row["kind"] else None,
        cost=row["cost"],
        photos=tuple(json.loads(row["photos"])),
        latitude=row["latitude"],
        longitude=row["longitude"],
        status=Status(row["status"]),
        support_count=row["support_count"],
        published_at=maybe_from_db(row["published_at"]),
        support_ends_at=maybe_from_db(row["support_ends_at"]),
        debate_kind=DebateKind(row["debate_kind"]) if row["debate_kind"] else None,
        debate_ends_at=maybe_from_db(row["debate_ends_at"]),
        merged_into=row["merged_into"],
        transferred_to=row["transferred_to"],
        answer=row["answer"],
        progress=row["progress"],
        hidden=bool(row["hidden"]),
        report_count=row["report_count"],
        created_at=from_db(row["created_at"]),
    )


def _comment(row: Row) -> Comment:
    return Comment(
        id=row["id"],
        proposal_id=row["proposal_id"],
        author_id=row["author_id"],
        text=row["text"],
        stance=Stance(row["stance"]) if row["stance"] else None,
        hidden=bool(row["hidden"]),
        report_count=row["report_count"],
        created_at=from_db(row["created_at"]),
    )


@dataclass(frozen=True)
class Filters:
    field: str | None = None
    district: str | None = None
    statuses: tuple[Status, ...] = ()
    text: str | None = None
    include_hidden: bool = False
    pinned: bool = False  # only those with a location pin


def _json_array(column: str, session: Session) -> str:
    """A FROM item with one row per element of a JSON array of strings, in column `value`."""
    if session.dialect == "postgres":
        return f"jsonb_array_elements_text({column}::jsonb) AS value"
    return f"json_each({column})"


class ProposalsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- proposals ---------------------------------------------------------------------
    async def create(
        self,
        new: NewProposal,
        status: Status,
        now: datetime,
        support_ends_at: datetime | None,
    ) -> int:
        proposal_id = await self.session.execute(
            "INSERT INTO proposals (programme_id, author_id, title, description, field, scope,"
            " districts, dong, kind, cost, photos, latitude, longitude, status, published_at,"
            " support_ends_at, client_key, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new.programme_id,
                new.author_id,
                new.title,
                new.description,
                new.field,
                new.scope.value,
                json.dumps(list(new.districts)),
                new.dong,
                new.kind.value if new.kind else None,
                new.cost,
                json.dumps(list(new.photos)),
                new.latitude,
                new.longitude,
                status.value,
                to_db(now) if status is Status.PUBLISHED else None,
                None if support_ends_at is None else to_db(support_ends_at),
                new.client_key,
                to_db(now),
                to_db(now),
            ),
        )
        await self.add_event(proposal_id, now, new.author_id, status)
        # The proposer follows their own proposal.
        await self.follow(proposal_id, new.author_id)
        return proposal_id

    async def id_for_key(self, client_key: str) -> int | None:
        found = await self.session.scalar(
            "SELECT id FROM proposals WHERE client_key = ?", (client_key,)
        )
        return None if found is None else int(found)

    async def get(self, proposal_id: int) -> Proposal | None:
        row = await self.session.fetchone(f"{_SELECT} WHERE p.id = ?", (proposal_id,))
        return None if row is None else _proposal(row)

    async def set_status(
        self,
        proposal_id: int,
        status: Status,
        now: datetime,
        actor_id: int | None,
        note: str | None = None,
        **fields: Any,
    ) -> None:
        allowed = {"answer", "merged_into", "transferred_to", "progress", "debate_kind",
                   "debate_ends_at", "published_at", "support_ends_at"}  # fmt: skip
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"not settable: {sorted(unknown)}")
        values = [to_db(v) if isinstance(v, datetime) else v for v in fields.values()]
        values = [v.value if hasattr(v, "value") else v for v in values]
        assignments = "".join(f", {name} = ?" for name in fields)
        await self.session.execute(
            f"UPDATE proposals SET status = ?, updated_at = ?{assignments} WHERE id = ?",
            (status.value, to_db(now), *values, proposal_id),
        )
        await self.add_event(proposal_id, now, actor_id, status, note, fields.get("progress"))

    async def add_event(
        self,
        proposal_id: int,
        now: datetime,
        actor_id: int | None,
        status: Status,
        note: str | None = None,
        progress: int | None = None,
    ) -> None:
        await self.session.execute(
            "INSERT INTO proposal_events (proposal_id, at, actor_id, status, note, progress)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (proposal_id, to_db(now), actor_id, status.value, note, progress),
        )

    async def history(self, proposal_id: int) -> list[Event]:
        rows = await self.session.fetchall(
            "SELECT * FROM proposal_events WHERE proposal_id = ? ORDER BY id", (proposal_id,)
        )
        return [
            Event(
                at=from_db(r["at"]),
                actor_id=r["actor_id"],
                status=Status(r["status"]),
                note=r["note"],
                progress=r["progress"],
            )
            for r in rows
        ]

    async def count_by_author_since(self, author_id: int, since: datetime) -> int:
        count: int = await self.session.scalar(
            "SELECT COUNT(*) FROM proposals WHERE author_id = ? AND created_at >= ?",
            (author_id, to_db(since)),
        )
        return count

    async def search(
        self, filters: Filters, sort: Sort = "supported", limit: int = 5, offset: int = 0
    ) -> tuple[list[Proposal], int]:
        """One page of proposals and the total count."""
        where, params = self._where(filters, self.session)
        total: int = await self.session.scalar(
            f"SELECT COUNT(*) FROM proposals p JOIN programmes g ON g.id = p.programme_id{where}",
            params,
        )
        rows = await self.session.fetchall(
            f"{_SELECT}{where} ORDER BY {_ORDER[sort]} LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [_proposal(r) for r in rows], total

    @staticmethod
    def _where(filters: Filters, session: Session) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if not filters.include_hidden:
            clauses.append("p.hidden = 0")
        if filters.field:
            clauses.append("p.field = ?")
            params.append(filters.field)
        if filters.district:
            clauses.append(
                f"EXISTS (SELECT 1 FROM {_json_array('p.districts', session)} WHERE value = ?)"
            )
            params.append(filters.district)
        if filters.statuses:
            clauses.append(f"p.status IN ({','.join('?' * len(filters.statuses))})")
            params.extend(s.value for s in filters.statuses)
        if filters.pinned:
            clauses.append("p.latitude IS NOT NULL AND p.longitude IS NOT NULL")
        # Every word of the query, each in the title or the description ("공원 벤치").
        for word in (filters.text or "").split()[:10]:
            clauses.append("(p.title LIKE ? ESCAPE '\\' OR p.description LIKE ? ESCAPE '\\')")
            pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            params += [pattern, pattern]
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    async def count_by_district(self) -> dict[str, int]:
        """Visible proposals per district they concern (a proposal may concern several)."""
        counts: dict[str, int] = {}
        for row in await self.session.fetchall("SELECT districts FROM proposals WHERE hidden = 0"):
            for code in json.loads(row[0]):
                counts[code] = counts.get(code, 0) + 1
        return counts

    async def texts_for_similarity(self, limit: int = 2000) -> list[tuple[int, str]]:
        rows = await self.session.fetchall(
            "SELECT id, title, description FROM proposals WHERE hidden = 0 AND status NOT IN"
            " ('withdrawn', 'merged') ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [(r["id"], f"{r['title']} {r['description'][:300]}") for r in rows]

    async def expired_support_windows(self, now: datetime) -> list[Proposal]:
        rows = await self.session.fetchall(
            f"{_SELECT} WHERE p.status = 'published' AND p.support_ends_at IS NOT NULL"
            " AND p.support_ends_at <= ?",
            (to_db(now),),
        )
        return [_proposal(r) for r in rows]

    async def collecting_until(self, now: datetime, until: datetime) -> list[Proposal]:
        """Proposals still collecting support whose window ends in (now, until]."""
        rows = await self.session.fetchall(
            f"{_SELECT} WHERE p.status = 'published' AND p.support_ends_at > ?"
            " AND p.support_ends_at <= ?",
            (to_db(now), to_db(until)),
        )
        return [_proposal(r) for r in rows]

    async def ended_debates(self, now: datetime) -> list[Proposal]:
        rows = await self.session.fetchall(
            f"{_SELECT} WHERE p.status = 'in_debate' AND p.debate_ends_at <= ?", (to_db(now),)
        )
        return [_proposal(r) for r in rows]

    async def in_status(self, programme_id: int, status: Status) -> list[Proposal]:
        rows = await self.session.fetchall(
            f"{_SELECT} WHERE p.programme_id = ? AND p.status = ?", (programme_id, status.value)
        )
        return [_proposal(r) for r in rows]

    async def by_author(self, author_id: int) -> list[Proposal]:
        rows = await self.session.fetchall(
            f"{_SELECT} WHERE p.author_id = ? ORDER BY p.id DESC", (author_id,)
        )
        return [_proposal(r) for r in rows]

    async def supported_by(self, user_id: int) -> list[Proposal]:
        rows = await self.session.fetchall(
            f"{_SELECT} JOIN supports s ON s.proposal_id = p.id WHERE s.user_id = ?"
            " ORDER BY s.created_at DESC",
            (user_id,),
        )
        return [_proposal(r) for r in rows]

    async def followed_by(self, user_id: int) -> list[Proposal]:
        rows = await self.session.fetchall(
            f"{_SELECT} JOIN follows f ON f.proposal_id = p.id WHERE f.user_id = ?"
            " ORDER BY p.updated_at DESC",
            (user_id,),
        )
        return [_proposal(r) for r in rows]

    async def all_for_export(self) -> list[Proposal]:
        rows = await self.session.fetchall(f"{_SELECT} ORDER BY p.id")
        return [_proposal(r) for r in rows]

    # -- support (공감) and follows ----------------------------------------------------
    async def add_support(self, proposal_id: int, user_id: int, now: datetime) -> bool:
        """True if this person's support is new; a second tap changes nothing. Not counted
        yet: `count_support` counts it, or `drop_support` takes it back."""
        inserted = await self.session.scalar(
            "INSERT INTO supports (proposal_id, user_id, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING RETURNING 1",
            (proposal_id, user_id, to_db(now)),
        )
        return inserted is not None

    async def count_support(
        self, proposal_id: int, below: int | None = None
    ) -> tuple[int, Status] | None:
        """Count one more support if the proposal still collects support and is not hidden;
        `below`: only if a proposal still short of its goal stays below it. One statement,
        so it needs no lock; it holds the proposal's row until the unit of work ends.
        Returns the new count and the status, or None if not counted."""
        goal = ""
        if below is not None:
            goal = " AND (status = ? OR support_count + 1 < ?)"
        row = await self.session.fetchone(
            "UPDATE proposals SET support_count = support_count + 1"
            f" WHERE id = ? AND hidden = 0 AND status IN (?, ?){goal}"
            " RETURNING support_count, status",
            (
                proposal_id,
                Status.PUBLISHED.value,
                Status.THRESHOLD_REACHED.value,
                *(() if below is None else (Status.THRESHOLD_REACHED.value, below)),
            ),
        )
        return None if row is None else (row["support_count"], Status(row["status"]))

    async def drop_support(self, proposal_id: int, user_id: int) -> None:
        """Take back a support `count_support` did not count."""
        await self.session.execute(
            "DELETE FROM supports WHERE proposal_id = ? AND user_id = ?", (proposal_id, user_id)
        )

    async def remove_support(self, proposal_id: int, user_id: int) -> bool:
        removed = await self.session.execute(
            "DELETE FROM supports WHERE proposal_id = ? AND user_id = ?", (proposal_id, user_id)
        )
        if removed:
            await self.session.execute(
                "UPDATE proposals SET support_count = support_count - 1 WHERE id = ?",
                (proposal_id,),
            )
        return bool(removed)

    async def supports(self, proposal_id: int, user_id: int) -> bool:
        found = await self.session.scalar(
            "SELECT 1 FROM supports WHERE proposal_id = ? AND user_id = ?", (proposal_id, user_id)
        )
        return found is not None

    async def follow(self, proposal_id: int, user_id: int) -> bool:
        """True if the person did not follow the proposal yet."""
        added = await self.session.scalar(
            "INSERT INTO follows (proposal_id, user_id) VALUES (?, ?)"
            " ON CONFLICT DO NOTHING RETURNING 1",
            (proposal_id, user_id),
        )
        return added is not None

    async def unfollow(self, proposal_id: int, user_id: int) -> None:
        await self.session.execute(
            "DELETE FROM follows WHERE proposal_id = ? AND user_id = ?", (proposal_id, user_id)
        )

    async def follows(self, proposal_id: int, user_id: int) -> bool:
        found = await self.session.scalar(
            "SELECT 1 FROM follows WHERE proposal_id = ? AND user_id = ?", (proposal_id, user_id)
        )
        return found is not None

    async def followers(self, proposal_id: int) -> list[int]:
        rows = await self.session.fetchall(
            "SELECT user_id FROM follows WHERE proposal_id = ? ORDER BY user_id", (proposal_id,)
        )
        return [r[0] for r in rows]

    # -- debate stances ----------------------------------------------------------------
    async def set_stance(
        self, proposal_id: int, user_id: int, stance: Stance, now: datetime
    ) -> None:
        await self.session.execute(
            "INSERT INTO debate_stances (proposal_id, user_id, stance, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (proposal_id, user_id)"
            " DO UPDATE SET stance = excluded.stance",
            (proposal_id, user_id, stance.value, to_db(now)),
        )

    async def stance_counts(self, proposal_id: int) -> dict[Stance, int]:
        rows = await self.session.fetchall(
            "SELECT stance, COUNT(*) FROM debate_stances WHERE proposal_id = ? GROUP BY stance",
            (proposal_id,),
        )
        counts = {stance: 0 for stance in Stance}
        counts.update({Stance(r[0]): r[1] for r in rows})
        return counts

    async def debate_participants(self, proposal_id: int) -> int:
        """Distinct people who took a stance or commented during the debate."""
        count: int = await self.session.scalar(
            "SELECT COUNT(*) FROM (SELECT user_id FROM debate_stances WHERE proposal_id = ?"
            " UNION SELECT author_id FROM comments WHERE proposal_id = ? AND author_id IS NOT NULL"
            " AND created_at >= (SELECT COALESCE(MAX(at), '') FROM proposal_events"
            "  WHERE proposal_id = ? AND status = 'in_debate')) AS participants",
            (proposal_id, proposal_id, proposal_id),
        )
        return count

    # -- comments and reports ----------------------------------------------------------
    async def add_comment(
        self, proposal_id: int, author_id: int, text: str, stance: Stance | None, now: datetime
    ) -> int | None:
        """The new comment's id, or None when the author is no longer there (erased).

        The insert share-locks the author's row (PostgreSQL), as a cast's roll entry does: an
        erasure, which locks that row first, waits for this unit of work and then unlinks
        the comment, or has already removed the row and leaves nothing to insert."""
        share = " FOR KEY SHARE" if self.session.dialect == "postgres" else ""
        comment_id: int | None = await self.session.scalar(
            "INSERT INTO comments (proposal_id, author_id, text, stance, created_at)"
            f" SELECT ?, user_id, ?, ?, ? FROM people WHERE user_id = ?{share} RETURNING id",
            (proposal_id, text, stance.value if stance else None, to_db(now), author_id),
        )
        return comment_id

    async def comments(self, proposal_id: int, limit: int = 5) -> list[Comment]:
        rows = await self.session.fetchall(
            "SELECT * FROM comments WHERE proposal_id = ? AND hidden = 0 ORDER BY id DESC LIMIT ?",
            (proposal_id, limit),
        )
        return [_comment(r) for r in reversed(rows)]

    async def get_comment(self, comment_id: int) -> Comment | None:
        row = await self.session.fetchone("SELECT * FROM comments WHERE id = ?", (comment_id,))
        return None if row is None else _comment(row)

    async def report(
        self,
        target_type: Literal["proposal", "comment"],
        target_id: int,
        reporter_id: int,
        now: datetime,
        hide_at: int,
    ) -> tuple[bool, bool]:
        """(counted, hidden now): one report per person; hidden after `hide_at` reports."""
        inserted = await self.session.scalar(
            "INSERT INTO content_reports (target_type, target_id, reporter_id, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1",
            (target_type, target_id, reporter_id, to_db(now)),
        )
        if inserted is None:
            return False, False
        table = "proposals" if target_type == "proposal" else "comments"
        count: int = await self.session.scalar(
            f"UPDATE {table} SET report_count = report_count + 1 WHERE id = ?"
            " RETURNING report_count",
            (target_id,),
        )
        if count >= hide_at:
            hidden = await self.session.execute(
                f"UPDATE {table} SET hidden = 1 WHERE id = ? AND hidden = 0", (target_id,)
            )
            return True, bool(hidden)
        return True, False

    # -- privacy -----------------------------------------------------------------------
    async def export_person(self, user_id: int) -> dict[str, Any]:
        """Everything the person gave: their proposals whole (text, photos as Telegram file
        ids, the pin), their 공감, follows, comments, stances and reports."""

        async def rows(sql: str) -> list[dict[str, Any]]:
            return [dict(r) for r in await self.session.fetchall(sql, (user_id,))]

        return {
            "proposals": [
                p.model_dump(mode="json", exclude={"author_id", "programme_id"})
                for p in await self.by_author(user_id)
            ],
            "supports": await rows(
                "SELECT proposal_id, created_at FROM supports WHERE user_id = ? ORDER BY created_at"
            ),
            "follows": [p.id for p in await self.followed_by(user_id)],
            "comments": await rows(
                "SELECT id, proposal_id, text, stance, hidden, created_at FROM comments"
                " WHERE author_id = ? ORDER BY id"
            ),
            "debate_stances": await rows(
                "SELECT proposal_id, stance, created_at FROM debate_stances WHERE user_id = ?"
            ),
            "content_reported": await rows(
                "SELECT target_type, target_id, created_at FROM content_reports"
                " WHERE reporter_id = ?"
            ),
            "proposal_events_by_me": await rows(
                "SELECT proposal_id, at, status, note, progress FROM proposal_events"
                " WHERE actor_id = ? ORDER BY id"
            ),
        }

    async def erase_person(self, user_id: int) -> None:
        """Unlink the person; supports still being collected stop counting with them."""
        await self.session.execute(
            "UPDATE proposals SET support_count = support_count - 1 WHERE status IN"
            " ('published', 'threshold_reached') AND id IN"
            " (SELECT proposal_id FROM supports WHERE user_id = ?)",
            (user_id,),
        )
        for table in ("supports", "follows", "debate_stances"):
            await self.session.execute(f"DELETE FROM {table} WHERE user_id = ?", (user_id,))
        await self.session.execute("DELETE FROM content_reports WHERE reporter_id = ?", (user_id,))
        await self.session.execute(
            "UPDATE proposals SET author_id = NULL WHERE author_id = ?", (user_id,)
        )
        await self.session.execute(
            "UPDATE comments SET author_id = NULL WHERE author_id = ?", (user_id,)
        )
        await self.session.execute(
            "UPDATE proposal_events SET actor_id = NULL WHERE actor_id = ?", (user_id,)
        )
