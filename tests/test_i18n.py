"""Korean first, English complete (SPEC §11): catalogs, extraction and formatting."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import LANGUAGES, LOCALES_DIR, Translator, korean_won, pick_language

ROOT = Path(__file__).resolve().parent.parent
METHOD_MAP = [
    ("bot/**.py", "python"),
    ("domain/**.py", "python"),
    ("bot/web/templates/**.html", "jinja2"),
]
KEYWORDS = {"gettext": None, "ngettext": (1, 2), "N_": None}


def messages_in_code() -> set[str | tuple[str, ...]]:
    found: set[str | tuple[str, ...]] = set()
    for _, _, message, _, _ in extract_from_dir(
        str(ROOT), method_map=METHOD_MAP, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def catalogs(language: str) -> list[Catalog]:
    found = []
    for path in sorted((LOCALES_DIR / language / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as po:
            found.append(read_po(po, locale=language))
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_in_the_code_is_translated(language: str) -> None:
    entries = {
        (m.id if isinstance(m.id, str) else tuple(m.id)): m
        for each in catalogs(language)
        for m in each
        if m.id
    }
    code = messages_in_code()
    assert len(code) > 50
    missing = [m for m in code if m not in entries]
    assert not missing, f"not in the {language} catalog (run pybabel extract/update): {missing}"
    for message in code:
        entry = entries[message]
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        assert all(strings), f"untranslated in {language}: {message!r}"
        assert not entry.fuzzy, f"fuzzy in {language}: {message!r}"
    obsolete = [m for m in entries if m not in code]
    assert not obsolete, f"{language} catalog has entries no code uses: {obsolete}"


def test_plural_forms_and_compiled_catalogs() -> None:
    assert {c.plural_forms for c in catalogs("ko")} == {"nplurals=1; plural=0;"}
    assert {c.plural_forms for c in catalogs("en")} == {"nplurals=2; plural=(n != 1);"}
    ko, en = Translator("ko"), Translator("en")
    assert ko.ngettext("%(count)d day left", "%(count)d days left", 1) % {"count": 1} == "1일 남음"
    assert en.ngettext("%(count)d day left", "%(count)d days left", 1) % {"count": 1} == (
        "1 day left"
    )
    assert en.ngettext("%(count)d day left", "%(count)d days left", 3) % {"count": 3} == (
        "3 days left"
    )
    assert ko.gettext("Help") == "도움말"


# Calls whose text reaches a person; a bare literal there bypasses the catalogs.
USER_FACING = {
    "send", "send_message", "reply_text", "edit_message_text", "edit_or_send", "ask", "answer",
    "InlineKeyboardButton", "KeyboardButton", "BotCommand", "send_document", "send_photo",
}  # fmt: skip
TRANSLATING = {"gettext", "ngettext", "N_"}


def untranslated_literals(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = (
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        )
        if name not in USER_FACING:
            continue
        arguments = list(node.args) + [
            k.value for k in node.keywords if k.arg in ("text", "caption")
        ]
        for argument in arguments:
            # Literal words, bare or inside an f-string; "#12" or "(3)" carry no language.
            parts = argument.values if isinstance(argument, ast.JoinedStr) else [argument]
            if any(
                isinstance(part, ast.Constant)
                and isinstance(part.value, str)
                and any(ch.isalpha() for ch in part.value)
                for part in parts
            ):
                lines.append(argument.lineno)
    return lines


def test_no_user_visible_literal_bypasses_the_catalogs() -> None:
    offenders = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        if "localapi" in path.parts or "cli" in path.parts:
            continue  # the fake Telegram and the terminal UI are not the bot's voice
        for line in untranslated_literals(ast.parse(path.read_text(encoding="utf-8"))):
            offenders.append(f"{path.relative_to(ROOT)}:{line}")
    assert not offenders


def test_the_literal_check_catches_a_bare_string() -> None:
    tree = ast.parse('async def f():\n    await send(update, context, "Hello there")\n')
    assert untranslated_literals(tree) == [2]
    tree = ast.parse('async def f():\n    await send(update, context, f"Hello {name}")\n')
    assert untranslated_literals(tree) == [2]
    tree = ast.parse('async def f():\n    await send(update, context, f"#{number}")\n')
    assert untranslated_literals(tree) == []
    tree = ast.parse('async def f():\n    await send(update, context, t.gettext("Hello"))\n')
    assert untranslated_literals(tree) == []


def test_dates_in_seoul_time_the_way_koreans_write_them() -> None:
    moment = datetime(2027, 3, 6, 6, 5, tzinfo=UTC)
    assert Translator("ko").when(moment) == "2027년 3월 6일 (토) 오후 3:05"
    assert Translator("en").when(moment) == "Sat 6 Mar 2027, 3:05 PM"
    assert Translator("ko").day(datetime(2027, 2, 28, 15, tzinfo=UTC)) == "2027년 3월 1일 (월)"


def test_money_in_won() -> None:
    assert Translator("en").money(4_000_000_000) == "₩4,000,000,000"
    assert Translator("ko").money(4_000_000_000) == "40억 원"
    assert korean_won(350_000_000) == "3억 5,000만 원"
    assert korean_won(30_000_000_000) == "300억 원"
    assert korean_won(1_234_567) == "123만 4,567 원"
    assert korean_won(0) == "0원"


@pytest.mark.parametrize(
    ("code", "expected"), [("ko", "ko"), ("en-GB", "en"), ("EN", "en"), ("ja", "ko"), (None, "ko")]
)
def test_language_from_the_telegram_client(code: str | None, expected: str) -> None:
    assert pick_language(code) == expected
