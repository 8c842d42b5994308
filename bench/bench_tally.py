"""Tally benchmark: this project's rules against pabutools on a Seoul-scale election.

    .venv/bin/python bench/bench_tally.py [--seed N] [--voters N] [--projects N]
        [--pabutools-add1-timeout S] [--pabulib FILE ...]

Generates a seeded Seoul-scale approval election (by default 156,390 voters, 200 projects, each
voter approving 1–5 projects, popularity skewed), writes it as a `.pb` file, parses it with both
libraries, runs greedy and MES (cost satisfaction) with each, checks that the outcomes are
identical (same projects in the same order) and prints the times and the ratio. Then MES with
Add1 completion (pabutools' ``voter_budget_increment=1``, run in a subprocess stopped after
the stated timeout), and the whole `civicbot tally` process (start, parse, rule, output) per
rule, as a user runs it. Real pabulib files given with --pabulib get the Add1 rules compared
with pabutools too. Besides wall-clock times it prints CPU times and the load average, as the
machine running it may be shared.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import numpy as np
from pabutools.election import Cost_Sat
from pabutools.election.pabulib import parse_pabulib_from_string
from pabutools.rules import (
    completion_by_rule_combination,
    greedy_utilitarian_welfare,
    method_of_equal_shares,
)

from domain.pabulib import PBInstance, Project, Vote, parse_pabulib, read_pabulib, write_pabulib
from domain.tally import Sat, TallyResult, greedy, mes, tally, tally_explained

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


def cpu_timed(run: Callable[[], T]) -> tuple[T, float, float]:
    """The result, wall-clock time and CPU time (the machine may be shared)."""
    cpu = time.process_time()
    result, wall = timed(run)
    return result, wall, time.process_time() - cpu


def load() -> str:
    return "load average " + " ".join(f"{figure:.1f}" for figure in os.getloadavg())


def pabutools_add1(text: str, rule: str, out: multiprocessing.Queue[list[str]]) -> None:
    election, profile = parse_pabulib_from_string(text)
    params = {"sat_class": Cost_Sat, "voter_budget_increment": 1}
    if rule == "mes+add1":
        outcome = method_of_equal_shares(election, profile, **params)
    else:
        outcome = completion_by_rule_combination(
            election,
            profile,
            [method_of_equal_shares, greedy_utilitarian_welfare],
            [params, {"sat_class": Cost_Sat}],
        )
    out.put([p.name for p in outcome])


def pabutools_add1_timed(text: str, rule: str, timeout: float) -> tuple[list[str] | None, float]:
    """pabutools' Add1 in a child process, stopped after `timeout` seconds (None: no result)."""
    queue: multiprocessing.Queue[list[str]] = multiprocessing.Queue()
    child = multiprocessing.Process(target=pabutools_add1, args=(text, rule, queue))
    start = time.perf_counter()
    child.start()
    child.join(timeout)
    elapsed = time.perf_counter() - start
    if child.is_alive():
        child.kill()
        child.join()
        return None, elapsed
    return queue.get(), elapsed


class ProcessTime(NamedTuple):
    walls: list[float]  # one per run, sorted
    cpus: list[float]  # user + system, of the process alone (the machine may be shared)
    load: float  # the machine's load average (1 minute) when the runs started

    def __str__(self) -> str:
        def spread(values: list[float]) -> str:
            return f"{statistics.median(values):5.2f} s (min {values[0]:.2f}, max {values[-1]:.2f})"

        return (
            f"median of {len(self.walls)}: wall {spread(self.walls)}, CPU {spread(self.cpus)}"
            f" (load {self.load:.1f})"
        )


def whole_command(
    path: str, rule: str, *extra: str, runs: int = 5
) -> tuple[ProcessTime, list[str]]:
    """Wall-clock and CPU time of `civicbot tally` as a new process, and its selection.

    With the modules' bytecode, as an installed command has it (even where
    PYTHONDONTWRITEBYTECODE is set): `civicbot tally --help`, untimed, loads them all first.
    Run `runs` times: one run alone moves by a tenth of a second with what else the machine
    does (a single run of 0.50 s here measured 0.35-0.38 s when repeated at once).
    """
    civicbot = [str(Path(sys.executable).with_name("civicbot")), "tally"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([*civicbot, "--help"], capture_output=True, check=True, env=env)
    load_before = os.getloadavg()[0]
    walls: list[float] = []
    cpus: list[float] = []
    selected: list[str] = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(
            [*civicbot, "--pabulib", path, "--rule", rule, *extra],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        selected = json.loads(done.stdout)["selected"] if extra else done.stdout.split()
    return ProcessTime(sorted(walls), sorted(cpus), load_before), selected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2019)
    parser.add_argument("--voters", type=int, default=156_390)
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--pabutools-add1-timeout", type=float, default=300.0)
    parser.add_argument("--pabulib", nargs="*", default=[], metavar="FILE")
    parser.add_argument(
        "--skip-reference-rules",
        action="store_true",
        help="skip pabutools' greedy and MES on the Seoul-scale election (minutes each)",
    )
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
    for rule, ours_rule, pabutools_rule in () if args.skip_reference_rules else rules:
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

    # MES with Add1 completion: ours in one process and in two (as the command runs it where a
    # second core is free), and pabutools until its timeout.
    def ours_add1(workers: int) -> TallyResult:
        return tally_explained(instance, "mes+add1", Sat.COST, explain=False, workers=workers)[0]

    add1, add1_time, add1_cpu = cpu_timed(partial(ours_add1, 1))
    split, split_time, split_cpu = cpu_timed(partial(ours_add1, 2))
    theirs_add1, theirs_time = pabutools_add1_timed(text, "mes+add1", args.pabutools_add1_timeout)
    verdict = (
        f"pabutools > {args.pabutools_add1_timeout:.0f} s (stopped: no result)"
        if theirs_add1 is None
        else f"pabutools {theirs_time:7.2f} s   "
        + ("identical" if theirs_add1 == add1.selected else "DIFFERENT")
    )
    identical = identical and (theirs_add1 is None or theirs_add1 == add1.selected)
    identical = identical and split.selected == add1.selected
    print(
        f"mes+add1 civicbot {add1_time:7.2f} s (CPU {add1_cpu:.2f} s)   {verdict}   "
        f"{len(add1.selected)} projects, {add1.cost:,} won   ({load()})"
    )
    print(
        f"mes+add1 civicbot, two processes {split_time:7.2f} s (CPU of the first "
        f"{split_cpu:.2f} s)   {'identical' if split.selected == add1.selected else 'DIFFERENT'}"
    )

    # The whole command, as a new process: start, parse, rule, output.
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "seoul.pb")
        Path(path).write_text(text, encoding="utf-8")
        for rule in ("greedy", "mes", "mes+greedy", "mes+add1"):
            plain, selected = whole_command(path, rule)
            explained = whole_command(path, rule, "--json")[0]
            print(
                f"civicbot tally --rule {rule:10s} {plain}   with --json {explained}   "
                f"{len(selected)} projects"
            )

    for file in args.pabulib:
        real = read_pabulib(file)
        real_text = Path(file).read_text(encoding="utf-8-sig")
        for rule in ("mes+add1", "mes+add1+greedy"):
            ours_real, ours_time = timed(partial(tally, real, rule))
            theirs_real, theirs_time = pabutools_add1_timed(real_text, rule, 3600)
            same = theirs_real == ours_real.selected
            identical = identical and same
            print(
                f"{Path(file).name} {rule}: civicbot {ours_time:.3f} s, pabutools "
                f"{theirs_time:.2f} s, {len(ours_real.selected)} projects, "
                f"{'identical' if same else 'DIFFERENT'}"
            )
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
