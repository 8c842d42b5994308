"""Programmes, stages and ballots changed by officials (SPEC §3, §6): from the chat's buttons,
from a file sent in the chat, or from `civicbot import-programmes` / `import-ballot`.

No Telegram here. Every change is previewed first (what changes, who will be told) and saved
through `save_programmes` or `save_ballot`, which check the role again and write the audit log.
Stage dates live in the stages table only: the scheduler reads openings, closings and
deadline reminders from it on every check, so saving new dates is all that moves them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.services.admin import allowed
from bot.services.voting import ballot_headings, save_headings, stage_by_id, stage_id_of
from domain.notifications import DEFAULT_MODES, Category
from domain.programmes import (
    SEOUL,
    Action,
    Change,
    Programme,
    default_programmes,
    for_year,
    programme_changes,
)
from domain.proposals import Status
from domain.roles import Role
from domain.voting import BallotFile, Heading
from storage import audit
from storage.db import Database, Session
from storage.programmes import ProgrammesRepository
from storage.proposals import ProposalsRepository
from storage.voting import VotingRepository


class Result(StrEnum):
    DONE = "done"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    UNCHANGED = "unchanged"
    IN_USE = "in_use"  # it would remove a stage in which ballots were cast


class StageInUse(ValueError):
    """Removing a stage removes its ballots with it: never once ballots were cast there."""

    def __init__(self, in_use: list[tuple[str, str, int]]) -> None:
        super().__init__(
            "; ".join(
                f"stage {stage!r} of {programme!r} has {count} ballots cast; keep it in the file"
                for programme, stage, count in in_use
            )
        )
        self.in_use = in_use


async def may_manage(
    session: Session, user_id: int, admin_ids: Collection[int], action: str, now: datetime
) -> bool:
    """Checked on every step of every programme flow: a role revoked mid-flow stops it there."""
    return await allowed(session, user_id, Role.ADMIN, admin_ids, f"programmes:{action}", now)


# -- reading -----------------------------------------------------------------------------------
async def listing(session: Session) -> list[tuple[int, Programme]]:
    repository = ProgrammesRepository(session)
    found = []
    for programme in await repository.all():
        programme_id = await repository.id_of(programme.key)
        assert programme_id is not None
        found.append((programme_id, programme))
    return found


async def stage_ids(session: Session, programme_id: int) -> dict[str, int]:
    rows = await session.fetchall(
        "SELECT id, key FROM stages WHERE programme_id = ?", (programme_id,)
    )
    return {row["key"]: row["id"] for row in rows}


async def templates(session: Session, now: datetime) -> list[Programme]:
    """The shipped yearly cycle's programmes, for this year and the next, not set up yet."""
    have = {programme.key for programme in await ProgrammesRepository(session).all()}
    year = now.astimezone(SEOUL).year
    found: dict[str, Programme] = {}
    for template in default_programmes():
        candidates = [for_year(template, y) for y in (year, year + 1)]
        for candidate in [c for c in candidates if c is not None] or [template]:
            if candidate.key not in have:
                found.setdefault(candidate.key, candidate)
    return list(found.values())


# -- previews ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Preview:
    changes: list[Change]
    # Stage keys (programme, stage) whose opening or closing is announced at once.
    opens_now: list[tuple[Programme, str]]
    closes_now: list[tuple[Programme, str]]
    deadlines_moved: int  # deadlines ahead that move: their reminders follow
    audience: int  # people who get announcements of openings and closings
    in_use: list[tuple[str, str, int]]  # (programme, stage, ballots) removals refused
    # Voting stages that open now with no ballot defined: people would find nothing to vote on.
    without_ballot: list[tuple[Programme, str]]


async def announcement_audience(session: Session) -> int:
    """Active people who have not turned stage announcements off."""
    found = await session.scalar(
        "SELECT COUNT(*) FROM people p LEFT JOIN notification_settings s"
        " ON s.user_id = p.user_id AND s.category = ?"
        " WHERE p.active = 1 AND COALESCE(s.mode, ?) != 'off'",
        (Category.ANNOUNCEMENTS.value, DEFAULT_MODES[Category.ANNOUNCEMENTS].value),
    )
    return int(found or 0)


async def preview(session: Session, incoming: Sequence[Programme], now: datetime) -> Preview:
    repository = ProgrammesRepository(session)
    changes: list[Change] = []
    opens: list[tuple[Programme, str]] = []
    closes: list[tuple[Programme, str]] = []
    moved = 0
    for programme in incoming:
        before = await repository.get(programme.key)
        changes += programme_changes(before, programme)
        was = {s.key: s for s in before.stages} if before else {}
        for stage in programme.stages:
            old = was.get(stage.key)
            open_before = old is not None and old.is_open(now)
            if stage.is_open(now) and not open_before:
                opens.append((programme, stage.key))
            if open_before and not stage.is_open(now):
                closes.append((programme, stage.key))
            if (
                old is not None
                and stage.is_open(now)
                and old.ends_at != stage.ends_at
                and stage.ends_at is not None
            ):
                moved += 1
    without_ballot = []
    for programme, key in opens:
        stage = next(s for s in programme.stages if s.key == key)
        stage_id = await stage_id_of(session, programme.key, key)
        if Action.VOTE in stage.actions and (
            stage_id is None or not await VotingRepository(session).headings(stage_id)
        ):
            without_ballot.append((programme, key))
    return Preview(
        changes,
        opens,
        closes,
        moved,
        await announcement_audience(session),
        await removed_in_use(session, incoming),
        without_ballot,
    )


async def removed_in_use(
    session: Session, programmes: Sequence[Programme]
) -> list[tuple[str, str, int]]:
    """Stages the programmes leave out (so saving removes them) in which ballots were cast."""
    repository = ProgrammesRepository(session)
    found = []
    for programme in programmes:
        before = await repository.get(programme.key)
        if before is None:
            continue
        kept = {stage.key for stage in programme.stages}
        for stage in before.stages:
            if stage.key in kept:
                continue
            cast = await session.scalar(
                "SELECT COUNT(*) FROM ballots b JOIN ballot_headings h ON h.id = b.heading_id"
                " JOIN stages s ON s.id = h.stage_id JOIN programmes g ON g.id = s.programme_id"
                " WHERE g.key = ? AND s.key = ?",
                (programme.key, stage.key),
            )
            if cast:
                found.append((programme.key, stage.key, int(cast)))
    return found


def serialised(programmes: Sequence[Programme]) -> list[dict[str, Any]]:
    """Programmes as conversation data keeps them until the official confirms."""
    return [p.model_dump(mode="json", by_alias=True) for p in programmes]


def deserialised(data: Sequence[dict[str, Any]]) -> list[Programme]:
    return [Programme.model_validate(item) for item in data]


# -- saving ------------------------------------------------------------------------------------
async def apply_programmes(
    session: Session, programmes: Sequence[Programme], now: datetime
) -> list[Change]:
    """The one way programmes are saved (chat, files, CLI): by key, stages keeping their ids,
    so what refers to a stage stays attached and the scheduler follows the new dates."""
    in_use = await removed_in_use(session, programmes)
    if in_use:
        raise StageInUse(in_use)
    repository = ProgrammesRepository(session)
    changes: list[Change] = []
    for programme in programmes:
        changes += programme_changes(await repository.get(programme.key), programme)
        await repository.upsert(programme, now)
    return changes


async def save_programmes(
    db: Database,
    actor_id: int,
    programmes: Sequence[Programme],
    action: str,
    now: datetime,
    admin_ids: Collection[int],
) -> Result:
    async with db.transaction() as session:
        if not await may_manage(session, actor_id, admin_ids, action, now):
            return Result.FORBIDDEN
        try:
            changes = await apply_programmes(session, programmes, now)
        except StageInUse:
            return Result.IN_USE
        if not changes:
            return Result.UNCHANGED
        await audit.record(
            session,
            actor_id,
            f"programmes:{action}",
            ",".join(sorted({p.key for p in programmes}))[:200],
            now,
            changes=[change.model_dump(mode="json", exclude_none=True) for change in changes],
        )
    return Result.DONE


# -- ballots -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BallotPreview:
    stage_id: int
    headings: list[Heading]
    added: list[str]  # heading keys
    changed: list[str]
    kept: list[str]  # headings of the stage the file does not mention (they stay)
    ballots_cast: int  # ballots already cast in the headings that change


async def preview_ballot(session: Session, ballot: BallotFile) -> BallotPreview:
    stage_id, headings = await ballot_headings(session, ballot)
    repository = VotingRepository(session)
    existing = {heading.key: (i, heading) for i, heading in await repository.headings(stage_id)}
    keys = {heading.key for heading in headings}
    changed = [h.key for h in headings if h.key in existing and existing[h.key][1] != h]
    cast = 0
    for key in changed:
        cast += (await repository.counts(existing[key][0]))["online"]
    return BallotPreview(
        stage_id,
        headings,
        [h.key for h in headings if h.key not in existing],
        changed,
        [key for key in existing if key not in keys],
        cast,
    )


async def save_ballot(
    db: Database,
    actor_id: int,
    ballot: BallotFile,
    action: str,
    now: datetime,
    admin_ids: Collection[int],
) -> list[tuple[int, Heading]] | Result:
    async with db.transaction() as session:
        if not await may_manage(session, actor_id, admin_ids, action, now):
            return Result.FORBIDDEN
        saved = await save_headings(session, ballot)
        await audit.record(
            session,
            actor_id,
            f"programmes:{action}",
            f"{ballot.programme}/{ballot.stage}",
            now,
            headings={heading.key: len(heading.items) for _, heading in saved},
        )
    return saved


async def stage_headings(
    session: Session, stage_id: int
) -> tuple[Programme, str, list[tuple[int, Heading]]] | None:
    located = await stage_by_id(session, stage_id)
    if located is None:
        return None
    programme, stage = located
    return programme, stage.key, await VotingRepository(session).headings(stage_id)


async def on_ballot_districts(session: Session, programme_key: str) -> list[str]:
    """The districts of the proposals put on the ballot, for one heading per district."""
    programme_id = await ProgrammesRepository(session).id_of(programme_key)
    if programme_id is None:
        return []
    proposals = await ProposalsRepository(session).in_status(programme_id, Status.ON_BALLOT)
    return sorted({district for p in proposals for district in p.districts})


async def on_ballot_count(session: Session, programme_key: str) -> int:
    programme_id = await ProgrammesRepository(session).id_of(programme_key)
    if programme_id is None:
        return 0
    return len(await ProposalsRepository(session).in_status(programme_id, Status.ON_BALLOT))
