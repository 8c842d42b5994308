"""Settings from the environment or a `.env` file (SPEC §10)."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown timezone {value!r}") from error
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def sqlite_path(self) -> Path:
        """The database file for a `sqlite:///…` URL (relative paths from the working dir)."""
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            raise ValueError(f"Unsupported DATABASE_URL {self.database_url!r}: use sqlite:///PATH")
        return Path(self.database_url[len(prefix) :])


TOKEN_HELP = (
    "No Telegram bot token is set. Create a bot with @BotFather in Telegram "
    "(send /newbot), then put the token it gives you in the environment, e.g. "
    "`export TELEGRAM_BOT_TOKEN=123456:ABC…`, or in a `.env` file next to where you run "
    "civicbot (TELEGRAM_BOT_TOKEN=…). To try the bot without a token, run `civicbot chat`."
)
