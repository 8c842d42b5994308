"""Admin broadcasts (SPEC §9; issue 8): compose, audiences, delivery, control, restarts."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from telegram import Bot

from bot.config import Settings
from bot.handlers import broadcasts as status
from bot.localapi.core import FloodLimits, LocalBotApi, UploadedFile
from bot.localapi.request import LocalRequest
from bot.notifications.sender import OutboxSender
from bot.services import broadcasts as service
from bot.services import proposals as proposals_service
from domain.broadcasts import Audience, ButtonKind, ButtonTarget, Segment, Status, eta
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


async def drain(h: Harness) -> None:
    """Send everything due now through the bot's own sender."""
    while (await h.app.automation.sender.run_batch()).worked:
        pass


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
    replies = await h.press(9000, "마포구")
    text = said(replies)
    # Mapo: 9000, 1, 2 (Korean), 3 (English); 5 turned announcements off; 4 is in Gangnam.
    assert "한국어 버전 (3명)" in text and "English 버전 (1명)" in text
    assert "4명에게 보낼까요?" in text
    previews = [m for m in replies if "photo" in m]
    assert [m["caption"] for m in previews] == [
        "마포구 주민 여러분, 투표가 시작됩니다.",
        "Residents of Mapo, voting has started.",
    ]
    button = previews[1]["reply_markup"]["inline_keyboard"][0][0]
    assert button == {"text": "View the proposal", "callback_data": f"pr:card:{proposal_id}"}

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
            "INSERT INTO voter_roll VALUES (?, 3, ?, ?)", (heading, to_db(NOON), to_db(NOON))
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


async def test_pause_resume_cancel(harness: Harness) -> None:
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
    replies = await h.press_data(9000, sent.message_id, f"bcs:cancel:{broadcast_id}")
    assert "취소됨" in said(replies) and "미발송 (공지 알림 끔, 탈퇴 또는 취소): 3" in said(replies)
    assert not h.api.bot_messages(2)


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


async def test_retry_after_is_honoured(harness: Harness) -> None:
    h = harness
    h.set_now(NOON)
    await seed_programmes(h.db)
    await join(h, 9000, 1)
    h.api.fail_next("sendMessage", 429, "Too Many Requests: retry after 5", retry_after=5)
    broadcast_id = await queue(h.db, Audience(segment=Segment.EVERYONE))
    clock = [NOON]
    # The sender alone, without PTB's limiter (which would first retry by itself).
    request = LocalRequest(h.api)
    async with Bot(h.api.token, request=request, get_updates_request=request) as bot:
        sender = OutboxSender(h.db, bot, h.app.services.settings, lambda: clock[0])
        batch = await sender.run_batch()
        assert (batch.sent, batch.wait) == (1, timedelta(seconds=5))
        assert not (await sender.run_batch()).worked  # everything waits out retry_after
        clock[0] = NOON + timedelta(seconds=5)
        assert (await sender.run_batch()).sent == 1
    state = await service.settle(h.db, broadcast_id, clock[0])
    assert state is not None and state.progress.sent == 2


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
