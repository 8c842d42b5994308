"""Charts draw Hangul on a bare server, in the viewer's language (SPEC §11, issue: charts an
official would put in a report)."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime

import pytest

from bot.charts import (
    ChartProject,
    chart_font,
    money_ticks,
    png,
    results_figure,
    short_title,
    waste_figure,
)
from bot.i18n import LANGUAGES, Translator

AT = datetime(2027, 8, 1, 6, 5, tzinfo=UTC)
PROJECTS = [
    ChartProject("P01", "어린이 놀이터 그늘막 설치 및 바닥 교체", 1234, 350_000_000),
    ChartProject("P02", "한강 자전거길 야간 조명", 987, 2_400_000_000),
    ChartProject("P03", "경로당 냉난방기 교체", 1500, 900_000_000),
    ChartProject("P04", "마을버스 정류장 온열의자", 0, 120_000_000),
]
TITLES = {"ko": "2027 시민참여예산 광역제안형\n서울 전체", "en": "2027 city-wide PB\nAll of Seoul"}


def glyph_warnings(draw: object) -> list[str]:
    """Every warning matplotlib gives while drawing, e.g. "Glyph 44032 (\\N{HANGUL SYLLABLE
    GA}) missing from font(s) DejaVu Sans"."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert callable(draw)
        png = draw()
    assert isinstance(png, bytes) and png.startswith(b"\x89PNG\r\n\x1a\n")
    return [str(w.message) for w in caught]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("interim", [True, False])
def test_the_results_chart_draws_every_glyph(language: str, interim: bool) -> None:
    t = Translator(language)
    title = TITLES[language]
    draw = lambda: png(results_figure(t, title, PROJECTS, ["P03"], 4 * 10**9, interim, AT))  # noqa: E731
    assert glyph_warnings(draw) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_waste_chart_draws_every_glyph(language: str) -> None:
    t = Translator(language)
    by_status = [(t.gettext("Received"), 3), (t.gettext("Under investigation"), 1)]
    by_district = [("강남구" if language == "ko" else "Gangnam-gu", 2)]
    assert glyph_warnings(lambda: png(waste_figure(t, by_status, by_district))) == []


def test_the_glyph_check_catches_a_font_without_hangul() -> None:
    """Without the packaged font, matplotlib's own font has no Hangul and says so."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def draw() -> bytes:
        with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
            figure = Figure()
            FigureCanvasAgg(figure)
            figure.suptitle("예산낭비신고")
            return png(figure)

    assert any("missing from font" in message for message in glyph_warnings(draw))


def test_the_font_comes_from_the_package() -> None:
    from matplotlib import font_manager
    from pylopdf_fonts_ko import sans_path

    assert chart_font() == "Noto Sans KR"
    found = font_manager.findfont(font_manager.FontProperties(family="Noto Sans KR"))
    assert found == str(sans_path())


def texts(figure: object) -> list[str]:
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    assert isinstance(figure, Figure)
    return [artist.get_text() for artist in figure.findobj(Text) if artist.get_text()]


def test_the_results_chart_speaks_the_viewers_language() -> None:
    ko = texts(results_figure(Translator("ko"), TITLES["ko"], PROJECTS, ["P03"], 10**9, True, AT))
    assert "2027 시민참여예산 광역제안형\n서울 전체" in ko
    assert "중간 집계 · 2027년 8월 1일 (일) 오후 3:05 기준" in ko
    assert {"득표수", "사업비", "선정", "미선정", "예산: 10억 원"} <= set(ko)
    assert "어린이 놀이터 그늘막 설…" in ko and "경로당 냉난방기 교체" in ko
    assert not {"P01", "P02", "votes", "won", "1e9"} & set(ko)
    en = texts(results_figure(Translator("en"), TITLES["en"], PROJECTS, ["P03"], 10**9, False, AT))
    assert "Final result · as of Sun 1 Aug 2027, 3:05 PM" in en
    assert {"Votes", "Cost", "Selected", "Not selected", "Budget: ₩1,000,000,000"} <= set(en)


def test_money_on_the_axis_in_eok_or_won() -> None:
    ko, en = Translator("ko"), Translator("en")
    assert [money_ticks(ko, v) for v in (0, 1_500_000_000, 250_000_000)] == ["0", "15억", "2.5억"]
    assert [money_ticks(en, v) for v in (0, 1_500_000_000, 250_000_000)] == [
        "0", "₩1,500M", "₩250M",
    ]  # fmt: skip


def test_the_legend_covers_no_data() -> None:
    figure = results_figure(Translator("ko"), TITLES["ko"], PROJECTS, ["P03"], 10**9, True, AT)
    assert figure.canvas is not None
    figure.canvas.draw()  # type: ignore[attr-defined]
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    (legend,) = figure.legends
    box = legend.get_window_extent(renderer)
    for axes in figure.axes:
        assert not box.overlaps(axes.get_window_extent(renderer))


def test_short_titles() -> None:
    assert short_title("경로당 냉난방기 교체") == "경로당 냉난방기 교체"
    assert short_title("어린이 놀이터 그늘막 설치 및 바닥 교체") == "어린이 놀이터 그늘막 설…"
    assert len(short_title("x" * 40)) == 14
