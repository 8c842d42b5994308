"""What notifications say: category and mode names, announcements, reminders, digests."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import datetime, time
from typing import Final

from bot.i18n import N_, Translator
from bot.notifications.hooks import ReminderDue
from domain.notifications import Category, Mode, Payload
from domain.programmes import Programme, Stage

CATEGORY_LABELS: Final = {
    Category.DEADLINES: N_("Deadline reminders"),
    Category.UPDATES: N_("Updates on what you follow"),
    Category.ANNOUNCEMENTS: N_("Announcements"),
}
MODE_BUTTONS: Final = {
    Mode.IMMEDIATE: N_("Immediately"),
    Mode.DIGEST: N_("Daily summary"),
    Mode.OFF: N_("Off"),
}
_TAG = re.compile(r"<[^>]+>")
# Room left under Telegram's 4,096 characters for the "and N more" line.
DIGEST_LIMIT: Final = 3800
DIGEST_ITEM_LIMIT: Final = 400


def mode_description(t: Translator, mode: Mode, digest_at: time) -> str:
    if mode is Mode.IMMEDIATE:
        return t.gettext("immediately")
    if mode is Mode.DIGEST:
        return t.gettext("in one summary a day at %(time)s") % {"time": digest_at.strftime("%H:%M")}
    return t.gettext("off")


def stage_opened(t: Translator, programme: Programme, stage: Stage) -> str:
    names = {
        "programme": html.escape(programme.name.get(t.language)),
        "stage": html.escape(stage.name.get(t.language)),
    }
    if stage.ends_at is None:
        text = t.gettext("<b>%(programme)s</b>: %(stage)s is now open.") % names
    else:
        text = t.gettext("<b>%(programme)s</b>: %(stage)s is now open until %(end)s.") % {
            **names,
            "end": t.deadline(stage.ends_at, stage.starts_at),
        }
    return text + "\n" + t.gettext("See /programmes for what you can do.")


def stage_closed(t: Translator, programme: Programme, stage: Stage, now: datetime) -> str:
    text = t.gettext("<b>%(programme)s</b>: %(stage)s has closed.") % {
        "programme": html.escape(programme.name.get(t.language)),
        "stage": html.escape(stage.name.get(t.language)),
    }
    upcoming = programme.next_stage(now)
    if upcoming is not None:
        text += "\n" + t.gettext("Next: %(stage)s, from %(start)s") % {
            "stage": html.escape(upcoming.name.get(t.language)),
            "start": t.opening(upcoming.starts_at, now),
        }
    return text


def reminder_text(t: Translator, due: ReminderDue) -> str:
    """The opening line of a deadline reminder (HTML, for `parse_mode="HTML"`); audiences add
    what the person has left to do."""
    return t.gettext(
        "Reminder: <b>%(stage)s</b> of %(programme)s is open until %(end)s (%(left)s)."
    ) % {
        "stage": html.escape(due.stage.name.get(t.language)),
        "programme": html.escape(due.programme.name.get(t.language)),
        "end": t.deadline(due.deadline, due.now),
        "left": t.left(due.now, due.deadline),
    }


def plain(payload: Payload) -> str:
    """A payload's text without markup, for quoting inside a digest."""
    text = payload.text
    if payload.parse_mode and payload.parse_mode.upper() == "HTML":
        text = html.unescape(_TAG.sub("", text))
    return text


def digest_text(t: Translator, now: datetime, items: Sequence[tuple[Category, Payload]]) -> str:
    """One HTML message grouping a person's parked notifications by category."""
    lines = [t.gettext("<b>Your daily summary</b> (%(day)s)") % {"day": t.day(now)}]
    length = len(lines[0])
    shown = 0
    for category, label in CATEGORY_LABELS.items():
        entries = [payload for each, payload in items if each is category]
        if not entries:
            continue
        block = ["", f"<b>{html.escape(t.gettext(label))}</b>"]
        for payload in entries:
            text = plain(payload)
            if len(text) > DIGEST_ITEM_LIMIT:
                text = text[: DIGEST_ITEM_LIMIT - 1] + "…"
            entry = "• " + html.escape(text)
            if length + sum(len(line) + 1 for line in block) + len(entry) > DIGEST_LIMIT:
                break
            block.append(entry)
            shown += 1
        if len(block) > 2:
            lines += block
            length += sum(len(line) + 1 for line in block)
    rest = len(items) - shown
    if rest:
        lines += [
            "",
            t.ngettext("…and %(count)d more.", "…and %(count)d more.", rest) % {"count": rest},
        ]
    return "\n".join(lines)
