"""Tally benchmark: this project's rules against pabutools on a Seoul-scale election.

    .venv/bin/python bench/bench_tally.py [--seed N] [--voters N] [--projects N]

Generates a seeded Seoul-scale approval election (by default 156,390 voters, 200 projects, each
voter approving 1–5 projects, popularity skewed), writes it as a `.pb` file, parses it with both
libraries, runs greedy and MES (cost satisfaction) with each, checks that the outcomes are
identical (same projects in the same order) and prints the times and the ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import numpy as np
from pabutools.election import Cost_Sat
from pabutools.election.pabulib import parse_pabulib_from_string
from pabutools.rules import greedy_utilitarian_welfare, method_of_equal_shares

from domain.pabulib import PBInstance, Project, Vote, parse_pabulib, write_pabulib
from domain.tally import Sat, TallyResult, greedy, mes

T = TypeVar("T")


def seoul_scale(seed: int, n_voters: int, n_projects: int) -> PBInstance:
    rng = np.random.default_rng(seed)
    # Costs: log-normal around 100 million won, whole millions; the budget buys about a third.
    costs = np.clip(np.round(rng.lognormal(np.log(1e8), 0.8, n_projects), -6), 5e6, 2e9)
    budget = int(round(costs.sum() * 0.3, -6))
    # Zipf-like popularity over a random order of the projects.
    popularity = 1.0 / rng.permutation(np.arange(1, n_projects + 1))
    log_pop = np.log(popularity / popularity.sum())
    lengths = rng.integers(1, 6, n_voters)
    ids = [str(i + 1) for i in range(n_projects)]
    votes: list[Vote] = []
    chunk = 20_000
    for start in range(0, n_voters, chunk):
        size = min(chunk, n_voters - start)
        # Gumbel top-k: k draws without replacement, each proportional to popularity.
        keys = log_pop + rng.gumbel(size=(size, n_projects))
        top = np.argsort(-keys, axis=1)[:, :5]
        for row, k in zip(top, lengths[start : start + size], strict=True):
            voter = len(votes) + 1
            votes.append(Vote(f"v{voter:06d}", tuple(ids[j] for j in row[:k])))
    projects = {pid: Project(pid, int(cost)) for pid, cost in zip(ids, costs, strict=True)}
    meta = {"description": "bench_tally synthetic Seoul-scale election", "country": "Korea"}
    return PBInstance(budget=budget, projects=projects, votes=votes, meta=meta)


def timed(run: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = run()
    return result, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2019)
    parser.add_argument("--voters", type=int, default=156_390)
    parser.add_argument("--projects", type=int, default=200)
    args = parser.parse_args()

    generated = seoul_scale(args.seed, args.voters, args.projects)
    text = write_pabulib(generated)
    instance, ours_parse = timed(lambda: parse_pabulib(text))
    (pb_instance, pb_profile), pabutools_parse = timed(lambda: parse_pabulib_from_string(text))
    print(
        f"election: {len(instance.votes):,} voters, {len(instance.projects)} projects, "
        f"budget {instance.budget:,} won, seed {args.seed}"
    )
    print(
        f"parse .pb ({len(text) / 1e6:.1f} MB): civicbot {ours_parse:.2f} s, "
        f"pabutools {pabutools_parse:.2f} s"
    )

    identical = True
    rules: tuple[tuple[str, Callable[[PBInstance, Sat], TallyResult], Callable[..., Any]], ...] = (
        ("greedy", greedy, greedy_utilitarian_welfare),
        ("mes", mes, method_of_equal_shares),
    )
    for rule, ours_rule, pabutools_rule in rules:
        ours, ours_time = timed(partial(ours_rule, instance, Sat.COST))
        theirs, theirs_time = timed(
            partial(pabutools_rule, pb_instance, pb_profile, sat_class=Cost_Sat)
        )
        same = ours.selected == [p.name for p in theirs]
        identical = identical and same
        print(
            f"{rule:7s} civicbot {ours_time:7.3f} s   pabutools {theirs_time:7.2f} s   "
            f"ratio {theirs_time / ours_time:6.0f}x   {len(ours.selected)} projects, "
            f"{ours.cost:,} won   {'identical' if same else 'DIFFERENT'}"
        )
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
