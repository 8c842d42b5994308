"""Ids that come from outside (URLs, forms, initData) are checked for range before they reach
storage, by the same rules as the chat's (`domain/ids.py`): an id out of range gets the same
answer as an unknown one."""

from __future__ import annotations

from domain.ids import MAX_ID, NO_ID, to_id


def parse_id(text: object) -> int | None:
    """A positive id in range (a string of digits, or a number already read from JSON), else
    None: malformed, out of range and unknown are answered alike."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text if 0 < text <= MAX_ID else None
    if not isinstance(text, str):
        return None
    found = to_id(text)
    return None if found == NO_ID else found
