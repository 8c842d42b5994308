"""/profile (SPEC §2, issue 14): every stored answer, and a way to change each — from the
command, /menu and /my. Moving house changes which district's ballots are the person's from
then on; a ballot already cast stays valid."""

from __future__ import annotations

from bot.services import voting as service
from domain.people import Relation
from domain.voting import parse_ballot_file
from storage.people import PeopleRepository
from storage.voting import VotingRepository
from tests.harness import Harness, said
from tests.journeys.steps import answer_pb_questions, buttons, sign_up
from tests.voting.conftest import BALLOT, DURING_VOTE

ALICE = 901
GURO_HEADING = """
[[heading]]
key = "guro"
name = { ko = "구로구 사업", en = "Guro-gu projects" }
district = "guro"
max_choices = 1
budget = 100
[[heading.item]]
key = "g1"
title = "구로 체육관"
cost = 100
"""


async def person(h: Harness) -> object:
    async with h.db.reading() as session:
        return await PeopleRepository(session).get(ALICE)


async def test_the_profile_shows_every_answer_and_changes_each(harness: Harness) -> None:
    h = harness
    replies = await h.say(ALICE, "/profile")
    assert "먼저 /start로 가입해 주세요" in said(replies)
    await sign_up(h, ALICE)
    replies = await h.say(ALICE, "/profile")
    shown = said(replies)
    for line in (
        "언어: 한국어",
        "서울과의 관계: 서울에 살아요",
        "자치구: 마포구",
        "태어난 해: 아직 답하지 않음",
        "성별: 아직 답하지 않음",
        "공무원·출자·출연기관 임직원: 아직 답하지 않음",
        "예산학교: 수료 기록 없음",
        "개인정보 처리방침 동의:",
    ):
        assert line in shown
    await h.press(ALICE, "서울과의 관계 바꾸기")
    replies = await h.press(ALICE, "서울에서 일해요")
    assert "서울과의 관계: 서울에서 일해요" in said(replies)
    await h.press(ALICE, "태어난 해 바꾸기")
    replies = await h.say(ALICE, "3000")
    assert "연도를 네 자리로" in said(replies)
    replies = await h.say(ALICE, "1975")
    assert "태어난 해: 1975" in said(replies)
    await h.press(ALICE, "공무원 여부 바꾸기")
    replies = await h.press(ALICE, "네, 해당합니다")
    assert "공무원·출자·출연기관 임직원: 해당한다고 답함" in said(replies)
    await h.press(ALICE, "공무원 여부 바꾸기")
    await h.press(ALICE, "아니요, 해당하지 않습니다")
    await h.press(ALICE, "성별 바꾸기")
    replies = await h.press(ALICE, "여성")
    assert "성별: 여성" in said(replies)
    await h.press(ALICE, "성별 바꾸기")
    replies = await h.press(ALICE, "밝히지 않을래요")
    assert "성별: 아직 답하지 않음" in said(replies)
    found = await person(h)
    assert found.relation is Relation.WORKER and found.birth_year == 1975  # type: ignore[attr-defined]
    assert found.declared_official_at is None  # type: ignore[attr-defined]
    assert found.declared_not_official_at is not None and found.gender is None  # type: ignore[attr-defined]
    # Cancel leaves the answer as it was.
    await h.press(ALICE, "자치구 바꾸기")
    replies = await h.press(ALICE, "취소")
    assert "자치구: 마포구" in said(replies)
    assert not h.errors.records


async def test_the_profile_is_in_the_menu_and_on_my_page(harness: Harness) -> None:
    h = harness
    await sign_up(h, ALICE)
    await h.say(ALICE, "/menu")
    replies = await h.press(ALICE, "내 정보")
    assert "자치구: 마포구" in said(replies)
    replies = await h.say(ALICE, "/my")
    assert "내 정보" in buttons(replies[-1])
    replies = await h.press(ALICE, "내 정보")
    assert "자치구: 마포구" in said(replies)


async def test_moving_changes_the_ballots_not_yet_cast_only(harness: Harness) -> None:
    h = harness
    h.set_now(DURING_VOTE)
    saved = await service.import_ballot(h.db, parse_ballot_file(BALLOT + GURO_HEADING))
    ids = {heading.key: heading_id for heading_id, heading in saved}
    await sign_up(h, ALICE)
    await h.say(ALICE, "/vote")
    await h.press(ALICE, "마포구 사업")
    await answer_pb_questions(h, ALICE)
    await h.press(ALICE, "1. 마포 도서관")
    await h.press(ALICE, "확인하고 제출")
    await h.press(ALICE, "투표 제출")
    await h.say(ALICE, "/profile")
    await h.press(ALICE, "자치구 바꾸기")
    replies = await h.press(ALICE, "구로구")
    assert "이제 자치구가 구로구예요. 이미 낸 투표는 그대로 유효하고" in said(replies)
    replies = await h.say(ALICE, "/vote")
    listing = said(replies)
    assert "구로구 사업" in buttons(replies[-1]) and "마포구 사업" not in buttons(replies[-1])
    assert "마포구 사업 (투표함)" in listing
    assert "이미 낸 투표는 그대로 유효하지만, 이제는 바꿀 수 없어요(마포구 주민 투표)" in listing
    async with h.db.reading() as session:
        counts = await VotingRepository(session).counts(ids["mapo"])
    assert counts["online"] == 1  # the ballot cast before the move still counts
    # Pressing an old button for the old district's ballot: told why, nothing cast.
    message_id = h.api.bot_messages(ALICE)[-1]["message_id"]
    replies = await h.press_data(ALICE, message_id, f"vt:h:{ids['mapo']}:0")
    assert "마포구 사업은 마포구 주민 투표인데, 알려 주신 자치구는 구로구예요" in said(replies)
    await h.press(ALICE, "구로구 사업")
    await h.press(ALICE, "1. 구로 체육관")
    await h.press(ALICE, "확인하고 제출")
    replies = await h.press(ALICE, "투표 제출")
    assert "투표를 제출했어요" in said(replies)
    assert not h.errors.records


async def test_a_course_code_from_the_profile(harness: Harness) -> None:
    h = harness
    await sign_up(h, ALICE)
    await h.say(9000, "/paneladmin")
    await h.press(9000, "예산학교 과정 코드")
    await h.press(9000, "코드 발급")
    code = said(await h.say(9000, "2027 예산학교 2기")).rpartition("새 과정 코드: ")[2].strip()
    await h.say(ALICE, "/profile")
    await h.press(ALICE, "예산학교 과정 코드 입력")
    replies = await h.say(ALICE, code)
    assert "예산학교 수료를 기록했어요" in said(replies)
    assert "예산학교: 수료" in said(replies)
    assert "예산학교 과정 코드 입력" not in buttons(replies[-1])
