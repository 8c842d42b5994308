"""A question with only Back and Cancel keeps them once answered by typing (issue 22 item 1):
one Bot API call per typed step, and the kept buttons do no harm later."""

from __future__ import annotations

import json
from typing import Any

from telegram import (
    CopyTextButton,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    WebAppInfo,
)

from bot.handlers.common import wire_keyboard
from tests.harness import Harness, said
from tests.panels.conftest import RECRUITING, seed_panels
from tests.proposals.conftest import seed_programmes, sign_up
from tests.proposals.test_flows import ONLY_DEMOCRACY_SEOUL, proposals_in_db
from tests.waste.conftest import NOW as WASTE_NOW

ALICE = 501
TITLE = "한강공원 쓰레기통 확충"
DESCRIPTION = "주말마다 한강공원 쓰레기가 넘칩니다. 분리수거함을 늘려 주세요."
STALE = "지난 버튼이라 더 이상 쓸 수 없어요"


def buttons(message: dict[str, Any]) -> dict[str, str]:
    """Label → callback data of a message's inline keyboard."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return {button["text"]: button.get("callback_data", "") for row in rows for button in row}


def message_asking(h: Harness, words: str) -> dict[str, Any]:
    return next(m for m in h.api.bot_messages(ALICE) if words in (m.get("text") or ""))


async def typed(h: Harness, answer: str, asked: str, prefix: str) -> dict[str, Any]:
    """Type `answer` to the question asking `asked`: the next question is the only message
    sent (the answered question is not edited) and the answered one keeps Back and Cancel."""
    before = len(h.api.calls)
    await h.say(ALICE, answer)
    assert h.calls_since(before) == ["sendMessage"]
    question = message_asking(h, asked)
    assert buttons(question) == {"이전": f"{prefix}:back", "취소": f"{prefix}:cancel"}
    return question


async def title_answered(h: Harness) -> dict[str, Any]:
    h.set_now(ONLY_DEMOCRACY_SEOUL)
    await sign_up(h.db, ALICE)
    await h.say(ALICE, "/propose")
    return await typed(h, TITLE, "제안 제목", "pp")


async def test_a_typed_answer_leaves_back_and_cancel_on_its_question(harness: Harness) -> None:
    title_question = await title_answered(harness)
    await harness.say(ALICE, DESCRIPTION)
    assert "분야" in harness.last_text(ALICE)
    # A question with buttons of its own loses them once answered by typing, as before.
    await harness.press(ALICE, "환경")
    await harness.press(ALICE, "한 자치구")
    district_question = harness.api.bot_messages(ALICE)[-1]
    assert "마포구" in buttons(district_question)
    await harness.say(ALICE, "마포구")
    assert buttons(message_asking(harness, "어느 자치구")) == {}
    # The title question's Cancel, pressed steps later, discards the draft as the current
    # question's would.
    await harness.press_data(ALICE, title_question["message_id"], "pp:cancel")
    assert "작성 중이던 제안을 지웠어요" in harness.last_text(ALICE)
    assert await proposals_in_db(harness) == []


async def test_back_on_an_answered_question_goes_one_step_back(harness: Harness) -> None:
    title_question = await title_answered(harness)
    replies = await harness.press_data(ALICE, title_question["message_id"], "pp:back")
    assert "제안 제목" in replies[-1]["text"]
    await harness.say(ALICE, "더 나은 제목")
    await harness.say(ALICE, DESCRIPTION)
    assert "분야" in harness.last_text(ALICE)


async def test_kept_buttons_are_out_of_date_once_the_flow_ended(harness: Harness) -> None:
    title_question = await title_answered(harness)
    await harness.press(ALICE, "취소")
    assert "작성 중이던 제안을 지웠어요" in harness.last_text(ALICE)
    # The question Cancel was pressed on loses its buttons, as every flow's last one does.
    assert buttons(message_asking(harness, "제안 내용")) == {}
    replies = await harness.press_data(ALICE, title_question["message_id"], "pp:back")
    assert STALE in said(replies)
    # A new draft: the old draft's buttons neither cancel nor move it.
    await harness.say(ALICE, "/propose")
    await harness.say(ALICE, "새 제목입니다 정말로")
    for data in ("pp:cancel", "pp:back"):
        replies = await harness.press_data(ALICE, title_question["message_id"], data)
        assert STALE in said(replies)
        assert "제안 내용" in harness.last_text(ALICE)
    await harness.say(ALICE, DESCRIPTION)
    assert "분야" in harness.last_text(ALICE)


def test_a_keyboard_goes_out_as_ptb_would_send_it() -> None:
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("공감", callback_data="pr:sup:1"),
                InlineKeyboardButton("공유", url="https://t.me/share/url?url=x"),
            ],
            [InlineKeyboardButton("채팅에 보내기", switch_inline_query="p_1")],
            [InlineKeyboardButton("앱", web_app=WebAppInfo("https://example.org/app"))],
            [InlineKeyboardButton("복사", copy_text=CopyTextButton("p_1"))],
        ]
    )
    wired = wire_keyboard(markup)
    assert isinstance(wired, str) and json.loads(wired) == markup.to_dict()
    assert wire_keyboard(InlineKeyboardMarkup([[]])) is None  # no keyboard at all
    persistent = ReplyKeyboardMarkup([["제안하기"]])
    assert wire_keyboard(persistent) is persistent


async def test_a_typed_report_description_keeps_back_and_cancel(harness: Harness) -> None:
    h = harness
    h.set_now(WASTE_NOW)
    await seed_programmes(h.db)
    await sign_up(h.db, ALICE)
    await h.say(ALICE, "/report")
    description = "멀쩡한 보도블록을 해마다 갈아엎고 있습니다. 올해만 세 번째입니다."
    question = await typed(h, description, "무슨 일이 있었나요?", "rp")
    assert "어느 기관이나 부서의 책임인가요?" in h.last_text(ALICE)
    # Cancel under the answered question discards the draft as the current question's would.
    await h.press_data(ALICE, question["message_id"], "rp:cancel")
    assert "작성 중이던 신고를 지웠어요" in h.last_text(ALICE)
    replies = await h.say(ALICE, "/report")
    assert "무슨 일이 있었나요?" in said(replies)


async def test_a_typed_birth_year_keeps_back_and_cancel(harness: Harness) -> None:
    h = harness
    h.set_now(RECRUITING)
    await seed_panels(h.db)
    await sign_up(h.db, ALICE, eligible_for_pb=False)  # no year of birth in the profile yet
    await h.say(ALICE, "/panels")
    await h.press(ALICE, "신청하기: 시험 시민패널")
    await h.press(ALICE, "아니요, 해당하지 않습니다")
    await h.press(ALICE, "여성")
    question = await typed(h, "1962", "태어난 해", "ap")
    assert "자치구" in h.last_text(ALICE)
    # Back under the answered question goes one step back from the current one.
    replies = await h.press_data(ALICE, question["message_id"], "ap:back")
    assert "태어난 해" in replies[-1]["text"]
