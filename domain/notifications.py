"""What a notification is, independent of how it is delivered (SPEC §8)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field


class Category(StrEnum):
    """Per-person settings choose immediate / daily digest / off for the first three."""

    DEADLINES = "deadlines"
    UPDATES = "updates"  # on things the person follows
    ANNOUNCEMENTS = "announcements"
    DIRECT = "direct"  # what the person asked for: always sent, even in quiet hours


class Button(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str = Field(min_length=1)
    callback_data: str | None = Field(default=None, max_length=64)
    url: str | None = None


class Payload(BaseModel):
    """The message as the recipient will see it, already in their language."""

    model_config = ConfigDict(frozen=True)

    text: str = Field(min_length=1, max_length=4096)
    parse_mode: str | None = None
    buttons: tuple[tuple[Button, ...], ...] = ()
    photo: str | None = None  # a Telegram file_id; then `text` is its caption


class Mode(StrEnum):
    """How a person wants one category delivered (SPEC §8)."""

    IMMEDIATE = "immediate"
    DIGEST = "digest"  # 하루 요약: one message a day
    OFF = "off"


# The categories a person can set; DIRECT is what they asked for and is always sent.
SETTABLE: Final = (Category.DEADLINES, Category.UPDATES, Category.ANNOUNCEMENTS)
# Announcements reach everyone who has not turned them off, so by default they come as one
# summary a day rather than one message per stage (overload is Decidim users' top complaint).
DEFAULT_MODES: Final = {
    Category.DEADLINES: Mode.IMMEDIATE,
    Category.UPDATES: Mode.IMMEDIATE,
    Category.ANNOUNCEMENTS: Mode.DIGEST,
}


class Route(StrEnum):
    """What the sender does with a due outbox row."""

    SEND = "send"
    DIGEST = "digest"  # parked for the next daily digest
    DROP = "drop"  # the person turned the category off, left, or blocked the bot
    WAIT = "wait"  # quiet hours: held until the morning


def route(
    category: Category, urgent: bool, mode: Mode | None, reachable: bool, quiet: bool
) -> Route:
    """Decide a due row's fate. `mode` None means the person kept the default."""
    if not reachable:
        return Route.DROP
    if urgent or category is Category.DIRECT:
        return Route.SEND
    chosen = mode or DEFAULT_MODES[category]
    if chosen is Mode.OFF:
        return Route.DROP
    if chosen is Mode.DIGEST:
        return Route.DIGEST
    return Route.WAIT if quiet else Route.SEND


def quiet_until(now: datetime, start: time, end: time, tz: tzinfo) -> datetime | None:
    """The end of the quiet hours `now` falls in (UTC), or None outside them.

    Quiet hours may span midnight (22:00–08:00); equal start and end means none.
    """
    if start == end:
        return None
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= clock < end
        end_day = local.date()
    else:
        inside = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=tz).astimezone(UTC)


def retry_delay(attempts: int, base: timedelta = timedelta(seconds=30)) -> timedelta:
    """Exponential backoff after the n-th failed attempt: 30 s, 1 min, 2 min, … at most 1 h."""
    delay: timedelta = base * 2 ** max(attempts - 1, 0)
    return min(delay, timedelta(hours=1))


def digest_day(now: datetime, at: time, tz: tzinfo) -> date | None:
    """The local day whose digest is due at `now` (digests go out at `at`), or None before."""
    local = now.astimezone(tz)
    return local.date() if local.time().replace(tzinfo=None) >= at else None
