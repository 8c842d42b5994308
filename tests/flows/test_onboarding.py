"""Onboarding and the basics, through the fake Bot API (SPEC §2, §10, §11)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.i18n import Translator
from domain.people import Relation
from storage.people import PeopleRepository
from tests.harness import Harness, said

ALICE = 501


async def people_count(h: Harness) -> int:
    async with h.db.reading() as session:
        count: int = await session.scalar("SELECT COUNT(*) FROM people")
        return count


async def onboard(h: Harness, user_id: int = ALICE) -> None:
    await h.say(user_id, "/start")
    await h.press(user_id, "동의합니다")
    await h.press(user_id, "서울에 살아요")
    await h.press(user_id, "마포구")


async def test_full_onboarding_in_korean_stores_the_answers(harness: Harness) -> None:
    replies = await harness.say(ALICE, "/start")
    assert "개인정보 수집·이용에 동의해 주세요" in replies[-1]["text"]
    assert await people_count(harness) == 0  # nothing stored before consent

    await harness.press(ALICE, "동의합니다")
    assert "서울과 어떤 관계" in harness.last_text(ALICE)
    await harness.press(ALICE, "서울에 살아요")
    replies = await harness.press(ALICE, "마포구")
    assert any("자치구: 마포구" in m.get("text", "") for m in replies)
    assert "가입을 마쳤어요" in harness.last_text(ALICE)
    # The persistent main menu comes with the last message.
    assert harness.api.bot_messages(ALICE)[-1]["reply_keyboard"]["is_persistent"] is True

    async with harness.db.reading() as session:
        person = await PeopleRepository(session).get(ALICE)
    assert person is not None
    assert (person.relation, person.district, person.language) == (Relation.RESIDENT, "mapo", "ko")


async def test_english_client_gets_english_and_can_switch_language_before_consent(
    harness: Harness,
) -> None:
    harness.api.user(ALICE, language_code="en-GB")
    replies = await harness.say(ALICE, "/start")
    assert "Do you agree?" in replies[-1]["text"]
    replies = await harness.press(ALICE, "한국어")
    assert "동의하시나요?" in replies[-1]["text"]  # the same message, edited in place
    assert len(harness.api.bot_messages(ALICE)) == 1
    await harness.press(ALICE, "동의합니다")
    async with harness.db.reading() as session:
        person = await PeopleRepository(session).get(ALICE)
    assert person is not None and person.language == "ko"


async def test_declining_consent_stores_nothing(harness: Harness) -> None:
    await harness.say(ALICE, "/start")
    await harness.press(ALICE, "동의하지 않습니다")
    assert "아무것도 저장하지 않았어요" in harness.last_text(ALICE)
    assert await people_count(harness) == 0


async def test_programmes_can_be_seen_before_consent(harness: Harness) -> None:
    """The consent request says one can look around (/programmes) without agreeing."""
    await harness.say(ALICE, "/start")
    replies = await harness.say(ALICE, "/programmes")
    assert "민주주의 서울" in said(replies)
    assert "동의하시나요?" in replies[-1]["text"]  # and the question again
    assert await people_count(harness) == 0
    await harness.press(ALICE, "동의합니다")
    assert "서울과 어떤 관계" in harness.last_text(ALICE)


async def test_typed_district_and_unknown_district(harness: Harness) -> None:
    await harness.say(ALICE, "/start")
    await harness.press(ALICE, "동의합니다")
    await harness.press(ALICE, "서울에서 일해요")
    replies = await harness.say(ALICE, "가나다구")
    assert "“가나다구”라는 자치구를 찾지 못했어요" in said(replies)
    assert "어느 자치구" in replies[-1]["text"]  # asked again
    await harness.say(ALICE, "Gangnam-gu")
    async with harness.db.reading() as session:
        person = await PeopleRepository(session).get(ALICE)
    assert person is not None and person.district == "gangnam"
    assert person.relation == Relation.WORKER


async def test_bad_input_in_a_step_is_explained_and_the_question_repeated(
    harness: Harness,
) -> None:
    await harness.say(ALICE, "/start")
    await harness.press(ALICE, "동의합니다")

    replies = await harness.send_photo(ALICE)
    assert "이 입력을 받을 수 없어요" in said(replies)
    assert "서울과 어떤 관계" in replies[-1]["text"]

    replies = await harness.say(ALICE, "/programmes")
    assert "지금은 가입 중이에요" in said(replies)
    assert "서울과 어떤 관계" in replies[-1]["text"]

    # A district button from a question not asked yet, and forged data, are refused.
    question = harness.api.bot_messages(ALICE)[-1]["message_id"]
    replies = await harness.press_data(ALICE, question, "onb:dist:mapo")
    assert "더 이상 쓸 수 없어요" in said(replies)
    replies = await harness.press_data(ALICE, question, "onb:rel:mayor")
    assert "더 이상 쓸 수 없어요" in said(replies)
    async with harness.db.reading() as session:
        person = await PeopleRepository(session).get(ALICE)
    assert person is not None and person.relation is None and person.district is None
    assert not harness.errors.records


async def test_cancel_leaves_the_flow(harness: Harness) -> None:
    await harness.say(ALICE, "/start")
    replies = await harness.say(ALICE, "/cancel")
    assert "가입을 멈췄어요" in said(replies)
    replies = await harness.say(ALICE, "/cancel")
    assert "그만둘 작업이 없어요" in said(replies)


async def test_start_again_welcomes_back_and_unknown_deep_link_is_explained(
    harness: Harness,
) -> None:
    await onboard(harness)
    replies = await harness.say(ALICE, "/start")
    assert "다시 오신 것을 환영해요" in said(replies)
    # A link opens what it links to, in one message: no welcome before it.
    replies = await harness.say(ALICE, "/start zz_999")
    assert [m["text"] for m in replies] == ["올바르지 않거나 기간이 지난 링크예요."]


async def test_deep_link_payload_is_kept_through_onboarding(harness: Harness) -> None:
    opened: list[str] = []

    async def open_proposal(update: object, context: object, rest: str) -> None:
        opened.append(rest)

    harness.app.deep_links.add("p_", open_proposal)
    await harness.say(ALICE, "/start p_42")
    await harness.press(ALICE, "동의합니다")
    await harness.press(ALICE, "해당 없음")
    assert opened == ["42"]


async def test_a_deep_link_survives_a_refused_consent(harness: Harness) -> None:
    """QA finding 2: refusing, then agreeing later (/start) still opens the link."""
    opened: list[str] = []

    async def open_proposal(update: object, context: object, rest: str) -> None:
        opened.append(rest)

    harness.app.deep_links.add("p_", open_proposal)
    await harness.say(ALICE, "/start p_42")
    await harness.press(ALICE, "동의하지 않습니다")
    assert await people_count(harness) == 0
    replies = await harness.say(ALICE, "/proposals")  # not held by the sign-up flow
    assert "제안 — 공감 많은 순" in said(replies)
    await harness.say(ALICE, "/start")
    await harness.press(ALICE, "동의합니다")
    await harness.press(ALICE, "해당 없음")
    assert opened == ["42"]
    await harness.say(ALICE, "/start")
    assert opened == ["42"]  # opened once


async def test_stale_button_outside_a_flow(harness: Harness) -> None:
    await onboard(harness)
    consent = harness.api.bot_messages(ALICE)[0]["message_id"]
    replies = await harness.press_data(ALICE, consent, "onb:consent:yes")
    assert "/menu에서 다시 시작" in replies[-1]["text"]
    replies = await harness.press_data(ALICE, consent, "x" * 64)
    assert "/menu에서 다시 시작" in replies[-1]["text"]
    assert not harness.errors.records


async def test_unknown_text_is_answered(harness: Harness) -> None:
    replies = await harness.say(ALICE, "안녕하세요")
    assert "무슨 뜻인지 알지 못했어요" in said(replies)


async def test_language_command_switches_texts_and_menu(harness: Harness) -> None:
    await onboard(harness)
    await harness.say(ALICE, "/language")
    replies = await harness.press(ALICE, "English")
    assert replies[0]["text"] == "Language: English"
    assert replies[-1]["reply_keyboard"]["keyboard"][0][0]["text"] == "Help"
    replies = await harness.say(ALICE, "Programmes")  # a main-menu label, now in English
    assert "Programmes (times in Seoul)" in said(replies)


async def test_help_menu_and_menu_buttons(harness: Harness) -> None:
    replies = await harness.say(ALICE, "/help")
    text = replies[0]["text"]
    for command in ("/start", "/help", "/menu", "/programmes", "/language", "/privacy"):
        assert command in text
    await harness.say(ALICE, "/menu")
    replies = await harness.press(ALICE, "참여 사업")
    assert "참여 사업 (서울 시각 기준)" in replies[-1]["text"]


async def test_every_menu_label_names_one_command(harness: Harness) -> None:
    """QA finding 3: /profile and /mydata both read "내 정보"; a label typed back must name
    one command, in each language."""
    for language in ("ko", "en"):
        t = Translator(language)
        labels = [t.gettext(command.label) for command in harness.app.commands.all()]
        assert len(labels) == len(set(labels)), sorted(labels)
    await onboard(harness)
    await harness.say(ALICE, "/menu")
    replies = await harness.press(ALICE, "내 정보 내려받기")
    assert "document" in replies[-1]
    replies = await harness.press(ALICE, "내 정보")
    assert "document" not in replies[-1]


async def test_command_menu_is_set_per_language(harness: Harness) -> None:
    commands = harness.api.commands
    korean = commands[('{"type": "default"}', "ko")]
    english = commands[('{"type": "default"}', "en")]
    assert [c["command"] for c in korean][:3] == ["start", "help", "menu"]
    assert {c["command"] for c in korean} == {c["command"] for c in english}
    assert dict((c["command"], c["description"]) for c in english)["help"] == (
        "What this bot can do"
    )
    assert dict((c["command"], c["description"]) for c in korean)["help"] == (
        "이 봇으로 할 수 있는 일"
    )
    assert commands[('{"type": "default"}', "")] == korean  # the default language is Korean


async def test_privacy_mydata_and_deleteme(harness: Harness) -> None:
    replies = await harness.say(ALICE, "/mydata")
    assert "저장된 정보가 없어요" in said(replies)
    await onboard(harness)
    replies = await harness.say(ALICE, "/privacy")
    notice = said(replies)
    # What PIPA asks a notice to state, the controller from the settings' defaults.
    for part in ("개인정보처리자: 서울특별시", "문의·요청: 02-120", "수집·이용 목적:", "수집 항목:",
                 "보유 기간: /deleteme로 삭제하실 때까지", "동의를 거부할 권리:",
                 "제안, 공감, 시민참여단 신청, 투표, 신고는 할 수 없어요"):  # fmt: skip
        assert part in notice, part

    replies = await harness.say(ALICE, "/mydata")
    document = replies[-1]["document"]
    exported = json.loads(harness.api.files[document["file_id"]].content)
    assert exported["profile"]["district"] == "mapo"
    assert exported["profile"]["user_id"] == ALICE

    await harness.say(ALICE, "/deleteme")
    await harness.press(ALICE, "아니요, 유지합니다")
    assert await people_count(harness) == 1
    await harness.say(ALICE, "/deleteme")
    await harness.press(ALICE, "네, 모두 삭제합니다")
    assert await people_count(harness) == 0
    async with harness.db.reading() as session:
        leftovers = await session.scalar(
            "SELECT COUNT(*) FROM ptb_user_data WHERE user_id = ?", (ALICE,)
        )
    assert leftovers == 0


async def test_errors_are_logged_and_the_person_told(harness: Harness) -> None:
    async def explode(update: object, context: object) -> None:
        raise RuntimeError("boom")

    from telegram.ext import CommandHandler

    harness.app.add_handler(CommandHandler("explode", explode), group=-1)
    replies = await harness.say(ALICE, "/explode")
    assert any("시스템에 문제가 생겼어요" in m["text"] for m in replies)
    assert any("boom" in str(r.exc_info[1]) for r in harness.errors.records if r.exc_info)


async def test_the_district_and_the_end_of_sign_up_commit_together(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14 item 8: a step's answer and its next state are one unit of work, and the
    question keeps its buttons until both are saved. A failure in the middle (here the
    district's write; a crash does the same) leaves the question answerable."""
    h = harness
    await h.say(ALICE, "/start")
    await h.press(ALICE, "동의합니다")
    await h.press(ALICE, "서울에 살아요")
    original = PeopleRepository.update

    async def failing(self: PeopleRepository, user_id: int, now: Any, **fields: Any) -> Any:
        if "district" in fields:
            raise RuntimeError("the database went away")
        return await original(self, user_id, now, **fields)

    monkeypatch.setattr(PeopleRepository, "update", failing)
    await h.press(ALICE, "마포구")
    async with h.db.reading() as session:
        person = await PeopleRepository(session).get(ALICE)
        state = await session.scalar(
            "SELECT state FROM ptb_conversations WHERE name = 'onboarding'"
        )
    assert person is not None and person.district is None
    assert json.loads(state) == "district"  # neither the answer nor the next step was saved
    question = next(m for m in h.api.bot_messages(ALICE) if "어느 자치구" in m.get("text", ""))
    assert question.get("reply_markup")  # its buttons were not taken off

    monkeypatch.setattr(PeopleRepository, "update", original)
    await h.press(ALICE, "마포구")
    assert "가입을 마쳤어요" in h.last_text(ALICE)
    async with h.db.reading() as session:
        person = await PeopleRepository(session).get(ALICE)
        left = await session.scalar("SELECT COUNT(*) FROM ptb_conversations")
    assert person is not None and person.district == "mapo" and left == 0


async def district_of(h: Harness, user_id: int = ALICE) -> str | None:
    async with h.db.reading() as session:
        person = await PeopleRepository(session).get(user_id)
    assert person is not None
    return person.district


async def test_start_asks_again_for_a_skipped_district(harness: Harness) -> None:
    await harness.say(ALICE, "/start")
    await harness.press(ALICE, "동의합니다")
    await harness.press(ALICE, "서울에 살아요")
    await harness.press(ALICE, "건너뛰기")
    replies = await harness.say(ALICE, "/start")
    assert "가입 정보에 아직 자치구가 없어요" in said(replies)
    assert "어느 자치구" in replies[-1]["text"]  # not "welcome back" and the menu
    await harness.say(ALICE, "강서구")
    assert await district_of(harness) == "gangseo"
    replies = await harness.say(ALICE, "/start")
    assert "다시 오신 것을 환영해요" in said(replies)


async def test_start_resumes_a_district_lost_in_a_crash(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker dies while the district is being saved (issue 14): the person is signed up
    without a district. The answer and the end of sign-up commit together, so the question
    keeps its buttons (`test_the_district_and_the_end_of_sign_up_commit_together`); and
    /start asks for it again, and a deep link they came with still opens afterwards."""
    original = PeopleRepository.update

    async def die_saving_the_district(
        self: PeopleRepository, user_id: int, now: Any, **fields: Any
    ) -> Any:
        if "district" in fields:
            raise RuntimeError("worker killed")
        return await original(self, user_id, now, **fields)

    await harness.say(ALICE, "/start")
    await harness.press(ALICE, "동의합니다")
    await harness.press(ALICE, "서울에서 공부해요")
    monkeypatch.setattr(PeopleRepository, "update", die_saving_the_district)
    await harness.say(ALICE, "관악구")
    monkeypatch.setattr(PeopleRepository, "update", original)
    assert await district_of(harness) is None
    question = next(m for m in harness.api.bot_messages(ALICE) if "어느 자치구" in m["text"])
    assert "reply_markup" in question  # still answerable: nothing of the step was saved
    harness.errors.records.clear()

    opened: list[str] = []

    async def open_proposal(update: object, context: object, rest: str) -> None:
        opened.append(rest)

    harness.app.deep_links.add("p_", open_proposal)
    replies = await harness.say(ALICE, "/start p_7")
    assert "가입 정보에 아직 자치구가 없어요" in said(replies)
    await harness.press(ALICE, "관악구")
    assert await district_of(harness) == "gwanak"
    assert opened == ["7"]
    assert not harness.errors.records


async def test_the_privacy_notice_in_english_names_the_configured_controller(
    harness: Harness,
) -> None:
    harness.app.services.settings.privacy_controller_en = "Mapo-gu Office"
    harness.app.services.settings.privacy_contact = "privacy@mapo.example"
    harness.api.user(ALICE, language_code="en")
    replies = await harness.say(ALICE, "/start")
    assert "Controller: Mapo-gu Office (privacy@mapo.example)" in said(replies)
    assert "You may refuse: then nothing is stored" in said(replies)
    notice = said(await harness.say(ALICE, "/privacy"))
    parts = (
        "Controller: Mapo-gu Office", "requests about your data: privacy@mapo.example",
        "Purpose:", "Items:", "Retention: until you erase your data with /deleteme",
        "Your right to refuse:", "you cannot propose, support, apply to a panel, vote",
    )  # fmt: skip
    for part in parts:
        assert part in notice, part


async def test_a_button_answer_turns_the_question_into_the_next_one_in_place(
    harness: Harness,
) -> None:
    """One Bot API call per step besides the callback's answer (issue 22): the answered
    question's message shows the answer and asks the next question."""
    await harness.say(ALICE, "/start")
    consent = harness.api.bot_messages(ALICE)[-1]["message_id"]

    before = len(harness.api.calls)
    await harness.press(ALICE, "동의합니다")
    assert harness.calls_since(before) == ["answerCallbackQuery", "editMessageText"]
    (question,) = harness.api.bot_messages(ALICE)
    assert question["message_id"] == consent
    assert "개인정보 수집·이용에 동의하셨어요" in question["text"]
    assert "서울과 어떤 관계" in question["text"]

    before = len(harness.api.calls)
    await harness.press(ALICE, "서울에 살아요")
    assert harness.calls_since(before) == ["answerCallbackQuery", "editMessageText"]
    (question,) = harness.api.bot_messages(ALICE)
    assert "답변: 서울에 살아요" in question["text"] and "어느 자치구" in question["text"]

    # The last answer ends sign-up: the main menu needs a message of its own.
    before = len(harness.api.calls)
    await harness.press(ALICE, "마포구")
    assert harness.calls_since(before) == [
        "answerCallbackQuery",
        "editMessageText",
        "sendMessage",
    ]
    answered, done = harness.api.bot_messages(ALICE)
    assert answered["text"] == "자치구: 마포구" and not answered.get("reply_markup")
    assert "가입을 마쳤어요" in done["text"]


async def test_a_question_asked_after_a_notice_comes_below_it(harness: Harness) -> None:
    """A button of the current question that the step cannot use: the notice, then the
    question again below it (editing the question above the notice would hide it)."""
    await harness.say(ALICE, "/start")
    await harness.press(ALICE, "동의합니다")
    question = harness.api.bot_messages(ALICE)[-1]["message_id"]
    await harness.press_data(ALICE, question, "onb:dist:mapo")
    *_, notice, asked = harness.api.bot_messages(ALICE)
    assert "더 이상 쓸 수 없어요" in notice["text"]
    assert "서울과 어떤 관계" in asked["text"] and asked["message_id"] > notice["message_id"]
    old = next(m for m in harness.api.bot_messages(ALICE) if m["message_id"] == question)
    assert not old.get("reply_markup")  # only the current question has buttons
