"""Journey: a citizen proposes to the city-wide participatory budget call, and a second idea,
for one district only, moves to that district's track (SPEC §3, §4). From an empty database,
through the chat only; the shipped yearly cycle is the programme and the clock is moved into
its February proposal call."""

from __future__ import annotations

from domain.proposals import ProjectKind, Scope, Status
from storage.people import PeopleRepository
from storage.proposals import ProposalsRepository
from tests.harness import Harness, said
from tests.journeys.steps import IN_THE_CALL, answer_pb_questions, proposal_id_in, sign_up

ALICE = 2101


async def test_city_wide_proposal_and_one_moved_to_its_district(harness: Harness) -> None:
    h = harness
    h.set_now(IN_THE_CALL)
    await sign_up(h, ALICE)

    # A city-wide proposal: the PB answers are asked when the PB call is chosen.
    replies = await h.say(ALICE, "/propose")
    assert "어느 사업에 제안하시나요" in said(replies)
    replies = await h.press(ALICE, "2027 시민참여예산 광역제안형")
    assert "제안하기 전에 질문 2개만 드릴게요" in said(replies)
    assert "제안 제목" in await answer_pb_questions(h, ALICE, "1979")
    await h.say(ALICE, "한강 수상버스 정류장 그늘막")
    await h.say(ALICE, "한강 수상버스를 기다리는 곳에 그늘이 없습니다. 그늘막을 설치해 주세요.")
    await h.press(ALICE, "교통")
    await h.press(ALICE, "서울 전체 또는 여러 자치구")
    await h.press(ALICE, "마포구")
    await h.press(ALICE, "영등포구")
    await h.press(ALICE, "완료")
    await h.press(ALICE, "일반사업")
    replies = await h.say(ALICE, "45억")
    assert "40억 원 미만이어야 해요" in said(replies)  # the cap, explained
    await h.say(ALICE, "3억 5천만")
    await h.press(ALICE, "완료")
    await h.press(ALICE, "건너뛰기")
    await h.press(ALICE, "계속")
    replies = await h.press(ALICE, "제출")
    city_wide = proposal_id_in(said(replies))

    # A second idea for one district: whichever way the scope is chosen, it is offered to
    # the district's track (구단위) and keeps what was written.
    await h.say(ALICE, "/propose")
    replies = await h.press(ALICE, "2027 시민참여예산 광역제안형")
    assert "제안 제목" in said(replies)  # asked once: not again
    await h.say(ALICE, "망원동 골목 가로등")
    await h.say(ALICE, "망원동 골목길이 어둡습니다. 가로등을 늘려 밤길을 밝혀 주세요.")
    await h.press(ALICE, "안전")
    await h.press(ALICE, "한 자치구")
    replies = await h.press(ALICE, "마포구")
    assert "2개 이상 자치구에 혜택이 있어야 해요" in said(replies)
    await h.press(ALICE, "마포구 제안으로 바꾸기")
    await h.press(ALICE, "완료")
    await h.press(ALICE, "건너뛰기")
    replies = await h.press(ALICE, "계속")
    preview = said(replies)
    assert "사업: 2027 구단위·동단위 계획형" in preview and "망원동 골목 가로등" in preview
    replies = await h.press(ALICE, "제출")
    district = proposal_id_in(said(replies))

    async with h.db.reading() as session:
        repository = ProposalsRepository(session)
        first = await repository.get(city_wide)
        second = await repository.get(district)
        person = await PeopleRepository(session).get(ALICE)
    assert first is not None and second is not None and person is not None
    assert first.programme_key == "pb-citywide-2027" and first.status is Status.PUBLISHED
    assert (first.scope, first.districts) == (Scope.CITY, ("mapo", "yeongdeungpo"))
    assert (first.kind, first.cost) == (ProjectKind.GENERAL, 350_000_000)
    assert second.programme_key == "district-plans-2027"
    assert (second.scope, second.districts, second.cost) == (Scope.DISTRICT, ("mapo",), None)
    assert person.birth_year == 1979 and person.declared_not_official_at is not None
    replies = await h.say(ALICE, "/my")
    mine = said(replies).split("공감한 제안")[0]
    assert f"#{city_wide} 한강 수상버스" in mine and f"#{district} 망원동 골목 가로등" in mine
    assert not h.errors.records
