"""My page lists everything the person did, each with a button to open it (issue 14, item 7):
proposals, supports, follows (their own included), ballots cast with time and receipt, panel
applications and their state, and budget-waste reports. The journeys in tests/journeys/ reach
each of these through the chat; this test checks the page itself."""

from __future__ import annotations

from bot.services import panels as panel_service
from bot.services import proposals as proposal_service
from bot.services import voting as voting_service
from domain.proposals import Scope
from tests.harness import Harness, said
from tests.journeys.steps import buttons
from tests.panels.conftest import RECRUITING, answers, seed_panels
from tests.proposals.conftest import sign_up
from tests.voting.conftest import DURING_VOTE, ballot_file
from tests.waste.conftest import submit as report_waste

ALICE, BOB = 1301, 1302


def draft(title: str) -> proposal_service.Draft:
    return proposal_service.Draft(
        programme_key="democracy-seoul",
        title=title,
        description="서울 시민을 위한 제안입니다. 자세한 내용은 본문에 있습니다.",
        field="parks",
        scope=Scope.CITY,
        districts=("mapo",),
    )


async def test_my_page_lists_everything_with_links(harness: Harness) -> None:
    h = harness
    h.set_now(RECRUITING)
    await sign_up(h.db, ALICE, BOB)
    panel = (await seed_panels(h.db))["small-panel"]
    applied = await panel_service.apply(h.db, ALICE, panel, answers("female"), RECRUITING, 14)
    assert applied.refusal is None
    report = await report_waste(h.db, ALICE)
    h.set_now(DURING_VOTE)
    mine = await proposal_service.submit(h.db, ALICE, draft("내 제안"), DURING_VOTE, 14)
    theirs = await proposal_service.submit(h.db, BOB, draft("남의 제안"), DURING_VOTE, 14)
    assert mine.proposal_id and theirs.proposal_id
    await proposal_service.support(h.db, theirs.proposal_id, ALICE, DURING_VOTE)
    (city, _), *_ = await voting_service.import_ballot(h.db, ballot_file)
    cast = await voting_service.cast(h.db, ALICE, city, ["a"], DURING_VOTE, 14)

    replies = await h.say(ALICE, "/my")
    page = said(replies)
    mine_part, rest = page.split("공감한 제안")
    supported_part, rest = rest.split("소식 받는 제안")
    followed_part, rest = rest.split("내가 낸 투표")
    assert f"#{mine.proposal_id}" in mine_part
    assert f"#{theirs.proposal_id}" in supported_part
    # Their own proposal, whose card offers "팔로우 취소", is among the follows too.
    assert f"#{mine.proposal_id}" in followed_part and f"#{theirs.proposal_id}" in followed_part
    assert "광역 사업 — 2027 시민참여예산 광역제안형" in rest
    assert f"2027년 7월 25일 (일) 오후 12:00에 투표 · 투표 확인 번호 {cast.receipt}" in rest
    assert "작은 패널 — 신청함, 추첨 대기" in rest
    assert report.receipt in rest
    links = buttons(replies[-1])
    for label in (
        f"#{mine.proposal_id}",
        f"#{theirs.proposal_id}",
        "다시 투표: 광역 사업",
        "작은 패널",
        report.receipt,
        "내 정보",
    ):
        assert label in links
    replies = await h.press(ALICE, "다시 투표: 광역 사업")
    assert "선택함: 1. 어린이 놀이터" in str(replies[-1]["reply_markup"])
    await h.say(ALICE, "/my")
    replies = await h.press(ALICE, "작은 패널")
    assert applied.pseudonym in said(replies)
    assert not h.errors.records
