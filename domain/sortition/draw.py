"""The 추첨 itself: a seeded, reproducible draw from the optimal lottery, and replacements."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from domain.sortition.model import Applicant, Quota, commitment, type_space
from domain.sortition.optimise import Distribution, check_distribution, solve


@dataclass(frozen=True)
class DrawResult:
    selected: tuple[str, ...]
    # everyone not selected, in the order they are called when a seat frees up
    reserve: tuple[str, ...]
    seed: str
    commitment: str
    # every applicant's selection probability under the lottery that was drawn from
    probabilities: dict[str, float]
    # smallest probability of an applicant who can be seated, over the average seats / pool
    min_ratio: float
    distribution: Distribution


def seeded_random(commitment_hex: str, seed: str) -> random.Random:
    """The only source of randomness of a draw: fixed by the commitment and the public seed."""
    digest = hashlib.sha256(f"{commitment_hex}\n{seed}".encode()).digest()
    return random.Random(int.from_bytes(digest, "big"))


def _below(rng: random.Random, n: int) -> int:
    """Uniform integer in [0, n) by rejection from getrandbits, whose output for a given seed
    is fixed across Python versions (randrange and sample promise no such thing)."""
    bits = max(n - 1, 1).bit_length()
    while True:
        r = rng.getrandbits(bits)
        if r < n:
            return r


def _shuffled(rng: random.Random, items: Sequence[str]) -> list[str]:
    """Fisher-Yates on a copy."""
    out = list(items)
    for i in range(len(out) - 1, 0, -1):
        j = _below(rng, i + 1)
        out[i], out[j] = out[j], out[i]
    return out


def _composition_for(ticket: int, distribution: Distribution) -> tuple[int, ...]:
    """The composition whose run of tickets (as long as its weight) holds ``ticket``."""
    for composition, weight in zip(distribution.compositions, distribution.weights, strict=True):
        if ticket < weight:
            return composition
        ticket -= weight
    raise ValueError("ticket beyond the total weight")


def sample_panel(
    distribution: Distribution, rng: random.Random
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """One panel (sorted ids) and the reserve call order: a composition with probability
    proportional to its weight, then each type's seats uniformly among its members."""
    composition = _composition_for(_below(rng, sum(distribution.weights)), distribution)
    selected: list[str] = []
    for members, taken in zip(distribution.space.members, composition, strict=True):
        selected.extend(_shuffled(rng, members)[:taken])
    chosen = set(selected)
    everyone = sorted(pid for members in distribution.space.members for pid in members)
    reserve = _shuffled(rng, [pid for pid in everyone if pid not in chosen])
    return tuple(sorted(selected)), tuple(reserve)


def draw_panel(
    pool: Sequence[Applicant], quotas: Sequence[Quota], seats: int, seed: str
) -> DrawResult:
    """Draw a composition from the leximin lottery, then its seats uniformly within each type.

    Raises InfeasibleQuotasError when no panel meets the quotas and DistributionCheckError
    when the lottery fails the sanity check (it is never drawn from then).
    """
    space = type_space(pool, quotas, seats)
    distribution = solve(space)
    check_distribution(distribution)
    digest = commitment(pool, quotas, seats)
    selected, reserve = sample_panel(distribution, seeded_random(digest, seed))
    return DrawResult(
        selected=selected,
        reserve=reserve,
        seed=seed,
        commitment=digest,
        probabilities=distribution.probabilities(),
        min_ratio=distribution.min_probability * len(pool) / seats,
        distribution=distribution,
    )


def _reserves_against_quotas(
    selected_ids: Iterable[str],
    declined_id: str,
    reserve_ids: Sequence[str],
    pool: Sequence[Applicant],
    quotas: Sequence[Quota],
) -> Iterator[tuple[str, list[Quota]]]:
    """Each waiting reserve, in call order, with the quotas that taking ``declined_id``'s seat
    would break. Selected people and the decliner are skipped."""
    by_id = {a.id: a for a in pool}
    panel = [pid for pid in selected_ids if pid != declined_id]
    held = Counter(
        (q.feature, q.value)
        for pid in panel
        for q in quotas
        if by_id[pid].features.get(q.feature) == q.value
    )
    skip = {*panel, declined_id}
    for candidate in reserve_ids:
        if candidate in skip:
            continue
        features = by_id[candidate].features
        yield (
            candidate,
            [
                q
                for q in quotas
                if not q.min
                <= held[q.feature, q.value] + (features.get(q.feature) == q.value)
                <= q.max
            ],
        )


def next_replacement(
    selected_ids: Iterable[str],
    declined_id: str,
    reserve_ids: Sequence[str],
    pool: Sequence[Applicant],
    quotas: Sequence[Quota],
) -> str | None:
    """The first reserve, in call order, who can take ``declined_id``'s seat with every quota
    still met; None when nobody can."""
    found = _reserves_against_quotas(selected_ids, declined_id, reserve_ids, pool, quotas)
    return next((candidate for candidate, broken in found if not broken), None)


def blocking_quotas(
    selected_ids: Iterable[str],
    declined_id: str,
    reserve_ids: Sequence[str],
    pool: Sequence[Applicant],
    quotas: Sequence[Quota],
) -> list[Quota]:
    """Why `next_replacement` found nobody: the quotas that rule out a waiting reserve (each
    once, in the quotas' order). A minimum no waiting reserve can meet rules out everyone.
    Empty when no reserve is waiting at all."""
    found = _reserves_against_quotas(selected_ids, declined_id, reserve_ids, pool, quotas)
    blocking = {q for _, broken in found for q in broken}
    return [q for q in quotas if q in blocking]
