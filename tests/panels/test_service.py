"""Panels use cases on a real SQLite file (SPEC §5): applications, the verifiable draw,
invitations and replacements, meetings, member votes, 예산학교, privacy."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.notifications.hooks import ReminderDue
from bot.services import panels as service
from bot.services import voting as voting_service
from domain.panels import ApplicationStatus, Refusal, applicant_pseudonym
from domain.people import Relation
from domain.programmes import Stage
from domain.sortition import commitment
from storage.db import Database
from storage.panels import PanelsRepository
from storage.people import PeopleRepository
from storage.privacy import erase_person, export_person
from storage.ptbstate import PtbStateRepository
from storage.voting import VotingRepository
from tests.panels.conftest import (
    ADMIN,
    ADMINS,
    AFTER_RECRUITMENT,
    MEETING_STAGE,
    RECRUITING,
    answers,
    apply_all,
    outbox_rows,
    seed_panels,
)
from tests.proposals.conftest import sign_up

WOMEN, MEN = (1, 2, 3, 4, 5), (11, 12, 13, 14, 15)


@pytest.fixture
async def ids(db: Database) -> dict[str, int]:
    found = await seed_panels(db)
    await sign_up(db, *WOMEN, *MEN, ADMIN)
    return found


async def application(db: Database, programme_id: int, user_id: int):  # type: ignore[no-untyped-def]
    async with db.reading() as session:
        return await PanelsRepository(session).of_user(programme_id, user_id)


async def drawn_small_panel(db: Database, ids: dict[str, int], seed: str = "2027-04-05") -> None:
    people = {u: answers(gender="female") for u in WOMEN}
    people.update({u: answers(gender="male") for u in MEN})
    await apply_all(db, ids["small-panel"], people)
    committed = await service.commit(db, ADMIN, ids["small-panel"], AFTER_RECRUITMENT, ADMINS)
    assert committed.refusal is None
    drawn = await service.draw(db, ADMIN, ids["small-panel"], seed, AFTER_RECRUITMENT, ADMINS)
    assert drawn.refusal is None


async def statuses(db: Database, programme_id: int) -> dict[int, ApplicationStatus]:
    async with db.reading() as session:
        rows = await session.fetchall(
            "SELECT user_id, status FROM panel_applications WHERE programme_id = ?",
            (programme_id,),
        )
    return {r["user_id"]: ApplicationStatus(r["status"]) for r in rows}


async def test_an_application_records_every_feature_under_a_pseudonym(
    db: Database, ids: dict[str, int]
) -> None:
    given = answers(gender="male", birth_year=1965, district="guro", housing="tenant")
    result = await service.apply(db, 1, ids["full-panel"], given, RECRUITING, 14)
    assert result.refusal is None and result.pseudonym
    found = await application(db, ids["full-panel"], 1)
    assert found.status is ApplicationStatus.APPLIED
    # 2027 - 1965 = 62: the oldest band; the district and the panel's own feature as given.
    assert found.features == {
        "gender": "male", "age_band": "60plus", "district": "guro", "housing": "tenant",
    }  # fmt: skip
    async with db.reading() as session:
        secret = await VotingRepository(session).secret(service.SECRET_NAME)
        person = await PeopleRepository(session).get(1)
    assert found.pseudonym == applicant_pseudonym(secret, "full-panel", 1)
    assert len(found.pseudonym) == 16
    # The answers also become the person's profile.
    assert person is not None and (person.gender, person.birth_year, person.district) == (
        "male", 1965, "guro",
    )  # fmt: skip


async def test_eligibility_and_answers_are_checked(db: Database, ids: dict[str, int]) -> None:
    panel = ids["full-panel"]

    async def refusal(user_id: int, **changes: object) -> Refusal | None:
        given = answers(**changes)  # type: ignore[arg-type]
        return (await service.apply(db, user_id, panel, given, RECRUITING, 14)).refusal

    assert await refusal(999) is Refusal.NOT_SIGNED_UP
    assert await refusal(1, birth_year=2015) is Refusal.TOO_YOUNG
    assert await refusal(1, not_official=False) is Refusal.OFFICIAL
    assert await refusal(1, gender="other") is Refusal.INVALID
    assert await refusal(1, housing=None) is Refusal.INVALID
    assert await refusal(1, district="atlantis") is Refusal.INVALID
    assert await refusal(1, agreed=False) is Refusal.INVALID
    async with db.transaction() as session:
        await PeopleRepository(session).update(2, RECRUITING, relation=Relation.OTHER.value)
    assert await refusal(2) is Refusal.NOT_CONNECTED
    # A declaration in the profile stands, whatever the application says.
    async with db.transaction() as session:
        await PeopleRepository(session).update(4, RECRUITING, declared_official_at=RECRUITING)
    assert await refusal(4, not_official=True) is Refusal.OFFICIAL
    before = await service.apply(db, 3, panel, answers(), RECRUITING - timedelta(days=30), 14)
    assert before.refusal is Refusal.CLOSED
    after = await service.apply(db, 3, panel, answers(), AFTER_RECRUITMENT, 14)
    assert after.refusal is Refusal.CLOSED
    async with db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM panel_applications") == 0


async def test_budget_school_unlocks_the_committee(db: Database, ids: dict[str, int]) -> None:
    panel = ids["school-panel"]
    given = answers(district=None, housing=None)
    assert (await service.apply(db, 1, panel, given, RECRUITING, 14)).refusal is (
        Refusal.BUDGET_SCHOOL
    )
    refusal, code = await service.issue_code(db, 1, "2027 1기", RECRUITING, ADMINS)
    assert refusal is Refusal.FORBIDDEN and code is None
    refusal, code = await service.issue_code(db, ADMIN, "2027 1기", RECRUITING, ADMINS)
    assert refusal is None and code is not None
    assert await service.redeem_code(db, 1, "WRONG123", RECRUITING) is Refusal.BAD_CODE
    # Typed the way people type codes: lower case, with a space.
    assert await service.redeem_code(db, 1, f"{code[:4].lower()} {code[4:]}", RECRUITING) is None
    assert await service.redeem_code(db, 1, code, RECRUITING) is Refusal.ALREADY
    assert (await service.apply(db, 1, panel, given, RECRUITING, 14)).refusal is None
    assert await service.close_code(db, ADMIN, code, RECRUITING, ADMINS) is None
    assert await service.redeem_code(db, 2, code, RECRUITING) is Refusal.BAD_CODE
    imported = await service.import_completions(db, [2, 2, 3, 4242], RECRUITING, "import:list")
    assert (imported.recorded, imported.already, imported.unknown) == (2, 0, [4242])
    assert (await service.apply(db, 2, panel, given, RECRUITING, 14)).refusal is None
    async with db.reading() as session:
        actions = [r[0] for r in await session.fetchall("SELECT action FROM audit_log")]
    assert actions == ["refused", "budget_school_code", "budget_school_close",
                       "budget_school_import"]  # fmt: skip


async def test_double_taps_make_one_application(db: Database, ids: dict[str, int]) -> None:
    taps = [service.apply(db, 1, ids["full-panel"], answers(), RECRUITING, 14) for _ in range(5)]
    results = await asyncio.gather(*taps)
    assert [r.refusal for r in results].count(None) == 1
    assert [r.refusal for r in results].count(Refusal.ALREADY) == 4
    async with db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM panel_applications") == 1


async def test_withdraw_and_apply_again_until_the_list_is_fixed(
    db: Database, ids: dict[str, int]
) -> None:
    panel = ids["small-panel"]
    await apply_all(db, panel, {1: answers()})
    assert await service.withdraw(db, 1, panel, RECRUITING) is None
    assert await service.withdraw(db, 1, panel, RECRUITING) is Refusal.NOT_FOUND
    assert (await application(db, panel, 1)).status is ApplicationStatus.WITHDRAWN
    await apply_all(db, panel, {1: answers(), 2: answers(), 11: answers("male")})
    await apply_all(db, panel, {12: answers("male")})
    assert (await service.commit(db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS)).refusal is None
    assert await service.withdraw(db, 1, panel, AFTER_RECRUITMENT) is Refusal.LIST_FIXED


async def test_the_quota_view_shows_the_short_strata(db: Database, ids: dict[str, int]) -> None:
    panel = ids["small-panel"]
    await apply_all(db, panel, {1: answers(), 2: answers(), 3: answers(), 11: answers("male")})
    assert await service.quota_view(db, 1, panel, RECRUITING, ADMINS) is Refusal.FORBIDDEN
    view = await service.quota_view(db, ADMIN, panel, RECRUITING, ADMINS)
    assert not isinstance(view, Refusal)
    assert (view.pool_size, view.seats) == (4, 4)
    assert [(s.quota.value, s.applicants, s.short) for s in view.strata] == [
        ("female", 3, 0), ("male", 1, 1),
    ]  # fmt: skip
    assert [s.quota.value for s in view.short] == ["male"]
    assert view.problems  # one man short: no panel yet
    changes = [(c.quota.value, c.lower_min_by, c.raise_max_by) for c in view.problems.relaxations]
    assert changes == [("female", 0, 1), ("male", 1, 0)]


async def test_the_commitment_comes_before_the_seed(db: Database, ids: dict[str, int]) -> None:
    panel = ids["small-panel"]
    people = {u: answers("female") for u in WOMEN} | {u: answers("male") for u in MEN}
    await apply_all(db, panel, people)
    seed = "로또 1161회 2 8 9 15 29 36 + 14"
    # No seed before a commitment, and no commitment while recruiting.
    assert (await service.draw(db, ADMIN, panel, seed, AFTER_RECRUITMENT, ADMINS)).refusal is (
        Refusal.NOT_COMMITTED
    )
    assert (await service.commit(db, ADMIN, panel, RECRUITING, ADMINS)).refusal is (
        Refusal.RECRUITING
    )
    assert (await service.commit(db, 1, panel, AFTER_RECRUITMENT, ADMINS)).refusal is (
        Refusal.FORBIDDEN
    )
    committed = await service.commit(db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS)
    assert committed.refusal is None and committed.pool_size == 10
    async with db.reading() as session:
        record = await PanelsRepository(session).draw(panel)
    assert record is not None and not record.drawn
    assert (
        record.commitment
        == committed.commitment
        == commitment(record.pool, record.quotas, record.seats)
    )
    # The pool names applicants by pseudonym only.
    assert {a.id for a in record.pool}.isdisjoint({str(u) for u in people})
    told = await outbox_rows(db, f"panel-commit:{panel}:")
    assert sorted(user for user, _ in told) == sorted(people)
    assert str(committed.commitment) in str(told[0][1]["text"])
    assert (await service.commit(db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS)).refusal is (
        Refusal.COMMITTED
    )
    assert (await service.draw(db, ADMIN, panel, "", AFTER_RECRUITMENT, ADMINS)).refusal is (
        Refusal.BAD_SEED
    )
    assert (await service.draw(db, 1, panel, seed, AFTER_RECRUITMENT, ADMINS)).refusal is (
        Refusal.FORBIDDEN
    )
    drawn = await service.draw(db, ADMIN, panel, seed, AFTER_RECRUITMENT, ADMINS)
    assert drawn.refusal is None and len(drawn.selected) == 4 and len(drawn.reserve) == 6
    reserve_told = await outbox_rows(db, "panel-reserve:")
    assert len(reserve_told) == 6 and seed in str(reserve_told[0][1]["text"])
    # The seed is fixed once: a second one is refused and changes nothing.
    again = await service.draw(db, ADMIN, panel, "another", AFTER_RECRUITMENT, ADMINS)
    assert again.refusal is Refusal.DRAWN
    async with db.reading() as session:
        record = await PanelsRepository(session).draw(panel)
        actions = [r[0] for r in await session.fetchall("SELECT action FROM audit_log")]
    assert record is not None and record.seed == seed and record.selected == drawn.selected
    assert actions == ["refused", "panel_commit", "refused", "panel_draw"]


async def test_an_infeasible_panel_is_never_committed(db: Database, ids: dict[str, int]) -> None:
    panel = ids["small-panel"]
    await apply_all(db, panel, {1: answers(), 2: answers(), 11: answers("male")})
    result = await service.commit(db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS)
    assert result.refusal is Refusal.INFEASIBLE
    assert (result.pool_size, result.seats) == (3, 4) and result.problems.messages
    async with db.reading() as session:
        assert await PanelsRepository(session).draw(panel) is None


async def test_the_draw_is_reproduced_by_civicbot_draw(
    db: Database,
    ids: dict[str, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    panel = ids["full-panel"]
    districts = ["mapo", "guro", "jongno", "gangnam", "songpa", "nowon"]
    people = {
        user: answers(
            gender="female" if user in WOMEN else "male",
            birth_year=1950 + 7 * (user % 7),
            district=districts[user % 6],
            housing="owner" if user % 3 else "tenant",
        )
        for user in (*WOMEN, *MEN)
    }
    await apply_all(db, panel, people)
    assert (await service.commit(db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS)).refusal is None
    drawn = await service.draw(db, ADMIN, panel, "seed 42", AFTER_RECRUITMENT, ADMINS)
    assert drawn.refusal is None
    # The published inputs, as `civicbot panel-pool` writes them from the database.
    monkeypatch.setenv("DATABASE_URL", db.url)
    pool, quotas, result = tmp_path / "pool.csv", tmp_path / "quotas.csv", tmp_path / "r.json"
    args = ["panel-pool", "--programme", "full-panel", "--pool", str(pool), "--quotas"]
    # The commands run their own event loop, as they do from a shell.
    assert await asyncio.to_thread(main, [*args, str(quotas), "--result", str(result)]) == 0
    assert pool.read_text().splitlines()[0] == "id,age_band,district,gender,housing"
    capsys.readouterr()
    published = json.loads(result.read_text())
    rerun = ["draw", "--pool", str(pool), "--quotas", str(quotas), "--seats"]
    assert main([*rerun, str(published["seats"]), "--seed", "seed 42", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["selected"] == list(drawn.selected) == published["selected"]
    assert again["reserve"] == list(drawn.reserve) == published["reserve"]
    assert again["commitment"] == drawn.commitment == published["commitment"]


async def test_invitations_accept_decline_and_replacement_keep_the_quotas(
    db: Database, ids: dict[str, int]
) -> None:
    panel = ids["small-panel"]
    await drawn_small_panel(db, ids)
    found = await statuses(db, panel)
    invited = [u for u, s in found.items() if s is ApplicationStatus.INVITED]
    assert len(invited) == 4 and Counter(u in WOMEN for u in invited) == {True: 2, False: 2}
    invitations = await outbox_rows(db, "panel-invite:")
    assert sorted(user for user, _ in invitations) == sorted(invited)
    buttons = invitations[0][1]["buttons"]
    assert [b["callback_data"][:7] for b in buttons[0]] == ["pn:acc:", "pn:dec:"]  # type: ignore[index]
    async with db.reading() as session:
        record = await PanelsRepository(session).draw(panel)
        by_name = await PanelsRepository(session).by_pseudonyms(panel)
    assert record is not None
    gender = {a.pseudonym: a.features["gender"] for a in by_name.values()}
    user_of = {a.pseudonym: a.user_id for a in by_name.values()}
    # Whoever declines, the first reserve of the other gender is passed over.
    first_reserve = record.reserve[0]
    decliner = next(p for p in record.selected if gender[p] != gender[first_reserve])
    decliner_id = user_of[decliner]
    assert decliner_id is not None
    accepter = next(user_of[p] for p in record.selected if p != decliner)
    assert accepter is not None
    app = await application(db, panel, accepter)
    assert await service.respond(db, 999, app.id, True, AFTER_RECRUITMENT) is Refusal.NOT_FOUND
    assert await service.respond(db, accepter, app.id, True, AFTER_RECRUITMENT) is None
    assert await service.respond(db, accepter, app.id, False, AFTER_RECRUITMENT) is (
        Refusal.ALREADY
    )
    declined = await application(db, panel, decliner_id)
    assert await service.respond(db, decliner_id, declined.id, False, AFTER_RECRUITMENT) is None
    replacement = next(p for p in record.reserve if gender[p] == gender[decliner])
    assert (await application(db, panel, user_of[replacement])).status is (  # type: ignore[arg-type]
        ApplicationStatus.INVITED
    )
    assert (await application(db, panel, user_of[first_reserve])).status is (  # type: ignore[arg-type]
        ApplicationStatus.RESERVE
    )
    assert (await application(db, panel, decliner_id)).replaced_by == replacement
    filled = await service.fill(db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS)
    assert not isinstance(filled, Refusal)
    assert filled.counts[ApplicationStatus.ACCEPTED] == 1 and filled.vacancies == 0
    assert [(s.quota.value, s.applicants) for s in filled.seated_strata] == [
        ("female", 2), ("male", 2),
    ]  # fmt: skip


async def test_silence_expires_and_calls_the_next_reserve(
    db: Database, ids: dict[str, int]
) -> None:
    panel = ids["small-panel"]
    await drawn_small_panel(db, ids)
    deadline = AFTER_RECRUITMENT + timedelta(days=7)
    assert await service.expire_due(db, deadline - timedelta(seconds=1)) == 0
    found = await statuses(db, panel)
    invited = [u for u, s in found.items() if s is ApplicationStatus.INVITED]
    late = await application(db, panel, invited[0])
    assert await service.respond(db, invited[0], late.id, True, deadline) is (Refusal.PAST_DEADLINE)
    assert await service.expire_due(db, deadline) == 4
    assert await service.expire_due(db, deadline) == 0  # idempotent
    after = await statuses(db, panel)
    assert [u for u in invited if after[u] is ApplicationStatus.EXPIRED] == invited
    called = [u for u, s in after.items() if s is ApplicationStatus.INVITED]
    assert len(called) == 4 and Counter(u in WOMEN for u in called) == {True: 2, False: 2}
    assert len(await outbox_rows(db, "panel-expired:")) == 4
    # The called get a fresh deadline. After theirs one woman and one man are left to call:
    # two seats stay empty, and the first one left empty does not block the men's seat.
    again = deadline + timedelta(days=7)
    assert await service.expire_due(db, again) == 4
    last = [u for u, s in (await statuses(db, panel)).items() if s is ApplicationStatus.INVITED]
    assert Counter(u in WOMEN for u in last) == {True: 1, False: 1}
    filled = await service.fill(db, ADMIN, panel, again, ADMINS)
    assert not isinstance(filled, Refusal) and filled.vacancies == 2


async def test_an_empty_seat_is_told_to_the_admins_with_the_blocking_quota(
    db: Database, ids: dict[str, int]
) -> None:
    panel = ids["small-panel"]
    await drawn_small_panel(db, ids)
    # Women decline until no woman is left on the reserve list: 2 invited, 3 in reserve.
    for declined in range(1, 5):
        found = await statuses(db, panel)
        woman = next(u for u in WOMEN if found.get(u) is ApplicationStatus.INVITED)
        app = await application(db, panel, woman)
        assert await service.respond(db, woman, app.id, False, AFTER_RECRUITMENT, ADMINS) is None
        told = await outbox_rows(db, "panel-empty-seat:")
        assert (told != []) is (declined == 4), declined  # at once, and only then
    [(admin, payload)] = told
    assert admin == ADMIN
    text = str(payload["text"])
    assert "빈자리를 예비 명단에서 채우지 못했어요." in text
    assert "예비 명단에 3명이 있지만, 누가 자리를 맡아도 다음 할당을 벗어나요:" in text
    assert "• 성별 여성: 할당 2–2명" in text and "• 성별 남성: 할당 2–2명" in text
    assert "자리를 비워 두면" in text
    buttons = [b["callback_data"] for row in payload["buttons"] for b in row]  # type: ignore[attr-defined]
    assert buttons == [f"pa:ov:{panel}", f"pa:f:{panel}"]
    # The second choice: the next reserve (a man) is invited outside the quotas, audited.
    assert await service.invite_outside_quotas(db, 11, panel, AFTER_RECRUITMENT, ADMINS) is (
        Refusal.FORBIDDEN
    )
    called = await service.invite_outside_quotas(db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS)
    assert not isinstance(called, Refusal) and called.user_id in MEN
    assert (await statuses(db, panel))[called.user_id] is ApplicationStatus.INVITED
    again = await service.invite_outside_quotas(db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS)
    assert again is Refusal.ALREADY  # no seat is empty now
    async with db.reading() as session:
        logged = await session.scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'panel_outside_quotas'"
        )
    assert logged == 1


async def test_reminders_before_the_invitation_deadline(db: Database, ids: dict[str, int]) -> None:
    await drawn_small_panel(db, ids)
    offsets = (timedelta(hours=72), timedelta(hours=24), timedelta(hours=3))
    deadline = AFTER_RECRUITMENT + timedelta(days=7)
    assert await service.queue_invitation_reminders(db, AFTER_RECRUITMENT, offsets) == 0
    assert (
        await service.queue_invitation_reminders(db, deadline - timedelta(hours=70), offsets) == 4
    )
    assert (
        await service.queue_invitation_reminders(db, deadline - timedelta(hours=69), offsets) == 0
    )
    assert await service.queue_invitation_reminders(db, deadline - timedelta(hours=2), offsets) == 4
    keys = {key.rsplit(":", 1)[1] for key in await dedupe_keys(db, "panel-invite-reminder:")}
    assert keys == {"259200", "10800"}  # 72 h and 3 h; the missed 24 h one is not sent late


async def dedupe_keys(db: Database, prefix: str) -> list[str]:
    async with db.reading() as session:
        rows = await session.fetchall(
            "SELECT dedupe_key FROM outbox WHERE dedupe_key LIKE ?", (f"{prefix}%",)
        )
    return [r[0] for r in rows]


async def members_of_small_panel(db: Database, ids: dict[str, int]) -> list[int]:
    await drawn_small_panel(db, ids)
    panel = ids["small-panel"]
    invited = [u for u, s in (await statuses(db, panel)).items() if s is ApplicationStatus.INVITED]
    for user in invited:
        app = await application(db, panel, user)
        assert await service.respond(db, user, app.id, True, AFTER_RECRUITMENT) is None
    return sorted(invited)


async def test_meetings_rsvp_materials_and_reminders(db: Database, ids: dict[str, int]) -> None:
    panel = ids["small-panel"]
    members = await members_of_small_panel(db, ids)
    outsider = next(u for u in (*WOMEN, *MEN) if u not in members)
    starts = MEETING_STAGE + timedelta(days=3)
    meeting = service.NewMeeting("1차 주제별 회의", starts, "서울시청 다목적홀")
    refusal, _ = await service.add_meeting(db, outsider, panel, meeting, MEETING_STAGE, ADMINS)
    assert refusal is Refusal.FORBIDDEN
    past = service.NewMeeting("지난 회의", MEETING_STAGE - timedelta(hours=1), "시청")
    assert (await service.add_meeting(db, ADMIN, panel, past, MEETING_STAGE, ADMINS))[0] is (
        Refusal.CLOSED
    )
    refusal, meeting_id = await service.add_meeting(
        db, ADMIN, panel, meeting, MEETING_STAGE, ADMINS
    )
    assert refusal is None and meeting_id is not None
    assert sorted(u for u, _ in await outbox_rows(db, f"meeting:{meeting_id}:")) == members
    assert await service.rsvp(db, outsider, meeting_id, "yes", MEETING_STAGE) is (
        Refusal.NOT_MEMBER
    )
    assert await service.rsvp(db, members[0], meeting_id, "no", MEETING_STAGE) is None
    assert await service.rsvp(db, members[1], meeting_id, "yes", MEETING_STAGE) is None
    assert await service.rsvp(db, members[1], meeting_id, "sure", MEETING_STAGE) is (
        Refusal.INVALID
    )
    assert (
        await service.add_materials(
            db, ADMIN, meeting_id, "자료: https://example.org/a.pdf", MEETING_STAGE, ADMINS
        )
        is None
    )
    assert len(await outbox_rows(db, f"materials:{meeting_id}:")) == 4
    async with db.reading() as session:
        assert await service.member_meeting(session, outsider, meeting_id) is Refusal.NOT_MEMBER
        seen = await service.member_meeting(session, members[1], meeting_id)
    assert not isinstance(seen, Refusal) and "a.pdf" in seen[1].materials
    # 48 h and 3 h before; whoever said they can't come is not reminded.
    assert await service.queue_meeting_reminders(db, starts - timedelta(hours=49)) == 0
    assert await service.queue_meeting_reminders(db, starts - timedelta(hours=47)) == 3
    assert await service.queue_meeting_reminders(db, starts - timedelta(hours=46)) == 0
    assert await service.queue_meeting_reminders(db, starts - timedelta(hours=2)) == 3
    reminded = {int(k.rsplit(":", 1)[1]) for k in await dedupe_keys(db, "meeting-reminder:")}
    assert reminded == set(members) - {members[0]}
    assert await service.rsvp(db, members[1], meeting_id, "no", starts) is Refusal.CLOSED


async def test_a_members_vote_refuses_non_members(db: Database, ids: dict[str, int]) -> None:
    panel = ids["small-panel"]
    members = await members_of_small_panel(db, ids)
    outsider = next(u for u in (*WOMEN, *MEN) if u not in members)
    question = "2차 회의 주제를 교통으로 정할까요?"
    too_short = await service.create_member_vote(db, ADMIN, panel, "짧음", MEETING_STAGE, ADMINS)
    assert too_short[0] is Refusal.INVALID
    refusal, heading_id = await service.create_member_vote(
        db, ADMIN, panel, question, MEETING_STAGE, ADMINS
    )
    assert refusal is None and heading_id is not None
    assert len(await outbox_rows(db, f"member-vote:{heading_id}:")) == 4
    cast = await voting_service.cast(db, outsider, heading_id, ["yes"], MEETING_STAGE, 14)
    assert cast.refusal is voting_service.Refusal.NOT_MEMBER
    voted = await voting_service.cast(db, members[0], heading_id, ["yes"], MEETING_STAGE, 14)
    assert voted.refusal is None
    async with db.reading() as session:
        open_to_outsider = await voting_service.open_headings(session, outsider, MEETING_STAGE)
        open_to_member = await voting_service.open_headings(session, members[0], MEETING_STAGE)
        assert len(await VotingRepository(session).ballots(heading_id)) == 1
    assert [h.heading_id for h in open_to_member] == [heading_id]
    assert open_to_outsider == []


async def test_privacy_export_and_erase(db: Database, ids: dict[str, int]) -> None:
    panel = ids["small-panel"]
    members = await members_of_small_panel(db, ids)
    leaving = members[0]
    refusal, meeting_id = await service.add_meeting(
        db, ADMIN, panel, service.NewMeeting("회의", MEETING_STAGE, "시청"),
        AFTER_RECRUITMENT, ADMINS,
    )  # fmt: skip
    assert refusal is None and meeting_id is not None
    assert await service.rsvp(db, leaving, meeting_id, "yes", AFTER_RECRUITMENT) is None
    before = await application(db, panel, leaving)
    async with db.reading() as session:
        exported = await export_person(session, leaving)
        record_before = await PanelsRepository(session).draw(panel)
    (entry,) = exported["panels"]["applications"]
    assert entry["status"] == "accepted" and entry["pseudonym"] == before.pseudonym
    assert exported["panels"]["meeting_rsvps"][0]["answer"] == "yes"
    async with db.transaction() as session:
        await erase_person(session, leaving)
    async with db.reading() as session:
        rows = await session.fetchall(
            "SELECT user_id, status FROM panel_applications WHERE pseudonym = ?",
            (before.pseudonym,),
        )
        assert (
            await session.scalar("SELECT COUNT(*) FROM meeting_rsvps WHERE user_id = ?", (leaving,))
            == 0
        )
        record_after = await PanelsRepository(session).draw(panel)
        assert leaving not in await PanelsRepository(session).members(panel)
    assert [(r["user_id"], r["status"]) for r in rows] == [(None, "left")]
    assert record_after == record_before  # the published draw stays as it was
    # The seat given up is offered to the next reserve who keeps the quotas.
    assert await service.expire_due(db, AFTER_RECRUITMENT) == 1
    invited = [u for u, s in (await statuses(db, panel)).items() if s is ApplicationStatus.INVITED]
    assert len(invited) == 1 and (invited[0] in WOMEN) == (leaving in WOMEN)
    assert await service.expire_due(db, AFTER_RECRUITMENT) == 0


async def test_unfinished_applications_are_reminded_before_recruitment_closes(
    db: Database, ids: dict[str, int]
) -> None:
    panel = ids["small-panel"]
    async with db.transaction() as session:
        state = PtbStateRepository(session)
        for user_id in (1, 2):
            await state.set_user_data(user_id, {service.DRAFT_KEY: {"programme": panel}})
        await state.set_user_data(3, {service.DRAFT_KEY: {"programme": ids["full-panel"]}})
    await apply_all(db, panel, {2: answers()})  # sent it after all
    async with db.reading() as session:
        programme = await service.panel(session, panel)
    assert programme is not None
    recruitment, lottery = programme.stages[0], programme.stages[1]
    deadline = recruitment.ends_at
    assert deadline is not None

    def due(stage: Stage) -> ReminderDue:
        return ReminderDue(
            programme=programme, programme_id=panel, stage=stage, stage_id=1,
            deadline=deadline, offset=timedelta(hours=24), now=RECRUITING,
        )  # fmt: skip

    async with db.transaction() as session:
        assert await service.unfinished_applications(session, due(lottery)) == 0
        assert await service.unfinished_applications(session, due(recruitment)) == 1
        assert await service.unfinished_applications(session, due(recruitment)) == 0  # once
    ((user_id, payload),) = await outbox_rows(db, "reminder:")
    assert user_id == 1 and "작은 패널 신청을 아직 마치지 않았어요" in str(payload["text"])
    assert payload["buttons"][0][0]["callback_data"] == f"ap:start:{panel}"  # type: ignore[index]


async def test_erasure_before_the_commitment_removes_the_application(
    db: Database, ids: dict[str, int]
) -> None:
    panel = ids["small-panel"]
    await apply_all(db, panel, {1: answers()})
    async with db.transaction() as session:
        await erase_person(session, 1)
    async with db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM panel_applications") == 0
    # Signing up again, the same person may apply again (under the same pseudonym).
    await sign_up(db, 1)
    await apply_all(db, panel, {1: answers()})
