"""Journey: the city-wide participatory budget from proposals to the citizens' vote (SPEC §3,
§6). Citizens propose in the February call; the call closes and the proposals go to review
by themselves; an official puts them on the ballot from the chat (/review) and sends the
ballot file in the chat (the districts' headings list projects typed in); a resident of
마포구 then votes in the city-wide heading and in 마포구's, and changes one ballot once; after
the vote the official confirms 마포구's result from /admin and she is told.

From an empty database, through the chat only; the official is the installation's first
admin (ADMIN_IDS)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.services import voting as voting_service
from domain.proposals import Status
from storage.proposals import ProposalsRepository
from storage.voting import VotingRepository
from tests.harness import Harness, said
from tests.journeys.steps import (
    answer_pb_questions,
    buttons,
    official_sends_file,
    sign_up,
    two_projects_on_the_ballot,
)

DURING_VOTE = datetime(2027, 7, 25, 3, 0, tzinfo=UTC)
AFTER_VOTE = datetime(2027, 8, 11, 3, 0, tzinfo=UTC)
ALICE, BOB, CAROL, OFFICIAL = 2201, 2202, 2203, 9000  # 9000 is an ADMIN_IDS admin in tests

BALLOT = """
programme = "pb-citywide-2027"
stage = "citizen-vote"

[[heading]]
key = "city"
name = { ko = "광역 사업", en = "City-wide projects" }
max_choices = 2
budget = 1000000000
knapsack = true
include_on_ballot = true

[[heading]]
key = "mapo"
name = { ko = "마포구 사업", en = "Mapo-gu projects" }
district = "mapo"
max_choices = 1
budget = 300000000
[[heading.item]]
key = "m1"
title = "망원 유수지 체육공원 정비"
cost = 200000000
[[heading.item]]
key = "m2"
title = "성산동 어린이 도서관"
cost = 250000000

[[heading]]
key = "guro"
name = { ko = "구로구 사업", en = "Guro-gu projects" }
district = "guro"
max_choices = 1
budget = 300000000
[[heading.item]]
key = "g1"
title = "구로 하천 산책로"
cost = 200000000
"""


async def submit_ballot(h: Harness, user_id: int) -> str:
    await h.press(user_id, "확인하고 제출")
    return said(await h.press(user_id, "투표 제출"))


async def test_vote_in_the_city_wide_and_a_district_heading(harness: Harness) -> None:
    h = harness
    shade, fountain = await two_projects_on_the_ballot(h, (ALICE, BOB), OFFICIAL)
    async with h.db.reading() as session:
        statuses = {
            (await ProposalsRepository(session).get(pid)).status  # type: ignore[union-attr]
            for pid in (shade, fountain)
        }
    assert statuses == {Status.ON_BALLOT}
    # The headings, from the official's ballot file sent in the chat: previewed, then saved.
    preview = await official_sends_file(h, OFFICIAL, "ballot-2027.toml", BALLOT)
    assert "새 투표지: city, mapo, guro" in preview
    async with h.db.reading() as session:
        stage_id = await voting_service.stage_id_of(session, "pb-citywide-2027", "citizen-vote")
        saved = await VotingRepository(session).headings(stage_id)  # type: ignore[arg-type]
    city, mapo, guro = (heading_id for heading_id, _ in saved)

    # The vote opens on its date. Carol, who lives in 마포구, signs up and votes.
    h.set_now(DURING_VOTE)
    await h.app.automation.tick()
    await sign_up(h, CAROL)
    replies = await h.say(CAROL, "/vote")
    listing = said(replies)
    assert buttons(replies[-1])[:2] == ["광역 사업", "마포구 사업"]
    assert "구로구 사업 — 구로구 주민 투표" in listing  # named, with why it is not hers
    replies = await h.press(CAROL, "광역 사업")
    assert "광역 사업 투표에 앞서 질문 2개만 드릴게요" in said(replies)
    ballot = await answer_pb_questions(h, CAROL, "1994")
    assert "한강공원 그늘숲 — 6억 원" in ballot and "어린이 물놀이터 — 3억 5,000만 원" in ballot
    await h.press(CAROL, "1. 한강공원 그늘숲")
    await h.press(CAROL, "2. 어린이 물놀이터")
    first = await submit_ballot(h, CAROL)
    assert "투표를 제출했어요" in first

    await h.say(CAROL, "/vote")
    replies = await h.press(CAROL, "마포구 사업")
    assert "선택: 0개 (최대 1개)" in said(replies)  # no question this time
    await h.press(CAROL, "2. 성산동 어린이 도서관")
    assert "투표를 제출했어요" in await submit_ballot(h, CAROL)

    # She changes her city-wide ballot once; the last one counts.
    await h.say(CAROL, "/vote")
    await h.press(CAROL, "광역 사업")
    await h.press(CAROL, "선택함: 1. 한강공원 그늘숲")
    changed = await submit_ballot(h, CAROL)
    assert "투표를 바꿨어요" in changed
    receipt = changed.split("투표 확인 번호: ")[1].split(".")[0]

    assert await voting_service.current_choices(h.db, CAROL, city) == [f"p{fountain}"]
    assert await voting_service.current_choices(h.db, CAROL, mapo) == ["m2"]
    async with h.db.reading() as session:
        repository = VotingRepository(session)
        counts = [await repository.counts(heading) for heading in (city, mapo, guro)]
    assert [c["online"] for c in counts] == [1, 1, 0]
    replies = await h.say(CAROL, "/my")
    page = said(replies)
    assert "광역 사업 — 2027 시민참여예산 광역제안형" in page
    assert f"투표 확인 번호 {receipt}" in page
    assert "마포구 사업 — 2027 시민참여예산 광역제안형" in page

    # The vote closes; the official confirms 마포구's result (총회 승인) from /admin's buttons,
    # one message edited step by step, and Carol is told.
    h.set_now(AFTER_VOTE)
    await h.app.automation.tick()
    await h.say(OFFICIAL, "/admin")
    await h.press(OFFICIAL, "투표 결과")
    table = said(await h.press(OFFICIAL, "마포구 사업"))
    assert "m2 성산동 어린이 도서관 — 1 선정" in table
    preview = said(await h.press(OFFICIAL, "결과 확정 (총회 승인)"))
    assert "마포구 사업의 결과를 확정할까요?" in preview and "• 성산동 어린이 도서관" in preview
    assert "결과를 확정했어요" in said(await h.press(OFFICIAL, "네, 최종 확정합니다"))
    while (await h.app.automation.sender.run_batch()).worked:
        pass
    assert "마포구 사업 투표 결과가 확정됐어요. 선정 사업:\n• 성산동 어린이 도서관" in h.last_text(
        CAROL
    )
    async with h.db.reading() as session:
        assert await voting_service.is_confirmed(session, mapo)
        assert not await voting_service.is_confirmed(session, city)
    assert not h.errors.records
