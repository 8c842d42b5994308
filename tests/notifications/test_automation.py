"""Stages open and close on time, reminders go out at their offsets, digests once a day — once
each, across restarts, catching up after downtime (SPEC §3, §8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.automation import Automation, ReminderDue, StageEvent, reminder_text
from bot.config import Settings
from bot.context import Services
from bot.i18n import Translator
from bot.notifications.announcements import StageAnnouncements
from domain.notifications import Category, Mode, Payload
from domain.programmes import parse_programmes
from storage import outbox
from storage.db import Database, Session
from storage.notifications import NotificationSettingsRepository
from storage.programmes import ProgrammesRepository
from tests.notifications.conftest import Clock, sign_up

# Times in UTC; 00:00 UTC is 09:00 in Seoul, outside quiet hours.
MAY = {day: datetime(2090, 5, day, tzinfo=UTC) for day in range(1, 32)}
H = timedelta(hours=1)


def poll(first_ends: str = "2090-05-20T09:00:00") -> str:
    return f"""
[[programme]]
key = "poll"
kind = "poll"
name = {{ ko = "서울시가 묻습니다", en = "Seoul asks" }}
[[programme.stage]]
key = "debate"
name = {{ ko = "토론", en = "Debate" }}
starts_at = 2090-05-10T09:00:00
ends_at = {first_ends}
actions = ["debate"]
[[programme.stage]]
key = "vote"
name = {{ ko = "투표", en = "Vote" }}
starts_at = 2090-05-20T09:00:00
ends_at = 2090-05-30T09:00:00
actions = ["vote"]
"""


async def load(db: Database, text: str, now: datetime = MAY[1]) -> None:
    async with db.transaction() as session:
        for programme in parse_programmes(text):
            await ProgrammesRepository(session).upsert(programme, now)


class Recorder:
    """Stage handlers and a reminder audience that note what they were called with."""

    def __init__(self, automation: Automation) -> None:
        self.events: list[tuple[str, str, datetime]] = []
        self.reminders: list[tuple[str, timedelta, datetime]] = []
        automation.on_stage_open(self.stage)
        automation.on_stage_close(self.stage)
        automation.add_reminder_audience(self.audience)

    async def stage(self, session: Session, event: StageEvent) -> None:
        self.events.append((event.kind, event.stage.key, event.at))

    async def audience(self, session: Session, due: ReminderDue) -> int:
        self.reminders.append((due.stage.key, due.offset, due.deadline))
        text = reminder_text(Translator("ko"), due) + "\n아직 투표하지 않으셨습니다."
        queued = 0
        for user_id in (1, 2):
            queued += (
                await outbox.enqueue(
                    session,
                    user_id=user_id,
                    category=Category.DEADLINES,
                    payload=Payload(text=text, parse_mode="HTML"),
                    now=due.now,
                    dedupe_key=due.dedupe_key(user_id),
                )
                is not None
            )
        return queued


def automation_at(db: Database, settings: Settings, clock: Clock) -> tuple[Automation, Recorder]:
    """A freshly started scheduler, as after a restart."""
    automation = Automation(Services(settings=settings, db=db, clock=clock))
    return automation, Recorder(automation)


@pytest.fixture
def clock() -> Clock:
    return Clock(MAY[1])


async def test_stages_open_and_close_once_and_in_order(
    db: Database, settings: Settings, clock: Clock
) -> None:
    await load(db, poll())
    automation, seen = automation_at(db, settings, clock)
    assert (await automation.tick()).transitions == 0
    clock.now = MAY[10]
    assert (await automation.tick()).transitions == 1
    assert (await automation.tick()).transitions == 0
    clock.now = MAY[20]
    await automation.tick()
    assert seen.events == [
        ("open", "debate", MAY[10]),
        ("close", "debate", MAY[20]),  # closing before opening at the same instant
        ("open", "vote", MAY[20]),
    ]


async def test_a_restart_after_downtime_catches_up_once(
    db: Database, settings: Settings, clock: Clock
) -> None:
    await load(db, poll())
    first, seen_first = automation_at(db, settings, clock)
    await first.tick()
    clock.now = MAY[31]  # down for a month
    second, seen_second = automation_at(db, settings, clock)
    assert (await second.tick()).transitions == 4
    assert [(kind, key) for kind, key, _ in seen_second.events] == [
        ("open", "debate"),
        ("close", "debate"),
        ("open", "vote"),
        ("close", "vote"),
    ]
    third, seen_third = automation_at(db, settings, clock)
    await third.tick()
    assert seen_first.events == seen_third.events == []


async def test_a_failing_handler_undoes_its_transition_and_it_runs_again(
    db: Database, settings: Settings, clock: Clock
) -> None:
    await load(db, poll())
    await sign_up(db, None, 1)
    automation, seen = automation_at(db, settings, clock)
    failures = [RuntimeError("the tally service is down")]

    async def flaky(session: Session, event: StageEvent) -> None:
        await outbox.enqueue(
            session,
            user_id=1,
            category=Category.UPDATES,
            payload=Payload(text="effect"),
            now=clock.now,
        )
        if failures:
            raise failures.pop()

    automation.on_stage_open(flaky)
    clock.now = MAY[10]
    assert (await automation.tick()).transitions == 0
    async with db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM outbox") == 0  # rolled back
    assert (await automation.tick()).transitions == 1
    assert (await automation.tick()).transitions == 0
    async with db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM outbox") == 1
    # The recorder ran before the failure too; what counts is the committed run.
    assert seen.events.count(("open", "debate", MAY[10])) == 2


async def test_moving_a_closed_stage_later_closes_it_again_earlier_does_not(
    db: Database, settings: Settings, clock: Clock
) -> None:
    await load(db, poll())
    automation, seen = automation_at(db, settings, clock)
    clock.now = MAY[20] + H
    await automation.tick()
    await load(db, poll(first_ends="2090-05-19T09:00:00"), now=clock.now)  # a correction
    assert (await automation.tick()).transitions == 0
    await load(db, poll(first_ends="2090-05-25T09:00:00"), now=clock.now)  # reopened
    clock.now = MAY[25]
    await automation.tick()
    assert [(kind, key) for kind, key, _ in seen.events].count(("close", "debate")) == 2
    assert seen.events[-1] == ("close", "debate", MAY[25])


async def test_reminders_go_out_at_their_offsets_once(
    db: Database, settings: Settings, clock: Clock
) -> None:
    await load(db, poll())
    await sign_up(db, None, 1, 2)
    automation, seen = automation_at(db, settings, clock)
    deadline = MAY[20]
    for moment in (deadline - 72 * H - timedelta(seconds=1), deadline - 72 * H, deadline - 70 * H):
        clock.now = moment
        await automation.tick()
    assert seen.reminders == [("debate", 72 * H, deadline)]
    clock.now = deadline - 24 * H
    assert (await automation.tick()).reminders == 2
    clock.now = deadline - 3 * H
    await automation.tick()
    await automation_at(db, settings, clock)[0].tick()  # a restart sends nothing again
    assert [offset for _, offset, _ in seen.reminders] == [72 * H, 24 * H, 3 * H]
    async with db.reading() as session:
        rows = await session.fetchall("SELECT dedupe_key FROM outbox ORDER BY id")
    assert len(rows) == 6
    assert rows[0]["dedupe_key"].startswith("reminder:1:259200:2090-05-20T00:00:00")


async def test_a_new_deadline_moves_the_reminders(
    db: Database, settings: Settings, clock: Clock
) -> None:
    await load(db, poll())
    automation, seen = automation_at(db, settings, clock)
    clock.now = MAY[17]  # 72 h before the 20th
    await automation.tick()
    await load(db, poll(first_ends="2090-05-27T09:00:00"), now=clock.now)
    clock.now = MAY[19]  # the old 24 h reminder's time
    await automation.tick()
    assert len(seen.reminders) == 1
    clock.now = MAY[24]
    await automation.tick()
    assert seen.reminders == [("debate", 72 * H, MAY[20]), ("debate", 72 * H, MAY[27])]


async def test_after_downtime_only_the_nearest_missed_reminder_goes_out(
    db: Database, settings: Settings, clock: Clock
) -> None:
    await load(db, poll())
    clock.now = MAY[12]
    await automation_at(db, settings, clock)[0].tick()
    clock.now = MAY[20] - 2 * H  # back two hours before the deadline
    automation, seen = automation_at(db, settings, clock)
    await automation.tick()
    await automation.tick()
    assert seen.reminders == [("debate", 3 * H, MAY[20])]


async def test_announcements_reach_those_who_did_not_turn_them_off(
    db: Database, settings: Settings, clock: Clock
) -> None:
    await load(db, poll())
    await sign_up(db, None, 1)
    await sign_up(db, None, 2, language="en")
    await sign_up(db, None, 3)
    async with db.transaction() as session:
        repository = NotificationSettingsRepository(session)
        await repository.set_mode(2, Category.ANNOUNCEMENTS, Mode.IMMEDIATE, clock.now)
        await repository.set_mode(3, Category.ANNOUNCEMENTS, Mode.OFF, clock.now)
    automation = Automation(Services(settings=settings, db=db, clock=clock))
    announcements = StageAnnouncements(automation.services)
    automation.on_stage_open(announcements.opened)
    automation.on_stage_close(announcements.closed)
    clock.now = MAY[10] + H
    await automation.tick()
    async with db.reading() as session:
        rows = await session.fetchall(
            "SELECT user_id, category, payload FROM outbox ORDER BY user_id"
        )
    assert [(row["user_id"], row["category"]) for row in rows] == [
        (1, "announcements"),
        (2, "announcements"),
    ]
    korean = Payload.model_validate_json(rows[0]["payload"]).text
    english = Payload.model_validate_json(rows[1]["payload"]).text
    assert korean.startswith("<b>서울시가 묻습니다</b>: 토론 단계가 시작됐어요.")
    assert english.startswith("<b>Seoul asks</b>: Debate is now open until")


async def test_news_missed_during_a_long_downtime_is_not_announced(
    db: Database, settings: Settings, clock: Clock
) -> None:
    await load(db, poll())
    await sign_up(db, None, 1)
    automation, seen = automation_at(db, settings, clock)
    announcements = StageAnnouncements(automation.services)
    automation.on_stage_open(announcements.opened)
    automation.on_stage_close(announcements.closed)
    clock.now = MAY[20] + 2 * H  # debate opened 10 days ago and closed 2 hours ago
    await automation.tick()
    assert len(seen.events) == 3  # every effect still ran
    async with db.reading() as session:
        rows = await session.fetchall("SELECT payload FROM outbox")
    texts = [Payload.model_validate_json(row["payload"]).text for row in rows]
    assert len(texts) == 2
    assert "토론 단계가 끝났어요" in texts[0]
    assert "투표 단계가 시작됐어요" in texts[1]
