"""Participatory-budgeting tallies (시민참여예산 사업 선정) over approval ballots.

Rules (`RULES`):

* ``greedy`` — pabutools' ``greedy_utilitarian_welfare``. With cost satisfaction (`Sat.COST`, the
  default) a project's satisfaction per won is its number of votes, so this is "most votes
  first, skip what no longer fits" — Seoul's and CONSUL's practice. With `Sat.CARDINALITY` it
  ranks by votes per won. A free project has no cost satisfaction, so under `Sat.COST` it ranks
  with the unvoted projects (it always fits, so it is still selected).
* ``seoul`` — the 엠보팅 rule of the 2019 master plan (seed 004, 광역제안형·협치형: "득표수 하위
  사업 5%~30% (예산금액 기준) 탈락"): see `seoul_elimination`.
* ``mes`` — pabutools' ``method_of_equal_shares`` (cost or cardinality satisfaction): every
  voter gets budget/n; a project is bought when its supporters can pay for it, the one needing
  the lowest price per unit of satisfaction first, each supporter paying that price or what is
  left of their share. Under `Sat.CARDINALITY` free projects with a supporter come first, as in
  pabutools' initial allocation; under `Sat.COST` they give no satisfaction and are left out.
* ``mes+greedy`` — MES completed as pabutools documents it, ``completion_by_rule_combination``
  with ``[method_of_equal_shares, greedy_utilitarian_welfare]``; the completion step always
  uses cost satisfaction, i.e. greedy by votes (the ``greedy`` rule above, as in pabutools'
  Wieliczka example), whatever satisfaction MES used. MES often leaves money unspent; greedy
  then adds what still fits, most votes first.
* ``mes+add1`` — MES as the cities that adopted it run it (Wieliczka and Świecie 2023,
  Assen 2024; Aarau 2023 too, on points): "Add1" completion raises every voter's equal share
  by one unit of money at a time and keeps the last outcome that fits the budget (or the
  first exhaustive one); pabutools' ``method_of_equal_shares(..., voter_budget_increment=1)``.
  See `domain.equal_shares`.
* ``mes+add1+greedy`` — ``mes+add1``, then greedy by votes on what is left, as ``mes+greedy``
  completes MES (``completion_by_rule_combination`` of the two).

Ties (identical to pabutools' default ``lexico_tie_breaking``): among projects equally good for
the rule, the one whose id comes first in plain string order (``"10" < "9"``) is taken first.
For ``seoul`` the least-voted are dropped first and, among equal votes, the id that comes last
is dropped first, so the rule drops exactly the projects greedy would rank last.

Ballot weights (가중치) are exact: each weight is read as the decimal it prints as (0.1 is 1/10,
so ten ballots of 0.1 tie one of 1.0) and all are scaled to integers by their common
denominator; a ballot of scaled weight w counts as w identical ballots, which is what pabutools
computes on a multiprofile with those multiplicities.

Identical ballots are aggregated. MES screens candidates with numpy floats and decides every
comparison that floats could get wrong with exact rational arithmetic, so outcomes equal
pabutools' (which computes with gmpy2 rationals) while running in well under a second at
Seoul scale.

Money may have decimals in a pabulib file (`PBInstance.unit`: amounts are whole multiples of
1/unit); rules work on the whole multiples and Add1 adds one whole unit of money (``unit``
multiples) per step, as pabutools adds 1 to its exact fractions.

MES rules also explain themselves (`tally_explained`): per selected project, who paid how much
and what share of their budget was left; per rejected project, the winner of the last round at
which its supporters could still have paid for it, and both prices (`Explanation`).

Selected projects are listed in the order the rule picks them.

**No project without a vote is selected** (the city's rule, whatever the tally rule): a
project that no ballot approved (weighted votes 0, online and offline) is never selected, even
when money is left and it fits. pabutools' greedy (and so greedy completion) would fund it with
what is left; every rule here drops it from the selection instead, which removes it and changes
nothing else (unvoted projects come last in greedy's order and are never MES candidates). The
published rules, unvoted projects included, are kept for comparison with pabutools
(``as_published=True``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from itertools import chain
from operator import attrgetter

import numpy as np

from domain.equal_shares import Ballots, EqualShares, IntArray, add1, equal_shares
from domain.pabulib import PBInstance, Votes

__all__ = [
    "MES_RULES",
    "RULES",
    "Explanation",
    "PaidProject",
    "RejectedProject",
    "Sat",
    "SeoulRuleError",
    "TallyResult",
    "greedy",
    "mes",
    "mes_add1",
    "mes_add1_greedy",
    "mes_greedy",
    "seoul_elimination",
    "tally",
    "tally_explained",
]

RULES = ("greedy", "seoul", "mes", "mes+greedy", "mes+add1", "mes+add1+greedy")
MES_RULES = ("mes", "mes+greedy", "mes+add1", "mes+add1+greedy")


class Sat(StrEnum):
    """How a voter values a selected project they approved (pabutools' satisfaction measure)."""

    COST = "cost"  # its cost (Cost_Sat)
    CARDINALITY = "cardinality"  # 1 (Cardinality_Sat)


@dataclass(frozen=True)
class TallyResult:
    """Selected ids in the order the rule picked them; money in multiples of 1/unit."""

    rule: str
    selected: list[str]
    cost: int
    budget: int
    unit: int = 1


@dataclass(frozen=True)
class PaidProject:
    """A project MES bought, and who paid for it (money per ballot, in the election's money).

    ``full_payers`` ballots paid ``price`` each; ``partial_payers`` had less left and paid all
    of it; ``broke`` supporters had nothing left. ``share_left`` is what the payers still held
    afterwards, as a share of their equal share (averaged over payers). ``effective_votes`` is
    the cost over the price (equalshares.net's "effective vote count").
    """

    project: str
    cost: Fraction
    supporters: int
    full_payers: int
    partial_payers: int
    broke: int
    price: float
    share_left: float
    effective_votes: float


@dataclass(frozen=True)
class RejectedProject:
    """A project the rule did not select, and why.

    ``reason``: ``beaten`` — its supporters could have paid for it until ``beaten_by`` won a
    round (its supporters would have paid ``price`` each, the winner's paid ``winner_price``
    each) and their money no longer sufficed after; ``too_little_support`` — its supporters
    never held its cost between them; ``no_votes``; ``no_room`` — under a greedy completion,
    it no longer fitted the budget left. ``money`` is what its supporters held at the end.
    """

    project: str
    cost: Fraction
    supporters: int
    reason: str
    beaten_by: str | None = None
    price: float | None = None
    winner_price: float | None = None
    winner_cost: Fraction | None = None
    money: float = 0.0


@dataclass(frozen=True)
class Explanation:
    """Why an MES rule selected what it did; money in the election's money (not multiples)."""

    rule: str
    sat: Sat
    start_share: Fraction  # budget / voters: each voter's equal share before any completion
    share: Fraction  # the equal share of the run explained (raised by Add1)
    paid: list[PaidProject]
    completed: list[str]  # added afterwards by greedy completion, in order
    rejected: list[RejectedProject]

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-ready data (money as numbers in the election's money)."""
        return {
            "sat": self.sat.value,
            "start_share": _number(self.start_share),
            "share": _number(self.share),
            "selected": [
                {
                    "project": p.project,
                    "cost": _number(p.cost),
                    "supporters": p.supporters,
                    "paid_in_full": p.full_payers,
                    "paid_all_they_had": p.partial_payers,
                    "had_nothing_left": p.broke,
                    "price_per_supporter": round(p.price, 2),
                    "share_left": round(p.share_left, 4),
                    "effective_votes": round(p.effective_votes, 2),
                }
                for p in self.paid
            ],
            "completed": list(self.completed),
            "rejected": [
                {
                    "project": r.project,
                    "cost": _number(r.cost),
                    "supporters": r.supporters,
                    "reason": r.reason,
                    "beaten_by": r.beaten_by,
                    "price_per_supporter": None if r.price is None else round(r.price, 2),
                    "winner_price_per_supporter": (
                        None if r.winner_price is None else round(r.winner_price, 2)
                    ),
                    "effective_votes": _effective(r.cost, r.price),
                    "winner_effective_votes": _effective(r.winner_cost, r.winner_price),
                    "supporters_money": round(r.money, 2),
                }
                for r in self.rejected
            ],
        }


def _effective(cost: Fraction | None, price: float | None) -> float | None:
    """equalshares.net's effective vote count: how many full shares the price stands for."""
    return None if cost is None or not price else round(float(cost) / price, 2)


def _number(value: Fraction) -> int | float:
    return value.numerator if value.denominator == 1 else float(value)


class SeoulRuleError(ValueError):
    """The Seoul rule cannot be applied within its configured shares."""


def tally(
    instance: PBInstance, rule: str, sat: Sat = Sat.COST, *, as_published: bool = False
) -> TallyResult:
    """Run `rule` (one of `RULES`); `sat` is ignored by ``seoul``. A project without votes is
    never selected unless ``as_published`` (pabutools' rule as is, for comparisons only)."""
    return tally_explained(instance, rule, sat, explain=False, as_published=as_published)[0]


def tally_explained(
    instance: PBInstance,
    rule: str,
    sat: Sat = Sat.COST,
    explain: bool = True,
    *,
    as_published: bool = False,
    workers: int = 1,
) -> tuple[TallyResult, Explanation | None]:
    """`tally`, with the explanation of an MES rule (None for the others). `workers`: processes
    Add1's search may use (see `domain.equal_shares.add1`)."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; expected one of {', '.join(RULES)}")
    if rule == "seoul":
        return seoul_elimination(instance, as_published=as_published), None
    election = _Election(instance)
    if rule == "greedy":
        chosen = election.greedy(sat, [])
        return election.result(rule, chosen if as_published else election.voted(chosen)), None
    add1 = rule.startswith("mes+add1")
    initial, run = election.mes(sat, add1=add1, explain=explain, workers=workers)
    selected = initial + run.selected
    if rule.endswith("+greedy"):
        selected = election.greedy(Sat.COST, selected)
    if not as_published:
        selected = election.voted(selected)
    result = election.result(rule, selected)
    explanation = election.explanation(rule, sat, initial, run, selected) if explain else None
    return result, explanation


def greedy(instance: PBInstance, sat: Sat = Sat.COST) -> TallyResult:
    return tally(instance, "greedy", sat)


def mes(instance: PBInstance, sat: Sat = Sat.COST) -> TallyResult:
    return tally(instance, "mes", sat)


def mes_greedy(instance: PBInstance, sat: Sat = Sat.COST) -> TallyResult:
    return tally(instance, "mes+greedy", sat)


def mes_add1(instance: PBInstance, sat: Sat = Sat.COST) -> TallyResult:
    return tally(instance, "mes+add1", sat)


def mes_add1_greedy(instance: PBInstance, sat: Sat = Sat.COST) -> TallyResult:
    return tally(instance, "mes+add1+greedy", sat)


def seoul_elimination(
    instance: PBInstance,
    min_share: Fraction | float = Fraction(5, 100),
    max_share: Fraction | float = Fraction(30, 100),
    *,
    as_published: bool = False,
) -> TallyResult:
    """Seoul's 엠보팅 rule: drop the least-voted projects, 5–30 % of the budget by cost.

    The seed gives the range, not the procedure; this is the reading implemented. Projects are
    ranked by votes (weighted approvals), fewest first, ties as in the module docstring. They are
    dropped from the bottom, whole, while the dropped cost is below ``min_share`` of the budget
    (탈락 하한) or the remaining projects cost more than the budget; the rest are selected, most
    votes first. If that drops more than ``max_share`` of the budget (탈락 상한), the candidate list
    was too long for the rule as configured and `SeoulRuleError` says so. Both shares are admin
    settings (floats are read as the decimal they print as: 0.3 is 3/10).
    """
    low, high = _share(min_share), _share(max_share)
    if low > high:
        raise ValueError(f"min_share {low} is larger than max_share {high}")
    election = _Election(instance)
    budget = election.budget
    ranked = sorted(range(len(election.ids)), key=lambda i: (election.scores[i], -i))
    survivors_cost = sum(election.costs)
    dropped_cost = 0
    kept = 0
    while kept < len(ranked) and (dropped_cost < low * budget or survivors_cost > budget):
        cost = election.costs[ranked[kept]]
        dropped_cost += cost
        survivors_cost -= cost
        kept += 1
    if dropped_cost > high * budget:
        raise SeoulRuleError(
            f"the rule drops projects costing {_money(dropped_cost, election.unit)} won, more "
            f"than {float(high):.0%} of the budget {_money(budget, election.unit)}: shorten "
            "the candidate list or raise the maximum share"
        )
    survivors = ranked[kept:][::-1]
    # Unvoted survivors are not selected (module docstring); they were not "dropped" by the
    # rule, so they do not count towards its shares.
    return election.result("seoul", survivors if as_published else election.voted(survivors))


def _share(value: Fraction | float) -> Fraction:
    share = value if isinstance(value, Fraction) else Fraction(str(value))
    if not 0 <= share <= 1:
        raise ValueError(f"a share of the budget must be between 0 and 1, not {value}")
    return share


class _Election:
    """An instance with identical ballots merged and weights scaled to integers.

    Projects are numbered in pabutools' tie-breaking order (ids sorted as strings), so a lower
    number always wins a tie.
    """

    def __init__(self, instance: PBInstance) -> None:
        self.budget = instance.budget
        self.unit = instance.unit
        self.ids = sorted(instance.projects)
        self.costs = [instance.projects[pid].cost for pid in self.ids]
        votes = instance.votes
        index = {pid: i for i, pid in enumerate(self.ids)}
        if isinstance(votes, Votes):
            # Read in bulk: every ballot weighs 1, the approvals are arrays already.
            weights = np.ones(len(votes), dtype=np.int64)
            in_order = np.array([index.get(p, -1) for p in votes.project_ids], dtype=np.int64)
            voter, project = votes.entry_voter, in_order[votes.entry_project]
            if np.any(project < 0):
                unknown = votes.project_ids[int(votes.entry_project[np.argmin(project)])]
                raise ValueError(f"a ballot approves unknown project {unknown!r}")
        else:
            distinct_weights = set(map(_weight_of, votes))
            if distinct_weights <= {1.0}:
                weights = np.ones(len(votes), dtype=np.int64)
            else:
                scaled = _scaled_weights(distinct_weights)
                weights = np.fromiter(
                    map(scaled.__getitem__, map(_weight_of, votes)), np.int64, len(votes)
                )
            voter, project = _entries(index, [v.approved for v in votes])
        self.total_weight = int(weights.sum()) if len(votes) else 0
        self.ballots = _merge(self.costs, voter, project, weights)
        scores = np.zeros(len(self.ids), dtype=np.int64)
        np.add.at(scores, self.ballots.projects, self.ballots.weight[self.ballots.entry_group])
        self.scores = [int(score) for score in scores]

    def result(self, rule: str, selected: Sequence[int]) -> TallyResult:
        return TallyResult(
            rule=rule,
            selected=[self.ids[i] for i in selected],
            cost=sum(self.costs[i] for i in selected),
            budget=self.budget,
            unit=self.unit,
        )

    def voted(self, selected: Sequence[int]) -> list[int]:
        """The selection without the projects no ballot approved (the city's rule)."""
        return [i for i in selected if self.scores[i] > 0]

    def greedy(self, sat: Sat, initial: list[int]) -> list[int]:
        """pabutools' additive greedy: by satisfaction per won, skipping what no longer fits."""

        def rank(i: int) -> tuple[int, Fraction, int]:
            cost, score = self.costs[i], self.scores[i]
            if sat is Sat.COST:
                # Cost satisfaction of a free project is 0, whatever its votes.
                return (1, -Fraction(score if cost else 0), i)
            if cost == 0:
                return (0 if score else 1, Fraction(0), i)  # a voted free project: infinite
            return (1, -Fraction(score, cost), i)

        selected = list(initial)
        remaining = self.budget - sum(self.costs[i] for i in initial)
        taken = set(initial)
        for i in sorted((i for i in range(len(self.ids)) if i not in taken), key=rank):
            if self.costs[i] <= remaining:
                selected.append(i)
                remaining -= self.costs[i]
        return selected

    def mes(
        self, sat: Sat, add1: bool, explain: bool, workers: int = 1
    ) -> tuple[list[int], EqualShares]:
        """MES (with Add1 completion if asked): the free projects taken first, and the run."""
        voted = [i for i in range(len(self.ids)) if self.scores[i] > 0]
        # pabutools puts free projects with satisfied supporters in the initial allocation.
        initial = [i for i in voted if self.costs[i] == 0] if sat is Sat.CARDINALITY else []
        candidates = [i for i in voted if self.costs[i] > 0]
        utility = self.costs if sat is Sat.COST else [1] * len(self.ids)
        if self.total_weight == 0:
            return initial, EqualShares(Fraction(0), [], [], [])
        if add1:
            run = _add1(self.ballots, utility, candidates, self.budget, self.unit, explain, workers)
        else:
            share = Fraction(self.budget, self.total_weight)
            run = equal_shares(self.ballots, utility, candidates, share, explain)
        return initial, run

    def explanation(
        self, rule: str, sat: Sat, initial: list[int], run: EqualShares, selected: list[int]
    ) -> Explanation:
        unit = self.unit
        supporters = _supporter_counts(self.ballots)
        paid = [
            PaidProject(
                project=self.ids[r.project],
                cost=Fraction(self.costs[r.project], unit),
                supporters=supporters[r.project],
                full_payers=r.full_payers,
                partial_payers=r.partial_payers,
                broke=r.broke,
                price=r.price / unit,
                share_left=r.share_left,
                effective_votes=self.costs[r.project] / r.price if r.price else math.inf,
            )
            for r in run.rounds
        ]
        chosen = set(selected)
        by_mes = set(initial) | set(run.selected)
        completed = [self.ids[i] for i in selected if i not in by_mes]
        reasons = {r.project: r for r in run.rejections}
        rejected = []
        for i, pid in enumerate(self.ids):
            if i in chosen:
                continue
            cost = Fraction(self.costs[i], unit)
            why = reasons.get(i)
            if self.scores[i] == 0:
                rejected.append(RejectedProject(pid, cost, 0, "no_votes"))
            elif why is None:
                # Voted, costs nothing, cost satisfaction: worthless to MES and to greedy.
                rejected.append(RejectedProject(pid, cost, supporters[i], "no_room"))
            elif why.beaten_by is None:
                rejected.append(
                    RejectedProject(
                        pid, cost, supporters[i], "too_little_support", money=why.money / unit
                    )
                )
            else:
                rejected.append(
                    RejectedProject(
                        pid,
                        cost,
                        supporters[i],
                        "beaten",
                        beaten_by=self.ids[why.beaten_by],
                        price=(why.price or 0.0) / unit,
                        winner_price=(why.winner_price or 0.0) / unit,
                        winner_cost=Fraction(self.costs[why.beaten_by], unit),
                        money=why.money / unit,
                    )
                )
        start = (
            Fraction(self.budget, self.total_weight * unit) if self.total_weight else Fraction(0)
        )
        return Explanation(
            rule=rule,
            sat=sat,
            start_share=start,
            share=run.share / unit,
            paid=paid,
            completed=completed,
            rejected=rejected,
        )


def _entries(index: dict[str, int], ballots: list[tuple[str, ...]]) -> tuple[IntArray, IntArray]:
    """Each approval as (ballot, project number)."""
    lengths = np.fromiter(map(len, ballots), np.int64, len(ballots))
    flat = list(chain.from_iterable(ballots))
    try:
        project = np.fromiter(map(index.__getitem__, flat), np.int64, len(flat))
    except KeyError as exc:
        raise ValueError(f"a ballot approves unknown project {exc.args[0]!r}") from None
    return np.repeat(np.arange(len(ballots), dtype=np.int64), lengths), project


def _merge(costs: list[int], voter: IntArray, project: IntArray, weights: IntArray) -> Ballots:
    """Identical ballots merged (repeated approvals count once; empty ballots dropped).

    Ballot ``voter[k]`` approves project ``project[k]``, entries in ballot order. Each ballot
    becomes a row of bits, one per project; equal rows are one group, whose projects come out
    in index order.
    """
    n = len(weights)
    words = max(1, (len(costs) + 63) // 64)
    rows = np.zeros((n, words), dtype=np.uint64)
    bit = np.left_shift(np.uint64(1), (project % 64).astype(np.uint64))
    np.bitwise_or.at(rows, (voter, project // 64), bit)
    # Equal rows next to each other (sorted by all their words), then numbered.
    order = np.lexsort(rows.T)
    ordered = rows[order]
    starts = np.ones(n, dtype=bool)
    starts[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    group_of = np.empty(n, dtype=np.int64)
    group_of[order] = np.cumsum(starts) - 1
    first = order[starts]  # one ballot of each group
    weight = np.zeros(len(first), dtype=np.int64)
    np.add.at(weight, group_of, weights)
    count = np.bincount(group_of, minlength=len(first)).astype(np.int64)
    # A group's projects are those of its one ballot, sorted, repeats dropped.
    lengths = np.bincount(voter, minlength=n)
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    sizes = lengths[first]
    entries = np.repeat(offsets[first] - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())
    group = np.repeat(np.arange(len(first), dtype=np.int64), sizes)
    pairs = np.sort(group * len(costs) + project[entries])
    if len(pairs):
        pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
    group, projects = np.divmod(pairs, max(len(costs), 1))
    # An empty ballot holds a share of the budget but approves nothing: no group for it.
    sizes = np.bincount(group, minlength=len(first))
    keep = sizes > 0
    weight, count, sizes = weight[keep], count[keep], sizes[keep]
    start = np.concatenate(([0], np.cumsum(sizes)))
    return Ballots(
        costs=costs,
        weight=weight,
        count=count,
        group_start=start.astype(np.int64),
        projects=projects.astype(np.int64),
        total_weight=int(weights.sum()),
    )


def _add1(
    ballots: Ballots,
    utility: Sequence[int],
    candidates: list[int],
    budget: int,
    unit: int,
    explain: bool,
    workers: int = 1,
) -> EqualShares:
    return add1(ballots, utility, candidates, budget, step=unit, explain=explain, workers=workers)


def _supporter_counts(ballots: Ballots) -> list[int]:
    counts = np.bincount(
        ballots.projects, weights=ballots.count[ballots.entry_group], minlength=len(ballots.costs)
    )
    return [round(c) for c in counts]


def _money(amount: int, unit: int) -> str:
    value = Fraction(amount, unit)
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.2f}"


_weight_of = attrgetter("weight")


def _scaled_weights(weights: set[float]) -> dict[float, int]:
    for weight in weights:
        if not (math.isfinite(weight) and weight > 0):
            raise ValueError(f"ballot weights must be positive numbers, not {weight}")
    exact = {w: Fraction(repr(w)) for w in weights}
    scale = math.lcm(*(f.denominator for f in exact.values()))
    return {w: int(f * scale) for w, f in exact.items()}
