"""The fairest lottery over panel compositions that the quotas allow.

A composition gives x_t seats to type t (0 <= x_t <= n_t, sum x_t = seats, every quota met);
a member of type t is selected with probability E[x_t] / n_t. We look for the distribution
over compositions whose per-type probabilities are leximin-optimal: the smallest as large
as possible, then the next smallest, and so on.

1. Fractional leximin. With fractional seat counts the problem is a sequence of LPs over the
   types (each stage raises the smallest free probability and fixes the types whose dual
   is positive). Its first stage is an upper bound no lottery can beat (``lp_upper_bound``),
   and its result dominates every lottery's probabilities in the leximin order.
2. Exact decomposition. If the fractional optimum e (expected seats per type) is a convex
   combination of integer compositions, that combination is a leximin-optimal lottery.
   The compositions must lie on the face of the quota polytope where e lies (a quota tight
   at e is tight in each of them), so pricing is restricted to that face. Non-negative
   least squares picks the weights of the compositions found so far; the residual steers a
   MILP (and a few Frank-Wolfe steps per round) to the next compositions. For Seoul-like
   pools this ends with an exact decomposition of a few hundred compositions.
3. Fallback. When the quotas make the integer problem strictly worse than the fractional
   one (small panels, tight quotas), leximin by column generation: an LP over the
   compositions found so far, a MILP pricing problem over type counts, stage by stage.

Solvers: HiGHS through scipy (linprog, milp) and scipy's NNLS. Nothing is time-limited, so
the result depends only on the inputs (and on the solver versions, which could break ties
between equally good compositions differently).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from domain.sortition.infeasibility import explain
from domain.sortition.model import (
    Applicant,
    BoolArray,
    DistributionCheckError,
    FloatArray,
    InfeasibleQuotasError,
    IntArray,
    Quota,
    TypeSpace,
    type_space,
)

if TYPE_CHECKING:
    from scipy.optimize import LinearConstraint

# scipy is imported in the functions that solve: it takes about a second to load, and every
# bot process and CLI command imports this module while only a draw needs it.

# Distribution weights are integers in units of 1/WEIGHT_SCALE: rounding to this grid absorbs
# solver round-off, and integer arithmetic makes the 추첨 identical on every machine.
WEIGHT_SCALE = 10**9
# A quota sum or seat count within this of a bound lies on it (the LP solves to ~1e-9).
_TIGHT = 1e-6
# An exact decomposition reproduces the expected seat counts to within this.
_RESIDUAL = 1e-7
# A dual value above this marks a type whose probability cannot rise in a leximin stage.
_DUAL = 1e-9
# Column generation stops when the certified bound is within this of the achieved value.
_GAP = 1e-7
# Pricing objectives are scaled so that their largest coefficient is this.
_GAIN_SCALE = 1e3
# Frank-Wolfe steps (one composition each) between two least-squares solves.
_STEPS_PER_ROUND = 10
# Slack the sanity check allows for rounding weights to WEIGHT_SCALE.
CHECK_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Distribution:
    """A lottery over compositions with integer weights (probability = weight / total)."""

    space: TypeSpace
    compositions: tuple[tuple[int, ...], ...]
    weights: tuple[int, ...]
    # per type: the selection probability of each of its members, from the integer weights
    type_probabilities: tuple[float, ...]
    # per type: whether some composition meeting the quotas seats one of its members
    coverable: tuple[bool, ...]
    # the smallest probability the optimiser reached (before rounding the weights) ...
    optimum: float
    # ... and a certified bound: no lottery's smallest probability exceeds it
    upper_bound: float
    lp_bound: float
    # "lp-decomposition" (provably leximin-optimal) or "column-generation"
    method: str

    @property
    def min_probability(self) -> float:
        return min(p for p, ok in zip(self.type_probabilities, self.coverable, strict=True) if ok)

    def probabilities(self) -> dict[str, float]:
        """Selection probability of every applicant, by id."""
        return {
            pid: self.type_probabilities[t]
            for t, ids in enumerate(self.space.members)
            for pid in ids
        }


def optimal_distribution(
    pool: Sequence[Applicant], quotas: Sequence[Quota], seats: int
) -> Distribution:
    """The leximin lottery over compositions; raises InfeasibleQuotasError if there is none."""
    return solve(type_space(pool, quotas, seats))


def lp_upper_bound(pool: Sequence[Applicant], quotas: Sequence[Quota], seats: int) -> float:
    """Largest smallest selection probability with fractional seats: no method can beat it.

    Maximises z subject to the quotas holding for the expected seat counts and every type
    that some composition can seat getting at least z per member.
    """
    space = type_space(pool, quotas, seats)
    _require_feasible(space)
    _, coverable = _cover(space)
    _, bound = _fractional_leximin(space, coverable)
    return bound


def solve(space: TypeSpace) -> Distribution:
    """The leximin lottery for a pool already grouped into types (steps 1-3 above)."""
    _require_feasible(space)
    columns, coverable = _cover(space)
    expected, lp_bound = _fractional_leximin(space, coverable)
    found, weights = _decompose(space, expected)
    if weights is not None:
        # the decomposition matches the LP bound to within its residual; the check then
        # holds the rounded weights to what these unrounded ones reach
        reached = (np.array(found, dtype=float).T @ weights) / space.counts
        optimum = float(np.min(reached[coverable]))
        return _canonical(
            space, found, weights, coverable, optimum, lp_bound, lp_bound, "lp-decomposition"
        )
    columns.extend(found)
    weights, optimum, upper = _integer_leximin(space, coverable, columns, lp_bound)
    return _canonical(
        space, columns, weights, coverable, optimum, upper, lp_bound, "column-generation"
    )


def _require_feasible(space: TypeSpace) -> None:
    infeasibility = explain(space)
    if infeasibility is not None:
        raise InfeasibleQuotasError(infeasibility)


def _constraint(space: TypeSpace, lower: FloatArray, upper: FloatArray) -> LinearConstraint:
    """sum x = seats and lower <= quota sums <= upper."""
    from scipy.optimize import LinearConstraint

    rows = np.vstack([np.ones((1, len(space.keys))), space.quota_matrix])
    return LinearConstraint(
        rows, np.concatenate([[space.seats], lower]), np.concatenate([[space.seats], upper])
    )


def _quota_bounds(space: TypeSpace) -> tuple[FloatArray, FloatArray]:
    return (
        np.array([q.min for q in space.quotas], dtype=float),
        np.array([q.max for q in space.quotas], dtype=float),
    )


def _best_composition(
    gains: FloatArray, constraint: LinearConstraint, lower: FloatArray, upper: FloatArray
) -> tuple[IntArray, float] | None:
    """The composition maximising sum(gains * x), and a proven bound on that maximum."""
    from scipy.optimize import Bounds, milp

    # HiGHS also stops within an absolute gap of 1e-6, which scipy does not expose; scaled
    # so the largest gain is _GAIN_SCALE, that gap cannot hide the tiny gains near the end
    # of a decomposition
    largest = float(np.max(np.abs(gains), initial=0.0))
    scale = _GAIN_SCALE / largest if largest > 0 else 1.0
    result = milp(
        -gains * scale,
        integrality=np.ones(len(gains)),
        bounds=Bounds(lower, upper),
        constraints=constraint,
        options={"mip_rel_gap": 1e-9},
    )
    if result.x is None:
        return None
    bound = result.mip_dual_bound if result.mip_dual_bound is not None else result.fun
    return np.rint(result.x).astype(np.int64), -float(bound) / scale


def _cover(space: TypeSpace) -> tuple[list[IntArray], BoolArray]:
    """Compositions that between them seat every type that any composition can seat."""
    constraint = _constraint(space, *_quota_bounds(space))
    counts = space.counts.astype(float)
    uncovered = np.ones(len(space.keys), dtype=bool)
    columns: list[IntArray] = []
    while uncovered.any():
        found = _best_composition(
            np.where(uncovered, 1.0 / counts, 0.0), constraint, np.zeros_like(counts), counts
        )
        if found is None:
            raise DistributionCheckError("no composition meets the quotas")
        x = found[0]
        newly = uncovered & (x > 0)
        if not newly.any():
            break
        columns.append(x)
        uncovered &= ~newly
    return columns, ~uncovered


def _fractional_leximin(space: TypeSpace, coverable: BoolArray) -> tuple[FloatArray, float]:
    """Leximin expected seat counts with fractional seats, and its smallest probability."""
    from scipy import sparse
    from scipy.optimize import linprog

    n_types = len(space.keys)
    counts = space.counts.astype(float)
    mins, maxs = _quota_bounds(space)
    quota_rows = sparse.hstack(
        [sparse.csr_array(space.quota_matrix), sparse.csr_array((len(mins), 1))]
    )
    cost = np.zeros(n_types + 1)
    cost[-1] = -1.0
    lower = np.zeros(n_types)
    upper = np.where(coverable, counts, 0.0)
    free = coverable.copy()
    bound: float | None = None
    while True:
        rows = np.flatnonzero(free)
        # n_t z - x_t <= 0 for each free type t
        floor_rows = sparse.csr_array(
            (
                np.concatenate([-np.ones(len(rows)), counts[rows]]),
                (
                    np.tile(np.arange(len(rows)), 2),
                    np.concatenate([rows, np.full(len(rows), n_types)]),
                ),
            ),
            shape=(len(rows), n_types + 1),
        )
        result = linprog(
            cost,
            A_ub=sparse.vstack([floor_rows, quota_rows, -quota_rows]),
            b_ub=np.concatenate([np.zeros(len(rows)), maxs, -mins]),
            A_eq=np.concatenate([np.ones(n_types), [0.0]])[None, :],
            b_eq=[float(space.seats)],
            bounds=np.column_stack([np.append(lower, 0.0), np.append(upper, 1.0)]),
            method="highs-ds",
        )
        if result.status != 0:
            raise DistributionCheckError(f"fractional leximin LP failed: {result.message}")
        level = float(result.x[-1])
        bound = level if bound is None else bound
        duals = -np.asarray(result.ineqlin.marginals[: len(rows)])
        fixed = rows[duals > _DUAL]
        if not len(fixed):
            fixed = rows  # flat duals: nobody free can rise any more
        lower[fixed] = np.minimum(level * counts[fixed], upper[fixed])
        free[fixed] = False
        if not free.any():
            return np.clip(np.asarray(result.x[:n_types], dtype=float), 0.0, counts), bound


def _decompose(space: TypeSpace, expected: FloatArray) -> tuple[list[IntArray], FloatArray | None]:
    """Integer compositions and weights whose mixture has exactly ``expected`` seats per type.

    Returns the compositions found and weights summing to 1, or None for the weights when
    ``expected`` is not such a mixture (the residual can no longer be reduced).
    """
    from scipy.optimize import nnls

    counts = space.counts.astype(float)
    mins, maxs = _quota_bounds(space)
    sums = space.quota_matrix @ expected
    # the face of the quota polytope that holds `expected`: what is tight there stays tight
    face = _constraint(
        space,
        np.where(sums >= maxs - _TIGHT, maxs, mins),
        np.where(sums <= mins + _TIGHT, mins, maxs),
    )
    lower = np.where(expected >= counts - _TIGHT, counts, 0.0)
    upper = np.where(expected <= _TIGHT, 0.0, counts)
    columns: list[IntArray] = []
    seen: set[tuple[int, ...]] = set()
    current = np.zeros_like(expected)
    # each round adds at least one new composition; cap the rounds so a pathological
    # instance falls back to column generation instead of looping for long
    for _ in range(4 * len(counts) + 50):
        residual = expected - current
        added = 0
        for _ in range(_STEPS_PER_ROUND):
            found = _best_composition(residual, face, lower, upper)
            if found is None:
                return columns, None
            x, bound = found
            # were `expected` a mixture of compositions, one of them would gain at least
            # |residual|^2 (as `expected` itself does): a smaller bound proves it is not
            if bound - float(residual @ current) < 0.5 * float(residual @ residual):
                return columns, None
            direction = x - current
            gain = float(residual @ direction)
            key = tuple(int(v) for v in x)
            if gain <= 0 or key in seen:
                break
            seen.add(key)
            columns.append(x)
            added += 1
            current = current + min(1.0, gain / float(direction @ direction)) * direction
            residual = expected - current
        if not added:
            return columns, None
        matrix = np.array(columns, dtype=float).T
        weights, _ = nnls(matrix, expected, maxiter=50 * matrix.shape[1])
        current = matrix @ weights
        if np.max(np.abs(expected - current)) <= _RESIDUAL:
            return columns, weights / weights.sum()
    return columns, None


def _integer_leximin(
    space: TypeSpace, coverable: BoolArray, columns: list[IntArray], lp_bound: float
) -> tuple[FloatArray, float, float]:
    """Leximin by column generation; returns weights of ``columns`` (extended in place), the
    maximin value reached and its certified upper bound."""
    rows = np.flatnonzero(coverable)
    counts = space.counts[rows].astype(float)
    constraint = _constraint(space, *_quota_bounds(space))
    zero, full = np.zeros(len(space.keys)), space.counts.astype(float)
    seen = {tuple(int(v) for v in c) for c in columns}
    free = np.ones(len(rows), dtype=bool)
    floors = np.zeros(len(rows))
    maximin: tuple[float, float] | None = None
    while True:
        cap = lp_bound if maximin is None else np.inf
        while True:
            share = np.array([c[rows] for c in columns], dtype=float).T / counts[:, None]
            value, weights, duals = _master(share, free, floors)
            gains = np.zeros(len(space.keys))
            gains[rows] = duals / counts
            found = _best_composition(gains, constraint, zero, full)
            if found is None:
                raise DistributionCheckError("pricing found no composition")
            x, bound = found
            # Lagrangian bound: no lottery does better in this stage
            upper = min(cap, bound - float(duals[~free] @ floors[~free]))
            key = tuple(int(v) for v in x)
            if upper - value <= _GAP or key in seen:
                break
            seen.add(key)
            columns.append(x)
        maximin = maximin or (value, max(upper, value))
        fixed = free & (duals > _DUAL)
        if not fixed.any():
            fixed = free.copy()
        floors[fixed] = value
        free &= ~fixed
        if not free.any():
            return weights, maximin[0], maximin[1]


def _master(
    share: FloatArray, free: BoolArray, floors: FloatArray
) -> tuple[float, FloatArray, FloatArray]:
    """Max z over weights of the known compositions: free types get >= z, fixed types their
    floor. ``share[t, c]`` is type t's probability under composition c. Returns z, the
    weights and the duals of the per-type rows."""
    from scipy.optimize import linprog

    n_columns = share.shape[1]
    cost = np.zeros(n_columns + 1)
    cost[0] = -1.0
    result = linprog(
        cost,
        A_ub=np.hstack([free[:, None].astype(float), -share]),
        b_ub=np.where(free, 0.0, -floors),
        A_eq=np.concatenate([[0.0], np.ones(n_columns)])[None, :],
        b_eq=[1.0],
        bounds=[(None, None)] + [(0.0, None)] * n_columns,
        method="highs-ds",
    )
    if result.status != 0:
        raise DistributionCheckError(f"master LP failed: {result.message}")
    duals = np.maximum(-np.asarray(result.ineqlin.marginals, dtype=float), 0.0)
    return float(result.x[0]), np.asarray(result.x[1:], dtype=float), duals


def _canonical(
    space: TypeSpace,
    columns: Sequence[IntArray],
    weights: FloatArray,
    coverable: BoolArray,
    optimum: float,
    upper_bound: float,
    lp_bound: float,
    method: str,
) -> Distribution:
    """Round weights to integers, merge equal compositions and sort them, so that solver
    round-off cannot change which panel a seed draws."""
    merged: dict[tuple[int, ...], int] = {}
    for column, weight in zip(columns, weights, strict=True):
        units = round(float(weight) * WEIGHT_SCALE)
        if units > 0:
            key = tuple(int(v) for v in column)
            merged[key] = merged.get(key, 0) + units
    compositions = tuple(sorted(merged))
    integer_weights = tuple(merged[c] for c in compositions)
    return Distribution(
        space=space,
        compositions=compositions,
        weights=integer_weights,
        type_probabilities=_type_probabilities(space, compositions, integer_weights),
        coverable=tuple(bool(c) for c in coverable),
        optimum=optimum,
        upper_bound=upper_bound,
        lp_bound=lp_bound,
        method=method,
    )


def _type_probabilities(
    space: TypeSpace, compositions: Sequence[Sequence[int]], weights: Sequence[int]
) -> tuple[float, ...]:
    # exact integer sums; one division per type at the end
    seats = [
        sum(w * c[t] for c, w in zip(compositions, weights, strict=True))
        for t in range(len(space.keys))
    ]
    total = sum(weights)
    return tuple(s / (total * int(n)) for s, n in zip(seats, space.counts, strict=True))


def check_distribution(distribution: Distribution) -> None:
    """Refuse a lottery that breaks a quota, gives an applicant who could be seated zero
    chance, or gives anyone less than the computed optimum. Probabilities are recomputed
    here from the compositions and weights, not taken from the optimiser."""
    space = distribution.space
    if not distribution.compositions or min(distribution.weights) <= 0:
        raise DistributionCheckError("the lottery has no compositions or a non-positive weight")
    mins, maxs = _quota_bounds(space)
    for composition in distribution.compositions:
        x = np.array(composition, dtype=np.int64)
        sums = space.quota_matrix @ x
        if not (
            len(x) == len(space.keys)
            and int(x.sum()) == space.seats
            and np.all((x >= 0) & (x <= space.counts))
            and np.all((mins <= sums) & (sums <= maxs))
        ):
            raise DistributionCheckError(f"a composition breaks the quotas: {composition}")
    probabilities = _type_probabilities(space, distribution.compositions, distribution.weights)
    for t, probability in enumerate(probabilities):
        if not distribution.coverable[t]:
            continue
        who = f"{space.describe(t)} ({space.counts[t]} applicants)"
        if probability <= 0:
            raise DistributionCheckError(f"{who} could be seated but has zero chance")
        if probability < distribution.optimum - CHECK_TOLERANCE:
            raise DistributionCheckError(
                f"{who} gets {probability:.6f}, below the optimum {distribution.optimum:.6f}"
            )
