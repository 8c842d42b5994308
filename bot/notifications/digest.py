"""The daily digest (하루 요약): one message per person grouping what they chose to get once a
day (SPEC §8)."""

from __future__ import annotations

from datetime import date, datetime
from itertools import groupby

from bot.config import Settings
from bot.i18n import Translator
from bot.notifications.texts import digest_text
from domain.notifications import Category, Payload
from storage import outbox
from storage.db import Session


async def queue_digests(session: Session, settings: Settings, now: datetime, day: date) -> int:
    """Turn every parked row into one digest message per person; returns how many.

    The digest is queued as DIRECT: the person asked for it, so quiet hours and their
    category settings no longer apply. Its dedupe key makes it one per person per day.
    """
    queued = 0
    for user_id, group in groupby(await outbox.parked(session), key=lambda row: row.user_id):
        rows = list(group)
        ids = [row.id for row in rows]
        language = rows[0].language
        if language is None:  # blocked the bot or left since: nobody to tell
            await outbox.mark_digested(session, ids, None)
            continue
        t = Translator(language, settings.tz)
        digest_id = await outbox.enqueue(
            session,
            user_id=user_id,
            category=Category.DIRECT,
            payload=Payload(
                text=digest_text(t, now, [(row.category, row.payload) for row in rows]),
                parse_mode="HTML",
            ),
            now=now,
            dedupe_key=f"digest:{user_id}:{day.isoformat()}",
        )
        if digest_id is not None:  # else today's went out already: these wait for tomorrow
            await outbox.mark_digested(session, ids, digest_id)
            queued += 1
    return queued
