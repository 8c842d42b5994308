"""The Mini App over HTTP (SPEC §12): the ballot on the chat's service, 공감 from the page,
my page, initData checks and per-person limits."""

from __future__ import annotations

from datetime import timedelta

import httpx

from bot.config import Settings
from bot.flows.eligibility import question_text
from bot.handlers.voting import REFUSALS
from bot.i18n import Translator
from bot.services import voting
from bot.web.app import create_web_app
from domain.people import Question
from tests.harness import running_harness, said
from tests.voting.conftest import AFTER_VOTE, DURING_VOTE
from tests.web.conftest import PUBLIC_URL, Web, onboard, open_ballots, propose

VOTER, OTHER = 7101, 7102
ko = Translator("ko").gettext


async def test_a_vote_in_the_mini_app_asks_what_it_needs_and_the_chat_shows_it(web: Web) -> None:
    h = web.h
    h.set_now(DURING_VOTE)
    await onboard(h, VOTER)
    ids = await open_ballots(h)
    city = ids["city"]
    me = web.headers(VOTER)

    page = await web.client.get(f"/app/f/ballot/{city}", headers=me)
    assert page.status_code == 200
    assert "어린이 놀이터" in page.text and "600 원" in page.text
    assert 'data-budget="1000"' in page.text and 'data-max="3"' in page.text

    # The ballot's rules are the domain's: over the budget is refused at review.
    over = await web.client.post(
        f"/app/f/ballot/{city}/review", data={"choice": ["a", "b"]}, headers=me
    )
    too_much = ko(
        "Your choices cost %(spent)s, %(over)s over the budget of %(budget)s. Remove a project."
    )
    assert too_much % {"spent": "1,100 원", "over": "100 원", "budget": "1,000 원"} in over.text
    review = await web.client.post(
        f"/app/f/ballot/{city}/review", data={"choice": ["a", "c"]}, headers=me
    )
    assert "어린이 놀이터" in review.text
    assert ko("Total cost: %(money)s") % {"money": "900 원"} in review.text

    # Signed up in the chat, the voter has not given the PB answers: asked now, then cast.
    asked = await web.client.post(
        f"/app/f/ballot/{city}/submit", data={"choice": ["a", "c"]}, headers=me
    )
    birth_year = question_text(Translator("ko"), Question.BIRTH_YEAR, 14)
    assert birth_year in asked.text and 'name="not_official"' in asked.text
    assert await voting.current_choices(h.db, VOTER, city) == []
    wrong = await web.client.post(
        f"/app/f/ballot/{city}/answers",
        data={"choice": ["a", "c"], "birth_year": "87", "not_official": "no"},
        headers=me,
    )
    assert f'<p class="warn" role="alert">{birth_year}</p>' in wrong.text
    cast = await web.client.post(
        f"/app/f/ballot/{city}/answers",
        data={"choice": ["a", "c"], "birth_year": "1987", "not_official": "no"},
        headers=me,
    )
    receipt = ko(
        "Your ballot is in. Receipt: %(code)s. You can change it until the vote closes;"
        " the last one counts."
    )
    assert receipt.split("%")[0] in cast.text
    assert await voting.current_choices(h.db, VOTER, city) == ["a", "c"]

    # The chat shows the same ballot, and a change there is what the page shows next.
    replies = await h.say(VOTER, "/vote")
    assert f"광역 사업 ({ko('voted')})" in said(replies)
    replies = await h.press(VOTER, "광역 사업")
    markup = str(replies[-1]["reply_markup"])
    chosen = ko("Chosen: %(item)s")
    assert chosen % {"item": "1. 어린이 놀이터"} in markup
    assert chosen % {"item": "3. 공공 와이파이"} in markup
    await h.press(VOTER, chosen % {"item": "1. 어린이 놀이터"})
    await h.press(VOTER, ko("Review and submit"))
    replies = await h.press(VOTER, ko("Submit my ballot"))
    changed = ko(
        "Your ballot is changed. Receipt: %(code)s. The last ballot you submit before the"
        " vote closes is the one that counts."
    )
    assert changed.split("%")[0] in said(replies)
    page = await web.client.get(f"/app/f/ballot/{city}", headers=me)
    assert 'value="c" data-cost="300" checked' in page.text
    assert 'value="a" data-cost="600" checked' not in page.text
    mine = await web.client.get("/app/f/my", headers=me)
    assert "광역 사업" in mine.text and ko("My ballots") in mine.text
    assert not h.errors.records


async def test_ballot_refusals_are_the_chats(web: Web) -> None:
    h = web.h
    h.set_now(DURING_VOTE)
    await onboard(h, VOTER, "구로구")
    ids = await open_ballots(h)
    me = web.headers(VOTER)
    # Another district's heading: the residence rule, in the chat's words.
    page = await web.client.get(f"/app/f/ballot/{ids['mapo']}", headers=me)
    assert ko(REFUSALS[voting.Refusal.WRONG_DISTRICT]) in page.text
    # A project that is not on the ballot is never stored.
    forged = await web.client.post(
        f"/app/f/ballot/{ids['city']}/review", data={"choice": ["a", "zzz"]}, headers=me
    )
    assert ko("That project is not on this ballot. Here is the ballot as it is now.") in forged.text
    # Before sign-up: the way to the chat.
    stranger = await web.client.get("/app/f/home", headers=web.headers(OTHER))
    assert stranger.status_code == 403 and "https://t.me/civicbot_local" in stranger.text
    async with h.db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM ballots") == 0


async def test_no_ballot_from_the_page_after_the_result_is_confirmed(web: Web) -> None:
    h = web.h
    await onboard(h, VOTER)
    ids = await open_ballots(h)
    h.set_now(AFTER_VOTE)
    assert await voting.confirm(h.db, ids["city"], 9000, AFTER_VOTE, {9000}) is None
    # Even with the clock back inside the voting dates, the confirmed vote takes no ballot.
    h.set_now(DURING_VOTE)
    cast = await web.client.post(
        f"/app/f/ballot/{ids['city']}/submit", data={"choice": ["c"]}, headers=web.headers(VOTER)
    )
    assert cast.status_code == 409
    assert ko(REFUSALS[voting.Refusal.CONFIRMED]) in cast.text
    async with h.db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM ballots") == 0


async def test_the_home_offers_only_the_persons_own_ballots(web: Web) -> None:
    """QA finding 5: another district's vote is named with why, as /vote does, not offered;
    the fragment says its language so the shell can follow it."""
    h = web.h
    h.set_now(DURING_VOTE)
    await onboard(h, VOTER, "구로구")
    ids = await open_ballots(h)
    home = await web.client.get("/app/f/home", headers=web.headers(VOTER))
    assert home.headers["content-language"] == "ko"
    assert f'href="/app/ballot/{ids["city"]}"' in home.text
    assert f'href="/app/ballot/{ids["mapo"]}"' not in home.text
    assert "마포구 사업 — 마포구 주민 투표" in home.text
    await h.say(VOTER, "/language")
    await h.press(VOTER, "English")
    home = await web.client.get("/app/f/home", headers=web.headers(VOTER))
    assert home.headers["content-language"] == "en"
    assert "Mapo-gu projects — a vote for the people of Mapo-gu" in home.text


ENDPOINTS = [
    ("GET", "/app/f/home"),
    ("GET", "/app/f/ballot/1"),
    ("POST", "/app/f/ballot/1/submit"),
    ("POST", "/app/f/proposals/1/support"),
    ("GET", "/app/f/my"),
]


async def test_forged_stale_and_other_bot_init_data_are_refused(web: Web) -> None:
    h = web.h
    h.set_now(DURING_VOTE)
    await onboard(h, VOTER)
    await open_ballots(h)
    good = web.headers(VOTER)["Authorization"]
    forged = good.replace("7101", "7102")  # another person, same hash
    other_bot = web.headers(VOTER, token="654321:ANOTHER-BOT")["Authorization"]
    stale = web.headers(VOTER, at=DURING_VOTE - timedelta(hours=2))["Authorization"]
    cases = {
        "missing": ({}, "텔레그램의 봇 채팅에서 열어야"),
        "forged": ({"Authorization": forged}, "서명을 확인할 수 없어서"),
        "other bot": ({"Authorization": other_bot}, "서명을 확인할 수 없어서"),
        "stale": ({"Authorization": stale}, "너무 오래 열어 두었어요"),
        "not tma": ({"Authorization": "Bearer " + good[4:]}, "텔레그램의 봇 채팅에서 열어야"),
    }
    for method, path in ENDPOINTS:
        for name, (headers, text) in cases.items():
            answer = await web.client.request(
                method, path, headers=headers, data={"choice": ["a"]} if method == "POST" else None
            )
            assert answer.status_code == 401, (name, path)
            assert text in answer.text, (name, path)
    allowed = await web.client.get("/app/f/home", headers={"Authorization": good})
    assert allowed.status_code == 200 and allowed.headers["cache-control"] == "no-store"
    async with h.db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM ballots") == 0


async def test_out_of_range_ids_get_the_unknown_answer(web: Web) -> None:
    h = web.h
    h.set_now(DURING_VOTE)
    await onboard(h, VOTER)
    me = web.headers(VOTER)
    for template in ("/app/f/ballot/{}", "/app/f/proposals/{}"):
        unknown = await web.client.get(template.format(4242), headers=me)
        huge = await web.client.get(template.format("9" * 40), headers=me)
        assert unknown.status_code == huge.status_code == 404
        assert unknown.text == huge.text
    for template in ("/proposals/{}", "/results/{}", "/draws/{}", "/media/proposal/{}/0"):
        unknown = await web.client.get(template.format(4242))
        huge = await web.client.get(template.format("9" * 40))
        assert unknown.status_code == huge.status_code == 404
        # The same page, but for its own address (in the canonical link).
        assert unknown.text.replace("4242", "") == huge.text.replace("9" * 40, "")
    assert not h.errors.records


async def test_support_from_the_page_is_the_chats_support(web: Web) -> None:
    h = web.h
    await onboard(h, VOTER)
    await onboard(h, OTHER)
    pid = await propose(h, OTHER)
    me = web.headers(VOTER)
    card = await web.client.get(f"/app/f/proposals/{pid}", headers=me)
    assert "공감 0 / 500" in card.text and 'value="support"' in card.text
    done = await web.client.post(
        f"/app/f/proposals/{pid}/support", data={"action": "support"}, headers=me
    )
    assert ko("Thank you for your support (공감)!") in done.text and "공감 1 / 500" in done.text
    again = await web.client.post(
        f"/app/f/proposals/{pid}/support", data={"action": "support"}, headers=me
    )
    assert "공감 1 / 500" in again.text
    assert ko("Thank you for your support (공감)!") not in again.text
    replies = await h.say(VOTER, f"/start p_{pid}")
    assert "공감 1 / 500" in said(replies)
    assert ko("Withdraw support") in str(replies[-1]["reply_markup"])
    undone = await web.client.post(
        f"/app/f/proposals/{pid}/support", data={"action": "withdraw"}, headers=me
    )
    assert "공감 0 / 500" in undone.text
    stranger = await web.client.post(
        f"/app/f/proposals/{pid}/support", data={"action": "support"}, headers=web.headers(9999)
    )
    assert stranger.status_code == 403
    async with h.db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM supports") == 0
    listing = await web.client.get("/app/f/proposals?q=한강", headers=me)
    assert f"/app/proposals/{pid}" in listing.text


async def test_writes_are_limited_per_person(settings: Settings) -> None:
    settings = settings.model_copy(update={"web_write_limit": "2/minute"})
    async with running_harness(settings) as h:
        await onboard(h, VOTER)
        await onboard(h, OTHER)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_web_app(h.app, PUBLIC_URL)),
            base_url=PUBLIC_URL,
        )
        web = Web(h, client)
        async with client:
            statuses = [
                (
                    await client.post(
                        "/app/f/proposals/1/support", data={}, headers=web.headers(VOTER)
                    )
                ).status_code
                for _ in range(3)
            ]
            assert statuses == [404, 404, 429]
            other = await client.post(
                "/app/f/proposals/1/support", data={}, headers=web.headers(OTHER)
            )
            assert other.status_code == 404  # another person has their own allowance
            # Reading stays open while writes wait.
            assert (await client.get("/app/f/home", headers=web.headers(VOTER))).status_code == 200
