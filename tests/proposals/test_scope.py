"""The PB scope rules hold for every path a scope can be chosen by (SPEC §3, §4, issue 14):
a city-wide PB proposal benefits at least two districts; one for a single district or dong
is offered to that district's track; the district track takes one district's proposals."""

from __future__ import annotations

import pytest

from bot.services import proposals as service
from domain.proposals import Refusal, Scope
from storage.db import Database
from storage.proposals import ProposalsRepository
from tests.harness import Harness, said
from tests.journeys.steps import buttons
from tests.proposals.conftest import IN_PB_CALL, seed_programmes, sign_up

ALICE = 1101


async def start_pb_draft(h: Harness, programme: str = "2027 시민참여예산 광역제안형") -> None:
    h.set_now(IN_PB_CALL)
    await sign_up(h.db, ALICE)
    await h.say(ALICE, "/propose")
    await h.press(ALICE, programme)
    await h.say(ALICE, "골목길 가로등")
    await h.say(ALICE, "어두운 골목길에 가로등을 설치해 밤길을 밝혀 주세요.")
    await h.press(ALICE, "안전")


async def finish(h: Harness) -> None:
    await h.press(ALICE, "완료")
    await h.press(ALICE, "건너뛰기")
    await h.press(ALICE, "계속")
    await h.press(ALICE, "제출")


async def the_proposal(h: Harness) -> object:
    async with h.db.reading() as session:
        (proposal,) = await ProposalsRepository(session).all_for_export()
    return proposal


@pytest.mark.parametrize("typed", [False, True])
async def test_one_district_in_the_city_wide_call_is_offered_to_the_district(
    harness: Harness, typed: bool
) -> None:
    h = harness
    await start_pb_draft(h)
    await h.press(ALICE, "한 자치구")
    replies = await (h.say(ALICE, "마포") if typed else h.press(ALICE, "마포구"))
    assert "2개 이상 자치구에 혜택이 있어야 해요" in said(replies)
    assert "마포구 제안으로 바꾸기" in buttons(replies[-1])
    assert "일반사업" not in said(replies)  # not on to kind and cost
    await h.press(ALICE, "마포구 제안으로 바꾸기")
    replies = await h.press(ALICE, "완료")  # no photos
    await h.press(ALICE, "건너뛰기")
    replies = await h.press(ALICE, "계속")
    assert "사업: 2027 구단위·동단위 계획형" in said(replies)
    await h.press(ALICE, "제출")
    proposal = await the_proposal(h)
    assert proposal.programme_key == "district-plans-2027"  # type: ignore[attr-defined]
    assert proposal.scope is Scope.DISTRICT and proposal.districts == ("mapo",)  # type: ignore[attr-defined]


async def test_one_dong_is_one_district_and_stays_a_dong(harness: Harness) -> None:
    h = harness
    await start_pb_draft(h)
    await h.press(ALICE, "한 동")
    replies = await h.press(ALICE, "마포구")
    assert "마포구 제안으로 바꾸기" in buttons(replies[-1])
    replies = await h.press(ALICE, "마포구 제안으로 바꾸기")
    assert "어느 동인가요" in said(replies)
    await h.say(ALICE, "성산1동")
    await finish(h)
    proposal = await the_proposal(h)
    assert proposal.programme_key == "district-plans-2027"  # type: ignore[attr-defined]
    assert proposal.scope is Scope.DONG and proposal.dong == "성산1동"  # type: ignore[attr-defined]


async def test_choosing_more_districts_makes_it_city_wide(harness: Harness) -> None:
    h = harness
    await start_pb_draft(h)
    await h.press(ALICE, "한 자치구")
    await h.press(ALICE, "마포구")
    replies = await h.press(ALICE, "자치구 더 고르기")
    assert "✓ 마포구" in str(replies[-1]["reply_markup"])  # the choice is kept
    await h.press(ALICE, "영등포구")
    replies = await h.press(ALICE, "완료")
    assert "어떤 유형의 사업인가요" in said(replies)  # a city-wide PB proposal goes on


async def test_the_district_track_takes_one_district(harness: Harness) -> None:
    h = harness
    await start_pb_draft(h, "2027 구단위·동단위 계획형")
    question = h.api.bot_messages(ALICE)[-1]
    assert buttons(question)[:2] == ["한 자치구", "한 동"]  # no city-wide scope offered
    replies = await h.press_data(ALICE, question["message_id"], "pp:scope:city")  # forged
    # The question is asked again: it is the one in place, unchanged.
    assert replies == [] and h.api.bot_messages(ALICE)[-1] == question


async def test_the_service_refuses_what_the_flow_would_not_offer(db: Database) -> None:
    await seed_programmes(db)
    await sign_up(db, ALICE)

    def draft(programme: str, scope: Scope, districts: tuple[str, ...]) -> service.Draft:
        return service.Draft(
            programme_key=programme,
            title="골목길 가로등",
            description="어두운 골목길에 가로등을 설치해 주세요.",
            field="safety",
            scope=scope,
            districts=districts,
        )

    one = await service.submit(
        db, ALICE, draft("pb-citywide-2027", Scope.DISTRICT, ("mapo",)), IN_PB_CALL, 14
    )
    assert one.refusal is Refusal.TOO_FEW_DISTRICTS
    several = await service.submit(
        db, ALICE, draft("district-plans-2027", Scope.CITY, ("mapo", "guro")), IN_PB_CALL, 14
    )
    assert several.refusal is Refusal.ONE_DISTRICT_ONLY
