"""My page (SPEC §4, §6, §5, §7): everything one person did, gathered from each feature's
service, for the chat's /my and the web's my page alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.services import panels as panel_service
from bot.services import voting as voting_service
from bot.services import waste as waste_service
from domain.programmes import Programme
from storage.db import Session
from storage.panels import Application, PanelsRepository
from storage.proposals import Proposal, ProposalsRepository
from storage.waste import Report


@dataclass(frozen=True)
class MyPage:
    proposals: list[Proposal]
    supported: list[Proposal]
    followed: list[Proposal]  # every proposal they follow, their own included
    ballots: list[voting_service.CastBallot]
    applications: list[tuple[Programme, Application]]
    reports: list[Report]


async def my_page(session: Session, user_id: int, now: datetime) -> MyPage:
    proposals = ProposalsRepository(session)
    panels = dict(await panel_service.panels(session))
    applications = [
        (panels[application.programme_id], application)
        for application in await PanelsRepository(session).by_user(user_id)
        if application.programme_id in panels
    ]
    return MyPage(
        proposals=await proposals.by_author(user_id),
        supported=await proposals.supported_by(user_id),
        followed=await proposals.followed_by(user_id),
        ballots=await voting_service.my_ballots(session, user_id, now),
        applications=applications,
        reports=await waste_service.my_reports(session, user_id),
    )
