"""How fair a draw was, in figures anyone can check (SPEC §5: published with the draw).

Every applicant's selection probability comes from the lottery the panel was drawn from (its
integer weights, not a simulation), so the figures are exact: they sum to the seat count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from domain.sortition.draw import DrawResult


@dataclass(frozen=True)
class Fairness:
    """The published fairness figures of a draw.

    ``min_ratio``: the smallest probability of an applicant who could be seated at all, over
    the average (seats / applicants); 1.0 would be a plain lottery. ``gini``: inequality of all
    applicants' probabilities (0 = equal). ``upper_bound``: a certified bound no lottery
    meeting the quotas can beat for the smallest probability (``upper_bound_ratio`` over the
    average); when ``min_ratio`` equals it, the draw was as fair as the quotas allow.
    ``method``: how the lottery was found ("lp-decomposition" or "column-generation").
    """

    probabilities: Mapping[str, float]
    min_ratio: float
    gini: float
    upper_bound: float
    upper_bound_ratio: float
    method: str

    def of(self, pseudonym: str) -> float | None:
        return self.probabilities.get(pseudonym)

    def as_dict(self) -> dict[str, object]:
        return {
            "probabilities": {pid: round(p, 6) for pid, p in sorted(self.probabilities.items())},
            "min_ratio": round(self.min_ratio, 4),
            "gini": round(self.gini, 4),
            "upper_bound": round(self.upper_bound, 6),
            "upper_bound_ratio": round(self.upper_bound_ratio, 4),
            "method": self.method,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Fairness:
        probabilities = data["probabilities"]
        assert isinstance(probabilities, Mapping)
        return cls(
            probabilities={str(k): float(v) for k, v in probabilities.items()},
            min_ratio=_float(data["min_ratio"]),
            gini=_float(data["gini"]),
            upper_bound=_float(data["upper_bound"]),
            upper_bound_ratio=_float(data["upper_bound_ratio"]),
            method=str(data["method"]),
        )


def fairness(result: DrawResult) -> Fairness:
    distribution = result.distribution
    probabilities = result.probabilities
    average = distribution.space.seats / len(probabilities)
    return Fairness(
        probabilities=dict(probabilities),
        min_ratio=result.min_ratio,
        gini=gini(list(probabilities.values())),
        upper_bound=distribution.upper_bound,
        upper_bound_ratio=distribution.upper_bound / average,
        method=distribution.method,
    )


def gini(values: Sequence[float]) -> float:
    """Gini coefficient: mean absolute difference over twice the mean (0 when all equal)."""
    ordered = sorted(values)
    n = len(ordered)
    total = sum(ordered)
    if n == 0 or total <= 0:
        return 0.0
    weighted = sum((2 * i - n + 1) * value for i, value in enumerate(ordered))
    return weighted / (n * total)


def _float(value: object) -> float:
    assert isinstance(value, int | float)
    return float(value)
