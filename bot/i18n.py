"""Translations and locale formatting (SPEC §11: Korean first, English complete).

Catalogs are the `.po` files under `locales/<language>/LC_MESSAGES/`, one per feature; they
are merged and compiled in memory when first used, so a fresh clone needs no build step and a
stale `.mo` can never shadow an edited `.po`.
"""

from __future__ import annotations

import gettext
import io
import math
import re
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from tossi import postfix

LOCALES_DIR: Final = Path(__file__).resolve().parent.parent / "locales"
LANGUAGES: Final = ("ko", "en")
SEOUL: Final = ZoneInfo("Asia/Seoul")

# The pattern Korean readers expect: "2027년 3월 6일 (토) 오후 3:05".
_DATETIME_PATTERNS: Final = {"ko": "y년 M월 d일 (E) aaaa h:mm", "en": "EEE d MMM y, h:mm a"}
_DATE_PATTERNS: Final = {"ko": "y년 M월 d일 (E)", "en": "EEE d MMM y"}
# Deadlines and starts as the city writes them: "12월 14일(월) 24:00", 24-hour times.
_DAY_PATTERNS: Final = {"ko": "M월 d일(E)", "en": "EEE d MMM"}
_DAY_WITH_YEAR_PATTERNS: Final = {"ko": "y년 M월 d일(E)", "en": "EEE d MMM y"}
_TIME_PATTERNS: Final = {"ko": "HH:mm", "en": "h:mm a"}


def N_(message: str) -> str:
    """Mark a string for extraction where it is defined; translate it where it is shown."""
    return message


def pick_language(code: str | None, default: str = "ko") -> str:
    """Map a Telegram `language_code` (e.g. "en-GB", "ko") to a supported language."""
    if code:
        base = code.split("-")[0].lower()
        if base in LANGUAGES:
            return base
    return default


@cache
def translations(language: str) -> gettext.NullTranslations:
    """All catalogs of a language merged: each feature keeps its strings in its own `.po`."""
    folder = LOCALES_DIR / language / "LC_MESSAGES"
    merged: Catalog | None = None
    for po_path in sorted(folder.glob("*.po")):
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=language)
        if merged is None:
            merged = catalog
            continue
        for message in catalog:
            if message.id and message.id not in merged:
                merged[message.id] = message
    if merged is None:
        return gettext.NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, merged)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


# A particle written right after a placeholder in a Korean catalog message, in the notation
# Korean writers use when the word is unknown ("%(id)d(이)가", "%(name)s을(를)"), and the
# particle tossi is asked for once the value is known.
_PARTICLES: Final = {
    "(이)가": "이",
    "이(가)": "이",
    "(을)를": "을",
    "을(를)": "을",
    "(은)는": "은",
    "은(는)": "은",
    "(와)과": "과",
    "과(와)": "과",
    "와(과)": "과",
    "(으)로서": "으로서",
    "(으)로써": "으로써",
    "(으)로": "(으)로",
    "(이)에요": "이에요",
    "(이)라는": "이라는",
    "(이)라고": "이라고",
    "(이)나": "이나",
}
PLACEHOLDER: Final = r"%\(\w+\)[#0\- +]*\d*(?:\.\d+)?[sdifr]"
# What may stand between a placeholder and its particle: closing quotes and markup
# ("“%(name)s”(이)라는", "<b>%(title)s</b>(을)를").
CLOSERS: Final = r"(?:</\w+>|[”’\"'»」』)\]])*"
_PLACEHOLDER_PARTICLE: Final = re.compile(
    f"({PLACEHOLDER})({CLOSERS})("
    + "|".join(re.escape(token) for token in sorted(_PARTICLES, key=len, reverse=True))
    + ")"
)


@cache
def _particle_slots(template: str) -> tuple[str, tuple[tuple[str, str, str, str], ...]]:
    """The template with each placeholder-and-particle replaced by a slot of its own, and
    per slot: its key, the placeholder to fill, what closes it, and the particle to attach."""
    slots: list[tuple[str, str, str, str]] = []

    def slot(match: re.Match[str]) -> str:
        key = f"__particle_{len(slots)}"
        slots.append((key, match.group(1), match.group(2), _PARTICLES[match.group(3)]))
        return f"%({key})s"

    return _PLACEHOLDER_PARTICLE.sub(slot, template), tuple(slots)


def attach_particles(template: str, values: Mapping[str, object]) -> str:
    """`template % values`, with each particle after a placeholder in the form the filled-in
    value's last sound takes: "제안 #%(id)d(이)가" gives "제안 #1이" and "제안 #2가"."""
    rewritten, slots = _particle_slots(template)
    if not slots:
        return template % values
    filled = dict(values)
    for key, placeholder, closer, particle in slots:
        word = placeholder % values
        filled[key] = word + closer + postfix(word, particle)[len(word) :]
    return rewritten % filled


class KoreanText(str):
    """A Korean catalog message; `%` with a mapping fills it through `attach_particles`."""

    __slots__ = ()

    def __mod__(self, values: object) -> str:
        if isinstance(values, Mapping):
            return attach_particles(str(self), values)
        return str.__mod__(self, values)


class Translator:
    """Everything a handler needs to speak one person's language."""

    def __init__(self, language: str, tz: ZoneInfo = SEOUL) -> None:
        self.language = language if language in LANGUAGES else "ko"
        self.tz = tz
        self._t = translations(self.language)

    def gettext(self, message: str) -> str:
        return self._text(self._t.gettext(message))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._text(self._t.ngettext(singular, plural, n))

    def _text(self, message: str) -> str:
        # Korean particles follow the sound of what fills a placeholder (SPEC §11).
        return KoreanText(message) if self.language == "ko" else message

    def when(self, moment: datetime) -> str:
        return format_datetime(
            moment, _DATETIME_PATTERNS[self.language], tzinfo=self.tz, locale=self.language
        )

    def day(self, moment: datetime) -> str:
        return format_datetime(
            moment, _DATE_PATTERNS[self.language], tzinfo=self.tz, locale=self.language
        )

    def deadline(self, moment: datetime, now: datetime | None = None) -> str:
        """A deadline as the city writes it: one at midnight is 24:00 of the day before
        ("12월 14일(월) 24:00" / "the end of Mon 14 Dec"), any other is "12월 14일(월) 18:00"
        / "Mon 14 Dec, 6:00 PM". Messages put it after 까지 / "until", "by". The year is
        left out when it is `now`'s year."""
        local = moment.astimezone(self.tz)
        if local.time() == time(0):
            day = self._day(local - timedelta(days=1), now)
            return self.gettext("the end of %(day)s") % {"day": day}
        return self._day_and_time(local, now)

    def opening(self, moment: datetime, now: datetime | None = None) -> str:
        """When something starts: the day alone at midnight ("12월 15일(화)" / "Tue 15 Dec"),
        otherwise with the time ("12월 15일(화) 09:00" / "Tue 15 Dec, 9:00 AM")."""
        local = moment.astimezone(self.tz)
        if local.time() == time(0):
            return self._day(local, now)
        return self._day_and_time(local, now)

    def _day(self, local: datetime, now: datetime | None) -> str:
        same_year = now is not None and now.astimezone(self.tz).year == local.year
        patterns = _DAY_PATTERNS if same_year else _DAY_WITH_YEAR_PATTERNS
        return format_datetime(local, patterns[self.language], locale=self.language)

    def _day_and_time(self, local: datetime, now: datetime | None) -> str:
        clock = format_datetime(local, _TIME_PATTERNS[self.language], locale=self.language)
        separator = " " if self.language == "ko" else ", "
        return f"{self._day(local, now)}{separator}{clock}"

    def left(self, now: datetime, until: datetime) -> str:
        """Time left to a deadline: "9일 남음" / "9 days left", hours on the last day."""
        seconds = (until - now).total_seconds()
        if seconds >= 86400:
            days = math.floor(seconds / 86400)
            return self.ngettext("%(count)d day left", "%(count)d days left", days) % {
                "count": days
            }
        hours = max(1, math.ceil(seconds / 3600))
        return self.ngettext("%(count)d hour left", "%(count)d hours left", hours) % {
            "count": hours
        }

    def money(self, amount: int) -> str:
        """KRW as "₩4,000,000,000"; Korean readers get "40억 원" instead."""
        if self.language == "ko":
            return korean_won(amount)
        return format_currency(amount, "KRW", locale="en_US")


def korean_won(amount: int) -> str:
    """Amounts in 억 (10^8) and 만 (10^4) units, as the city writes budgets: "3억 5,000만 원"."""
    if amount == 0:
        return "0원"
    sign = "-" if amount < 0 else ""
    rest = abs(amount)
    parts = []
    for unit, name in ((10**12, "조"), (10**8, "억"), (10**4, "만")):
        count, rest = divmod(rest, unit)
        if count:
            parts.append(f"{count:,}{name}")
    if rest:
        parts.append(f"{rest:,}")
    return f"{sign}{' '.join(parts)} 원"
