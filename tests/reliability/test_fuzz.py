"""Random sequences of updates from several people, across every flow (issue 9).

Each example starts the real application on a fresh database with proposals, an open ballot
and a few signed-up people, then plays a random sequence of texts in any script and length,
commands, main-menu labels, stale and forged button data (other people's messages, other
stages' ids, oversized data), photos, locations, contacts and edited messages. Numbers too big
for any database column (issue 17) come in deep links, button data, typed text and inline
queries, with long digit strings of every length a message can hold. After each
sequence:

* nothing reached the error handler (no exception in any handler);
* every Bot API call the bot made was valid (the local Bot API refuses invalid ones, and a
  refusal would have raised in the bot, see the first point);
* support counts equal the distinct people who support; one ballot per person per heading;
* nobody acted outside their role or an open stage: no role, decision or result was made by
  someone without the right, and no ballot was cast.

`FUZZ_EXAMPLES` sets how many sequences run (CI: a bounded number; see the README for the
nightly-style run). The random search runs on SQLite, where a new database per example is
cheap; the deterministic test under it runs on both engines.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Settings
from bot.services import proposals as proposal_service
from bot.services import voting as voting_service
from domain.proposals import Scope
from tests.conftest import scratch_database
from tests.harness import Harness, running_harness
from tests.proposals.conftest import sign_up
from tests.voting.conftest import DURING_VOTE, ballot_file

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
PEOPLE = (701, 702, 703, 704)  # 704 never signs up
ADMIN = 9000
COMMANDS = (
    "/start", "/start p_1", "/start p_999999", "/start zz", "/help", "/menu", "/propose",
    "/proposals", "/proposals 공원", "/my", "/vote", "/programmes", "/language", "/privacy",
    "/mydata", "/deleteme", "/cancel", "/review", "/results", "/admin", "/settings",
    "/report", "/panels", "/paneladmin", "/cases", "/broadcast", "/wastestats",
    "/budgetschool ABC", "/nonsense", "/start p_99999999999999999999", f"/start p_{'9' * 60}",
    "/start p_9223372036854775808", "/start p_１２", "/cases W-2027-99999999999999999999",
)  # fmt: skip
LABELS = ("도움말", "메뉴", "제안하기", "제안 보기", "마이페이지", "투표하기", "참여 사업", "Help")
DATA_TEMPLATES = (
    "onb:consent:yes", "onb:rel:resident", "onb:dist:mapo", "onb:lang:en", "pp:back",
    "pp:cancel", "pp:field:parks", "pp:scope:city", "pp:dist:all", "pp:next", "pp:submit",
    "pp:instead:{n}", "pp:transfer:district-plans-2027", "pr:card:{n}", "pr:sup:{n}",
    "pr:uns:{n}", "pr:fol:{n}", "pr:rep:{n}", "pr:repc:{n}", "pr:wd:{n}", "pr:wdy:{n}",
    "pr:st:{n}:for", "pr:com:{n}", "pr:hist:{n}", "pr:ph:{n}", "cw:{n}", "cw:{n}:against",
    "br:s:parks:mapo:c:{n}", "br:e:zz:zz:-:{n}", "bf:s:-:-", "bd:n:-:d", "bs", "bq:{n}",
    "vt:h:{n}:0", "vt:t:{n}:{n}", "vt:d:{n}:0", "vt:v:{n}", "vt:s:{n}", "vt:r:{n}",
    "vt:r:{n}:mes", "vt:c:{n}", "rv:f:parks:0", "rv:p:{n}", "rv:do:{n}:ballot",
    "rv:a:{n}:acc", "rv:t:{n}:mapo", "adm:roles", "adm:g:admin", "adm:rv:{n}:admin:",
    "adm:mod", "adm:dec:proposal:{n}:remove", "adm:blk:{n}", "adm:audit:{n}", "menu:vote",
    "menu:admin", "lang:en", "del:yes", "del:no",
    "rp:back", "rp:cancel", "rp:submit", "rp:name:yes", "rp:contact:no", "rp:dist:mapo",
    "wr:v:{n}", "wi:{n}", "wi:send", "wi:cancel", "wc:c:{n}", "wc:do:{n}:me",
    "wc:do:{n}:inv", "wc:do:{n}:close", "wc:a:{n}:ans", "wc:v:substantiated", "wc:x",
    "wc:pg:{n}", "wc:od", "wc:pick:st",
    "ap:start:{n}", "ap:g:female", "ap:d:mapo", "ap:agree", "ap:send", "ap:back",
    "ap:cancel", "pn:list", "pn:a:{n}", "pn:wd:{n}", "pn:wdy:{n}", "pn:acc:{n}",
    "pn:dec:{n}", "pn:decy:{n}", "pn:m:{n}", "pn:csv:{n}", "pa:list", "pa:p:{n}",
    "pa:q:{n}", "pa:c:{n}", "pa:cy:{n}", "pa:s:{n}", "pa:v:{n}", "pa:bs", "pa:sy",
    "bc:start", "bc:same", "bc:aud:all", "bc:confirm", "bc:cancel", "bcs:pause:{n}",
    "bcs:resume:{n}", "bcs:cancel:{n}", "ntf:cat:deadlines", "ntf:set:updates:digest",
    "ntf:set:nope:never", "ntf:back",
)  # fmt: skip

# Numbers no database column holds (issue 17), and digits int() refuses ("²").
huge_numbers = st.integers(min_value=2**63 - 2, max_value=10**40) | st.sampled_from(
    [2**63 - 1, 2**63, 10**20]
)
digit_strings = st.one_of(
    st.from_regex(r"\A[0-9]{10,60}\Z"),
    st.integers(min_value=1, max_value=4096).map(lambda length: "9" * length),
    huge_numbers.map(str),
    st.sampled_from(["²", "²²²²", "１２", "١٢٣", "#99999999999999999999", "9" * 20 + "억"]),
)
texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=5000),
    st.sampled_from(["마포구", "3억", "1990", "예", "  ", "가" * 81, "#1", "50", "0"]),
    digit_strings,
    st.sampled_from(COMMANDS),
    st.sampled_from(LABELS),
)
person = st.sampled_from((*PEOPLE, ADMIN))
forged = st.builds(
    lambda template, n: template.format(n=n),
    st.sampled_from(DATA_TEMPLATES),
    st.integers(min_value=0, max_value=12) | huge_numbers,
) | st.text(min_size=1, max_size=80)
press = st.tuples(st.just("press"), person, forged)
button = st.tuples(st.just("button"), person, st.integers(min_value=0, max_value=20))
action = st.one_of(
    st.tuples(st.just("text"), person, texts),
    press,
    press,
    button,
    button,
    st.tuples(st.just("photo"), person, st.none()),
    st.tuples(st.just("location"), person, st.none()),
    st.tuples(st.just("contact"), person, st.none()),
    st.tuples(st.just("edit"), person, texts),
    # `@bot …` from any chat: proposals by text or by `p_<id>`, ids of every size included.
    st.tuples(st.just("inline"), person, texts | digit_strings.map("p_{}".format)),
)


async def prepare(h: Harness) -> None:
    h.set_now(DURING_VOTE)
    await sign_up(h.db, PEOPLE[0], PEOPLE[1], ADMIN)
    await sign_up(h.db, PEOPLE[2], district="guro", eligible_for_pb=False)
    for number in range(3):
        await proposal_service.submit(
            h.db,
            PEOPLE[number % 2],
            proposal_service.Draft(
                programme_key="democracy-seoul",
                title=f"공원 벤치 {number}",
                description="공원에 앉을 곳이 부족합니다. 벤치를 놓아 주세요.",
                field="parks",
                scope=Scope.DISTRICT,
                districts=("mapo",),
            ),
            DURING_VOTE,
            14,
        )
    await voting_service.import_ballot(h.db, ballot_file)


async def play(h: Harness, steps: list[tuple[str, int, object]]) -> None:
    api = h.api
    for kind, user, value in steps:
        api.user(user)
        if kind == "text":
            await h.say(user, str(value))
        elif kind == "press":
            own = api.bot_messages(user)
            message_id = own[-1]["message_id"] if own else None
            if message_id is None:
                await h.say(user, "/help")
                message_id = api.bot_messages(user)[-1]["message_id"]
            await h.press_data(user, message_id, str(value))
        elif kind == "button":
            buttons = [
                (m["message_id"], b["callback_data"])
                for m in api.bot_messages(user)
                for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
                for b in row
                if "callback_data" in b
            ]
            if buttons:
                message_id, data = buttons[int(str(value)) % len(buttons)]
                await h.press_data(user, message_id, data)
        elif kind == "photo":
            await h.send_photo(user)
        elif kind == "location":
            await h._act(user, lambda u=user: api.send_location(u, 37.5, 127.0))
        elif kind == "contact":
            await h._act(user, lambda u=user: api.send_contact(u, "+821012345678"))
        elif kind == "inline":
            await h.inline(user, str(value))
        elif kind == "edit":
            own = [m for m in api.chats[user].messages.values() if m["from"]["id"] == user]
            if own:
                edited = own[-1]["message_id"]
                text = str(value)
                await h._act(user, lambda u=user, m=edited, x=text: api.edit_text(u, m, x))


async def run_sequence(url: str, steps: list[tuple[str, int, object]]) -> None:
    """Start the bot on the empty database at `url`, prepare it, play `steps`, check."""
    config = Settings(
        _env_file=None,
        telegram_bot_token="123456:LOCAL-TEST-TOKEN",
        database_url=url,
        admin_ids="9000",
        send_rate=10_000,
    )
    async with running_harness(config) as h:
        await prepare(h)
        await play(h, steps)
        await check_invariants(h)


async def check_invariants(h: Harness) -> None:
    assert not h.errors.records, [r.getMessage() for r in h.errors.records]
    await voting_service.mix_ballots(h.db)
    async with h.db.reading() as session:
        mismatched = await session.fetchall(
            "SELECT p.id FROM proposals p WHERE p.support_count !="
            " (SELECT COUNT(*) FROM supports s WHERE s.proposal_id = p.id)"
        )
        assert not mismatched
        ballots = await session.scalar("SELECT COUNT(*) FROM ballots WHERE source = 'online'")
        roll = await session.scalar("SELECT COUNT(*) FROM voter_roll")
        assert ballots == roll  # one ballot per person per heading
        # 703 is not eligible for PB votes and 704 never signed up: no ballot from them.
        outsiders = await session.scalar(
            "SELECT COUNT(*) FROM voter_roll WHERE user_id IN (703, 704)"
        )
        assert outsiders == 0
        # Only the super-admin may grant, decide, confirm; others are only ever refused.
        actions = await session.fetchall(
            "SELECT actor_id, action FROM audit_log WHERE action != 'refused'"
        )
        assert all(row["actor_id"] == ADMIN for row in actions), [dict(r) for r in actions]
        roles = await session.scalar("SELECT COUNT(*) FROM roles WHERE granted_by != ?", (ADMIN,))
        assert roles == 0
        decided = await session.scalar(
            "SELECT COUNT(*) FROM proposal_events WHERE actor_id NOT IN (?, 701, 702)"
            " AND actor_id IS NOT NULL",
            (ADMIN,),
        )
        assert decided == 0


@pytest.mark.sqlite_only(
    "a new database per example: on PostgreSQL (a new schema, or one emptied) the examples"
    " took about 4x as long as on SQLite; test_every_kind_of_button_from_everyone runs there"
)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    # `engine` is only the engine's name: each example makes a new database of its own.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(steps=st.lists(action, min_size=1, max_size=30))
def test_random_updates_break_nothing(engine: str, steps: list[tuple[str, int, object]]) -> None:
    async def run() -> None:
        with tempfile.TemporaryDirectory() as folder:
            async with scratch_database(engine, Path(folder) / "fuzz.sqlite3") as url:
                await run_sequence(url, steps)

    asyncio.run(run())


def test_every_kind_of_button_from_everyone(database_url: str) -> None:
    """Each button kind, forged with a few ids, pressed by each kind of person: the
    deterministic floor under the random search above."""
    steps: list[tuple[str, int, object]] = [
        ("press", user, template.format(n=n))
        for user in (701, 703, 704, ADMIN)
        for template in DATA_TEMPLATES
        for n in (1, 3)
    ]

    asyncio.run(run_sequence(database_url, steps))
