"""Admin broadcasts (SPEC §9): who they go to, where they stand, when they will be done."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from domain.ids import RowId

TEXT_MAX: Final = 4096
CAPTION_MAX: Final = 1024  # Telegram's limit for a photo's caption


class Segment(StrEnum):
    """Who a broadcast goes to; all but EVERYONE take a value (`Audience.value`)."""

    EVERYONE = "everyone"
    DISTRICT = "district"  # value: district code
    LANGUAGE = "language"  # value: ko / en
    PANEL = "panel"  # value: the panel programme's key; its accepted members
    PROGRAMME = "programme"  # value: programme key; everyone who took part in it
    NOT_VOTED = "not_voted"  # value: stage id; signed-up people not on its voter roll
    FOLLOWERS = "followers"  # value: proposal id


class Audience(BaseModel):
    model_config = ConfigDict(frozen=True)

    segment: Segment
    value: str | None = Field(default=None, max_length=40)


class Status(StrEnum):
    DRAFT = "draft"  # composed, previewed, not confirmed
    QUEUED = "queued"  # confirmed: its outbox rows are written, none sent yet
    RUNNING = "running"
    PAUSED = "paused"  # its rows stay queued but are not handed to the sender
    CANCELLED = "cancelled"
    DONE = "done"


LIVE: Final = frozenset({Status.QUEUED, Status.RUNNING, Status.PAUSED})


class ButtonKind(StrEnum):
    PROPOSAL = "proposal"
    BALLOT = "ballot"


class ButtonTarget(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: ButtonKind
    id: RowId

    @property
    def callback_data(self) -> str:
        """The same buttons the bot's own cards use, so a tap opens the proposal or ballot."""
        if self.kind is ButtonKind.PROPOSAL:
            return f"pr:card:{self.id}"
        return f"vt:h:{self.id}:0"


def text_limit(with_photo: bool) -> int:
    return CAPTION_MAX if with_photo else TEXT_MAX


@dataclass(frozen=True)
class Progress:
    """A broadcast's outbox rows by outcome."""

    total: int
    sent: int = 0
    failed: int = 0  # refused by Telegram (blocked the bot, bad request, retries used up)
    unknown: int = 0  # in flight when the bot stopped: maybe delivered, never resent
    skipped: int = 0  # not sent: announcements turned off since, person gone, or cancelled

    @property
    def remaining(self) -> int:
        return max(self.total - self.sent - self.failed - self.unknown - self.skipped, 0)

    @property
    def finished(self) -> bool:
        return self.remaining == 0


RATE_WINDOW: Final = timedelta(seconds=30)  # how far back the delivery rate is measured
RATE_MIN_SPAN: Final = timedelta(seconds=3)  # less than this says too little to measure


def measured_rate(delivered: int, since: datetime, now: datetime) -> float | None:
    """Messages a second from `delivered` messages recorded after `since` until `now`; None
    while the span is too short to say."""
    span = now - since
    if span < RATE_MIN_SPAN:
        return None
    return delivered / span.total_seconds()


def eta(remaining: int, rate: float) -> timedelta:
    """How long `remaining` messages take at `rate` per second, rounded up to a second."""
    if remaining <= 0:
        return timedelta(0)
    return timedelta(seconds=math.ceil(remaining / rate))
