"""Panel draw (추첨): quotas, optimality against sortition-algorithms, reproducibility."""

from __future__ import annotations

import csv
import hashlib
import io
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sortition_algorithms import CSVStringDataSource, SelectionData, Settings
from sortition_algorithms.committee_generation import find_distribution_maximin

import domain.sortition.draw as draw_module
from domain.sortition import (
    ALGORITHM_VERSION,
    Applicant,
    DataFileError,
    Distribution,
    DistributionCheckError,
    Fairness,
    InfeasibleQuotasError,
    InputError,
    Quota,
    TypeSpace,
    blocking_quotas,
    check_distribution,
    commitment,
    draw_panel,
    explain_infeasibility,
    fairness,
    gini,
    lp_upper_bound,
    next_replacement,
    optimal_distribution,
    proportional_quotas,
    read_pool,
    read_quotas,
    sample_panel,
    seeded_random,
)
from domain.sortition.optimise import solve

AGES = ("18-29", "30-39", "40-49", "50-59", "60-69", "70+")
DISTRICTS = ("Gangnam", "Gwanak", "Jongno", "Mapo", "Nowon", "Songpa")


def seoul_like(size: int, seats: int, seed: int) -> tuple[list[Applicant], list[Quota]]:
    """Volunteers skewed young and uneven by district; quotas proportional to the city."""
    rng = random.Random(seed)
    age_pull = dict(zip(AGES, (1.6, 1.3, 1.1, 0.9, 0.7, 0.5), strict=True))
    district_pull = {d: rng.uniform(0.5, 1.5) for d in DISTRICTS}
    kinds = [(g, a, d) for g in "FM" for a in AGES for d in DISTRICTS]
    weights = [age_pull[a] * district_pull[d] for _, a, d in kinds]
    pool = [
        Applicant(f"a{i:04d}", {"gender": g, "age": a, "district": d})
        for i, (g, a, d) in enumerate(rng.choices(kinds, weights, k=size))
    ]
    shares: dict[str, dict[str, float]] = {
        "gender": {"F": 51.5, "M": 48.5},
        "age": dict(zip(AGES, (18, 18, 17, 17, 15, 15), strict=True)),
        "district": dict(zip(DISTRICTS, (536, 487, 141, 372, 500, 656), strict=True)),
    }
    return pool, proportional_quotas(shares, seats, 0.2)


def parity_instance() -> tuple[list[Applicant], list[Quota]]:
    """Two seats, one of each value of three yes/no features: every panel is a complementary
    pair, so it holds exactly one odd-parity type. Fractional seats could favour the crowded
    odd types (LP bound 1/8); whole panels give them 1/12 at best."""
    pool = [
        Applicant(f"e{t}", dict(zip("abc", t, strict=True))) for t in ("000", "011", "101", "110")
    ]
    pool += [
        Applicant(f"o{t}{i}", dict(zip("abc", t, strict=True)))
        for t in ("001", "010", "100", "111")
        for i in range(3)
    ]
    return pool, [Quota(f, v, 1, 1) for f in "abc" for v in "01"]


def meets(selected: Sequence[str], pool: Sequence[Applicant], quotas: Sequence[Quota]) -> bool:
    by_id = {a.id: a for a in pool}
    held = Counter(
        (q.feature, q.value)
        for pid in selected
        for q in quotas
        if by_id[pid].features[q.feature] == q.value
    )
    return all(q.min <= held[q.feature, q.value] <= q.max for q in quotas)


def reference_maximin(
    pool: Sequence[Applicant], quotas: Sequence[Quota], seats: int
) -> dict[str, float]:
    """Per-person probabilities of sortition-algorithms' maximin distribution."""
    features = sorted({q.feature for q in quotas})
    quota_csv, pool_csv = io.StringIO(), io.StringIO()
    csv.writer(quota_csv).writerows(
        [["feature", "value", "min", "max"], *([q.feature, q.value, q.min, q.max] for q in quotas)]
    )
    csv.writer(pool_csv).writerows(
        [["id", *features], *([a.id, *(a.features[f] for f in features)] for a in pool)]
    )
    data = SelectionData(CSVStringDataSource(quota_csv.getvalue(), pool_csv.getvalue()))
    feature_collection, _ = data.load_features(seats)
    people, _ = data.load_people(Settings(id_column="id", columns_to_keep=[]), feature_collection)
    committees, probabilities, _ = find_distribution_maximin(feature_collection, people, seats, [])
    chance = dict.fromkeys((a.id for a in pool), 0.0)
    for committee, probability in zip(committees, probabilities, strict=True):
        for pid in committee:
            chance[pid] += probability
    return chance


@st.composite
def feasible_instances(draw: st.DrawFn) -> tuple[list[Applicant], list[Quota], int]:
    """Random pools with quotas built around a hidden panel, so at least that panel fits."""
    features = {
        f"f{i}": [f"v{j}" for j in range(draw(st.integers(2, 3)))]
        for i in range(draw(st.integers(1, 3)))
    }
    size = draw(st.integers(4, 24))
    pool = [
        Applicant(f"p{i}", {f: draw(st.sampled_from(values)) for f, values in features.items()})
        for i in range(size)
    ]
    seats = draw(st.integers(1, size))
    witness = draw(st.permutations(pool))[:seats]
    quotas = []
    for feature, values in features.items():
        for value in values:
            held = sum(a.features[feature] == value for a in witness)
            quotas.append(
                Quota(
                    feature,
                    value,
                    held - draw(st.integers(0, held)),
                    held + draw(st.integers(0, 2)),
                )
            )
    return pool, quotas, seats


# ------------------------------------------------------------------ quotas and probabilities


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feasible_instances(), st.text(max_size=8))
def test_every_quota_is_met_on_random_feasible_instances(
    instance: tuple[list[Applicant], list[Quota], int], seed: str
) -> None:
    pool, quotas, seats = instance
    result = draw_panel(pool, quotas, seats, seed)
    assert len(set(result.selected)) == seats
    assert meets(result.selected, pool, quotas)
    assert sorted(result.selected + result.reserve) == sorted(a.id for a in pool)
    # probabilities add up to the seats: each seat is someone's
    assert sum(result.probabilities.values()) == pytest.approx(seats)
    assert result.distribution.min_probability <= result.distribution.lp_bound + 1e-9


def test_probabilities_are_exactly_those_of_the_distribution() -> None:
    pool, quotas = seoul_like(120, 12, seed=3)
    result = draw_panel(pool, quotas, 12, "42")
    distribution = result.distribution
    total = sum(distribution.weights)
    for t, members in enumerate(distribution.space.members):
        seats = sum(
            w * c[t] for c, w in zip(distribution.compositions, distribution.weights, strict=True)
        )
        exact = Fraction(seats, total * len(members))
        for pid in members:
            assert result.probabilities[pid] == pytest.approx(float(exact), abs=1e-15)


def test_empirical_frequencies_match_the_probabilities() -> None:
    pool, quotas = parity_instance()
    distribution = optimal_distribution(pool, quotas, 2)
    draws = 6000
    hits: Counter[str] = Counter()
    for i in range(draws):
        selected, _ = sample_panel(distribution, seeded_random("c", str(i)))
        assert meets(selected, pool, quotas)
        hits.update(selected)
    for pid, probability in distribution.probabilities().items():
        standard_error = (probability * (1 - probability) / draws) ** 0.5
        assert abs(hits[pid] / draws - probability) < 4.5 * standard_error, pid


def test_leximin_beats_the_lp_bound_only_where_whole_panels_allow() -> None:
    pool, quotas = parity_instance()
    distribution = optimal_distribution(pool, quotas, 2)
    chance = distribution.probabilities()
    assert lp_upper_bound(pool, quotas, 2) == pytest.approx(1 / 8)
    assert distribution.method == "column-generation"
    assert distribution.min_probability == pytest.approx(1 / 12)
    # leximin: once the odd types have their 1/12, the even ones get all that is left
    assert {pid: round(p, 9) for pid, p in chance.items()} == {
        a.id: round(1 / 4 if a.id.startswith("e") else 1 / 12, 9) for a in pool
    }


def test_a_seoul_like_pool_reaches_the_lp_bound_exactly() -> None:
    pool, quotas = seoul_like(600, 60, seed=7)
    result = draw_panel(pool, quotas, 60, "2027-03-06 lotto 6/45: 3 11 19 24 35 41")
    distribution = result.distribution
    assert distribution.method == "lp-decomposition"
    assert distribution.min_probability == pytest.approx(distribution.lp_bound, abs=1e-6)
    assert result.min_ratio == pytest.approx(distribution.lp_bound * 600 / 60, abs=1e-5)
    assert meets(result.selected, pool, quotas)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_smallest_probability_is_at_least_sortition_algorithms_maximin(seed: int) -> None:
    pool, quotas = seoul_like(50, 8, seed=seed)
    theirs = min(reference_maximin(pool, quotas, 8).values())
    ours = optimal_distribution(pool, quotas, 8)
    assert ours.min_probability >= 0.9 * theirs
    assert ours.min_probability >= theirs - 1e-6
    assert ours.min_probability <= lp_upper_bound(pool, quotas, 8) + 1e-9


def test_reference_agrees_on_the_parity_instance() -> None:
    pool, quotas = parity_instance()
    theirs = min(reference_maximin(pool, quotas, 2).values())
    assert optimal_distribution(pool, quotas, 2).min_probability == pytest.approx(theirs, abs=1e-6)


def test_a_type_no_panel_can_seat_gets_zero_chance_without_tripping_the_check() -> None:
    pool = [Applicant(f"y{i}", {"age": "young"}) for i in range(4)] + [
        Applicant("o1", {"age": "old"})
    ]
    quotas = [Quota("age", "young", 2, 2), Quota("age", "old", 0, 0)]
    result = draw_panel(pool, quotas, 2, "s")
    assert result.probabilities["o1"] == 0
    assert result.probabilities["y0"] == pytest.approx(0.5)
    assert result.distribution.coverable == (False, True)


# --------------------------------------------------------------------------- the sanity check


def test_check_refuses_zero_chance_for_someone_who_could_be_seated() -> None:
    pool, quotas = parity_instance()
    distribution = optimal_distribution(pool, quotas, 2)
    check_distribution(distribution)
    # keep a single composition: three odd types lose every chance
    lopsided = replace(distribution, compositions=distribution.compositions[:1], weights=(1,))
    with pytest.raises(DistributionCheckError, match="zero chance"):
        check_distribution(lopsided)


def test_check_refuses_a_distribution_below_the_computed_optimum() -> None:
    pool, quotas = parity_instance()
    distribution = optimal_distribution(pool, quotas, 2)
    skewed = replace(distribution, weights=(4, 3, 3, 3))
    with pytest.raises(DistributionCheckError, match="below the optimum"):
        check_distribution(skewed)


def test_check_refuses_a_composition_that_breaks_a_quota() -> None:
    pool, quotas = parity_instance()
    distribution = optimal_distribution(pool, quotas, 2)
    broken = (2, 0, 0, 0, 0, 0, 0, 0)  # two seats of type 000: a=0 twice
    bad = replace(distribution, compositions=(broken, *distribution.compositions[1:]))
    with pytest.raises(DistributionCheckError, match="breaks the quotas"):
        check_distribution(bad)


def test_draw_refuses_a_distribution_failing_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    pool, quotas = parity_instance()

    def lopsided(space: TypeSpace) -> Distribution:
        distribution = solve(space)
        return replace(distribution, compositions=distribution.compositions[:1], weights=(1,))

    monkeypatch.setattr(draw_module, "solve", lopsided)
    with pytest.raises(DistributionCheckError):
        draw_panel(pool, quotas, 2, "seed")


# --------------------------------------------------------------------------- infeasibility


def small_pool() -> list[Applicant]:
    """Women are all young here, so a quota on women also takes young seats."""
    rows = [("F", "young")] * 4 + [("M", "young")] * 2 + [("M", "old")] * 4
    return [Applicant(f"p{i}", {"gender": g, "age": a}) for i, (g, a) in enumerate(rows)]


def test_sum_of_minimums_above_the_seats_is_explained() -> None:
    quotas = [
        Quota("gender", "F", 3, 5),
        Quota("gender", "M", 3, 5),
        Quota("age", "young", 0, 5),
        Quota("age", "old", 0, 5),
    ]
    info = explain_infeasibility(small_pool(), quotas, 5)
    assert info is not None
    assert "gender: the minimums add up to 6, 1 more than the 5 seats" in info.messages


def test_sum_of_maximums_below_the_seats_is_explained() -> None:
    quotas = [
        Quota("gender", "F", 0, 1),
        Quota("gender", "M", 0, 2),
        Quota("age", "young", 0, 5),
        Quota("age", "old", 0, 5),
    ]
    info = explain_infeasibility(small_pool(), quotas, 5)
    assert info is not None
    assert "gender: the maximums add up to 3, 2 fewer than the 5 seats" in info.messages


def test_a_minimum_above_the_applicants_with_that_value_is_explained() -> None:
    quotas = [
        Quota("gender", "F", 5, 6),
        Quota("gender", "M", 0, 6),
        Quota("age", "young", 0, 6),
        Quota("age", "old", 0, 6),
    ]
    info = explain_infeasibility(small_pool(), quotas, 6)
    assert info is not None
    assert "gender=F: min 5 but only 4 applicants (1 short)" in info.messages
    assert [(r.quota.value, r.lower_min_by, r.raise_max_by) for r in info.relaxations] == [
        ("F", 1, 0)
    ]


def test_conflicting_quotas_of_two_features_are_named_with_amounts() -> None:
    # 3 women (all young) but at most 1 young: no arithmetic check sees it
    quotas = [
        Quota("gender", "F", 3, 4),
        Quota("gender", "M", 0, 4),
        Quota("age", "young", 0, 1),
        Quota("age", "old", 0, 4),
    ]
    with pytest.raises(InfeasibleQuotasError) as caught:
        draw_panel(small_pool(), quotas, 4, "seed")
    info = caught.value.infeasibility
    assert sum(r.lower_min_by + r.raise_max_by for r in info.relaxations) == 2
    assert {r.quota.feature for r in info.relaxations} <= {"gender", "age"}
    assert any("the smallest change (2 seats in all)" in m for m in info.messages)
    for r in info.relaxations:
        assert f"{r.quota.feature}={r.quota.value}" in str(caught.value)
    change = {r.quota: (r.lower_min_by, r.raise_max_by) for r in info.relaxations}
    relaxed = [
        replace(q, min=q.min - change.get(q, (0, 0))[0], max=q.max + change.get(q, (0, 0))[1])
        for q in quotas
    ]
    assert explain_infeasibility(small_pool(), relaxed, 4) is None


def test_feasible_quotas_have_no_explanation() -> None:
    quotas = [
        Quota("gender", "F", 1, 3),
        Quota("gender", "M", 1, 3),
        Quota("age", "young", 1, 3),
        Quota("age", "old", 1, 3),
    ]
    assert explain_infeasibility(small_pool(), quotas, 4) is None


def test_more_seats_than_applicants_is_explained() -> None:
    quotas = [
        Quota("gender", "F", 0, 20),
        Quota("gender", "M", 0, 20),
        Quota("age", "young", 0, 20),
        Quota("age", "old", 0, 20),
    ]
    with pytest.raises(InfeasibleQuotasError, match="11 seats but only 10 applicants"):
        draw_panel(small_pool(), quotas, 11, "seed")


def test_an_applicant_value_without_a_quota_is_an_input_error() -> None:
    pool = [*small_pool(), Applicant("x", {"gender": "X", "age": "old"})]
    quotas = [
        Quota("gender", "F", 0, 4),
        Quota("gender", "M", 0, 4),
        Quota("age", "young", 0, 4),
        Quota("age", "old", 0, 4),
    ]
    with pytest.raises(InputError, match="gender='X' has no quota"):
        draw_panel(pool, quotas, 2, "seed")


# --------------------------------------------------------------------------- reproducibility


def test_same_inputs_and_seed_give_the_same_panel_and_reserve() -> None:
    pool, quotas = seoul_like(200, 20, seed=11)
    first = draw_panel(pool, quotas, 20, "public-seed")
    shuffled_pool = random.Random(5).sample(pool, len(pool))
    second = draw_panel(shuffled_pool, list(reversed(quotas)), 20, "public-seed")
    assert (first.selected, first.reserve, first.commitment) == (
        second.selected,
        second.reserve,
        second.commitment,
    )
    other = draw_panel(pool, quotas, 20, "another-seed")
    assert other.selected != first.selected
    assert other.commitment == first.commitment


def test_a_forced_panel_is_drawn_the_same_everywhere() -> None:
    # the quotas allow one composition only, so the draw depends on the seeded generator
    # alone: these ids are what every machine and Python version must produce
    pool = [Applicant(f"p{i:02d}", {"gender": "F" if i % 2 else "M"}) for i in range(10)]
    quotas = [Quota("gender", "F", 2, 2), Quota("gender", "M", 1, 1)]
    result = draw_panel(pool, quotas, 3, "7 14 21 28 35 42")
    assert result.commitment == commitment(pool, quotas, 3)
    assert result.selected == GOLDEN_SELECTED
    assert result.reserve[:3] == GOLDEN_RESERVE_HEAD


GOLDEN_SELECTED = ("p01", "p02", "p09")
GOLDEN_RESERVE_HEAD = ("p06", "p03", "p07")


def test_commitment_is_canonical_and_covers_every_input() -> None:
    pool = [
        Applicant("b", {"gender": "F", "age": "30"}),
        Applicant("a", {"age": "20", "gender": "M"}),
    ]
    quotas = [Quota("gender", "F", 0, 1), Quota("gender", "M", 0, 1)]
    digest = commitment(pool, quotas, 1)
    # the published serialisation: anyone can rebuild it without our code
    document = (
        f'{{"algorithm":"{ALGORITHM_VERSION}",'
        '"applicants":[["a",[["age","20"],["gender","M"]]],["b",[["age","30"],["gender","F"]]]],'
        '"quotas":[["gender","F",0,1],["gender","M",0,1]],"seats":1}'
    )
    assert digest == hashlib.sha256(document.encode()).hexdigest()
    assert commitment(list(reversed(pool)), list(reversed(quotas)), 1) == digest
    changed = [
        commitment([replace(pool[0], id="c"), pool[1]], quotas, 1),
        commitment([replace(pool[0], features={"gender": "F", "age": "40"}), pool[1]], quotas, 1),
        commitment(pool, [quotas[0], replace(quotas[1], max=2)], 1),
        commitment(pool, quotas, 2),
        commitment(pool, quotas, 1, ALGORITHM_VERSION + "+"),
    ]
    assert len({digest, *changed}) == 6


# --------------------------------------------------------------------------- replacements


def test_replacement_keeps_every_quota() -> None:
    pool, quotas = seoul_like(150, 15, seed=2)
    result = draw_panel(pool, quotas, 15, "r")
    found = 0
    for declined in result.selected:
        replacement = next_replacement(result.selected, declined, result.reserve, pool, quotas)
        rest = [pid for pid in result.selected if pid != declined]
        fitting = [pid for pid in result.reserve if meets([*rest, pid], pool, quotas)]
        # the first reserve, in call order, who keeps every quota; None only if nobody does
        assert replacement == (fitting[0] if fitting else None)
        found += replacement is not None
    assert found >= 10


def test_replacement_is_the_first_reserve_that_fits() -> None:
    pool = small_pool()
    quotas = [
        Quota("gender", "F", 1, 1),
        Quota("gender", "M", 1, 1),
        Quota("age", "young", 0, 2),
        Quota("age", "old", 0, 2),
    ]
    selected = ["p0", "p6"]  # a young woman and an old man
    # p7 and p4 are men, p1 is the first woman after them; p2 is also a woman but later
    assert next_replacement(selected, "p0", ["p7", "p4", "p1", "p2"], pool, quotas) == "p1"
    assert next_replacement(selected, "p0", ["p7", "p0", "p4"], pool, quotas) is None
    assert next_replacement(selected, "p6", ["p6", "p0", "p4", "p7"], pool, quotas) == "p4"


def test_the_quotas_that_block_a_replacement_are_named() -> None:
    pool = small_pool()
    quotas = [
        Quota("gender", "F", 1, 1),
        Quota("gender", "M", 1, 1),
        Quota("age", "young", 0, 2),
        Quota("age", "old", 0, 2),
    ]
    selected = ["p0", "p6"]  # a young woman and an old man
    # Only men wait for the woman's seat: the women's minimum and the men's maximum block it.
    blocked = blocking_quotas(selected, "p0", ["p7", "p4"], pool, quotas)
    assert blocked == [Quota("gender", "F", 1, 1), Quota("gender", "M", 1, 1)]
    assert next_replacement(selected, "p0", ["p7", "p4"], pool, quotas) is None
    assert blocking_quotas(selected, "p0", [], pool, quotas) == []  # nobody waits


# --------------------------------------------------------------------------- quota helper and files


def test_proportional_quotas_round_outwards_from_the_ideal() -> None:
    quotas = proportional_quotas(
        {"gender": {"F": 0.515, "M": 0.485}, "age": {"young": 3, "old": 7}}, 10, 0.1
    )
    assert quotas == [
        Quota("age", "old", 6, 8),  # ideal 7: 6.3 .. 7.7
        Quota("age", "young", 2, 4),  # ideal 3: 2.7 .. 3.3
        Quota("gender", "F", 4, 6),  # ideal 5.15: 4.635 .. 5.665
        Quota("gender", "M", 4, 6),  # ideal 4.85
    ]
    exact = proportional_quotas({"age": {"young": 0.3, "old": 0.7}}, 10, 0.0)
    assert exact == [Quota("age", "old", 7, 7), Quota("age", "young", 3, 3)]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def test_read_quotas_and_pool(tmp_path: Path) -> None:
    quotas = read_quotas(
        write(
            tmp_path / "q.csv", "feature,value,min,max,min_flex\ngender,F,1,2,0\n\ngender,M,0,2,0\n"
        )
    )
    assert quotas == [Quota("gender", "F", 1, 2), Quota("gender", "M", 0, 2)]
    pool = read_pool(write(tmp_path / "p.csv", "\ufeffid,gender,note\n1, F ,x\n2,M,\n"), quotas)
    assert pool == [
        Applicant("1", {"gender": "F", "note": "x"}),
        Applicant("2", {"gender": "M", "note": ""}),
    ]


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("feature,value,min\n", 1, "missing column(s): max"),
        (
            "feature,value,min,max\ngender,F,1,2\ngender,M,one,2\n",
            3,
            "min 'one' is not a whole number",
        ),
        ("feature,value,min,max\ngender,F,3,2\n", 2, "min 3 is more than max 2"),
        ("feature,value,min,max\ngender,F,-1,2\n", 2, "min -1 is negative"),
        (
            "feature,value,min,max\ngender,F,1,2\ngender,F,1,2\n",
            3,
            "gender=F already has a quota on line 2",
        ),
        ("feature,value,min,max\ngender,F,1\n", 2, "3 fields but the header has 4"),
        ("feature,value,min,max\n", 1, "no quotas after the header"),
        ('feature,value,min,max\ngender,"F\nX,1,2\n', 2, "malformed CSV"),
    ],
)
def test_bad_quota_files_name_the_line(tmp_path: Path, text: str, where: int, what: str) -> None:
    path = write(tmp_path / "q.csv", text)
    with pytest.raises(DataFileError) as caught:
        read_quotas(path)
    assert caught.value.line == where
    assert str(caught.value).startswith(f"{path}:{where}: ")
    assert what in str(caught.value)


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("name,gender\nx,F\n", 1, "no 'id' column"),
        ("id,age\n1,30\n", 1, "no column for quota feature(s): gender"),
        ("id,gender\n1,F\n2,M\n3,X\n", 4, "gender='X' has no quota"),
        ("id,gender\n1,F\n1,M\n", 3, "id '1' already used on line 2"),
        ("id,gender\n1,F\n,M\n", 3, "empty id"),
        ("id,gender\n1,F,extra\n", 2, "3 fields but the header has 2"),
        ("id,gender\n", 1, "no applicants"),
    ],
)
def test_bad_pool_files_name_the_line(tmp_path: Path, text: str, where: int, what: str) -> None:
    quotas = [Quota("gender", "F", 0, 2), Quota("gender", "M", 0, 2)]
    path = write(tmp_path / "p.csv", text)
    with pytest.raises(DataFileError) as caught:
        read_pool(path, quotas)
    assert (caught.value.line, what in str(caught.value)) == (where, True), str(caught.value)


def test_a_cp949_file_is_reported_as_not_utf8(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "id,gu\n1,강남구\n", encoding="cp949")
    with pytest.raises(DataFileError, match=r"p\.csv:2: not UTF-8"):
        read_pool(path)


def test_published_fairness_figures() -> None:
    pool, quotas = seoul_like(120, 12, seed=3)
    result = draw_panel(pool, quotas, 12, "42")
    figures = fairness(result)
    values = list(figures.probabilities.values())
    assert figures.probabilities == result.probabilities
    assert sum(values) == pytest.approx(12)
    # Gini as the mean absolute difference over twice the mean, computed the long way.
    mean = sum(values) / len(values)
    pairs = sum(abs(a - b) for a in values for b in values)
    assert figures.gini == pytest.approx(pairs / (2 * len(values) ** 2 * mean))
    average = 12 / 120
    assert figures.min_ratio == pytest.approx(result.distribution.min_probability / average)
    assert figures.upper_bound_ratio == pytest.approx(result.distribution.upper_bound / average)
    assert figures.min_ratio <= figures.upper_bound_ratio + 1e-9
    assert figures.method == result.distribution.method
    again = Fairness.from_dict(figures.as_dict())
    assert again.of(pool[0].id) == pytest.approx(figures.probabilities[pool[0].id], abs=1e-6)
    assert gini([0.5, 0.5, 0.5]) == 0 and gini([0.0, 0.0, 1.0]) == pytest.approx(2 / 3)


def test_seeded_draws_reproduce_the_published_probabilities() -> None:
    # The published chance of each applicant is what many draws from the same lottery give.
    pool, quotas = parity_instance()
    result = draw_panel(pool, quotas, 2, "published")
    published = fairness(result).probabilities
    draws = 6000
    hits: Counter[str] = Counter()
    for i in range(draws):
        selected, _ = sample_panel(result.distribution, seeded_random(result.commitment, str(i)))
        hits.update(selected)
    assert sum(published.values()) == pytest.approx(2)
    for pid, probability in published.items():
        standard_error = (probability * (1 - probability) / draws) ** 0.5
        assert abs(hits[pid] / draws - probability) < 4.5 * standard_error, pid
