"""The web side in headless Chromium at 360 px (SPEC §12): a vote cast in the Mini App with
signed initData and then seen and changed in the chat, forged and expired initData refused,
the public results of a closed vote, the draw page's command reproducing the panel, and a
screenshot of every page under test-artifacts/screenshots/."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from bot.i18n import Translator
from bot.services import panels as panel_service
from bot.services import voting
from domain.proposals import Scope
from domain.voting import parse_ballot_file
from tests.browser.conftest import LiveSite, fits_the_phone, screenshot
from tests.harness import Harness, said
from tests.panels.conftest import (
    ADMIN,
    ADMINS,
    AFTER_RECRUITMENT,
    answers,
    apply_all,
    seed_panels,
)
from tests.proposals.conftest import sign_up
from tests.voting.conftest import AFTER_VOTE, DURING_VOTE
from tests.web.conftest import onboard, open_ballots, propose

pytestmark = pytest.mark.xdist_group("browser")  # one browser for all: one worker runs them

CIVICBOT = str(Path(sys.executable).with_name("civicbot"))
VOTER = 7301
ko = Translator("ko")


def open_app(page: Any, site: LiveSite, path: str, init_data: str) -> None:
    page.goto("about:blank")  # a new document: only the fragment may differ from the last
    page.goto(f"{site.url}{path}#tgWebAppData={quote(init_data)}")
    page.wait_for_selector("#app h1")


def test_a_vote_in_the_mini_app_is_seen_and_changed_in_the_chat(
    site: LiveSite, page: Any, engine: str
) -> None:
    site.h.set_now(DURING_VOTE)
    site.run(lambda h: onboard(h, VOTER))
    ids = site.run(open_ballots)
    city = ids["city"]
    signed = site.init_data(VOTER)

    open_app(page, site, "/app", signed)
    assert page.locator("#app h1").inner_text() == ko.gettext("Open votes")
    screenshot(page, "app-home", engine)
    page.get_by_role("link", name="광역 사업").click()
    page.wait_for_selector("form#ballot")
    fits_the_phone(page)
    # The live budget bar and counter, in the server's words and money format.
    page.get_by_label("1. 어린이 놀이터").check()
    left = page.locator("#ballot-left")
    assert left.inner_text() == ko.gettext("Money left: %(money)s") % {"money": ko.money(400)}
    page.get_by_label("2. 한강 자전거길").check()
    over = ko.gettext("Over the budget by %(money)s") % {"money": ko.money(100)}
    assert left.inner_text() == over
    counter = ko.gettext("Chosen: %(count)d of at most %(max)d") % {"count": 2, "max": 3}
    assert page.locator("#ballot-count").inner_text() == counter
    screenshot(page, "app-ballot", engine)
    page.get_by_role("button", name=ko.gettext("Review and submit")).click()
    page.wait_for_selector(".warn")  # the domain's rule, checked on the server
    page.get_by_label("2. 한강 자전거길").uncheck()
    page.get_by_label("3. 공공 와이파이").check()
    page.get_by_role("button", name=ko.gettext("Review and submit")).click()
    page.wait_for_selector("text=" + ko.gettext("Review your ballot"))
    screenshot(page, "app-review", engine)
    page.get_by_role("button", name=ko.gettext("Submit my ballot")).click()
    # Signed up in the chat without the PB answers: asked here, then the ballot goes in.
    page.locator("input[name=birth_year]").fill("1987")
    page.locator("input[name=not_official][value=no]").check()
    screenshot(page, "app-answers", engine)
    page.get_by_role("button", name=ko.gettext("Save and submit my ballot")).click()
    page.wait_for_selector(".receipt code")
    receipt = page.locator(".receipt code").inner_text()
    screenshot(page, "app-receipt", engine)
    assert site.run(lambda h: voting.current_choices(h.db, VOTER, city)) == ["a", "c"]

    async def change_in_the_chat(h: Harness) -> str:
        replies = await h.say(VOTER, "/vote")
        assert f"광역 사업 ({ko.gettext('voted')})" in said(replies)
        replies = await h.press(VOTER, "광역 사업")
        chosen = ko.gettext("Chosen: %(item)s")
        assert chosen % {"item": "1. 어린이 놀이터"} in str(replies[-1]["reply_markup"])
        await h.press(VOTER, chosen % {"item": "1. 어린이 놀이터"})
        await h.press(VOTER, ko.gettext("Review and submit"))
        return said(await h.press(VOTER, ko.gettext("Submit my ballot")))

    changed = site.run(change_in_the_chat)
    # The chat's receipt is of the same kind (the clock stands still here, so the same code).
    assert re.fullmatch(r"[0-9A-F]{10}", receipt) and receipt in changed
    open_app(page, site, f"/app/ballot/{city}", signed)
    assert not page.get_by_label("1. 어린이 놀이터").is_checked()
    assert page.get_by_label("3. 공공 와이파이").is_checked()
    page.get_by_role("link", name=ko.gettext("My page")).first.click()
    page.wait_for_selector("text=" + ko.gettext("My ballots"))
    assert "광역 사업" in page.locator("#app").inner_text()
    screenshot(page, "app-my", engine)


def test_forged_and_expired_init_data_are_refused(site: LiveSite, page: Any, engine: str) -> None:
    page.expected_errors.append("status of 401")
    site.run(lambda h: onboard(h, VOTER))
    good = site.init_data(VOTER)
    forged = good.replace(str(VOTER), str(VOTER + 1))
    expired = site.init_data(VOTER, at=site.h.app.services.clock() - timedelta(hours=2))
    open_app(page, site, "/app/my", forged)
    assert "서명을 확인할 수 없어서" in page.locator("#app").inner_text()
    screenshot(page, "app-refused", engine)
    page.evaluate("sessionStorage.clear()")
    open_app(page, site, "/app/my", expired)
    assert "너무 오래 열어 두었어요" in page.locator("#app").inner_text()
    page.evaluate("sessionStorage.clear()")
    open_app(page, site, "/app/my", "")
    assert "봇 채팅에서 열어야" in page.locator("#app").inner_text()
    page.evaluate("sessionStorage.clear()")
    open_app(page, site, "/app/my", good)
    assert page.locator("#app h1").inner_text() == ko.gettext("My page")


async def arrange_public(h: Harness) -> dict[str, int]:
    h.set_now(DURING_VOTE)
    ids = await open_ballots(h)
    await sign_up(h.db, 801, 802, 803, 804)
    for user_id, choices in ((801, ["a", "c"]), (802, ["a"]), (803, ["d", "c"]), (804, ["a"])):
        await voting.cast(h.db, user_id, ids["city"], choices, DURING_VOTE, 14)
    ids["proposal"] = await propose(
        h,
        801,
        title="망원동 골목 가로등",
        description="밤에 골목이 어두워요. 가로등을 더 달아 주세요.",
        field="safety",
        scope=Scope.DISTRICT,
        districts=("mapo",),
        latitude=37.5556,
        longitude=126.9104,
    )
    h.set_now(AFTER_VOTE)
    return ids


def test_the_public_results_of_a_closed_vote_and_every_public_page(
    site: LiveSite, page: Any, engine: str
) -> None:
    ids = site.run(arrange_public)
    page.goto(f"{site.url}/results/{ids['city']}")
    chart = page.get_by_role("img", name="그래프", exact=False)
    chart.wait_for()
    assert page.evaluate("document.querySelector('.chart img').naturalWidth") > 0
    assert "투표 마감 후 집계" in page.locator(".state").inner_text()
    rows = page.locator("table.results tbody tr")
    assert rows.count() == 4
    assert "어린이 놀이터" in rows.nth(0).inner_text() and "3" in rows.nth(0).inner_text()
    assert page.get_by_role("link", name=ko.gettext("All ballots in the pabulib format (.pb)"))
    fits_the_phone(page)
    screenshot(page, "results", engine)

    tour = {
        "home": "/",
        "programme": "/programmes/pb-citywide-2027",
        "proposals": "/proposals",
        "proposal": f"/proposals/{ids['proposal']}",
        "map": "/map",
        "waste": "/waste",
        "not-found": "/proposals/99999999999999999999999",
    }
    for name, path in tour.items():
        page.goto(site.url + path)
        if page.locator("[data-map]").count():
            page.wait_for_selector("[data-map][data-ready]")
        fits_the_phone(page)
        screenshot(page, name, engine)
    page.goto(site.url + "/map")
    page.wait_for_selector("[data-map][data-ready]")
    assert page.locator(".leaflet-overlay-pane path").count() >= 26  # 25 districts and a pin
    # The keyboard reaches the content first.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"


def test_the_draw_page_command_reproduces_the_panel(
    site: LiveSite, page: Any, engine: str, tmp_path: Path
) -> None:
    async def arrange(h: Harness) -> tuple[int, panel_service.Drawn]:
        panel = (await seed_panels(h.db))["small-panel"]
        people = {900 + n: answers(gender="female" if n % 2 else "male") for n in range(8)}
        await sign_up(h.db, *people)
        await apply_all(h.db, panel, people)
        committed = await panel_service.commit(h.db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS)
        assert committed.refusal is None
        drawn = await panel_service.draw(
            h.db, ADMIN, panel, "2027-04-02 연금복권 1등 3조 123456", AFTER_RECRUITMENT, ADMINS
        )
        assert drawn.refusal is None
        return panel, drawn

    panel, drawn = site.run(arrange)
    page.goto(f"{site.url}/draws/{panel}")
    command = page.locator("#draw-command").inner_text()
    for name in ("pool.csv", "quotas.csv"):
        with page.expect_download() as download:
            page.get_by_role("link", name=name).click()
        download.value.save_as(tmp_path / name)
    finished = subprocess.run(
        [CIVICBOT, *shlex.split(command)[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rerun = json.loads(finished.stdout)
    shown = page.locator("ul.names code").all_inner_texts()
    assert rerun["selected"] == shown == list(drawn.selected)
    assert rerun["commitment"] in page.locator(".digest").inner_text()
    chances = page.locator("table.chances tbody tr td.num").all_inner_texts()
    assert len(chances) == 8 and abs(sum(float(c.rstrip("%")) for c in chances) - 400) < 1
    fits_the_phone(page)
    screenshot(page, "draw", engine)


def test_inside_telegram_the_theme_and_the_main_button_are_telegrams(
    site: LiveSite, page: Any, engine: str
) -> None:
    """Telegram's client as its Mini App script sees it on Android: it posts events to
    window.TelegramWebviewProxy and sends theme colours in the address."""
    site.h.set_now(DURING_VOTE)
    site.run(lambda h: onboard(h, VOTER))
    city = site.run(open_ballots)["city"]
    page.add_init_script(
        "window.posted = []; window.TelegramWebviewProxy ="
        " {postEvent: function (kind, data) { window.posted.push([kind, data]); }};"
    )
    theme = {"bg_color": "#17212b", "text_color": "#f5f5f5", "button_color": "#5288c1"}
    page.goto(
        f"{site.url}/app/ballot/{city}#tgWebAppData={quote(site.init_data(VOTER))}"
        f"&tgWebAppVersion=8.0&tgWebAppPlatform=android"
        f"&tgWebAppThemeParams={quote(json.dumps(theme))}"
    )
    page.wait_for_selector("form#ballot")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(23, 33, 43)"
    posted = page.evaluate("window.posted")
    buttons = [json.loads(data) for kind, data in posted if kind == "web_app_setup_main_button"]
    assert buttons[-1]["is_visible"] and buttons[-1]["text"] == ko.gettext("Review and submit")
    assert ["web_app_ready", None] in [[kind, None] for kind, _ in posted]
    page.get_by_label("3. 공공 와이파이").check()
    screenshot(page, "app-ballot-in-telegram", engine)
    page.evaluate("window.Telegram.WebView.receiveEvent('main_button_pressed')")
    page.wait_for_selector("text=" + ko.gettext("Review your ballot"))
    posted = page.evaluate("window.posted")
    buttons = [json.loads(data) for kind, data in posted if kind == "web_app_setup_main_button"]
    assert buttons[-1]["text"] == ko.gettext("Submit my ballot")


LONG_BALLOT = """
programme = "pb-citywide-2027"
stage = "citizen-vote"

[[heading]]
key = "city"
name = { ko = "광역 사업", en = "City-wide projects" }
max_choices = 3
budget = 2000000000
knapsack = true
[[heading.item]]
key = "a"
title = "한강공원 어린이 물놀이터 그늘막과 음수대 확충"
cost = 950000000
[[heading.item]]
key = "b"
title = "서울 전역 버스정류장 스마트 쉼터 설치"
cost = 1250000000
[[heading.item]]
key = "c"
title = "경로당 여름철 냉방비 지원"
cost = 350000000
"""


def lines_of(page: Any, selector: str) -> list[tuple[str, int, float, float]]:
    """Each matching cell: its text, how many lines it takes, and its left and right edges."""
    return [
        (text, lines, left, right)
        for text, lines, left, right in page.eval_on_selector_all(
            selector,
            """cells => cells.map(cell => {
                const range = document.createRange();
                range.selectNodeContents(cell);
                const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
                const box = cell.getBoundingClientRect();
                return [cell.innerText, tops.size, box.left, box.right];
            })""",
        )
    ]


def test_results_and_map_tables_read_on_a_phone(site: LiveSite, page: Any, engine: str) -> None:
    """QA finding 4: at 360 px the results table stacks each project over its figures, and
    the map's table scrolls sideways with the district column kept in view."""

    async def arrange(h: Harness) -> int:
        h.set_now(DURING_VOTE)
        imported = await voting.import_ballot(h.db, parse_ballot_file(LONG_BALLOT))
        heading_id = imported[0][0]
        await sign_up(h.db, 811, 812, 813)
        for user_id, choices in ((811, ["a", "c"]), (812, ["a"]), (813, ["b"])):
            await voting.cast(h.db, user_id, heading_id, choices, DURING_VOTE, 14)
        h.set_now(AFTER_VOTE)
        return heading_id

    heading_id = site.run(arrange)
    page.goto(f"{site.url}/results/{heading_id}")
    fits_the_phone(page)
    screenshot(page, "results-long", engine)
    titles = lines_of(page, "table.results tbody th")
    assert len(titles) == 3
    for text, _, left, right in titles:
        assert right - left > 250, f"{text!r} is squeezed into {right - left:.0f} px"
    figures = lines_of(page, "table.results tbody td[data-label]")
    assert any("미선정" in text for text, *_ in figures)
    for text, lines, left, right in figures:
        assert lines == 1 and left >= 0 and right <= 360, (text, lines, left, right)

    page.goto(f"{site.url}/map?lang=en")
    page.wait_for_selector("[data-map][data-ready]")
    fits_the_phone(page)
    for text, lines, *_ in lines_of(page, ".table-wrap th, .table-wrap td"):
        assert lines == 1, f"{text!r} wraps over {lines} lines"
    wrap = page.locator(".table-wrap").first
    wrap.evaluate("box => { box.scrollLeft = box.scrollWidth; }")
    left_edge = wrap.evaluate("box => box.getBoundingClientRect().left")
    for text, _, left, _ in lines_of(page, ".table-wrap tbody th"):
        assert left >= left_edge - 1, f"{text!r} scrolled out of view"
    screenshot(page, "map-scrolled", engine)


def test_the_mini_app_speaks_the_persons_language_on_a_foreign_phone(
    browser: Any, site: LiveSite, engine: str
) -> None:
    """QA finding 5: a person who chose Korean, on a phone set to English, gets one language
    on the screen: the shell follows the language of the fragments."""
    site.h.set_now(DURING_VOTE)
    site.run(lambda h: onboard(h, VOTER, "구로구"))
    ids = site.run(open_ballots)
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-US")
    page = context.new_page()
    try:
        open_app(page, site, "/app", site.init_data(VOTER))
        for _ in range(100):  # the shell reloads itself in the person's language
            if page.evaluate("document.documentElement.lang") == "ko":
                break
            page.wait_for_timeout(100)
        page.wait_for_selector("#app h1")
        assert page.evaluate("document.documentElement.lang") == "ko"
        assert page.locator("#app h1").inner_text() == ko.gettext("Open votes")
        nav = page.locator("header nav").inner_text()
        assert ko.gettext("Vote") in nav and "My page" not in nav
        assert page.get_by_role("link", name="마포구 사업").count() == 0
        assert "마포구 사업 — 마포구 주민 투표" in page.locator("#app").inner_text()
        page.get_by_role("link", name="광역 사업").click()
        page.wait_for_selector("form#ballot")
        assert f"/app/ballot/{ids['city']}" in page.url
        screenshot(page, "app-foreign-phone", engine)
    finally:
        context.close()
