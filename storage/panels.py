"""The panels repository: applications, the published draw, meetings and RSVPs, course codes."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from domain.panels import ApplicationStatus, may_change
from domain.sortition import Applicant, Fairness, Quota
from storage.clock import from_db, maybe_from_db, to_db, utcnow
from storage.db import Row, Session


class Application(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    programme_id: int
    programme_key: str
    user_id: int | None
    pseudonym: str
    features: dict[str, str]
    status: ApplicationStatus
    applied_at: datetime
    invited_at: datetime | None
    respond_by: datetime | None
    answered_at: datetime | None
    replacement_called_at: datetime | None
    replaced_by: str | None


class DrawRecord(BaseModel):
    """A panel's draw as published: only pseudonyms, never a Telegram id."""

    model_config = ConfigDict(frozen=True)

    programme_id: int
    commitment: str
    algorithm: str
    seats: int
    pool: tuple[Applicant, ...]
    quotas: tuple[Quota, ...]
    committed_at: datetime
    seed: str | None
    drawn_at: datetime | None
    selected: tuple[str, ...]
    reserve: tuple[str, ...]
    # every pseudonym's selection probability and the fairness figures (draws since 0018)
    fairness: Fairness | None = None

    @property
    def drawn(self) -> bool:
        return self.seed is not None


class Meeting(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    programme_id: int
    title: str
    starts_at: datetime
    place: str
    materials: str


class CourseCode(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    label: str
    created_at: datetime
    closed_at: datetime | None
    uses: int


_SELECT = (
    "SELECT a.*, g.key AS programme_key FROM panel_applications a"
    " JOIN programmes g ON g.id = a.programme_id"
)


def _application(row: Row) -> Application:
    return Application(
        id=row["id"],
        programme_id=row["programme_id"],
        programme_key=row["programme_key"],
        user_id=row["user_id"],
        pseudonym=row["pseudonym"],
        features=json.loads(row["features"]),
        status=ApplicationStatus(row["status"]),
        applied_at=from_db(row["applied_at"]),
        invited_at=maybe_from_db(row["invited_at"]),
        respond_by=maybe_from_db(row["respond_by"]),
        answered_at=maybe_from_db(row["answered_at"]),
        replacement_called_at=maybe_from_db(row["replacement_called_at"]),
        replaced_by=row["replaced_by"],
    )


def _meeting(row: Row) -> Meeting:
    return Meeting(
        id=row["id"],
        programme_id=row["programme_id"],
        title=row["title"],
        starts_at=from_db(row["starts_at"]),
        place=row["place"],
        materials=row["materials"],
    )


def _statuses(statuses: Collection[ApplicationStatus]) -> tuple[str, list[str]]:
    return ",".join("?" * len(statuses)), [s.value for s in statuses]


class PanelsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- applications ------------------------------------------------------------------
    async def apply(
        self,
        programme_id: int,
        user_id: int,
        pseudonym: str,
        features: Mapping[str, str],
        now: datetime,
    ) -> int | None:
        """A new application (or a withdrawn one renewed); None if one is already active,
        however many taps arrive."""
        found = await self.session.scalar(
            "INSERT INTO panel_applications (programme_id, user_id, pseudonym, features, status,"
            " applied_at, updated_at) VALUES (?, ?, ?, ?, 'applied', ?, ?)"
            " ON CONFLICT (programme_id, user_id) DO UPDATE SET status = 'applied',"
            " features = excluded.features, applied_at = excluded.applied_at,"
            " updated_at = excluded.updated_at WHERE panel_applications.status = 'withdrawn'"
            " RETURNING id",
            (programme_id, user_id, pseudonym, json.dumps(dict(features)), to_db(now), to_db(now)),
        )
        return None if found is None else int(found)

    async def get(self, application_id: int) -> Application | None:
        row = await self.session.fetchone(f"{_SELECT} WHERE a.id = ?", (application_id,))
        return None if row is None else _application(row)

    async def of_user(self, programme_id: int, user_id: int) -> Application | None:
        row = await self.session.fetchone(
            f"{_SELECT} WHERE a.programme_id = ? AND a.user_id = ?", (programme_id, user_id)
        )
        return None if row is None else _application(row)

    async def by_user(self, user_id: int) -> list[Application]:
        rows = await self.session.fetchall(
            f"{_SELECT} WHERE a.user_id = ? ORDER BY a.applied_at DESC", (user_id,)
        )
        return [_application(r) for r in rows]

    async def by_pseudonyms(self, programme_id: int) -> dict[str, Application]:
        rows = await self.session.fetchall(f"{_SELECT} WHERE a.programme_id = ?", (programme_id,))
        return {r["pseudonym"]: _application(r) for r in rows}

    async def in_status(
        self, programme_id: int, statuses: Collection[ApplicationStatus]
    ) -> list[Application]:
        marks, values = _statuses(statuses)
        rows = await self.session.fetchall(
            f"{_SELECT} WHERE a.programme_id = ? AND a.status IN ({marks}) ORDER BY a.id",
            (programme_id, *values),
        )
        return [_application(r) for r in rows]

    async def counts(self, programme_id: int) -> dict[ApplicationStatus, int]:
        rows = await self.session.fetchall(
            "SELECT status, COUNT(*) FROM panel_applications WHERE programme_id = ?"
            " GROUP BY status",
            (programme_id,),
        )
        counts = {status: 0 for status in ApplicationStatus}
        counts.update({ApplicationStatus(r[0]): r[1] for r in rows})
        return counts

    async def change(
        self,
        application_id: int,
        new: ApplicationStatus,
        now: datetime,
        **fields: datetime | str | None,
    ) -> bool:
        """Move an application on only if its current status may lead to `new`: of two taps,
        or a tap and the expiry job, exactly one wins."""
        expected = [status for status in ApplicationStatus if may_change(status, new)]
        allowed = {"invited_at", "respond_by", "answered_at", "replacement_called_at",
                   "replaced_by"}  # fmt: skip
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"not settable: {sorted(unknown)}")
        values = [to_db(v) if isinstance(v, datetime) else v for v in fields.values()]
        assignments = "".join(f", {name} = ?" for name in fields)
        marks, statuses = _statuses(expected)
        changed = await self.session.execute(
            f"UPDATE panel_applications SET status = ?, updated_at = ?{assignments}"
            f" WHERE id = ? AND status IN ({marks})",
            (new.value, to_db(now), *values, application_id, *statuses),
        )
        return changed > 0

    async def mark_replacement(
        self, application_id: int, now: datetime, replaced_by: str | None
    ) -> None:
        await self.session.execute(
            "UPDATE panel_applications SET replacement_called_at = ?, replaced_by = ? WHERE id = ?",
            (to_db(now), replaced_by, application_id),
        )

    async def invitations_due(self, now: datetime) -> list[Application]:
        rows = await self.session.fetchall(
            f"{_SELECT} WHERE a.status = 'invited' AND a.respond_by <= ? ORDER BY a.id",
            (to_db(now),),
        )
        return [_application(r) for r in rows]

    async def invitations_ending(self, now: datetime, until: datetime) -> list[Application]:
        """Invitations still open whose deadline falls in (now, until]."""
        rows = await self.session.fetchall(
            f"{_SELECT} WHERE a.status = 'invited' AND a.respond_by > ? AND a.respond_by <= ?"
            " ORDER BY a.id",
            (to_db(now), to_db(until)),
        )
        return [_application(r) for r in rows]

    async def seats_given_up(self) -> list[Application]:
        """Seats left after the draw whose replacement has not been called yet."""
        rows = await self.session.fetchall(
            f"{_SELECT} WHERE a.status = 'left' AND a.replacement_called_at IS NULL ORDER BY a.id"
        )
        return [_application(r) for r in rows]

    async def members(self, programme_id: int) -> list[int]:
        rows = await self.session.fetchall(
            "SELECT user_id FROM panel_applications WHERE programme_id = ?"
            " AND status = 'accepted' AND user_id IS NOT NULL ORDER BY user_id",
            (programme_id,),
        )
        return [r[0] for r in rows]

    async def member_ids(self, programme_key: str) -> list[int]:
        rows = await self.session.fetchall(
            "SELECT a.user_id FROM panel_applications a JOIN programmes g ON g.id = a.programme_id"
            " WHERE g.key = ? AND a.status = 'accepted' AND a.user_id IS NOT NULL",
            (programme_key,),
        )
        return [r[0] for r in rows]

    async def is_member(self, programme_key: str, user_id: int) -> bool:
        found = await self.session.scalar(
            "SELECT 1 FROM panel_applications a JOIN programmes g ON g.id = a.programme_id"
            " WHERE g.key = ? AND a.user_id = ? AND a.status = 'accepted'",
            (programme_key, user_id),
        )
        return found is not None

    # -- the draw ------------------------------------------------------------------------
    async def commit(
        self,
        programme_id: int,
        commitment: str,
        algorithm: str,
        seats: int,
        pool: Collection[Applicant],
        quotas: Collection[Quota],
        now: datetime,
        admin_id: int,
    ) -> bool:
        """Publish a commitment; a panel has one, so a second one is refused."""
        inserted = await self.session.scalar(
            "INSERT INTO panel_draws (programme_id, commitment, algorithm, seats, pool, quotas,"
            " committed_at, committed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING RETURNING 1",
            (
                programme_id,
                commitment,
                algorithm,
                seats,
                json.dumps([[a.id, a.features] for a in pool], ensure_ascii=False),
                json.dumps([[q.feature, q.value, q.min, q.max] for q in quotas]),
                to_db(now),
                admin_id,
            ),
        )
        return inserted is not None

    async def draw(self, programme_id: int) -> DrawRecord | None:
        row = await self.session.fetchone(
            "SELECT * FROM panel_draws WHERE programme_id = ?", (programme_id,)
        )
        if row is None:
            return None
        return DrawRecord(
            programme_id=row["programme_id"],
            commitment=row["commitment"],
            algorithm=row["algorithm"],
            seats=row["seats"],
            pool=tuple(Applicant(pid, features) for pid, features in json.loads(row["pool"])),
            quotas=tuple(Quota(*quota) for quota in json.loads(row["quotas"])),
            committed_at=from_db(row["committed_at"]),
            seed=row["seed"],
            drawn_at=maybe_from_db(row["drawn_at"]),
            selected=tuple(json.loads(row["selected"] or "[]")),
            reserve=tuple(json.loads(row["reserve"] or "[]")),
            fairness=Fairness.from_dict(json.loads(row["fairness"])) if row["fairness"] else None,
        )

    async def save_result(
        self,
        programme_id: int,
        seed: str,
        selected: Collection[str],
        reserve: Collection[str],
        now: datetime,
        admin_id: int,
        fairness: Fairness | None = None,
    ) -> bool:
        """Store the seed and the result, once: a second seed is refused."""
        figures = None if fairness is None else json.dumps(fairness.as_dict())
        changed = await self.session.execute(
            "UPDATE panel_draws SET seed = ?, selected = ?, reserve = ?, drawn_at = ?,"
            " drawn_by = ?, fairness = ? WHERE programme_id = ? AND seed IS NULL",
            (seed, json.dumps(list(selected)), json.dumps(list(reserve)), to_db(now), admin_id,
             figures, programme_id),
        )  # fmt: skip
        return changed > 0

    # -- meetings ------------------------------------------------------------------------
    async def add_meeting(
        self,
        programme_id: int,
        title: str,
        starts_at: datetime,
        place: str,
        admin_id: int,
        now: datetime,
    ) -> int:
        return await self.session.execute(
            "INSERT INTO panel_meetings (programme_id, title, starts_at, place, created_by,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (programme_id, title, to_db(starts_at), place, admin_id, to_db(now)),
        )

    async def meeting(self, meeting_id: int) -> Meeting | None:
        row = await self.session.fetchone(
            "SELECT * FROM panel_meetings WHERE id = ?", (meeting_id,)
        )
        return None if row is None else _meeting(row)

    async def meetings(self, programme_id: int) -> list[Meeting]:
        rows = await self.session.fetchall(
            "SELECT * FROM panel_meetings WHERE programme_id = ? ORDER BY starts_at, id",
            (programme_id,),
        )
        return [_meeting(r) for r in rows]

    async def meetings_starting(self, now: datetime, until: datetime) -> list[Meeting]:
        rows = await self.session.fetchall(
            "SELECT * FROM panel_meetings WHERE starts_at > ? AND starts_at <= ? ORDER BY id",
            (to_db(now), to_db(until)),
        )
        return [_meeting(r) for r in rows]

    async def set_materials(self, meeting_id: int, materials: str) -> None:
        await self.session.execute(
            "UPDATE panel_meetings SET materials = ? WHERE id = ?", (materials, meeting_id)
        )

    async def rsvp(self, meeting_id: int, user_id: int, answer: str, now: datetime) -> None:
        await self.session.execute(
            "INSERT INTO meeting_rsvps (meeting_id, user_id, answer, at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (meeting_id, user_id) DO UPDATE SET answer = excluded.answer,"
            " at = excluded.at",
            (meeting_id, user_id, answer, to_db(now)),
        )

    async def rsvp_of(self, meeting_id: int, user_id: int) -> str | None:
        found = await self.session.scalar(
            "SELECT answer FROM meeting_rsvps WHERE meeting_id = ? AND user_id = ?",
            (meeting_id, user_id),
        )
        return None if found is None else str(found)

    async def rsvp_counts(self, meeting_id: int) -> dict[str, int]:
        rows = await self.session.fetchall(
            "SELECT answer, COUNT(*) FROM meeting_rsvps WHERE meeting_id = ? GROUP BY answer",
            (meeting_id,),
        )
        counts = {"yes": 0, "no": 0, "maybe": 0}
        counts.update({r[0]: r[1] for r in rows})
        return counts

    # -- 예산학교 course codes -------------------------------------------------------------
    async def add_code(self, code: str, label: str, admin_id: int, now: datetime) -> bool:
        inserted = await self.session.scalar(
            "INSERT INTO budget_school_codes (code, label, created_by, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1",
            (code, label, admin_id, to_db(now)),
        )
        return inserted is not None

    async def code(self, code: str) -> CourseCode | None:
        row = await self.session.fetchone(
            "SELECT * FROM budget_school_codes WHERE code = ?", (code,)
        )
        if row is None:
            return None
        return CourseCode(
            code=row["code"],
            label=row["label"],
            created_at=from_db(row["created_at"]),
            closed_at=maybe_from_db(row["closed_at"]),
            uses=row["uses"],
        )

    async def open_codes(self) -> list[CourseCode]:
        rows = await self.session.fetchall(
            "SELECT code FROM budget_school_codes WHERE closed_at IS NULL ORDER BY created_at"
        )
        found = [await self.code(r["code"]) for r in rows]
        return [c for c in found if c is not None]

    async def close_code(self, code: str, now: datetime) -> bool:
        changed = await self.session.execute(
            "UPDATE budget_school_codes SET closed_at = ? WHERE code = ? AND closed_at IS NULL",
            (to_db(now), code),
        )
        return changed > 0

    async def count_use(self, code: str) -> None:
        await self.session.execute(
            "UPDATE budget_school_codes SET uses = uses + 1 WHERE code = ?", (code,)
        )

    # -- privacy -----------------------------------------------------------------------
    async def export_person(self, user_id: int) -> dict[str, Any]:
        rsvps = await self.session.fetchall(
            "SELECT m.title, m.starts_at, r.answer, r.at FROM meeting_rsvps r"
            " JOIN panel_meetings m ON m.id = r.meeting_id WHERE r.user_id = ?",
            (user_id,),
        )
        return {
            "applications": [
                {
                    "programme": a.programme_key,
                    "pseudonym": a.pseudonym,
                    "answers": a.features,
                    "status": a.status.value,
                    "applied_at": to_db(a.applied_at),
                    "respond_by": to_db(a.respond_by) if a.respond_by else None,
                }
                for a in await self.by_user(user_id)
            ],
            "meeting_rsvps": [dict(r) for r in rsvps],
        }

    async def erase_person(self, user_id: int) -> None:
        """Applications are withdrawn and a seat held is given up (its replacement is called
        by the panels job). Rows in a published pool keep only what the pool already shows;
        the others go."""
        await self.session.execute(
            "DELETE FROM panel_applications WHERE user_id = ?"
            " AND programme_id NOT IN (SELECT programme_id FROM panel_draws)",
            (user_id,),
        )
        await self.session.execute(
            "UPDATE panel_applications SET status = CASE WHEN status IN ('invited', 'accepted')"
            " THEN 'left' WHEN status IN ('applied', 'reserve') THEN 'withdrawn' ELSE status END,"
            " user_id = NULL, updated_at = ? WHERE user_id = ?",
            (to_db(utcnow()), user_id),
        )
        await self.session.execute("DELETE FROM meeting_rsvps WHERE user_id = ?", (user_id,))
        await self.session.execute(
            "UPDATE panel_meetings SET created_by = NULL WHERE created_by = ?", (user_id,)
        )
        await self.session.execute(
            "UPDATE panel_draws SET committed_by = NULL WHERE committed_by = ?", (user_id,)
        )
        await self.session.execute(
            "UPDATE panel_draws SET drawn_by = NULL WHERE drawn_by = ?", (user_id,)
        )
        await self.session.execute(
            "UPDATE budget_school_codes SET created_by = NULL WHERE created_by = ?", (user_id,)
        )
