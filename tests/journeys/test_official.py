"""Journey: an official runs the citizens' vote from the phone (SPEC §3, §6; issue 15).

From an empty database, through the chat only. The official is the installation's first
admin, as a fresh install makes one (ADMIN_IDS). Residents propose in the February call; the
official puts their proposals on the ballot (/review). In July, before the vote's date, the
official opens the 시민투표 stage now from /admin → 참여 사업·단계, builds its ballot from the
proposals on the ballot (k and the budget set in the chat), checks the preview as voters will
see it and saves; a resident then votes."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.services import voting as voting_service
from storage.voting import VotingRepository
from tests.harness import Harness, said
from tests.journeys.steps import answer_pb_questions, sign_up, two_projects_on_the_ballot

EARLY_JULY = datetime(2027, 7, 16, 3, 0, tzinfo=UTC)  # the vote is scheduled from 20 July
ALICE, BOB, CAROL, OFFICIAL = 2501, 2502, 2503, 9000  # 9000 is ADMIN_IDS in tests


async def test_an_official_opens_the_vote_builds_the_ballot_and_a_resident_votes(
    harness: Harness,
) -> None:
    h = harness
    _, fountain = await two_projects_on_the_ballot(h, (ALICE, BOB), OFFICIAL)

    # July: the official opens the vote now, from the phone.
    h.set_now(EARLY_JULY)
    await sign_up(h, CAROL)  # a resident who gets announcements
    await h.say(OFFICIAL, "/admin")
    listing = said(await h.press(OFFICIAL, "참여 사업·단계"))
    assert "2027 시민참여예산 광역제안형 — 다음: 시민투표 (엠보팅)" in listing
    await h.press(OFFICIAL, "2027 시민참여예산 광역제안형")
    await h.press(OFFICIAL, "4. 시민투표 (엠보팅)")
    preview = said(await h.press(OFFICIAL, "지금 시작하기"))
    assert "시민투표 (엠보팅) 시작: 7월 20일(화) 09:00 → 7월 16일(금) 12:00" in preview
    assert "공지를 받는 3명에게 알려요" in preview  # Alice, Bob and Carol
    assert "시민투표 (엠보팅) 단계에는 아직 투표지가 없어요" in preview
    assert "저장했어요." in said(await h.press(OFFICIAL, "저장하기"))

    # The ballot, from the proposals on the ballot: at most 1 choice, a budget of 10억.
    await h.press(OFFICIAL, "이전")
    screen = said(await h.press(OFFICIAL, "투표지"))
    assert "시민투표 대상 제안: 2건" in screen
    await h.press(OFFICIAL, "시민투표 대상 제안으로 만들기")
    await h.press(OFFICIAL, "1인 선택 수")
    await h.say(OFFICIAL, "1")
    await h.press(OFFICIAL, "예산")
    await h.say(OFFICIAL, "10억")
    preview = said(await h.press(OFFICIAL, "투표 화면 미리 보기"))
    assert "선택: 0개 (최대 1개)" in preview and "남은 예산: 10억 원" in preview
    assert "한강공원 그늘숲 — 6억 원" in preview
    assert "투표지 1개를 저장했어요." in said(await h.press(OFFICIAL, "저장하기"))

    # Carol votes: the ballot she sees is the one the official previewed.
    replies = await h.say(CAROL, "/vote")
    assert "시민투표 (엠보팅)" in said(replies)
    await h.press(CAROL, "시민투표 (엠보팅)")
    ballot = await answer_pb_questions(h, CAROL, "1994")
    assert "선택: 0개 (최대 1개)" in ballot and "남은 예산: 10억 원" in ballot
    await h.press(CAROL, "2. 어린이 물놀이터")
    await h.press(CAROL, "확인하고 제출")
    assert "투표를 제출했어요" in said(await h.press(CAROL, "투표 제출"))
    async with h.db.reading() as session:
        stage_id = await voting_service.stage_id_of(session, "pb-citywide-2027", "citizen-vote")
        ((heading_id, _),) = await VotingRepository(session).headings(stage_id)  # type: ignore[arg-type]
        counts = await VotingRepository(session).counts(heading_id)
    assert counts["online"] == 1
    assert await voting_service.current_choices(h.db, CAROL, heading_id) == [f"p{fountain}"]
    assert not h.errors.records
