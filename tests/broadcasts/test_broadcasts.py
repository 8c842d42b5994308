"""Admin broadcasts (SPEC §9; issue 8): compose, audiences, delivery, control, restarts."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from telegram import Bot

from bot import automation
from bot.config import Settings
from bot.handlers import broadcasts as status
from bot.i18n import Translator
from bot.localapi.core import FloodLimits, LocalBotApi, UploadedFile
from bot.localapi.request import LocalRequest
from bot.notifications.sender import OutboxSender
from bot.services import broadcasts as service
from bot.services import proposals as proposals_service
from domain.broadcasts import (
    Audience,
    ButtonKind,
    ButtonTarget,
    Progress,
    Segment,
    Status,
    eta,
    measured_rate,
)
from domain.notifications import Category, Mode
from domain.proposals import Scope
from storage import audit, outbox
from storage.clock import to_db
from storage.db import Database
from storage.notifications import NotificationSettingsRepository
from storage.people import PeopleRepository
from tests.harness import Harness, running_harness, said
from tests.proposals.conftest import seed_programmes, sign_up

NOON = datetime(2027, 2, 10, 3, 0, tzinfo=UTC)  # noon in Seoul, in the PB proposal call
SUPER = frozenset({9000})


@pytest.fixture
def manual_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    """For tests that run the sender's batches by hand: the bot's own sender job, which claims
    the next batch as soon as one is recorded, finds nothing at start-up and then waits an
    hour instead of racing them. Ask for it before `harness`."""
    monkeypatch.setattr(automation, "SENDER_IDLE_SECONDS", 3600.0)


async def drain(h: Harness) -> None:
    """Send everything due now through the bot's own sender. Its job may be sending a batch
    at the same time: wait until that one is recorded too."""
    while True:
        while (await h.app.automation.sender.run_batch()).worked:
            pass
        async with h.db.reading() as session:
            if not await session.scalar("SELECT COUNT(*) FROM outbox WHERE status = 'claimed'"):
                return
        await asyncio.sleep(0.02)


async def join(h: Harness, *user_ids: int, language: str = "ko", district: str = "mapo") -> None:
    """Signed up, with a chat the bot can write to."""
    await sign_up(h.db, *user_ids, language=language, district=district)
    for user_id in user_ids:
        h.api.user(user_id)


async def people(h: Harness, first: int, count: int) -> list[int]:
    ids = list(range(first, first + count))
    await join(h, *ids)
    return ids


async def queue(db: Database, audience: Audience, texts: dict[str, str] | None = None) -> int:
    draft = await service.create_draft(
        db, 9000, texts or {"ko": "안녕하세요", "en": "Hello"}, None, None, audience, NOON, SUPER
    )
    assert draft is not None
    assert (await service.confirm(db, 9000, draft.id, NOON, SUPER, "ko")).result is (
        service.Result.DONE
    )
    return draft.id


def test_eta_arithmetic() -> None:
    assert eta(0, 25) == timedelta(0)
    assert eta(100_000, 25) == timedelta(seconds=4000)
    assert eta(1, 25) == timedelta(seconds=1)


async def test_compose_preview_confirm_deliver_and_report(harness: Harness) -> None:
    h = harness
    h.set_now(NOON)
    await seed_programmes(h.db)
    await join(h, 9000, 1, 2)
    await join(h, 3, language="en")
    await join(h, 4, district="gangnam")
    await join(h, 5)
    async with h.db.transaction() as session:
        await NotificationSettingsRepository(session).set_mode(
            5, Category.ANNOUNCEMENTS, Mode.OFF, NOON
        )
    proposal_id = (
        await proposals_service.submit(
            h.db,
            1,
            proposals_service.Draft(
                programme_key="democracy-seoul",
                title="마포 공원 벤치",
                description="공원에 벤치를 더 놓아 주세요. 어르신들이 쉴 곳이 없습니다.",
                field="environment",
                scope=Scope.CITY,
                districts=(),
            ),
            NOON,
            14,
        )
    ).proposal_id
    assert proposal_id is not None
    h.api.files["photo-1"] = UploadedFile("photo.jpg", b"jpeg")

    await h.say(9000, "/admin")
    await h.press(9000, "전체 알림")
    await h.say(9000, "마포구 주민 여러분, 투표가 시작됩니다.")
    await h.say(9000, "Residents of Mapo, voting has started.")
    await h.send_photo(9000)
    await h.press(9000, "제안으로 연결")
    assert "번호" in said(await h.say(9000, "99999"))  # no such proposal: asked again
    await h.say(9000, str(proposal_id))
    await h.press(9000, "한 자치구의 사람")
    before = len(h.api.bot_messages(9000))
    await h.press(9000, "마포구")
    # The preview is one message (several would trickle in at one a second): both versions
    # with their audiences, the photo and the button noted, and the question. The audience
    # question, answered by its button, becomes it in place.
    assert len(h.api.bot_messages(9000)) == before
    text = h.last_text(9000)
    # Mapo: 9000, 1, 2 (Korean), 3 (English); 5 turned announcements off; 4 is in Gangnam.
    assert "한국어 버전 (3명):\n마포구 주민 여러분, 투표가 시작됩니다." in text
    assert "English 버전 (1명):\nResidents of Mapo, voting has started." in text
    assert "위에서 보낸 사진과 함께 보내요." in text
    assert f"아래 버튼: ‘제안 보기’ → 제안 #{proposal_id}" in text
    assert text.endswith("4명에게 보낼까요?")

    replies = await h.press(9000, "지금 보내기")
    # The sender may already have brought 9000 their own copy (a photo) by now.
    status_message = next(m for m in replies if "발송" in m.get("text", ""))
    assert "0 / 4 발송" in status_message["text"]
    await drain(h)
    for user_id, expected in ((1, "마포구 주민"), (3, "Residents of Mapo")):
        received = [m for m in h.api.bot_messages(user_id) if "photo" in m]
        assert len(received) == 1 and received[0]["caption"].startswith(expected)
    assert not h.api.bot_messages(4) and not h.api.bot_messages(5)

    await status.refresh(h.app)
    edited = h.api.chats[9000].messages[status_message["message_id"]]
    assert "4 / 4 발송 · 실패 0 · 남은 0" in edited["text"] and "완료" in edited["text"]
    assert "reply_markup" not in edited  # nothing left to pause or cancel
    assert "발송: 4" in h.last_text(9000)  # the final report
    await status.refresh(h.app)  # a finished broadcast is reported once
    assert sum("발송: 4" in text for text in h.texts(9000)) == 1


async def test_audience_sizes_per_segment(db: Database) -> None:
    await seed_programmes(db)
    await sign_up(db, 9000, 1, 2, 3)
    await sign_up(db, 4, language="en", district="gangnam")
    proposal = (
        await proposals_service.submit(
            db,
            1,
            proposals_service.Draft(
                programme_key="pb-citywide-2027",
                title="동네 도서관 확충",
                description="작은 도서관을 더 만들어 아이들이 책을 읽을 곳을 늘려 주세요.",
                field="education",
                scope=Scope.CITY,
                districts=(),
            ),
            NOON,
            14,
        )
    ).proposal_id
    async with db.transaction() as session:
        await session.execute(
            "INSERT INTO follows (proposal_id, user_id) VALUES (?, 2)", (proposal,)
        )
        stage_id = await session.scalar(
            "SELECT s.id FROM stages s JOIN programmes g ON g.id = s.programme_id"
            " WHERE g.key = 'pb-citywide-2027' AND s.key = 'citizen-vote'"
        )
        heading = await session.scalar(
            "INSERT INTO ballot_headings (stage_id, key, definition) VALUES (?, 'city', '{}')"
            " RETURNING id",
            (stage_id,),
        )
        await session.execute(
            "INSERT INTO voter_roll (heading_id, user_id, first_voted_at, last_voted_at)"
            " VALUES (?, 3, ?, ?)",
            (heading, to_db(NOON), to_db(NOON)),
        )
        panel = await session.scalar("SELECT id FROM programmes WHERE key = 'pb-committee-2027'")
        for user_id, state in ((2, "accepted"), (4, "applied")):
            await session.execute(
                "INSERT INTO panel_applications (programme_id, user_id, pseudonym, features,"
                " status, applied_at, updated_at) VALUES (?, ?, ?, '{}', ?, ?, ?)",
                (panel, user_id, f"p{user_id}", state, to_db(NOON), to_db(NOON)),
            )
        await PeopleRepository(session).set_active(9000, False)

    async def size(segment: Segment, value: str | None = None) -> dict[str, int]:
        return await service.sizes(db, Audience(segment=segment, value=value), "ko")

    assert await size(Segment.EVERYONE) == {"ko": 3, "en": 1}  # 9000 is inactive
    assert await size(Segment.DISTRICT, "gangnam") == {"ko": 0, "en": 1}
    assert await size(Segment.LANGUAGE, "en") == {"ko": 0, "en": 1}
    assert await size(Segment.PANEL, "pb-committee-2027") == {"ko": 1, "en": 0}
    # Author 1 and voter 3 took part in the PB programme; applicant 4 in the panel only.
    assert await size(Segment.PROGRAMME, "pb-citywide-2027") == {"ko": 2, "en": 0}
    assert await size(Segment.PROGRAMME, "pb-committee-2027") == {"ko": 1, "en": 1}
    assert await size(Segment.NOT_VOTED, str(stage_id)) == {"ko": 2, "en": 1}
    # The author follows their own proposal; 2 follows it too.
    assert await size(Segment.FOLLOWERS, str(proposal)) == {"ko": 2, "en": 0}


async def test_a_second_confirm_queues_nobody_twice(db: Database) -> None:
    await seed_programmes(db)
    await sign_up(db, 9000, 1, 2)
    broadcast_id = await queue(db, Audience(segment=Segment.EVERYONE))
    again = await service.confirm(db, 9000, broadcast_id, NOON, SUPER, "ko")
    assert again.result is service.Result.UNCHANGED
    async with db.reading() as session:
        keys = await session.fetchall("SELECT dedupe_key FROM outbox ORDER BY user_id")
    assert [row["dedupe_key"] for row in keys] == [
        f"broadcast:{broadcast_id}:1",
        f"broadcast:{broadcast_id}:2",
        f"broadcast:{broadcast_id}:9000",
    ]


async def test_pause_resume_cancel(manual_sender: None, harness: Harness) -> None:
    h = harness
    h.set_now(NOON)
    await seed_programmes(h.db)
    await join(h, 9000)
    await people(h, 1, 30)
    broadcast_id = await queue(h.db, Audience(segment=Segment.EVERYONE))
    sender = h.app.automation.sender
    assert (await sender.run_batch()).sent == 10
    assert await service.control(h.db, 9000, broadcast_id, "pause", NOON, SUPER) is (
        service.Result.DONE
    )
    assert not (await sender.run_batch()).worked  # nothing of a paused broadcast is claimed
    state = await service.settle(h.db, broadcast_id, NOON)
    assert state is not None and state.broadcast.status is Status.PAUSED
    assert state.progress.remaining == 21
    assert await service.control(h.db, 9000, broadcast_id, "pause", NOON, SUPER) is (
        service.Result.UNCHANGED
    )
    await service.control(h.db, 9000, broadcast_id, "resume", NOON, SUPER)
    assert (await sender.run_batch()).sent == 10
    assert await service.control(h.db, 9000, broadcast_id, "cancel", NOON, SUPER) is (
        service.Result.DONE
    )
    assert not (await sender.run_batch()).worked
    state = await service.settle(h.db, broadcast_id, NOON)
    assert state is not None and state.broadcast.status is Status.CANCELLED
    assert (state.progress.sent, state.progress.skipped, state.progress.remaining) == (20, 11, 0)


async def test_status_buttons_in_the_chat_and_refusals_are_audited(harness: Harness) -> None:
    h = harness
    h.set_now(NOON)
    await seed_programmes(h.db)
    await join(h, 9000, 1, 2)
    broadcast_id = await queue(h.db, Audience(segment=Segment.EVERYONE))
    h.api.user(9000)
    sent = await h.app.bot.send_message(9000, "…")  # the status message the flow would send
    await service.set_status_message(h.db, broadcast_id, 9000, sent.message_id)

    # A citizen cannot start a broadcast, nor pause one with a forged button.
    assert "관리자만 쓸 수 있어요." in said(await h.say(1, "/broadcast"))
    refusal = h.api.bot_messages(1)[-1]  # a message of theirs to press on
    await h.press_data(1, refusal["message_id"], f"bcs:pause:{broadcast_id}")
    state = await service.settle(h.db, broadcast_id, NOON)
    assert state is not None and state.broadcast.status is Status.QUEUED
    async with h.db.reading() as session:
        refused = [e for e in await audit.entries(session, 50) if e.action == "refused"]
    assert [e.subject for e in refused] == ["broadcast pause"]
    assert refused[0].actor_id == 1
    audience = Audience(segment=Segment.EVERYONE)
    assert await service.create_draft(h.db, 1, {"ko": "x"}, None, None, audience, NOON, SUPER) is (
        None
    )
    assert (await service.confirm(h.db, 1, broadcast_id, NOON, SUPER, "ko")).result is (
        service.Result.FORBIDDEN
    )
    async with h.db.reading() as session:
        refused = [e for e in await audit.entries(session, 50) if e.action == "refused"]
    assert [e.subject for e in refused] == ["broadcast", "broadcast", "broadcast pause"]

    replies = await h.press_data(9000, sent.message_id, f"bcs:pause:{broadcast_id}")
    assert "일시 정지됨" in said(replies) and "다시 시작" in str(replies[-1]["reply_markup"])
    # Cancel asks first; "keep it" changes nothing, "yes" cancels.
    replies = await h.press_data(9000, sent.message_id, f"bcs:cancel:{broadcast_id}")
    assert "발송을 취소할까요? 아직 받지 못한 3명은 받지 못하고" in said(replies)
    state = await service.settle(h.db, broadcast_id, NOON)
    assert state is not None and state.broadcast.status is Status.PAUSED
    await h.press(9000, "아니요, 그대로 둬요")
    assert h.last_text(9000) == f"전체 알림 #{broadcast_id}은 취소하지 않았어요."
    state = await service.settle(h.db, broadcast_id, NOON)
    assert state is not None and state.broadcast.status is Status.PAUSED
    await h.press_data(9000, sent.message_id, f"bcs:cancel:{broadcast_id}")
    replies = await h.press(9000, "네, 취소해요")
    assert "취소했어요" in said(replies)
    assert "미발송 (공지 알림 끔, 탈퇴 또는 취소): 3" in said(replies)
    assert not h.api.bot_messages(2)
    # A forged confirmation from someone else is refused and audited like every control.
    await h.press_data(1, refusal["message_id"], f"bcs:cancel:{broadcast_id}")
    assert h.last_text(1) == "관리자만 쓸 수 있어요."


async def test_restart_mid_broadcast_sends_nobody_twice(settings: Settings) -> None:
    api = LocalBotApi()
    async with running_harness(settings, api) as first:
        first.set_now(NOON)
        await seed_programmes(first.db)
        await join(first, 9000)
        everyone = await people(first, 1, 40)
        broadcast_id = await queue(first.db, Audience(segment=Segment.EVERYONE))
        await first.app.automation.sender.run_batch()
        # The process dies with a batch claimed but its outcome not recorded.
        async with first.db.transaction() as session:
            in_flight, _ = await outbox.claim(session, now=NOON, limit=10, quiet_end=None)
    async with running_harness(settings, api) as second:
        second.set_now(NOON)
        await drain(second)
        state = await service.settle(second.db, broadcast_id, NOON)
    assert state is not None and state.broadcast.status is Status.DONE
    counts = {user_id: len(api.bot_messages(user_id)) for user_id in [9000, *everyone]}
    assert max(counts.values()) == 1
    assert state.progress.unknown == len(in_flight) == 10
    assert state.progress.sent == sum(counts.values()) == 31  # 41 minus the doubtful batch


async def test_blocked_people_become_inactive(harness: Harness) -> None:
    h = harness
    h.set_now(NOON)
    await seed_programmes(h.db)
    await join(h, 9000, 1, 2)
    h.api.block(2)
    broadcast_id = await queue(h.db, Audience(segment=Segment.EVERYONE))
    await drain(h)
    async with h.db.reading() as session:
        person = await PeopleRepository(session).get(2)
    assert person is not None and not person.active
    state = await service.settle(h.db, broadcast_id, NOON)
    assert state is not None and (state.progress.sent, state.progress.failed) == (2, 1)


async def test_retry_after_holds_the_refused_message_not_the_broadcast(
    manual_sender: None, harness: Harness
) -> None:
    h = harness
    h.set_now(NOON)
    await seed_programmes(h.db)
    await join(h, 9000, 1, 2)
    h.api.fail_next("sendMessage", 429, "Too Many Requests: retry after 5", retry_after=5)
    broadcast_id = await queue(h.db, Audience(segment=Segment.EVERYONE))
    clock = [NOON]
    # The sender alone, without the rate limiter (which slows everything down on a 429).
    request = LocalRequest(h.api)
    async with Bot(h.api.token, request=request, get_updates_request=request) as bot:
        sender = OutboxSender(h.db, bot, h.app.services.settings, lambda: clock[0])
        assert (await sender.run_batch()).sent == 2  # the others were not held
        assert not (await sender.run_batch()).worked  # the refused one waits retry_after
        clock[0] = NOON + timedelta(seconds=5)
        assert (await sender.run_batch()).sent == 1
    state = await service.settle(h.db, broadcast_id, clock[0])
    assert state is not None and state.progress.sent == 3


async def test_replies_do_not_wait_behind_a_broadcast(settings: Settings) -> None:
    # The whole budget is the outbox's and a big batch is in flight: a reply still goes first.
    tight = settings.model_copy(
        update={"send_rate": 20.0, "broadcast_rate": 20.0, "outbox_batch_size": 60}
    )
    async with running_harness(tight) as h:
        h.set_now(NOON)
        await seed_programmes(h.db)
        await join(h, 9000)
        await people(h, 1, 200)
        await queue(h.db, Audience(segment=Segment.EVERYONE))
        await h.api.wait_until(lambda: sum(map(len, map(h.api.bot_messages, range(1, 201)))) >= 30)
        started = time.perf_counter()
        replies = await h.say(5000, "/help")
        latency = time.perf_counter() - started
        assert replies
        # Behind the batch the reply would wait about 60 / 20 = 3 s.
        assert latency < 1.0, latency


async def test_local_api_flood_limits() -> None:
    api = LocalBotApi()
    api.flood = FloodLimits(per_second=3)
    for user_id in (1, 2, 3, 4):
        api.user(user_id)
    results = [await api.call("sendMessage", {"chat_id": c, "text": "x"}) for c in (1, 2, 3, 4)]
    assert [r["ok"] for r in results] == [True, True, True, False]
    assert results[3]["error_code"] == 429 and results[3]["parameters"]["retry_after"] == 1
    again = await api.call("sendMessage", {"chat_id": 1, "text": "x"})
    assert again["parameters"]["retry_after"] == 1  # one a second per chat
    assert api.flood.rejected == 2


@pytest.mark.parametrize("kind", list(ButtonKind))
def test_button_callbacks_open_the_bots_own_cards(kind: ButtonKind) -> None:
    target = ButtonTarget(kind=kind, id=7)
    assert target.callback_data == {"proposal": "pr:card:7", "ballot": "vt:h:7:0"}[kind]


async def test_preview_is_one_message_and_counts_one_person_as_one(harness: Harness) -> None:
    h = harness
    h.set_now(NOON)
    await seed_programmes(h.db)
    await join(h, 9000, language="en")
    await join(h, 1)
    await h.say(9000, "/broadcast")
    await h.say(9000, "안녕하세요. 투표가 시작됐어요.")
    await h.press(9000, "Same as Korean")
    await h.press(9000, "Skip")
    await h.press(9000, "No button")
    await h.press(9000, "People using one language")
    before = len(h.api.bot_messages(9000))
    await h.press(9000, "English")
    assert len(h.api.bot_messages(9000)) == before  # the question became the preview
    # One text for both languages: one block, and one person is "1 person", not "1 people".
    assert h.last_text(9000) == (
        "한국어 · English version, 1 person:\n안녕하세요. 투표가 시작됐어요.\n\n"
        "Send this broadcast to 1 person?"
    )


async def test_a_long_preview_still_fits_in_one_message(harness: Harness) -> None:
    h = harness
    h.set_now(NOON)
    await seed_programmes(h.db)
    await join(h, 9000)
    await h.say(9000, "/broadcast")
    await h.say(9000, "가" * 4000)
    await h.say(9000, "b" * 4000)
    await h.press(9000, "건너뛰기")
    await h.press(9000, "버튼 없음")
    before = len(h.api.bot_messages(9000))
    await h.press(9000, "모든 사람")
    assert len(h.api.bot_messages(9000)) == before  # the question became the preview
    text = h.last_text(9000)
    assert len(text) <= 4096 and text.count("(여기서는 줄여서 보여 드려요.") == 2
    assert text.endswith("1명에게 보낼까요?")


def test_measured_rate() -> None:
    assert measured_rate(50, NOON, NOON + timedelta(seconds=2)) is None  # too soon to say
    assert measured_rate(100, NOON, NOON + timedelta(seconds=4)) == 25.0


async def test_status_eta_comes_from_the_measured_rate(db: Database) -> None:
    await seed_programmes(db)
    await sign_up(db, 9000, *range(1, 100))
    broadcast_id = await queue(db, Audience(segment=Segment.EVERYONE))
    # 61 delivered over the last 6 s, at 10 a second; 39 to go.
    async with db.transaction() as session:
        ids = await session.fetchall(
            "SELECT id FROM outbox WHERE broadcast_id = ? ORDER BY id LIMIT 61", (broadcast_id,)
        )
        for number, row in enumerate(ids):
            sent_at = NOON + timedelta(seconds=number / 10)
            await session.execute(
                "UPDATE outbox SET status = 'sent', sent_at = ? WHERE id = ?",
                (to_db(sent_at), row["id"]),
            )
    state = await service.settle(db, broadcast_id, NOON + timedelta(seconds=6))
    assert state is not None and state.rate == pytest.approx(10.0)
    text = status.status_text(Translator("en"), state, rate=25)
    # At the configured 25 a second it would say 2 seconds; 39 at 10 a second take 4.
    assert "ETA 4 seconds at 10.0 messages a second" in text
    # Sending stopped (a flood of 429s, say): the rate falls, and the ETA grows.
    later = await service.settle(db, broadcast_id, NOON + timedelta(seconds=20))
    assert later is not None and later.rate == pytest.approx(60 / 20)
    assert "ETA 13 seconds at 3.0 messages a second" in status.status_text(
        Translator("en"), later, rate=25
    )


async def test_status_and_report_count_alike(db: Database) -> None:
    """The issue saw "10 failed" live and "Failed: 0 … 10 in flight" in the report."""
    await seed_programmes(db)
    await sign_up(db, 9000)
    broadcast_id = await queue(db, Audience(segment=Segment.EVERYONE))
    state = await service.settle(db, broadcast_id, NOON)
    assert state is not None
    progress = Progress(total=100, sent=60, failed=2, unknown=10, skipped=3)
    counted = service.State(state.broadcast, progress, just_finished=False)
    for language in ("en", "ko"):
        t = Translator(language)
        live, report = status.status_text(t, counted, 25), status.report_text(t, counted)
        for count in (60, 2, 10, 3):
            assert str(count) in live and str(count) in report
    t = Translator("en")
    assert "60 / 100 sent · 2 failed · 25 remaining" in status.status_text(t, counted, 25)
    assert "10 in flight during a restart, maybe delivered" in status.status_text(t, counted, 25)
    assert "3 not sent (announcements turned off" in status.status_text(t, counted, 25)
    report = status.report_text(t, counted)
    assert "Failed (blocked the bot or refused by Telegram): 2" in report
    assert "In flight during a restart, maybe delivered, not resent: 10" in report
    assert "Not sent (announcements turned off, left, or cancelled): 3" in report
