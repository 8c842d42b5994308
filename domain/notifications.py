"""What a notification is, independent of how it is delivered (SPEC §8)."""

from __future__ import annotations

from enum import StrEnum

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
