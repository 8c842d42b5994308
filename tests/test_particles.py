"""Korean particles after placeholders follow the sound of what fills them (SPEC §11)."""

from __future__ import annotations

import pytest

from bot.i18n import Translator, attach_particles


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, "제안 #1이 게시되었어요"), (2, "제안 #2가 게시되었어요"), (10, "제안 #10이 게시되었어요")],
)
def test_subject_particle_follows_the_number(value: int, expected: str) -> None:
    assert attach_particles("제안 #%(id)d(이)가 게시되었어요", {"id": value}) == expected


@pytest.mark.parametrize(
    ("template", "value", "expected"),
    [
        ("%(name)s을(를) 골랐어요", "강남구", "강남구를 골랐어요"),
        ("%(name)s을(를) 골랐어요", "서울", "서울을 골랐어요"),
        ("%(name)s(은)는 마감", "W-2027-000003", "W-2027-000003은 마감"),
        ("%(name)s(와)과 %(other)s", "종로구", "종로구와 %(other)s"),
        ("%(name)s(으)로 이관", "서울", "서울로 이관"),
        ("%(name)s(으)로 이관", "중랑천", "중랑천으로 이관"),
        ("%(name)s(이)에요", "강남구", "강남구예요"),
    ],
)
def test_particle_tokens(template: str, value: str, expected: str) -> None:
    values = {"name": value, "other": "%(other)s"}
    assert attach_particles(template, values) == expected


def test_a_value_with_a_percent_sign_is_not_formatted_again() -> None:
    assert attach_particles("%(title)s(이)가 100%% 달성", {"title": "50% 절감"}) == (
        "50% 절감이 100% 달성"
    )


def test_the_translator_attaches_particles_in_korean_only() -> None:
    message = "Your proposal #%(id)d is published. Share it to gather support!"
    korean = Translator("ko").gettext(message)
    assert (korean % {"id": 1}).startswith("제안 #1이 ")
    assert (korean % {"id": 2}).startswith("제안 #2가 ")
    assert Translator("en").gettext(message) % {"id": 1} == (
        "Your proposal #1 is published. Share it to gather support!"
    )


@pytest.mark.parametrize(
    ("template", "value", "expected"),
    [
        ("“%(name)s”(이)라는 자치구", "가나다구", "“가나다구”라는 자치구"),
        ("“%(name)s”(이)라는 자치구", "서울", "“서울”이라는 자치구"),
        ("시드 “%(seed)s”(으)로 추첨", "로또 1161회", "시드 “로또 1161회”로 추첨"),
        ("<b>%(title)s</b>(을)를 골랐어요", "공원", "<b>공원</b>을 골랐어요"),
    ],
)
def test_particles_after_a_closing_quote_or_tag(template: str, value: str, expected: str) -> None:
    assert attach_particles(template, {"name": value, "seed": value, "title": value}) == expected
