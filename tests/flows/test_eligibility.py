"""Eligibility on demand (SPEC §2, issue 14): a flow that needs an answer the person never
gave asks it right there, says why, saves it and carries on; someone who really may not take
part is told why, once. People here sign up through the chat, as a newcomer would."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.services import voting as service
from domain.people import Relation
from storage.people import PeopleRepository
from tests.harness import Harness, said
from tests.journeys.steps import answer_pb_questions, buttons, deliver, sign_up
from tests.proposals.conftest import IN_PB_CALL
from tests.voting.conftest import DURING_VOTE, ballot_file

ALICE, BOB, CAROL = 801, 802, 803


async def ballot(h: Harness) -> dict[str, int]:
    h.set_now(DURING_VOTE)
    return {heading.key: hid for hid, heading in await service.import_ballot(h.db, ballot_file)}


async def profile_of(h: Harness, user_id: int) -> object:
    async with h.db.reading() as session:
        return await PeopleRepository(session).get(user_id)


async def city_ballot_as_newcomer(h: Harness, user_id: int) -> list[dict[str, Any]]:
    """Sign up (consent, relation and district only, as every newcomer), then open the
    city-wide ballot from /vote; returns what the bot said to that."""
    await sign_up(h, user_id)
    await h.say(user_id, "/vote")
    return await h.press(user_id, "광역 사업")


async def test_a_vote_asks_what_it_needs_then_opens_the_ballot(harness: Harness) -> None:
    h = harness
    await ballot(h)
    replies = await city_ballot_as_newcomer(h, ALICE)
    question = said(replies)
    assert "광역 사업 투표에 앞서 질문 2개만 드릴게요" in question
    assert "/profile에서 언제든 바꿀 수 있어요" in question
    replies = await h.say(ALICE, "87")
    assert "연도를 네 자리로" in said(replies) and "태어난 해를" in h.last_text(ALICE)
    after = await answer_pb_questions(h, ALICE, "1987")
    assert "선택: 0개 (최대 3개)" in after  # the ballot, right after the last answer
    person = await profile_of(h, ALICE)
    assert person.birth_year == 1987 and person.declared_not_official_at is not None  # type: ignore[attr-defined]
    # Asked once: the next ballot opens at once.
    await h.say(ALICE, "/vote")
    replies = await h.press(ALICE, "마포구 사업")
    assert "선택: 0개 (최대 1개)" in said(replies)
    assert not h.errors.records


async def test_the_ballot_is_kept_while_answers_are_asked_at_submit(harness: Harness) -> None:
    h = harness
    ids = await ballot(h)
    await sign_up(h, ALICE)
    await h.say(ALICE, "/help")
    stale = h.api.bot_messages(ALICE)[-1]["message_id"]
    # Choices made on a ballot message from before the vote needed these answers.
    await h.press_data(ALICE, stale, f"vt:t:{ids['city']}:2")
    replies = await h.press_data(ALICE, stale, f"vt:s:{ids['city']}")
    assert "광역 사업 투표에 앞서 질문 2개만" in said(replies)
    after = await answer_pb_questions(h, ALICE)
    assert "투표를 제출했어요" in after
    assert await service.current_choices(h.db, ALICE, ids["city"]) == ["c"]
    assert not h.errors.records


async def test_too_young_is_told_why_once_and_what_is_left(harness: Harness) -> None:
    h = harness
    await ballot(h)
    await city_ballot_as_newcomer(h, BOB)
    replies = await h.say(BOB, "2016")
    text = said(replies)
    assert "14세부터(태어난 해 기준) 참여할 수 있어서 아직은 참여할 수 없어요" in text
    assert "민주주의 서울에 제안하고" in text and "/profile" in text
    assert buttons(replies[-1]) == ["내 정보"]
    assert "여기에 해당하시나요?" not in text  # nothing more is asked
    replies = await h.say(BOB, "/vote")
    listing = said(replies)
    assert "참여할 수 없는 투표:" in listing and "광역 사업 — 14세부터" in listing
    assert "광역 사업" not in buttons(replies[-1])
    async with h.db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM ballots") == 0


async def test_without_a_district_the_district_votes_wait_for_it(harness: Harness) -> None:
    h = harness
    await ballot(h)
    await sign_up(h, CAROL, district=None)
    replies = await h.say(CAROL, "/vote")
    listing = said(replies)
    assert "자치구 주민 투표가 1개 더 있어요" in listing
    assert "마포구 사업" not in buttons(replies[-1])
    await h.press(CAROL, "내 자치구 알려 주기")
    replies = await h.say(CAROL, "마포")
    assert "마포구 사업" in buttons(replies[-1])  # the list again, with the district's vote
    assert (await profile_of(h, CAROL)).district == "mapo"  # type: ignore[attr-defined]


async def test_the_reminder_button_asks_what_the_vote_needs(harness: Harness) -> None:
    h = harness
    ids = await ballot(h)
    await sign_up(h, ALICE)
    await h.app.automation.tick()
    h.set_now(datetime(2027, 8, 9, 3, 0, tzinfo=UTC))  # 12 hours before the vote closes
    await h.app.automation.tick()
    async with h.db.reading() as session:
        rows = await session.fetchall(
            "SELECT payload FROM outbox WHERE user_id = ? AND category = 'deadlines'", (ALICE,)
        )
    assert {json.loads(r["payload"])["buttons"][0][0]["callback_data"] for r in rows} == {
        f"vt:h:{ids[key]}:0" for key in ("city", "mapo", "question")
    }
    await deliver(h)
    reminder = next(
        m for m in h.api.bot_messages(ALICE) if f"vt:h:{ids['city']}:0" in json.dumps(m)
    )
    replies = await h.press_data(ALICE, reminder["message_id"], f"vt:h:{ids['city']}:0")
    assert "태어난 해를 네 자리로" in said(replies)
    assert "선택: 0개" in await answer_pb_questions(h, ALICE)


async def test_a_pb_proposal_asks_then_the_draft_carries_on(harness: Harness) -> None:
    h = harness
    h.set_now(IN_PB_CALL)
    await sign_up(h, ALICE)
    await h.say(ALICE, "/propose")
    replies = await h.press(ALICE, "2027 시민참여예산 광역제안형")
    assert "2027 시민참여예산 광역제안형에 제안하기 전에 질문 2개만" in said(replies)
    after = await answer_pb_questions(h, ALICE)
    assert "제안 제목" in after  # the draft goes on where it was
    # An official is told why, once, and the flow ends.
    await sign_up(h, BOB)
    await h.say(BOB, "/propose")
    await h.press(BOB, "2027 시민참여예산 광역제안형")
    await h.say(BOB, "1980")
    replies = await h.press(BOB, "네, 해당합니다")
    assert "규정에 따라 2027 시민참여예산 광역제안형에 참여할 수 없어요" in said(replies)
    replies = await h.say(BOB, "/cancel")
    assert "그만둘 작업이 없어요" in said(replies)
    person = await profile_of(h, BOB)
    assert person.declared_official_at is not None  # type: ignore[attr-defined]
    assert person.relation is Relation.RESIDENT  # type: ignore[attr-defined]
    # Told again only if they try again; 민주주의 서울 stays open to them.
    await h.say(BOB, "/propose")
    replies = await h.press(BOB, "민주주의 서울 시민제안")
    assert "제안 제목" in said(replies)
    assert not h.errors.records


async def test_cancel_in_the_middle_of_the_questions_keeps_the_ballot(harness: Harness) -> None:
    h = harness
    ids = await ballot(h)
    await sign_up(h, ALICE)
    await h.say(ALICE, "/help")
    stale = h.api.bot_messages(ALICE)[-1]["message_id"]
    await h.press_data(ALICE, stale, f"vt:t:{ids['city']}:3")
    await h.press_data(ALICE, stale, f"vt:s:{ids['city']}")
    replies = await h.say(ALICE, "/programmes")  # a command mid-question
    assert "지금은 투표 준비 중이에요" in said(replies)
    replies = await h.press(ALICE, "취소")
    assert "고른 사업은 그대로 두었으니" in said(replies)
    await h.say(ALICE, "/vote")
    await h.press(ALICE, "광역 사업")
    await answer_pb_questions(h, ALICE)
    assert "선택함: 4. 경로당 냉방" in json.dumps(h.api.bot_messages(ALICE)[-1], ensure_ascii=False)


async def test_a_panel_asks_the_relation_a_stopped_sign_up_never_got(harness: Harness) -> None:
    h = harness
    h.set_now(datetime(2027, 3, 20, 3, 0, tzinfo=UTC))  # 서울시민회의 is recruiting
    await h.say(ALICE, "/start")
    await h.press(ALICE, "동의합니다")
    await h.say(ALICE, "/cancel")  # stopped before the relation
    await h.say(ALICE, "/panels")
    replies = await h.press(ALICE, "신청하기: 2027 서울시민회의")
    assert "2027 서울시민회의에 신청하기 전에 질문 2개만 드릴게요" in said(replies)
    assert "서울과 어떤 관계인가요?" in said(replies)
    await h.press(ALICE, "서울에서 공부해요")
    replies = await h.press(ALICE, "아니요, 해당하지 않습니다")
    assert "성별이 어떻게 되시나요?" in said(replies)
    person = await profile_of(h, ALICE)
    assert person.relation is Relation.STUDENT  # type: ignore[attr-defined]
    # Someone connected to Seoul in none of these ways is told why, and nothing more asked.
    await sign_up(h, BOB, relation="other")
    await h.say(BOB, "/panels")
    replies = await h.press(BOB, "신청하기: 2027 서울시민회의")
    text = said(replies)
    assert (
        "서울에 살거나 일하거나 공부하는 분이 참여할 수 있는데, 해당하지 않는다고 답하셨어요"
        in text
    )
    assert "여기에 해당하시나요?" not in text
    assert not h.errors.records


async def test_a_button_answer_becomes_the_next_question_in_place(harness: Harness) -> None:
    """One Bot API call per answer besides the callback's (issue 22): the answered question's
    message shows the answer above the next question, or above the host's next step."""
    h = harness
    h.set_now(datetime(2027, 3, 20, 3, 0, tzinfo=UTC))  # 서울시민회의 is recruiting
    await sign_up(h, ALICE)
    await h.say(ALICE, "/panels")
    await h.press(ALICE, "신청하기: 2027 서울시민회의")
    question = h.api.bot_messages(ALICE)[-1]
    assert "여기에 해당하시나요?" in question["text"]

    before = len(h.api.calls)
    await h.press(ALICE, "아니요, 해당하지 않습니다")
    assert h.calls_since(before) == ["answerCallbackQuery", "editMessageText"]
    edited = h.api.bot_messages(ALICE)[-1]
    assert edited["message_id"] == question["message_id"]
    text = edited["text"]
    assert text.index("답변: 아니요, 해당하지 않습니다") < text.index("성별이 어떻게 되시나요?")

    # The draft of a PB proposal goes on where it was: its title question takes the place of
    # the last answered question.
    h.set_now(IN_PB_CALL)
    await sign_up(h, BOB)
    await h.say(BOB, "/propose")
    await h.press(BOB, "2027 시민참여예산 광역제안형")
    await h.say(BOB, "1990")
    before = len(h.api.calls)
    await h.press(BOB, "아니요, 해당하지 않습니다")
    assert h.calls_since(before) == ["answerCallbackQuery", "editMessageText"]
    text = h.last_text(BOB)
    assert text.index("답변: 아니요, 해당하지 않습니다") < text.index("제안 제목")
    assert not h.errors.records


async def test_the_last_answer_stays_shown_when_a_vote_opens_its_ballot(harness: Harness) -> None:
    """The ballot comes as a message of its own; the question above it keeps the answer."""
    h = harness
    await ballot(h)
    await city_ballot_as_newcomer(h, ALICE)
    await h.say(ALICE, "1990")
    question = h.api.bot_messages(ALICE)[-1]
    before = len(h.api.calls)
    await h.press(ALICE, "아니요, 해당하지 않습니다")
    assert sorted(h.calls_since(before)) == [
        "answerCallbackQuery",
        "editMessageText",
        "sendMessage",
    ]
    messages = h.api.bot_messages(ALICE)
    answered = next(m for m in messages if m["message_id"] == question["message_id"])
    assert "답변: 아니요, 해당하지 않습니다" in answered["text"]
    assert not answered.get("reply_markup")
    assert "선택: 0개 (최대 3개)" in messages[-1]["text"]
