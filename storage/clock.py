"""UTC timestamps as stored: ISO-8601 text that sorts in time order."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_db(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are not stored; give a timezone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_db(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def maybe_from_db(text: str | None) -> datetime | None:
    return None if text is None else from_db(text)
