"""A city-wide PB vote for the tests: the shipped programmes, a ballot file, voters."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.services import proposals as proposal_service
from domain.proposals import Scope, Status
from domain.voting import parse_ballot_file
from storage.db import Database
from tests.proposals.conftest import IN_PB_CALL

# The 2027 citizens' vote (시민투표) of the city-wide PB is open from 20 July to 10 August.
DURING_VOTE = datetime(2027, 7, 25, 3, 0, tzinfo=UTC)
AFTER_VOTE = datetime(2027, 8, 11, 3, 0, tzinfo=UTC)

BALLOT = """
programme = "pb-citywide-2027"
stage = "citizen-vote"

[[heading]]
key = "city"
name = { ko = "광역 사업", en = "City-wide projects" }
max_choices = 3
budget = 1000
knapsack = true
include_on_ballot = true
[[heading.item]]
key = "a"
title = "어린이 놀이터"
title_en = "Children's playground"
cost = 600
summary = "구립 놀이터 개선"
summary_en = "A better district playground"
[[heading.item]]
key = "b"
title = "한강 자전거길"
cost = 500
[[heading.item]]
key = "c"
title = "공공 와이파이"
cost = 300
[[heading.item]]
key = "d"
title = "경로당 냉방"
cost = 100

[[heading]]
key = "mapo"
name = { ko = "마포구 사업", en = "Mapo-gu projects" }
district = "mapo"
max_choices = 1
budget = 100
[[heading.item]]
key = "m1"
title = "마포 도서관"
cost = 100

[[heading]]
key = "question"
name = { ko = "자전거 전용도로 확대에 찬성하십니까?", en = "Do you support more bike lanes?" }
kind = "question"
"""

ballot_file = parse_ballot_file(BALLOT)


async def proposal_on_the_ballot(db: Database, author: int = 1, reviewer: int = 9000) -> int:
    """A city-wide PB proposal submitted in the call and put on the ballot by `reviewer`
    (an admin): it joins the city-wide heading."""
    draft = proposal_service.Draft(
        programme_key="pb-citywide-2027",
        title="경로당 태양광",
        description="경로당 지붕에 태양광 패널을 설치합니다.",
        field="environment",
        scope=Scope.CITY,
        districts=("mapo", "guro"),
        kind=None,
        cost=None,
    )
    result = await proposal_service.submit(db, author, draft, IN_PB_CALL, 14)
    assert result.proposal_id is not None
    for status in (Status.UNDER_REVIEW, Status.ON_BALLOT):
        action = proposal_service.ReviewAction(status)
        outcome = await proposal_service.review(
            db, result.proposal_id, reviewer, action, IN_PB_CALL, frozenset({reviewer})
        )
        assert outcome is proposal_service.Outcome.DONE
    return result.proposal_id
