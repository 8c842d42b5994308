"""Budget-waste reports as use cases, on a real SQLite file (SPEC §7)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from bot.services import waste as service
from domain.programmes import parse_programmes
from domain.waste import EventKind, Refusal, Status, Verdict, format_receipt
from storage.db import Database
from storage.privacy import erase_person, export_person
from storage.programmes import ProgrammesRepository
from storage.waste import WasteRepository
from tests.waste.conftest import (
    ADMIN,
    ADMINS,
    CENTRE_OFFICER,
    MAPO_OFFICER,
    NOW,
    OTHER,
    REPORTER,
    TRANSPORT,
    TRANSPORT_OFFICER,
    audit_actions,
    draft,
    get,
    outbox,
    photo,
    submit,
)

OFFSETS = (timedelta(hours=72), timedelta(hours=24), timedelta(hours=3))


async def test_a_report_gets_the_years_next_receipt_number_and_a_deadline(
    ready: Database,
) -> None:
    first = await submit(ready)
    second = await submit(ready, OTHER)
    assert (first.receipt, second.receipt) == ("W-2027-000001", "W-2027-000002")
    # 30 working days from Wed 10 Mar, that day included: the end (24:00 KST) of Tue 20 Apr.
    assert first.status is Status.RECEIVED and first.due_at == datetime(2027, 4, 20, 15, tzinfo=UTC)
    assert first.file_count == 1 and first.reporter_name == "김시민"
    # 00:30 on 1 January in Seoul is still 31 December in UTC: the new year's numbering.
    new_year = datetime(2027, 12, 31, 15, 30, tzinfo=UTC)
    result = await service.submit(ready, REPORTER, draft(), new_year)
    assert result.report is not None and result.report.receipt == "W-2028-000001"


async def test_receipt_numbers_widen_past_six_digits(ready: Database) -> None:
    """The number is written in SQL (under the year's lock) as `format_receipt` writes it."""
    first = await submit(ready)
    for sequence in (41, 999_999):
        async with ready.transaction() as session:
            await session.execute(
                "UPDATE waste_reports SET receipt_seq = ? WHERE id = ?", (sequence, first.id)
            )
        following = await submit(ready)
        assert following.receipt == format_receipt(2027, sequence + 1)
        assert await get(ready, following.id) == following
    assert following.receipt == "W-2027-1000000"


async def test_a_double_tap_or_a_retry_returns_the_same_receipt(ready: Database) -> None:
    same = draft()
    results = await asyncio.gather(*(service.submit(ready, REPORTER, same, NOW) for _ in range(5)))
    receipts = {r.report.receipt for r in results if r.report is not None}
    assert receipts == {"W-2027-000001"}
    async with ready.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM waste_reports") == 1


async def test_identity_is_kept_only_for_what_the_reporter_agreed_to(ready: Database) -> None:
    anonymous = await submit(ready, named_publicly=False, contact_consent=False)
    named_only = await submit(ready, named_publicly=True, contact_consent=False)
    assert (anonymous.reporter_name, anonymous.reporter_username) == (None, None)
    assert (named_only.reporter_name, named_only.reporter_username) == ("김시민", None)


async def test_five_reports_a_day_counted_from_midnight_in_seoul(ready: Database) -> None:
    for _ in range(5):
        await submit(ready)
    result = await service.submit(ready, REPORTER, draft(), NOW)
    assert (result.report, result.refusal) == (None, Refusal.DAILY_LIMIT)
    assert (await service.submit(ready, OTHER, draft(), NOW)).refusal is None
    # Midnight in Seoul is 15:00 UTC.
    next_day = datetime(2027, 3, 10, 15, 0, tzinfo=UTC)
    assert (await service.submit(ready, REPORTER, draft(), next_day)).refusal is None


async def test_the_limit_and_the_deadline_are_programme_settings(ready: Database) -> None:
    (programme,) = [
        p
        for p in parse_programmes(
            """
[[programme]]
key = "budget-waste-reports"
kind = "waste_reports"
name = { ko = "예산낭비신고센터", en = "Budget-waste reporting centre" }
[programme.settings]
answer_deadline_days = 10
reports_per_day = 1
[[programme.stage]]
key = "always-open"
name = { ko = "상시 신고", en = "Open all year" }
starts_at = 2020-01-01T00:00:00
actions = ["report"]
"""
        )
    ]
    async with ready.transaction() as session:
        await ProgrammesRepository(session).upsert(programme, NOW)
    report = await submit(ready)
    assert report.due_at == datetime(2027, 3, 23, 15, tzinfo=UTC)  # 10 working days
    assert (await service.submit(ready, REPORTER, draft(), NOW)).refusal is Refusal.DAILY_LIMIT


async def test_bad_drafts_are_refused_and_nothing_is_stored(ready: Database) -> None:
    cases = {
        Refusal.DESCRIPTION_TOO_SHORT: draft(description="낭비"),
        Refusal.DESCRIPTION_TOO_LONG: draft(description="가" * 2001),
        Refusal.AGENCY_INVALID: draft(agency="가" * 101),
        Refusal.ADDRESS_INVALID: draft(district="atlantis"),
        Refusal.DATE_IN_FUTURE: draft(occurred_on=date(2027, 3, 11)),
        Refusal.AMOUNT_TOO_LARGE: draft(amount=10**16),
        Refusal.TOO_MANY_FILES: draft(files=tuple(photo(n) for n in range(11))),
    }
    for refusal, bad in cases.items():
        assert (await service.submit(ready, REPORTER, bad, NOW)).refusal is refusal
    assert (await service.submit(ready, 777, draft(), NOW)).refusal is Refusal.NOT_SIGNED_UP
    async with ready.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM waste_reports") == 0


async def test_the_whole_handling_chain_tells_the_reporter_at_every_step(ready: Database) -> None:
    report = await submit(ready)
    later = NOW + timedelta(days=3)
    steps = [
        service.assign(ready, report.id, CENTRE_OFFICER, later, ADMINS, department=TRANSPORT),
        service.start_investigation(ready, report.id, TRANSPORT_OFFICER, later, ADMINS),
        service.answer(
            ready,
            report.id,
            TRANSPORT_OFFICER,
            Verdict.SUBSTANTIATED,
            "교체 계약을 취소하고 예산을 환수했습니다.",
            300_000_000,
            later,
            ADMINS,
        ),
        service.decide_reward(ready, report.id, ADMIN, 5_000_000, later, ADMINS),
        service.close(ready, report.id, TRANSPORT_OFFICER, later, ADMINS),
    ]
    for step in steps:
        assert await step is service.Outcome.DONE
    done = await get(ready, report.id)
    assert done.status is Status.CLOSED and done.department == TRANSPORT
    assert done.officer_id == TRANSPORT_OFFICER  # who started investigating took the case
    assert (done.verdict, done.saved_amount, done.reward) == (
        Verdict.SUBSTANTIATED, 300_000_000, 5_000_000,
    )  # fmt: skip
    texts = [text for user, _, text in await outbox(ready) if user == REPORTER]
    assert len(texts) == 5 and all(text.startswith("예산낭비신고 W-2027-000001") for text in texts)
    assert "담당 부서: 서울시 도시교통실" in texts[0]
    assert "처리 결과: 인정" in texts[2] and "절감액: 3억 원" in texts[2]
    assert "교체 계약을 취소하고" in texts[2]
    assert "예산절약성과금 500만 원 지급이 결정됐어요." in texts[3]
    assert "종결" in texts[4]
    actions = [action for _, action, subject in await audit_actions(ready)]
    assert actions == [
        "waste.assigned", "waste.investigating", "waste.answered", "waste.reward_decided",
        "waste.closed",
    ]  # fmt: skip
    async with ready.reading() as session:
        kinds = [e.kind for e in await WasteRepository(session).history(report.id)]
    assert kinds == [
        EventKind.RECEIVED, EventKind.ASSIGNED, EventKind.INVESTIGATING, EventKind.ANSWERED,
        EventKind.REWARD_DECIDED, EventKind.CLOSED,
    ]  # fmt: skip


async def test_steps_out_of_order_and_values_the_rules_refuse(ready: Database) -> None:
    report = await submit(ready)
    rid, officer = report.id, CENTRE_OFFICER
    assert await service.start_investigation(ready, rid, officer, NOW, ADMINS) is (
        service.Outcome.NOT_ALLOWED
    )
    assert await service.close(ready, rid, officer, NOW, ADMINS) is service.Outcome.NOT_ALLOWED
    # Assigning to someone who is not an officer for the report's scope.
    assert await service.assign(ready, rid, officer, NOW, ADMINS, officer_id=MAPO_OFFICER) is (
        service.Outcome.INVALID
    )
    assert await service.assign(ready, rid, officer, NOW, ADMINS, officer_id=officer) is (
        service.Outcome.DONE
    )
    await service.start_investigation(ready, rid, officer, NOW, ADMINS)
    assert await service.answer(
        ready, rid, officer, Verdict.NOT_SUBSTANTIATED, "짧음", None, NOW, ADMINS
    ) is service.Outcome.INVALID  # fmt: skip
    routine = "정상적인 교체 주기였습니다."
    assert await service.answer(
        ready, rid, officer, Verdict.NOT_SUBSTANTIATED, routine, 5, NOW, ADMINS
    ) is service.Outcome.DONE  # fmt: skip
    assert (await get(ready, rid)).saved_amount is None
    # No reward for an unsubstantiated report; it may be closed at once.
    assert await service.decide_reward(ready, rid, officer, 1_000_000, NOW, ADMINS) is (
        service.Outcome.INVALID
    )
    assert await service.close(ready, rid, officer, NOW, ADMINS) is service.Outcome.DONE
    assert await service.assign(ready, rid, officer, NOW, ADMINS, department="감사관") is (
        service.Outcome.NOT_ALLOWED
    )


async def test_a_substantiated_report_closes_only_after_the_reward_decision(
    ready: Database,
) -> None:
    report = await submit(ready)
    rid, officer = report.id, CENTRE_OFFICER
    await service.assign(ready, rid, officer, NOW, ADMINS, officer_id=officer)
    await service.start_investigation(ready, rid, officer, NOW, ADMINS)
    await service.answer(ready, rid, officer, Verdict.PARTLY, "일부 사실입니다.", 0, NOW, ADMINS)
    assert await service.close(ready, rid, officer, NOW, ADMINS) is service.Outcome.NOT_ALLOWED
    assert await service.decide_reward(ready, rid, officer, 0, NOW, ADMINS) is (
        service.Outcome.DONE
    )
    reporter_texts = [text for user, _, text in await outbox(ready) if user == REPORTER]
    assert "예산절약성과금은 지급하지 않기로 결정됐어요." in reporter_texts[-1]
    assert await service.close(ready, rid, officer, NOW, ADMINS) is service.Outcome.DONE


async def test_who_may_see_and_do_what(ready: Database) -> None:
    transport = await submit(ready, agency=TRANSPORT, contact_consent=False)
    mapo = await submit(ready, agency="마포구청 건설관리과")
    # Another citizen: the report "does not exist"; nothing can be done to it.
    assert await service.reporter_view(ready, transport.id, OTHER) is None
    assert await service.reporter_view(ready, transport.id, REPORTER) is not None
    addition = service.Addition("제가 신고한 것처럼 꾸밉니다")
    assert await service.add_information(ready, transport.id, OTHER, addition, NOW) is (
        service.Outcome.NOT_FOUND
    )
    assert await service.open_case(ready, transport.id, OTHER, NOW, ADMINS) is None
    for user in (OTHER, REPORTER, MAPO_OFFICER):
        assert await service.assign(
            ready, transport.id, user, NOW, ADMINS, officer_id=user
        ) is service.Outcome.FORBIDDEN  # fmt: skip
        assert await service.close(ready, transport.id, user, NOW, ADMINS) is (
            service.Outcome.FORBIDDEN
        )
    # Officers see their own scope; the centre and super-admins see everything.
    for officer, allowed in (
        (TRANSPORT_OFFICER, {transport.id}),
        (MAPO_OFFICER, {mapo.id}),
        (CENTRE_OFFICER, {transport.id, mapo.id}),
        (ADMIN, {transport.id, mapo.id}),
    ):
        found = await service.queue(ready, officer, ADMINS)
        assert found is not None and {r.id for r in found[0]} == allowed
        for report in (transport, mapo):
            case = await service.open_case(ready, report.id, officer, NOW, ADMINS)
            assert (case is not None) == (report.id in allowed)
    assert await service.queue(ready, OTHER, ADMINS) is None
    # The reporter's identity: only with their consent to be contacted.
    hidden = await service.open_case(ready, transport.id, ADMIN, NOW, ADMINS)
    shown = await service.open_case(ready, mapo.id, ADMIN, NOW, ADMINS)
    assert hidden is not None and shown is not None
    assert (hidden.report.reporter_id, hidden.report.reporter_name) == (None, None)
    assert (shown.report.reporter_id, shown.report.reporter_username) == (REPORTER, "kimcitizen")
    listed = await service.queue(ready, ADMIN, ADMINS)
    assert listed is not None
    assert {r.id: r.reporter_name for r in listed[0]} == {transport.id: None, mapo.id: "김시민"}
    # Assigned to a department, the case moves to that department's officers.
    await service.assign(ready, mapo.id, MAPO_OFFICER, NOW, ADMINS, department=TRANSPORT)
    assert await service.open_case(ready, mapo.id, MAPO_OFFICER, NOW, ADMINS) is None
    assert await service.open_case(ready, mapo.id, TRANSPORT_OFFICER, NOW, ADMINS) is not None
    refused = [(a, s) for a, action, s in await audit_actions(ready) if action == "waste.refused"]
    assert (OTHER, transport.receipt) in refused and (MAPO_OFFICER, mapo.receipt) in refused


async def test_the_reporter_adds_information_while_the_case_is_open(ready: Database) -> None:
    report = await submit(ready)
    await service.assign(
        ready, report.id, CENTRE_OFFICER, NOW, ADMINS, officer_id=TRANSPORT_OFFICER
    )
    addition = service.Addition("계약서 사본을 첨부합니다.", (photo(1), photo(2)))
    assert await service.add_information(ready, report.id, REPORTER, addition, NOW) is (
        service.Outcome.DONE
    )
    assert (await get(ready, report.id)).file_count == 2  # photo 1 was already there
    officer_texts = [t for user, _, t in await outbox(ready) if user == TRANSPORT_OFFICER]
    assert officer_texts[-1] == "신고인이 W-2027-000001에 정보를 추가했어요."
    view = await service.reporter_view(ready, report.id, REPORTER)
    assert view is not None and view.history[-1].note == "계약서 사본을 첨부합니다."
    assert await service.add_information(
        ready, report.id, REPORTER, service.Addition(None), NOW
    ) is service.Outcome.INVALID  # fmt: skip
    await service.start_investigation(ready, report.id, TRANSPORT_OFFICER, NOW, ADMINS)
    await service.answer(
        ready, report.id, TRANSPORT_OFFICER, Verdict.NOT_SUBSTANTIATED, "문제없습니다.", None,
        NOW, ADMINS,
    )  # fmt: skip
    await service.close(ready, report.id, TRANSPORT_OFFICER, NOW, ADMINS)
    assert await service.add_information(ready, report.id, REPORTER, addition, NOW) is (
        service.Outcome.NOT_ALLOWED
    )


async def test_officers_are_reminded_before_the_deadline_once_per_offset(
    ready: Database,
) -> None:
    held = await submit(ready)
    await service.assign(ready, held.id, CENTRE_OFFICER, NOW, ADMINS, officer_id=TRANSPORT_OFFICER)
    unassigned = await submit(ready, agency="마포구청 건설관리과")
    due = held.due_at
    remind = service.queue_deadline_reminders
    assert await remind(ready, due - timedelta(days=4), OFFSETS, ADMINS) == 0
    # Down for a while: at 10 hours left only the 24-hour reminder goes, not the 72-hour one.
    # The held case reminds its officer; the other one everyone who could take it.
    assert await remind(ready, due - timedelta(hours=10), OFFSETS, ADMINS) == 1 + 3
    assert await remind(ready, due - timedelta(hours=9), OFFSETS, ADMINS) == 0
    deadlines = [(u, t) for u, category, t in await outbox(ready) if category == "deadlines"]
    assert {u for u, _ in deadlines} == {TRANSPORT_OFFICER, MAPO_OFFICER, CENTRE_OFFICER, ADMIN}
    assert deadlines[0][1].startswith("신고 W-2027-000001의 답변 기한은 4월 20일(화) 24:00")
    assert "10시간 남음" in deadlines[0][1]
    # An answered case needs no reminder.
    rid = unassigned.id
    for step in (
        service.assign(ready, rid, MAPO_OFFICER, NOW, ADMINS, officer_id=MAPO_OFFICER),
        service.start_investigation(ready, rid, MAPO_OFFICER, NOW, ADMINS),
        service.answer(
            ready, rid, MAPO_OFFICER, Verdict.NOT_SUBSTANTIATED, "문제없습니다.", None, NOW, ADMINS
        ),
    ):
        assert await step is service.Outcome.DONE
    assert await remind(ready, due - timedelta(hours=2), OFFSETS, ADMINS) == 1


async def test_the_overdue_list(ready: Database) -> None:
    late = await submit(ready)
    answered = await submit(ready)
    rid = answered.id
    await service.assign(ready, rid, CENTRE_OFFICER, NOW, ADMINS, officer_id=CENTRE_OFFICER)
    await service.start_investigation(ready, rid, CENTRE_OFFICER, NOW, ADMINS)
    await service.answer(
        ready, rid, CENTRE_OFFICER, Verdict.PARTLY, "일부 사실입니다.", 1, NOW, ADMINS
    )
    after = late.due_at + timedelta(minutes=1)
    found = await service.queue(ready, ADMIN, ADMINS, overdue_at=after)
    assert found is not None and [r.id for r in found[0]] == [late.id]
    found = await service.queue(ready, ADMIN, ADMINS, overdue_at=late.due_at - timedelta(days=1))
    assert found is not None and found[1] == 0


async def test_public_statistics(ready: Database) -> None:
    first = await submit(ready, amount=100_000_000)
    await submit(ready, amount=None, district="guro")
    await submit(ready, amount=50_000_000, named_publicly=False)
    rid, officer = first.id, CENTRE_OFFICER
    await service.assign(ready, rid, officer, NOW, ADMINS, department=TRANSPORT)
    await service.start_investigation(ready, rid, officer, NOW, ADMINS)
    await service.answer(ready, rid, officer, Verdict.SUBSTANTIATED, "사실입니다.", 80, NOW, ADMINS)
    await service.decide_reward(ready, rid, officer, 7, NOW, ADMINS)
    stats = await service.public_statistics(ready)
    assert stats.total == 3
    assert stats.by_status[Status.RECEIVED] == 2 and stats.by_status[Status.REWARD_DECIDED] == 1
    assert stats.by_district == [("mapo", 2), ("guro", 1)]
    assert stats.by_department == [(TRANSPORT, 1)] and stats.unassigned == 2
    assert (stats.amount_reported, stats.amount_saved, stats.rewards) == (150_000_000, 80, 7)


async def test_statistics_count_each_case_as_it_is_now(ready: Database) -> None:
    # Issue 19: a case an officer took (no department named) and closed is not "unassigned".
    taken = await submit(ready)
    await submit(ready)
    rid, officer = taken.id, CENTRE_OFFICER
    await service.assign(ready, rid, officer, NOW, ADMINS, officer_id=officer)
    await service.start_investigation(ready, rid, officer, NOW, ADMINS)
    await service.answer(
        ready, rid, officer, Verdict.NOT_SUBSTANTIATED, "문제없어요.", None, NOW, ADMINS
    )
    assert await service.close(ready, rid, officer, NOW, ADMINS) is service.Outcome.DONE
    stats = await service.public_statistics(ready)
    assert stats.by_status[Status.CLOSED] == 1 and stats.by_status[Status.RECEIVED] == 1
    assert stats.unassigned == 1 and stats.officer_only == 1 and stats.by_department == []


async def test_export_and_erasure_of_a_reporter(ready: Database) -> None:
    report = await submit(ready)
    async with ready.reading() as session:
        exported = await export_person(session, REPORTER)
    mine = exported["budget_waste_reports"]["reports"]
    assert [r["receipt"] for r in mine] == [report.receipt]
    assert mine[0]["files"][0]["kind"] == "photo" and mine[0]["history"][0]["kind"] == "received"
    async with ready.transaction() as session:
        await erase_person(session, REPORTER)
    kept = await get(ready, report.id)
    assert kept.description == report.description  # stays on the public record
    assert (kept.reporter_id, kept.reporter_name, kept.reporter_username) == (None, None, None)
    assert not kept.named_publicly and not kept.contact_consent
    async with ready.reading() as session:
        assert await session.scalar(
            "SELECT COUNT(*) FROM waste_report_events WHERE actor_id = ?", (REPORTER,)
        ) == 0  # fmt: skip
