"""Why no panel meets the quotas (할당), and the smallest change that would fix it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from domain.sortition.model import Applicant, Quota, TypeSpace, type_space


@dataclass(frozen=True)
class QuotaRelaxation:
    """One quota of a smallest change that makes the quotas feasible."""

    quota: Quota
    lower_min_by: int
    raise_max_by: int


@dataclass(frozen=True)
class Infeasibility:
    messages: tuple[str, ...]
    relaxations: tuple[QuotaRelaxation, ...]


def explain_infeasibility(
    pool: Sequence[Applicant], quotas: Sequence[Quota], seats: int
) -> Infeasibility | None:
    """None when some panel meets every quota; otherwise which quotas conflict and by how much."""
    return explain(type_space(pool, quotas, seats))


def explain(space: TypeSpace) -> Infeasibility | None:
    """Plain arithmetic conflicts first; then the smallest total relaxation of the quota bounds
    that admits a panel, from an integer program with a slack on every bound."""
    messages = _arithmetic(space)
    if space.seats > int(space.counts.sum()):
        return Infeasibility(tuple(messages), ())
    relaxations = _smallest_relaxation(space)
    if not messages and not relaxations:
        return None
    if relaxations:
        total = sum(r.lower_min_by + r.raise_max_by for r in relaxations)
        messages.append(
            f"no panel of {space.seats} meets every quota; the smallest change "
            f"({total} seat{'s' if total > 1 else ''} in all) is:"
        )
        for r in relaxations:
            q = r.quota
            if r.lower_min_by:
                messages.append(
                    f"  {q.feature}={q.value}: lower min {q.min} to {q.min - r.lower_min_by} "
                    f"(by {r.lower_min_by})"
                )
            if r.raise_max_by:
                messages.append(
                    f"  {q.feature}={q.value}: raise max {q.max} to {q.max + r.raise_max_by} "
                    f"(by {r.raise_max_by})"
                )
    return Infeasibility(tuple(messages), tuple(relaxations))


def _arithmetic(space: TypeSpace) -> list[str]:
    messages = []
    pool_size = int(space.counts.sum())
    if space.seats > pool_size:
        messages.append(f"{space.seats} seats but only {pool_size} applicants")
    for feature in space.features:
        own = [q for q in space.quotas if q.feature == feature]
        low, high = sum(q.min for q in own), sum(q.max for q in own)
        if low > space.seats:
            messages.append(
                f"{feature}: the minimums add up to {low}, {low - space.seats} more than "
                f"the {space.seats} seats"
            )
        if high < space.seats:
            messages.append(
                f"{feature}: the maximums add up to {high}, {space.seats - high} fewer than "
                f"the {space.seats} seats"
            )
    available = space.quota_matrix @ space.counts
    for quota, have in zip(space.quotas, available, strict=True):
        if quota.min > have:
            messages.append(
                f"{quota.feature}={quota.value}: min {quota.min} but only {int(have)} "
                f"applicant{'s' if have != 1 else ''} ({quota.min - int(have)} short)"
            )
    return messages


def _smallest_relaxation(space: TypeSpace) -> list[QuotaRelaxation]:
    """Integer x per type and slacks d (lower a min) and u (raise a max); minimise sum d + u."""
    # scipy loads slowly; only an infeasible draw gets here.
    from scipy.optimize import Bounds, LinearConstraint, milp

    n_types, n_quotas = len(space.keys), len(space.quotas)
    matrix, eye = space.quota_matrix, np.eye(n_quotas)
    none = np.zeros((n_quotas, n_quotas))
    rows = np.vstack(
        [
            np.concatenate([np.ones(n_types), np.zeros(2 * n_quotas)])[None, :],
            np.hstack([matrix, eye, none]),  # sum x + d >= min
            np.hstack([matrix, none, -eye]),  # sum x - u <= max
        ]
    )
    mins = np.array([q.min for q in space.quotas], dtype=float)
    maxs = np.array([q.max for q in space.quotas], dtype=float)
    unbounded = np.full(n_quotas, np.inf)
    result = milp(
        np.concatenate([np.zeros(n_types), np.ones(2 * n_quotas)]),
        integrality=np.ones(n_types + 2 * n_quotas),
        bounds=Bounds(
            np.zeros(n_types + 2 * n_quotas),
            np.concatenate([space.counts, mins, unbounded]),
        ),
        constraints=LinearConstraint(
            rows,
            np.concatenate([[space.seats], mins, -unbounded]),
            np.concatenate([[space.seats], unbounded, maxs]),
        ),
    )
    slack = np.rint(result.x[n_types:]).astype(np.int64)
    return [
        QuotaRelaxation(quota, int(slack[q]), int(slack[n_quotas + q]))
        for q, quota in enumerate(space.quotas)
        if slack[q] or slack[n_quotas + q]
    ]
