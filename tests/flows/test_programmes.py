"""/programmes: what is open and when it closes, as the city writes deadlines (SPEC §3, §11)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.handlers.programmes import describe
from bot.i18n import Translator
from domain.programmes import default_programmes

NOW = datetime(2027, 2, 10, 3, tzinfo=UTC)  # noon in Seoul
STAGE = re.compile(r"(?:진행 중|다음|Now|Next): (.+?)(?:, | \(|$)")
PROGRAMMES = {programme.key: programme for programme in default_programmes()}


def test_a_midnight_deadline_reads_as_24_00_of_the_day_before() -> None:
    text = describe(PROGRAMMES["pb-citywide-2027"], Translator("ko"), NOW)
    assert "진행 중: 사업 제안, 2월 28일(일) 24:00까지 (18일 남음)" in text
    assert "다음: 민관예산협의회 심사, 4월 1일(목)부터" in text
    assert "오전 12:00" not in text and "3월 1일" not in text
    english = describe(PROGRAMMES["pb-citywide-2027"], Translator("en"), NOW)
    assert "Now: Proposal call, until the end of Sun 28 Feb (18 days left)" in english
    assert "Next: Review by the budget council, from Thu 1 Apr" in english


def test_each_stage_is_named_once() -> None:
    for language in ("ko", "en"):
        t = Translator(language)
        for programme in PROGRAMMES.values():
            lines = describe(programme, t, NOW).splitlines()[1:]
            named = [STAGE.match(line) for line in lines]
            stages = [found.group(1) for found in named if found]
            assert len(stages) == len(set(stages)) == len(lines), lines
            assert not [line for line in lines if line.endswith((", 상시", ", open all year"))]
    assert describe(PROGRAMMES["democracy-seoul"], Translator("ko"), NOW).splitlines()[1] == (
        "진행 중: 상시 제안 (마감 없음)"
    )
    assert describe(PROGRAMMES["democracy-seoul"], Translator("en"), NOW).splitlines()[1] == (
        "Now: Open all year (no closing date)"
    )
