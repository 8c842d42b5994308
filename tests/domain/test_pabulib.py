"""The pabulib reader and writer: parsing, errors with line numbers, round trips with pabutools."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pabutools.election.pabulib import parse_pabulib as pabutools_parse_file
from pabutools.election.pabulib import parse_pabulib_from_string as pabutools_parse

import domain.pabulib as pabulib_module
from domain.pabulib import (
    PabulibError,
    PBInstance,
    Project,
    Vote,
    Votes,
    parse_pabulib,
    read_pabulib,
    write_pabulib,
)

SAMPLE = """\
META
key;value
description;2019 광역 시민참여예산
num_projects;4
num_votes;5
budget;100
vote_type;approval
PROJECTS
project_id;cost;name;district
1;60;공원 조성;None
2;50.00;"도서관; 작은";마포구
10;40;도로 보수;종로구
9;0;None;None
VOTES
voter_id;vote;weight;age
a;1,2;1.0;34
b;1;2.5;None

c;2,10,2;1;51
d;;1;20
e;None;0.5;None
"""


def test_parse_reads_every_section() -> None:
    assert parse_pabulib(SAMPLE) == PBInstance(
        budget=100,
        projects={
            "1": Project("1", 60, "공원 조성"),
            "2": Project("2", 50, "도서관; 작은", {"district": "마포구"}),
            "10": Project("10", 40, "도로 보수", {"district": "종로구"}),
            "9": Project("9", 0),
        },
        votes=[
            Vote("a", ("1", "2"), 1.0, {"age": "34"}),
            Vote("b", ("1",), 2.5),
            Vote("c", ("2", "10"), 1.0, {"age": "51"}),  # the repeated approval counts once
            Vote("d", (), 1.0, {"age": "20"}),
            Vote("e", (), 0.5),
        ],
        meta={
            "description": "2019 광역 시민참여예산",
            "num_projects": "4",
            "num_votes": "5",
            "budget": "100",
            "vote_type": "approval",
        },
    )


def test_read_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.pb"
    path.write_bytes(b"\xef\xbb\xbf" + SAMPLE.encode())
    assert read_pabulib(path) == parse_pabulib(SAMPLE)


def test_choose_one_ballots_are_approval_ballots() -> None:
    text = SAMPLE.replace("vote_type;approval", "vote_type;choose-1")
    assert parse_pabulib(text).votes == parse_pabulib(SAMPLE).votes


BASE = [
    "META",  # 1
    "key;value",  # 2
    "description;test",  # 3
    "num_projects;3",  # 4
    "num_votes;3",  # 5
    "budget;100",  # 6
    "vote_type;approval",  # 7
    "PROJECTS",  # 8
    "project_id;cost;name",  # 9
    "1;60;Park",  # 10
    "2;50;Library",  # 11
    "3;40;Road",  # 12
    "VOTES",  # 13
    "voter_id;vote",  # 14
    "a;1,2",  # 15
    "b;1",  # 16
    "c;2,3",  # 17
]


def edited(changes: dict[int, str | None]) -> str:
    """BASE with lines replaced (by 1-based number), or removed when mapped to None."""
    lines = [changes.get(n, text) for n, text in enumerate(BASE, start=1)]
    return "\n".join(line for line in lines if line is not None) + "\n"


def test_base_file_is_valid() -> None:
    instance = parse_pabulib(edited({}))
    assert instance.budget == 100
    assert list(instance.projects) == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("changes", "line", "message"),
    [
        ({6: "budget;lots"}, 6, "budget must be a non-negative amount of money, not 'lots'"),
        ({6: "budget;-100"}, 6, "budget must be a non-negative amount"),
        ({6: None}, 2, "META has no 'budget'"),
        ({7: "vote_type;ordinal"}, 7, "vote_type 'ordinal' is not supported"),
        ({3: "description"}, 3, "a META row needs a key and a value (key;value)"),
        ({2: "name;text"}, 2, "the META header must be 'key;value'"),
        ({5: "num_votes;4"}, 5, "META says num_votes is 4 but the file has 3"),
        ({12: "3;4x;Road"}, 12, "cost of project '3' must be a non-negative amount of money"),
        ({12: "3;-40;Road"}, 12, "cost of project '3'"),
        ({12: "3;1.2.5;Road"}, 12, "cost of project '3'"),
        ({11: "2;50"}, 11, "a PROJECTS row needs 3 columns like its header, found 2"),
        ({12: "1;40;Road"}, 12, "project '1' appears twice"),
        ({12: '3;40;"Road'}, 12, "a quoted field opened on this line is never closed"),
        ({11: '2;50;"Library', 12: '3";40;Road'}, 11, "a PROJECTS row needs 3 columns"),
        ({9: None}, 9, "the first PROJECTS column must be 'project_id', not '1'"),
        ({9: "project_id;price;name"}, 9, "the PROJECTS header has no 'cost' column"),
        ({17: "c;2,7"}, 17, "voter 'c' approves unknown project '7'"),
        ({16: "b;1;x"}, 16, "a VOTES row needs 2 columns like its header, found 3"),
        ({17: "a;2,3"}, 17, "voter 'a' votes twice"),
        ({13: None, 14: None, 15: None, 16: None, 17: None}, 12, "missing section VOTES"),
        ({8: "VOTES"}, 8, "section VOTES found where PROJECTS was expected"),
        ({1: "hello"}, 1, "the file must start with the META section"),
        ({14: "VOTES"}, 13, "section VOTES has no header row"),
        ({17: "VOTES"}, 17, "section VOTES appears twice"),
    ],
)
def test_malformed_files_say_what_and_where(
    changes: dict[int, str | None], line: int, message: str
) -> None:
    with pytest.raises(PabulibError) as caught:
        parse_pabulib(edited(changes))
    assert caught.value.line == line
    assert message in caught.value.message
    assert str(caught.value).startswith(f"line {line}: ")


@pytest.mark.parametrize("weight", ["0", "-1", "heavy", "nan", "inf"])
def test_weights_must_be_positive_numbers(weight: str) -> None:
    text = edited({14: "voter_id;vote;weight", 15: "a;1,2;1", 16: f"b;1;{weight}", 17: "c;2;1"})
    with pytest.raises(PabulibError) as caught:
        parse_pabulib(text)
    assert caught.value.line == 16
    assert "weight of voter 'b' must be a positive number" in caught.value.message


def test_invalid_utf8_is_reported_on_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.pb"
    path.write_bytes(edited({3: "description;Séoul"}).encode("latin-1"))
    with pytest.raises(PabulibError) as caught:
        read_pabulib(path)
    assert caught.value.line == 3


def pabutools_view(text: str) -> tuple[object, ...]:
    """What pabutools reads from `text`, in plain Python values."""
    instance, profile = pabutools_parse(text)
    return (
        instance.budget_limit,
        sorted((p.name, p.cost, instance.project_meta[p].get("name")) for p in instance),
        [(sorted(p.name for p in ballot), ballot.meta) for ballot in profile],
        instance.meta,
    )


def expected_view(instance: PBInstance) -> tuple[object, ...]:
    return (
        instance.budget,
        sorted((p.id, p.cost, p.name) for p in instance.projects.values()),
        [
            (
                sorted(set(v.approved)),
                {
                    "voter_id": v.voter_id,
                    **(
                        {"weight": repr(v.weight)}
                        if any(u.weight != 1 for u in instance.votes)
                        else {}
                    ),
                    **v.meta,
                },
            )
            for v in instance.votes
        ],
        {
            **instance.meta,
            "num_projects": str(len(instance.projects)),
            "num_votes": str(len(instance.votes)),
            "budget": str(instance.budget),
            "vote_type": "approval",
        },
    )


SECTION_WORDS = ("meta", "projects", "votes")
# Text a reader gives back unchanged: no line breaks or surrounding blanks, not the word None.
plain = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\x85"),
    max_size=6,
).filter(lambda s: s == s.strip() and s.lower() != "none" and s.splitlines() in ([], [s]))
identifier = plain.filter(lambda s: s != "" and "," not in s and s.lower() not in SECTION_WORDS)


@st.composite
def elections(draw: st.DrawFn) -> PBInstance:
    ids = draw(st.lists(identifier, max_size=6, unique=True))
    projects = {
        pid: Project(
            pid,
            draw(st.integers(0, 10**12)),
            draw(st.none() | plain),
            draw(st.dictionaries(st.sampled_from(["district", "theme"]), plain, max_size=2)),
        )
        for pid in ids
    }
    voter_ids = draw(st.lists(identifier, max_size=8, unique=True))
    votes = [
        Vote(
            voter,
            tuple(draw(st.lists(st.sampled_from(ids), max_size=4))) if ids else (),
            draw(st.sampled_from([1.0, 1.0, 2.0, 0.5, 0.1, 1e-3])),
            draw(st.dictionaries(st.sampled_from(["age", "sex"]), plain, max_size=2)),
        )
        for voter in voter_ids
    ]
    meta = draw(st.dictionaries(identifier, plain, max_size=3))
    return PBInstance(draw(st.integers(0, 10**13)), projects, votes, meta)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(elections())
def test_written_files_read_back_the_same_in_both_readers(instance: PBInstance) -> None:
    text = write_pabulib(instance)
    again = parse_pabulib(text)
    assert again.budget == instance.budget
    assert again.projects == instance.projects
    assert again.votes == [
        Vote(v.voter_id, tuple(dict.fromkeys(v.approved)), v.weight, v.meta) for v in instance.votes
    ]
    assert again.meta == expected_view(instance)[3]
    assert write_pabulib(again) == text
    assert pabutools_view(text) == expected_view(instance)


def test_pabutools_reads_a_written_file_from_disk(tmp_path: Path) -> None:
    instance = parse_pabulib(SAMPLE)
    path = tmp_path / "export.pb"
    path.write_text(write_pabulib(instance), encoding="utf-8")
    pb_instance, profile = pabutools_parse_file(str(path))
    assert pb_instance.budget_limit == 100
    assert {p.name: p.cost for p in pb_instance} == {"1": 60, "2": 50, "10": 40, "9": 0}
    assert [sorted(p.name for p in ballot) for ballot in profile] == [
        ["1", "2"],
        ["1"],
        ["10", "2"],
        [],
        [],
    ]
    assert [ballot.meta["weight"] for ballot in profile] == ["1.0", "2.5", "1.0", "1.0", "0.5"]


def test_unweighted_elections_are_written_without_a_weight_column() -> None:
    instance = PBInstance(10, {"1": Project("1", 5)}, [Vote("a", ("1",)), Vote("b", ())], {})
    assert write_pabulib(instance).splitlines()[-3:] == ["voter_id;vote", "a;1", "b;"]


@pytest.mark.parametrize(
    ("instance", "message"),
    [
        (PBInstance(10, {"1": Project("1", 5, "two\nlines")}, [], {}), "line breaks"),
        (PBInstance(10, {"1": Project("1", 5, " padded")}, [], {}), "surrounding blanks"),
        (PBInstance(10, {"1": Project("1", 5, "None")}, [], {}), "the word 'None'"),
        (PBInstance(10, {"1,2": Project("1,2", 5)}, [], {}), "contains ','"),
        (PBInstance(10, {"votes": Project("votes", 5)}, [], {}), "would not read back"),
        (PBInstance(10, {"1": Project("2", 5)}, [], {}), "filed under '1'"),
        (PBInstance(10, {"1": Project("1", -5)}, [], {}), "negative cost"),
        (PBInstance(-1, {}, [], {}), "budget -1 is negative"),
        (PBInstance(10, {}, [Vote("a", ("1",))], {}), "unknown project '1'"),
        (PBInstance(10, {}, [Vote("a", ()), Vote("a", ())], {}), "votes twice"),
        (PBInstance(10, {}, [Vote("a", (), 0.0)], {}), "has weight 0.0"),
        (PBInstance(10, {}, [Vote("", ())], {}), "would not read back"),
    ],
)
def test_writer_refuses_what_would_not_read_back(instance: PBInstance, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_pabulib(instance)


# What pabutools reads, we read too (issue 22): each text below parses in both, to the same
# budget, costs and ballots.
ACCEPTED = {
    "semicolon in a META value": ({3: "description;Green Budget; Wieliczka"}, {}),
    "quoted fields": ({10: '1;60;"Park ""Stok""; north"', 15: '"a";"1,2"'}, {}),
    "a quoted name over two lines": (
        {4: "num_projects;2", 11: '2;50;"Library', 12: 'annex"', 17: "c;2"},
        {},
    ),
    "a quote inside a field": ({12: '3;40;"Ro"ad'}, {}),
    "decimal money": ({6: "budget;100.5", 10: "1;60,25;Park"}, {}),
    "blank lines and spaces": ({13: "\n VOTES ", 16: "b;1\n\n"}, {}),
}


def _pabutools_view(text: str) -> tuple[Fraction, dict[str, Fraction], list[list[str]]]:
    instance, profile = pabutools_parse(text)
    costs = {p.name: Fraction(p.cost) for p in instance}
    ballots = sorted(sorted(p.name for p in ballot) for ballot in profile)
    return Fraction(instance.budget_limit), costs, ballots


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_reads_what_pabutools_reads(case: str) -> None:
    changes, _ = ACCEPTED[case]
    text = edited(changes)
    ours = parse_pabulib(text)
    budget, costs, ballots = _pabutools_view(text)
    assert Fraction(ours.budget, ours.unit) == budget
    assert {pid: Fraction(p.cost, ours.unit) for pid, p in ours.projects.items()} == costs
    assert sorted(sorted(v.approved) for v in ours.votes) == ballots


def test_meta_values_keep_their_semicolons_and_quoted_fields_their_text() -> None:
    text = edited({3: "description;Green Budget; Wieliczka", 10: '1;60;"Park ""Stok""; north"'})
    instance = parse_pabulib(text)
    assert instance.meta["description"] == "Green Budget; Wieliczka"
    assert instance.projects["1"].name == 'Park "Stok"; north'
    # Written back, both survive a round trip (the writer quotes what needs it).
    assert parse_pabulib(write_pabulib(instance)).meta["description"] == "Green Budget; Wieliczka"


def test_a_field_over_two_lines_keeps_later_line_numbers_right() -> None:
    text = edited({4: "num_projects;2", 11: '2;50;"Library', 12: 'annex"', 17: "c;2,7"})
    with pytest.raises(PabulibError) as caught:
        parse_pabulib(text)
    assert caught.value.line == 17


def test_quotes_in_votes_are_read_with_their_line_numbers() -> None:
    instance = parse_pabulib(edited({15: '"a";"1,2"', 16: 'b;"1"'}))
    assert [v.approved for v in instance.votes] == [("1", "2"), ("1",), ("2", "3")]
    with pytest.raises(PabulibError) as caught:
        parse_pabulib(edited({15: '"a";"1,2"', 17: '"c";"9"'}))
    assert caught.value.line == 17


def test_decimal_money_is_kept_exactly_in_whole_multiples() -> None:
    instance = parse_pabulib(edited({6: "budget;100.5", 10: "1;60,25;Park"}))
    assert instance.unit == 4  # 100.5 and 60.25 are whole numbers of quarters
    assert (instance.budget, instance.projects["1"].cost, instance.projects["2"].cost) == (
        402,
        241,
        200,
    )
    again = parse_pabulib(write_pabulib(instance))
    assert again == instance
    budget, costs, _ = _pabutools_view(write_pabulib(instance))
    assert budget == Fraction("100.5") and costs["1"] == Fraction("60.25")


# The bulk reading of VOTES (numpy, for the usual city-scale file) and the row-by-row reading
# must read every file the same way: same ballots, same errors on the same lines.
BULK_HEAD = """\
META
key;value
budget;100
vote_type;approval
PROJECTS
project_id;cost
1;10
2;20
3;30
10;40
a-project-id-longer-than-eight-bytes;50
VOTES
voter_id;vote
"""
PIECES = ["1", "2", "3", "10", "a-project-id-longer-than-eight-bytes", "7", "", " 2", "None"]
VOTER_IDS = ["a", "b", "c1", "v,2", "None", "votes", " d", "é", '"e"', "", "abcdefghijklmnop"]
vote_fields = st.lists(st.sampled_from(PIECES), max_size=4).map(",".join)
rows = st.one_of(
    st.tuples(st.sampled_from(VOTER_IDS), vote_fields).map(";".join),
    st.tuples(st.sampled_from(VOTER_IDS), vote_fields).map(";".join),
    st.sampled_from(["", " ", "VOTES", "x;1;2", 'q;"1,2"', "r;1\u00a0"]),
)


@st.composite
def vote_sections(draw: st.DrawFn) -> list[str]:
    """Mostly well-formed VOTES rows (voter ids of one word or two), some with one odd row put
    in, some with a voter twice."""
    fields = st.lists(st.sampled_from(PIECES[:5]), max_size=4).map(",".join)
    prefix = draw(st.sampled_from(["v", "VOTER-number-"]))
    clean = st.lists(fields, min_size=1, max_size=8).map(
        lambda votes: [f"{prefix}{i};{vote}" for i, vote in enumerate(votes)]
    )
    lines = draw(clean | st.lists(rows, max_size=7, unique_by=lambda r: r.split(";")[0]))
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(rows))
    if lines and draw(st.booleans()):
        lines.append(draw(st.sampled_from(lines)))
    return lines


def row_by_row(text: str) -> PBInstance:
    with mock.patch("domain.pabulib._bulk_votes", return_value=None):
        return parse_pabulib(text)


def reading(read: Callable[[str], PBInstance], text: str) -> tuple[object, ...]:
    try:
        instance = read(text)
    except PabulibError as error:
        return ("refused", error.line, error.message)
    return ("read", instance.budget, instance.projects, list(instance.votes), instance.meta)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(vote_sections(), st.sampled_from(["\n", "\r\n", ""]))
def test_bulk_and_row_by_row_readings_agree(lines: list[str], end: str) -> None:
    text = BULK_HEAD + "\n".join(lines) + end
    assert reading(parse_pabulib, text) == reading(row_by_row, text)
    try:
        votes = parse_pabulib(text).votes
    except PabulibError:
        return
    if isinstance(votes, Votes):
        # The arrays say what the Vote objects say: who approves what (repeats aside).
        pairs = {
            (int(v), votes.project_ids[p])
            for v, p in zip(votes.entry_voter, votes.entry_project, strict=True)
        }
        assert pairs == {(i, pid) for i, vote in enumerate(votes) for pid in vote.approved}


def test_the_usual_file_is_read_in_bulk_and_others_row_by_row() -> None:
    usual = BULK_HEAD + "v1;1,10\nv2;\n\nv3;a-project-id-longer-than-eight-bytes,1,1\r\n"
    votes = parse_pabulib(usual).votes
    assert isinstance(votes, Votes)
    assert len(votes) == 3
    assert votes == [
        Vote("v1", ("1", "10")),
        Vote("v2", ()),
        Vote("v3", ("a-project-id-longer-than-eight-bytes", "1")),
    ]
    assert votes == row_by_row(usual).votes
    with_age = BULK_HEAD.replace("voter_id;vote", "voter_id;vote;age")
    for unusual in (
        BULK_HEAD + 'v1;"1,10"\n',  # quotes
        BULK_HEAD + "v1;1, 10\n",  # blanks
        BULK_HEAD + "v1;None\n",  # the word None
        BULK_HEAD + "é;1\n",  # not ASCII
        with_age + "v1;1;34\n",  # another column
    ):
        instance = parse_pabulib(unusual)
        assert not isinstance(instance.votes, Votes)
        assert instance == row_by_row(unusual)


def test_blank_looking_lines_among_votes_are_skipped() -> None:
    # pabutools skips a line of spaces as a blank line, wherever it is.
    instance = parse_pabulib(edited({16: "b;1\n   \n\t"}))
    assert [v.voter_id for v in instance.votes] == ["a", "b", "c"]


@pytest.mark.parametrize("count", [1, 2, 7, 200, 1023])
def test_vote_pieces_are_found_among_the_project_ids_by_hash(count: int) -> None:
    # Each piece of a vote is looked up among the project ids' keys through a hash table:
    # every listed key must find its own row (unlisted ones land anywhere and are checked).
    rng = np.random.default_rng(count)
    keys = np.unique(rng.integers(0, 2**64 - 1, count, dtype=np.uint64, endpoint=True))
    wanted = keys[rng.integers(0, len(keys), 5000)]
    found = pabulib_module._hashed_rows(keys, wanted)
    assert found is not None
    assert np.array_equal(keys[found], wanted)
    # Keys equal in their top bits (ids differing in their first bytes only) spread too.
    low = np.arange(count, dtype=np.uint64)
    found = pabulib_module._hashed_rows(low, low[::-1])
    assert found is not None and np.array_equal(found, np.arange(count)[::-1])


def test_files_with_more_project_ids_than_a_hash_table_holds_are_read_in_bulk_too() -> None:
    ids = [str(i) for i in range(3000)]
    assert (
        pabulib_module._hashed_rows(np.arange(3000, dtype=np.uint64), np.zeros(1, np.uint64))
        is None
    )
    text = (
        "META\nkey;value\nbudget;100\nvote_type;approval\nPROJECTS\nproject_id;cost\n"
        + "".join(f"{pid};5\n" for pid in ids)
        + "VOTES\nvoter_id;vote\n"
        + "".join(f"v{i};{ids[i]},{ids[-1 - i]}\n" for i in range(0, 3000, 7))
    )
    instance = parse_pabulib(text)
    assert isinstance(instance.votes, Votes)
    assert reading(parse_pabulib, text) == reading(row_by_row, text)
