"""The audit log: every admin action, and every refused attempt at one (SPEC §2)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from storage.clock import from_db, to_db
from storage.db import Session


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    at: datetime
    actor_id: int | None
    action: str
    subject: str | None
    details: dict[str, Any]


async def record(
    session: Session,
    actor_id: int | None,
    action: str,
    subject: str | None,
    now: datetime,
    **details: Any,
) -> None:
    await session.execute(
        "INSERT INTO audit_log (at, actor_id, action, subject, details) VALUES (?, ?, ?, ?, ?)",
        (to_db(now), actor_id, action, subject, json.dumps(details, ensure_ascii=False)),
    )


async def anonymise_subject(session: Session, subject: str, marker: str) -> None:
    """Entries about `subject` are about `marker` from now on, and lose their reason (which
    may describe the person): a person's erasure (storage/privacy.erase_person)."""
    rows = await session.fetchall("SELECT id, details FROM audit_log WHERE subject = ?", (subject,))
    for row in rows:
        details = json.loads(row["details"] or "{}")
        details.pop("reason", None)
        await session.execute(
            "UPDATE audit_log SET subject = ?, details = ? WHERE id = ?",
            (marker, json.dumps(details, ensure_ascii=False), row["id"]),
        )


async def entries(session: Session, limit: int = 20, offset: int = 0) -> list[AuditEntry]:
    rows = await session.fetchall(
        "SELECT * FROM audit_log ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset)
    )
    return [
        AuditEntry(
            id=r["id"],
            at=from_db(r["at"]),
            actor_id=r["actor_id"],
            action=r["action"],
            subject=r["subject"],
            details=json.loads(r["details"] or "{}"),
        )
        for r in rows
    ]


async def count(session: Session) -> int:
    total: int = await session.scalar("SELECT COUNT(*) FROM audit_log")
    return total
