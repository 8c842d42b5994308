"""Sharing sends a proposal into another chat (SPEC §4, issue 14): the share sheet with the
deep link, and inline mode with the card and a "go and support it" link; and taps that
change nothing say what happened."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from bot.config import Settings
from bot.localapi.core import LocalBotApi
from bot.services import proposals as service
from domain.proposals import Scope
from tests.harness import Harness, running_harness, said
from tests.journeys.steps import buttons, sign_up

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)  # only 민주주의 서울 takes proposals
ALICE, BOB = 1201, 1202
LINK = "https://t.me/civicbot_local?start=p_{id}"


async def a_proposal(h: Harness, title: str = "한강공원 그늘막 설치") -> int:
    h.set_now(NOW)
    await sign_up(h, ALICE)
    await h.say(ALICE, "/propose")
    await h.say(ALICE, title)
    await h.say(ALICE, "여름 한강공원에 그늘이 부족합니다. 그늘막을 설치해 주세요.")
    await h.press(ALICE, "공원")
    await h.press(ALICE, "한 자치구")
    await h.press(ALICE, "마포구")
    await h.press(ALICE, "완료")
    await h.press(ALICE, "건너뛰기")
    await h.press(ALICE, "계속")
    replies = await h.press(ALICE, "제출")
    return int(said(replies).split("#")[1].split(" ")[0].rstrip("이가"))


async def test_share_sheet_and_inline_mode(harness: Harness) -> None:
    h = harness
    proposal_id = await a_proposal(h)
    card = h.api.bot_messages(ALICE)[-1]
    row = next(r for r in card["reply_markup"]["inline_keyboard"] if "url" in r[0])
    share = parse_qs(urlsplit(row[0]["url"]).query)
    assert urlsplit(row[0]["url"]).netloc == "t.me" and share["url"] == [
        LINK.format(id=proposal_id)
    ]
    assert "“한강공원 그늘막 설치” 제안에 공감해 주세요" in share["text"][0]
    assert row[1]["switch_inline_query"] == f"p_{proposal_id}"
    # The button opens inline mode with the card, to send into the chat the person picks.
    (result,) = await h.inline(ALICE, f"p_{proposal_id}")
    assert result["type"] == "article" and result["title"] == "한강공원 그늘막 설치"
    assert "공감 0 / 500" in result["description"]
    assert "여름 한강공원에 그늘이" in result["input_message_content"]["message_text"]
    (go,) = result["reply_markup"]["inline_keyboard"][0]
    assert go == {"text": "공감하러 가기", "url": LINK.format(id=proposal_id)}
    # Typed in any chat: a search, or the proposals collecting support.
    assert [r["title"] for r in await h.inline(ALICE, "그늘막")] == ["한강공원 그늘막 설치"]
    assert [r["title"] for r in await h.inline(ALICE, "")] == ["한강공원 그늘막 설치"]
    assert await h.inline(ALICE, "p_99999999999999999999") == []
    assert not h.errors.records


async def test_the_deep_link_opens_the_card_after_sign_up(harness: Harness) -> None:
    h = harness
    proposal_id = await a_proposal(h)
    await h.say(BOB, f"/start p_{proposal_id}")  # a friend taps "공감하러 가기" in a group
    await h.press(BOB, "동의합니다")
    await h.press(BOB, "서울에서 일해요")
    replies = await h.say(BOB, "중구")
    assert f"#{proposal_id} 한강공원 그늘막 설치" in replies[-1]["text"]
    replies = await h.press(BOB, "공감하기")
    assert "공감 1 / 500" in replies[-1]["text"]


async def test_english_cards_for_an_english_sharer(settings: Settings) -> None:
    async with running_harness(settings, LocalBotApi()) as h:
        proposal_id = await a_proposal(h)
        h.api.user(BOB, language_code="en")
        (result,) = await h.inline(BOB, f"p_{proposal_id}")
        assert "Support: 0 / 500" in result["description"]
        assert result["reply_markup"]["inline_keyboard"][0][0]["text"] == "Go and support it (공감)"


async def test_taps_that_change_nothing_say_what_happened(harness: Harness) -> None:
    h = harness
    proposal_id = await a_proposal(h)
    await sign_up(h, BOB)
    replies = await h.say(BOB, f"/start p_{proposal_id}")
    card = replies[-1]
    await h.press_data(BOB, card["message_id"], f"pr:sup:{proposal_id}")
    replies = await h.press_data(BOB, card["message_id"], f"pr:sup:{proposal_id}")  # double tap
    alert = list(h.api.answered_queries.values())[-1]
    assert alert["text"] == "이미 공감한 제안이에요. 공감은 한 사람당 한 번만 세요."
    assert "공감 1 / 500" in h.api.bot_messages(BOB)[-1]["text"]
    assert "공감 취소" in buttons(h.api.bot_messages(BOB)[-1])
    await h.press_data(BOB, card["message_id"], f"pr:uns:{proposal_id}")
    await h.press_data(BOB, card["message_id"], f"pr:uns:{proposal_id}")
    alert = list(h.api.answered_queries.values())[-1]
    assert alert["text"] == "공감하지 않은 제안이라 취소할 공감이 없어요."
    await h.press_data(BOB, card["message_id"], f"pr:repy:{proposal_id}")
    await h.press_data(BOB, card["message_id"], f"pr:repy:{proposal_id}")
    alert = list(h.api.answered_queries.values())[-1]
    assert alert["text"] == "이미 신고한 제안이에요. 운영자가 확인할 거예요."
    assert not h.errors.records


async def test_a_proposal_not_collecting_support_is_shared_to_be_read(harness: Harness) -> None:
    h = harness
    h.set_now(NOW)
    await sign_up(h, ALICE)
    draft = service.Draft(
        programme_key="democracy-seoul",
        title="공원 벤치",
        description="공원에 벤치를 더 놓아 주세요. 쉴 곳이 부족합니다.",
        field="parks",
        scope=Scope.CITY,
        districts=("mapo",),
    )
    result = await service.submit(h.db, ALICE, draft, NOW, 14)
    assert result.proposal_id is not None
    assert await service.withdraw(h.db, result.proposal_id, ALICE, NOW) is service.Outcome.DONE
    (found,) = await h.inline(ALICE, f"p_{result.proposal_id}")
    assert found["reply_markup"]["inline_keyboard"][0][0]["text"] == "시민참여봇에서 보기"


async def reports_of(h: Harness) -> int:
    async with h.db.reading() as session:
        count: int = await session.scalar("SELECT report_count FROM proposals")
        return count


async def test_a_report_asks_first_and_ones_own_is_refused(harness: Harness) -> None:
    """QA finding 8: the 신고 button asks before it reports, can be declined, and is not on
    one's own card; a forged tap on one's own is refused with why."""
    h = harness
    proposal_id = await a_proposal(h)
    await sign_up(h, BOB)
    replies = await h.say(BOB, f"/start p_{proposal_id}")
    replies = await h.press(BOB, "신고")
    assert await reports_of(h) == 0
    assert f"제안 #{proposal_id}" in said(replies) and "운영자에게 신고할까요?" in said(replies)
    replies = await h.press(BOB, "아니요")
    assert said(replies) == "신고하지 않았어요."
    assert await reports_of(h) == 0
    await h.press(BOB, "신고")
    replies = await h.press(BOB, "네, 신고합니다")
    assert said(replies) == "고마워요. 운영자가 확인할게요."
    assert await reports_of(h) == 1
    # The proposer's own card has no 신고 button; a forged tap says why not.
    card = (await h.say(ALICE, f"/start p_{proposal_id}"))[-1]
    assert "신고" not in buttons(card)
    await h.press_data(ALICE, card["message_id"], f"pr:rep:{proposal_id}")
    alert = list(h.api.answered_queries.values())[-1]["text"]
    assert alert == "내가 쓴 제안이라 신고할 수 없어요. 거두려면 카드에서 제안을 철회해 주세요."
    await h.press_data(ALICE, card["message_id"], f"pr:repy:{proposal_id}")
    assert await reports_of(h) == 1
    assert not h.errors.records
