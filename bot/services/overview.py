"""What anyone may see without signing in (SPEC §12's public pages): programmes with their
stages, ballots and draws, and where proposals and waste reports are. Totals and public
records only: nothing here names a person."""

from __future__ import annotations

from dataclasses import dataclass

from domain.geo import district_at
from domain.programmes import Programme, ProgrammeKind, Stage
from domain.voting import Heading
from domain.waste import Status as WasteStatus
from storage.db import Database
from storage.panels import DrawRecord, PanelsRepository
from storage.programmes import ProgrammesRepository
from storage.proposals import Filters, Proposal, ProposalsRepository
from storage.voting import VotingRepository
from storage.waste import WasteRepository


@dataclass(frozen=True)
class Ballot:
    heading_id: int
    heading: Heading
    stage: Stage


@dataclass(frozen=True)
class ProgrammeOverview:
    programme_id: int
    programme: Programme
    ballots: tuple[Ballot, ...]
    draw: DrawRecord | None  # a panel's published draw record


async def programmes(db: Database, key: str | None = None) -> list[ProgrammeOverview]:
    """Every programme (or the one with `key`) with its ballots and its draw record."""
    found = []
    async with db.reading() as session:
        listed = await ProgrammesRepository(session).all()
        stage_ids = {
            (row["programme_key"], row["key"]): (row["programme_id"], row["id"])
            for row in await session.fetchall(
                "SELECT s.id, s.key, s.programme_id, g.key AS programme_key FROM stages s"
                " JOIN programmes g ON g.id = s.programme_id"
            )
        }
        headings = await VotingRepository(session).all_headings()
        panels = PanelsRepository(session)
        for programme in listed:
            if key is not None and programme.key != key:
                continue
            programme_id = None
            ballots = []
            for stage in programme.stages:
                programme_id, stage_id = stage_ids[programme.key, stage.key]
                ballots += [
                    Ballot(hid, heading, stage) for hid, heading in headings.get(stage_id, [])
                ]
            assert programme_id is not None
            draw = (
                await panels.draw(programme_id) if programme.kind is ProgrammeKind.PANEL else None
            )
            found.append(ProgrammeOverview(programme_id, programme, tuple(ballots), draw))
    return found


@dataclass(frozen=True)
class ProposalPin:
    proposal: Proposal
    located_in: str | None  # the district that holds the pin (None: outside Seoul)

    @property
    def outside_its_districts(self) -> bool:
        """The pin lies in a district the proposal does not name (a mistaken pin, or a
        proposal that concerns another district than its place)."""
        return self.located_in not in self.proposal.districts


@dataclass(frozen=True)
class WastePin:
    latitude: float
    longitude: float
    status: WasteStatus
    district: str | None


@dataclass(frozen=True)
class MapData:
    proposals: list[ProposalPin]
    waste: list[WastePin]
    proposals_by_district: dict[str, int]
    waste_by_district: dict[str, int]


async def map_data(db: Database, limit: int = 1000) -> MapData:
    async with db.reading() as session:
        proposals = ProposalsRepository(session)
        pinned, _ = await proposals.search(Filters(pinned=True), "newest", limit, 0)
        by_district = await proposals.count_by_district()
        waste = WasteRepository(session)
        waste_pins = await waste.pins(limit)
        statistics = await waste.statistics()
    return MapData(
        proposals=[
            ProposalPin(p, district_at(p.latitude, p.longitude))
            for p in pinned
            if p.latitude is not None and p.longitude is not None
        ],
        waste=[WastePin(*pin) for pin in waste_pins],
        proposals_by_district=by_district,
        waste_by_district=dict(statistics.by_district),
    )
