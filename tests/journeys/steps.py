"""What a person does in the chat, as steps for journey tests: nothing here writes to the
database except through the bot."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from asyncio.subprocess import PIPE
from pathlib import Path
from typing import Any

from tests.harness import Harness, said

RELATIONS = {"resident": "서울에 살아요", "worker": "서울에서 일해요", "other": "해당 없음"}


async def sign_up(
    h: Harness, user_id: int, district: str | None = "마포구", relation: str = "resident"
) -> None:
    """/start, the privacy consent, the relation to Seoul and (unless skipped) the district."""
    await h.say(user_id, "/start")
    await h.press(user_id, "동의합니다")
    await h.press(user_id, RELATIONS[relation])
    if relation == "other":
        return
    if district is None:
        await h.press(user_id, "건너뛰기")
    else:
        await h.say(user_id, district)
    # Signed up: the persistent main menu has come.
    assert "reply_keyboard" in h.api.bot_messages(user_id)[-1]


async def answer_pb_questions(h: Harness, user_id: int, birth_year: str = "1990") -> str:
    """The answers participatory budgeting needs, asked on demand; returns what came after."""
    assert "태어난 해를 네 자리로" in h.last_text(user_id)
    await h.say(user_id, birth_year)
    assert "여기에 해당하시나요?" in h.last_text(user_id)
    return said(await h.press(user_id, "아니요, 해당하지 않습니다"))


async def deliver(h: Harness) -> None:
    """Send what the outbox holds now rather than wait for the sender's next round."""
    for _ in range(1000):
        await h.app.automation.sender.run_batch()
        async with h.db.reading() as session:
            waiting = await session.scalar(
                "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'claimed')"
            )
        if not waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the outbox was not delivered")


def buttons(message: dict[str, Any]) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button["text"] for row in rows for button in row]


CIVICBOT = str(Path(sys.executable).with_name("civicbot"))


async def official_runs(h: Harness, *args: str) -> str:
    """An official's command on the server (`civicbot …`), on the bot's own database."""
    environment = dict(os.environ, DATABASE_URL=h.app.services.settings.database_url)
    process = await asyncio.create_subprocess_exec(
        CIVICBOT, *args, env=environment, stdout=PIPE, stderr=PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


def proposal_id_in(text: str) -> int:
    """The number in "제안 #12이 게시되었습니다" and the like."""
    return int(re.search(r"#(\d+)", text).group(1))  # type: ignore[union-attr]
