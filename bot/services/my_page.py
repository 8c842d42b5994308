""" "My page" (SPEC §4, /my in the chat, my page in the Mini App): what a person did and what
they follow, gathered in one reading unit of work for both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.services import voting
from domain.programmes import Programme
from storage.db import Database
from storage.panels import Application, PanelsRepository
from storage.programmes import ProgrammesRepository
from storage.proposals import Proposal, ProposalsRepository
from storage.waste import Report, WasteRepository


@dataclass(frozen=True)
class MyPage:
    mine: list[Proposal]
    supported: list[Proposal]
    followed: list[Proposal]  # followed and not their own
    votes: list[voting.VotedHeading]
    applications: list[tuple[Application, Programme]]
    reports: list[Report]


async def my_page(db: Database, user_id: int, now: datetime) -> MyPage:
    async with db.reading() as session:
        proposals = ProposalsRepository(session)
        mine = await proposals.by_author(user_id)
        supported = await proposals.supported_by(user_id)
        followed = [p for p in await proposals.followed_by(user_id) if p.author_id != user_id]
        votes = await voting.voted_by(session, user_id, now)
        programmes = ProgrammesRepository(session)
        applications = []
        for application in await PanelsRepository(session).by_user(user_id):
            programme = await programmes.by_id(application.programme_id)
            if programme is not None:
                applications.append((application, programme))
        reports = await WasteRepository(session).by_reporter(user_id)
    return MyPage(mine, supported, followed, votes, applications, reports)
