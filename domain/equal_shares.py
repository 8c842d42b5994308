"""The Method of Equal Shares (MES) on approval ballots: exact, fast, with Add1 completion.

`EqualShares` runs MES once at a given per-voter budget and can say, round by round, who paid
what. `add1` is the completion cities use (equalshares.net, pabutools'
``method_of_equal_shares(..., voter_budget_increment=1)``): raise every voter's equal share by
one unit of money at a time, re-running MES, and stop at the first share whose outcome is
exhaustive (it is kept) or goes over the real budget (the previous outcome is kept).

How it stays exact and fast. Ballots are merged into groups of identical ballots (`Ballots`).
Budgets are screened with floats; whenever floats could get a comparison wrong (a near tie
between two projects, a supporter whose budget is within rounding of a price, a project whose
supporters hold almost exactly its cost), the comparison is redone exactly. Exact budgets are
never stored: a supporter who has never run out of money holds its share minus the exact
prices of the winners it approved, and one who ran out holds 0, so any exact figure can be
rebuilt from the prices, which are computed exactly on demand (`_Run.exact_price`).

Add1 without one run per unit of money. With the same earlier winners, raising the share
can only raise every budget and lower every price. A certification run at share s2 replays
the outcome of a run at s1 < s2 alongside its own and keeps, for every group of voters, bounds
on how fast its budget grows with the share at any share in between (a supporter sure to pay
the price everywhere in between grows as fast as before minus the price's slope; one sure to
pay all it has drops to 0). Prices get slope bounds the same way, so for each round the gap
between the winner's price per unit of value and a close rival's is known at both ends and
bounded in between: if it stays positive, the winner holds at every share in between. Rounds
are certified one by one (`_Run.run` with a reference); `failed_at` is the first that cannot
be, `crossing` a share below which its close rivals cannot overtake. Checking only the two ends
would not do: at Seoul scale some voter group switches between paying the price and paying
all it has every few won, so prices are piecewise linear with very short pieces.

The completion then moves from share to share: ranges whose outcome is certified, or where
even an uncertified outcome cannot stop the completion (`add1.never_stops`: the winners up to
`failed_at` plus everything still affordable then leave room in the budget), are skipped
whole; a failed certification gives where to look next (just below `crossing`), else the range
is halved (a certified range also forecasts where closing gaps would meet: the next place to
look); a single step of one unit is always a plain run. At Seoul scale most runs go to the
few dozen shares where the outcome really changes, about three runs each.

Less work per run. A failed certification still vouches for the rounds before its failure,
at every share of its range (`_Known`): later runs in that range, plain or certifying, buy
those winners without weighing the other projects, and start the next round with the failed
run's bounds and projects left (they hold at lower shares too); a certifying run in that
range also takes on the growth bounds found with it (bounds that hold over a range hold over
any part of it) instead of working them out round by round. A
certification replays its reference's rounds from what the reference's payers held after
each (`_Run.follow`), without paying again. Price searches start from the price of a run at
a close share, or the project's last price (`_solve_price`). Runs below a share cap leave
out the projects whose supporters could not pay for them even with all their money at the
cap, and merge the ballots that then approve the same (`Ballots.restricted`: at Seoul scale 30%
fewer groups); the cap moves up by half whenever the completion gets near it. Dot
products are cut into pieces that OpenBLAS keeps on one thread (`_dot`): spread over threads
they cost more than they save, and take the other cores of a shared machine. Supporter arrays
are short (about 2,000 groups), so each numpy call costs more in overhead than in arithmetic:
a project's supporters' budgets are gathered once a round (`_Run.held`) and updated in place,
and sums over some of them are dot products with a mask rather than picks (faster on long
arrays; explanations, which print prices, keep the sums they always had).

Two processes, where a second core is free (`add1(workers=2)`, as `civicbot tally` runs it).
The answer is the first share that stops the completion, so the search splits by shares: a
forked child finds a share that stops it (the answer is at or below), then walks chunks of
shares below that downwards, while this process walks up from the first share; they meet in
between (`_split_search`). At Seoul scale the search then takes about two thirds of the
time it takes in one process (bench/RESULTS.md).

Not "ADD-OPT" ("Streamlining Equal Shares", arXiv 2502.11797): it finds the next budget at
which Exact Equal Shares changes its outcome, where every supporter pays the same; under MES
a supporter who runs short pays all it has, so prices are only piecewise linear in the share
(with very short pieces at Seoul scale) and the certification above plays its part.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

__all__ = ["Ballots", "EqualShares", "MESRound", "Rejection", "add1", "equal_shares"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Relative margin within which a float comparison is redone exactly. Budgets are sums of a few
# hundred roundings at most (each 2**-53 relative): errors stay far below this.
_TOLERANCE = 1e-9
# A supporter whose budget is this close to a price is classified exactly.
_NEAR = 1e-7
# How far above the share reached the completion looks (see `_Completion.widen`).
_WIDEN = Fraction(3, 2)
# The growth bounds of a run that certifies nothing.
_NO_SLOPES: FloatArray = np.ones(0)
# OpenBLAS runs dot products of more than 10,000 entries on several threads.
_DOT_PIECE = 8192
# `ndarray.sum()` without its Python wrapper (the same reduction): called tens of thousands
# of times a completion, on short arrays.
_sum = np.add.reduce
# `np.count_nonzero` without its Python wrapper (the same count, in half the time): called
# about 90,000 times a completion at Seoul scale.
try:
    from numpy._core.multiarray import count_nonzero as _count_nonzero
except ImportError:  # another numpy layout: the wrapper does the same
    _count_nonzero = np.count_nonzero


@dataclass(frozen=True)
class Ballots:
    """An approval election with identical ballots merged.

    Projects are numbered 0..n-1 in tie-breaking order (a lower number wins a tie). Group g is
    one distinct ballot: it approves ``projects[group_start[g]:group_start[g + 1]]``, weighs
    ``weight[g]`` (an integer: ballot weights are scaled to integers) and stands for
    ``count[g]`` ballots. ``total_weight`` includes empty ballots, which hold a share of the
    budget but approve nothing.
    """

    costs: list[int]
    weight: IntArray
    count: IntArray
    group_start: IntArray
    projects: IntArray
    total_weight: int
    supporters: list[IntArray] = field(init=False)
    support_weights: list[FloatArray] = field(init=False)  # the supporters' weights, as floats
    support_weights_int: list[IntArray] = field(init=False)  # the same, as integers
    support_weight: list[int] = field(init=False)  # each project's supporters' total weight
    weight_f: FloatArray = field(init=False)
    entry_group: IntArray = field(init=False)

    def __post_init__(self) -> None:
        sizes = np.diff(self.group_start)
        entry_group = np.repeat(np.arange(len(self.weight), dtype=np.int64), sizes)
        order = np.argsort(self.projects, kind="stable")
        n = len(self.costs)
        bounds = np.cumsum(np.bincount(self.projects, minlength=n))
        supporters = np.split(entry_group[order], bounds[:-1]) if n else []
        object.__setattr__(self, "entry_group", entry_group)
        object.__setattr__(self, "supporters", supporters)
        weight = self.weight.astype(np.float64)
        object.__setattr__(self, "support_weights", [weight[s] for s in supporters])
        object.__setattr__(self, "support_weights_int", [self.weight[s] for s in supporters])
        object.__setattr__(self, "support_weight", [int(self.weight[s].sum()) for s in supporters])
        object.__setattr__(self, "weight_f", weight)

    def approvals(self, group: int) -> IntArray:
        return self.projects[self.group_start[group] : self.group_start[group + 1]]

    def restricted(self, projects: Sequence[int]) -> Ballots:
        """The election seen through `projects` only: approvals of the others dropped, and
        groups that then approve the same merged. MES runs the same on it as long as the
        others can never be bought."""
        keep = np.zeros(len(self.costs), dtype=bool)
        keep[list(projects)] = True
        kept = keep[self.projects]
        # Each group's kept approvals as a row of bits, one word per 64 projects.
        bit = np.left_shift(np.uint64(1), (self.projects % 64).astype(np.uint64))
        bit[~kept] = 0
        word = self.projects // 64
        starts = self.group_start[:-1]
        rows = np.stack(
            [
                np.bitwise_or.reduceat(np.where(word == w, bit, np.uint64(0)), starts)
                for w in range((len(self.costs) + 63) // 64)
            ],
            axis=1,
        ).reshape(len(starts), -1)
        (members,) = np.nonzero(rows.any(axis=1))
        # Equal rows next to each other, then one group each (the first stands for all).
        order = members[np.lexsort(rows[members].T)]
        ordered = rows[order]
        new = np.ones(len(order), dtype=bool)
        new[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
        (run_starts,) = np.nonzero(new)
        first = order[run_starts]
        rank = np.full(len(starts), -1, dtype=np.int64)
        rank[first] = np.arange(len(first))
        entries = kept & (rank[self.entry_group] >= 0)
        group = rank[self.entry_group[entries]]
        sizes = np.bincount(group, minlength=len(first))
        return Ballots(
            costs=self.costs,
            weight=np.add.reduceat(self.weight[order], run_starts) if len(order) else first,
            count=np.add.reduceat(self.count[order], run_starts) if len(order) else first,
            group_start=np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
            projects=self.projects[entries][np.argsort(group, kind="stable")],
            total_weight=self.total_weight,
        )


@dataclass(frozen=True)
class MESRound:
    """One project bought by MES, and who paid for it.

    Money is per unit of ballot weight (one ordinary ballot), in the election's money.
    ``full_payers`` paid ``price`` each; ``partial_payers`` had less and paid all they had left,
    ``partial_paid`` in all; ``broke`` supporters had nothing left. ``share_left`` is what the
    payers still held afterwards, as a share of their starting budget (averaged over payers);
    ``rho`` is the price per unit of value (per won of the project's cost under cost
    satisfaction), the figure MES minimises.
    """

    project: int
    price: float
    rho: float
    full_payers: int
    partial_payers: int
    partial_paid: float
    broke: int
    share_left: float


@dataclass(frozen=True)
class Rejection:
    """Why MES did not buy a project it considered.

    ``beaten_by`` is the winner of the last round at which the project's supporters could still
    have paid for it (None if they never could); ``price`` is what each of them would have paid
    then, against ``winner_price`` paid by the winner's supporters; ``money`` is what its
    supporters held in all at the end of the run (or at the start, if they never could pay).
    """

    project: int
    beaten_by: int | None
    round: int | None
    price: float | None
    rho: float | None
    winner_price: float | None
    winner_rho: float | None
    money: float


@dataclass(frozen=True)
class _Known:
    """At every share from `low` to `high`, MES's first rounds buy `winners` (a certification
    run found it). After them, `bound` (lower bounds on each project's price per unit of
    value) and `remaining` (the projects still in reach), found at `high`, hold at every
    share in between too: prices only rise as the share falls."""

    low: Fraction
    high: Fraction
    winners: list[int]
    bound: FloatArray
    remaining: list[int]
    # Bounds on the groups' budgets' growth after `winners`, at every share in between (a
    # certification within the range resumes with them instead of working them out again);
    # only for runs on `ballots`.
    ballots: Ballots | None = None
    slope_low: FloatArray | None = None
    slope_high: FloatArray | None = None

    def covers(self, low: Fraction, high: Fraction) -> bool:
        return self.low <= low and high <= self.high


class _Run:
    """One run of MES at per-unit budget `share`; with `reference`, a certification run."""

    def __init__(
        self,
        ballots: Ballots,
        utility: Sequence[int],
        candidates: Sequence[int],
        share: Fraction,
        explain: bool = False,
        broke_at: IntArray | None = None,
    ) -> None:
        self.ballots = ballots
        self.utility = utility
        self.share = share
        self.explain = explain
        n_groups = len(ballots.weight)
        self.budget: FloatArray = np.full(n_groups, float(share))
        # Round at which a group paid all it had left (it holds 0 from then on); -1 if never.
        self.broke_at: IntArray = (
            np.full(n_groups, -1, dtype=np.int64) if broke_at is None else broke_at
        )
        self.weight_f = ballots.weight_f
        self.support_weights = ballots.support_weights
        self.candidates = list(candidates)
        self.cost_f = [float(c) for c in ballots.costs]
        self.support_weight = ballots.support_weight
        # Lower bounds on each project's rho: it only grows as budgets shrink.
        self.bound: FloatArray = np.full(len(ballots.costs), np.inf)
        for p in self.candidates:
            self.bound[p] = ballots.costs[p] / (self.support_weight[p] * utility[p])
        self.remaining = list(self.candidates)  # not bought and not yet out of reach
        self.winners: list[int] = []
        self.prices_f: list[float] = []
        self.rhos_f: list[float] = []
        self.poor: list[IntArray] = []  # per round: supporters who paid all they had
        self.poor_masks: list[BoolArray] = []  # the same, as a mask over the supporters
        self.priced_now: dict[int, float | None] = {}  # float prices this round
        # Each project's last float price in this run, or in a run like it at a nearby share
        # (`hint`): where the search for its price starts.
        self.last_price: dict[int, float] = {}
        # The budgets of supporters gathered this round, by project (gathering costs).
        self.held_now: dict[int, FloatArray] = {}
        # Per round: what the winner's supporters held after paying (a certification replays
        # this run's rounds from them).
        self.held_after: list[FloatArray] = []
        self.rich_weight: list[int | None] = []  # None: not worked out yet
        self._exact_prices: dict[int, Fraction] = {}
        self.rounds: list[MESRound] = []
        self.failed_at: int | None = None
        self.affordable_at_failure: list[int] = []
        # In certification: bounds on how fast each group's budget grows with the share, at
        # every share between the reference's and this run's (see `slopes`); set up by `run`.
        self.slope_low: FloatArray = _NO_SLOPES
        self.slope_high: FloatArray = _NO_SLOPES
        self.crossing: float | None = None
        # In certification: where the gaps closing at the two ends would close, if they
        # kept closing as fast (a guess where to look next, not a bound).
        self.forecast: float | None = None

    # -- running -------------------------------------------------------------------------------

    def run(
        self,
        reference: _Run | None = None,
        until_failure: bool = False,
        known: _Known | None = None,
        hint: _Run | None = None,
    ) -> None:
        """Run to the end. With `reference` (a run at a lower share), also check round by round
        that the reference's outcome holds at every share in between (see the module doc):
        `failed_at` is the first round where that is not certain (None if it holds),
        `affordable_at_failure` the projects its supporters could still pay for then, and
        `crossing` (if known) the share at which the outcome first changes. `until_failure`:
        stop there (`run()` again finishes the run). `known`: first rounds known to hold at
        this share (and the reference's), bought without weighing the other projects; `hint`
        (else the reference): a run at a nearby share, whose prices speed up finding them."""
        shadow = None
        if reference is not None:
            if self.slope_low is _NO_SLOPES:
                self.slope_low = np.ones(len(self.budget))
                self.slope_high = np.ones(len(self.budget))
            # The reference's rounds replayed alongside: its budgets at each round.
            shadow = _Run(
                self.ballots,
                self.utility,
                self.candidates,
                reference.share,
                broke_at=reference.broke_at,
            )
            shadow._exact_prices = reference._exact_prices
        if known is not None and not self.winners:
            self.resume(known, reference, shadow, reference if hint is None else hint)
        remaining = self.remaining
        while remaining:
            round_ = len(self.winners)
            if reference is not None and shadow is not None and self.failed_at is None:
                if round_ == len(reference.winners):
                    if self.any_affordable(remaining):
                        self.fail(remaining, shadow)
                        if until_failure:
                            return
                        continue
                    for p in remaining:
                        cost = self.cost_f[p]
                        self.extrapolate(shadow, cost - shadow.money(p), cost - self.money(p))
                    return
                choice = self.choose(remaining, reference, round_, shadow)
                if choice is not None and choice < 0:
                    self.fail(remaining)
                    if until_failure:
                        return
                    continue
            else:
                choice = self.choose(remaining, None, None)
            if choice is None:
                break
            remaining.remove(choice)
            if shadow is not None and self.failed_at is None:
                assert reference is not None
                self.advance_slopes(shadow, reference, choice)
            self.pay(choice)
        if reference is not None and self.failed_at is None:
            if len(self.winners) != len(reference.winners):
                self.fail(remaining)

    def resume(
        self, known: _Known, reference: _Run | None, shadow: _Run | None, hint: _Run | None
    ) -> None:
        """Buy `known.winners`, keeping the growth bounds as certification does, and take on
        what `known` says of the projects left. `hint`: a run at a nearby share that bought
        the same first, whose prices are where the searches for these prices start."""
        if reference is not None:
            assert reference.winners[: len(known.winners)] == known.winners
        # A certification within the known range takes on its growth bounds (they hold in any
        # part of it) instead of working them out: looser in a much narrower range, but
        # working them out round by round costs more than the failures they cause.
        reuse = (
            shadow is not None
            and known.ballots is self.ballots
            and known.slope_low is not None
            and known.slope_high is not None
        )
        for round_, winner in enumerate(known.winners):
            # Known to be affordable: no need to add up its supporters' money first.
            guess = 0.0
            if hint is not None and round_ < len(hint.winners) and hint.winners[round_] == winner:
                guess = hint.prices_f[round_]
            self.priced_now[winner] = _solve_price(
                self.held(winner),
                self.support_weights[winner],
                self.cost_f[winner],
                float(self.support_weight[winner]),
                guess,
            )
            if shadow is not None and reference is not None:
                if reuse:
                    shadow.follow(reference)
                else:
                    self.advance_slopes(shadow, reference, winner)
            self.pay(winner)
        if reuse:
            assert known.slope_low is not None and known.slope_high is not None
            self.slope_low = known.slope_low.copy()
            self.slope_high = known.slope_high.copy()
        self.bound = known.bound.copy()
        self.remaining = list(known.remaining)

    def known(self, reference: _Run) -> _Known | None:
        """What this certification run (stopped at its failure) vouches for: its first rounds
        at every share from `reference`'s to its own."""
        if not self.failed_at:
            return None
        winners = reference.winners[: self.failed_at]
        return _Known(
            reference.share,
            self.share,
            winners,
            self.bound.copy(),
            list(self.remaining),
            self.ballots,
            self.slope_low.copy(),
            self.slope_high.copy(),
        )

    def fail(self, remaining: list[int], shadow: _Run | None = None) -> None:
        self.failed_at = len(self.winners)
        self.affordable_at_failure = [
            p for p in remaining if self.money(p) >= self.cost_f[p] * (1 - _TOLERANCE)
        ]
        if shadow is not None:
            for p in self.affordable_at_failure:
                # Its money grows at most this fast: it cannot be affordable before.
                groups = self.ballots.supporters[p]
                fastest = _dot(self.support_weights[p], self.slope_high[groups])
                if fastest > 0:
                    self.note_crossing(shadow, (self.cost_f[p] - shadow.money(p)) / fastest)

    def money(self, project: int) -> float:
        """What `project`'s supporters hold in all (for comparisons: explanations, which print
        it, add it up as `money_of` does)."""
        return _dot(self.support_weights[project], self.held(project))

    def extrapolate(self, shadow: _Run, low: float, high: float) -> None:
        """Note where a quantity at `low` at the reference's share and `high` at this one
        reaches 0, if it keeps moving at the same pace."""
        if 0 < high < low:
            width = float(self.share - shadow.share)
            at = float(self.share) + high * width / (low - high)
            self.forecast = at if self.forecast is None else min(self.forecast, at)

    def note_crossing(self, shadow: _Run, distance: float) -> None:
        """Note that the outcome cannot change less than `distance` above `shadow`'s share."""
        at = float(shadow.share) + max(distance, 0.0)
        self.crossing = at if self.crossing is None else min(self.crossing, at)

    def advance_slopes(self, shadow: _Run, reference: _Run, winner: int) -> None:
        """Update the growth bounds of `winner`'s supporters' budgets to what they hold after
        paying for it, and pay for it at the reference's share (`shadow`)."""
        groups = self.ballots.supporters[winner]
        price_low = reference.prices_f[len(shadow.winners)]
        price_high = self.float_price(winner)
        assert price_high is not None
        poor, rich = self.payers(shadow.held(winner), self.held(winner), price_low, price_high)
        low, high = self.slope_low[groups], self.slope_high[groups]
        slopes = self.slopes_of(winner, poor, rich, low, high)
        fall_low, fall_high = slopes if slopes is not None else (-np.inf, 0.0)
        low -= fall_high
        low[~rich] = 0.0
        high -= fall_low
        high[poor] = 0.0
        self.slope_low[groups] = low
        self.slope_high[groups] = high
        shadow.follow(reference)

    @staticmethod
    def payers(
        low_budget: FloatArray, high_budget: FloatArray, price_low: float, price_high: float
    ) -> tuple[BoolArray, BoolArray]:
        """Supporters who pay all they have at every share in between, and those who pay the
        price at every share in between. Budgets only grow with the share and prices only
        fall, so the ends decide (with a margin for rounding)."""
        poor = high_budget < price_high * (1 - _NEAR)
        rich = low_budget >= price_low * (1 + _NEAR)
        return poor, rich

    def price_slopes(
        self, shadow: _Run, project: int, price_low: float, price_high: float
    ) -> tuple[float, float] | None:
        """Bounds on the slope of `project`'s price in the share, at every share in between.

        Where the payers are fixed, the price is (cost - money of those who pay all they have)
        / weight of the others, so its slope is -(their money's slope) / (the others' weight).
        """
        groups = self.ballots.supporters[project]
        poor, rich = self.payers(shadow.held(project), self.held(project), price_low, price_high)
        return self.slopes_of(project, poor, rich, self.slope_low[groups], self.slope_high[groups])

    def slopes_of(
        self, project: int, poor: BoolArray, rich: BoolArray, low: FloatArray, high: FloatArray
    ) -> tuple[float, float] | None:
        """`price_slopes` from the supporters sure to pay all they have (`poor`), those sure to
        pay the price (`rich`) and the bounds on their budgets' slopes (`low`, `high`)."""
        weight = self.support_weights[project]
        total = float(self.support_weight[project])
        not_rich = ~rich
        weight_not_rich = weight[not_rich]
        rich_least = total - float(_sum(weight_not_rich))
        if rich_least <= 0:
            return None
        weight_poor = weight[poor]
        rich_most = total - float(_sum(weight_poor))
        steepest = _dot(weight_not_rich, high[not_rich]) / rich_least
        flattest = _dot(weight_poor, low[poor]) / rich_most
        return -steepest, -flattest

    def choose(
        self,
        remaining: list[int],
        reference: _Run | None,
        round_: int | None,
        shadow: _Run | None = None,
    ) -> int | None:
        """The next winner (None: nothing is affordable).

        With `reference`, the reference's winner of `round_` if no other project could beat it
        at any share between the two runs' (see the module doc), else -1.
        """
        if reference is not None and round_ is not None:
            threshold: float | None = reference.rhos_f[round_]
            target = reference.winners[round_]
        else:
            threshold, target = None, -1
        priced: list[tuple[float, int]] = []
        best = np.inf
        ordered = np.array(remaining, dtype=np.int64)
        for p in ordered[np.lexsort((ordered, self.bound[ordered]))].tolist():
            limit = best if threshold is None else threshold
            if self.bound[p] > limit * (1 + _TOLERANCE):
                break
            price = self.float_price(p)
            if price is None:
                remaining.remove(p)
                continue
            rho = price / self.utility[p]
            self.bound[p] = max(self.bound[p], rho * (1 - _TOLERANCE))
            priced.append((rho, p))
            best = min(best, rho)
        if threshold is None:
            near = [p for rho, p in priced if rho <= best * (1 + _TOLERANCE)]
            if len(near) <= 1:
                return near[0] if near else None
            exact = [(self.exact_rho_now(p), p) for p in near]
            return min((rho, p) for rho, p in exact if rho is not None)[1]
        assert reference is not None and round_ is not None and shadow is not None
        if target not in [p for rho, p in priced if rho <= threshold * (1 + _TOLERANCE)]:
            return -1  # in theory never; floats too close to call: not certain
        # A rival whose price per unit of value at the higher share is above the winner's at
        # the lower one cannot beat it in between; the others need a closer look.
        rivals = [p for rho, p in priced if p != target and rho <= threshold * (1 + _TOLERANCE)]
        if not rivals:
            return target
        exact_threshold: Fraction | None = None
        certain = True
        for p in rivals:
            rho = next(rho for rho, q in priced if q == p)
            if rho >= threshold * (1 - _TOLERANCE):
                if exact_threshold is None:
                    exact_threshold = reference.exact_rho(round_)
                rho_exact = self.exact_rho_now(p)
                if (
                    rho_exact is None
                    or rho_exact > exact_threshold
                    or (rho_exact == exact_threshold and p > target)
                ):
                    continue
            if not self.beaten_nowhere(shadow, p, target):
                certain = False
        return target if certain else -1

    def beaten_nowhere(self, shadow: _Run, rival: int, winner: int) -> bool:
        """Whether `rival` loses to `winner` at every share between `shadow`'s and this run's,
        both at the current round: from the gap between their prices per unit of value at
        the two ends and bounds on how fast that gap moves in between. When the rival may
        win, notes the lowest share at which it could."""
        rival_low, winner_low = shadow.float_price(rival), shadow.float_price(winner)
        rival_high, winner_high = self.float_price(rival), self.float_price(winner)
        if rival_low is None and rival_high is not None:
            # The rival becomes affordable in between; its money grows at most this fast.
            groups = self.ballots.supporters[rival]
            weight = self.support_weights[rival]
            fastest = _dot(weight, self.slope_high[groups])
            if fastest > 0:
                money = _dot(weight, shadow.held(rival))
                self.note_crossing(shadow, (self.cost_f[rival] - money) / fastest)
            return False
        if rival_low is None or winner_low is None or rival_high is None or winner_high is None:
            return False  # in theory never
        rival_slopes = self.price_slopes(shadow, rival, rival_low, rival_high)
        winner_slopes = self.price_slopes(shadow, winner, winner_low, winner_high)
        if rival_slopes is None or winner_slopes is None:
            return False
        u_rival, u_winner = self.utility[rival], self.utility[winner]
        gap_low = rival_low / u_rival - winner_low / u_winner
        gap_high = rival_high / u_rival - winner_high / u_winner
        # The gap's slope: the rival's rho's slope minus the winner's.
        falls = rival_slopes[0] / u_rival - winner_slopes[1] / u_winner
        rises = rival_slopes[1] / u_rival - winner_slopes[0] / u_winner
        margin = winner_low / u_winner * _TOLERANCE
        self.extrapolate(shadow, gap_low, gap_high)

        def loses(run: _Run, gap: float) -> bool:
            if abs(gap) > margin:
                return gap > 0
            rho_rival, rho_winner = run.exact_rho_now(rival), run.exact_rho_now(winner)
            assert rho_rival is not None and rho_winner is not None
            return rho_rival > rho_winner or (rho_rival == rho_winner and rival > winner)

        if loses(shadow, gap_low) and loses(self, gap_high):
            # In between, the gap stays above gap_low + falls * x and above
            # gap_high - rises * (width - x), x the distance from the lower share.
            width = float(self.share - shadow.share)
            if falls >= 0 or rises <= 0:
                return True
            x = (gap_low - gap_high + rises * width) / (rises - falls)
            if x <= 0 or x >= width or gap_low + falls * x > margin:
                return True
        if falls < 0:
            self.note_crossing(shadow, max(gap_low, 0.0) / -falls)
        return False

    def any_affordable(self, remaining: list[int]) -> bool:
        return any(self.float_price(p) is not None for p in list(remaining))

    def float_price(self, project: int) -> float | None:
        """What each supporter with enough money pays (None if they cannot afford it)."""
        if project in self.priced_now:
            return self.priced_now[project]
        price = self.solve_float_price(project)
        self.priced_now[project] = price
        return price

    def held(self, project: int) -> FloatArray:
        """What `project`'s supporters hold now (do not change it before `pay`)."""
        budget = self.held_now.get(project)
        if budget is None:
            budget = self.budget[self.ballots.supporters[project]]
            self.held_now[project] = budget
        return budget

    def solve_float_price(self, project: int) -> float | None:
        groups = self.ballots.supporters[project]
        budget = self.held(project)
        weight = self.support_weights[project]
        cost = self.cost_f[project]
        total = float(weight @ budget) if len(budget) <= _DOT_PIECE else _dot(weight, budget)
        if total < cost * (1 - _TOLERANCE):
            return None
        if (
            total <= cost * (1 + _TOLERANCE)
            and self.exact_total(groups, len(self.winners)) < (self.ballots.costs[project])
        ):
            return None
        guess = 0.0 if self.explain else self.last_price.get(project, 0.0)
        price = _solve_price(
            budget, weight, cost, float(self.support_weight[project]), guess, not self.explain
        )
        self.last_price[project] = price
        return price

    def follow(self, reference: _Run) -> None:
        """Buy `reference`'s winner of this round as it did: a run at the same share that
        bought the same projects so far. Only the budgets are replayed: this run shares the
        reference's `broke_at` and exact prices, which its exact figures read only up to the
        current round."""
        round_ = len(self.winners)
        project = reference.winners[round_]
        self.budget[self.ballots.supporters[project]] = reference.held_after[round_]
        self.winners.append(project)
        self.prices_f.append(reference.prices_f[round_])
        self.rhos_f.append(reference.rhos_f[round_])
        self.poor.append(reference.poor[round_])
        self.poor_masks.append(reference.poor_masks[round_])
        self.rich_weight.append(reference.rich_weight[round_])
        self.held_after.append(reference.held_after[round_])
        self.priced_now = {}
        self.held_now = {}

    def pay(self, project: int) -> None:
        """Buy `project` this round."""
        groups = self.ballots.supporters[project]
        round_ = len(self.winners)
        budget = self.held(project)
        price, poor_mask, any_poor, near = self.payers_of(project, groups, round_, budget)
        poor = groups[poor_mask] if any_poor else groups[:0]
        if self.explain:
            rich = groups[~poor_mask]
            counts = self.ballots.count
            alive = self.budget[poor] > 0
            paid_poor = float(self.weight_f[poor][alive] @ self.budget[poor][alive])
            left = np.maximum(self.budget[rich] - price, 0.0) / float(self.share)
            rich_count = int(counts[rich].sum())
            partial_count = int(counts[poor][alive].sum())
            payers = rich_count + partial_count
            self.rounds.append(
                MESRound(
                    project=project,
                    price=price,
                    rho=price / self.utility[project],
                    full_payers=rich_count,
                    partial_payers=partial_count,
                    partial_paid=paid_poor,
                    broke=int(counts[poor][~alive].sum()),
                    share_left=float(counts[rich] @ left) / payers if payers else 0.0,
                )
            )
        self.winners.append(project)
        self.prices_f.append(price)
        self.rhos_f.append(price / self.utility[project])
        self.poor.append(poor)
        self.poor_masks.append(poor_mask)
        # Worked out when an exact price needs it (`exact_price`).
        self.rich_weight.append(None if any_poor else self.support_weight[project])
        self.priced_now = {}
        self.held_now = {}
        budget -= price
        if near:
            # Decided exactly: a full payer may hold a hair less than the float price.
            np.maximum(budget, 0.0, out=budget)
        if any_poor:
            fresh = poor[self.broke_at[poor] < 0]
            self.broke_at[fresh] = round_
            budget[poor_mask] = 0.0
        self.budget[groups] = budget
        self.held_after.append(budget)

    def payers_of(
        self, project: int, groups: IntArray, round_: int, budget: FloatArray
    ) -> tuple[float, BoolArray, bool, bool]:
        """The price of `project` now, which of its supporters (holding `budget`) pay all they
        have, whether any do, and whether any held within rounding of the price (then the
        price and who pays what were decided exactly). Every other supporter holds more than
        the price."""
        price = self.float_price(project)
        assert price is not None
        poor_mask = budget < price * (1 - _NEAR)
        poor_count = int(_count_nonzero(poor_mask))
        # Those within rounding of the price are the ones at or below its upper margin that
        # are not below its lower one.
        upper = price * (1 + _NEAR)
        near = int(_count_nonzero(budget <= upper)) > poor_count
        if near:
            exact = self.exact_price_for(project, round_)
            price = float(exact)
            for i in np.flatnonzero(~poor_mask & (budget <= upper)):
                poor_mask[i] = self.exact_budget(int(groups[i]), round_) < exact
            poor_count = int(_count_nonzero(poor_mask))
        return price, poor_mask, poor_count > 0, near

    # -- exact arithmetic ------------------------------------------------------------------------

    def exact_price(self, round_: int) -> Fraction:
        """Exact price paid by full payers at `round_` (from the recorded poor supporters)."""
        known = self._exact_prices.get(round_)
        if known is None:
            project = self.winners[round_]
            poor_money = self.exact_total(self.poor[round_], round_)
            rich_weight = self.rich_weight[round_]
            if rich_weight is None:
                poor_weight = self.ballots.support_weights_int[project][self.poor_masks[round_]]
                rich_weight = self.support_weight[project] - int(_sum(poor_weight))
                self.rich_weight[round_] = rich_weight
            known = (self.ballots.costs[project] - poor_money) / rich_weight
            self._exact_prices[round_] = known
        return known

    def exact_rho(self, round_: int) -> Fraction:
        return self.exact_price(round_) / self.utility[self.winners[round_]]

    def exact_budget(self, group: int, round_: int) -> Fraction:
        """A group's exact budget at the start of `round_`."""
        broke = int(self.broke_at[group])
        if 0 <= broke < round_:
            return Fraction(0)
        approved = set(map(int, self.ballots.approvals(group)))
        spent = sum(
            (self.exact_price(r) for r, p in enumerate(self.winners[:round_]) if p in approved),
            Fraction(0),
        )
        return self.share - spent

    def exact_total(self, groups: IntArray, round_: int) -> Fraction:
        """Exact money held by `groups` (each group weighted) at the start of `round_`."""
        ballots = self.ballots
        alive = groups[(self.broke_at[groups] < 0) | (self.broke_at[groups] >= round_)]
        if not len(alive):
            return Fraction(0)
        starts = ballots.group_start[alive]
        sizes = ballots.group_start[alive + 1] - starts
        entries = np.repeat(starts - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))
        weights = np.repeat(ballots.weight[alive], sizes)
        by_project = np.zeros(len(ballots.costs), dtype=np.int64)
        np.add.at(by_project, ballots.projects[entries], weights)
        total = self.share * int(ballots.weight[alive].sum())
        for r, project in enumerate(self.winners[:round_]):
            spent_weight = int(by_project[project])
            if spent_weight:
                total -= self.exact_price(r) * spent_weight
        return total

    def exact_price_for(self, project: int, round_: int) -> Fraction:
        """Exact price of `project` at the start of `round_` (its supporters can afford it).

        Floats sort the supporters into those surely below the price (they pay all they have),
        those surely above (they pay the price) and the few in between, decided exactly.
        """
        groups = self.ballots.supporters[project]
        budget = self.held(project)
        estimate = _solve_price(
            budget,
            self.support_weights[project],
            self.cost_f[project],
            float(self.support_weight[project]),
        )
        sure_poor = groups[budget < estimate * (1 - _NEAR)]
        unsure = groups[(budget >= estimate * (1 - _NEAR)) & (budget <= estimate * (1 + _NEAR))]
        need = self.ballots.costs[project] - self.exact_total(sure_poor, round_)
        rest = self.support_weight[project] - int(self.ballots.weight[sure_poor].sum())
        values = sorted((self.exact_budget(int(g), round_), int(g)) for g in unsure)
        for value, g in values:
            if value * rest >= need:
                break
            weight = int(self.ballots.weight[g])
            need -= value * weight
            rest -= weight
        return Fraction(need) / rest

    def exact_rho_now(self, project: int) -> Fraction | None:
        round_ = len(self.winners)
        groups = self.ballots.supporters[project]
        if self.exact_total(groups, round_) < self.ballots.costs[project]:
            return None
        return self.exact_price_for(project, round_) / self.utility[project]

    # -- explanations ----------------------------------------------------------------------------

    def money_of(self, project: int) -> float:
        groups = self.ballots.supporters[project]
        return float(self.weight_f[groups] @ self.budget[groups])


def _dot(a: FloatArray, b: FloatArray | BoolArray) -> float:
    """The dot product of `a` and `b`, in pieces short enough that BLAS keeps each on one
    thread: OpenBLAS spreads longer ones over all cores, which here costs more time than it
    saves (and takes the other cores of a shared machine)."""
    if len(a) <= _DOT_PIECE:
        return float(a @ b)
    pieces = range(0, len(a), _DOT_PIECE)
    return float(sum(a[i : i + _DOT_PIECE] @ b[i : i + _DOT_PIECE] for i in pieces))


def _solve_price(
    budget: FloatArray,
    weight: FloatArray,
    cost: float,
    total_weight: float,
    guess: float = 0.0,
    masked: bool = True,
) -> float:
    """Smallest q with sum(weight * min(budget, q)) >= cost (the supporters can afford it).

    `guess`, a price near q (0: none), saves steps: from above q, the first step lands at or
    below it (those sure to pay the price are then taken to pay all they have, which they
    can), and not below the even split, which is below q too; from below, steps rise to it.
    Equal counts of poor supporters in two steps mean equal sets (one contains the other),
    hence the same price: q.

    `masked`: the poor supporters' money and weight are added up as dot products with their
    mask, several times faster than picking them out on long arrays; the sums come out in
    another order, so the price may differ in its last bits. Explanations print prices, so
    they add up the way they always did (``masked=False``).
    """
    least = cost / total_weight
    price = max(least, guess)
    above = price > least  # may start above the price sought
    poor_count = -1
    money = weight * budget if masked else budget
    for _ in range(6):
        poor = budget < price
        count = int(_count_nonzero(poor))
        if count == 0:
            return least
        if count == poor_count:
            return price
        poor_count = count
        if masked:
            rich_weight = total_weight - _dot(weight, poor)
            if rich_weight <= 0:
                break
            paid = _dot(money, poor)
        else:
            poor_weight = weight[poor]
            rich_weight = total_weight - float(_sum(poor_weight))
            if rich_weight <= 0:
                break
            poor_budget = budget[poor]
            # `_dot` inlined for short ones: this loop runs tens of thousands of times.
            paid = (
                float(poor_weight @ poor_budget)
                if count <= _DOT_PIECE
                else _dot(poor_weight, poor_budget)
            )
        price = (cost - paid) / rich_weight
        if above and price < least:
            # From above, a step may land below any possible price: start again from below.
            price, poor_count = least, -1
    order = np.argsort(budget, kind="stable")
    b = budget[order]
    w = weight[order]
    paid_before = np.concatenate(([0.0], np.cumsum(w * b)[:-1]))
    weight_from = total_weight - np.concatenate(([0.0], np.cumsum(w)[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        prices = (cost - paid_before) / weight_from
    fits = (weight_from > 0) & (prices <= b * (1 + _TOLERANCE))
    if not fits.any():
        return float(b[-1])
    return float(prices[int(np.argmax(fits))])


@dataclass(frozen=True)
class EqualShares:
    """The outcome of one MES run, with its explanation when asked for."""

    share: Fraction
    selected: list[int]
    rounds: list[MESRound]
    rejections: list[Rejection]


def equal_shares(
    ballots: Ballots,
    utility: Sequence[int],
    candidates: Sequence[int],
    share: Fraction,
    explain: bool = False,
) -> EqualShares:
    """MES at per-unit budget `share` over `candidates` (voted projects that cost something)."""
    run = _Run(ballots, utility, candidates, share, explain)
    run.run()
    return _result(ballots, utility, candidates, share, run.winners, explain)


def _result(
    ballots: Ballots,
    utility: Sequence[int],
    candidates: Sequence[int],
    share: Fraction,
    winners: Sequence[int],
    explain: bool,
) -> EqualShares:
    if not explain:
        return EqualShares(share, list(winners), [], [])
    replay = _Run(ballots, utility, candidates, share, explain=True)
    rejections = _replay_with_rejections(replay, winners, candidates)
    return EqualShares(share, list(winners), replay.rounds, rejections)


def _replay_with_rejections(
    replay: _Run, winners: Sequence[int], candidates: Sequence[int]
) -> list[Rejection]:
    """Replay the winners, noting for every other project the last round it was affordable."""
    ballots = replay.ballots
    others = [p for p in candidates if p not in set(winners)]
    start_money = {p: replay.money_of(p) for p in others}
    last: dict[int, tuple[int, float]] = {}
    for round_, winner in enumerate(winners):
        for p in others:
            price = replay.float_price(p)
            if price is not None:
                last[p] = (round_, price)
        replay.pay(winner)
    rejections = []
    for p in others:
        if p in last:
            round_, price = last[p]
            winner = winners[round_]
            rejections.append(
                Rejection(
                    project=p,
                    beaten_by=winner,
                    round=round_,
                    price=price,
                    rho=price / replay.utility[p],
                    winner_price=replay.prices_f[round_],
                    winner_rho=replay.rhos_f[round_],
                    money=replay.money_of(p),
                )
            )
        else:
            rejections.append(Rejection(p, None, None, None, None, None, None, start_money[p]))
    del ballots
    return rejections


def add1(
    ballots: Ballots,
    utility: Sequence[int],
    candidates: Sequence[int],
    budget: int,
    step: int = 1,
    explain: bool = False,
    workers: int = 1,
) -> EqualShares:
    """MES with Add1 completion, as pabutools' ``voter_budget_increment=step``.

    Shares tried are budget/total_weight + k*step for k = 0, 1, 2, ...; the first outcome that is
    exhaustive among `candidates` is returned, or the one before the first that costs more
    than `budget`. With `workers` > 1 (where processes can fork) a second process searches
    from the top (`_split_search`): the same outcome, sooner on a machine with a spare core.
    """
    completion = _Completion(ballots, utility, candidates, budget, step)
    kept: Kept
    if workers > 1 and hasattr(os, "fork"):
        kept = _split_search(completion)
    else:
        kept = completion.kept(*completion.walk(0)[:3])
    if kept is None:
        return EqualShares(completion.start, [], [], [])
    share, winners = kept
    return _result(ballots, utility, candidates, share, winners, explain)


class _Completion:
    """Add1's search for the first share at which the completion stops (see the module doc).

    Share index k stands for the share start + k * step. Everything it learns (`known`, the
    ballots seen through the projects in reach) holds for any part of the search, in any
    order.
    """

    def __init__(
        self,
        ballots: Ballots,
        utility: Sequence[int],
        candidates: Sequence[int],
        budget: int,
        step: int,
    ) -> None:
        self.ballots = ballots
        self.utility = utility
        self.candidates = list(candidates)
        self.budget = budget
        self.step = step
        self.start = Fraction(budget, ballots.total_weight)
        # What failed certifications still vouched for: the first rounds over a range of shares.
        self.known: list[_Known] = []
        # Runs up to share index `limit` leave out the projects whose supporters could not pay
        # for them even with all their money at that share: none can ever be bought there, and
        # ballots that then approve the same are merged (`view`, far fewer groups at Seoul
        # scale). None: no project is left out, at any share; -1: not worked out yet.
        self.view = ballots
        self.in_reach = list(candidates)
        self.limit: int | None = -1

    def share(self, k: int) -> Fraction:
        return self.start + k * self.step

    def spent(self, run: _Run) -> int:
        return sum(self.ballots.costs[p] for p in run.winners)

    def stops(self, run: _Run) -> bool:
        cost = self.spent(run)
        costs = self.ballots.costs
        return cost > self.budget or all(
            p in run.winners or cost + costs[p] > self.budget for p in self.candidates
        )

    def never_stops(self, low: _Run, high: _Run) -> bool:
        """No share from `low`'s to `high`'s (a run certified against `low`) stops Add1.

        The first `failed_at` winners of `low` win the same rounds at every share in between,
        and later rounds can only buy projects affordable when certification failed; if all
        of those together still leave room for some other project, no outcome in between is
        exhaustive or over budget, whatever it is exactly.
        """
        if high.failed_at is None:
            pool = set(low.winners)
        else:
            pool = set(low.winners[: high.failed_at]) | set(high.affordable_at_failure)
        costs = self.ballots.costs
        most = sum(costs[p] for p in pool)
        return most <= self.budget and any(
            most + costs[p] <= self.budget for p in self.candidates if p not in pool
        )

    def known_between(self, low: Fraction, high: Fraction) -> _Known | None:
        return max(
            (fact for fact in self.known if fact.covers(low, high)),
            key=lambda fact: len(fact.winners),
            default=None,
        )

    def widen(self, k: int, limit: int | None = None) -> None:
        """Ballots seen through the projects in reach up to share index `limit` (by default
        a quarter above share k's)."""
        if limit is None:
            limit = max(k + 2, math.ceil((self.share(k) * _WIDEN - self.start) / self.step))
        reach = self.share(limit)
        costs = self.ballots.costs
        in_reach = [
            p for p in self.candidates if self.ballots.support_weight[p] * reach >= costs[p]
        ]
        if len(in_reach) == len(self.candidates):
            self.view, self.in_reach, self.limit = self.ballots, list(self.candidates), None
        else:
            self.view, self.in_reach, self.limit = (
                self.ballots.restricted(in_reach),
                in_reach,
                limit,
            )

    def at(self, k: int, hint: _Run | None = None) -> _Run:
        share = self.share(k)
        run = _Run(self.view, self.utility, self.in_reach, share)
        run.run(known=self.known_between(share, share), hint=hint)
        return run

    def rebased(self, run: _Run) -> _Run:
        """`run` again on the current `view`."""
        again = _Run(self.view, self.utility, self.in_reach, run.share)
        fact = _Known(run.share, run.share, run.winners, run.bound, run.remaining)
        again.run(known=fact, hint=run)
        return again

    def kept(self, k: int, run: _Run, previous: _Run | None) -> Kept:
        """What Add1 keeps when it stops at share index k with `run` there (`previous`: the
        run at k - 1, if at hand): the share and its winners, None for nothing."""
        if self.spent(run) <= self.budget:
            return run.share, list(run.winners)
        if k == 0:
            return None
        if previous is None:
            previous = self.at(k - 1)
        return previous.share, list(previous.winners)

    def walk(
        self, k: int, end: Callable[[int], int | None] | None = None, jump: int = 2
    ) -> tuple[int, _Run, _Run | None, bool]:
        """From share index k up to the first at which Add1 stops: (that index, the run there,
        the run one index below if at hand, True). `end`, told how far the walk has come
        (every index up to it does not stop), gives the last index to look at (None: no
        end); when the walk gets there without stopping: (that index, its run, None, False).
        `jump`: how far the first trial looks.
        """
        if self.limit is not None and self.limit < k + 2:
            self.widen(k)
        current = self.at(k)
        previous: _Run | None = None
        last_step = k
        failed: int | None = None  # the lowest share (index) above k a trial failed to reach
        change: int | None = None  # no outcome change below this share (index), if known
        while not self.stops(current):
            last = None if end is None else end(k)
            if last is not None and k >= last:
                return k, current, None, False
            while True:
                if self.limit is not None and self.limit < k + 2:
                    self.widen(k)
                    current = self.rebased(current)
                if change is not None:
                    # Certify up to where the outcome may change, then look there.
                    target = change - 1 if change - 1 > k + 1 else k + 1
                elif failed is not None:
                    target = (k + failed) // 2
                else:
                    target = k + jump
                if self.limit is not None:
                    target = min(target, self.limit)
                if last is not None:
                    target = min(target, last)
                if target <= k + 1:
                    previous, current = current, self.at(k + 1, current)
                    k += 1
                    change = None
                    if current.winners != previous.winners or (failed is not None and failed <= k):
                        # A failure above was about the old outcome. Changes tend to come as
                        # often as the last ones did.
                        jump, last_step, failed = max(2, k - last_step), k, None
                    break
                trial = _Run(self.view, self.utility, self.in_reach, self.share(target))
                fact = self.known_between(current.share, trial.share)
                trial.run(reference=current, until_failure=True, known=fact)
                found = trial.known(current)
                if found is not None and (fact is None or len(found.winners) > len(fact.winners)):
                    self.known[:] = [f for f in self.known if f.high >= current.share] + [found]
                if self.never_stops(current, trial):
                    trial.run()  # finish it beyond the failure, if any
                    previous, current = None, trial
                    if failed is None and change is None:
                        jump *= 2
                        if trial.failed_at is None and trial.forecast is not None:
                            change = math.ceil((trial.forecast - float(self.start)) / self.step)
                    k = target
                    break
                failed = target
                change = None
                if trial.crossing is not None:
                    # Never at or above the failed share: the next trial is always a shorter one.
                    crossing = math.ceil((trial.crossing - float(self.start)) / self.step)
                    change = min(crossing, target)
        return k, current, previous, True

    def stopping_index(self) -> tuple[int, int]:
        """A share index at which Add1 stops (not always the first), and a lower one at which
        it does not: plain runs at doubling indices from twice the first share, then halving
        the gap."""
        low, high = 0, max(1, math.ceil(self.start / self.step))
        while not self.stops(self.plain(high)):
            low, high = high, 2 * high
        while high - low > _PROBE_WIDTH:
            middle = (low + high) // 2
            if self.stops(self.plain(middle)):
                high = middle
            else:
                low = middle
        return low, high

    def plain(self, k: int) -> _Run:
        run = _Run(self.ballots, self.utility, self.candidates, self.share(k))
        run.run()
        return run


# The search from the top: its bracket around a stop, its first chunk of shares and how long a
# chunk should take (the other process may wait for the last one, or do it again).
_PROBE_WIDTH = 256
_FIRST_CHUNK = 256
_CHUNK_SECONDS = 0.04
# Below this many shares left between the two, the bottom-up search finishes alone.
_LEAST_GAP = 32
_UNSET = 2**62

# What Add1 keeps (`_Completion.kept`).
Kept = tuple[Fraction, list[int]] | None
# A chunk of shares the child walked: its first and last share index, and the first index in
# it at which Add1 stops, with what Add1 keeps there (None: none stops).
Chunk = tuple[int, int, tuple[int, Kept] | None]


def _split_search(completion: _Completion) -> Kept:
    """`completion`'s outcome, searched from both ends at once.

    This process walks up from the first share. A forked child first finds a share at which
    Add1 stops (the answer is at or below it), then walks chunks of shares below it, each
    from its bottom up, working down towards this process; each tells the other how far it
    has come through shared memory, and the child reports each chunk through a pipe. The
    answer is the first stop: this process's own if it finds one, else the lowest in the
    child's chunks once they and this process's walk cover every share below it. This
    process never waits for the child: at the child's chunk it walks on into it, and if the
    child fails, it walks on alone.
    """
    # Imported here: the bot, which never splits the search, need not load it.
    from multiprocessing.connection import Pipe

    memory = mmap.mmap(-1, 24)
    # [0]: no share index up to this one stops (this process's walk); [1]: the child's
    # chunks cover the share indices from this one up; [2]: up to this one (a stop).
    state = np.frombuffer(memory, dtype=np.int64)
    state[:] = (-1, _UNSET, _UNSET)
    reports_end, child_end = Pipe(duplex=False)
    pid = os.fork()
    if pid == 0:
        reports_end.close()
        code = 0
        try:
            _search_from_the_top(completion, state, child_end)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    child_end.close()
    reports = _Reports(reports_end)

    def end(k: int) -> int | None:
        """How far this process's walk goes now, having come to share index k."""
        state[0] = k
        reports.read()
        if reports.settled(k) is not None:
            return k
        low = int(state[1])
        if not reports.open or low == _UNSET:
            return None  # the child is gone, or has not begun: no end
        if k < low - 1:
            return low - 1
        # In the chunk the child is walking: walk it too, whoever ends it first.
        return min((chunk[0] for chunk in reports.chunks), default=int(state[2]) + 1) - 1

    try:
        k, run, previous, stopped = completion.walk(0, end)
        if not stopped:
            settled = reports.settled(k)
            if settled is not None:
                return settled[1]
            # The child failed: walk on alone.
            k, run, previous, _ = completion.walk(k)
        return completion.kept(k, run, previous)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        reports_end.close()


class _Reports:
    """The child's reports of its chunks, read as they come, without waiting for them."""

    def __init__(self, pipe: Connection) -> None:
        self.pipe = pipe
        self.chunks: list[Chunk] = []
        self.open = True  # the child may report more

    def read(self) -> None:
        while self.open and self.pipe.poll():
            try:
                self.chunks.append(self.pipe.recv())
            except EOFError:  # the child is gone
                self.open = False

    def settled(self, k: int) -> tuple[int, Kept] | None:
        """The first stop, if the chunks reported and this process's walk (no share index up
        to k stops) tell it: the chunks from just above k on without a stop, then one with."""
        reach = k
        for low, high, stop in sorted(self.chunks):
            if low > reach + 1:
                return None
            if stop is not None:
                return stop
            reach = max(reach, high)
        return None


def _fixed(last: int, _: int) -> int:
    return last


def _search_from_the_top(completion: _Completion, state: IntArray, pipe: Connection) -> None:
    """The child's part of `_split_search`: chunks of shares from a stop downwards, each
    reported with the first stop in it, if any, and what Add1 keeps there."""
    _, high = completion.stopping_index()
    state[2] = high
    completion.widen(high, high)
    width = _FIRST_CHUNK
    while True:
        gap = high - int(state[0])
        if gap < _LEAST_GAP:
            return
        low = high - min(width, gap // 2) + 1
        state[1] = low
        began = time.perf_counter()
        # The whole chunk at once first: most have no change of outcome in them.
        k, run, previous, stopped = completion.walk(low, partial(_fixed, high), high - low)
        pipe.send((low, high, (k, completion.kept(k, run, previous)) if stopped else None))
        took = time.perf_counter() - began
        width = max(width, min(4 * width, int(width * _CHUNK_SECONDS / max(took, 1e-3))))
        high = low - 1
