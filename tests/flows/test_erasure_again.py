"""Vote, /deleteme, /start again, vote again: through the fake Bot API (issue 21; SPEC §2;
storage/privacy.py: erase_person). The second ballot is refused with the message for someone
already on the roll, and the first still counts once."""

from __future__ import annotations

from bot.services import voting as service
from storage.people import PeopleRepository
from tests.harness import Harness, said
from tests.proposals.conftest import IN_PB_CALL, sign_up
from tests.voting.conftest import DURING_VOTE, ballot_file

VOTER = 611


async def vote(h: Harness, project: str) -> str:
    await h.say(VOTER, "/vote")
    await h.press(VOTER, "광역 사업")
    await h.press(VOTER, project)
    await h.press(VOTER, "확인하고 제출")
    return said(await h.press(VOTER, "투표 제출"))


async def test_a_voter_who_erased_themselves_and_came_back_cannot_vote_again(
    harness: Harness,
) -> None:
    h = harness
    h.set_now(DURING_VOTE)
    await sign_up(h.db, VOTER)
    ids = {heading.key: i for i, heading in await service.import_ballot(h.db, ballot_file)}
    assert "투표를 제출했어요" in await vote(h, "1. 어린이 놀이터")

    await h.say(VOTER, "/deleteme")
    await h.press(VOTER, "네, 모두 삭제합니다")
    await h.say(VOTER, "/start")
    await h.press(VOTER, "동의합니다")
    await h.press(VOTER, "서울에 살아요")
    assert "가입을 마쳤어요" in said(await h.press(VOTER, "마포구"))
    # The answers the vote asks for on demand (tests/flows/test_eligibility.py asks them).
    async with h.db.transaction() as session:
        await PeopleRepository(session).update(
            VOTER, IN_PB_CALL, birth_year=1990, declared_not_official_at=IN_PB_CALL
        )

    assert "광역 사업 (투표함)" in said(await h.say(VOTER, "/vote"))
    assert "투표를 제출했어요" not in await vote(h, "2. 한강 자전거길")
    refused = list(h.api.answered_queries.values())[-1]  # the submit button's alert
    assert refused.get("text") == (
        "이 투표지에는 이미 투표하셨어요. 낸 투표는 집계에 들어가 있어서 이제는 바꿀 수 없어요."
    )
    results = await service.results(h.db, ids["city"], DURING_VOTE)
    assert results is not None and results.online == 1
    assert (results.votes["a"], results.votes["b"]) == (1, 0)
    notice = said(await h.say(VOTER, "/privacy"))
    assert "이름도 텔레그램 사용자 번호도 아닌 암호화된 값을 투표 결과가 확정될" in notice
    assert not h.errors.records
