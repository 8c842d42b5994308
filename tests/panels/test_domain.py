"""The panels' rules as plain Python (SPEC §5)."""

from __future__ import annotations

import pytest

from domain.panels import (
    AGE_BANDS,
    SEOUL_SHARES,
    ApplicationStatus,
    PanelRules,
    PanelSettingsError,
    age_band,
    check_seed,
    may_change,
    quotas_for,
    replacement_quotas,
    seats_and_quotas,
    strata,
)
from domain.people import DISTRICTS
from domain.programmes import ProgrammeKind, default_programmes
from domain.sortition import Applicant, Quota


@pytest.mark.parametrize(
    ("birth_year", "band"),
    [(2013, "under20"), (2008, "under20"), (2007, "20s"), (1998, "20s"), (1997, "30s"),
     (1978, "40s"), (1968, "50s"), (1967, "60plus"), (1930, "60plus")],
)  # fmt: skip
def test_age_bands_by_year_of_birth(birth_year: int, band: str) -> None:
    assert age_band(birth_year, 2027) == band


def test_the_shipped_shares_cover_every_option() -> None:
    assert set(SEOUL_SHARES["age_band"]) == {band.code for band in AGE_BANDS}
    assert set(SEOUL_SHARES["district"]) == {district.code for district in DISTRICTS}
    assert sum(SEOUL_SHARES["age_band"].values()) == pytest.approx(1)


def test_the_shipped_panels_have_usable_rules() -> None:
    panels = {p.key: p for p in default_programmes() if p.kind is ProgrammeKind.PANEL}
    assert set(panels) == {
        "citizens-assembly-2027", "pb-committee-2027", "online-budget-forum-2027",
        "agenda-group-2027",
    }  # fmt: skip
    rules = {key: PanelRules.from_settings(p.settings) for key, p in panels.items()}
    assert rules["citizens-assembly-2027"].seats == 1000
    assert rules["pb-committee-2027"].requires_budget_school
    assert rules["pb-committee-2027"].seats_up_to and rules["pb-committee-2027"].seats == 500
    assert rules["agenda-group-2027"].seats == 20
    assert rules["agenda-group-2027"].quota_features == ("gender", "age_band")
    for found in rules.values():
        quotas = quotas_for(found, found.seats)
        for feature in found.quota_features:
            own = [q for q in quotas if q.feature == feature]
            assert sum(q.min for q in own) <= found.seats <= sum(q.max for q in own)


def test_quotas_are_proportional_with_tolerance_and_overrides() -> None:
    rules = PanelRules.from_settings(
        {
            "seats": 100,
            "features": ["gender"],
            "quota_tolerance": 0.1,
            "quotas": [{"feature": "gender", "value": "male", "min": 40, "max": 45}],
        }
    )
    assert quotas_for(rules, 100) == [
        Quota("gender", "female", 46, 57),  # 51.5 seats ± 10 %
        Quota("gender", "male", 40, 45),
    ]


def test_settings_are_checked() -> None:
    with pytest.raises(PanelSettingsError, match="seats"):
        PanelRules.from_settings({})
    with pytest.raises(PanelSettingsError, match="unknown features"):
        PanelRules.from_settings({"seats": 5, "features": ["income"]})
    extra = {
        "key": "housing",
        "name": {"ko": "주거", "en": "Housing"},
        "options": [{"code": "own", "ko": "자가", "en": "Own"}, {"code": "rent", "ko": "임차",
                                                                  "en": "Rent"}],
        "shares": {"own": 1},
    }  # fmt: skip
    with pytest.raises(PanelSettingsError, match="share for every option"):
        PanelRules.from_settings({"seats": 5, "extra_features": [extra]})
    with pytest.raises(PanelSettingsError, match="not an option"):
        PanelRules.from_settings(
            {"seats": 5, "quotas": [{"feature": "gender", "value": "x", "min": 0, "max": 1}]}
        )


def test_an_up_to_panel_with_fewer_applicants_takes_everyone() -> None:
    rules = PanelRules.from_settings({"seats": 10, "seats_up_to": True, "features": ["gender"]})
    pool = [Applicant("a", {"gender": "female"}), Applicant("b", {"gender": "female"})]
    assert seats_and_quotas(rules, pool) == (2, [Quota("gender", "female", 2, 2)])
    fixed = PanelRules.from_settings({"seats": 10, "features": ["gender"]})
    assert seats_and_quotas(fixed, pool)[0] == 10


def test_strata_count_applicants_against_quotas() -> None:
    pool = [Applicant("a", {"gender": "female"}), Applicant("b", {"gender": "female"})]
    found = strata([Quota("gender", "male", 1, 2), Quota("gender", "female", 1, 2)], pool)
    assert [(s.quota.value, s.applicants, s.short) for s in found] == [
        ("female", 2, 0), ("male", 0, 1),
    ]  # fmt: skip


def test_replacements_are_held_only_to_minimums_the_panel_still_met() -> None:
    pool = [Applicant(n, {"gender": g}) for n, g in (("f1", "female"), ("m1", "male"),
                                                     ("m2", "male"))]  # fmt: skip
    quotas = [Quota("gender", "female", 2, 2), Quota("gender", "male", 2, 2)]
    # m2 gives up a seat in a panel already one woman short: men still need 2, women 1.
    assert replacement_quotas(quotas, pool, ["f1", "m1", "m2"]) == [
        Quota("gender", "female", 1, 2), Quota("gender", "male", 2, 2),
    ]  # fmt: skip


def test_application_statuses() -> None:
    assert may_change(ApplicationStatus.APPLIED, ApplicationStatus.INVITED)
    assert may_change(ApplicationStatus.RESERVE, ApplicationStatus.INVITED)
    assert may_change(ApplicationStatus.INVITED, ApplicationStatus.DECLINED)
    assert not may_change(ApplicationStatus.DECLINED, ApplicationStatus.ACCEPTED)
    assert not may_change(ApplicationStatus.ACCEPTED, ApplicationStatus.INVITED)


def test_seeds_are_one_line_of_printable_text() -> None:
    assert check_seed("로또 1161회: 2 8 9 15 29 36 + 14")
    assert not check_seed("")
    assert not check_seed("two\nlines")
    assert not check_seed("x" * 201)


def test_strata_in_the_citys_order() -> None:
    """Districts as the city lists them (종로구, 중구, 용산구 …), age bands youngest first."""
    rules = PanelRules.from_settings({"seats": 10, "features": ["gender", "age_band", "district"]})
    quotas = [
        Quota("district", "gangnam", 0, 1), Quota("age_band", "60plus", 1, 2),
        Quota("district", "jongno", 0, 1), Quota("age_band", "under20", 1, 2),
        Quota("gender", "male", 1, 5), Quota("district", "jung", 0, 1),
        Quota("age_band", "20s", 1, 2), Quota("gender", "female", 1, 5),
    ]  # fmt: skip
    found = [(s.quota.feature, s.quota.value) for s in strata(quotas, [], rules)]
    assert found == [
        ("gender", "female"), ("gender", "male"),
        ("age_band", "under20"), ("age_band", "20s"), ("age_band", "60plus"),
        ("district", "jongno"), ("district", "jung"), ("district", "gangnam"),
    ]  # fmt: skip
