"""The city's Korean (SPEC §11, docs/glossary.md), checked on every message of every catalog:
particles after placeholders follow the sound of the value, no stray English words, and
deadlines at midnight read as 24:00 of the day before."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.i18n import CLOSERS, LOCALES_DIR, PLACEHOLDER, Translator

# -- the catalogs ----------------------------------------------------------------------------


def korean_messages() -> Iterator[tuple[str, str | tuple[str, str], str]]:
    """(catalog file, msgid, Korean msgstr) for every message of every Korean catalog."""
    for path in sorted((LOCALES_DIR / "ko" / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as po:
            catalog = read_po(po, locale="ko")
        for message in catalog:
            if not message.id:
                continue
            ident = message.id if isinstance(message.id, str) else tuple(message.id[:2])
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            for string in strings:
                yield path.name, ident, string  # type: ignore[misc]


MESSAGES = list(korean_messages())

# -- particles -------------------------------------------------------------------------------
# The notation (bot/i18n.py resolves it) and, per value class, the form each token takes.
TOKENS = {
    "(이)가": ("가", "이", "이"), "이(가)": ("가", "이", "이"),
    "(을)를": ("를", "을", "을"), "을(를)": ("를", "을", "을"),
    "(은)는": ("는", "은", "은"), "은(는)": ("는", "은", "은"),
    "(와)과": ("와", "과", "과"), "과(와)": ("와", "과", "과"), "와(과)": ("와", "과", "과"),
    "(으)로서": ("로서", "로서", "으로서"), "(으)로써": ("로써", "로써", "으로써"),
    "(으)로": ("로", "로", "으로"),
    "(이)에요": ("예요", "이에요", "이에요"), "(이)라는": ("라는", "이라는", "이라는"),
    "(이)라고": ("라고", "이라고", "이라고"), "(이)나": ("나", "이나", "이나"),
}  # fmt: skip
VOWEL, RIEUL, CONSONANT = 0, 1, 2
# Values as the bot fills them, each with the class of its last sound read aloud (an
# independent oracle: 1 일, 2 이, 3 삼, 10 십; W-2027-000001 … 일).
NUMBERS = ((1, RIEUL), (2, VOWEL), (3, CONSONANT), (10, CONSONANT), (12, VOWEL))
TEXTS = (
    ("W-2027-000001", RIEUL), ("W-2027-000002", VOWEL), ("W-2027-000003", CONSONANT),
    ("강남구", VOWEL), ("중랑천", CONSONANT), ("서울", RIEUL), ("2027 서울시민회의", VOWEL),
    ("예산학교 3기", VOWEL), ("1,000", CONSONANT), ("로또 1161회 2 8 9 15 29 35", VOWEL),
)  # fmt: skip
# A particle written bare right after a placeholder: its form cannot follow the value.
BARE_FORMS = (
    "이", "가", "을", "를", "은", "는", "와", "과", "로", "으로", "랑", "이랑", "나", "이나",
    "야", "이야", "라", "이라", "예요", "이에요", "였", "이었", "며", "이며", "라는", "이라는",
)  # fmt: skip
BARE = re.compile(
    f"({PLACEHOLDER}){CLOSERS}(?!"
    + "|".join(re.escape(token) for token in TOKENS)
    + r")(\([가-힣]+\)[가-힣]*|"
    + "|".join(sorted(BARE_FORMS, key=len, reverse=True))
    + ")"
)
SLOT = re.compile(
    f"({PLACEHOLDER})({CLOSERS})("
    + "|".join(re.escape(token) for token in sorted(TOKENS, key=len, reverse=True))
    + ")"
)
PLACEHOLDERS = re.compile(r"%\((\w+)\)[#0\- +]*\d*(?:\.\d+)?([sdifr])")


def bare_particles(text: str) -> list[str]:
    return [match.group(0) for match in BARE.finditer(text)]


def test_the_bare_particle_check_can_fail() -> None:
    assert bare_particles("제안 #%(id)d가 게시되었어요") == ["%(id)d가"]
    assert bare_particles("“%(name)s”이라는 자치구") == ["%(name)s”이라는"]
    assert bare_particles("%(title)s를 골랐어요") == ["%(title)s를"]
    assert bare_particles("%(district)s으로 이관") == ["%(district)s으로"]
    assert bare_particles("%(x)s(이)여서") == ["%(x)s(이)여서"]  # a notation no helper knows
    assert bare_particles("제안 #%(id)d(이)가 · %(count)d명 · %(end)s까지 · %(day)s에") == []


def test_no_catalog_message_has_a_bare_particle_after_a_placeholder() -> None:
    offenders = [f"{name}: {string!r}" for name, _, string in MESSAGES if bare_particles(string)]
    assert not offenders, "write the particle as (이)가, (을)를 … (docs/glossary.md)"


WITH_PARTICLES = [(name, ident, string) for name, ident, string in MESSAGES if SLOT.search(string)]


def test_there_are_messages_with_particles_to_check() -> None:
    assert len(WITH_PARTICLES) >= 8


@pytest.mark.parametrize(
    ("catalog", "ident", "string"),
    WITH_PARTICLES,
    ids=[f"{name}:{str(ident)[:40]}" for name, ident, _ in WITH_PARTICLES],
)
def test_particles_follow_the_sound_of_every_value(
    catalog: str, ident: str | tuple[str, str], string: str
) -> None:
    """Each message reached through the translator, filled with numbers, ids and names ending
    in a vowel, in ㄹ and in another consonant: each particle takes the form that sound asks."""
    t = Translator("ko")
    kinds = dict(PLACEHOLDERS.findall(string))
    for value, sound in (*NUMBERS, *TEXTS):
        if isinstance(value, str) and any(kinds[key] in "dif" for key in kinds):
            continue  # a text cannot fill a number
        filled = {key: value if kind in "dif" else str(value) for key, kind in kinds.items()}
        message = t.gettext(ident) if isinstance(ident, str) else t.ngettext(*ident, 2)
        assert message == string
        text = message % filled
        for match in SLOT.finditer(string):
            closer, token = match.group(2), match.group(3)
            expected = f"{value}{closer}{TOKENS[token][sound]}"
            assert expected in text, f"{text!r} lacks {expected!r}"
        assert "(이)" not in text and "(을)" not in text and "(으)" not in text


# -- English words in Korean messages --------------------------------------------------------
# Allowed: the name of a method the city's documents use, standard names, an environment
# variable an official sets, and example codes people type as they are.
ALLOWED_ASCII = {"MES", "SHA-256", "CSV", "ADMIN_IDS", "ABCD2345", "CODE", "PDF"}
ALLOWED_ASCII |= {"TOML", "YAML", "UTF-8"}  # the file formats an official sends (issue 15)
NOT_WORDS = re.compile(
    PLACEHOLDER + r"|%%|<[^>]+>|https?://\S+|t\.me/\S+|`[^`]*`|(?<![\w/])/[a-z_]+|W-\d{4}-\d+"
)
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")


def english_words(text: str) -> list[str]:
    return [word for word in WORD.findall(NOT_WORDS.sub(" ", text)) if word not in ALLOWED_ASCII]


def test_the_english_word_check_can_fail() -> None:
    assert english_words("선정 방식: greedy") == ["greedy"]
    assert english_words("텔레그램 사용자 ID를 입력해 주세요") == ["ID"]
    assert english_words("/start로 가입 · %(name)s · <b>굵게</b> · https://example.org/a") == []
    assert english_words("균등 배분 방식(MES) · SHA-256 · W-2027-000123") == []


def test_korean_messages_have_no_english_words() -> None:
    offenders = [
        f"{name}: {english_words(string)} in {string!r}"
        for name, _, string in MESSAGES
        if english_words(string)
    ]
    assert not offenders, "translate them (docs/glossary.md) or add a real exception"


# -- deadlines -------------------------------------------------------------------------------
MIDNIGHT_15_DEC = datetime(2026, 12, 14, 15, tzinfo=UTC)  # 00:00 on Tue 15 Dec in Seoul
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_midnight_deadline_is_24_00_of_the_day_before() -> None:
    assert Translator("ko").deadline(MIDNIGHT_15_DEC, NOW) == "12월 14일(월) 24:00"
    assert Translator("en").deadline(MIDNIGHT_15_DEC, NOW) == "the end of Mon 14 Dec"
    assert Translator("ko").deadline(MIDNIGHT_15_DEC) == "2026년 12월 14일(월) 24:00"
    assert Translator("en").deadline(MIDNIGHT_15_DEC) == "the end of Mon 14 Dec 2026"


def test_other_deadlines_and_starts() -> None:
    six_pm = datetime(2026, 12, 14, 9, tzinfo=UTC)
    assert Translator("ko").deadline(six_pm, NOW) == "12월 14일(월) 18:00"
    assert Translator("en").deadline(six_pm, NOW) == "Mon 14 Dec, 6:00 PM"
    assert Translator("ko").opening(MIDNIGHT_15_DEC, NOW) == "12월 15일(화)"
    assert Translator("en").opening(MIDNIGHT_15_DEC, NOW) == "Tue 15 Dec"
    nine = datetime(2027, 2, 1, 0, tzinfo=UTC)
    assert Translator("ko").opening(nine, NOW) == "2027년 2월 1일(월) 09:00"
    # The year shown is the day's: 00:00 on 1 Jan is the end of 31 Dec, in the same year.
    new_year = datetime(2026, 12, 31, 15, tzinfo=UTC)
    assert Translator("ko").deadline(new_year, NOW) == "12월 31일(목) 24:00"


def test_no_catalog_writes_midnight_as_12_am() -> None:
    texts = [string for _, _, string in MESSAGES]
    assert not [text for text in texts if "오전 12:00" in text or "오전 12시" in text]


ROOT = Path(__file__).resolve().parent.parent


def test_deadlines_go_through_the_one_formatter() -> None:
    """Stage ends, answer deadlines and invitations are formatted by Translator.deadline:
    none is passed through `when` or `day`, which would print midnight as the next day."""
    pattern = re.compile(
        r"t\.(?:when|day)\([^)]*(?:ends_at|due_at|respond_by|deadline|debate_ends_at)"
    )
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "bot").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders


# -- words the glossary settles (QA finding 12) ----------------------------------------------
# Not one's name for the person, one word for the year of birth, a stage is a programme's
# (a conversation's step is 작업, a proposal's 상태), amounts with thousands separators.
AVOIDED = ("회원님", "출생 연도", "진행 중인 단계")
LONG_NUMBER = re.compile(r"(?<![\d,])\d{5,}(?![\d,])")
IDENTIFIER_EXAMPLES = ("123456789",)  # a Telegram user id, not an amount


def test_korean_messages_use_the_glossarys_words() -> None:
    found = [(name, ident, word) for name, ident, string in MESSAGES for word in AVOIDED
             if word in string]  # fmt: skip
    assert not found


def test_amounts_in_korean_messages_have_thousands_separators() -> None:
    found = [
        (name, number)
        for name, _, string in MESSAGES
        for number in LONG_NUMBER.findall(string)
        if number not in IDENTIFIER_EXAMPLES and not re.fullmatch(r"(19|20)\d\d", number)
    ]
    assert not found


def test_english_deadlines_read_after_until_or_by() -> None:
    """Translator.deadline gives "the end of Mon 9 Aug": not "closes the end of …"."""
    english: list[str] = []
    for path in sorted((LOCALES_DIR / "en" / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as po:
            english += [str(m.string) for m in read_po(po, locale="en") if m.id]
    wrong = [s for s in english if re.search(r"(closes|closing|ends|close) %\(end\)s", s)]
    assert not wrong
