"""Programme files and stage timing (SPEC §3)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.programmes import (
    Action,
    ProgrammeFileError,
    ProgrammeKind,
    default_programmes,
    parse_programmes,
)

BASE = """
[[programme]]
key = "pb"
kind = "participatory_budget"
name = { ko = "시민참여예산", en = "PB" }
[[programme.stage]]
key = "call"
name = { ko = "제안", en = "Call" }
starts_at = 2027-02-01T09:00:00
ends_at = 2027-03-01T00:00:00+09:00
actions = ["propose", "support"]
[[programme.stage]]
key = "vote"
name = { ko = "투표", en = "Vote" }
starts_at = 2027-07-20T00:00:00Z
ends_at = 2027-08-10T00:00:00Z
actions = ["vote"]
"""

YAML = """
programme:
  - key: pb
    kind: participatory_budget
    name: {ko: 시민참여예산, en: PB}
    stage:
      - key: call
        name: {ko: 제안, en: Call}
        starts_at: "2027-02-01T09:00:00"
        ends_at: "2027-03-01T00:00:00+09:00"
        actions: [propose, support]
      - key: vote
        name: {ko: 투표, en: Vote}
        starts_at: "2027-07-20T00:00:00Z"
        ends_at: "2027-08-10T00:00:00Z"
        actions: [vote]
"""


def test_times_without_offset_are_seoul_and_stored_in_utc() -> None:
    (programme,) = parse_programmes(BASE)
    call = programme.stages[0]
    assert call.starts_at == datetime(2027, 2, 1, 0, 0, tzinfo=UTC)
    assert call.ends_at == datetime(2027, 2, 28, 15, 0, tzinfo=UTC)


def test_yaml_and_toml_give_the_same_programme() -> None:
    assert parse_programmes(YAML, "p.yaml") == parse_programmes(BASE, "p.toml")


def test_open_and_next_stage_and_allowed_actions() -> None:
    (programme,) = parse_programmes(BASE)
    during_call = datetime(2027, 2, 10, tzinfo=UTC)
    assert [s.key for s in programme.open_stages(during_call)] == ["call"]
    assert programme.allows(Action.SUPPORT, during_call)
    assert not programme.allows(Action.VOTE, during_call)
    next_stage = programme.next_stage(during_call)
    assert next_stage is not None and next_stage.key == "vote"
    # The end is exclusive: at 00:00 KST on 1 March the call is closed.
    closing = datetime(2027, 2, 28, 15, 0, tzinfo=UTC)
    assert programme.open_stages(closing) == []
    assert programme.open_stages(datetime(2027, 2, 28, 14, 59, tzinfo=UTC))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("ends_at = 2027-03-01T00:00:00+09:00", "ends_at = 2027-01-01T00:00:00"), "ends before"),
        (('key = "vote"', 'key = "call"'), "same key"),
        (('actions = ["vote"]', 'actions = ["fly"]'), "stage.1.actions"),
        (("starts_at = 2027-07-20T00:00:00Z", "starts_at = 2026-07-20T00:00:00Z"), "starts before"),
        (('kind = "participatory_budget"', 'kind = "party"'), "kind"),
        (("ends_at = 2027-03-01T00:00:00+09:00\n", ""), "only the last stage"),
        (('key = "pb"', 'key = "Bad Key!"'), "key"),
    ],
)
def test_invalid_files_say_what_is_wrong(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ProgrammeFileError, match=message):
        parse_programmes(BASE.replace(*change))


def test_syntax_errors_name_the_file() -> None:
    with pytest.raises(ProgrammeFileError, match=r"cycle\.toml: not valid TOML"):
        parse_programmes("[[programme]\n", "cycle.toml")
    with pytest.raises(ProgrammeFileError, match="not valid YAML"):
        parse_programmes("programme: [", "cycle.yaml")


def test_duplicate_programme_keys_are_refused() -> None:
    with pytest.raises(ProgrammeFileError, match="used twice: pb"):
        parse_programmes(BASE + BASE.replace("[[programme]]", "[[programme]]", 1))


def test_the_shipped_yearly_cycle() -> None:
    programmes = {p.key: p for p in default_programmes()}
    assert ProgrammeKind.WASTE_REPORTS in {p.kind for p in programmes.values()}
    # 민주주의 서울 and 예산낭비신고 are always open (상시).
    today = datetime(2026, 11, 22, tzinfo=UTC)
    assert programmes["democracy-seoul"].allows(Action.PROPOSE, today)
    assert programmes["budget-waste-reports"].allows(Action.REPORT, today)
    pb = programmes["pb-citywide-2027"]
    assert pb.settings["general_project_cap"] == 4_000_000_000
    assert [s.key for s in pb.stages][:4] == [
        "proposal-call",
        "review",
        "objection",
        "citizen-vote",
    ]
    assert pb.allows(Action.VOTE, datetime(2027, 7, 25, tzinfo=UTC))
    assert programmes["pb-committee-2027"].settings["requires_budget_school"] is True
