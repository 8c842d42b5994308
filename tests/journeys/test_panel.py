"""Journey: applying to citizen panels in their recruitment (SPEC §5): 서울시민회의, open to
everyone connected to Seoul, and 시민참여예산위원회, open only to 예산학교 graduates, whose
course code an official issues from the chat. From an empty database, through the chat only;
the shipped yearly cycle's recruitment stages, reached by moving the clock."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.panels import ApplicationStatus
from storage.panels import PanelsRepository
from tests.harness import Harness, said
from tests.journeys.steps import sign_up

RECRUITING = datetime(2027, 3, 20, 3, 0, tzinfo=UTC)  # both calls are open on 20 March 2027
ALICE, OFFICIAL = 2301, 9000


async def test_apply_to_a_panel_and_to_the_committee(harness: Harness) -> None:
    h = harness
    h.set_now(RECRUITING)
    await sign_up(h, ALICE, district="노원구")

    replies = await h.say(ALICE, "/panels")
    assert "2027 서울시민회의" in said(replies)
    replies = await h.press(ALICE, "신청하기: 2027 서울시민회의")
    # The declaration was never asked: asked now, once, before the application.
    assert "2027 서울시민회의에 신청하기 전에 질문 1개만 드릴게요" in said(replies)
    replies = await h.press(ALICE, "아니요, 해당하지 않습니다")
    assert "성별이 어떻게 되시나요?" in said(replies)
    await h.press(ALICE, "여성")
    await h.say(ALICE, "1968")
    replies = await h.press(ALICE, "✓ 노원구")  # from her sign-up
    await h.press(ALICE, "동의합니다")
    preview = h.last_text(ALICE)
    assert "연령대: 50대" in preview and "자치구: 노원구" in preview
    replies = await h.press(ALICE, "신청서 보내기")
    assert "신청을 접수했어요" in said(replies)

    # The committee takes 예산학교 graduates: the course code is asked right there.
    await h.say(OFFICIAL, "/paneladmin")
    await h.press(OFFICIAL, "예산학교 과정 코드")
    await h.press(OFFICIAL, "코드 발급")
    code = said(await h.say(OFFICIAL, "2027 예산학교 1기")).rpartition("새 과정 코드: ")[2]
    await h.say(ALICE, "/panels")
    replies = await h.press(ALICE, "신청하기: 2027 시민참여예산위원회")
    assert "예산학교 수료자만 신청할 수 있어요" in said(replies)
    replies = await h.say(ALICE, code.strip())
    assert "예산학교 수료를 기록했어요" in said(replies)
    await h.press(ALICE, "✓ 여성")  # kept from the first application
    await h.press(ALICE, "1968년 그대로")
    await h.press(ALICE, "✓ 노원구")
    await h.press(ALICE, "동의합니다")
    replies = await h.press(ALICE, "신청서 보내기")
    assert "신청을 접수했어요" in said(replies)

    async with h.db.reading() as session:
        applications = await PanelsRepository(session).by_user(ALICE)
    assert sorted(a.programme_key for a in applications) == [
        "citizens-assembly-2027",
        "pb-committee-2027",
    ]
    assert {a.status for a in applications} == {ApplicationStatus.APPLIED}
    replies = await h.say(ALICE, "/my")
    page = said(replies)
    assert "2027 서울시민회의 — 신청함, 추첨 대기" in page
    assert "2027 시민참여예산위원회 — 신청함, 추첨 대기" in page
    assert not h.errors.records
