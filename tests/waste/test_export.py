"""`civicbot export reports`, "my page" and the chart: what leaves the bot (SPEC §7, §10)."""

from __future__ import annotations

import asyncio
import csv
import io
import warnings
from pathlib import Path

import pytest

from bot.cli import main
from bot.handlers.waste import my_reports_section, render_chart
from bot.i18n import Translator
from bot.services import waste as service
from storage.db import Database, open_database
from tests.proposals.conftest import seed_programmes, sign_up
from tests.waste.conftest import OTHER, REPORTER, submit


def test_the_csv_names_only_reporters_who_agreed(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)

    async def prepare() -> None:
        db = open_database(database_url)
        await db.connect()
        await db.migrate()
        await seed_programmes(db)
        await sign_up(db, REPORTER)
        await submit(db, named_publicly=True, contact_consent=False)
        # Agreed to be contacted, not named: the officer may see the name, the public not.
        await submit(
            db,
            named_publicly=False,
            contact_consent=True,
            description='쉼표, "따옴표"가 든 신고 내용',
        )
        await db.close()

    asyncio.run(prepare())
    assert main(["export", "reports"]) == 0
    out = capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["receipt"], r["reporter_name"]) for r in rows] == [
        ("W-2027-000001", "김시민"),
        ("W-2027-000002", ""),
    ]
    assert rows[1]["description"] == '쉼표, "따옴표"가 든 신고 내용'
    assert (rows[0]["status"], rows[0]["amount"], rows[0]["files"]) == (
        "received",
        "120000000",
        "1",
    )
    assert "kimcitizen" not in out and "reporter_id" not in rows[0]
    target = tmp_path / "reports.csv"
    assert main(["export", "reports", "--output", str(target)]) == 0
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")  # a BOM, so Excel reads Korean right


async def test_my_page_section_lists_only_my_reports(ready: Database) -> None:
    mine = await submit(ready)
    await submit(ready, OTHER)
    async with ready.reading() as session:
        text, buttons = await my_reports_section(session, REPORTER, Translator("ko"))
        empty, none = await my_reports_section(session, 404, Translator("en"))
    assert text.splitlines() == [
        "<b>나의 예산낭비신고</b>",
        "W-2027-000001 — 접수 · 2027년 3월 10일 (수)",
    ]
    assert [(b.text, b.callback_data) for b in buttons] == [(mine.receipt, f"wr:v:{mine.id}")]
    assert (empty, none) == ("<b>My budget-waste reports</b>\nNone yet.", [])


async def test_the_chart_never_draws_hangul_without_a_font_for_it(ready: Database) -> None:
    await submit(ready)
    stats = await service.public_statistics(ready)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns about each glyph it can't draw
        png = render_chart(stats, "ko")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
