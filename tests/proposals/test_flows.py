"""Proposals through the fake Bot API: submission, card, support, browse, comments, review."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.config import Settings
from bot.localapi.core import LocalBotApi
from bot.services import proposals as service
from domain.programmes import parse_programmes
from domain.proposals import ProjectKind, Scope, Status, parse_won
from storage.db import USAGE
from storage.programmes import ProgrammesRepository
from storage.proposals import ProposalsRepository
from tests.harness import Harness, running_harness, said
from tests.proposals.conftest import IN_PB_CALL, SMALL_GOAL, sign_up
from tests.waste.conftest import submit as submit_report

ONLY_DEMOCRACY_SEOUL = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
ALICE, BOB, ADMIN = 501, 502, 9000


async def signed_up(h: Harness, *users: int, when: datetime = ONLY_DEMOCRACY_SEOUL) -> None:
    h.set_now(when)
    await sign_up(h.db, *users)


async def proposals_in_db(h: Harness) -> list[object]:
    async with h.db.reading() as session:
        return await ProposalsRepository(session).all_for_export()


async def write_until_preview(h: Harness) -> None:
    await h.say(ALICE, "/propose")
    assert "제안 제목" in h.last_text(ALICE)
    await h.say(ALICE, "한강공원 쓰레기통 확충")
    await h.say(ALICE, "주말마다 한강공원 쓰레기가 넘칩니다. 분리수거함을 늘려 주세요.")
    await h.press(ALICE, "환경")
    await h.press(ALICE, "서울 전체 또는 여러 자치구")
    await h.press(ALICE, "마포구")
    replies = await h.press(ALICE, "영등포구")
    assert "✓ 마포구" in str(replies[-1]["reply_markup"])  # toggled in place
    await h.press(ALICE, "완료")
    assert "사진을" in h.last_text(ALICE)
    await h.send_photo(ALICE)
    assert "지금 1장" in h.last_text(ALICE)
    await h.press(ALICE, "완료")
    await h._act(ALICE, lambda: h.api.send_location(ALICE, 37.52, 126.93))
    assert "비슷한 제안이 없어요" in h.last_text(ALICE)
    await h.press(ALICE, "계속")


async def test_a_citizen_submits_a_proposal_step_by_step(harness: Harness) -> None:
    await signed_up(harness, ALICE)
    await write_until_preview(harness)
    preview = harness.last_text(ALICE)
    assert "분야: 환경" in preview and "마포구, 영등포구" in preview
    assert "사진: 1장" in preview and "위치 첨부됨" in preview
    preview_message = harness.api.bot_messages(ALICE)[-1]["message_id"]
    replies = await harness.press(ALICE, "제출")
    card = replies[-1]
    # The preview becomes the published card, edited in place (one call besides the answer).
    assert card["message_id"] == preview_message
    assert "게시됐어요" in card["text"] and "공감 0 / 500 · 30일 남음" in card["text"]
    (proposal,) = await proposals_in_db(harness)
    assert proposal.status is Status.PUBLISHED and proposal.scope is Scope.CITY  # type: ignore[attr-defined]
    assert proposal.districts == ("mapo", "yeongdeungpo")  # type: ignore[attr-defined]
    assert proposal.latitude == 37.52 and len(proposal.photos) == 1  # type: ignore[attr-defined]
    # Sharing sends the proposal into another chat (issue 14): Telegram's share sheet with the
    # deep link, and inline mode with the card.
    (
        share,
        to_a_chat,
    ) = next(row for row in card["reply_markup"]["inline_keyboard"] if "url" in row[0])
    link = f"https://t.me/civicbot_local?start=p_{proposal.id}"  # type: ignore[attr-defined]
    assert share["url"].startswith("https://t.me/share/url?")
    assert parse_qs(urlsplit(share["url"]).query)["url"] == [link]
    assert to_a_chat["switch_inline_query"] == f"p_{proposal.id}"  # type: ignore[attr-defined]
    assert not harness.errors.records


async def test_back_cancel_and_refusals_at_each_step(harness: Harness) -> None:
    await signed_up(harness, ALICE)
    await harness.say(ALICE, "/propose")
    replies = await harness.say(ALICE, "가" * 81)
    assert "제목이 너무 길어요 (81자)" in said(replies)
    await harness.say(ALICE, "좋은 제목")
    replies = await harness.say(ALICE, "짧음")
    assert "10자 이상" in said(replies)
    replies = await harness.press(ALICE, "이전")
    assert "제안 제목" in replies[-1]["text"]
    await harness.say(ALICE, "더 좋은 제목")
    replies = await harness.send_photo(ALICE)  # a photo where text is expected
    assert "아래 질문에 답해 주세요" in said(replies) or "쓸 수 없어요" in said(replies)
    replies = await harness.say(ALICE, "/programmes")  # a command mid-flow
    assert "제안 작성 중이에요" in said(replies)
    await harness.press(ALICE, "취소")
    assert "작성 중이던 제안을 지웠어요" in harness.last_text(ALICE)
    assert await proposals_in_db(harness) == []


async def test_a_pb_proposal_over_the_cap_and_for_one_district(harness: Harness) -> None:
    await signed_up(harness, ALICE, when=IN_PB_CALL)
    await harness.say(ALICE, "/propose")
    await harness.press(ALICE, "2027 시민참여예산 광역제안형")
    await harness.say(ALICE, "마포 청소년 문화센터")
    await harness.say(ALICE, "마포구 청소년이 모일 공간이 부족합니다. 문화센터를 지어 주세요.")
    await harness.press(ALICE, "문화")
    await harness.press(ALICE, "서울 전체 또는 여러 자치구")
    await harness.press(ALICE, "마포구")
    replies = await harness.press(ALICE, "완료")
    assert "2개 이상 자치구" in said(replies)
    replies = await harness.press(ALICE, "마포구 제안으로 바꾸기")
    assert "사진을" in replies[-1]["text"]  # the district track asks no cost
    await harness.press(ALICE, "완료")
    await harness.press(ALICE, "건너뛰기")
    await harness.press(ALICE, "계속")
    replies = await harness.press(ALICE, "제출")
    (proposal,) = await proposals_in_db(harness)
    assert proposal.programme_key == "district-plans-2027"  # type: ignore[attr-defined]
    assert proposal.scope is Scope.DISTRICT and proposal.districts == ("mapo",)  # type: ignore[attr-defined]


async def test_cost_is_checked_against_the_cap(harness: Harness) -> None:
    await signed_up(harness, ALICE, when=IN_PB_CALL)
    await harness.say(ALICE, "/propose")
    await harness.press(ALICE, "2027 시민참여예산 광역제안형")
    await harness.say(ALICE, "한강 야간 축제")
    await harness.say(ALICE, "여름 밤 한강에서 시민 축제를 열어 주세요. 모든 자치구가 함께합니다.")
    await harness.press(ALICE, "관광체육")
    await harness.press(ALICE, "서울 전체 또는 여러 자치구")
    await harness.press(ALICE, "서울 전체")
    await harness.press(ALICE, "완료")
    replies = await harness.press(ALICE, "프로그램(행사성) 사업")
    # The prompt's example is within the cap, and the cap is said (QA finding 11).
    prompt = said(replies)
    assert "이 유형의 사업은 사업비가 3억 원 미만이어야 해요." in prompt
    example = prompt.split("사업비는 얼마인가요? ")[1].split(" 또는 ")[0]
    assert 0 < parse_won(example) < 300_000_000
    replies = await harness.say(ALICE, "3억")
    assert "3억 원 미만이어야 해요" in said(replies)
    replies = await harness.say(ALICE, "많이")
    assert "금액을 읽지 못했어요" in said(replies)
    replies = await harness.say(ALICE, "2억 9000만")
    assert "사진을" in replies[-1]["text"]


async def test_a_draft_survives_a_restart(settings: Settings) -> None:
    api = LocalBotApi()
    async with running_harness(settings, api) as first:
        await signed_up(first, ALICE)
        await first.say(ALICE, "/propose")
        await first.say(ALICE, "재시작에도 남는 제안")
    async with running_harness(settings, api) as second:
        second.set_now(ONLY_DEMOCRACY_SEOUL)
        replies = await second.say(ALICE, "재시작 뒤에도 이어서 쓸 수 있어야 합니다.")
        assert "정책분야" in replies[-1]["text"]


async def test_similar_proposals_are_offered_before_submitting(harness: Harness) -> None:
    await signed_up(harness, ALICE, BOB)
    existing = await service.submit(
        harness.db,
        BOB,
        service.Draft(
            programme_key="democracy-seoul",
            title="한강공원 쓰레기통 설치",
            description="한강공원에 쓰레기통이 부족합니다. 더 설치해 주세요.",
            field="environment",
            scope=Scope.CITY,
            districts=(),
        ),
        ONLY_DEMOCRACY_SEOUL,
        14,
    )
    await harness.say(ALICE, "/propose")
    await harness.say(ALICE, "한강공원 쓰레기통 확충")
    await harness.say(ALICE, "주말마다 한강공원 쓰레기가 넘칩니다. 쓰레기통을 늘려 주세요.")
    await harness.press(ALICE, "환경")
    await harness.press(ALICE, "서울 전체 또는 여러 자치구")
    await harness.press(ALICE, "서울 전체")
    await harness.press(ALICE, "완료")
    await harness.press(ALICE, "완료")
    replies = await harness.press(ALICE, "건너뛰기")
    assert "비슷한 제안이 있어요" in replies[-1]["text"]
    replies = await harness.press(ALICE, f"#{existing.proposal_id}에 공감하기")
    assert "작성 중이던 제안은 지웠어요" in said(replies)
    assert "공감 1 / 500" in replies[-1]["text"]
    assert len(await proposals_in_db(harness)) == 1


async def make_proposals(h: Harness, count: int, author: int = BOB) -> list[int]:
    ids = []
    for number in range(count):
        result = await service.submit(
            h.db,
            author,
            service.Draft(
                programme_key="democracy-seoul",
                title=f"제안 {number} 공원 벤치",
                description="공원에 앉을 곳이 부족합니다. 벤치를 놓아 주세요.",
                field="parks" if number % 2 else "welfare",
                scope=Scope.DISTRICT,
                districts=("guro",) if number % 2 else ("mapo",),
            ),
            ONLY_DEMOCRACY_SEOUL.replace(day=1 + number),
            14,
        )
        assert result.proposal_id is not None
        ids.append(result.proposal_id)
    return ids


async def test_card_support_in_place_and_deep_link(harness: Harness) -> None:
    await signed_up(harness, ALICE, BOB)
    (proposal_id,) = await make_proposals(harness, 1)
    replies = await harness.say(ALICE, f"/start p_{proposal_id}")
    card = replies[-1]
    assert f"#{proposal_id}" in card["text"] and "공감 0 / 500" in card["text"]
    replies = await harness.press(ALICE, "공감하기")
    assert replies[-1]["message_id"] == card["message_id"]  # edited, not re-sent
    assert "공감 1 / 500" in replies[-1]["text"]
    answered = list(harness.api.answered_queries.values())[-1]
    assert answered["text"] == "공감해 주셔서 고마워요!"
    replies = await harness.press(ALICE, "공감 취소")
    assert "공감 0 / 500" in replies[-1]["text"]
    # A forged support for a proposal that does not exist.
    replies = await harness.press_data(ALICE, card["message_id"], "pr:sup:999999")
    answered = list(harness.api.answered_queries.values())[-1]
    assert answered["text"] == "없는 제안이거나 숨겨진 제안이에요."
    assert not harness.errors.records


async def test_a_support_tap_is_three_transactions(harness: Harness) -> None:
    """A 공감 tap writes three times (the update's receipt and take, the support, the update's
    end) and reads nothing more: its person is read with the update and the support's write
    does not touch their row, and the card is drawn from what the support's transaction saw.
    (A write to their row is read again: tests/flows/test_profile.py shows each answer.)"""
    await signed_up(harness, ALICE, BOB)
    (proposal_id,) = await make_proposals(harness, 1)
    replies = await harness.say(ALICE, f"/start p_{proposal_id}")
    before = replies[-1]["text"]
    _, reads, writes = USAGE.snapshot()
    replies = await harness.press(ALICE, "공감하기")
    assert (USAGE.reads - reads, USAGE.writes - writes) == (0, 3)
    card = replies[-1]
    assert card["text"] == before.replace("공감 0 / 500", "공감 1 / 500")
    labels = [b["text"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
    assert "공감 취소" in labels and "소식 그만 받기" in labels  # supported, and following
    # Drawn from a fresh read, the card is the same.
    replies = await harness.say(ALICE, f"/start p_{proposal_id}")
    assert replies[-1]["text"] == card["text"]
    assert replies[-1]["reply_markup"] == card["reply_markup"]


async def test_browse_filter_paginate_and_search(harness: Harness) -> None:
    await signed_up(harness, ALICE, BOB)
    ids = await make_proposals(harness, 7)
    replies = await harness.say(ALICE, "/proposals")
    page = replies[-1]["text"]
    assert "전체 7건 중 1–5" in page
    replies = await harness.press(ALICE, "다음")
    assert "전체 7건 중 6–7" in replies[-1]["text"]
    await harness.press(ALICE, "분야")
    replies = await harness.press(ALICE, "공원")
    assert "전체 3건 중 1–3" in replies[-1]["text"]
    await harness.press(ALICE, "자치구")
    replies = await harness.press(ALICE, "마포구")
    assert "조건에 맞는 제안이 없어요" in replies[-1]["text"]  # parks are all in 구로구
    replies = await harness.say(ALICE, "/proposals 제안 3")
    assert f"#{ids[3]}" in replies[-1]["text"] and "전체 1건" in replies[-1]["text"]
    await harness.say(ALICE, "/proposals")
    await harness.press(ALICE, "검색")
    replies = await harness.say(ALICE, "벤치")
    assert "전체 7건 중 1–5" in replies[-1]["text"]
    # A forged filter value falls back to "all".
    message_id = replies[-1]["message_id"]
    replies = await harness.press_data(ALICE, message_id, "br:s:nonsense:zzz:-:0")
    assert "전체 7건" in replies[-1]["text"]


async def test_a_search_of_several_words_finds_proposals_with_all_of_them(
    harness: Harness,
) -> None:
    """QA finding 6: "벤치 공원" finds "제안 0 공원 벤치" (each word anywhere, in the title
    or the description); a word no proposal has finds nothing."""
    await signed_up(harness, ALICE, BOB)
    ids = await make_proposals(harness, 2)
    await harness.say(ALICE, "/proposals")
    await harness.press(ALICE, "검색")
    replies = await harness.say(ALICE, "벤치  공원")
    assert "전체 2건 중 1–2" in replies[-1]["text"]
    replies = await harness.say(ALICE, "/proposals 앉을 제안 1")  # description and title
    assert f"#{ids[1]}" in replies[-1]["text"] and "전체 1건" in replies[-1]["text"]
    replies = await harness.say(ALICE, "/proposals 벤치 수영장")
    assert "조건에 맞는 제안이 없어요" in replies[-1]["text"]


async def test_my_page_lists_mine_supported_and_followed(harness: Harness) -> None:
    await signed_up(harness, ALICE, BOB)
    ids = await make_proposals(harness, 2)
    mine = await make_proposals(harness, 1, author=ALICE)
    await service.support(harness.db, ids[0], ALICE, ONLY_DEMOCRACY_SEOUL)
    await service.set_following(harness.db, ids[1], ALICE, True)
    replies = await harness.say(ALICE, "/my")
    text = replies[-1]["text"]
    mine_part, rest = text.split("공감한 제안")
    supported_part, followed_part = rest.split("소식 받는 제안")
    assert f"#{mine[0]}" in mine_part
    assert f"#{ids[0]}" in supported_part
    assert f"#{ids[1]}" in followed_part


async def test_comments_and_reports(harness: Harness) -> None:
    await signed_up(harness, ALICE, BOB, 503, 504)
    (proposal_id,) = await make_proposals(harness, 1)
    await harness.say(ALICE, f"/start p_{proposal_id}")
    await harness.press(ALICE, "의견")
    await harness.press(ALICE, "의견 쓰기")
    replies = await harness.say(ALICE, "가" * 501)
    assert "501자예요" in said(replies)
    replies = await harness.say(ALICE, "동네 어르신들이 정말 좋아하실 거예요")
    assert "1. 동네 어르신들이" in replies[-1]["text"]
    assert "1번 신고" not in str(replies[-1].get("reply_markup"))  # not one's own
    for reporter in (BOB, 503, 504):
        await harness.say(reporter, f"/start p_{proposal_id}")
        await harness.press(reporter, "의견")
        await harness.press(reporter, "1번 신고")
        await harness.press(reporter, "네, 신고합니다")  # a report asks first (QA finding 8)
    replies = await harness.say(BOB, f"/start p_{proposal_id}")
    replies = await harness.press(BOB, "의견")
    assert "아직 의견이 없어요" in replies[-1]["text"]  # hidden after 3 reports


async def test_debate_stance_and_tagged_comments(harness: Harness) -> None:
    await signed_up(harness, ALICE, BOB)
    async with harness.db.transaction() as session:
        for programme in parse_programmes(SMALL_GOAL):
            await ProgrammesRepository(session).upsert(programme, ONLY_DEMOCRACY_SEOUL)
    (proposal_id,) = await make_proposals(harness, 1)
    for user in (ALICE, 503, 504):
        await sign_up(harness.db, user)
        await service.support(harness.db, proposal_id, user, ONLY_DEMOCRACY_SEOUL)
    await sign_up(harness.db, ADMIN)
    await harness.say(ADMIN, "/review")
    await harness.press(ADMIN, "복지 (1)")
    await harness.press(ADMIN, f"#{proposal_id}")
    replies = await harness.press(ADMIN, "공론: 찬반형")
    assert "공론 중" in said(replies)
    await harness.say(ALICE, f"/start p_{proposal_id}")
    replies = await harness.press(ALICE, "찬성")
    assert "찬반 의견을 기록했어요" in list(harness.api.answered_queries.values())[-1]["text"]
    await harness.press(ALICE, "의견")
    await harness.press(ALICE, "반대 의견 쓰기")
    replies = await harness.say(ALICE, "예산이 너무 많이 듭니다")
    assert "[반대] 예산이 너무 많이 듭니다" in replies[-1]["text"]


async def test_review_through_the_chat_and_forged_reviews(harness: Harness) -> None:
    await signed_up(harness, ALICE, BOB, ADMIN)
    (proposal_id,) = await make_proposals(harness, 1)
    # Bob is no reviewer: the command and a forged button both refuse.
    replies = await harness.say(BOB, "/review")
    assert "검토 권한이 있는 분만" in said(replies)
    await harness.say(BOB, "/help")
    message_id = harness.api.bot_messages(BOB)[-1]["message_id"]
    replies = await harness.press_data(BOB, message_id, f"rv:do:{proposal_id}:ballot")
    assert "검토 권한이 있는 분만" in said(replies)
    replies = await harness.press_data(BOB, message_id, f"rv:a:{proposal_id}:acc")
    await harness.say(BOB, "수용합니다 정말로")
    async with harness.db.reading() as session:
        proposal = await ProposalsRepository(session).get(proposal_id)
    assert proposal is not None and proposal.status is Status.PUBLISHED

    await harness.say(ADMIN, "/review")
    await harness.press(ADMIN, "복지 (1)")
    await harness.press(ADMIN, f"#{proposal_id}")
    await harness.press(ADMIN, "수용")
    replies = await harness.say(ADMIN, "2027년 예산에 반영하겠습니다.")
    assert f"#{proposal_id} 상태가 바뀌었어요: 수용" in said(replies)
    async with harness.db.reading() as session:
        proposal = await ProposalsRepository(session).get(proposal_id)
        notices = await session.fetchall("SELECT user_id, payload FROM outbox")
    assert proposal is not None and proposal.answer == "2027년 예산에 반영하겠습니다."
    assert [row["user_id"] for row in notices] == [BOB]  # the proposer follows their own
    assert "“제안 0 공원 벤치” 소식: 수용" in notices[0]["payload"]


@pytest.mark.parametrize("data", ["pp:field:environment", "pp:submit", "pp:instead:1"])
async def test_buttons_from_another_step_are_refused(harness: Harness, data: str) -> None:
    await signed_up(harness, ALICE)
    await harness.say(ALICE, "/propose")
    question = harness.api.bot_messages(ALICE)[-1]["message_id"]
    replies = await harness.press_data(ALICE, question, data)
    assert "제안 제목" in replies[-1]["text"]
    assert await proposals_in_db(harness) == []


async def test_my_page_also_lists_my_waste_reports(harness: Harness) -> None:
    await signed_up(harness, ALICE)
    harness.set_now(IN_PB_CALL)
    report = await submit_report(harness.db, ALICE)
    replies = await harness.say(ALICE, "/my")
    assert report.receipt in said(replies)
    buttons = [b["text"] for row in replies[-1]["reply_markup"]["inline_keyboard"] for b in row]
    assert report.receipt in buttons


async def test_the_pb_call_closing_on_time_sends_proposals_to_review(harness: Harness) -> None:
    await signed_up(harness, ALICE, when=IN_PB_CALL)
    result = await service.submit(
        harness.db,
        ALICE,
        service.Draft(
            programme_key="pb-citywide-2027",
            title="자치구 경계 공원길",
            description="두 자치구를 잇는 공원길을 만듭니다.",
            field="parks",
            scope=Scope.CITY,
            districts=("mapo", "yongsan"),
            cost=10**8,
            kind=ProjectKind.GENERAL,
        ),
        IN_PB_CALL,
        14,
    )
    assert result.proposal_id is not None
    await harness.app.automation.tick()
    harness.set_now(datetime(2027, 3, 2, tzinfo=UTC))  # the call closed on 1 March
    await harness.app.automation.tick()
    async with harness.db.reading() as session:
        proposal = await ProposalsRepository(session).get(result.proposal_id)
    assert proposal is not None and proposal.status is Status.UNDER_REVIEW


async def test_an_empty_review_queue_shows_without_buttons(harness: Harness) -> None:
    await signed_up(harness, ADMIN)
    await harness.say(ADMIN, "/review")
    replies = await harness.press(ADMIN, "민주서울 (0)")
    assert "기다리는 제안이 없어요" in said(replies)
    assert not harness.errors.records


async def test_help_and_menu_answer_inside_a_flow_and_leave_it_as_it_was(
    harness: Harness,
) -> None:
    """QA finding 9: /help, /menu and their keyboard labels answer mid-flow; the step stays,
    so the next answer carries on."""
    await signed_up(harness, ALICE)
    await harness.say(ALICE, "/propose")
    assert "제안 제목" in harness.last_text(ALICE)
    replies = said(await harness.say(ALICE, "/help"))
    assert "이곳에서 할 수 있는 일:" in replies and "/propose" in replies
    assert "아직 제안 작성 중이에요. 위 질문에 답하시거나 /cancel로" in replies
    replies = said(await harness.say(ALICE, "메뉴"))
    assert "주 메뉴" in replies and "아직 제안 작성 중이에요" in replies
    # A button of that menu, pressed mid-flow, says where things stand and asks again.
    replies = said(await harness.press(ALICE, "참여 사업"))
    assert "지금은 제안 작성 중이에요" in replies and "제안 제목" in replies
    await harness.say(ALICE, "한강공원 쓰레기통 확충")
    assert "제안 내용을 적어 주세요" in harness.last_text(ALICE)  # on from the title
    assert not harness.errors.records


async def test_a_card_whose_support_stage_closed_does_not_say_collecting_support(
    harness: Harness,
) -> None:
    """QA finding 10: a PB proposal after the call closed has no 공감 button, so its card
    must not say 공감 모으는 중."""
    harness.set_now(IN_PB_CALL)
    await sign_up(harness.db, ALICE, BOB)
    draft = service.Draft(
        programme_key="pb-citywide-2027",
        title="공원 벤치 설치",
        description="공원에 벤치가 부족해요. 벤치를 놓아 주세요.",
        field="parks",
        scope=Scope.CITY,
        districts=("mapo", "guro"),
        cost=100_000_000,
    )
    proposal_id = (await service.submit(harness.db, ALICE, draft, IN_PB_CALL, 14)).proposal_id
    card = (await harness.say(BOB, f"/start p_{proposal_id}"))[-1]
    assert "상태: 공감 모으는 중" in card["text"] and "공감하기" in str(card["reply_markup"])
    harness.set_now(datetime(2027, 4, 10, 3, tzinfo=UTC))  # 민관예산협의회 심사
    card = (await harness.say(BOB, f"/start p_{proposal_id}"))[-1]
    assert "공감하기" not in str(card["reply_markup"])
    assert "상태: 공감 마감, 다음 단계를 기다리는 중" in card["text"]
    assert "공감 모으는 중" not in card["text"]


async def test_a_pb_proposal_is_under_심사_a_citizen_proposal_under_검토(
    harness: Harness,
) -> None:
    """QA finding 12: the glossary's 검토 (officials) and 심사 (민관예산협의회, PB)."""
    harness.set_now(IN_PB_CALL)
    await sign_up(harness.db, ALICE, BOB, ADMIN)
    draft = service.Draft(
        programme_key="pb-citywide-2027",
        title="공원 벤치 설치",
        description="공원에 벤치가 부족해요. 벤치를 놓아 주세요.",
        field="parks",
        scope=Scope.CITY,
        districts=("mapo", "guro"),
        kind=ProjectKind.GENERAL,
        cost=100_000_000,
    )
    budget = (await service.submit(harness.db, ALICE, draft, IN_PB_CALL, 14)).proposal_id
    (citizen,) = await make_proposals(harness, 1)
    for proposal_id in (budget, citizen):
        assert proposal_id is not None
        async with harness.db.transaction() as session:
            await session.execute(
                "UPDATE proposals SET status = ? WHERE id = ?",
                (Status.UNDER_REVIEW.value, proposal_id),
            )
    card = (await harness.say(BOB, f"/start p_{budget}"))[-1]["text"]
    assert "상태: 민관예산협의회 심사 중" in card
    card = (await harness.say(BOB, f"/start p_{citizen}"))[-1]["text"]
    assert "상태: 검토 중" in card
