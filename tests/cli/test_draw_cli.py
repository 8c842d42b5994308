"""`civicbot draw`: output formats, reproducibility across processes, and errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

import domain.sortition.draw as draw_module
from bot.cli import main
from domain.sortition import Distribution, TypeSpace, commitment, read_pool, read_quotas
from domain.sortition.optimise import solve

# 24 applicants; 6 seats with at least 2 women, 2 men, 1 of each age band, 2 from 종로구
QUOTAS = """\
feature,value,min,max
gender,F,2,4
gender,M,2,4
age,20s,1,3
age,40s,1,3
age,60s,1,3
district,종로구,2,3
district,마포구,0,4
"""


def pool_csv() -> str:
    rows = ["id,gender,age,district"]
    for i in range(24):
        gender = "FM"[i % 2]
        age = ("20s", "20s", "20s", "40s", "60s")[i % 5]
        district = "종로구" if i % 3 == 0 else "마포구"
        rows.append(f"u{i:02d},{gender},{age},{district}")
    return "\n".join(rows) + "\n"


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    pool, quotas = tmp_path / "pool.csv", tmp_path / "quotas.csv"
    pool.write_text(pool_csv(), encoding="utf-8")
    quotas.write_text(QUOTAS, encoding="utf-8")
    return pool, quotas


def args(
    pool: Path, quotas: Path, *extra: str, seats: str = "6", seed: str = "2027-03-06"
) -> list[str]:
    return [
        "draw",
        "--pool",
        str(pool),
        "--quotas",
        str(quotas),
        "--seats",
        seats,
        "--seed",
        seed,
        *extra,
    ]


def test_prints_the_selected_ids_one_per_line(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args(*files)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and lines == sorted(set(lines))
    pool = {a.id: a for a in read_pool(files[0])}
    held = Counter((f, v) for pid in lines for f, v in pool[pid].features.items())
    for quota in read_quotas(files[1]):
        assert quota.min <= held[quota.feature, quota.value] <= quota.max


def test_json_output_has_exactly_the_contract_fields(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args(*files, "--json")) == 0
    document = json.loads(capsys.readouterr().out)
    assert list(document) == [
        "selected",
        "reserve",
        "seed",
        "commitment",
        "probabilities",
        "min_ratio",
        "gini",
        "upper_bound",
        "upper_bound_ratio",
        "method",
    ]
    assert document["seed"] == "2027-03-06"
    assert document["commitment"] == commitment(read_pool(files[0]), read_quotas(files[1]), 6)
    assert len(document["selected"]) == 6
    assert sorted(document["selected"] + document["reserve"]) == [f"u{i:02d}" for i in range(24)]
    plain_run = main(args(*files))
    assert capsys.readouterr().out.splitlines() == document["selected"]
    assert plain_run == 0


def test_json_publishes_every_probability_and_the_fairness_figures(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args(*files, "--json")) == 0
    document = json.loads(capsys.readouterr().out)
    probabilities = document["probabilities"]
    assert sorted(probabilities) == [f"u{i:02d}" for i in range(24)]
    assert sum(probabilities.values()) == pytest.approx(6, abs=1e-4)
    average = 6 / 24
    assert document["min_ratio"] == pytest.approx(min(probabilities.values()) / average, abs=1e-3)
    # The draw reaches the certified bound: no lottery meeting the quotas does better.
    assert document["min_ratio"] <= document["upper_bound_ratio"] + 1e-4
    assert document["upper_bound_ratio"] == pytest.approx(document["upper_bound"] / average)
    assert 0 <= document["gini"] < 1
    assert document["method"] in {"lp-decomposition", "column-generation"}


def test_another_seed_draws_another_panel(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    main(args(*files, "--json"))
    first = json.loads(capsys.readouterr().out)
    main(args(*files, "--json", seed="another"))
    second = json.loads(capsys.readouterr().out)
    assert first["commitment"] == second["commitment"]
    assert (first["selected"], first["reserve"]) != (second["selected"], second["reserve"])


def test_the_installed_command_reproduces_the_in_process_draw(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    civicbot = Path(sys.executable).parent / "civicbot"
    completed = subprocess.run(
        [str(civicbot), *args(*files, "--json")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert main(args(*files, "--json")) == 0
    assert json.loads(completed.stdout) == json.loads(capsys.readouterr().out)


def test_infeasible_quotas_exit_2_with_an_explanation(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pool, quotas = files
    quotas.write_text(QUOTAS.replace("gender,F,2,4", "gender,F,5,6"), encoding="utf-8")
    assert main(args(pool, quotas)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "the quotas cannot all be met" in captured.err
    assert "gender: the minimums add up to 7, 1 more than the 6 seats" in captured.err
    assert "gender=F: lower min 5 to 4 (by 1)" in captured.err


def test_a_bad_quota_file_names_file_and_line(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pool, quotas = files
    quotas.write_text(QUOTAS.replace("age,40s,1,3", "age,40s,1,three"), encoding="utf-8")
    assert main(args(pool, quotas)) == 2
    assert f"{quotas}:5: max 'three' is not a whole number" in capsys.readouterr().err


def test_a_pool_value_without_a_quota_names_its_line(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pool, quotas = files
    pool.write_text(pool_csv().replace("u05,M,20s,마포구", "u05,M,20s,강남구"), encoding="utf-8")
    assert main(args(pool, quotas)) == 2
    assert f"{pool}:7: district='강남구' has no quota" in capsys.readouterr().err


def test_a_missing_file_is_reported(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pool, quotas = files
    assert main(args(pool.with_name("absent.csv"), quotas)) == 2
    assert "absent.csv" in capsys.readouterr().err


@pytest.mark.parametrize("seats", ["0", "many"])
def test_seats_must_be_a_positive_number(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], seats: str
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(args(*files, seats=seats))
    assert caught.value.code == 2
    assert "--seats" in capsys.readouterr().err


def test_a_lottery_failing_the_sanity_check_is_refused(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def lopsided(space: TypeSpace) -> Distribution:
        distribution = solve(space)
        return replace(distribution, compositions=distribution.compositions[:1], weights=(1,))

    monkeypatch.setattr(draw_module, "solve", lopsided)
    assert main(args(*files)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "refusing to draw" in captured.err and "zero chance" in captured.err
