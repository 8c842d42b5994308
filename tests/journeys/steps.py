"""What a person does in the chat, as steps for journey tests: nothing here writes to the
database except through the bot."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

from tests.harness import Harness, said

# The 2027 city-wide PB (the shipped yearly cycle): its call, its close, the review months.
IN_THE_CALL = datetime(2027, 2, 10, 3, 0, tzinfo=UTC)
CALL_CLOSED = datetime(2027, 3, 2, 3, 0, tzinfo=UTC)
IN_REVIEW = datetime(2027, 6, 1, 3, 0, tzinfo=UTC)

RELATIONS = {"resident": "서울에 살아요", "worker": "서울에서 일해요", "other": "해당 없음"}


async def sign_up(
    h: Harness, user_id: int, district: str | None = "마포구", relation: str = "resident"
) -> None:
    """/start, the privacy consent, the relation to Seoul and (unless skipped) the district."""
    await h.say(user_id, "/start")
    await h.press(user_id, "동의합니다")
    await h.press(user_id, RELATIONS[relation])
    if relation == "other":
        return
    if district is None:
        await h.press(user_id, "건너뛰기")
    else:
        await h.say(user_id, district)
    # Signed up: the persistent main menu has come.
    assert "reply_keyboard" in h.api.bot_messages(user_id)[-1]


async def answer_pb_questions(h: Harness, user_id: int, birth_year: str = "1990") -> str:
    """The answers participatory budgeting needs, asked on demand; returns what came after."""
    assert "태어난 해를 네 자리로" in h.last_text(user_id)
    await h.say(user_id, birth_year)
    assert "여기에 해당하시나요?" in h.last_text(user_id)
    return said(await h.press(user_id, "아니요, 해당하지 않습니다"))


async def deliver(h: Harness) -> None:
    """Send what the outbox holds now rather than wait for the sender's next round."""
    for _ in range(1000):
        await h.app.automation.sender.run_batch()
        async with h.db.reading() as session:
            waiting = await session.scalar(
                "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'claimed')"
            )
        if not waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the outbox was not delivered")


def buttons(message: dict[str, Any]) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button["text"] for row in rows for button in row]


async def official_sends_file(h: Harness, user_id: int, filename: str, text: str) -> str:
    """An admin sends a programme or ballot file in the chat, checks the preview and saves
    it; returns the preview."""
    preview = said(await h.send_document(user_id, filename, text))
    assert "저장하기 전에 확인해 주세요" in preview, preview
    assert "저장했어요" in said(await h.press(user_id, "저장하기"))
    return preview


async def propose_pb(h: Harness, user_id: int, title: str, cost: str) -> int:
    """A resident's city-wide proposal in the participatory budget's call."""
    await sign_up(h, user_id)
    await h.say(user_id, "/propose")
    await h.press(user_id, "2027 시민참여예산 광역제안형")
    await answer_pb_questions(h, user_id)
    await h.say(user_id, title)
    await h.say(user_id, f"{title}: 여러 자치구 시민이 함께 쓰는 시설을 만들어 주세요.")
    await h.press(user_id, "환경")
    await h.press(user_id, "서울 전체 또는 여러 자치구")
    await h.press(user_id, "서울 전체")
    await h.press(user_id, "완료")
    await h.press(user_id, "일반사업")
    await h.say(user_id, cost)
    await h.press(user_id, "완료")
    await h.press(user_id, "건너뛰기")
    similar = buttons(h.api.bot_messages(user_id)[-1])
    await h.press(user_id, "계속" if "계속" in similar else "제 제안은 달라요, 계속")
    return proposal_id_in(said(await h.press(user_id, "제출")))


async def put_on_ballot(h: Harness, official: int, proposal_id: int) -> None:
    """The official puts a proposal in review on the ballot from the review queue."""
    await h.say(official, "/review")
    queue = buttons(h.api.bot_messages(official)[-1])
    await h.press(official, next(b for b in queue if b.startswith("환경")))
    await h.press(official, f"#{proposal_id}")
    await h.press(official, "시민투표 대상으로 올리기")


def proposal_id_in(text: str) -> int:
    """The number in "제안 #12이 게시되었습니다" and the like."""
    return int(re.search(r"#(\d+)", text).group(1))  # type: ignore[union-attr]


async def two_projects_on_the_ballot(
    h: Harness, proposers: tuple[int, int], official: int
) -> tuple[int, int]:
    """Two residents propose in the call; it closes on its date (the automation moves what it
    collected to review) and the official puts both on the ballot from the review queue."""
    h.set_now(IN_THE_CALL)
    shade = await propose_pb(h, proposers[0], "한강공원 그늘숲", "6억")
    fountain = await propose_pb(h, proposers[1], "어린이 물놀이터", "3억 5천만")
    h.set_now(CALL_CLOSED)
    await h.app.automation.tick()
    h.set_now(IN_REVIEW)
    for proposal_id in (shade, fountain):
        await put_on_ballot(h, official, proposal_id)
    return shade, fountain
