"""Panels as use cases (SPEC §5): apply and withdraw, the commitment, the seeded draw,
invitations and replacements, meetings, member votes, 예산학교 — each one unit of work.

No Telegram here. Admin actions check the role here, whatever the buttons said, and are
written to the audit log (refused attempts too). Notifications are queued in the outbox
inside the same transaction as the change that causes them.

When the draw may run: once every recruitment stage (action "apply") has ended. The stage
with action "draw" is the planned window and is announced as such, but the commitment and
the seed are accepted as soon as recruitment closes, so a public lottery result published
early (or late) never blocks the panel.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from bot.i18n import N_, Translator
from bot.notifications.hooks import ReminderDue
from domain.notifications import Button, Category, Payload
from domain.panels import (
    AGE_BAND,
    AGE_BANDS,
    DISTRICT,
    GENDER,
    GENDERS,
    SEATED,
    Answers,
    ApplicationStatus,
    PanelRules,
    PanelSettingsError,
    Refusal,
    Stratum,
    applicant_pseudonym,
    check_answers,
    check_seed,
    connected,
    features_of,
    quotas_for,
    replacement_quotas,
    seats_and_quotas,
    strata,
)
from domain.people import DISTRICTS_BY_CODE
from domain.programmes import Action, Programme, ProgrammeKind, Stage
from domain.roles import Role
from domain.sortition import (
    ALGORITHM_VERSION,
    Applicant,
    Quota,
    QuotaRelaxation,
    SortitionError,
    blocking_quotas,
    commitment,
    draw_panel,
    explain_infeasibility,
    fairness,
    next_replacement,
    type_space,
)
from domain.sortition.optimise import solve
from domain.voting import Answer, Heading, HeadingKind, Item
from storage import audit
from storage.db import Database, Session
from storage.outbox import enqueue
from storage.panels import Application, DrawRecord, Meeting, PanelsRepository
from storage.people import PeopleRepository
from storage.programmes import ProgrammesRepository
from storage.roles import RolesRepository
from storage.voting import VotingRepository

SEOUL: Final = ZoneInfo("Asia/Seoul")
SECRET_NAME: Final = "panel-pseudonyms"
CODE_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
CODE_LENGTH: Final = 8
TITLE_MAX: Final = 100
PLACE_MAX: Final = 200
MATERIALS_MAX: Final = 3000
QUESTION_MAX: Final = 200

Buttons = tuple[tuple[Button, ...], ...]
# How `tell_members` builds one member's message (text and buttons) in their language.
RenderFor = Callable[[Translator], tuple[str, Buttons]]

STATUS_LABELS: Final = {
    ApplicationStatus.APPLIED: N_("applied, waiting for the draw"),
    ApplicationStatus.WITHDRAWN: N_("withdrawn"),
    ApplicationStatus.RESERVE: N_("on the reserve list"),
    ApplicationStatus.INVITED: N_("selected, waiting for your answer"),
    ApplicationStatus.ACCEPTED: N_("member"),
    ApplicationStatus.DECLINED: N_("declined"),
    ApplicationStatus.EXPIRED: N_("invitation expired"),
    ApplicationStatus.LEFT: N_("left the panel"),
}


def rules_of(programme: Programme) -> PanelRules:
    return PanelRules.from_settings(programme.settings)


def recruiting(programme: Programme, now: datetime) -> bool:
    return programme.kind is ProgrammeKind.PANEL and programme.allows(Action.APPLY, now)


def recruitment_closed(programme: Programme, now: datetime) -> bool:
    """Every recruitment stage has ended (see the module's note on when the draw runs)."""
    stages = [stage for stage in programme.stages if Action.APPLY in stage.actions]
    return bool(stages) and all(s.ends_at is not None and s.ends_at <= now for s in stages)


def recruitment_end(programme: Programme, now: datetime) -> datetime | None:
    ends = [
        stage.ends_at
        for stage in programme.open_stages(now)
        if Action.APPLY in stage.actions and stage.ends_at is not None
    ]
    return min(ends, default=None)


async def panel(session: Session, programme_id: int) -> Programme | None:
    programme = await ProgrammesRepository(session).by_id(programme_id)
    return programme if programme is not None and programme.kind is ProgrammeKind.PANEL else None


async def panels(session: Session) -> list[tuple[int, Programme]]:
    repository = ProgrammesRepository(session)
    found = []
    for programme in await repository.all():
        if programme.kind is ProgrammeKind.PANEL:
            programme_id = await repository.id_of(programme.key)
            assert programme_id is not None
            found.append((programme_id, programme))
    return found


async def is_admin(session: Session, user_id: int, admin_ids: Collection[int]) -> bool:
    return await RolesRepository(session, admin_ids).has(user_id, Role.ADMIN)


async def refused(session: Session, admin_id: int, what: str, now: datetime) -> Refusal:
    await audit.record(session, admin_id, "refused", what, now)
    return Refusal.FORBIDDEN


async def admin_panel(
    session: Session,
    admin_id: int,
    programme_id: int,
    action: str,
    now: datetime,
    admin_ids: Collection[int],
) -> Programme | Refusal:
    """The panel an admin acts on, or why not; a refused attempt is audited."""
    if not await is_admin(session, admin_id, admin_ids):
        return await refused(session, admin_id, f"{action}:{programme_id}", now)
    programme = await panel(session, programme_id)
    return Refusal.NOT_FOUND if programme is None else programme


# -- applying ------------------------------------------------------------------------------
async def check_can_apply(
    session: Session, user_id: int, programme_id: int, now: datetime
) -> Refusal | None:
    """What can be known before the questions: the rest is checked with the answers."""
    person = await PeopleRepository(session).get(user_id)
    if person is None:
        return Refusal.NOT_SIGNED_UP
    programme = await panel(session, programme_id)
    if programme is None:
        return Refusal.NOT_FOUND
    if not recruiting(programme, now):
        return Refusal.CLOSED
    if not connected(person):
        return Refusal.NOT_CONNECTED
    if rules_of(programme).exclude_officials and person.declared_official_at is not None:
        return Refusal.OFFICIAL  # they said so (e.g. in /profile), whatever a draft says
    if rules_of(programme).requires_budget_school and not await VotingRepository(
        session
    ).completed_budget_school(user_id):
        return Refusal.BUDGET_SCHOOL
    existing = await PanelsRepository(session).of_user(programme_id, user_id)
    if existing is not None and existing.status is not ApplicationStatus.WITHDRAWN:
        return Refusal.ALREADY
    return None


@dataclass(frozen=True)
class Applied:
    refusal: Refusal | None
    application_id: int | None = None
    pseudonym: str | None = None


async def apply(
    db: Database,
    user_id: int,
    programme_id: int,
    answers: Answers,
    now: datetime,
    minimum_age: int,
) -> Applied:
    """One application per person per panel; the answers also update the person's profile."""
    async with db.transaction() as session:
        await session.lock("panel", programme_id)  # none once the list is fixed (see commit)
        refusal = await check_can_apply(session, user_id, programme_id, now)
        programme = await panel(session, programme_id)
        if refusal is not None or programme is None:
            return Applied(refusal or Refusal.NOT_FOUND)
        repository = PanelsRepository(session)
        if await repository.draw(programme_id) is not None:
            return Applied(Refusal.LIST_FIXED)
        rules = rules_of(programme)
        year = now.astimezone(SEOUL).year
        refusal = check_answers(rules, answers, year, minimum_age)
        if refusal is not None:
            return Applied(refusal)
        secret = await VotingRepository(session).secret(SECRET_NAME)
        name = applicant_pseudonym(secret, programme.key, user_id)
        application_id = await repository.apply(
            programme_id, user_id, name, features_of(rules, answers, year), now
        )
        if application_id is None:
            return Applied(Refusal.ALREADY)
        people = PeopleRepository(session)
        person = await people.get(user_id)
        profile: dict[str, object] = {"birth_year": answers.birth_year}
        if answers.gender is not None:
            profile["gender"] = answers.gender
        if answers.district is not None:
            profile["district"] = answers.district
        if answers.not_official and person is not None and not person.declared_not_official_at:
            profile["declared_not_official_at"] = now
            profile["declared_official_at"] = None
        await people.update(user_id, now, **profile)
    return Applied(None, application_id, name)


async def withdraw(db: Database, user_id: int, programme_id: int, now: datetime) -> Refusal | None:
    """Until the applicant list is fixed by the commitment; from the reserve list any time."""
    async with db.transaction() as session:
        await session.lock("panel", programme_id)  # withdrawn only before the list is fixed
        repository = PanelsRepository(session)
        found = await repository.of_user(programme_id, user_id)
        if found is None or found.status is ApplicationStatus.WITHDRAWN:
            return Refusal.NOT_FOUND
        if found.status is ApplicationStatus.APPLIED:
            if await repository.draw(programme_id) is not None:
                return Refusal.LIST_FIXED
        elif found.status is not ApplicationStatus.RESERVE:
            return Refusal.CLOSED
        if not await repository.change(found.id, ApplicationStatus.WITHDRAWN, now):
            return Refusal.ALREADY
    return None


# -- quotas and the commitment ---------------------------------------------------------------
def pool_of(rules: PanelRules, applications: Sequence[Application]) -> list[Applicant]:
    """The pseudonymised applicant list: pseudonyms and quota answers, nothing else."""
    return [
        Applicant(a.pseudonym, {f: a.features.get(f, "") for f in rules.quota_features})
        for a in applications
    ]


@dataclass(frozen=True)
class QuotaView:
    programme: Programme
    seats: int
    pool_size: int
    strata: tuple[Stratum, ...]
    problems: Problems  # why no panel could be drawn now, if none could
    committed: bool

    @property
    def short(self) -> list[Stratum]:
        return [s for s in self.strata if s.short]


@dataclass(frozen=True)
class Problems:
    """Why no panel can be drawn from some inputs; empty (false) when one can."""

    messages: tuple[str, ...] = ()
    # the smallest change of the quotas' bounds that would allow a panel, if any would
    relaxations: tuple[QuotaRelaxation, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.messages)


def explain(pool: Sequence[Applicant], quotas: Sequence[Quota], seats: int) -> Problems:
    try:
        found = explain_infeasibility(pool, quotas, seats)
    except SortitionError as error:
        return Problems((str(error),))
    return Problems() if found is None else Problems(found.messages, found.relaxations)


async def quota_view(
    db: Database, admin_id: int, programme_id: int, now: datetime, admin_ids: Collection[int]
) -> QuotaView | Refusal:
    """Live applicant counts against the quotas, with the strata short of their minimum."""
    async with db.transaction() as session:
        programme = await admin_panel(
            session, admin_id, programme_id, "panel_quotas", now, admin_ids
        )
        if isinstance(programme, Refusal):
            return programme
        repository = PanelsRepository(session)
        record = await repository.draw(programme_id)
        rules = rules_of(programme)
        if record is not None:
            pool, quotas, seats = list(record.pool), list(record.quotas), record.seats
        else:
            applied = await repository.in_status(programme_id, {ApplicationStatus.APPLIED})
            pool = pool_of(rules, applied)
            seats, quotas = seats_and_quotas(rules, pool)
    problems = await asyncio.to_thread(explain, pool, quotas, seats) if pool else Problems()
    found = tuple(strata(quotas, pool, rules))
    return QuotaView(programme, seats, len(pool), found, problems, record is not None)


@dataclass(frozen=True)
class Committed:
    refusal: Refusal | None
    commitment: str | None = None
    pool_size: int = 0
    seats: int = 0
    problems: Problems = Problems()


async def commit(
    db: Database, admin_id: int, programme_id: int, now: datetime, admin_ids: Collection[int]
) -> Committed:
    """Fix the applicant list and publish the SHA-256 commitment over it, the quotas, the seats
    and the algorithm version, before any seed exists. Refused when no panel could be drawn
    from it, with the reasons, so a published commitment can always be drawn."""
    async with db.transaction() as session:
        await session.lock("panel", programme_id)  # every application in, none slipping in
        programme = await admin_panel(
            session, admin_id, programme_id, "panel_commit", now, admin_ids
        )
        if isinstance(programme, Refusal):
            return Committed(programme)
        if not recruitment_closed(programme, now):
            return Committed(Refusal.RECRUITING)
        repository = PanelsRepository(session)
        if await repository.draw(programme_id) is not None:
            return Committed(Refusal.COMMITTED)
        applied = await repository.in_status(programme_id, {ApplicationStatus.APPLIED})
        rules = rules_of(programme)
        pool = pool_of(rules, applied)
        seats, quotas = seats_and_quotas(rules, pool)
        problems = await asyncio.to_thread(explain, pool, quotas, seats)
        if problems:
            return Committed(
                Refusal.INFEASIBLE, pool_size=len(pool), seats=seats, problems=problems
            )
        digest = commitment(pool, quotas, seats)
        await repository.commit(
            programme_id, digest, ALGORITHM_VERSION, seats, pool, quotas, now, admin_id
        )
        await announce_commitment(session, programme_id, programme, applied, digest, now)
        await audit.record(
            session, admin_id, "panel_commit", f"programme:{programme.key}", now,
            commitment=digest, applicants=len(pool), seats=seats,
        )  # fmt: skip
    return Committed(None, digest, len(pool), seats)


def record_button(t: Translator, programme_id: int) -> Button:
    return Button(text=t.gettext("See the draw record"), callback_data=f"pn:rec:{programme_id}")


async def announce_commitment(
    session: Session,
    programme_id: int,
    programme: Programme,
    applied: Sequence[Application],
    digest: str,
    now: datetime,
) -> None:
    people = PeopleRepository(session)
    for application in applied:
        person = await people.get(application.user_id) if application.user_id else None
        if person is None:
            continue
        t = Translator(person.language)
        text = t.gettext(
            "The applicant list of %(panel)s is now final: %(count)s applicants. Before the"
            " draw, its commitment is published:\n%(digest)s\nYour pseudonym in the list is"
            " %(pseudonym)s. The draw's seed is a public value fixed after this message, so"
            " anyone can check the result."
        ) % {
            "panel": programme.name.get(t.language),
            "count": f"{len(applied):,}",
            "digest": digest,
            "pseudonym": application.pseudonym,
        }
        await enqueue(
            session,
            user_id=person.user_id,
            category=Category.UPDATES,
            payload=Payload(text=text, buttons=((record_button(t, programme_id),),)),
            now=now,
            dedupe_key=f"panel-commit:{programme_id}:{person.user_id}",
        )


# -- features and quotas from the chat (issue 15) -------------------------------------------
TOLERANCES: Final = (0, 10, 20, 30)  # percent, offered as buttons


@dataclass(frozen=True)
class QuotaPlan:
    """A panel's quota features and tolerance, and the population-proportional quotas they
    give for its seats, with how many have applied so far."""

    programme: Programme
    seats: int
    features: tuple[str, ...]
    tolerance: float
    quotas: tuple[Quota, ...]
    applicants: int


def planned_rules(programme: Programme, features: Sequence[str], tolerance: float) -> PanelRules:
    """The programme's rules with these features and tolerance (validated as a file would
    be: unknown features or tolerances are refused)."""
    settings = {**programme.settings, "features": list(features), "quota_tolerance": tolerance}
    return PanelRules.from_settings(settings)


async def quota_plan(
    db: Database,
    admin_id: int,
    programme_id: int,
    features: Sequence[str] | None,
    tolerance: float | None,
    now: datetime,
    admin_ids: Collection[int],
) -> QuotaPlan | Refusal:
    """The quotas these choices give (the programme's own when None); nothing is written."""
    async with db.transaction() as session:
        programme = await admin_panel(session, admin_id, programme_id, "panel_plan", now, admin_ids)
        if isinstance(programme, Refusal):
            return programme
        counts = await PanelsRepository(session).counts(programme_id)
    current = rules_of(programme)
    try:
        rules = planned_rules(
            programme,
            current.features if features is None else features,
            current.quota_tolerance if tolerance is None else tolerance,
        )
    except PanelSettingsError:
        return Refusal.INVALID
    applicants = sum(counts.values()) - counts.get(ApplicationStatus.WITHDRAWN, 0)
    return QuotaPlan(
        programme,
        rules.seats,
        rules.features,
        rules.quota_tolerance,
        tuple(quotas_for(rules, rules.seats)),
        applicants,
    )


async def set_quota_plan(
    db: Database,
    admin_id: int,
    programme_id: int,
    features: Sequence[str],
    tolerance: float,
    now: datetime,
    admin_ids: Collection[int],
) -> Refusal | None:
    """Save a panel's quota features and tolerance: only before the commitment fixes them,
    and only a plan some panel can meet with every feature's quotas; audited."""
    async with db.transaction() as session:
        # The plan commit fixes is the one saved: none is saved once the list is committed.
        await session.lock("panel", programme_id)
        programme = await admin_panel(
            session, admin_id, programme_id, "panel_plan_save", now, admin_ids
        )
        if isinstance(programme, Refusal):
            return programme
        repository = PanelsRepository(session)
        if await repository.draw(programme_id) is not None:
            return Refusal.COMMITTED
        try:
            rules = planned_rules(programme, features, tolerance)
        except PanelSettingsError:
            return Refusal.INVALID
        added = set(rules.features) - set(rules_of(programme).features)
        if added and sum((await repository.counts(programme_id)).values()):
            # Those who applied were never asked the new question: no quota could hold them.
            return Refusal.APPLIED_WITHOUT
        settings = {
            **programme.settings,
            "features": list(rules.features),
            "quota_tolerance": rules.quota_tolerance,
        }
        await ProgrammesRepository(session).upsert(
            programme.model_copy(update={"settings": settings}), now
        )
        await audit.record(
            session, admin_id, "panel_plan", f"programme:{programme.key}", now,
            features=list(rules.features), tolerance=rules.quota_tolerance,
        )  # fmt: skip
    return None


# -- the draw, invitations and replacements ------------------------------------------------
@dataclass(frozen=True)
class Drawn:
    refusal: Refusal | None
    selected: tuple[str, ...] = ()
    reserve: tuple[str, ...] = ()
    commitment: str | None = None
    problems: Problems = Problems()


async def draw(
    db: Database,
    admin_id: int,
    programme_id: int,
    seed: str,
    now: datetime,
    admin_ids: Collection[int],
) -> Drawn:
    """Draw with a public seed, once, after the commitment; invite the selected and order the
    reserve, all in one unit of work. The lottery runs in a thread, outside the database."""
    seed = seed.strip()
    async with db.transaction() as session:
        await session.lock("panel", programme_id)  # one draw per panel
        found = await admin_panel(session, admin_id, programme_id, "panel_draw", now, admin_ids)
        if isinstance(found, Refusal):
            return Drawn(found)
        record = await PanelsRepository(session).draw(programme_id)
        if record is None:
            return Drawn(Refusal.NOT_COMMITTED)
        if record.drawn:
            return Drawn(Refusal.DRAWN)
    if not check_seed(seed):
        return Drawn(Refusal.BAD_SEED)
    try:
        result = await asyncio.to_thread(
            draw_panel, list(record.pool), list(record.quotas), record.seats, seed
        )
    except SortitionError as error:
        return Drawn(Refusal.INFEASIBLE, problems=Problems((str(error),)))
    if result.commitment != record.commitment:
        # Only a different algorithm version gives other digests for the same inputs.
        return Drawn(Refusal.INFEASIBLE, problems=Problems((record.algorithm, ALGORITHM_VERSION)))
    async with db.transaction() as session:
        await session.lock("panel", programme_id)  # one draw per panel
        programme = await panel(session, programme_id)
        repository = PanelsRepository(session)
        if programme is None or not await repository.save_result(
            programme_id, seed, result.selected, result.reserve, now, admin_id, fairness(result)
        ):
            return Drawn(Refusal.DRAWN)
        stored = await repository.draw(programme_id)
        assert stored is not None
        await seat_the_draw(session, programme_id, programme, stored, now)
        await audit.record(
            session, admin_id, "panel_draw", f"programme:{programme.key}", now,
            seed=seed, commitment=record.commitment, selected=len(result.selected),
            reserve=len(result.reserve),
        )  # fmt: skip
    return Drawn(None, result.selected, result.reserve, record.commitment)


async def seat_the_draw(
    session: Session, programme_id: int, programme: Programme, record: DrawRecord, now: datetime
) -> None:
    """The selected are invited, the rest wait in reserve order; a selected applicant who is
    gone since the commitment (erased) gives up the seat at once."""
    repository = PanelsRepository(session)
    rules = rules_of(programme)
    applications = await repository.by_pseudonyms(programme_id)
    respond_by = now + timedelta(days=rules.invitation_days)
    gone: list[str] = []
    for name in record.selected:
        found = applications.get(name)
        if (
            found is None
            or found.user_id is None
            or not await repository.change(
                found.id, ApplicationStatus.INVITED, now, invited_at=now, respond_by=respond_by
            )
        ):
            gone.append(name)
            continue
        await invite(session, programme_id, programme, found, respond_by, now)
    for position, name in enumerate(record.reserve, 1):
        found = applications.get(name)
        if found is None or found.user_id is None:
            continue
        if await repository.change(found.id, ApplicationStatus.RESERVE, now):
            await tell_reserve(session, programme_id, programme, found, record, position, now)
    for name in gone:
        await call_replacement(session, programme_id, programme, record, name, now)


async def invite(
    session: Session,
    programme_id: int,
    programme: Programme,
    application: Application,
    respond_by: datetime,
    now: datetime,
) -> None:
    person = await PeopleRepository(session).get(application.user_id or 0)
    if person is None:
        return
    t = Translator(person.language)
    text = t.gettext(
        "You were drawn for %(panel)s! Will you serve as a member? Please answer by"
        " %(deadline)s. If you decline or do not answer, the next person on the reserve list"
        " is invited."
    ) % {"panel": programme.name.get(t.language), "deadline": t.deadline(respond_by, now)}
    await enqueue(
        session,
        user_id=person.user_id,
        category=Category.UPDATES,
        payload=Payload(text=text, buttons=invitation_buttons(t, application.id, programme_id)),
        now=now,
        dedupe_key=f"panel-invite:{application.id}",
    )


def invitation_buttons(t: Translator, application_id: int, programme_id: int) -> Buttons:
    return (
        (
            Button(text=t.gettext("I accept"), callback_data=f"pn:acc:{application_id}"),
            Button(text=t.gettext("I decline"), callback_data=f"pn:dec:{application_id}"),
        ),
        (record_button(t, programme_id),),
    )


async def tell_reserve(
    session: Session,
    programme_id: int,
    programme: Programme,
    application: Application,
    record: DrawRecord,
    position: int,
    now: datetime,
) -> None:
    person = await PeopleRepository(session).get(application.user_id or 0)
    if person is None:
        return
    t = Translator(person.language)
    text = t.gettext(
        "The draw for %(panel)s was held with the public seed “%(seed)s”. You were not"
        " selected this time; you are number %(position)s on the reserve list and will be"
        " invited if a seat frees up that you can take within the quotas."
    ) % {
        "panel": programme.name.get(t.language),
        "seed": record.seed,
        "position": f"{position:,}",
    }
    await enqueue(
        session,
        user_id=person.user_id,
        category=Category.UPDATES,
        payload=Payload(text=text, buttons=((record_button(t, programme_id),),)),
        now=now,
        dedupe_key=f"panel-reserve:{application.id}",
    )


async def call_replacement(
    session: Session,
    programme_id: int,
    programme: Programme,
    record: DrawRecord,
    vacated: str,
    now: datetime,
    admin_ids: Collection[int] = (),
) -> str | None:
    """Invite the first reserve, in the published call order, who keeps every quota met;
    None when nobody can: the seat stays empty and the panel's admins are told at once,
    with the quotas that block it and their choices."""
    repository = PanelsRepository(session)
    applications = await repository.by_pseudonyms(programme_id)
    seated = [name for name, a in applications.items() if a.status in SEATED]
    waiting = [
        name
        for name in record.reserve
        if (a := applications.get(name)) is not None
        and a.status is ApplicationStatus.RESERVE
        and a.user_id is not None
    ]
    panel = [*seated, vacated]
    quotas = replacement_quotas(record.quotas, record.pool, panel)
    chosen = next_replacement(panel, vacated, waiting, list(record.pool), quotas)
    if vacated in applications:
        await repository.mark_replacement(applications[vacated].id, now, chosen)
    if chosen is None:
        blocking = blocking_quotas(panel, vacated, waiting, list(record.pool), quotas)
        await tell_admins_of_empty_seat(
            session, programme_id, programme, vacated, blocking, len(waiting), now, admin_ids
        )
        return None
    respond_by = now + timedelta(days=rules_of(programme).invitation_days)
    called = applications[chosen]
    await repository.change(
        called.id, ApplicationStatus.INVITED, now, invited_at=now, respond_by=respond_by
    )
    await invite(session, programme_id, programme, called, respond_by, now)
    return chosen


def feature_name(t: Translator, rules: PanelRules, feature: str) -> str:
    names = {
        GENDER: t.gettext("Gender"),
        AGE_BAND: t.gettext("Age"),
        DISTRICT: t.gettext("District"),
    }
    extra = rules.extra(feature)
    return names.get(feature) or (extra.name(t.language) if extra else feature)


def value_name(t: Translator, rules: PanelRules, feature: str, value: str) -> str:
    if feature == DISTRICT and value in DISTRICTS_BY_CODE:
        return DISTRICTS_BY_CODE[value].name(t.language)
    options = {GENDER: GENDERS, AGE_BAND: AGE_BANDS}.get(feature)
    extra = rules.extra(feature)
    if extra is not None:
        options = extra.options
    found = next((o for o in options or () if o.code == value), None)
    return found.name(t.language) if found else value


async def panel_admins(session: Session, admin_ids: Collection[int]) -> list[int]:
    """Who runs panels: the super-admins and everyone granted the admin role."""
    rows = await session.fetchall("SELECT DISTINCT user_id FROM roles WHERE role = 'admin'")
    return sorted({*admin_ids, *(int(r[0]) for r in rows)})


def quota_text(t: Translator, rules: PanelRules, quota: Quota, held: int | None = None) -> str:
    """ "성별 여성: 3–5명" — a quota as officials read it."""
    text = t.gettext("%(feature)s %(value)s: %(min)s–%(max)s") % {
        "feature": feature_name(t, rules, quota.feature),
        "value": value_name(t, rules, quota.feature, quota.value),
        "min": quota.min,
        "max": quota.max,
    }
    return text


async def tell_admins_of_empty_seat(
    session: Session,
    programme_id: int,
    programme: Programme,
    vacated: str,
    blocking: Sequence[Quota],
    waiting: int,
    now: datetime,
    admin_ids: Collection[int],
) -> None:
    """A seat nobody on the reserve list can take within the quotas: each admin is told at
    once, with what blocks it and what they can do (leave it empty, or invite the next
    reserve regardless of the quotas, audited)."""
    rules = rules_of(programme)
    people = PeopleRepository(session)
    for admin_id in await panel_admins(session, admin_ids):
        person = await people.get(admin_id)
        t = Translator(person.language if person is not None else "ko")
        lines = [
            t.gettext("A seat on %(panel)s could not be filled from the reserve list.")
            % {"panel": programme.name.get(t.language)}
        ]
        if not waiting:
            lines.append(t.gettext("Nobody is left on the reserve list."))
        else:
            lines.append(
                t.ngettext(
                    "%(count)d person waits on the reserve list, but taking the seat would break:",
                    "%(count)d people wait on the reserve list, but any of them taking the seat"
                    " would break:",
                    waiting,
                )
                % {"count": waiting}
            )
            lines += [f"• {quota_text(t, rules, quota)}" for quota in blocking]
        lines += [
            "",
            t.gettext(
                "Your choices: leave the seat empty (the panel meets with fewer members), or"
                " invite the next person on the reserve list anyway, outside the quotas; that"
                " is written to the audit log."
            ),
        ]
        buttons: list[tuple[Button, ...]] = [
            (Button(text=t.gettext("Panel fill"), callback_data=f"pa:f:{programme_id}"),)
        ]
        if waiting:
            buttons.insert(
                0,
                (
                    Button(
                        text=t.gettext("Invite the next reserve anyway"),
                        callback_data=f"pa:ov:{programme_id}",
                    ),
                ),
            )
        await enqueue(
            session,
            user_id=admin_id,
            category=Category.DIRECT,
            payload=Payload(text="\n".join(lines)[:4096], buttons=tuple(buttons)),
            now=now,
            dedupe_key=f"panel-empty-seat:{programme_id}:{vacated}:{admin_id}",
        )


async def invite_outside_quotas(
    db: Database, admin_id: int, programme_id: int, now: datetime, admin_ids: Collection[int]
) -> Application | Refusal:
    """An admin's choice for an empty seat: the first waiting reserve, in call order, is
    invited whatever the quotas say. Only while a seat is empty; audited."""
    async with db.transaction() as session:
        await session.lock("panel", programme_id)  # one empty seat, one invitation
        programme = await admin_panel(
            session, admin_id, programme_id, "panel_outside_quotas", now, admin_ids
        )
        if isinstance(programme, Refusal):
            return programme
        repository = PanelsRepository(session)
        record = await repository.draw(programme_id)
        if record is None or not record.drawn:
            return Refusal.NOT_COMMITTED
        counts = await repository.counts(programme_id)
        taken = counts[ApplicationStatus.ACCEPTED] + counts[ApplicationStatus.INVITED]
        applications = await repository.by_pseudonyms(programme_id)
        waiting = [
            a
            for name in record.reserve
            if (a := applications.get(name)) is not None
            and a.status is ApplicationStatus.RESERVE
            and a.user_id is not None
        ]
        if taken >= record.seats or not waiting:
            return Refusal.ALREADY
        called = waiting[0]
        respond_by = now + timedelta(days=rules_of(programme).invitation_days)
        await repository.change(
            called.id, ApplicationStatus.INVITED, now, invited_at=now, respond_by=respond_by
        )
        await invite(session, programme_id, programme, called, respond_by, now)
        await audit.record(
            session, admin_id, "panel_outside_quotas", f"programme:{programme.key}", now,
            invited=called.pseudonym,
        )  # fmt: skip
    return called


async def respond(
    db: Database,
    user_id: int,
    application_id: int,
    accept: bool,
    now: datetime,
    admin_ids: Collection[int] = (),
) -> Refusal | None:
    """Accept (위촉) or decline an invitation; a decline calls the next reserve at once."""
    async with db.transaction() as session:
        repository = PanelsRepository(session)
        found = await repository.get(application_id)
        if found is None or found.user_id != user_id:
            return Refusal.NOT_FOUND
        if found.status is not ApplicationStatus.INVITED:
            return Refusal.ALREADY
        if found.respond_by is not None and now >= found.respond_by:
            return Refusal.PAST_DEADLINE
        new = ApplicationStatus.ACCEPTED if accept else ApplicationStatus.DECLINED
        if not await repository.change(found.id, new, now, answered_at=now):
            return Refusal.ALREADY
        if not accept:
            await replace(session, found, now, admin_ids)
    return None


async def replace(
    session: Session, vacated: Application, now: datetime, admin_ids: Collection[int] = ()
) -> None:
    # One replacement at a time per panel: each reserve is called for one seat.
    await session.lock("panel", vacated.programme_id)
    programme = await panel(session, vacated.programme_id)
    record = await PanelsRepository(session).draw(vacated.programme_id)
    if programme is not None and record is not None:
        await call_replacement(
            session, vacated.programme_id, programme, record, vacated.pseudonym, now, admin_ids
        )


async def expire_due(db: Database, now: datetime, admin_ids: Collection[int] = ()) -> int:
    """Unanswered invitations past their deadline expire and call the next reserve; seats
    given up since the last run (erasure) are offered too. Idempotent."""
    changed = 0
    async with db.transaction() as session:
        repository = PanelsRepository(session)
        people = PeopleRepository(session)
        for found in await repository.invitations_due(now):
            if not await repository.change(found.id, ApplicationStatus.EXPIRED, now):
                continue
            person = await people.get(found.user_id or 0)
            programme = await panel(session, found.programme_id)
            if person is not None and programme is not None:
                t = Translator(person.language)
                await enqueue(
                    session,
                    user_id=person.user_id,
                    category=Category.UPDATES,
                    payload=Payload(
                        text=t.gettext(
                            "Your invitation to %(panel)s has expired without an answer; the"
                            " seat goes to the next person on the reserve list."
                        )
                        % {"panel": programme.name.get(t.language)}
                    ),
                    now=now,
                    dedupe_key=f"panel-expired:{found.id}",
                )
            await replace(session, found, now, admin_ids)
            changed += 1
        for found in await repository.seats_given_up():
            await replace(session, found, now, admin_ids)
            changed += 1
    return changed


async def queue_invitation_reminders(
    db: Database, now: datetime, offsets: Sequence[timedelta]
) -> int:
    """Remind the invited who have not answered, at the nearest offset only (SPEC §8)."""
    queued = 0
    async with db.transaction() as session:
        people = PeopleRepository(session)
        repository = PanelsRepository(session)
        for found in await repository.invitations_ending(
            now, now + max(offsets, default=timedelta(0))
        ):
            assert found.respond_by is not None
            offset = min(o for o in offsets if o >= found.respond_by - now)
            person = await people.get(found.user_id or 0)
            programme = await panel(session, found.programme_id)
            if person is None or programme is None:
                continue
            t = Translator(person.language)
            text = t.gettext(
                "You have not answered your invitation to %(panel)s yet; %(left)s to accept"
                " or decline."
            ) % {"panel": programme.name.get(t.language), "left": t.left(now, found.respond_by)}
            added = await enqueue(
                session,
                user_id=person.user_id,
                category=Category.DEADLINES,
                payload=Payload(
                    text=text, buttons=invitation_buttons(t, found.id, found.programme_id)
                ),
                now=now,
                dedupe_key=f"panel-invite-reminder:{found.id}:{int(offset.total_seconds())}",
            )
            queued += added is not None
    return queued


@dataclass(frozen=True)
class Fill:
    """How full the panel is after the draw."""

    programme: Programme
    seats: int
    counts: Mapping[ApplicationStatus, int]
    seated_strata: tuple[Stratum, ...]
    drawn: bool

    @property
    def vacancies(self) -> int:
        taken = self.counts[ApplicationStatus.ACCEPTED] + self.counts[ApplicationStatus.INVITED]
        return max(0, self.seats - taken)


async def fill(
    db: Database, admin_id: int, programme_id: int, now: datetime, admin_ids: Collection[int]
) -> Fill | Refusal:
    async with db.transaction() as session:
        # One state read: the counts and the members listed agree (no invitation or
        # replacement, which take this lock, lands between the two reads).
        await session.lock("panel", programme_id)
        programme = await admin_panel(session, admin_id, programme_id, "panel_fill", now, admin_ids)
        if isinstance(programme, Refusal):
            return programme
        repository = PanelsRepository(session)
        record = await repository.draw(programme_id)
        if record is None or not record.drawn:
            return Refusal.NOT_COMMITTED
        counts = await repository.counts(programme_id)
        seated = await repository.in_status(programme_id, SEATED)
    pool = {a.id: a for a in record.pool}
    members = [pool[a.pseudonym] for a in seated if a.pseudonym in pool]
    by_stratum = tuple(strata(record.quotas, members, rules_of(programme)))
    return Fill(programme, record.seats, counts, by_stratum, True)


# -- the published record --------------------------------------------------------------------
def pool_csv(record: DrawRecord) -> str:
    """The pool as `civicbot draw --pool` reads it: an id column and one per feature."""
    features = sorted({f for a in record.pool for f in a.features})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", *features])
    for applicant in sorted(record.pool, key=lambda a: a.id):
        writer.writerow([applicant.id, *(applicant.features[f] for f in features)])
    return out.getvalue()


def quotas_csv(record: DrawRecord) -> str:
    """The quotas in the Sortition Foundation's `feature,value,min,max` format."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["feature", "value", "min", "max"])
    for quota in sorted(record.quotas):
        writer.writerow([quota.feature, quota.value, quota.min, quota.max])
    return out.getvalue()


def draw_command(record: DrawRecord) -> str:
    """The exact command that re-runs the draw from the published files."""
    seed = (record.seed or "SEED").replace("'", "'\\''")
    return (
        f"civicbot draw --pool pool.csv --quotas quotas.csv --seats {record.seats}"
        f" --seed '{seed}' --json"
    )


def result_json(programme: Programme, record: DrawRecord) -> str:
    """What anyone needs besides the two CSV files to check the draw."""
    document = {
        "programme": programme.key,
        "algorithm": record.algorithm,
        "seats": record.seats,
        "commitment": record.commitment,
        "committed_at": record.committed_at.isoformat(),
        "seed": record.seed,
        "drawn_at": record.drawn_at.isoformat() if record.drawn_at else None,
        "selected": list(record.selected),
        "reserve": list(record.reserve),
        **(record.fairness.as_dict() if record.fairness else {}),
        "check": draw_command(record),
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


_PROBABILITIES: dict[str, dict[str, float]] = {}


async def selection_probabilities(record: DrawRecord) -> dict[str, float]:
    """Each pseudonym's chance of selection under the lottery the draw sampled from: as
    published with the draw (since 0018), else recomputed once per commitment (the same
    inputs always give the same lottery)."""
    if record.fairness is not None:
        return dict(record.fairness.probabilities)
    if record.commitment not in _PROBABILITIES:
        pool, quotas, seats = list(record.pool), list(record.quotas), record.seats

        def compute() -> dict[str, float]:
            return solve(type_space(pool, quotas, seats)).probabilities()

        _PROBABILITIES[record.commitment] = await asyncio.to_thread(compute)
    return _PROBABILITIES[record.commitment]


async def draw_record(session: Session, programme_id: int) -> tuple[Programme, DrawRecord] | None:
    programme = await panel(session, programme_id)
    record = await PanelsRepository(session).draw(programme_id)
    if programme is None or record is None:
        return None
    return programme, record


# -- meetings and member votes ---------------------------------------------------------------
def next_vote_stage(programme: Programme, now: datetime) -> Stage | None:
    """The open stage that takes votes, else the next one to open."""
    stages = [s for s in programme.stages if Action.VOTE in s.actions]
    open_now = [s for s in stages if s.is_open(now)]
    upcoming = [s for s in stages if s.starts_at > now]
    return next(iter(open_now or upcoming), None)


async def tell_members(
    session: Session,
    programme_id: int,
    render: RenderFor,
    now: datetime,
    key: str,
) -> int:
    people = PeopleRepository(session)
    queued = 0
    for user_id in await PanelsRepository(session).members(programme_id):
        person = await people.get(user_id)
        if person is None or not person.active:
            continue
        text, buttons = render(Translator(person.language))
        added = await enqueue(
            session,
            user_id=user_id,
            category=Category.UPDATES,
            payload=Payload(text=text[:4096], buttons=buttons),
            now=now,
            dedupe_key=f"{key}:{user_id}",
        )
        queued += added is not None
    return queued


def rsvp_buttons(t: Translator, meeting_id: int) -> tuple[Button, ...]:
    return (
        Button(text=t.gettext("I'll come"), callback_data=f"pn:r:{meeting_id}:yes"),
        Button(text=t.gettext("Maybe"), callback_data=f"pn:r:{meeting_id}:maybe"),
        Button(text=t.gettext("I can't come"), callback_data=f"pn:r:{meeting_id}:no"),
    )


def meeting_line(t: Translator, programme: Programme, meeting: Meeting) -> str:
    return t.gettext("%(title)s (%(panel)s), %(when)s at %(place)s") % {
        "title": meeting.title,
        "panel": programme.name.get(t.language),
        "when": t.when(meeting.starts_at),
        "place": meeting.place,
    }


@dataclass(frozen=True)
class NewMeeting:
    title: str
    starts_at: datetime
    place: str


async def add_meeting(
    db: Database,
    admin_id: int,
    programme_id: int,
    meeting: NewMeeting,
    now: datetime,
    admin_ids: Collection[int],
) -> tuple[Refusal | None, int | None]:
    title, place = meeting.title.strip(), meeting.place.strip()
    async with db.transaction() as session:
        programme = await admin_panel(
            session, admin_id, programme_id, "panel_meeting", now, admin_ids
        )
        if isinstance(programme, Refusal):
            return programme, None
        if not (0 < len(title) <= TITLE_MAX and 0 < len(place) <= PLACE_MAX):
            return Refusal.INVALID, None
        if meeting.starts_at <= now:
            return Refusal.CLOSED, None
        meeting_id = await PanelsRepository(session).add_meeting(
            programme_id, title, meeting.starts_at, place, admin_id, now
        )
        stored = await PanelsRepository(session).meeting(meeting_id)
        assert stored is not None

        def render(t: Translator) -> tuple[str, Buttons]:
            text = t.gettext("New meeting: %(meeting)s. Will you come?") % {
                "meeting": meeting_line(t, programme, stored)
            }
            return text, (rsvp_buttons(t, meeting_id),)

        await tell_members(session, programme_id, render, now, f"meeting:{meeting_id}")
        await audit.record(
            session, admin_id, "panel_meeting", f"programme:{programme.key}", now,
            meeting=meeting_id, title=title, starts_at=meeting.starts_at.isoformat(),
        )  # fmt: skip
    return None, meeting_id


async def add_materials(
    db: Database,
    admin_id: int,
    meeting_id: int,
    materials: str,
    now: datetime,
    admin_ids: Collection[int],
) -> Refusal | None:
    """Materials to read before a meeting; members are told."""
    materials = materials.strip()
    async with db.transaction() as session:
        if not await is_admin(session, admin_id, admin_ids):
            return await refused(session, admin_id, f"panel_materials:{meeting_id}", now)
        repository = PanelsRepository(session)
        meeting = await repository.meeting(meeting_id)
        programme = None if meeting is None else await panel(session, meeting.programme_id)
        if meeting is None or programme is None:
            return Refusal.NOT_FOUND
        if not 0 < len(materials) <= MATERIALS_MAX:
            return Refusal.INVALID
        await repository.set_materials(meeting_id, materials)

        def render(t: Translator) -> tuple[str, Buttons]:
            text = t.gettext("Materials to read before %(meeting)s:") % {
                "meeting": meeting_line(t, programme, meeting)
            }
            return f"{text}\n\n{materials}", ()

        stamp = int(now.timestamp())
        await tell_members(
            session, meeting.programme_id, render, now, f"materials:{meeting_id}:{stamp}"
        )
        await audit.record(
            session, admin_id, "panel_materials", f"meeting:{meeting_id}", now,
            length=len(materials),
        )  # fmt: skip
    return None


async def rsvp(
    db: Database, user_id: int, meeting_id: int, answer: str, now: datetime
) -> Refusal | None:
    if answer not in ("yes", "no", "maybe"):
        return Refusal.INVALID
    async with db.transaction() as session:
        repository = PanelsRepository(session)
        meeting = await repository.meeting(meeting_id)
        if meeting is None:
            return Refusal.NOT_FOUND
        if user_id not in await repository.members(meeting.programme_id):
            return Refusal.NOT_MEMBER
        if meeting.starts_at <= now:
            return Refusal.CLOSED
        await repository.rsvp(meeting_id, user_id, answer, now)
    return None


async def member_meeting(
    session: Session, user_id: int, meeting_id: int
) -> tuple[Programme, Meeting] | Refusal:
    """A meeting as a member sees it (materials included); others are refused."""
    repository = PanelsRepository(session)
    meeting = await repository.meeting(meeting_id)
    programme = None if meeting is None else await panel(session, meeting.programme_id)
    if meeting is None or programme is None:
        return Refusal.NOT_FOUND
    if user_id not in await repository.members(meeting.programme_id):
        return Refusal.NOT_MEMBER
    return programme, meeting


async def queue_meeting_reminders(db: Database, now: datetime) -> int:
    """Remind members before each meeting (48 h and 3 h by default), nearest offset only,
    unless they said they can't come."""
    queued = 0
    async with db.transaction() as session:
        repository = PanelsRepository(session)
        people = PeopleRepository(session)
        hours = [h for _, p in await panels(session) for h in rules_of(p).meeting_reminder_hours]
        horizon = timedelta(hours=max(hours, default=0))
        for meeting in await repository.meetings_starting(now, now + horizon):
            programme = await panel(session, meeting.programme_id)
            if programme is None:
                continue
            offsets = [timedelta(hours=h) for h in rules_of(programme).meeting_reminder_hours]
            due = [o for o in offsets if o >= meeting.starts_at - now]
            if not due:
                continue
            offset = int(min(due).total_seconds())
            for user_id in await repository.members(meeting.programme_id):
                person = await people.get(user_id)
                if person is None or await repository.rsvp_of(meeting.id, user_id) == "no":
                    continue
                t = Translator(person.language)
                text = t.gettext("Reminder: %(meeting)s (%(left)s).") % {
                    "meeting": meeting_line(t, programme, meeting),
                    "left": t.left(now, meeting.starts_at),
                }
                buttons: Buttons = (rsvp_buttons(t, meeting.id),)
                if meeting.materials:
                    materials = Button(
                        text=t.gettext("Materials"), callback_data=f"pn:mt:{meeting.id}"
                    )
                    buttons += ((materials,),)
                added = await enqueue(
                    session,
                    user_id=user_id,
                    category=Category.DEADLINES,
                    payload=Payload(text=text, buttons=buttons),
                    now=now,
                    dedupe_key=f"meeting-reminder:{meeting.id}:{offset}:{user_id}",
                )
                queued += added is not None
    return queued


async def create_member_vote(
    db: Database,
    admin_id: int,
    programme_id: int,
    question: str,
    now: datetime,
    admin_ids: Collection[int],
) -> tuple[Refusal | None, int | None]:
    """A yes/no/abstain question only the panel's members may answer, on its voting stage."""
    question = question.strip()
    async with db.transaction() as session:
        programme = await admin_panel(session, admin_id, programme_id, "panel_vote", now, admin_ids)
        if isinstance(programme, Refusal):
            return programme, None
        if not 5 <= len(question) <= QUESTION_MAX:
            return Refusal.INVALID, None
        stage = next_vote_stage(programme, now)
        stage_id = await session.scalar(
            "SELECT id FROM stages WHERE programme_id = ? AND key = ?",
            (programme_id, stage.key if stage else ""),
        )
        if stage is None or stage_id is None:
            return Refusal.CLOSED, None
        voting = VotingRepository(session)
        taken = {heading.key for _, heading in await voting.headings(int(stage_id))}
        number = len(taken) + 1
        while f"members-{number}" in taken:
            number += 1
        heading = Heading(
            key=f"members-{number}",
            name_ko=question,
            name_en=question,
            kind=HeadingKind.QUESTION,
            items=tuple(Item(answer.value, answer.value) for answer in Answer),
            max_choices=1,
            panel=programme.key,
        )
        heading_id = await voting.save_heading(int(stage_id), heading)

        def render(t: Translator) -> tuple[str, Buttons]:
            text = t.gettext("A vote for the members of %(panel)s: %(question)s") % {
                "panel": programme.name.get(t.language),
                "question": question,
            }
            if not stage.is_open(now):
                text += "\n" + t.gettext("Voting opens %(start)s.") % {
                    "start": t.opening(stage.starts_at, now)
                }
            button = Button(text=t.gettext("Vote"), callback_data=f"vt:h:{heading_id}:0")
            return text, ((button,),)

        await tell_members(session, programme_id, render, now, f"member-vote:{heading_id}")
        await audit.record(
            session, admin_id, "panel_vote", f"programme:{programme.key}", now,
            heading=heading_id, question=question,
        )  # fmt: skip
    return None, heading_id


# -- 예산학교 ------------------------------------------------------------------------------
def normalise_code(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


async def issue_code(
    db: Database, admin_id: int, label: str, now: datetime, admin_ids: Collection[int]
) -> tuple[Refusal | None, str | None]:
    """A course code to give out at the end of a 예산학교 course."""
    async with db.transaction() as session:
        if not await is_admin(session, admin_id, admin_ids):
            return await refused(session, admin_id, "budget_school_code", now), None
        repository = PanelsRepository(session)
        code = ""
        while not code or not await repository.add_code(code, label.strip()[:100], admin_id, now):
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        await audit.record(
            session, admin_id, "budget_school_code", code, now, label=label.strip()[:100]
        )
    return None, code


async def close_code(
    db: Database, admin_id: int, code: str, now: datetime, admin_ids: Collection[int]
) -> Refusal | None:
    async with db.transaction() as session:
        if not await is_admin(session, admin_id, admin_ids):
            return await refused(session, admin_id, f"budget_school_close:{code}", now)
        if not await PanelsRepository(session).close_code(code, now):
            return Refusal.NOT_FOUND
        await audit.record(session, admin_id, "budget_school_close", code, now)
    return None


async def redeem_code(db: Database, user_id: int, text: str, now: datetime) -> Refusal | None:
    """/budgetschool CODE: an open course code records the person's completion."""
    code = normalise_code(text)
    async with db.transaction() as session:
        # One person's completion recorded and counted once (two devices, a double tap), and
        # none for someone being erased.
        await session.lock("person", user_id)
        if await PeopleRepository(session).get(user_id) is None:
            return Refusal.NOT_SIGNED_UP
        repository = PanelsRepository(session)
        found = await repository.code(code) if code else None
        if found is None or found.closed_at is not None:
            return Refusal.BAD_CODE
        voting = VotingRepository(session)
        if await voting.completed_budget_school(user_id):
            return Refusal.ALREADY
        await voting.complete_budget_school(user_id, now, f"code:{code}")
        await repository.count_use(code)
    return None


@dataclass(frozen=True)
class Imported:
    recorded: int = 0
    already: int = 0
    unknown: list[int] = field(default_factory=list)


async def import_completions(
    db: Database, user_ids: Sequence[int], now: datetime, source: str
) -> Imported:
    """Completions from the course's list; only people who signed up (nothing is stored about
    anyone before consent), the others are reported."""
    recorded = already = 0
    unknown: list[int] = []
    async with db.transaction() as session:
        people = PeopleRepository(session)
        voting = VotingRepository(session)
        for user_id in dict.fromkeys(user_ids):
            if await people.get(user_id) is None:
                unknown.append(user_id)
            elif await voting.completed_budget_school(user_id):
                already += 1
            else:
                await voting.complete_budget_school(user_id, now, source)
                recorded += 1
        await audit.record(
            session, None, "budget_school_import", source, now,
            recorded=recorded, already=already, unknown=len(unknown),
        )  # fmt: skip
    return Imported(recorded, already, unknown)


# -- reminders before recruitment closes -----------------------------------------------------
DRAFT_KEY: Final = "panel_application"


async def unfinished_applications(session: Session, due: ReminderDue) -> int:
    """SPEC §8: before a recruitment stage closes, remind whoever started an application to
    this panel and has not sent it (their draft is in the conversation data)."""
    if due.programme.kind is not ProgrammeKind.PANEL or Action.APPLY not in due.stage.actions:
        return 0
    # The draft is in the JSON text: the SQL narrows to people with a panel draft (portable
    # LIKE), Python picks this panel's.
    rows = await session.fetchall(
        "SELECT d.user_id, d.data, p.language FROM ptb_user_data d"
        " JOIN people p ON p.user_id = d.user_id WHERE d.data LIKE ? AND NOT EXISTS"
        " (SELECT 1 FROM panel_applications a WHERE a.programme_id = ? AND a.user_id = d.user_id"
        "  AND a.status != 'withdrawn')",
        (f'%"{DRAFT_KEY}"%', due.programme_id),
    )
    queued = 0
    for row in rows:
        draft = json.loads(row["data"]).get(DRAFT_KEY)
        if not isinstance(draft, dict) or draft.get("programme") != due.programme_id:
            continue
        t = Translator(row["language"])
        text = t.gettext(
            "Your application to %(panel)s is not finished; recruitment is open until %(end)s"
            " (%(left)s)."
        ) % {
            "panel": due.programme.name.get(t.language),
            "end": t.deadline(due.deadline, due.now),
            "left": t.left(due.now, due.deadline),
        }
        button = Button(
            text=t.gettext("Finish my application"), callback_data=f"ap:start:{due.programme_id}"
        )
        added = await enqueue(
            session,
            user_id=row["user_id"],
            category=Category.DEADLINES,
            payload=Payload(text=text, buttons=((button,),)),
            now=due.now,
            dedupe_key=due.dedupe_key(row["user_id"], "panel-application"),
        )
        queued += added is not None
    return queued


# -- CSV export ------------------------------------------------------------------------------
EXPORT_COLUMNS: Final = (
    "programme", "pseudonym", "status", "answers", "applied_at", "invited_at", "respond_by",
    "answered_at", "replaced_by",
)  # fmt: skip


async def export_rows(session: Session) -> list[list[object]]:
    """Every application by pseudonym: statuses and quota answers, never a Telegram id."""
    rows = await session.fetchall(
        "SELECT g.key, a.pseudonym, a.status, a.features, a.applied_at, a.invited_at,"
        " a.respond_by, a.answered_at, a.replaced_by FROM panel_applications a"
        " JOIN programmes g ON g.id = a.programme_id ORDER BY g.key, a.pseudonym"
    )
    return [["" if value is None else value for value in row] for row in rows]
