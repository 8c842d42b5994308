"""The quota view (할당 대비 신청자) fits a phone: short strata first, the city's order, one
line for the 25 districts; the full table is a CSV file (flows: tests/panels/test_flows.py)."""

from __future__ import annotations

from bot.handlers.panel_admin import quota_lines
from bot.i18n import Translator
from bot.services.panels import Problems, QuotaView, rules_of, seats_and_quotas
from domain.panels import strata
from domain.programmes import default_programmes
from domain.sortition import Applicant

ASSEMBLY = next(p for p in default_programmes() if p.key == "citizens-assembly-2027")


def view_of(pool: list[Applicant]) -> QuotaView:
    rules = rules_of(ASSEMBLY)
    seats, quotas = seats_and_quotas(rules, pool)
    found = tuple(strata(quotas, pool, rules))
    return QuotaView(ASSEMBLY, seats, len(pool), found, Problems(), False)


def pool_without(missing_districts: set[str], young: int) -> list[Applicant]:
    """About 3,700 applicants, no one from some districts and few under 20."""
    rules = rules_of(ASSEMBLY)
    districts = [d for d in rules.options("district") if d not in missing_districts]
    ages = ["20s", "30s", "40s", "50s", "60plus"]
    pool = [
        Applicant(
            f"p{i}",
            {
                "gender": ("female", "male")[i % 2],
                "age_band": ages[i % 5],
                "district": districts[i % len(districts)],
            },
        )
        for i in range(3700)
    ]
    pool += [
        Applicant(f"y{i}", {"gender": "female", "age_band": "under20", "district": "mapo"})
        for i in range(young)
    ]
    return pool


def test_a_seoul_panel_fits_a_phone_screen() -> None:
    view = view_of(pool_without({"jongno", "jung", "gangdong", "songpa"}, young=3))
    lines = quota_lines(Translator("ko"), view)
    assert len(lines) <= 22, "\n".join(lines)
    text = "\n".join(lines)
    # Short strata first, in the city's order: under-20s, then 종로구, 중구 … 송파구, 강동구.
    short = [line for line in lines if line.startswith("• ")]
    assert [line.split(":")[0] for line in short] == [
        "• 20세 미만", "• 종로구", "• 중구", "• 송파구", "• 강동구",
    ]  # fmt: skip
    assert text.index("최소 인원에 못 미치는 집단 5개") < text.index("성별:")
    ages = [line.split()[0] for line in lines if line.startswith("  ")]
    assert ages == ["20세", "20대", "30대", "40대", "50대", "60세"]  # youngest first
    assert "자치구: 25개 집단 중 21개가 최소 인원을 채웠어요." in text
    assert "(0–1)" not in text and "Jongno" not in text


def test_in_english_too() -> None:
    view = view_of(pool_without({"jongno"}, young=300))
    text = "\n".join(quota_lines(Translator("en"), view))
    assert "• Jongno-gu: 0, minimum" in text
    assert "District: 24 of 25 meet their minimum." in text
