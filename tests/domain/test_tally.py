"""Tally rules: identical to pabutools on generated elections, plus hand-checked cases."""

from __future__ import annotations

import itertools
import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pabutools.election import (
    ApprovalMultiProfile,
    Cardinality_Sat,
    Cost_Sat,
    FrozenApprovalBallot,
    Instance,
)
from pabutools.election import Project as PabutoolsProject
from pabutools.election.pabulib import parse_pabulib_from_string
from pabutools.rules import (
    completion_by_rule_combination,
    greedy_utilitarian_welfare,
    method_of_equal_shares,
)

import domain.equal_shares as equal_shares_module
import domain.tally as tally_module
from domain.pabulib import PBInstance, Project, Vote, Votes, parse_pabulib, write_pabulib
from domain.tally import (
    RULES,
    Sat,
    SeoulRuleError,
    TallyResult,
    greedy,
    mes,
    mes_add1,
    mes_greedy,
    seoul_elimination,
    tally,
    tally_explained,
)

PABUTOOLS_SAT = {Sat.COST: Cost_Sat, Sat.CARDINALITY: Cardinality_Sat}
PABUTOOLS_RULES = ("greedy", "mes", "mes+greedy", "mes+add1", "mes+add1+greedy")


def pabutools_election(instance: PBInstance) -> tuple[Instance, object]:
    """pabutools' own reading of the exported file; with weights, a multiprofile in which a
    ballot of weight w (read as a decimal) counts as w * scale identical ballots."""
    if all(vote.weight == 1.0 for vote in instance.votes):
        parsed, parsed_profile = parse_pabulib_from_string(write_pabulib(instance))
        return parsed, parsed_profile
    projects = {pid: PabutoolsProject(pid, p.cost) for pid, p in instance.projects.items()}
    election = Instance(projects.values(), budget_limit=instance.budget)
    weights = {vote.weight: Fraction(repr(vote.weight)) for vote in instance.votes}
    scale = math.lcm(*(w.denominator for w in weights.values()))
    profile = ApprovalMultiProfile(instance=election)
    for vote in instance.votes:
        ballot = FrozenApprovalBallot(sorted({projects[pid] for pid in vote.approved}))
        profile[ballot] = profile.get(ballot, 0) + int(weights[vote.weight] * scale)
    return election, profile


def pabutools_selection(instance: PBInstance, rule: str, sat: Sat) -> list[str]:
    election, profile = pabutools_election(instance)
    sat_class = PABUTOOLS_SAT[sat]
    if rule == "greedy":
        outcome = greedy_utilitarian_welfare(election, profile, sat_class=sat_class)
    elif rule == "mes":
        outcome = method_of_equal_shares(election, profile, sat_class=sat_class)
    elif rule == "mes+add1":
        outcome = method_of_equal_shares(
            election, profile, sat_class=sat_class, voter_budget_increment=1
        )
    else:
        mes_params: dict[str, object] = {"sat_class": sat_class}
        if rule == "mes+add1+greedy":
            mes_params["voter_budget_increment"] = 1
        outcome = completion_by_rule_combination(
            election,
            profile,
            [method_of_equal_shares, greedy_utilitarian_welfare],
            [mes_params, {"sat_class": Cost_Sat}],
        )
    return [project.name for project in outcome]


def canonical(selected: list[str], instance: PBInstance) -> list[str]:
    """pabutools' MES lists the free projects it takes up front in set order; sort those."""
    free = 0
    while free < len(selected) and instance.projects[selected[free]].cost == 0:
        free += 1
    return sorted(selected[:free]) + selected[free:]


def voted_projects(instance: PBInstance) -> set[str]:
    return {pid for vote in instance.votes if vote.weight > 0 for pid in vote.approved}


def assert_matches_pabutools(instance: PBInstance, rules: Sequence[str] = PABUTOOLS_RULES) -> None:
    """The published rules equal pabutools'; the city's rules are them without the projects
    no one voted for, nothing else changed."""
    voted = voted_projects(instance)
    for rule in rules:
        for sat in Sat:
            ours = tally(instance, rule, sat, as_published=True)
            theirs = pabutools_selection(instance, rule, sat)
            assert canonical(ours.selected, instance) == canonical(theirs, instance), (rule, sat)
            assert ours.cost == sum(instance.projects[pid].cost for pid in theirs)
            assert ours.budget == instance.budget
            city = tally(instance, rule, sat)
            with_votes = [pid for pid in theirs if pid in voted]
            assert canonical(city.selected, instance) == canonical(with_votes, instance)
            assert city.cost == sum(instance.projects[pid].cost for pid in with_votes)


def election(budget: int, costs: dict[str, int], ballots: Sequence[tuple[str, ...]]) -> PBInstance:
    return PBInstance(
        budget,
        {pid: Project(pid, cost) for pid, cost in costs.items()},
        [Vote(f"v{i}", ballot) for i, ballot in enumerate(ballots)],
    )


# Ids whose string order differs from their numeric or case order, so ties test lexicographic
# tie-breaking; costs repeat (ties in cost), include free projects and exceed small budgets.
IDS = ["1", "2", "9", "10", "a", "B", "가", "나"]
COSTS = [0, 1, 2, 3, 5, 5, 8, 10, 10, 40, 100]
WEIGHTS = [1.0, 1.0, 2.0, 0.5, 1.5, 0.1, 1e-16]


@st.composite
def elections(draw: st.DrawFn, weighted: bool) -> PBInstance:
    ids = draw(st.lists(st.sampled_from(IDS), max_size=len(IDS), unique=True))
    projects = {pid: Project(pid, draw(st.sampled_from(COSTS))) for pid in ids}
    # Ballots may be empty, repeat an approval, or leave projects without any vote.
    ballot = st.lists(st.sampled_from(ids), max_size=5) if ids else st.just([])
    weight = st.sampled_from(WEIGHTS) if weighted else st.just(1.0)
    votes = [
        Vote(f"v{i}", tuple(draw(ballot)), draw(weight)) for i in range(draw(st.integers(0, 25)))
    ]
    return PBInstance(draw(st.integers(0, 60)), projects, votes)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(elections(weighted=False))
def test_unweighted_elections_match_pabutools(instance: PBInstance) -> None:
    assert_matches_pabutools(instance)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(elections(weighted=True))
def test_weighted_elections_match_pabutools_multiprofiles(instance: PBInstance) -> None:
    assert_matches_pabutools(instance)


@pytest.mark.parametrize("seed", range(40))
def test_larger_seeded_elections_match_pabutools(seed: int) -> None:
    # Hundreds of voters with skewed tastes: voters' remaining budgets in MES spread over many
    # distinct values, which the hypothesis elections are too small to reach.
    rng = random.Random(seed)
    ids = [str(i) for i in range(rng.randint(5, 25))]
    popularity = [rng.random() ** 3 for _ in ids]
    costs = {pid: rng.choice([rng.randint(1, 100), rng.randint(1, 100) * 1000, 7]) for pid in ids}
    votes = []
    for i in range(rng.randint(10, 300)):
        approved = tuple(rng.choices(ids, popularity, k=rng.randint(1, 5)))
        votes.append(Vote(f"v{i}", approved, rng.choice(WEIGHTS) if seed % 2 else 1.0))
    projects = {pid: Project(pid, cost) for pid, cost in costs.items()}
    instance = PBInstance(rng.randint(1, sum(costs.values())), projects, votes)
    # pabutools' Add1 runs MES once per unit of money: too slow for these costs (see below).
    assert_matches_pabutools(instance, ("greedy", "mes", "mes+greedy"))


def outcome(instance: PBInstance, rule: str, sat: Sat) -> object:
    try:
        return tally_explained(instance, rule, sat)
    except SeoulRuleError as refused:
        return str(refused)


@pytest.mark.parametrize("seed", range(12))
def test_files_read_in_bulk_tally_as_their_ballots_do(seed: int) -> None:
    # A written file is read back in bulk (arrays, no Vote objects): every rule, with its
    # explanation, comes out as from the same ballots as Vote objects, and as pabutools'.
    rng = random.Random(2000 + seed)
    ids = [str(i) for i in range(rng.randint(3, 70))]  # past 64 projects: two words of bits
    popularity = [rng.random() ** 3 for _ in ids]
    costs = {pid: rng.choice([rng.randint(1, 100), rng.randint(1, 100) * 1000, 0]) for pid in ids}
    votes = [
        Vote(f"v{i}", tuple(rng.choices(ids, popularity, k=rng.randint(0, 5))))
        for i in range(rng.randint(1, 300))
    ]
    projects = {pid: Project(pid, cost) for pid, cost in costs.items()}
    read = parse_pabulib(write_pabulib(PBInstance(rng.randint(1, 10**5), projects, votes)))
    assert isinstance(read.votes, Votes)
    as_votes = PBInstance(read.budget, read.projects, list(read.votes), read.meta, read.unit)
    for rule in RULES:
        for sat in Sat:
            assert outcome(read, rule, sat) == outcome(as_votes, rule, sat), (rule, sat)
    assert_matches_pabutools(read, ("greedy", "mes", "mes+greedy"))


@pytest.mark.parametrize("seed", range(16))
def test_add1_on_seeded_elections_matches_pabutools(seed: int) -> None:
    # Dozens of voters, costs in the hundreds: pabutools raises the share a few hundred times
    # at most, while the outcome changes several times on the way.
    rng = random.Random(1000 + seed)
    ids = [str(i) for i in range(rng.randint(4, 14))]
    popularity = [rng.random() ** 2 for _ in ids]
    costs = {pid: rng.randint(1, 300) for pid in ids}
    votes = [
        Vote(f"v{i}", tuple(rng.choices(ids, popularity, k=rng.randint(1, 4))))
        for i in range(rng.randint(20, 90))
    ]
    projects = {pid: Project(pid, cost) for pid, cost in costs.items()}
    instance = PBInstance(rng.randint(1, sum(costs.values())), projects, votes)
    assert_matches_pabutools(instance, ("mes+add1", "mes+add1+greedy"))


def test_greedy_takes_most_votes_first_and_skips_what_no_longer_fits() -> None:
    instance = election(
        100,
        {"A": 60, "B": 50, "C": 30, "D": 10},
        [("A", "B"), ("A", "C"), ("A", "B", "C"), ("D",)],
    )
    # A (3 votes) leaves 40; B and C tie at 2, B comes first but costs 50; then C, then D.
    assert greedy(instance) == TallyResult("greedy", ["A", "C", "D"], 100, 100)
    assert_matches_pabutools(instance)


def test_greedy_with_cardinality_ranks_by_votes_per_won() -> None:
    instance = election(100, {"A": 100, "B": 30, "C": 30}, [("A", "B"), ("A", "C"), ("A",)])
    # Votes per won: A 3/100, B and C 1/30 each; A takes the whole budget.
    assert greedy(instance, Sat.CARDINALITY).selected == ["B", "C"]
    assert greedy(instance, Sat.COST).selected == ["A"]
    assert_matches_pabutools(instance)


def test_ties_go_to_the_first_id_in_string_order() -> None:
    instance = election(50, {"9": 50, "10": 50}, [("9", "10"), ("10", "9")])
    assert greedy(instance).selected == ["10"]
    assert mes(instance).selected == ["10"]
    assert_matches_pabutools(instance)


def test_a_project_dearer_than_the_budget_is_never_selected() -> None:
    instance = election(100, {"big": 150, "small": 40}, [("big",), ("big",), ("small",)])
    assert greedy(instance).selected == ["small"]
    assert mes_greedy(instance).selected == ["small"]
    assert_matches_pabutools(instance)


def test_empty_ballots_still_take_their_share_of_the_budget_in_mes() -> None:
    alone = election(100, {"A": 60}, [("A",)])
    diluted = election(100, {"A": 60}, [("A",), ()])
    assert mes(alone).selected == ["A"]
    assert mes(diluted).selected == []  # A's supporter now holds 50 of the 100
    assert greedy(diluted).selected == ["A"]
    assert_matches_pabutools(diluted)


def test_an_approval_repeated_in_one_ballot_counts_once() -> None:
    instance = election(10, {"w": 10, "x": 10}, [("x", "x"), ("w",)])
    assert greedy(instance).selected == ["w"]  # 1 vote each: the tie goes to w
    assert_matches_pabutools(instance)


def test_projects_without_votes_only_come_in_through_published_greedy() -> None:
    instance = election(100, {"A": 50, "Z": 30}, [("A",), ("A",)])
    assert tally(instance, "greedy", as_published=True).selected == ["A", "Z"]
    assert tally(instance, "mes+greedy", as_published=True) == TallyResult(
        "mes+greedy", ["A", "Z"], 80, 100
    )
    assert_matches_pabutools(instance)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("sat", list(Sat))
def test_a_project_no_one_voted_for_is_never_selected(rule: str, sat: Sat) -> None:
    # Money is left for Z (no votes, costs 30) and F (no votes, free) under every rule; the
    # Seoul rule drops Z to reach its 5 % and still keeps F out.
    instance = election(200, {"A": 50, "B": 20, "F": 0, "Z": 30}, [("A",), ("A",), ("A", "B"), ()])
    result = tally(instance, rule, sat)
    assert "Z" not in result.selected and "F" not in result.selected
    assert "A" in result.selected
    assert result.cost == sum(instance.projects[p].cost for p in result.selected)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(elections(weighted=True), st.sampled_from(RULES), st.sampled_from(list(Sat)))
def test_no_rule_selects_an_unvoted_project(instance: PBInstance, rule: str, sat: Sat) -> None:
    try:
        result = tally(instance, rule, sat)
    except SeoulRuleError:
        return
    assert set(result.selected) <= voted_projects(instance)


def test_weighted_ballots_count_their_weight() -> None:
    instance = PBInstance(
        10,
        {"A": Project("A", 10), "B": Project("B", 10)},
        [Vote("v1", ("B",), 2.5), Vote("v2", ("A",)), Vote("v3", ("A",))],
    )
    assert greedy(instance).selected == ["B"]  # 2.5 against 2
    assert_matches_pabutools(instance)


@pytest.mark.parametrize(("tenths", "whole"), [("a", "b"), ("b", "a")])
def test_weights_are_read_as_decimals(tenths: str, whole: str) -> None:
    # Ten ballots of 0.1 tie one of 1.0 (floats would sum to 0.9999999999999999, and the
    # binary value of 0.1 is a little more than a tenth): the tie goes to "a".
    votes = [Vote(f"t{i}", (tenths,), 0.1) for i in range(10)] + [Vote("w", (whole,), 1.0)]
    instance = PBInstance(10, {"a": Project("a", 10), "b": Project("b", 10)}, votes)
    assert greedy(instance).selected == ["a"]
    assert_matches_pabutools(instance)


def test_mes_splits_costs_among_supporters() -> None:
    # Budget 30, three voters with 10 each.
    instance = election(30, {"X": 12, "Y": 9, "Z": 10}, [("X", "Z"), ("X", "Y"), ("Y",)])
    # Cost utilities: X and Y both cost their supporters 1/2 per won of value; X wins the tie;
    # then Y costs 4 + 5 (voter 2 has 4 left); Z's only supporter has 4 left.
    assert mes(instance, Sat.COST) == TallyResult("mes", ["X", "Y"], 21, 30)
    # Cardinality: Y is cheaper per supporter (4.5 against 6); then X at 6.5 + 5.5.
    assert mes(instance, Sat.CARDINALITY).selected == ["Y", "X"]
    assert_matches_pabutools(instance)


def test_exact_ties_in_mes_are_not_split_by_rounding() -> None:
    # With cost utilities both cost each voter 1/3 per won of value: an exact tie that goes to
    # "a". In floats (5/3)/5 > (1/3)/1, which would pick b, after which a no longer fits.
    instance = election(5, {"a": 5, "b": 1}, [("a", "b")] * 3)
    assert mes(instance).selected == ["a"]
    assert mes_greedy(instance).selected == ["a"]
    assert_matches_pabutools(instance)


def test_near_ties_are_decided_exactly() -> None:
    # The two costs are the same float, but b is one won cheaper: b is better per voter and
    # per won, and after it a no longer fits.
    instance = election(2 * 10**17, {"a": 10**17 + 1, "b": 10**17}, [("a", "b")] * 3)
    assert mes(instance, Sat.CARDINALITY).selected == ["b"]
    assert greedy(instance, Sat.CARDINALITY).selected == ["b"]
    assert_matches_pabutools(instance)


def test_free_projects_under_cardinality_come_first_in_mes() -> None:
    instance = election(10, {"free": 0, "paid": 10}, [("paid", "free"), ("paid",)])
    assert mes(instance, Sat.CARDINALITY).selected == ["free", "paid"]
    assert mes(instance, Sat.COST).selected == ["paid"]  # no cost utility from a free project
    assert_matches_pabutools(instance)


def test_no_ballots_select_nothing_by_mes() -> None:
    instance = election(10, {"A": 5}, [])
    assert mes(instance).selected == []
    assert greedy(instance).selected == []  # no votes: nothing, though A fits
    assert tally(instance, "greedy", as_published=True).selected == ["A"]
    assert_matches_pabutools(instance)


def seoul_election(budget: int, projects: dict[str, tuple[int, int]]) -> PBInstance:
    """Projects as id -> (cost, votes); each vote is its own ballot."""
    ballots = [(pid,) for pid, (_, votes) in projects.items() for _ in range(votes)]
    return election(budget, {pid: cost for pid, (cost, _) in projects.items()}, ballots)


def test_seoul_drops_the_least_voted_until_the_rest_fits() -> None:
    instance = seoul_election(
        100, {"A": (40, 10), "B": (30, 8), "C": (20, 5), "D": (15, 3), "E": (10, 1)}
    )
    # E (10) leaves 105 > 100; D too leaves 90; 25 dropped is within 5–30 % of 100.
    assert seoul_elimination(instance) == TallyResult("seoul", ["A", "B", "C"], 90, 100)
    assert tally(instance, "seoul") == seoul_elimination(instance)


def test_seoul_drops_at_least_the_minimum_share_even_when_all_fit() -> None:
    instance = seoul_election(100, {"A": (50, 5), "B": (40, 4), "C": (3, 1), "D": (4, 2)})
    # All 97 fit, but 5 % must go: C (3) is not enough, so D goes too.
    assert seoul_elimination(instance).selected == ["A", "B"]


def test_seoul_drops_the_later_id_first_among_equal_votes() -> None:
    instance = seoul_election(100, {"1": (85, 5), "9": (10, 2), "10": (10, 2)})
    assert seoul_elimination(instance).selected == ["1", "10"]


def test_seoul_counts_weighted_votes() -> None:
    instance = seoul_election(100, {"1": (85, 5), "9": (10, 2), "10": (10, 2)})
    heavier = PBInstance(
        instance.budget,
        instance.projects,
        [
            Vote(v.voter_id, v.approved, 1.5 if v.approved == ("9",) else 1.0)
            for v in instance.votes
        ],
    )
    assert seoul_elimination(heavier).selected == ["1", "9"]


def test_seoul_refuses_to_drop_more_than_the_maximum_share() -> None:
    instance = seoul_election(100, {"A": (50, 9), "B": (60, 1)})
    with pytest.raises(
        SeoulRuleError, match="drops projects costing 60 won, more than 30% of the budget 100"
    ):
        seoul_elimination(instance)
    assert seoul_elimination(instance, max_share=0.6).selected == ["A"]


def test_seoul_shares_are_exact_decimals() -> None:
    instance = seoul_election(10, {"A": (7, 2), "B": (3, 1)})
    # 0.3 of 10 is exactly 3, so dropping B is enough (0.3 * 10 in floats is 3.0000000000000004).
    assert seoul_elimination(instance, min_share=0.3, max_share=1).selected == ["A"]


@pytest.mark.parametrize(("low", "high"), [(0.4, 0.3), (-0.1, 0.3), (0.05, 1.5)])
def test_seoul_shares_must_make_sense(low: float, high: float) -> None:
    instance = seoul_election(10, {"A": (7, 2)})
    with pytest.raises(ValueError, match="share"):
        seoul_elimination(instance, min_share=low, max_share=high)


def test_unknown_rules_projects_and_weights_are_refused() -> None:
    instance = election(10, {"A": 5}, [("A",)])
    with pytest.raises(ValueError, match="unknown rule 'approval'"):
        tally(instance, "approval")
    assert set(RULES) == {"greedy", "seoul", "mes", "mes+greedy", "mes+add1", "mes+add1+greedy"}
    with pytest.raises(ValueError, match="unknown project 'B'"):
        greedy(election(10, {"A": 5}, [("B",)]))
    read = parse_pabulib(write_pabulib(election(10, {"A": 5, "B": 5}, [("A",), ("B",)])))
    assert isinstance(read.votes, Votes)
    with pytest.raises(ValueError, match="unknown project 'B'"):
        greedy(PBInstance(10, instance.projects, read.votes))  # ballots read in bulk
    weightless = PBInstance(10, instance.projects, [Vote("v", ("A",), 0.0)])
    with pytest.raises(ValueError, match="positive"):
        mes(weightless)


@pytest.mark.parametrize("seed", range(6))
def test_decimal_money_matches_pabutools(seed: int) -> None:
    # Some pabulib files write money with decimals (Warsaw 2017: "budget;969245.38"); the
    # rules run on exact multiples and Add1 still adds one whole unit of money per step.
    rng = random.Random(seed)
    ids = [str(i) for i in range(rng.randint(3, 8))]
    costs = {pid: f"{rng.randint(1, 60)}.{rng.choice(['5', '25', '05', '0'])}" for pid in ids}
    votes = [
        f"v{i};{','.join(sorted(set(rng.choices(ids, k=rng.randint(1, 3)))))}"
        for i in range(rng.randint(5, 40))
    ]
    text = "\n".join(
        [
            "META",
            "key;value",
            f"budget;{rng.randint(20, 150)}.75",
            "vote_type;approval",
            "PROJECTS",
            "project_id;cost",
            *(f"{pid};{cost}" for pid, cost in costs.items()),
            "VOTES",
            "voter_id;vote",
            *votes,
        ]
    )
    instance = parse_pabulib(text)
    assert instance.unit > 1
    assert_matches_pabutools(instance)


def test_add1_skips_shares_where_nothing_can_stop_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Shares start at 100: B (300, two supporters) needs 150, C (200) 200 and A (400) 400;
    # at 400 all three fit the 1,000 (exhaustive). pabutools runs MES at each of the 301
    # shares from 100 to 400; certified steps need far fewer runs for the same answer.
    instance = election(
        1000,
        {"A": 400, "B": 300, "C": 200},
        [("A",), ("B",), ("B",), ("C",), (), (), (), (), (), ()],
    )
    runs = 0
    original = equal_shares_module._Run.run

    def counted(
        self: equal_shares_module._Run,
        reference: object = None,
        until_failure: bool = False,
        known: object = None,
        hint: object = None,
    ) -> None:
        nonlocal runs
        runs += reference is not None or not self.winners  # finishing a run is not a new one
        original(self, reference, until_failure, known, hint)  # type: ignore[arg-type]

    monkeypatch.setattr(equal_shares_module._Run, "run", counted)
    assert mes_add1(instance).selected == ["B", "A", "C"]
    assert runs < 60
    monkeypatch.undo()
    assert_matches_pabutools(instance, ("mes+add1", "mes+add1+greedy"))


def many_changes_election(seed: int) -> PBInstance:
    """Dozens of voters with skewed tastes over 20–40 projects, a budget for a tenth of them:
    the Add1 completion goes through dozens of shares and the outcome changes several times
    on the way (winners swap rounds, come and go)."""
    rng = random.Random(5000 + seed)
    ids = [str(i) for i in range(rng.randint(20, 40))]
    popularity = [rng.random() ** 2 for _ in ids]
    costs = {pid: rng.randint(200, 3000) for pid in ids}
    votes = [
        Vote(f"v{i}", tuple(rng.choices(ids, popularity, k=rng.randint(1, 5))))
        for i in range(rng.randint(40, 90))
    ]
    projects = {pid: Project(pid, cost) for pid, cost in costs.items()}
    return PBInstance(sum(costs.values()) // rng.randint(6, 12), projects, votes)


def outcomes_along_add1(instance: PBInstance) -> list[list[int]]:
    """Plain MES (itself identical to pabutools') at every share Add1 goes through."""
    ballots = tally_module._Election(instance)
    candidates = [i for i, cost in enumerate(ballots.costs) if cost and ballots.scores[i]]
    _, run = ballots.mes(Sat.COST, add1=True, explain=False)
    start = Fraction(ballots.budget, ballots.total_weight)
    steps = int((run.share - start) / ballots.unit)
    return [
        equal_shares_module.equal_shares(
            ballots.ballots, ballots.costs, candidates, start + k * ballots.unit
        ).selected
        for k in range(steps + 1)
    ]


@pytest.mark.parametrize("seed", range(12))
def test_add1_through_many_outcome_changes_matches_pabutools(seed: int) -> None:
    # Certification may skip any range, but must stop at the same share as pabutools, which
    # tries every one of them.
    instance = many_changes_election(seed)
    outcomes = outcomes_along_add1(instance)
    changes = sum(a != b for a, b in itertools.pairwise(outcomes))
    assert changes >= 2
    for rule in ("mes+add1", "mes+add1+greedy"):
        ours = tally(instance, rule, Sat.COST, as_published=True)
        assert canonical(ours.selected, instance) == canonical(
            pabutools_selection(instance, rule, Sat.COST), instance
        ), rule


@pytest.mark.parametrize("seed", range(30))
def test_a_certified_share_range_keeps_the_outcome_at_every_share_in_it(seed: int) -> None:
    # The certification bounds how fast budgets and prices move with the share; what it
    # vouches for must hold at every share in between, whole or fractional.
    instance = many_changes_election(seed)
    rng = random.Random(seed)
    election = tally_module._Election(instance)
    candidates = [i for i, cost in enumerate(election.costs) if cost and election.scores[i]]
    low = Fraction(election.budget, election.total_weight) + rng.randint(0, 200)
    high = low + rng.choice([1, 3, 10, 40, 150])
    reference = equal_shares_module._Run(election.ballots, election.costs, candidates, low)
    reference.run()
    trial = equal_shares_module._Run(election.ballots, election.costs, candidates, high)
    trial.run(reference=reference)
    vouched = len(reference.winners) if trial.failed_at is None else trial.failed_at
    shares = [low + Fraction(i, 4) for i in range(int(4 * (high - low)) + 1)]
    shares += [low + (high - low) * Fraction(rng.randint(1, 999), 1000) for _ in range(20)]
    for share in shares:
        run = equal_shares_module._Run(election.ballots, election.costs, candidates, share)
        run.run()
        assert run.winners[:vouched] == reference.winners[:vouched], share
        if trial.failed_at is None:
            assert run.winners == reference.winners, share
            # Every budget grew within the bounds the certification kept on its growth.
            grown = run.budget - reference.budget
            distance = float(share - low)
            assert np.all(grown >= trial.slope_low * distance - 1e-6), share
            assert np.all(grown <= trial.slope_high * distance + 1e-6), share


@dataclass
class FailedCertification:
    rng: random.Random  # as left by the search, for the test's own draws
    election: Any
    candidates: list[int]
    low: Fraction
    reference: Any
    known: Any


def failed_certification(seed: int, widths: list[int]) -> FailedCertification:
    """A certification that fails after its first round, found from a random place on: a
    reference run at `low` and what the failure proves over its range (`known`)."""
    rng = random.Random(seed)
    election = tally_module._Election(many_changes_election(seed))
    ballots = election.ballots
    candidates = [i for i, cost in enumerate(election.costs) if cost and election.scores[i]]
    start = Fraction(election.budget, election.total_weight)
    attempt = 0
    while True:
        low = start + rng.randint(0, 200 + 100 * attempt)
        reference = equal_shares_module._Run(ballots, election.costs, candidates, low)
        reference.run()
        trial = equal_shares_module._Run(
            ballots, election.costs, candidates, low + rng.choice(widths)
        )
        trial.run(reference=reference, until_failure=True)
        known = trial.known(reference)
        if known is not None:
            return FailedCertification(rng, election, candidates, low, reference, known)
        attempt += 1


@pytest.mark.parametrize("seed", range(30))
def test_a_run_resumed_from_a_failed_certification_equals_one_from_scratch(seed: int) -> None:
    # A certification that fails still vouches for its first rounds over its whole range:
    # runs (plain or certifying) resumed after those rounds must end exactly as runs from
    # scratch, at every share in the range.
    found = failed_certification(seed, [3, 10, 30, 100, 300, 1000])
    rng, election, candidates = found.rng, found.election, found.candidates
    ballots, low, reference, known = election.ballots, found.low, found.reference, found.known
    width = known.high - known.low
    shares = [low + width * Fraction(i, 7) for i in range(8)]
    shares += [low + width * Fraction(rng.randint(1, 999), 1000) for _ in range(8)]
    for share in shares:
        scratch = equal_shares_module._Run(ballots, election.costs, candidates, share)
        scratch.run()
        resumed = equal_shares_module._Run(ballots, election.costs, candidates, share)
        resumed.run(known=known)
        assert resumed.winners == scratch.winners, share
        assert np.array_equal(resumed.budget, scratch.budget), share
        # Certifying against the reference, resumed, vouches only for what holds.
        certifying = equal_shares_module._Run(ballots, election.costs, candidates, share)
        certifying.run(reference=reference, known=known)
        assert certifying.winners == scratch.winners, share
        vouched = certifying.failed_at
        if vouched is None:
            vouched = len(reference.winners)
        assert vouched >= len(known.winners)
        for between in (low, (low + share) / 2, share - Fraction(1, 3)):
            if between >= low:
                check = equal_shares_module._Run(ballots, election.costs, candidates, between)
                check.run()
                assert check.winners[:vouched] == reference.winners[:vouched], between
                if certifying.failed_at is None:
                    # Its growth bounds (taken on from the known range, when it is at most
                    # twice as wide) hold too.
                    grown = check.budget - reference.budget
                    distance = float(between - low)
                    assert np.all(grown >= certifying.slope_low * distance - 1e-6), between
                    assert np.all(grown <= certifying.slope_high * distance + 1e-6), between


@pytest.mark.parametrize("seed", range(12))
def test_ballots_seen_through_the_projects_in_reach_give_the_same_runs(seed: int) -> None:
    # Add1 drops the projects that no share it looks at can buy, and merges the ballots that
    # then approve the same: MES must not see the difference at any share up to there.
    instance = many_changes_election(seed)
    election = tally_module._Election(instance)
    ballots = election.ballots
    candidates = [i for i, cost in enumerate(election.costs) if cost and election.scores[i]]
    start = Fraction(election.budget, election.total_weight)
    limit = start * 2
    in_reach = [p for p in candidates if ballots.support_weight[p] * limit >= election.costs[p]]
    assert len(in_reach) < len(candidates)
    seen = ballots.restricted(in_reach)
    assert len(seen.weight) < len(ballots.weight)
    assert seen.total_weight == ballots.total_weight
    assert int(seen.weight.sum()) <= int(ballots.weight.sum())
    assert int(seen.count.sum()) <= int(ballots.count.sum())
    rows = {tuple(seen.approvals(g).tolist()) for g in range(len(seen.weight))}
    assert len(rows) == len(seen.weight)  # no two groups left alike
    for p in in_reach:
        assert seen.support_weight[p] == ballots.support_weight[p]
    for share in (start, start + Fraction(1, 3), start * Fraction(3, 2), limit):
        whole = equal_shares_module.equal_shares(ballots, election.costs, candidates, share)
        seen_run = equal_shares_module.equal_shares(seen, election.costs, in_reach, share)
        assert seen_run.selected == whole.selected, share


def test_dot_products_cut_into_pieces_keep_every_entry() -> None:
    # Long dot products are summed piece by piece (one BLAS thread each): no entry is lost.
    rng = np.random.default_rng(7)
    for n in (0, 1, 8191, 8192, 8193, 16384, 30001):
        a, b = rng.random(n), rng.random(n)
        exact = math.fsum((a * b).tolist())
        assert equal_shares_module._dot(a, b) == pytest.approx(exact, rel=1e-12, abs=1e-12), n


def test_add1_when_no_project_is_in_reach_at_first() -> None:
    # Shares start at 10: B needs 45 a supporter, A 100. Add1 first looks at shares where
    # nothing is in reach (no ballot left to run on), then wider, and ends as pabutools.
    instance = election(100, {"A": 100, "B": 90}, [("A",), ("B",), ("B",)] + [()] * 7)
    ballots = tally_module._Election(instance).ballots
    nothing = ballots.restricted([])
    assert len(nothing.weight) == 0 and nothing.total_weight == ballots.total_weight
    assert mes_add1(instance).selected == ["B"]
    assert_matches_pabutools(instance, ("mes+add1", "mes+add1+greedy"))


def test_price_searches_end_at_the_same_price_from_any_start() -> None:
    # A price search may start from a nearby price (a run at a close share, the project's last
    # price), above or below the true one, and add up with masks: it still ends at the
    # smallest price the supporters can pay, to rounding.
    rng = np.random.default_rng(11)
    solve = equal_shares_module._solve_price
    for _ in range(300):
        n = int(rng.integers(1, 400))
        budget = rng.choice([0.0, 1.0, 2.5, 7.0, 40.0], n) * rng.integers(0, 2, n)
        budget += rng.random(n) * rng.choice([0.0, 30.0])
        weight = rng.integers(1, 4, n).astype(np.float64)
        total = float(weight.sum())
        money = float(weight @ budget)
        if money <= 0:
            continue
        cost = money * float(rng.choice([0.2, 0.5, 0.9, 0.999, 1.0]))
        plain = solve(budget, weight, cost, total, 0.0, False)
        # The price found is one the supporters can pay, and no lower one is.
        assert float(weight @ np.minimum(budget, plain)) == pytest.approx(cost, rel=1e-9)
        for guess in (0.0, plain, plain * 0.5, plain * 1.5, plain * 100, cost):
            for masked in (False, True):
                found = solve(budget, weight, cost, total, guess, masked)
                assert found == pytest.approx(plain, rel=1e-12), (guess, masked)


def test_a_price_search_from_above_with_no_one_short_of_it_takes_the_even_split() -> None:
    # Everyone holds more than the guess: the price is the cost split evenly, not the guess.
    budget = np.array([10.0, 10.0, 10.0])
    weight = np.ones(3)
    assert equal_shares_module._solve_price(budget, weight, 6.0, 3.0, 5.0) == 2.0


def test_a_certification_replays_its_reference_without_paying_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The reference's rounds, replayed at its share alongside a certification, are taken from
    # what its supporters held after each round: only the certifying run pays.
    instance = many_changes_election(3)
    election = tally_module._Election(instance)
    candidates = [i for i, cost in enumerate(election.costs) if cost and election.scores[i]]
    low = Fraction(election.budget, election.total_weight)
    reference = equal_shares_module._Run(election.ballots, election.costs, candidates, low)
    reference.run()
    payments = 0
    pay = equal_shares_module._Run.pay

    def counted(self: equal_shares_module._Run, project: int) -> None:
        nonlocal payments
        payments += 1
        pay(self, project)

    monkeypatch.setattr(equal_shares_module._Run, "pay", counted)
    trial = equal_shares_module._Run(election.ballots, election.costs, candidates, low + 1)
    trial.run(reference=reference)
    assert payments == len(trial.winners)


@pytest.mark.parametrize("seed", range(12))
def test_a_run_following_another_holds_what_paying_would_have_left(seed: int) -> None:
    # Following a run at the same share round by round leaves every budget, price and exact
    # figure as paying for the same projects does.
    instance = many_changes_election(seed)
    election = tally_module._Election(instance)
    candidates = [i for i, cost in enumerate(election.costs) if cost and election.scores[i]]
    share = Fraction(election.budget, election.total_weight) + seed * 7
    ballots = election.ballots
    reference = equal_shares_module._Run(ballots, election.costs, candidates, share)
    reference.run()
    paying = equal_shares_module._Run(ballots, election.costs, candidates, share)
    following = equal_shares_module._Run(ballots, election.costs, candidates, share)
    following.broke_at = reference.broke_at
    following._exact_prices = reference._exact_prices
    for round_, winner in enumerate(reference.winners):
        paying.pay(winner)
        following.follow(reference)
        assert np.array_equal(following.budget, paying.budget), round_
        assert following.prices_f == paying.prices_f
        assert following.exact_price(round_) == paying.exact_price(round_)
        # The exact price: what those short of it do not cover, split over the others.
        supporters = ballots.supporters[winner].tolist()
        short = set(paying.poor[round_].tolist())
        covered = sum(
            (paying.exact_budget(g, round_) * int(ballots.weight[g]) for g in short), Fraction(0)
        )
        others = sum(int(ballots.weight[g]) for g in supporters if g not in short)
        assert paying.exact_price(round_) == (election.costs[winner] - covered) / others
        for group in range(0, len(ballots.weight), 7):
            assert following.exact_budget(group, round_ + 1) == paying.exact_budget(
                group, round_ + 1
            )


@pytest.mark.parametrize("seed", range(20))
def test_growth_bounds_a_failed_certification_keeps_hold_over_its_whole_range(seed: int) -> None:
    # A certification anywhere within a known range resumes with the growth bounds the known
    # range was found with: they must bound how budgets grow after its rounds between any two
    # shares in it.
    found = failed_certification(seed, [3, 10, 30, 100, 300])
    election, candidates, ballots = found.election, found.candidates, found.election.ballots
    low, known = found.low, found.known
    assert known.slope_low is not None and known.slope_high is not None

    def after_known(share: Fraction) -> np.ndarray:
        run = equal_shares_module._Run(ballots, election.costs, candidates, share)
        run.resume(known, None, None, None)
        return run.budget

    width = known.high - known.low
    shares = [low + width * Fraction(i, 8) for i in range(9)]
    budgets = [after_known(share) for share in shares]
    for (a, at_a), (b, at_b) in itertools.combinations(zip(shares, budgets, strict=True), 2):
        grown = at_b - at_a
        distance = float(b - a)
        assert np.all(grown >= known.slope_low * distance - 1e-6), (a, b)
        assert np.all(grown <= known.slope_high * distance + 1e-6), (a, b)


def add1_of(instance: PBInstance, workers: int) -> equal_shares_module.EqualShares:
    election = tally_module._Election(instance)
    candidates = [i for i, cost in enumerate(election.costs) if cost and election.scores[i]]
    return equal_shares_module.add1(
        election.ballots,
        election.costs,
        candidates,
        election.budget,
        election.unit,
        explain=True,
        workers=workers,
    )


@pytest.fixture
def short_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The search from the top in chunks of a few shares, so that it reports many and meets
    the walk from the bottom somewhere among them."""
    monkeypatch.setattr(equal_shares_module, "_PROBE_WIDTH", 2)
    monkeypatch.setattr(equal_shares_module, "_FIRST_CHUNK", 2)
    monkeypatch.setattr(equal_shares_module, "_LEAST_GAP", 2)


def slowed_walk(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """This process's runs slowed (not the forked child's), so that the child's part counts;
    returns whether each of this process's walks found the stop itself."""
    parent = os.getpid()
    walks: list[bool] = []
    at, walk = equal_shares_module._Completion.at, equal_shares_module._Completion.walk

    def slow_at(self: Any, k: int, hint: Any = None) -> Any:
        if os.getpid() == parent:
            time.sleep(0.003)
        return at(self, k, hint)

    def recorded_walk(self: Any, *args: Any) -> Any:
        found = walk(self, *args)
        if os.getpid() == parent:
            walks.append(found[3])
        return found

    monkeypatch.setattr(equal_shares_module._Completion, "at", slow_at)
    monkeypatch.setattr(equal_shares_module._Completion, "walk", recorded_walk)
    return walks


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.usefixtures("short_chunks")
def test_add1_searched_from_both_ends_keeps_the_same_outcome(seed: int) -> None:
    instance = many_changes_election(seed)
    assert add1_of(instance, workers=2) == add1_of(instance, workers=1)


@pytest.mark.usefixtures("short_chunks")
def test_the_child_searching_from_the_top_finds_the_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    instance = many_changes_election(3)
    alone = add1_of(instance, workers=1)
    walks = slowed_walk(monkeypatch)
    assert add1_of(instance, workers=2) == alone
    # This process walked up to the child's chunks and no further: the stop came from them.
    assert walks == [False]


def claims_all_then(then: Callable[[], None]) -> Callable[[Any, Any, Any], None]:
    """A child's part that claims every share from index 1 up, then does `then`."""

    def search(completion: Any, state: Any, pipe: Any) -> None:
        state[1:] = (1, 10**6)
        then()

    return search


def lost() -> None:
    raise RuntimeError("lost")


def stuck() -> None:
    time.sleep(3600)


@pytest.mark.parametrize("child", [lost, stuck])
@pytest.mark.usefixtures("short_chunks")
def test_add1_walks_on_alone_when_the_child_fails_or_hangs(
    monkeypatch: pytest.MonkeyPatch, child: Callable[[], None]
) -> None:
    # The child claims every share and never reports: this process walks into the claimed
    # shares instead of waiting, and finds the stop itself.
    instance = many_changes_election(3)
    alone = add1_of(instance, workers=1)
    walks = slowed_walk(monkeypatch)
    monkeypatch.setattr(equal_shares_module, "_search_from_the_top", claims_all_then(child))
    began = time.monotonic()
    assert add1_of(instance, workers=2) == alone
    assert walks == [True]
    assert time.monotonic() - began < 60
