"""Settings from the environment or a `.env` file (SPEC §10)."""

from __future__ import annotations

import re
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from storage.ballotkey import BallotKey, BallotKeyProblem, read_key_file

Language = Literal["ko", "en"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: SecretStr | None = None
    # Full URLs with a `{token}` placeholder, handed to PTB's base_url / base_file_url.
    telegram_api_base_url: str = "https://api.telegram.org/bot{token}"
    telegram_api_file_url: str = "https://api.telegram.org/file/bot{token}"
    database_url: str = "sqlite:///data/civicbot.sqlite3"
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    timezone: str = "Asia/Seoul"
    default_language: Language = "ko"
    quiet_hours_start: time = time(22, 0)
    quiet_hours_end: time = time(8, 0)
    # Telegram allows about 30 messages/s in total; stay under it (SPEC §9).
    broadcast_rate: float = Field(default=25.0, gt=0)
    send_rate: float = Field(default=30.0, gt=0)
    minimum_age: int = 14
    # `civicbot run --webhook`: Telegram must send this in X-Telegram-Bot-Api-Secret-Token.
    webhook_secret: SecretStr | None = None
    # This process among several sharing one database (`run --workers`); a restarted worker
    # settles only the notifications it was sending itself (stable names: main, worker-1, …).
    worker_name: str = Field(default="main", min_length=1, max_length=64)
    # SPEC §8: reminders this long before each stage deadline, e.g. "72h,24h,3h" (d, h, m, s).
    reminder_offsets: Annotated[tuple[timedelta, ...], NoDecode] = (
        timedelta(hours=72),
        timedelta(hours=24),
        timedelta(hours=3),
    )
    # When the daily digest (하루 요약) goes out, in `timezone`.
    digest_time: time = time(8, 0)
    # Outbox rows claimed per round: also the most a crash can leave undecided (SPEC §8).
    outbox_batch_size: int = Field(default=10, ge=1, le=100)
    # Sends that failed before reaching Telegram are retried this many times, with backoff.
    outbox_max_attempts: int = Field(default=5, ge=1)
    # Updates handled at once per process (different people's; one person's are one at a
    # time). Enough to keep the CPU busy while replies wait on Telegram; more only lengthens
    # every lock's hold on a busy process (bench/bench_workers.py --in-hand).
    updates_in_hand: int = Field(default=64, ge=1, le=1000)
    # Seconds between checks for stages to open or close, reminders and digests to queue.
    automation_interval: float = Field(default=30.0, gt=0)
    # The web side (bot/web): public pages and the Mini App. `civicbot run` (polling) and
    # `civicbot chat` listen on WEB_LISTEN:WEB_PORT (0: any free port); with --webhook the
    # pages share the webhook's address and port.
    web_listen: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=0, le=65535)
    # Where people reach the pages, e.g. https://civic.example.org (no trailing slash). With an
    # https URL the bot sets the chat menu button and offers WebApp buttons (Telegram opens
    # Mini Apps over HTTPS only). Empty: the webhook URL's origin, else the local address.
    public_url: str = ""
    # Map tiles, e.g. https://tiles.example.org/{z}/{x}/{y}.png; empty: the offline district map.
    tile_url: str = ""
    tile_attribution: str = ""
    # How old a Mini App's signed initData may be (seconds) before its requests are refused.
    webapp_auth_max_age: int = Field(default=3600, gt=0)
    # Per person (Mini App) writes, and per address for the costlier public pages.
    web_write_limit: str = "30/minute"
    web_read_limit: str = "300/minute"
    # Live results are recounted at most this often (seconds); final ones are kept.
    results_cache_seconds: float = Field(default=15.0, ge=0)
    # The privacy notice (PIPA): who controls the data, and where people reach them.
    privacy_controller_ko: str = Field(default="서울특별시", min_length=1, max_length=200)
    privacy_controller_en: str = Field(
        default="Seoul Metropolitan Government", min_length=1, max_length=200
    )
    # Shown as it is in both languages: a phone number, an e-mail or a web address.
    privacy_contact: str = Field(default="02-120", min_length=1, max_length=200)
    # The ballot key, never in the database (docs/ballot-secrecy.md): 64 hex characters, or
    # a file holding them. The election officer keeps a copy.
    ballot_key: SecretStr | None = None
    ballot_key_file: Path | None = None
    # Seconds between mixes of the ballots cast meanwhile into the ballot table (each mix
    # rewrites a heading's ballots); a closing vote is mixed at once.
    ballot_mix_interval: float = Field(default=600.0, ge=0)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(
                int(part) for part in value.replace(";", ",").split(",") if part.strip()
            )
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("reminder_offsets", mode="before")
    @classmethod
    def _parse_offsets(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(parse_duration(part) for part in value.split(",") if part.strip())
        return value

    @field_validator("reminder_offsets")
    @classmethod
    def _positive_offsets(cls, value: tuple[timedelta, ...]) -> tuple[timedelta, ...]:
        if any(offset <= timedelta(0) for offset in value):
            raise ValueError("reminder offsets must be positive")
        return tuple(sorted(set(value), reverse=True))

    @field_validator("webhook_secret")
    @classmethod
    def _telegram_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()
        ):
            raise ValueError("WEBHOOK_SECRET: 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("public_url", "tile_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("web_write_limit", "web_read_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        if not re.fullmatch(r"\s*\d+\s*/\s*(second|minute|hour|day)\s*", value):
            raise ValueError("a rate like 30/minute (per second, minute, hour or day)")
        return value.replace(" ", "")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown timezone {value!r}") from error
        return value

    def ballot_key_value(self) -> BallotKey | None:
        """The configured ballot key (BALLOT_KEY first, else BALLOT_KEY_FILE), or None."""
        if self.ballot_key is not None and self.ballot_key.get_secret_value().strip():
            try:
                return BallotKey.from_text(self.ballot_key.get_secret_value())
            except ValueError as error:
                raise BallotKeyProblem(f"BALLOT_KEY: {error}") from error
        if self.ballot_key_file is not None:
            return read_key_file(self.ballot_key_file)
        return None

    def privacy_controller(self, language: str) -> str:
        return self.privacy_controller_ko if language == "ko" else self.privacy_controller_en

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


_DURATION = re.compile(r"^\s*(\d+)\s*([dhms])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str) -> timedelta:
    """Read "72h", "90m" or "2d" as a timedelta."""
    match = _DURATION.match(text.lower())
    if match is None:
        raise ValueError(f"not a duration like 72h, 90m or 2d: {text!r}")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


TOKEN_HELP = (
    "No Telegram bot token is set. Create a bot with @BotFather in Telegram "
    "(send /newbot), then put the token it gives you in the environment, e.g. "
    "`export TELEGRAM_BOT_TOKEN=123456:ABC…`, or in a `.env` file next to where you run "
    "civicbot (TELEGRAM_BOT_TOKEN=…). To try the bot without a token, run `civicbot chat`."
)
