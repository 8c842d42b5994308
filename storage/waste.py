"""The budget-waste reports repository: reports, their history and evidence (SPEC §7)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from domain.roles import Role
from domain.waste import (
    AWAITING_ANSWER,
    EventKind,
    FileKind,
    Status,
    Verdict,
    is_overdue,
    receipt_year,
)
from storage.clock import from_db, maybe_from_db, to_db
from storage.db import Row, Session


class Report(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    receipt: str
    programme_id: int
    reporter_id: int | None
    reporter_name: str | None
    reporter_username: str | None
    named_publicly: bool
    contact_consent: bool
    description: str
    agency: str | None
    district: str | None
    address: str | None
    latitude: float | None
    longitude: float | None
    occurred_on: date | None
    amount: int | None
    status: Status
    department: str | None
    officer_id: int | None
    verdict: Verdict | None
    answer: str | None
    saved_amount: int | None
    reward: int | None
    due_at: datetime
    received_at: datetime
    answered_at: datetime | None
    closed_at: datetime | None
    file_count: int

    @property
    def scope(self) -> str:
        """The officer role scope a report falls under: the department it was assigned to,
        else the agency the reporter named; "" (centre staff only) when neither is known."""
        return self.department or self.agency or ""

    def overdue(self, now: datetime) -> bool:
        return is_overdue(self.status, self.due_at, now)


class Evidence(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    report_id: int
    event_id: int | None
    kind: FileKind
    file_id: str
    file_unique_id: str
    mime_type: str | None
    file_name: str | None
    added_at: datetime


class Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    at: datetime
    actor_id: int | None
    kind: EventKind
    note: str | None


@dataclass(frozen=True)
class NewFile:
    kind: FileKind
    file_id: str
    file_unique_id: str
    mime_type: str | None = None
    file_name: str | None = None


@dataclass(frozen=True)
class NewReport:
    programme_id: int
    reporter_id: int
    draft_token: str
    description: str
    agency: str | None
    district: str | None
    address: str | None
    latitude: float | None
    longitude: float | None
    occurred_on: date | None
    amount: int | None
    named_publicly: bool
    contact_consent: bool
    reporter_name: str | None
    reporter_username: str | None
    files: tuple[NewFile, ...] = ()


@dataclass(frozen=True)
class Queue:
    """What an officer's queue shows. `scopes` None: every report; else only those whose
    scope (department, else agency) is one of them."""

    scopes: frozenset[str] | None
    statuses: tuple[Status, ...] = ()
    district: str | None = None
    agency: str | None = None
    overdue_at: datetime | None = None  # only reports overdue at this moment


@dataclass(frozen=True)
class Statistics:
    """Public figures only: nothing here identifies a reporter."""

    total: int
    by_status: dict[Status, int]
    by_district: list[tuple[str, int]]
    by_department: list[tuple[str, int]]
    amount_reported: int
    amount_saved: int
    rewards: int
    unassigned: int  # received and not yet given to anyone, now
    officer_only: int = 0  # given to an officer without naming a department


_SELECT = (
    "SELECT r.*, (SELECT COUNT(*) FROM waste_report_files f WHERE f.report_id = r.id)"
    " AS file_count FROM waste_reports r"
)
_SCOPE = "COALESCE(r.department, r.agency, '')"


def _report(row: Row) -> Report:
    return Report(
        id=row["id"],
        receipt=row["receipt"],
        programme_id=row["programme_id"],
        reporter_id=row["reporter_id"],
        reporter_name=row["reporter_name"],
        reporter_username=row["reporter_username"],
        named_publicly=bool(row["named_publicly"]),
        contact_consent=bool(row["contact_consent"]),
        description=row["description"],
        agency=row["agency"],
        district=row["district"],
        address=row["address"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        occurred_on=date.fromisoformat(row["occurred_on"]) if row["occurred_on"] else None,
        amount=row["amount"],
        status=Status(row["status"]),
        department=row["department"],
        officer_id=row["officer_id"],
        verdict=Verdict(row["verdict"]) if row["verdict"] else None,
        answer=row["answer"],
        saved_amount=row["saved_amount"],
        reward=row["reward"],
        due_at=from_db(row["due_at"]),
        received_at=from_db(row["received_at"]),
        answered_at=maybe_from_db(row["answered_at"]),
        closed_at=maybe_from_db(row["closed_at"]),
        file_count=row["file_count"],
    )


def _evidence(row: Row) -> Evidence:
    return Evidence(
        id=row["id"],
        report_id=row["report_id"],
        event_id=row["event_id"],
        kind=FileKind(row["kind"]),
        file_id=row["file_id"],
        file_unique_id=row["file_unique_id"],
        mime_type=row["mime_type"],
        file_name=row["file_name"],
        added_at=from_db(row["added_at"]),
    )


# Columns an officer's action may change, besides status.
_SETTABLE = frozenset(
    {"department", "officer_id", "verdict", "answer", "saved_amount", "reward", "answered_at",
     "closed_at"}
)  # fmt: skip


RECEIPT_COUNTER = 1_000_000  # `counter` lock keys: this plus the receipt's year


def _six_digits(session: Session, number: str) -> str:
    """SQL writing a positive integer with at least six digits, as `format_receipt` does."""
    if session.dialect == "postgres":
        return f"lpad({number}::text, greatest(6, length({number}::text)), '0')"
    return f"printf('%06d', {number})"


class WasteRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- reports -------------------------------------------------------------------------
    async def create(self, new: NewReport, now: datetime, due_at: datetime) -> int | None:
        """Insert the report, its history's first step and its evidence, with a provisional
        receipt: `number` gives the real one as the unit of work's last step. None, and
        nothing stored, when the draft's token already made a report (a double tap: this
        waits for that unit of work to end) or the reporter is not signed up.

        No lock. The provisional receipt is random, so units of work at once do not wait
        for each other on the receipt's unique indexes (two alike would only wait: each is
        replaced before its commit). The person's row is share-locked until the commit, as
        a vote's roll entry does: an erasure waits for the report, or leaves no person."""
        provisional = secrets.randbits(62) + 1
        share = " FOR KEY SHARE" if self.session.dialect == "postgres" else ""
        report_id: int | None = await self.session.scalar(
            "INSERT INTO waste_reports (receipt, receipt_year, receipt_seq, draft_token,"
            " programme_id, reporter_id, reporter_name, reporter_username, named_publicly,"
            " contact_consent, description, agency, district, address, latitude, longitude,"
            " occurred_on, amount, status, due_at, received_at, updated_at)"
            " SELECT ?, ?, ?, ?, ?, user_id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
            f" FROM people WHERE user_id = ?{share}"
            " ON CONFLICT (draft_token) DO NOTHING RETURNING id",
            (
                f"~{provisional}",
                receipt_year(now),
                -provisional,
                new.draft_token,
                new.programme_id,
                new.reporter_name,
                new.reporter_username,
                int(new.named_publicly),
                int(new.contact_consent),
                new.description,
                new.agency,
                new.district,
                new.address,
                new.latitude,
                new.longitude,
                new.occurred_on.isoformat() if new.occurred_on else None,
                new.amount,
                Status.RECEIVED.value,
                to_db(due_at),
                to_db(now),
                to_db(now),
                new.reporter_id,
            ),
        )
        if report_id is None:
            return None
        event_id = await self.add_event(report_id, EventKind.RECEIVED, now, new.reporter_id)
        await self.add_files(report_id, event_id, new.files, now)
        return report_id

    async def number(
        self, report_id: int, now: datetime, since: datetime, per_reporter: int
    ) -> str | None:
        """Give a report made by `create` the year's next receipt number, and return it;
        None (nothing changed: roll back) if its reporter has then more than `per_reporter`
        reports received since `since` (this one included).

        Receipt numbers have no gaps and no repeats: the year's counter is locked from
        reading the last number to the commit, so call this last in the unit of work (the
        lock is held for this one statement and the commit). Every report commits under its
        year's lock, and a day in Seoul falls in one year, so the count is exact too: no
        other report of the reporter's day can commit between it and this one's commit."""
        year = receipt_year(now)
        digits = _six_digits(self.session, "upcoming.seq")
        await self.session.lock("counter", RECEIPT_COUNTER + year)
        return await self.session.scalar(  # type: ignore[no-any-return]
            "UPDATE waste_reports SET (receipt_seq, receipt) = (SELECT upcoming.seq,"
            f" 'W-' || waste_reports.receipt_year || '-' || {digits}"
            " FROM (SELECT COALESCE(MAX(receipt_seq), 0) + 1 AS seq FROM waste_reports"
            " WHERE receipt_year = ? AND receipt_seq > 0) AS upcoming)"
            " WHERE id = ? AND (SELECT COUNT(*) FROM waste_reports mine"
            " WHERE mine.reporter_id = waste_reports.reporter_id AND mine.received_at >= ?) <= ?"
            " RETURNING receipt",
            (year, report_id, to_db(since), per_reporter),
        )

    async def get(self, report_id: int) -> Report | None:
        row = await self.session.fetchone(f"{_SELECT} WHERE r.id = ?", (report_id,))
        return None if row is None else _report(row)

    async def by_receipt(self, receipt: str) -> Report | None:
        row = await self.session.fetchone(f"{_SELECT} WHERE r.receipt = ?", (receipt,))
        return None if row is None else _report(row)

    async def by_token(self, token: str) -> Report | None:
        row = await self.session.fetchone(f"{_SELECT} WHERE r.draft_token = ?", (token,))
        return None if row is None else _report(row)

    async def by_reporter(self, user_id: int) -> list[Report]:
        rows = await self.session.fetchall(
            f"{_SELECT} WHERE r.reporter_id = ? ORDER BY r.id DESC", (user_id,)
        )
        return [_report(r) for r in rows]

    async def count_by_reporter_since(self, user_id: int, since: datetime) -> int:
        count: int = await self.session.scalar(
            "SELECT COUNT(*) FROM waste_reports WHERE reporter_id = ? AND received_at >= ?",
            (user_id, to_db(since)),
        )
        return count

    async def update(
        self, report_id: int, now: datetime, status: Status | None = None, **fields: Any
    ) -> None:
        unknown = set(fields) - _SETTABLE
        if unknown:
            raise ValueError(f"not settable: {sorted(unknown)}")
        if status is not None:
            fields["status"] = status
        values = [to_db(v) if isinstance(v, datetime) else v for v in fields.values()]
        values = [v.value if isinstance(v, Status | Verdict) else v for v in values]
        assignments = "".join(f", {name} = ?" for name in fields)
        await self.session.execute(
            f"UPDATE waste_reports SET updated_at = ?{assignments} WHERE id = ?",
            (to_db(now), *values, report_id),
        )

    # -- history and evidence --------------------------------------------------------------
    async def add_event(
        self,
        report_id: int,
        kind: EventKind,
        now: datetime,
        actor_id: int | None,
        note: str | None = None,
    ) -> int:
        return await self.session.execute(
            "INSERT INTO waste_report_events (report_id, at, actor_id, kind, note)"
            " VALUES (?, ?, ?, ?, ?)",
            (report_id, to_db(now), actor_id, kind.value, note),
        )

    async def history(self, report_id: int) -> list[Event]:
        rows = await self.session.fetchall(
            "SELECT * FROM waste_report_events WHERE report_id = ? ORDER BY id", (report_id,)
        )
        return [
            Event(
                id=r["id"],
                at=from_db(r["at"]),
                actor_id=r["actor_id"],
                kind=EventKind(r["kind"]),
                note=r["note"],
            )
            for r in rows
        ]

    async def add_files(
        self, report_id: int, event_id: int | None, files: Iterable[NewFile], now: datetime
    ) -> int:
        """Attach evidence; a file already attached to this report is not stored twice."""
        added = 0
        for new in files:
            inserted = await self.session.scalar(
                "INSERT INTO waste_report_files (report_id, event_id, kind, file_id,"
                " file_unique_id, mime_type, file_name, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (report_id, file_unique_id) DO NOTHING RETURNING 1",
                (
                    report_id,
                    event_id,
                    new.kind.value,
                    new.file_id,
                    new.file_unique_id,
                    new.mime_type,
                    new.file_name,
                    to_db(now),
                ),
            )
            added += inserted is not None
        return added

    async def files(self, report_id: int) -> list[Evidence]:
        rows = await self.session.fetchall(
            "SELECT * FROM waste_report_files WHERE report_id = ? ORDER BY id", (report_id,)
        )
        return [_evidence(r) for r in rows]

    # -- officers' queue -----------------------------------------------------------------
    @staticmethod
    def _where(queue: Queue) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if queue.scopes is not None and not queue.scopes:
            clauses.append("0")  # no role in any scope: nothing
        elif queue.scopes is not None:
            scopes = sorted(queue.scopes)
            clauses.append(f"{_SCOPE} IN ({','.join('?' * len(scopes))})")
            params += scopes
        if queue.statuses:
            clauses.append(f"r.status IN ({','.join('?' * len(queue.statuses))})")
            params += [s.value for s in queue.statuses]
        if queue.district:
            clauses.append("r.district = ?")
            params.append(queue.district)
        if queue.agency:
            clauses.append(f"{_SCOPE} = ?")
            params.append(queue.agency)
        if queue.overdue_at is not None:
            waiting = sorted(s.value for s in AWAITING_ANSWER)
            clauses.append(f"r.status IN ({','.join('?' * len(waiting))}) AND r.due_at <= ?")
            params += [*waiting, to_db(queue.overdue_at)]
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    async def queue(
        self, queue: Queue, limit: int = 10, offset: int = 0
    ) -> tuple[list[Report], int]:
        """A page of reports, soonest deadline first, and how many match in all."""
        where, params = self._where(queue)
        total: int = await self.session.scalar(
            f"SELECT COUNT(*) FROM waste_reports r{where}", params
        )
        rows = await self.session.fetchall(
            f"{_SELECT}{where} ORDER BY r.status = 'closed', r.due_at, r.id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [_report(r) for r in rows], total

    async def agencies(self, scopes: frozenset[str] | None, limit: int = 20) -> list[str]:
        """The departments and agencies an officer's reports fall under, most frequent first."""
        where, params = self._where(Queue(scopes=scopes))
        extra = " AND " if where else " WHERE "
        rows = await self.session.fetchall(
            f"SELECT {_SCOPE} AS name, COUNT(*) AS n FROM waste_reports r{where}{extra}"
            f"{_SCOPE} != '' GROUP BY name ORDER BY n DESC, name LIMIT ?",
            (*params, limit),
        )
        return [r["name"] for r in rows]

    async def awaiting_answer_due(self, now: datetime, until: datetime) -> list[Report]:
        """Reports waiting for an answer whose deadline falls in (now, until]."""
        waiting = sorted(s.value for s in AWAITING_ANSWER)
        rows = await self.session.fetchall(
            f"{_SELECT} WHERE r.status IN ({','.join('?' * len(waiting))})"
            " AND r.due_at > ? AND r.due_at <= ? ORDER BY r.due_at",
            (*waiting, to_db(now), to_db(until)),
        )
        return [_report(r) for r in rows]

    async def officers_for(self, scope: str) -> list[int]:
        """People granted the officer role for this scope (or all scopes), and admins."""
        rows = await self.session.fetchall(
            "SELECT DISTINCT user_id FROM roles WHERE role = 'admin'"
            " OR (role = ? AND scope IN ('', ?)) ORDER BY user_id",
            (Role.WASTE_OFFICER.value, scope),
        )
        return [r[0] for r in rows]

    # -- public figures and exports --------------------------------------------------------
    async def statistics(self, top: int = 10) -> Statistics:
        by_status = {status: 0 for status in Status}
        for row in await self.session.fetchall(
            "SELECT status, COUNT(*) FROM waste_reports GROUP BY status"
        ):
            by_status[Status(row[0])] = row[1]
        districts = await self.session.fetchall(
            "SELECT district, COUNT(*) AS n FROM waste_reports WHERE district IS NOT NULL"
            " GROUP BY district ORDER BY n DESC, district"
        )
        # Departments as officers set them: a reporter's free text is not published.
        departments = await self.session.fetchall(
            "SELECT department, COUNT(*) AS n FROM waste_reports WHERE department IS NOT NULL"
            " GROUP BY department ORDER BY n DESC, department LIMIT ?",
            (top,),
        )
        totals = await self.session.fetchone(
            "SELECT COUNT(*), COALESCE(SUM(amount), 0), COALESCE(SUM(saved_amount), 0),"
            " COALESCE(SUM(reward), 0),"
            # Each case as it is now: only a case still waiting in 접수 is unassigned; one an
            # officer took without naming a department stays theirs once closed.
            " COALESCE(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), 0),"
            " COALESCE(SUM(CASE WHEN status <> ? AND department IS NULL THEN 1 ELSE 0 END), 0)"
            " FROM waste_reports",
            (Status.RECEIVED.value, Status.RECEIVED.value),
        )
        assert totals is not None
        return Statistics(
            total=totals[0],
            by_status=by_status,
            by_district=[(r[0], r[1]) for r in districts],
            by_department=[(r[0], r[1]) for r in departments],
            amount_reported=totals[1],
            amount_saved=totals[2],
            rewards=totals[3],
            unassigned=totals[4],
            officer_only=totals[5],
        )

    async def pins(self, limit: int = 2000) -> list[tuple[float, float, Status, str | None]]:
        """Where reports were made, rounded to about 100 m, with status and district only:
        nothing that could point at a reporter."""
        rows = await self.session.fetchall(
            "SELECT latitude, longitude, status, district FROM waste_reports"
            " WHERE latitude IS NOT NULL AND longitude IS NOT NULL ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [(round(r[0], 3), round(r[1], 3), Status(r[2]), r[3]) for r in rows]

    async def all_for_export(self) -> list[Report]:
        rows = await self.session.fetchall(f"{_SELECT} ORDER BY r.id")
        return [_report(r) for r in rows]

    # -- privacy -----------------------------------------------------------------------------
    async def export_person(self, user_id: int) -> dict[str, Any]:
        reports = []
        for report in await self.by_reporter(user_id):
            reports.append(
                {
                    **report.model_dump(
                        mode="json", exclude={"programme_id", "officer_id", "file_count"}
                    ),
                    "files": [
                        f.model_dump(
                            mode="json", include={"kind", "file_id", "file_name", "added_at"}
                        )
                        for f in await self.files(report.id)
                    ],
                    "history": [
                        e.model_dump(mode="json", include={"at", "kind", "note"})
                        for e in await self.history(report.id)
                    ],
                }
            )
        handled = await self.session.fetchall(
            "SELECT receipt FROM waste_reports WHERE officer_id = ? ORDER BY id", (user_id,)
        )
        return {"reports": reports, "cases_assigned_to_me": [r[0] for r in handled]}

    async def erase_person(self, user_id: int) -> None:
        """Reports stay on the public record, unlinked; name and contact are deleted."""
        await self.session.execute(
            "UPDATE waste_reports SET reporter_id = NULL, reporter_name = NULL,"
            " reporter_username = NULL, named_publicly = 0, contact_consent = 0"
            " WHERE reporter_id = ?",
            (user_id,),
        )
        await self.session.execute(
            "UPDATE waste_reports SET officer_id = NULL WHERE officer_id = ?", (user_id,)
        )
        await self.session.execute(
            "UPDATE waste_report_events SET actor_id = NULL WHERE actor_id = ?", (user_id,)
        )
