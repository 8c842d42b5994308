"""Numbers from outside, read in one place with a range check (domain/ids.py; issue 17)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from domain.ids import MAX_ID, NO_ID, RowId, clamp_ids, is_number, parse_id, parse_number, to_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", 12),
        (" 12 ", 12),
        ("0012", 12),
        ("１２", 12),  # a full-width keyboard's digits
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), NO_ID),  # out of range: looks up like an unknown id
        ("99999999999999999999", NO_ID),
        ("9" * 5000, NO_ID),  # longer than Python converts
        ("0", NO_ID),
        ("", None),
        ("12a", None),
        ("-3", None),
        ("+3", None),
        ("1 2", None),
        ("²", None),  # str.isdigit says yes; int() refuses it
        ("1.5", None),
    ],
)
def test_parse_id(text: str, expected: int | None) -> None:
    assert parse_id(text) == expected
    assert to_id(text) == (NO_ID if expected is None else expected)
    assert is_number(text) is (expected is not None)


def test_parse_number_keeps_to_a_smaller_range() -> None:
    assert parse_number("100", 100) == 100
    assert parse_number("101", 100) is None
    assert parse_number("0", 100) == 0
    assert parse_number("²", 100) is None
    assert parse_id("101", 100) == NO_ID


@given(st.text(max_size=80))
def test_any_text_gives_an_id_in_range_or_none(text: str) -> None:
    found = parse_id(text)
    assert found is None or 0 <= found <= MAX_ID
    assert 0 <= to_id(text) <= MAX_ID


@given(st.text(max_size=64))
def test_clamped_data_holds_no_number_out_of_range(data: str) -> None:
    clamped = clamp_ids(data)
    for token in re.findall(r"\d+", clamped):
        assert int(token) <= MAX_ID
    if all(parse_number(token) is not None for token in re.findall(r"\d+", data)):
        assert clamped == data  # nothing in range is touched


def test_clamp_ids() -> None:
    assert clamp_ids("pr:card:99999999999999999999") == "pr:card:0"
    assert clamp_ids(f"vt:t:{MAX_ID}:{MAX_ID + 1}") == f"vt:t:{MAX_ID}:0"
    assert clamp_ids("pr:card:12") == "pr:card:12"
    assert clamp_ids("cw:" + "١" * 25) == "cw:0"  # digits of any script count


def test_row_ids_in_models_are_range_checked() -> None:
    class Request(BaseModel):
        proposal: RowId

    assert Request(proposal=MAX_ID).proposal == MAX_ID
    for bad in (0, MAX_ID + 1, -1):
        with pytest.raises(ValidationError):
            Request(proposal=bad)
