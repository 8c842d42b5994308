"""Ids from outside with numbers no row can have (issue 17): a deep link, button data and
typed ids are range-checked before storage and answered as an unknown id is.

The issue's reproduction: `/start p_99999999999999999999` answered "죄송합니다. 시스템에 문제가
생겼습니다…", before sign-up when the person picked their district, and after sign-up at once
(`OverflowError: Python int too large to convert to SQLite INTEGER`).
"""

from __future__ import annotations

import re
from typing import Any

from bot.config import Settings
from bot.i18n import Translator
from domain.ids import MAX_ID
from tests.harness import Harness, running_harness
from tests.reliability.test_fuzz import ADMIN, DATA_TEMPLATES, PEOPLE, prepare

HUGE = "99999999999999999999"  # 20 digits: more than SQLite INTEGER / PostgreSQL BIGINT hold
UNKNOWN = "999999"  # in range, but no such row
# Templates whose number is a page or a position, not a row id: out of range they become
# page 0, the first; an id becomes 0, which no row has.
NOT_IDS = {
    "br:s:parks:mapo:c:{n}",
    "br:e:zz:zz:-:{n}",
    "bq:{n}",
    "wc:pg:{n}",
    "adm:audit:{n}",
    "vt:t:{n}:{n}",
}
ID_TEMPLATES = [t for t in DATA_TEMPLATES if "{n}" in t and t not in NOT_IDS] + ["vt:t:{n}:0"]


NUMBER_SENT = re.compile(rf"#?(?<!\d)(0|{UNKNOWN})(?!\d)(은|는|이|가|을|를|과|와)?")


def without_number(text: str | None) -> str | None:
    """An answer may repeat the number sent: "#999999는 …" and "#0은 …" are the same answer
    (the particle follows the number)."""
    return None if text is None else NUMBER_SENT.sub("#N", text)


def same_answer(replies: list[dict[str, Any]]) -> list[str | None]:
    """What the person read, with the number they sent taken out."""
    return [without_number(m.get("text") or m.get("caption") or "") for m in replies]


async def sign_up_through(h: Harness, user: int, link: str) -> list[dict[str, Any]]:
    """Open `link` as a newcomer and sign up through the chat; the replies to the last step."""
    await h.say(user, f"/start {link}")
    await h.press_data(user, h.api.bot_messages(user)[-1]["message_id"], "onb:consent:yes")
    await h.press_data(user, h.api.bot_messages(user)[-1]["message_id"], "onb:rel:resident")
    message = h.api.bot_messages(user)[-1]["message_id"]
    return await h.press_data(user, message, "onb:dist:mapo")


async def test_a_deep_link_with_a_huge_number_before_and_after_sign_up(
    harness: Harness,
) -> None:
    h = harness
    before_unknown = await sign_up_through(h, 801, f"p_{UNKNOWN}")
    before_huge = await sign_up_through(h, 802, f"p_{HUGE}")
    unknown_proposal = Translator("ko").gettext("That proposal does not exist or is hidden.")
    assert h.last_text(801) == h.last_text(802) == unknown_proposal
    assert same_answer(before_huge) == same_answer(before_unknown)
    after_unknown = await h.say(801, f"/start p_{UNKNOWN}")
    after_huge = await h.say(802, f"/start p_{HUGE}")
    assert same_answer(after_huge) == same_answer(after_unknown)
    assert h.last_text(802) == h.last_text(801)
    # Longer still, and a number just past the largest id.
    for payload in ("9" * 60, str(MAX_ID + 1)):
        assert same_answer(await h.say(802, f"/start p_{payload}")) == same_answer(after_unknown)
    assert "문제가 생겼" not in "\n".join(h.texts(801) + h.texts(802))
    assert not h.errors.records, [r.getMessage() for r in h.errors.records]


async def test_an_inline_query_for_a_huge_proposal_number_finds_nothing(harness: Harness) -> None:
    h = harness
    await prepare(h)
    assert [r["id"] for r in await h.inline(PEOPLE[0], "p_1")] == ["p1"]
    for query in (f"p_{UNKNOWN}", f"p_{HUGE}", f"p_{'9' * 60}", "p_²", "p_１"):
        found = await h.inline(PEOPLE[0], query)
        assert [r["id"] for r in found] == (["p1"] if query == "p_１" else []), query
    assert not h.errors.records, [r.getMessage() for r in h.errors.records]


async def test_button_ids_out_of_range_are_answered_as_unknown_ones(database_url: str) -> None:
    """Every kind of button with an id, forged by a citizen and by the admin, once with an
    unknown id and once with one out of range: the same answer each time."""
    config = Settings(
        _env_file=None,
        telegram_bot_token="123456:LOCAL-TEST-TOKEN",
        database_url=database_url,
        admin_ids=str(ADMIN),
        send_rate=10_000,
    )
    async with running_harness(config) as h:
        await prepare(h)
        different = []
        for user in (PEOPLE[0], ADMIN):
            await h.say(user, "/help")
            for template in ID_TEMPLATES:
                answers = []
                for number in (UNKNOWN, HUGE):
                    await h.say(user, "/cancel")  # each press from the same starting point
                    message = h.api.bot_messages(user)[-1]["message_id"]
                    sent_before = len(h.api.answered_queries)
                    replies = await h.press_data(user, message, template.format(n=number))
                    toasts = [
                        without_number(q.get("text")) for q in list(h.api.answered_queries.values())
                    ]
                    answers.append((same_answer(replies), toasts[sent_before:]))
                if answers[0] != answers[1]:
                    different.append((user, template, answers))
        assert not different
        assert not h.errors.records, [r.getMessage() for r in h.errors.records]


async def test_typed_ids_out_of_range_are_answered_as_unknown_ones(harness: Harness) -> None:
    h = harness
    await prepare(h)
    # The broadcast's button target and the admin's role grant both take a typed id.
    await h.say(ADMIN, "/broadcast")
    await h.say(ADMIN, "안내")
    await h.press(ADMIN, "한국어와 같게")
    await h.press(ADMIN, "건너뛰기")
    await h.press(ADMIN, "제안으로 연결")
    unknown = await h.say(ADMIN, UNKNOWN)
    huge = await h.say(ADMIN, HUGE)
    assert same_answer(huge) == same_answer(unknown)
    assert Translator("ko").gettext("There is nothing with that number.") in h.texts(ADMIN)
    assert same_answer(await h.say(ADMIN, "9" * 4000)) == same_answer(unknown)
    await h.say(ADMIN, "/cancel")

    async def grant_to(number: str) -> list[str]:
        await h.say(ADMIN, "/admin")
        for data in ("adm:roles", "adm:g:admin"):
            await h.press_data(ADMIN, h.api.bot_messages(ADMIN)[-1]["message_id"], data)
        return same_answer(await h.say(ADMIN, number))

    assert await grant_to(HUGE) == await grant_to(UNKNOWN)

    async def merge_into(number: str) -> list[str | None]:
        await h.say(ADMIN, "/cancel")
        await h.press_data(ADMIN, h.api.bot_messages(ADMIN)[-1]["message_id"], "rv:a:1:merge")
        return same_answer(await h.say(ADMIN, number))

    assert await merge_into(HUGE) == await merge_into(UNKNOWN)
    assert not h.errors.records, [r.getMessage() for r in h.errors.records]
