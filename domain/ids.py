"""Numbers that come from outside — deep-link payloads, button data, typed ids, web requests —
read in one place and checked for range before they reach storage (issue 17).

Row ids are SQLite INTEGER / PostgreSQL BIGINT: 1 … 2^63 − 1. A number outside that range can
name no row, so it is read as `NO_ID`, which looks up like any unknown id: the person gets the
same answer as for an id that does not exist, and storage never sees an integer it cannot hold
(SQLite raises OverflowError on one).
"""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import Field

MAX_ID: Final = 2**63 - 1
NO_ID: Final = 0  # ids start at 1: looking this one up finds nothing

# A row id in a model read from outside (a web request's JSON, a stored draft): pydantic
# refuses anything out of range with a validation error.
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]

# Decimal digits of any script ("１２" from a full-width keyboard is 12), which `int` reads;
# not `str.isdigit`, which also takes "²", which `int` refuses.
_NUMBER: Final = re.compile(r"\d+")
_LONGEST: Final = 4000  # digits; Python refuses to convert strings over 4,300


def is_number(text: str) -> bool:
    """Whether `text` is a number as people type one: digits, spaces around allowed."""
    return _NUMBER.fullmatch(text.strip()) is not None


def parse_number(text: str, maximum: int = MAX_ID) -> int | None:
    """The number `text` spells if it is one and at most `maximum`, else None (for values
    that are not ids: a year, a percentage, a page)."""
    digits = text.strip()
    if _NUMBER.fullmatch(digits) is None or len(digits) > _LONGEST:
        return None
    value = int(digits)
    return value if value <= maximum else None


def parse_id(text: str, maximum: int = MAX_ID) -> int | None:
    """An id from outside: None if `text` is not a number at all (the caller asks again);
    otherwise the id, or `NO_ID` when it is out of range (the caller answers as for an
    unknown id). `maximum` is lower where the column is smaller."""
    if not is_number(text):
        return None
    value = parse_number(text, maximum)
    return NO_ID if value is None else value


def to_id(text: str, maximum: int = MAX_ID) -> int:
    """An id from data whose shape is already checked (button data matched by a pattern, a
    deep-link payload): the id, or `NO_ID` for anything that cannot be one."""
    found = parse_id(text, maximum)
    return NO_ID if found is None else found


def clamp_ids(data: str) -> str:
    """`data` with every number in it that no row id can equal replaced by `NO_ID`, for data
    that handlers match with patterns and then read (button data): `pr:card:99999999999999999999`
    becomes `pr:card:0`, answered as an unknown proposal. (A page number that large becomes
    page 0, the first.)"""

    def clamp(match: re.Match[str]) -> str:
        return match[0] if parse_number(match[0]) is not None else str(NO_ID)

    return _NUMBER.sub(clamp, data)
