"""SIGKILL the bot in the middle of things, start it again, and lose or duplicate nothing
(issue 9): a half-written proposal continues, a ballot counts once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.localapi.core import LocalBotApi
from bot.localapi.server import LocalBotApiServer
from bot.services import voting as voting_service
from storage.ballotkey import BallotKey, attach
from storage.db import open_database
from tests.conftest import TEST_BALLOT_KEY, fetch_rows

CIVICBOT = str(Path(sys.executable).with_name("civicbot"))
ALICE = 4343


def env(srv: LocalBotApiServer, database_url: str) -> dict[str, str]:
    values = dict(os.environ)
    values.update(
        TELEGRAM_BOT_TOKEN=srv.api.token,
        TELEGRAM_API_BASE_URL=srv.base_url,
        TELEGRAM_API_FILE_URL=srv.file_url,
        DATABASE_URL=database_url,
        WEB_PORT="0",  # the web pages on any free port: tests run side by side
    )
    return values


@pytest.fixture
async def server() -> AsyncIterator[LocalBotApiServer]:
    srv = LocalBotApiServer(LocalBotApi())
    await srv.start()
    yield srv
    await srv.stop()


async def start(
    srv: LocalBotApiServer, database_url: str, tmp_path: Path
) -> asyncio.subprocess.Process:
    before = len([c for c in srv.api.calls if c[0] == "setMyCommands"])
    process = await asyncio.create_subprocess_exec(
        CIVICBOT, "run", env=env(srv, database_url), cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await srv.api.wait_until(
        lambda: len([c for c in srv.api.calls if c[0] == "setMyCommands"]) > before, timeout=30
    )
    return process


async def kill(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGKILL)
    await process.wait()


def button(api: LocalBotApi, label: str) -> tuple[int, str]:
    for message in reversed(api.bot_messages(ALICE)):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for b in row:
                if b["text"] == label:
                    return message["message_id"], b["callback_data"]
    raise AssertionError(f"no button {label!r}:\n{api.transcript(ALICE)}")


async def said_anew(api: LocalBotApi, expect: str, before: int) -> None:
    """Wait for one more `expect` than there was (an earlier message may hold it already)."""
    await api.wait_until(lambda: api.transcript(ALICE).count(expect) > before, timeout=15)


async def say(api: LocalBotApi, text: str, expect: str) -> None:
    before = api.transcript(ALICE).count(expect)
    api.send_text(ALICE, text)
    await said_anew(api, expect, before)


async def press(api: LocalBotApi, label: str, expect: str) -> None:
    before = api.transcript(ALICE).count(expect)
    api.press(ALICE, *button(api, label))
    await said_anew(api, expect, before)


async def sign_up_in_chat(api: LocalBotApi) -> None:
    await say(api, "/start", "개인정보 수집·이용에 동의해 주세요")
    await press(api, "동의합니다", "서울과 어떤 관계")
    await press(api, "서울에 살아요", "어느 자치구")
    await say(api, "마포구", "가입을 마쳤어요")


async def test_a_proposal_half_written_survives_sigkill(
    server: LocalBotApiServer, database_url: str, tmp_path: Path
) -> None:
    api = server.api
    process = await start(server, database_url, tmp_path)
    try:
        await sign_up_in_chat(api)
        await say(api, "/propose", "제안 제목")
        await say(api, "죽었다 살아나도 남는 제안", "제안 내용을 적어")
        await kill(process)  # between two steps, with the draft only in the database

        process = await start(server, database_url, tmp_path)
        await say(api, "두 번째 프로세스가 이어받아도 초안은 그대로 있어야 합니다.", "정책분야")
        await press(api, "공원", "어디에 해당하는")
        await press(api, "한 자치구", "어느 자치구인가요? 하나를")
        await press(api, "마포구", "사진을")
        await press(api, "완료", "위치를 공유")
        await press(api, "건너뛰기", "미리 보기로")
        await press(api, "계속", "제안 내용을 확인해")
        await kill(process)  # just before submitting

        process = await start(server, database_url, tmp_path)
        await press(api, "제출", "게시됐어요")
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    rows = await fetch_rows(database_url, "SELECT title, description FROM proposals")
    assert rows == [
        ("죽었다 살아나도 남는 제안", "두 번째 프로세스가 이어받아도 초안은 그대로 있어야 합니다.")
    ]


BALLOT = """
programme = "vote-now"
stage = "vote"
[[heading]]
key = "city"
name = { ko = "지금 투표", en = "Vote now" }
max_choices = 2
budget = 100
[[heading.item]]
key = "a"
title = "사업 가"
cost = 50
[[heading.item]]
key = "b"
title = "사업 나"
cost = 50
"""


def programme_open_now() -> str:
    start = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"""
[[programme]]
key = "vote-now"
kind = "poll"
name = {{ ko = "지금 투표", en = "Vote now" }}
[[programme.stage]]
key = "vote"
name = {{ ko = "투표", en = "Vote" }}
starts_at = {start}
ends_at = {end}
actions = ["vote"]
"""


async def test_a_ballot_cast_around_a_sigkill_counts_once(
    server: LocalBotApiServer, database_url: str, tmp_path: Path
) -> None:
    api = server.api
    (tmp_path / "p.toml").write_text(programme_open_now(), encoding="utf-8")
    (tmp_path / "b.toml").write_text(BALLOT, encoding="utf-8")
    for command in (["import-programmes", "p.toml"], ["import-ballot", "b.toml"]):
        subprocess.run(
            [CIVICBOT, *command], env=env(server, database_url), cwd=tmp_path, check=True
        )
    process = await start(server, database_url, tmp_path)
    try:
        await sign_up_in_chat(api)
        await say(api, "/vote", "지금 투표 (아직 투표 안 함)")
        await press(api, "지금 투표", "선택: 0개")
        await press(api, "1. 사업 가", "선택: 1개")
        await kill(process)  # a choice made, nothing cast

        process = await start(server, database_url, tmp_path)
        await press(api, "2. 사업 나", "선택: 2개")  # the first choice is still there
        await press(api, "확인하고 제출", "내 투표:")
        api.press(ALICE, *button(api, "투표 제출"))
        await kill(process)  # maybe before, maybe after the ballot was written

        process = await start(server, database_url, tmp_path)
        await say(api, "/vote", "지금 투표 (")
        await press(api, "지금 투표", "선택:")
        await press(api, "확인하고 제출", "내 투표:")
        await press(api, "투표 제출", "투표 확인 번호")
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    # What counts: the sealed ballots too, moved into the table as the bot's mix would.
    db = open_database(database_url)
    await db.connect()
    await attach(db, BallotKey.from_text(TEST_BALLOT_KEY))
    await voting_service.mix_ballots(db)
    await db.close()
    ballots = await fetch_rows(database_url, "SELECT choices FROM ballots")
    roll = await fetch_rows(database_url, "SELECT COUNT(*) FROM voter_roll")
    assert ballots == [('["a", "b"]',)] and roll == [(1,)]


async def fill_outbox(database_url: str, people: range, each: int) -> None:
    from domain.notifications import Category, Payload
    from storage.outbox import enqueue
    from storage.people import PeopleRepository

    db = open_database(database_url)
    await db.connect()
    await db.migrate()
    now = datetime.now(UTC)
    async with db.transaction() as session:
        for user in people:
            await PeopleRepository(session).consent(user, "ko", now)
            for number in range(each):
                await enqueue(
                    session,
                    user_id=user,
                    category=Category.DIRECT,
                    payload=Payload(text=f"알림 {user}-{number}"),
                    now=now,
                )
    await db.close()


async def test_the_sender_killed_mid_delivery_sends_nothing_twice_and_loses_nothing(
    server: LocalBotApiServer, database_url: str, tmp_path: Path
) -> None:
    api = server.api
    people = range(5000, 5040)
    for user in people:
        api.user(user)
    await fill_outbox(database_url, people, 2)

    def sent() -> list[tuple[int, str]]:
        return [(p["chat_id"], p["text"]) for m, p in api.calls if m == "sendMessage"]

    values = env(server, database_url)
    values["BROADCAST_RATE"] = "150"
    process = await asyncio.create_subprocess_exec(
        CIVICBOT, "run", env=values, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await api.wait_until(lambda: len(sent()) >= 30, timeout=30)
    await kill(process)  # in the middle of the queue

    process = await asyncio.create_subprocess_exec(
        CIVICBOT, "run", env=values, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip

    async def statuses() -> dict[str, int]:
        return dict(
            await fetch_rows(database_url, "SELECT status, COUNT(*) FROM outbox GROUP BY status")
        )

    try:
        # Nothing the bot sends tells when the last row is settled: ask the database.
        deadline = asyncio.get_running_loop().time() + 60
        while {"pending", "claimed"} & set(await statuses()):
            assert asyncio.get_running_loop().time() < deadline, await statuses()
            await asyncio.sleep(0.1)
    finally:
        await kill(process)
    delivered = sent()
    assert len(delivered) == len(set(delivered))  # nobody got any message twice
    final = await statuses()
    sent_rows, unknown = final.get("sent", 0), final.get("unknown", 0)
    assert sent_rows + unknown == 80  # nothing lost
    assert unknown <= 10  # at most the batch in flight at the kill (OUTBOX_BATCH_SIZE)
    # Rows marked sent were delivered; in-flight ones may or may not have been.
    assert sent_rows <= len(delivered) <= sent_rows + unknown


async def test_a_kill_in_polling_mode_loses_no_update(
    server: LocalBotApiServer, database_url: str, tmp_path: Path
) -> None:
    """Updates the bot has confirmed to Telegram (its getUpdates offset moved past them) are
    recorded first: killed with a backlog in hand, the next process handles all of it."""
    api = server.api
    process = await start(server, database_url, tmp_path)
    people = range(7000, 7040)
    try:
        for person in people:
            api.send_text(person, "/help")
        last = api.last_update_id
        await api.wait_until(lambda: api.delivered(last), timeout=15)
        await kill(process)  # with most of them not answered yet
        answered_before = sum(1 for person in people if api.bot_messages(person))
        process = await start(server, database_url, tmp_path)
        await api.wait_until(lambda: all(api.bot_messages(person) for person in people), timeout=30)
        deadline = asyncio.get_running_loop().time() + 15
        while await fetch_rows(database_url, "SELECT 1 FROM updates WHERE done_at IS NULL"):
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.1)
    finally:
        await kill(process)
    assert answered_before < len(people)  # the kill did land with updates in hand
    recorded = await fetch_rows(database_url, "SELECT COUNT(*) FROM updates")
    assert recorded == [(len(people),)]
