"""Who a Mini App request comes from: Telegram's signed initData, checked on every request.

Telegram signs initData with a key derived from the bot token (HMAC-SHA-256). A request
without it, with a hash that does not match this bot's token (forged, or another bot's), or
older than WEBAPP_AUTH_MAX_AGE is refused. The check is init-data-py's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import init_data_py
from init_data_py import errors

from bot.web.ids import parse_id

SCHEME = "tma"  # Authorization: tma <initData>, as Telegram's documentation suggests


class Failure(StrEnum):
    MISSING = "missing"
    INVALID = "invalid"
    EXPIRED = "expired"


class AuthFailure(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.value)
        self.failure = failure


@dataclass(frozen=True)
class Viewer:
    """The Telegram user who opened the Mini App (only what the checks vouch for)."""

    user_id: int
    language_code: str | None


def viewer_from_header(header: str | None, token: str, max_age: int, now: datetime) -> Viewer:
    if not header:
        raise AuthFailure(Failure.MISSING)
    scheme, _, raw = header.strip().partition(" ")
    if scheme.lower() != SCHEME or not raw.strip():
        raise AuthFailure(Failure.MISSING)
    try:
        data = init_data_py.validate_by_hash(
            raw.strip(), token, expires_in=timedelta(seconds=max_age), now=now
        )
    except errors.ExpiredError as error:
        raise AuthFailure(Failure.EXPIRED) from error
    except errors.InvalidInitDataError as error:
        raise AuthFailure(Failure.INVALID) from error
    # Signed in the future: a clock far off, or data made for another moment.
    if data.user is None or data.issued_at > now + timedelta(minutes=5):
        raise AuthFailure(Failure.INVALID)
    user_id = parse_id(data.user.id)
    if user_id is None:
        raise AuthFailure(Failure.INVALID)
    return Viewer(user_id, data.user.language_code)


def sign_init_data(token: str, user_id: int, language: str, now: datetime) -> str:
    """initData as Telegram would send it for this user: for `civicbot chat`, where no
    Telegram client exists, and for tests."""
    user = init_data_py.User(id=user_id, first_name="You", language_code=language)
    return init_data_py.sign({"user": user.to_json()}, token, auth_date=now)
