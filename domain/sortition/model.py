"""Applicants, quotas (할당), the commitment and the grouping of a pool into types."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from domain.sortition.infeasibility import Infeasibility

ALGORITHM_VERSION = "civicbot-sortition/1 type-leximin lp-decomposition weights-1e-9"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class SortitionError(Exception):
    """Base class for errors of the panel draw."""


class InputError(SortitionError):
    """Pool, quotas or seat count that do not fit together."""


class InfeasibleQuotasError(SortitionError):
    """No panel meets every quota; ``infeasibility`` says which quotas conflict."""

    def __init__(self, infeasibility: Infeasibility) -> None:
        super().__init__("\n".join(infeasibility.messages))
        self.infeasibility = infeasibility


class DistributionCheckError(SortitionError):
    """A distribution that must not be used for a draw (breaks a quota or is not optimal)."""


@dataclass(frozen=True)
class Applicant:
    id: str
    features: dict[str, str]


@dataclass(frozen=True, order=True)
class Quota:
    feature: str
    value: str
    min: int
    max: int


@dataclass(frozen=True)
class TypeSpace:
    """The pool grouped into types: applicants with equal values of every quota feature.

    Everything is in sorted order (features, type keys, members, quotas) so that the
    optimisation and the draw see the same arrays whatever order the files had.
    """

    features: tuple[str, ...]
    keys: tuple[tuple[str, ...], ...]
    members: tuple[tuple[str, ...], ...]
    counts: IntArray
    quotas: tuple[Quota, ...]
    # quota_matrix[q, t] is 1 when type t has quota q's value
    quota_matrix: FloatArray
    seats: int

    def describe(self, t: int) -> str:
        return ", ".join(f"{f}={v}" for f, v in zip(self.features, self.keys[t], strict=True))


def type_space(pool: Sequence[Applicant], quotas: Sequence[Quota], seats: int) -> TypeSpace:
    """Group the pool into types over the quota features, checking the inputs fit together."""
    if seats <= 0:
        raise InputError(f"seats must be positive, got {seats}")
    if not quotas:
        raise InputError("no quotas")
    ordered = tuple(sorted(quotas))
    repeated = sorted(
        f"{f}={v}" for (f, v), n in Counter((q.feature, q.value) for q in ordered).items() if n > 1
    )
    if repeated:
        raise InputError(f"quota given twice: {', '.join(repeated)}")
    for quota in ordered:
        if not 0 <= quota.min <= quota.max:
            raise InputError(f"quota {quota.feature}={quota.value}: need 0 <= min <= max")
    twice = sorted(pid for pid, n in Counter(a.id for a in pool).items() if n > 1)
    if twice:
        raise InputError(f"applicant id given twice: {', '.join(twice[:5])}")
    features = tuple(sorted({q.feature for q in ordered}))
    values = {f: {q.value for q in ordered if q.feature == f} for f in features}
    groups: dict[tuple[str, ...], list[str]] = {}
    for applicant in pool:
        key = []
        for feature in features:
            value = applicant.features.get(feature)
            if value is None or value not in values[feature]:
                raise InputError(f"applicant {applicant.id}: {feature}={value!r} has no quota")
            key.append(value)
        groups.setdefault(tuple(key), []).append(applicant.id)
    if not groups:
        raise InputError("the pool is empty")
    keys = tuple(sorted(groups))
    position = {f: i for i, f in enumerate(features)}
    matrix = np.array(
        [[float(key[position[q.feature]] == q.value) for key in keys] for q in ordered]
    )
    return TypeSpace(
        features=features,
        keys=keys,
        members=tuple(tuple(sorted(groups[k])) for k in keys),
        counts=np.array([len(groups[k]) for k in keys], dtype=np.int64),
        quotas=ordered,
        quota_matrix=matrix,
        seats=seats,
    )


def commitment(
    pool: Iterable[Applicant],
    quotas: Iterable[Quota],
    seats: int,
    algorithm_version: str = ALGORITHM_VERSION,
) -> str:
    """SHA-256 hex over a canonical serialisation of everything but the seed that fixes a draw.

    Applicants are their (pseudonymous) ids with sorted feature values, sorted by id; quotas
    are sorted; compact JSON, UTF-8.
    """
    document = {
        "algorithm": algorithm_version,
        "applicants": sorted([a.id, sorted(a.features.items())] for a in pool),
        "quotas": sorted([q.feature, q.value, q.min, q.max] for q in quotas),
        "seats": seats,
    }
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def proportional_quotas(
    population_shares: Mapping[str, Mapping[str, float]], seats: int, tolerance: float
) -> list[Quota]:
    """Population-proportional quotas: for a value with population share s the ideal is
    s·seats, and the quota is [floor(ideal·(1 - tolerance)), ceil(ideal·(1 + tolerance))].

    Shares are normalised per feature, so counts work as well as fractions.
    """
    if tolerance < 0:
        raise InputError(f"tolerance must be >= 0, got {tolerance}")
    if seats <= 0:
        raise InputError(f"seats must be positive, got {seats}")
    # exact fractions: 0.3 * 10 must give [3, 3], not ceil(3.0000000000000004) = 4
    low_factor = Fraction(1 - tolerance).limit_denominator(10**9)
    high_factor = Fraction(1 + tolerance).limit_denominator(10**9)
    quotas = []
    for feature in sorted(population_shares):
        shares = {
            v: Fraction(s).limit_denominator(10**12) for v, s in population_shares[feature].items()
        }
        total = sum(shares.values())
        if total <= 0 or any(s < 0 for s in shares.values()):
            raise InputError(f"{feature}: shares must be non-negative with a positive sum")
        for value in sorted(shares):
            ideal = shares[value] / total * seats
            low = max(0, math.floor(ideal * low_factor))
            high = min(seats, math.ceil(ideal * high_factor))
            quotas.append(Quota(feature, value, low, high))
    return quotas
