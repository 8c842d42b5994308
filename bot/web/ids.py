"""Ids that come from outside (URLs, forms, initData) are checked for range here, before they
reach storage: an id out of range gets the same answer as an unknown one."""

from __future__ import annotations

from typing import Final

# Row ids are 64-bit on both engines; Telegram user ids fit in 52 bits.
MAX_ID: Final = 2**63 - 1


def parse_id(text: object) -> int | None:
    """A positive id written in plain digits, else None."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text if 0 < text <= MAX_ID else None
    if not isinstance(text, str) or not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None
