"""Demo data for `civicbot chat --demo`: one programme of each kind with a stage open now,
and a few demo citizens' proposals, supports and panel applications, so a newcomer can try
browsing, 공감, voting, the quota view and a draw at once.

Everything goes through the same services as the bot and the operators' commands (programme
file → `import-programmes`, ballot file → `import-ballot`, proposals, 공감 and applications
→ their services). Everything is marked as demo data: programme keys start with `demo-`,
names and titles with [데모]/[Demo]. Only `civicbot chat --demo` imports this module, and it
runs only on a throw-away database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from string import Template
from typing import Final
from zoneinfo import ZoneInfo

from bot.services import panels as panels_service
from bot.services import people as people_service
from bot.services import proposals as proposals_service
from bot.services import voting as voting_service
from domain.panels import Answers
from domain.people import Question, Relation
from domain.programmes import parse_programmes
from domain.proposals import Scope
from domain.voting import parse_ballot_file
from storage.db import Database
from storage.people import PeopleRepository
from storage.programmes import ProgrammesRepository

SEOUL: Final = ZoneInfo("Asia/Seoul")
PROPOSALS: Final = "demo-proposals"
BUDGET: Final = "demo-pb"
PANEL: Final = "demo-panel"
LOTTERY: Final = "demo-panel-lottery"
DEMO_KEYS: Final = (PROPOSALS, BUDGET, PANEL, LOTTERY)
# Demo citizens' Telegram ids: far from real ones and from the terminal's 1001.
FIRST_CITIZEN: Final = 990_001

PROGRAMMES_FILE: Final = "demo-programmes.toml"
BALLOT_FILE: Final = "demo-ballot.toml"


@dataclass(frozen=True)
class Citizen:
    gender: str
    birth_year: int
    district: str


# Varied enough that the lottery's quotas (gender, age band) can be met.
CITIZENS: Final = (
    Citizen("female", 1990, "mapo"),
    Citizen("male", 1985, "guro"),
    Citizen("female", 1972, "jongno"),
    Citizen("male", 1968, "songpa"),
    Citizen("female", 1958, "nowon"),
    Citizen("male", 1955, "gangnam"),
    Citizen("female", 2001, "mapo"),
    Citizen("male", 1996, "gwanak"),
    Citizen("female", 1980, "seocho"),
    Citizen("male", 1979, "eunpyeong"),
    Citizen("female", 1950, "jung"),
    Citizen("male", 1962, "dobong"),
)

DEMO_PROPOSALS: Final = (
    (
        "[데모] 골목길 가로등을 늘려 주세요",
        "데모 제안이에요. 밤에 어두운 골목이 많아요. 가로등을 늘려 안전하게 다니게 해 주세요.",
        "safety",
    ),
    (
        "[데모] 동네 도서관을 밤 10시까지 열어 주세요",
        "데모 제안이에요. 퇴근 뒤에도 도서관을 쓸 수 있도록 운영 시간을 늘려 주세요.",
        "culture",
    ),
    (
        "[데모] 버스 정류장에 온열 의자를 놓아 주세요",
        "데모 제안이에요. 겨울에 버스를 기다리는 시민을 위해 온열 의자를 설치해 주세요.",
        "transport",
    ),
)


def citizen_id(number: int) -> int:
    return FIRST_CITIZEN + number


async def sign_up(db: Database, user_id: int, citizen: Citizen, now: datetime) -> None:
    """A demo citizen agrees and answers, as the onboarding flow and /profile would save it."""
    async with db.transaction() as session:
        await PeopleRepository(session).consent(user_id, "ko", now)
    for question, value in (
        (Question.RELATION, Relation.RESIDENT.value),
        (Question.DISTRICT, citizen.district),
        (Question.BIRTH_YEAR, str(citizen.birth_year)),
        (Question.GENDER, citizen.gender),
        (Question.NOT_OFFICIAL, "no"),
    ):
        await people_service.save_answer(db, user_id, question, value, now)


def answers_of(citizen: Citizen) -> Answers:
    return Answers(
        gender=citizen.gender,
        birth_year=citizen.birth_year,
        district=citizen.district,
        extra={},
        not_official=True,
        agreed=True,
    )


async def build_demo(db: Database, now: datetime, minimum_age: int = 14) -> None:
    """Fill a fresh database with the demo; `now` is the bot's clock."""
    started = now - timedelta(days=1)
    recruited = now - timedelta(days=14)  # the closed recruitment's start
    applied = recruited + timedelta(hours=1)
    text = Template(_data(PROGRAMMES_FILE)).substitute(
        started=_toml_time(started),
        ends=_toml_time(now + timedelta(days=30)),
        later=_toml_time(now + timedelta(days=60)),
        recruited=_toml_time(recruited),
    )
    ids: dict[str, int] = {}
    async with db.transaction() as session:
        repository = ProgrammesRepository(session)
        for programme in parse_programmes(text, PROGRAMMES_FILE):
            ids[programme.key] = await repository.upsert(programme, now)
    await voting_service.import_ballot(db, parse_ballot_file(_data(BALLOT_FILE), BALLOT_FILE))

    for number, citizen in enumerate(CITIZENS):
        await sign_up(db, citizen_id(number), citizen, applied)
    # Proposals, each with a few 공감 (the threshold is 5: one more reaches it for one).
    for number, (title, description, field) in enumerate(DEMO_PROPOSALS):
        draft = proposals_service.Draft(
            programme_key=PROPOSALS,
            title=title,
            description=description,
            field=field,
            scope=Scope.CITY,
            districts=(),
            key=f"demo-{number}",
        )
        submitted = await proposals_service.submit(db, citizen_id(number), draft, now, minimum_age)
        if submitted.proposal_id is None:
            raise RuntimeError(f"demo proposal refused: {submitted.refusal}")
        for supporter in range(4 - number):
            await proposals_service.support(
                db, submitted.proposal_id, citizen_id(len(CITIZENS) - 1 - supporter), now
            )
    # Applicants: a few in the open recruitment (its quota view), everyone in the closed
    # one (applied while it was open), so an admin can fix the list and draw.
    for number, citizen in enumerate(CITIZENS):
        answers = answers_of(citizen)
        if number < 5:
            await apply(db, citizen_id(number), ids[PANEL], answers, now, minimum_age)
        await apply(db, citizen_id(number), ids[LOTTERY], answers, applied, minimum_age)


async def apply(
    db: Database, user_id: int, programme_id: int, answers: Answers, now: datetime, age: int
) -> None:
    applied = await panels_service.apply(db, user_id, programme_id, answers, now, age)
    if applied.refusal is not None:
        raise RuntimeError(f"demo application refused: {applied.refusal}")


def _data(name: str) -> str:
    return resources.files("domain.data").joinpath(name).read_text("utf-8")


def _toml_time(moment: datetime) -> str:
    """A TOML local date-time in Seoul time, as the programme files write them."""
    return moment.astimezone(SEOUL).strftime("%Y-%m-%dT%H:%M:%S")
