"""`civicbot tally`: output formats, rules, and errors on malformed files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from domain import equal_shares

# Budget 100. Votes: A 3, B 2, C 2, D 1. Greedy (cost): A, then B no longer fits, C, D.
# MES (cost): each of the 4 voters holds 25; A costs its 3 supporters 20 each, after which B's
# and C's supporters hold 5 each, too little; D costs v4 10. Greedy completion then adds C.
ELECTION = """\
META
key;value
description;tally CLI test
num_projects;4
num_votes;4
budget;100
vote_type;approval
PROJECTS
project_id;cost;name
A;60;공원
B;50;도서관
C;20;도로
D;10;벤치
VOTES
voter_id;vote
v1;A,B
v2;A,C
v3;A,B,C
v4;D
"""


@pytest.fixture
def election_file(tmp_path: Path) -> Path:
    path = tmp_path / "election.pb"
    path.write_text(ELECTION, encoding="utf-8")
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["tally", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_prints_selected_ids_one_per_line(
    election_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "--pabulib", str(election_file), "--rule", "greedy")
    assert (code, out, err) == (0, "A\nC\nD\n", "")


def test_json_output_is_exactly_rule_selected_cost_budget(
    election_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "--pabulib", str(election_file), "--rule", "greedy", "--json")
    assert code == 0
    document = json.loads(out)
    assert list(document) == ["rule", "selected", "cost", "budget"]
    assert document == {"rule": "greedy", "selected": ["A", "C", "D"], "cost": 90, "budget": 100}


def test_json_explains_an_mes_outcome(
    election_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "--pabulib", str(election_file), "--rule", "mes", "--json")
    assert code == 0
    document = json.loads(out)
    assert list(document) == ["rule", "selected", "cost", "budget", "explanation"]
    assert document["selected"] == ["A", "D"] and document["cost"] == 70
    explanation = document["explanation"]
    assert (explanation["start_share"], explanation["share"]) == (25, 25)
    a, d = explanation["selected"]
    # A: its 3 supporters paid 20 each of their 25 and kept a fifth of it.
    assert a == {
        "project": "A",
        "cost": 60,
        "supporters": 3,
        "paid_in_full": 3,
        "paid_all_they_had": 0,
        "had_nothing_left": 0,
        "price_per_supporter": 20.0,
        "share_left": 0.2,
        "effective_votes": 3.0,
    }
    assert (d["project"], d["price_per_supporter"], d["share_left"]) == ("D", 10.0, 0.6)
    rejected = {r["project"]: r for r in explanation["rejected"]}
    # B would have cost each of its 2 supporters 25 (2 effective votes for its 50) when A
    # (3 effective votes) won; after that they held 5 each, 10 of the 50.
    assert rejected["B"] == {
        "project": "B",
        "cost": 50,
        "supporters": 2,
        "reason": "beaten",
        "beaten_by": "A",
        "price_per_supporter": 25.0,
        "winner_price_per_supporter": 20.0,
        "effective_votes": 2.0,
        "winner_effective_votes": 3.0,
        "supporters_money": 10.0,
    }
    assert rejected["C"]["beaten_by"] == "A" and rejected["C"]["price_per_supporter"] == 10.0
    assert explanation["completed"] == []


def test_add1_raises_the_share_until_the_outcome_is_exhaustive(
    election_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Shares 25..29 leave C's supporters 5..9 each after A, too little for C's 20; at 30 they
    # can pay 10 each, and A, C, D (90) leave no room for B: exhaustive, so Add1 stops there.
    _, out, _ = run_cli(capsys, "--pabulib", str(election_file), "--rule", "mes+add1")
    assert out.split() == ["A", "C", "D"]
    _, out, _ = run_cli(
        capsys, "--pabulib", str(election_file), "--rule", "mes+add1+greedy", "--json"
    )
    document = json.loads(out)
    assert document["selected"] == ["A", "C", "D"] and document["cost"] == 90
    assert (document["explanation"]["start_share"], document["explanation"]["share"]) == (25, 30)


def test_mes_greedy_and_cardinality(
    election_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run_cli(capsys, "--pabulib", str(election_file), "--rule", "mes+greedy")
    assert out.split() == ["A", "D", "C"]  # B's 50 does not fit in the 30 MES left
    _, out, _ = run_cli(
        capsys, "--pabulib", str(election_file), "--rule", "greedy", "--sat", "cardinality"
    )
    # Votes per won: D 1/10, C 2/20, A 3/60, B 2/50; D and C tie, C comes first.
    assert out.split() == ["C", "D", "A"]


def test_malformed_file_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.pb"
    path.write_text(ELECTION.replace("C;20;도로", "C;20만;도로"), encoding="utf-8")
    code, out, err = run_cli(capsys, "--pabulib", str(path), "--rule", "greedy")
    assert code == 2
    assert out == ""
    assert (
        err
        == f"{path}:12: cost of project 'C' must be a non-negative amount of money, not '20만'\n"
    )


def test_missing_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "absent.pb"
    code, out, err = run_cli(capsys, "--pabulib", str(path), "--rule", "mes")
    assert code == 2
    assert out == ""
    assert err.startswith(f"{path}: cannot read the file")


@pytest.mark.parametrize(
    "args",
    [
        ["--rule", "greedy"],  # no file
        ["--pabulib", "x.pb", "--rule", "borda"],
        ["--pabulib", "x.pb", "--rule", "mes", "--sat", "utility"],
    ],
)
def test_usage_errors_exit_with_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["tally", *args])
    assert caught.value.code == 2
    assert "usage: civicbot tally" in capsys.readouterr().err


def civicbot() -> str:
    return str(Path(sys.executable).with_name("civicbot"))


def test_installed_command(election_file: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [civicbot(), "tally", "--pabulib", str(election_file), "--rule", "mes+greedy", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["selected"] == ["A", "D", "C"]

    broken = tmp_path / "broken.pb"
    broken.write_text(ELECTION.replace("v4;D", "v4;E"), encoding="utf-8")
    done = subprocess.run(
        [civicbot(), "tally", "--pabulib", str(broken), "--rule", "greedy"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == f"{broken}:19: voter 'v4' approves unknown project 'E'\n"


def test_tally_loads_neither_the_bot_nor_the_database(election_file: Path) -> None:
    # Start-up is most of a tally's time: the command loads the rules and the reader only
    # (not even numpy.ma, which np.unique loads: 10 ms).
    script = (
        "import sys\n"
        "from bot.cli import main\n"
        f"main(['tally', '--pabulib', {str(election_file)!r}, '--rule', 'mes+add1', '--json'])\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = done.stdout.splitlines()[-1].split()
    assert "domain.tally" in loaded
    heavy = ("storage", "telegram", "pydantic", "yaml", "asyncio", "bot.services", "scipy")
    assert "numpy.ma" not in loaded
    assert [m for m in loaded if m.split(".")[0] in heavy or m.startswith(heavy)] == []


def test_tally_keeps_openblas_on_one_thread(election_file: Path) -> None:
    # OpenBLAS's idle workers would take the core Add1's child works on; a setting of the
    # user's own is kept.
    script = (
        "import os, sys\n"
        "from bot.cli import main\n"
        f"main(['tally', '--pabulib', {str(election_file)!r}, '--rule', 'greedy'])\n"
        "print(os.environ['OPENBLAS_NUM_THREADS'], len(os.listdir('/proc/self/task')))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}

    def last_line(env: dict[str, str]) -> str:
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env=env,
        )
        return done.stdout.splitlines()[-1]

    assert last_line(env) == "1 1"
    assert last_line({**env, "OPENBLAS_NUM_THREADS": "2"}).split()[0] == "2"


@pytest.mark.parametrize(("cores", "split"), [({0, 1}, True), ({0}, False)])
def test_add1_searches_from_both_ends_where_a_second_core_is_free(
    election_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    cores: set[int],
    split: bool,
) -> None:
    searches: list[object] = []
    search = equal_shares._split_search

    def recorded(completion: equal_shares._Completion) -> object:
        searches.append(completion)
        return search(completion)

    monkeypatch.setattr(equal_shares, "_split_search", recorded)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: cores, raising=False)
    code, out, _ = run_cli(capsys, "--pabulib", str(election_file), "--rule", "mes+add1")
    assert code == 0 and out.split() == ["A", "C", "D"]
    assert len(searches) == (1 if split else 0)
