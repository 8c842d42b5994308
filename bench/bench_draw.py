"""Panel draw benchmark: this project's type-based leximin against sortition-algorithms.

    .venv/bin/python bench/bench_draw.py [--cap SECONDS] [--draws N] [--sizes 300:20,...]

Generates seeded Seoul-like volunteer pools (2 genders × 6 age bands × 25 districts; volunteers
skewed young and uneven by district) with population-proportional quotas (±10 %), and for
each pool → seats prints, for this project and for sortition-algorithms' ``legacy`` and
``maximin`` (each library run in a subprocess, killed after --cap seconds):

* time (ours: the whole draw_panel; legacy: one draw, averaged; maximin: the distribution);
* whether every quota was met;
* min/avg: the smallest selection probability over the average seats / pool;
* the Gini coefficient of the applicants' selection probabilities.

Ours and maximin yield a distribution, so their figures are exact. Legacy draws one panel, so
its probabilities are estimated from --draws repeated draws, pooling applicants with identical
feature values (a type's estimate is its seats over draws × members); the standard error of
the least-favoured type's estimate is printed with it. The LP upper bound (fractional seats)
is printed for every size: no method's min/avg can exceed it.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from domain.sortition import Applicant, Quota, draw_panel, proportional_quotas

# Resident population (thousands, 2023, rounded) by 자치구, and adult age bands (%).
DISTRICTS = {
    "Jongno": 141, "Jung": 121, "Yongsan": 217, "Seongdong": 281, "Gwangjin": 337,
    "Dongdaemun": 342, "Jungnang": 383, "Seongbuk": 432, "Gangbuk": 289, "Dobong": 308,
    "Nowon": 500, "Eunpyeong": 465, "Seodaemun": 309, "Mapo": 372, "Yangcheon": 434,
    "Gangseo": 562, "Guro": 400, "Geumcheon": 231, "Yeongdeungpo": 378, "Dongjak": 381,
    "Gwanak": 487, "Seocho": 408, "Gangnam": 536, "Songpa": 656, "Gangdong": 462,
}  # fmt: skip
AGES = {"18-29": 18, "30-39": 18, "40-49": 17, "50-59": 17, "60-69": 15, "70+": 15}
GENDERS = {"F": 51.5, "M": 48.5}
# How much more likely than average a group is to volunteer.
AGE_PULL = {"18-29": 1.5, "30-39": 1.3, "40-49": 1.1, "50-59": 0.9, "60-69": 0.75, "70+": 0.55}
GENDER_PULL = {"F": 1.1, "M": 0.9}
TOLERANCE = 0.1
SIZES = ((300, 20), (500, 50), (1000, 100), (3741, 1000))


def seoul_pool(size: int, seed: int) -> list[Applicant]:
    rng = random.Random(seed)
    district_pull = {d: rng.lognormvariate(0.0, 0.4) for d in DISTRICTS}
    kinds = [(g, a, d) for g in GENDERS for a in AGES for d in DISTRICTS]
    weights = [
        GENDERS[g] * GENDER_PULL[g] * AGES[a] * AGE_PULL[a] * DISTRICTS[d] * district_pull[d]
        for g, a, d in kinds
    ]
    return [
        Applicant(f"p{i:05d}", {"gender": g, "age": a, "district": d})
        for i, (g, a, d) in enumerate(rng.choices(kinds, weights, k=size))
    ]


def seoul_quotas(seats: int) -> list[Quota]:
    shares: Mapping[str, Mapping[str, float]] = {
        "gender": GENDERS,
        "age": AGES,
        "district": DISTRICTS,
    }
    return proportional_quotas(shares, seats, TOLERANCE)


def type_key(applicant: Applicant) -> tuple[str, ...]:
    return tuple(applicant.features[f] for f in sorted(applicant.features))


def meets(selected: Sequence[str], pool: Sequence[Applicant], quotas: Sequence[Quota]) -> bool:
    by_id = {a.id: a for a in pool}
    held = Counter((f, v) for pid in selected for f, v in by_id[pid].features.items())
    return all(q.min <= held[q.feature, q.value] <= q.max for q in quotas)


def gini(values: Sequence[float]) -> float:
    x = np.sort(np.asarray(values, dtype=float))
    n = len(x)
    return float(np.sum((2 * np.arange(1, n + 1) - n - 1) * x) / (n * np.sum(x)))


# --------------------------------------------------------------------------- library workers


def _library_inputs(pool: Sequence[Applicant], quotas: Sequence[Quota], seats: int) -> Any:
    from sortition_algorithms import CSVStringDataSource, SelectionData, Settings

    features = sorted({q.feature for q in quotas})
    quota_csv, pool_csv = io.StringIO(), io.StringIO()
    csv.writer(quota_csv).writerows(
        [["feature", "value", "min", "max"], *([q.feature, q.value, q.min, q.max] for q in quotas)]
    )
    csv.writer(pool_csv).writerows(
        [["id", *features], *([a.id, *(a.features[f] for f in features)] for a in pool)]
    )
    data = SelectionData(CSVStringDataSource(quota_csv.getvalue(), pool_csv.getvalue()))
    feature_collection, _ = data.load_features(seats)
    people, _ = data.load_people(Settings(id_column="id", columns_to_keep=[]), feature_collection)
    return feature_collection, people


def worker(method: str, size: int, seats: int, draws: int) -> dict[str, Any]:
    from sortition_algorithms.committee_generation import (
        find_distribution_maximin,
        find_random_sample_legacy,
    )
    from sortition_algorithms.utils import set_random_provider

    pool, quotas = seoul_pool(size, seed=size), seoul_quotas(seats)
    features, people = _library_inputs(pool, quotas, seats)
    chance = dict.fromkeys((a.id for a in pool), 0.0)
    if method == "maximin":
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            committees, probabilities, _ = find_distribution_maximin(features, people, seats, [])
        elapsed = time.perf_counter() - start
        for committee, probability in zip(committees, probabilities, strict=True):
            for pid in committee:
                chance[pid] += probability
        all_met = all(meets(list(c), pool, quotas) for c in committees)
        return {"time": elapsed, "met": f"{len(committees)}/{len(committees)} panels" if all_met
                else "NO", "chance": chance}  # fmt: skip
    key_of = {a.id: type_key(a) for a in pool}
    members = Counter(key_of.values())
    per_draw: dict[tuple[str, ...], list[int]] = {k: [] for k in members}
    met = 0
    elapsed = 0.0
    for draw in range(1, draws + 1):
        set_random_provider(draw)
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            committees, _ = find_random_sample_legacy(people, features, seats, [], max_attempts=100)
        elapsed += time.perf_counter() - start
        met += meets(list(committees[0]), pool, quotas)
        seats_of = Counter(key_of[pid] for pid in committees[0])
        for key in members:
            per_draw[key].append(seats_of[key])
    # pool identical applicants: a type's estimate is its mean seats over its members
    estimate = {k: float(np.mean(v)) / members[k] for k, v in per_draw.items()}
    error = {k: float(np.std(v, ddof=1)) / members[k] / draws**0.5 for k, v in per_draw.items()}
    worst = min(estimate, key=lambda k: estimate[k])
    return {
        "time": elapsed / draws,
        "met": f"{met}/{draws} draws",
        "chance": {pid: estimate[key_of[pid]] for pid in chance},
        "worst_error": error[worst],
    }


def run_library(
    method: str, size: int, seats: int, draws: int, cap: float
) -> dict[str, Any] | None:
    command = [sys.executable, __file__, "--worker", method, "--sizes", f"{size}:{seats}",
               "--draws", str(draws)]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=cap, check=True)
    except subprocess.TimeoutExpired:
        return None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- report


def row(name: str, time_text: str, met: str, ratio: str, gini_text: str) -> str:
    return f"  {name:<26} {time_text:>10}  {met:<18} {ratio:>18}  {gini_text:>6}"


def bench(size: int, seats: int, draws: int, cap: float) -> None:
    pool, quotas = seoul_pool(size, seed=size), seoul_quotas(seats)
    average = seats / size
    start = time.perf_counter()
    ours = draw_panel(pool, quotas, seats, seed=f"bench-{size}")
    elapsed = time.perf_counter() - start
    distribution = ours.distribution
    types = len(distribution.space.keys)
    print(f"\n{size:,} → {seats:,} seats ({types} types; average chance {average:.4f})")
    print(f"  LP upper bound: min/avg ≤ {distribution.lp_bound / average:.4f}")
    print(row("method", "time", "quotas met", "min/avg", "Gini"))
    print(row(
        f"civicbot ({distribution.method})", f"{elapsed:.2f} s",
        f"{len(distribution.compositions)}/{len(distribution.compositions)} panels"
        if meets(ours.selected, pool, quotas) else "NO",
        f"{ours.min_ratio:.4f}", f"{gini(list(ours.probabilities.values())):.3f}",
    ))  # fmt: skip
    legacy = run_library("legacy", size, seats, draws, cap)
    if legacy is None:
        print(row("sortition-algorithms legacy", f"> {cap:.0f} s", "-", "-", "-"))
    else:
        low = min(legacy["chance"].values()) / average
        print(row(
            "sortition-algorithms legacy", f"{legacy['time']:.2f} s", legacy["met"],
            f"{low:.4f} ± {legacy['worst_error'] / average:.4f}",
            f"{gini(list(legacy['chance'].values())):.3f}",
        ))  # fmt: skip
    maximin = run_library("maximin", size, seats, draws, cap)
    if maximin is None:
        print(row("sortition-algorithms maximin", f"> {cap:.0f} s", "no result", "-", "-"))
    else:
        low = min(maximin["chance"].values()) / average
        print(row(
            "sortition-algorithms maximin", f"{maximin['time']:.2f} s", maximin["met"],
            f"{low:.4f}", f"{gini(list(maximin['chance'].values())):.3f}",
        ))  # fmt: skip
        print(f"  civicbot min / maximin min: {ours.min_ratio / low:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cap", type=float, default=180.0, help="seconds per library run")
    parser.add_argument("--draws", type=int, default=0, help="legacy draws (default by size)")
    parser.add_argument("--sizes", default=",".join(f"{n}:{k}" for n, k in SIZES))
    parser.add_argument("--worker", choices=["legacy", "maximin"], help=argparse.SUPPRESS)
    options = parser.parse_args()
    sizes = [tuple(int(x) for x in item.split(":")) for item in options.sizes.split(",")]
    if options.worker:
        ((size, seats),) = sizes
        print(json.dumps(worker(options.worker, size, seats, options.draws)))
        return
    print(f"Panel draw benchmark — {os.cpu_count()} CPUs; quotas ±{TOLERANCE:.0%} of proportional")
    started = time.perf_counter()
    for size, seats in sizes:
        # legacy draws: a standard error of a few hundredths of the average, about a minute each
        draws = options.draws or (
            5000 if seats <= 20 else 3000 if seats <= 50 else 1500 if seats <= 100 else 120
        )
        bench(size, seats, draws, options.cap)
    print(f"\ntotal benchmark time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
