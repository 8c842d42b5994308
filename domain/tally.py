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

Ties (identical to pabutools' default ``lexico_tie_breaking``): among projects equally good for
the rule, the one whose id comes first in plain string order (``"10" < "9"``) is taken first.
For ``seoul`` the least-voted are dropped first and, among equal votes, the id that comes last
is dropped first, so the rule drops exactly the projects greedy would rank last.

Ballot weights (가중치) are exact: each weight is read as the decimal it prints as (0.1 is 1/10,
so ten ballots of 0.1 tie one of 1.0) and all are scaled to integers by their common
denominator; a ballot of scaled weight w counts as w identical ballots, which is what pabutools
computes on a multiprofile with those multiplicities.

Identical ballots are aggregated. MES screens candidates with numpy floats and decides every
comparison that floats could get wrong with exact integer arithmetic, so outcomes equal
pabutools' (which computes with gmpy2 rationals) while running in well under a second at
Seoul scale.

Selected projects are listed in the order the rule picks them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from domain.pabulib import PBInstance

__all__ = [
    "RULES",
    "Sat",
    "SeoulRuleError",
    "TallyResult",
    "greedy",
    "mes",
    "mes_greedy",
    "seoul_elimination",
    "tally",
]

RULES = ("greedy", "seoul", "mes", "mes+greedy")

# Relative margin within which a float comparison is re-done exactly. The floats compared are
# sums of non-negative terms, each a few roundings (2**-53) off: errors stay far below this.
_TOLERANCE = 1e-9

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Sat(StrEnum):
    """How a voter values a selected project they approved (pabutools' satisfaction measure)."""

    COST = "cost"  # its cost (Cost_Sat)
    CARDINALITY = "cardinality"  # 1 (Cardinality_Sat)


@dataclass(frozen=True)
class TallyResult:
    rule: str
    selected: list[str]
    cost: int
    budget: int


class SeoulRuleError(ValueError):
    """The Seoul rule cannot be applied within its configured shares."""


def tally(instance: PBInstance, rule: str, sat: Sat = Sat.COST) -> TallyResult:
    """Run `rule` (one of `RULES`); `sat` is ignored by ``seoul``."""
    if rule == "greedy":
        return greedy(instance, sat)
    if rule == "seoul":
        return seoul_elimination(instance)
    if rule == "mes":
        return mes(instance, sat)
    if rule == "mes+greedy":
        return mes_greedy(instance, sat)
    raise ValueError(f"unknown rule {rule!r}; expected one of {', '.join(RULES)}")


def greedy(instance: PBInstance, sat: Sat = Sat.COST) -> TallyResult:
    election = _Election(instance)
    return election.result("greedy", election.greedy(sat, []))


def mes(instance: PBInstance, sat: Sat = Sat.COST) -> TallyResult:
    election = _Election(instance)
    return election.result("mes", election.mes(sat))


def mes_greedy(instance: PBInstance, sat: Sat = Sat.COST) -> TallyResult:
    election = _Election(instance)
    return election.result("mes+greedy", election.greedy(Sat.COST, election.mes(sat)))


def seoul_elimination(
    instance: PBInstance,
    min_share: Fraction | float = Fraction(5, 100),
    max_share: Fraction | float = Fraction(30, 100),
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
    budget = instance.budget
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
            f"the rule drops projects costing {dropped_cost} won, more than "
            f"{float(high):.0%} of the budget {budget}: shorten the candidate list or raise the "
            "maximum share"
        )
    return election.result("seoul", ranked[kept:][::-1])


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
        self.ids = sorted(instance.projects)
        self.costs = [instance.projects[pid].cost for pid in self.ids]
        index = {pid: i for i, pid in enumerate(self.ids)}
        votes = instance.votes
        distinct_weights = {vote.weight for vote in votes}
        raw: Counter[tuple[str, ...]] = Counter()
        if distinct_weights <= {1.0}:
            raw.update(vote.approved for vote in votes)
            self.total_weight = len(votes)
        else:
            scaled = _scaled_weights(distinct_weights)
            for vote in votes:
                raw[vote.approved] += scaled[vote.weight]
            self.total_weight = sum(raw.values())
        groups: Counter[tuple[int, ...]] = Counter()
        for approved, weight in raw.items():
            try:
                key = tuple(sorted({index[pid] for pid in approved}))
            except KeyError as exc:
                raise ValueError(f"a ballot approves unknown project {exc.args[0]!r}") from None
            groups[key] += weight
        # Empty ballots only count in total_weight (they still get a share of the budget in MES).
        groups.pop((), None)
        self.groups = list(groups.items())
        self.scores = [0] * len(self.ids)
        for key, weight in self.groups:
            for i in key:
                self.scores[i] += weight

    def result(self, rule: str, selected: Sequence[int]) -> TallyResult:
        return TallyResult(
            rule=rule,
            selected=[self.ids[i] for i in selected],
            cost=sum(self.costs[i] for i in selected),
            budget=self.budget,
        )

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

    def mes(self, sat: Sat) -> list[int]:
        if self.total_weight == 0:
            return []
        costs = self.costs
        voted = [i for i in range(len(self.ids)) if self.scores[i] > 0]
        # pabutools puts free projects with satisfied supporters in the initial allocation.
        initial = [i for i in voted if costs[i] == 0] if sat is Sat.CARDINALITY else []
        candidates = [i for i in voted if costs[i] > 0]
        if not candidates:
            return initial
        return initial + _EqualShares(self, sat, candidates).run()


def _scaled_weights(weights: set[float]) -> dict[float, int]:
    for weight in weights:
        if not (math.isfinite(weight) and weight > 0):
            raise ValueError(f"ballot weights must be positive numbers, not {weight}")
    exact = {w: Fraction(repr(w)) for w in weights}
    scale = math.lcm(*(f.denominator for f in exact.values()))
    return {w: int(f * scale) for w, f in exact.items()}


class _EqualShares:
    """One run of MES on an aggregated election.

    Voters' remaining budgets take few distinct values ("levels"); each ballot group sits on one
    level. Budgets are kept exactly as integer numerators over one common denominator `den`
    (per unit of scaled weight), and as floats for screening. A project's price `q` is what each
    supporter with enough budget pays; its affordability is q / utility.
    """

    def __init__(self, election: _Election, sat: Sat, candidates: list[int]) -> None:
        self.election = election
        self.active = candidates
        self.n_projects = len(election.ids)
        self.costs = np.array(election.costs, dtype=np.float64)
        utility = election.costs if sat is Sat.COST else [1] * self.n_projects
        self.utility = utility
        self.utility_f = np.array(utility, dtype=np.float64)
        weights = [weight for _, weight in election.groups]
        self.weights = weights
        self.weights_f = np.array(weights, dtype=np.float64)
        # Float sums of integer weights are exact below 2**53, so level totals can be read back.
        self.exact_floats = election.total_weight < 2**53
        sizes = [len(key) for key, _ in election.groups]
        self.entry_group = np.repeat(np.arange(len(weights), dtype=np.int64), sizes)
        self.entry_project = np.fromiter(
            (i for key, _ in election.groups for i in key),
            dtype=np.int64,
            count=int(sum(sizes)),
        )
        order = np.argsort(self.entry_project, kind="stable")
        bounds = np.cumsum(np.bincount(self.entry_project, minlength=self.n_projects))
        self.supporters = np.split(self.entry_group[order], bounds[:-1])
        self.entry_weight = self.weights_f[self.entry_group]
        # Everyone starts with budget / total weight.
        self.den = election.total_weight
        self.levels = [election.budget]
        self.group_level: IntArray = np.zeros(len(weights), dtype=np.int64)

    def run(self) -> list[int]:
        selected: list[int] = []
        while self.active:
            choice = self.next_project()
            if choice is None:
                break
            project, need, rest = choice
            self.pay(project, need, rest)
            self.active.remove(project)
            selected.append(project)
        return selected

    def level_totals(self) -> FloatArray:
        """Weight of each project's supporters on each level (projects × levels)."""
        n_levels = len(self.levels)
        flat = self.entry_project * n_levels + self.group_level[self.entry_group]
        totals = np.bincount(flat, weights=self.entry_weight, minlength=self.n_projects * n_levels)
        return totals.astype(np.float64, copy=False).reshape(self.n_projects, n_levels)

    def next_project(self) -> tuple[int, int, int] | None:
        """The project MES buys next with its exact price, or None when nothing is affordable."""
        totals = self.level_totals()
        budgets = np.array([level / self.den for level in self.levels])
        while self.active:
            active = np.array(self.active)
            weight = totals[active]
            cost = self.costs[active]
            available = weight @ budgets
            # Budgets only shrink, so a project out of reach now stays out of reach.
            reachable = available >= cost * (1 - _TOLERANCE)
            if not reachable.all():
                self.active = [p for p, ok in zip(self.active, reachable, strict=True) if ok]
                continue
            approximate = self.float_prices(weight, cost, budgets) / self.utility_f[active]
            first = int(active[int(np.argmin(approximate))])
            exact = self.exact_price(first, totals)
            if exact is None:
                self.active.remove(first)
                continue
            # Anyone whose supporters could cover its cost at `first`'s affordability is at least
            # as good: decide those exactly. (Sums of non-negative terms: no cancellation.)
            rho = float(Fraction(exact[0], exact[1] * self.utility[first] * self.den))
            payable = np.minimum(budgets[None, :], rho * self.utility_f[active][:, None])
            contenders = active[(weight * payable).sum(axis=1) >= cost * (1 - _TOLERANCE)]
            best = (Fraction(exact[0], exact[1] * self.utility[first]), first, *exact)
            for project in map(int, contenders):
                if project == first:
                    continue
                price = self.exact_price(project, totals)
                if price is None:
                    continue
                key = (Fraction(price[0], price[1] * self.utility[project]), project, *price)
                best = min(best, key)
            return best[1], best[2], best[3]
        return None

    def float_prices(self, weight: FloatArray, cost: FloatArray, budgets: FloatArray) -> FloatArray:
        """Approximate price of each project: solve sum(w * min(b, q)) = cost for q."""
        order = np.argsort(budgets, kind="stable")
        b = budgets[order]
        w = weight[:, order]
        zeros = np.zeros((len(w), 1))
        before = np.hstack([zeros, np.cumsum(w * b, axis=1)])[:, :-1]
        from_here = w.sum(axis=1, keepdims=True) - np.hstack([zeros, np.cumsum(w, axis=1)])[:, :-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            price = (cost[:, None] - before) / from_here
        fits = (from_here > 0) & (price <= b[None, :] * (1 + _TOLERANCE))
        # Projects on the edge of affordability may find no level in floats: price them at
        # the largest budget, the highest they could need; the exact check follows.
        chosen = np.where(fits.any(axis=1), price[np.arange(len(w)), fits.argmax(axis=1)], b[-1])
        return np.asarray(chosen, dtype=np.float64)

    def exact_price(self, project: int, totals: FloatArray) -> tuple[int, int] | None:
        """Exact price as need / (rest * den), or None if the supporters cannot afford it."""
        if self.exact_floats:
            row = totals[project]
            weight_by_level = {int(lv): int(row[lv]) for lv in np.flatnonzero(row)}
        else:
            weight_by_level = {}
            for group in self.supporters[project]:
                level = int(self.group_level[group])
                weight_by_level[level] = weight_by_level.get(level, 0) + self.weights[group]
        need = self.election.costs[project] * self.den
        rest = sum(weight_by_level.values())
        for level, weight in sorted(weight_by_level.items(), key=lambda lw: self.levels[lw[0]]):
            if need <= self.levels[level] * rest:
                return need, rest
            need -= weight * self.levels[level]
            rest -= weight
        return None

    def pay(self, project: int, need: int, rest: int) -> None:
        """Supporters pay min(budget, price); levels move to the new common denominator."""
        common = math.gcd(need, rest)
        price, scale = need // common, rest // common
        self.den *= scale
        levels = [level * scale for level in self.levels]
        supporters = self.supporters[project]
        touched = np.unique(self.group_level[supporters])
        lookup = {value: i for i, value in enumerate(levels)}
        moved = np.arange(len(levels), dtype=np.int64)
        for level in map(int, touched):
            after = max(0, levels[level] - price)
            if after not in lookup:
                lookup[after] = len(levels)
                levels.append(after)
            moved[level] = lookup[after]
        self.group_level[supporters] = moved[self.group_level[supporters]]
        # Drop levels nobody sits on any more, keeping the arrays small.
        used = np.flatnonzero(np.bincount(self.group_level, minlength=len(levels)))
        renumber = np.zeros(len(levels), dtype=np.int64)
        renumber[used] = np.arange(len(used))
        self.group_level = renumber[self.group_level]
        self.levels = [levels[i] for i in used]
