"""`civicbot tally`: output formats, rules, and errors on malformed files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main

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
    code, out, _ = run_cli(capsys, "--pabulib", str(election_file), "--rule", "mes", "--json")
    assert code == 0
    document = json.loads(out)
    assert list(document) == ["rule", "selected", "cost", "budget"]
    assert document == {"rule": "mes", "selected": ["A", "D"], "cost": 70, "budget": 100}


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
        err == f"{path}:12: cost of project 'C' must be a whole non-negative number, not '20만'\n"
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
