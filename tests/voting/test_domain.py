"""Ballot rules and the tally input (SPEC §6)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from domain.tally import tally
from domain.voting import (
    BallotProblem,
    Heading,
    HeadingKind,
    Item,
    StoredBallot,
    VotingRules,
    check_ballot,
    check_toggle,
    group_weights,
    parse_ballot_file,
    pseudonym,
    tally_input,
    toggle,
)
from tests.voting.conftest import BALLOT

HEADING = Heading(
    key="city",
    name_ko="광역",
    name_en="City",
    items=(Item("a", "A", 600), Item("b", "B", 500), Item("c", "C", 300), Item("d", "D", 100)),
    max_choices=3,
    min_choices=1,
    budget=1000,
    knapsack=True,
)


@pytest.mark.parametrize(
    ("choices", "problem"),
    [
        ({"a", "c"}, None),
        ({"a", "c", "d"}, None),  # exactly the budget
        ({"a", "b"}, BallotProblem.OVER_BUDGET),
        ({"b", "c", "d", "a"}, BallotProblem.TOO_MANY),
        (set(), BallotProblem.TOO_FEW),
        ({"z"}, BallotProblem.UNKNOWN_ITEM),
    ],
)
def test_approval_ballot_rules(choices: set[str], problem: BallotProblem | None) -> None:
    assert check_ballot(HEADING, choices) is problem


def test_every_tap_is_checked_but_the_minimum_only_on_submit() -> None:
    assert check_toggle(HEADING, [], "a") is None  # one of at least 1: fine while building
    assert check_toggle(HEADING, ["a"], "b") is BallotProblem.OVER_BUDGET
    assert check_toggle(HEADING, ["a"], "a") is None  # removing is always allowed
    assert check_toggle(HEADING, ["b", "c", "d"], "a") is BallotProblem.TOO_MANY
    assert check_toggle(HEADING, [], "nope") is BallotProblem.UNKNOWN_ITEM
    assert toggle(HEADING, ["a", "c"], "a") == ["c"]


def test_questions_take_one_answer() -> None:
    question = parse_ballot_file(BALLOT).heading(parse_ballot_file(BALLOT).headings[2])
    assert question.kind is HeadingKind.QUESTION
    assert [i.key for i in question.items] == ["yes", "no", "abstain"]
    assert check_ballot(question, {"yes"}) is None
    assert check_ballot(question, {"yes", "no"}) is BallotProblem.ONE_ANSWER
    assert toggle(question, ["yes"], "no") == ["no"]


def test_pseudonyms_are_keyed_and_distinct() -> None:
    first = pseudonym(b"k1", 1, "city", 42)
    assert first == pseudonym(b"k1", 1, "city", 42)
    assert first != pseudonym(b"k2", 1, "city", 42)
    assert first != pseudonym(b"k1", 1, "mapo", 42)
    assert len(first) == 64  # a SHA-256 HMAC, no trace of the id


def test_group_shares_make_groups_count_for_their_share() -> None:
    ballots = [StoredBallot(("a",), group="citizens")] * 90 + [
        StoredBallot(("b",), group="committee")
    ] * 10
    weights = group_weights(ballots, {"citizens": 0.5, "committee": 0.5})
    assert weights == {"citizens": Fraction(5, 9), "committee": Fraction(5)}
    instance = tally_input(
        HEADING, ballots, VotingRules(group_shares={"citizens": 1, "committee": 1})
    )
    totals: dict[str, float] = {}
    for vote in instance.votes:
        for key in vote.approved:
            totals[key] = totals.get(key, 0) + vote.weight
    assert totals["a"] == pytest.approx(totals["b"])


def test_offline_counts_are_summed_for_greedy() -> None:
    online = [StoredBallot(("a",))] * 3 + [StoredBallot(("b", "c"))] * 4
    result = tally(tally_input(HEADING, online, VotingRules()), "greedy")
    assert result.selected == ["b", "c"]  # d fits but no one voted for it
    # 노원구 style: paper votes per project, summed with the online ones.
    with_paper = tally_input(HEADING, online, VotingRules(), {"a": 5, "d": 1})
    assert tally(with_paper, "greedy").selected == ["a", "c", "d"]  # d: one paper vote


def test_the_ballot_file_is_validated() -> None:
    with pytest.raises(ValueError, match="knapsack ballot needs a budget"):
        parse_ballot_file(BALLOT.replace("budget = 1000\n", ""))
    with pytest.raises(ValueError, match="same key"):
        parse_ballot_file(BALLOT.replace('key = "b"', 'key = "a"'))
    with pytest.raises(ValueError, match="not valid TOML"):
        parse_ballot_file("programme = ")


@pytest.mark.parametrize(
    "rule", ["greedy", "seoul", "mes", "mes+greedy", "mes+add1", "mes+add1+greedy"]
)
def test_a_programme_may_choose_any_tally_rule(rule: str) -> None:
    assert VotingRules.from_settings({"tally_rule": rule}).tally_rule == rule


def test_an_unknown_tally_rule_is_refused_with_the_choices() -> None:
    with pytest.raises(
        ValueError,
        match=r"unknown tally rule 'approval'; expected one of .*mes\+add1",
    ):
        VotingRules.from_settings({"tally_rule": "approval"})


def test_ballot_file_items_take_english_beside_korean() -> None:
    from tests.voting.conftest import ballot_file

    heading = ballot_file.heading(ballot_file.headings[0])
    playground, bike = heading.items[0], heading.items[1]
    assert playground.title_in("en") == "Children's playground"
    assert playground.summary_in("en") == "A better district playground"
    assert playground.title_in("ko") == "어린이 놀이터"
    assert bike.title_in("en") == "한강 자전거길"  # no English given: the Korean title
