"""Stage openings and closings told to those concerned (SPEC §3): everyone who has not turned
announcements off, in their language, through the outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from bot.i18n import LANGUAGES, Translator
from bot.notifications.hooks import StageEvent
from bot.notifications.texts import stage_closed, stage_opened
from domain.notifications import Category, Payload
from storage import outbox
from storage.clock import to_db
from storage.db import Session

if TYPE_CHECKING:
    from bot.context import Services

# After downtime, news older than this is not announced any more (its effects still run).
STALE_AFTER: Final = timedelta(hours=24)


class StageAnnouncements:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def opened(self, session: Session, event: StageEvent) -> None:
        now = self.services.clock()
        # Opened and closed again while the bot was down: only the closing is news.
        if not event.stage.is_open(now):
            return
        await self._announce(
            session, event, lambda t: stage_opened(t, event.programme, event.stage)
        )

    async def closed(self, session: Session, event: StageEvent) -> None:
        now = self.services.clock()
        await self._announce(
            session, event, lambda t: stage_closed(t, event.programme, event.stage, now)
        )

    async def _announce(
        self, session: Session, event: StageEvent, render: Callable[[Translator], str]
    ) -> int:
        now = self.services.clock()
        if now - event.at > STALE_AFTER:
            return 0
        settings = self.services.settings
        payloads = {
            language: Payload(text=render(Translator(language, settings.tz)), parse_mode="HTML")
            for language in LANGUAGES
        }
        return await outbox.enqueue_to_subscribers(
            session,
            category=Category.ANNOUNCEMENTS,
            payloads=payloads,
            default_language=settings.default_language,
            dedupe_prefix=f"stage:{event.stage_id}:{event.kind}:{to_db(event.at)}",
            now=now,
        )
