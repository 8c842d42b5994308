"""Journey: a budget-waste report (예산낭비신고, SPEC §7) from a newcomer's first /start to the
receipt number, then on their page. From an empty database, through the chat only."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from storage.waste import WasteRepository
from tests.harness import Harness, said
from tests.journeys.steps import sign_up

NOON = datetime(2027, 3, 10, 3, 0, tzinfo=UTC)
ALICE = 2401


async def test_report_waste_and_find_it_on_my_page(harness: Harness) -> None:
    h = harness
    h.set_now(NOON)
    await sign_up(h, ALICE, relation="worker", district="중구")
    replies = await h.say(ALICE, "/report")
    assert "무슨 일이 있었나요?" in said(replies)
    await h.say(ALICE, "멀쩡한 보도블록을 해마다 갈아엎고 있습니다. 올해만 세 번째입니다.")
    await h.say(ALICE, "중구청 건설관리과")
    await h.press(ALICE, "중구")
    await h._act(ALICE, lambda: h.api.send_location(ALICE, 37.5636, 126.9976))
    await h.say(ALICE, "3월 2일")
    await h.say(ALICE, "2억 5천만")
    await h.send_photo(ALICE)
    await h.press(ALICE, "완료")
    await h.press(ALICE, "네, 이름을 밝혀도 됩니다")
    await h.press(ALICE, "네, 연락해도 됩니다")
    replies = await h.press(ALICE, "제출")
    receipt = re.search(r"W-2027-\d{6}", said(replies))
    assert receipt is not None

    async with h.db.reading() as session:
        (report,) = await WasteRepository(session).by_reporter(ALICE)
    assert (report.receipt, report.district, report.amount) == (
        receipt.group(0),
        "jung",
        250_000_000,
    )
    replies = await h.say(ALICE, "/my")
    assert receipt.group(0) in said(replies)
    replies = await h.press(ALICE, receipt.group(0))
    assert replies[-1]["text"].startswith(f"<b>{receipt.group(0)}</b>")
    assert not h.errors.records
