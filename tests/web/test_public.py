"""Public pages (SPEC §12): results marked interim or final with the .pb file, the draw
record with its command, the map, waste statistics, photos, headers, and no personal data."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from bot.cli import main
from bot.i18n import Translator
from bot.localapi.core import UploadedFile, placeholder_png
from bot.services import panels as panel_service
from bot.services import voting
from bot.services import waste as waste_service
from domain.pabulib import parse_pabulib
from domain.proposals import Scope
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
from tests.web.conftest import Web, onboard, open_ballots, propose

CITIZEN = 987_654_321  # an id and name that must never appear on a public page
NAME, HANDLE = "Jiwoo Hiddenname", "jiwoo_private"
ko = Translator("ko").gettext


async def vote(web: Web, user_id: int, heading_id: int, choices: list[str]) -> str:
    cast = await voting.cast(web.h.db, user_id, heading_id, choices, web.h.app.services.clock(), 14)
    assert cast.receipt is not None, cast
    return cast.receipt


async def test_results_are_marked_interim_then_final_with_the_table_chart_and_file(
    web: Web,
) -> None:
    h = web.h
    h.set_now(DURING_VOTE)
    ids = await open_ballots(h)
    city = ids["city"]
    await sign_up(h.db, 801, 802, 803)  # voters' answers (unit fixture): the page is the test
    receipt = await vote(web, 801, city, ["a", "c"])
    await vote(web, 802, city, ["a"])
    await vote(web, 803, city, ["d"])

    page = await web.client.get(f"/results/{city}")
    assert page.status_code == 200
    assert "중간 집계" in page.text and "최종 결과" not in page.text
    assert "투표가 8월 9일(월) 24:00까지 진행 중이라 마감 전까지 수치가 바뀌어요." in page.text
    english = (await web.client.get(f"/results/{city}?lang=en")).text
    # QA finding 12: not "until it closes the end of Mon 9 Aug".
    assert "the vote is open until the end of Mon 9 Aug; these figures change" in english
    assert "closes the end of" not in english
    await web.client.get(f"/results/{city}?lang=ko")  # the cookie back to Korean
    assert "어린이 놀이터" in page.text and 'class="results"' in page.text
    assert "ballots.pb" not in page.text.split("<section")[0]  # no file while the vote runs
    assert (await web.client.get(f"/results/{city}/ballots.pb")).status_code == 404
    chart = await web.client.get(f"/results/{city}/chart.png")
    assert chart.headers["content-type"] == "image/png" and chart.content[:4] == b"\x89PNG"

    counted = await web.client.get(f"/results/{city}", params={"receipt": receipt.lower()})
    assert ko("Yes: the ballot with this receipt is counted.") in counted.text
    unknown = await web.client.get(f"/results/{city}", params={"receipt": "0000000000"})
    assert "집계되어 있지 않아요" in unknown.text

    h.set_now(AFTER_VOTE)
    closed = await web.client.get(f"/results/{city}")
    assert "투표 마감 후 집계" in closed.text and "총회" in closed.text
    pb = await web.client.get(f"/results/{city}/ballots.pb")
    assert pb.status_code == 200 and "attachment" in pb.headers["content-disposition"]
    instance = parse_pabulib(pb.text)
    assert len(instance.votes) == 3 and instance.budget == 1000

    await voting.run_tally(h.db, city, None, AFTER_VOTE)
    assert await voting.confirm(h.db, city, ADMIN, AFTER_VOTE, ADMINS) is None
    final = await web.client.get(f"/results/{city}")
    assert "최종 결과" in final.text and "중간 집계" not in final.text
    rows = final.text.split("<tbody>")[1].split("</tbody>")[0].split("<tr")[1:]
    assert "어린이 놀이터" in rows[0] and ko("selected") in rows[0]  # 2 votes, selected
    assert "한강 자전거길" in rows[-1] and ko("not selected") in rows[-1]  # nobody's choice
    english = await web.client.get(f"/results/{city}", params={"lang": "en"})
    assert "Final result" in english.text and english.cookies.get("lang") == "en"
    assert ko("Why these projects?") not in final.text  # a greedy count has nothing to explain


async def test_a_confirmed_equal_shares_result_explains_itself_on_the_page(web: Web) -> None:
    """Issue 23: the web shows the chat's explanation of each project under MES."""
    h = web.h
    h.set_now(DURING_VOTE)
    city = (await open_ballots(h))["city"]
    await sign_up(h.db, 801, 802, 803)
    await vote(web, 801, city, ["a", "c"])
    await vote(web, 802, city, ["a"])
    await vote(web, 803, city, ["d"])
    h.set_now(AFTER_VOTE)
    await voting.run_tally(h.db, city, "mes", AFTER_VOTE)
    interim = await web.client.get(f"/results/{city}")
    assert ko("Why these projects?") not in interim.text  # only a confirmed result explains
    assert await voting.confirm(h.db, city, ADMIN, AFTER_VOTE, ADMINS) is None
    page = await web.client.get(f"/results/{city}")
    why = page.text.split('class="explained"')[1].split("</section>")[0]
    assert ko("Why these projects?") in why
    assert "어린이 놀이터" in why and "한강 자전거길" in why  # a paid and a rejected line
    english = await web.client.get(f"/results/{city}", params={"lang": "en"})
    assert "Children&#x27;s playground" in english.text.split('class="explained"')[1]


async def test_the_draw_page_gives_the_command_that_reproduces_the_panel(
    web: Web, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    h = web.h
    ids = await seed_panels(h.db)
    panel = ids["small-panel"]
    people = {900 + n: answers(gender="female" if n % 2 else "male") for n in range(7)}
    await sign_up(h.db, *people)
    await apply_all(h.db, panel, people)
    committed = await panel_service.commit(h.db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS)
    assert committed.refusal is None
    before = await web.client.get(f"/draws/{panel}")
    assert committed.commitment in before.text and "아직 추첨 전이에요" in before.text
    drawn = await panel_service.draw(
        h.db, ADMIN, panel, "로또 1150회 3 7 12 21 33 41", AFTER_RECRUITMENT, ADMINS
    )
    assert drawn.refusal is None

    page = await web.client.get(f"/draws/{panel}")
    assert page.status_code == 200
    command = page.text.split('<code id="draw-command">')[1].split("</code>")[0]
    command = command.replace("&#39;", "'").replace("&amp;", "&")
    assert command.startswith("civicbot draw --pool pool.csv --quotas quotas.csv --seats 4")
    for name in ("pool.csv", "quotas.csv"):
        answer = await web.client.get(f"/draws/{panel}/{name}")
        assert answer.headers["content-type"].startswith("text/csv")
        (tmp_path / name).write_text(answer.text, encoding="utf-8")
    argv = shlex.split(command)[1:]
    argv = [str(tmp_path / a) if a in ("pool.csv", "quotas.csv") else a for a in argv]
    capsys.readouterr()
    assert main(argv) == 0
    rerun = json.loads(capsys.readouterr().out)
    assert rerun["selected"] == list(drawn.selected)
    assert rerun["reserve"] == list(drawn.reserve)
    assert rerun["commitment"] == committed.commitment
    for name in drawn.selected:
        assert f"<code>{name}</code>" in page.text
    # Each pseudonym's chance, summing to the seats.
    chances = [
        float(cell.split("%")[0])
        for cell in page.text.split('<table class="chances">')[1].split('<td class="num">')[1:]
    ]
    assert len(chances) == 7 and abs(sum(chances) - 400) < 1
    assert "지니 계수" in page.text  # the fairness figures published with the draw

    # The chances shown are those published with the draw, not a new computation.
    def not_again(*_: object) -> None:
        raise AssertionError("the published chances were recomputed")

    monkeypatch.setattr(panel_service, "solve", not_again)
    monkeypatch.setattr(panel_service, "_PROBABILITIES", {})
    again = await web.client.get(f"/draws/{panel}")
    assert (
        again.text.split('<table class="chances">')[1]
        == page.text.split('<table class="chances">')[1]
    )
    result = json.loads((await web.client.get(f"/draws/{panel}/result.json")).text)
    assert result["check"] == command


async def test_public_pages_name_nobody(web: Web) -> None:
    h = web.h
    h.api.user(CITIZEN, first_name=NAME)
    await onboard(h, CITIZEN)
    now = h.app.services.clock()
    h.api.files["photo-web"] = UploadedFile("p.png", placeholder_png(2))
    pid = await propose(
        h,
        CITIZEN,
        title="망원동 골목 가로등",
        description="밤에 골목이 어두워요. 가로등을 더 달아 주세요.",
        field="safety",
        scope=Scope.DISTRICT,
        districts=("gangnam",),
        photos=("photo-web",),
        latitude=37.5556,
        longitude=126.9104,  # 망원동, 마포구
    )
    report = await waste_service.submit(
        h.db,
        CITIZEN,
        waste_service.Draft(
            token="w1",
            description="같은 보도블록을 1년에 세 번 갈았어요.",
            district="mapo",
            latitude=37.556789,
            longitude=126.912345,
            amount=50_000_000,
            named_publicly=True,
            reporter_name=NAME,
            reporter_username=HANDLE,
        ),
        now,
    )
    assert report.report is not None
    pages = ["/", "/proposals", f"/proposals/{pid}", "/map", "/map/pins.json", "/waste"]
    pages += ["/programmes/democracy-seoul", "/app", "/map/districts.geojson"]
    for path in pages:
        answer = await web.client.get(path)
        assert answer.status_code == 200, path
        for secret in (str(CITIZEN), NAME, HANDLE, "Hiddenname"):
            assert secret not in answer.text, (path, secret)
    card = await web.client.get(f"/proposals/{pid}")
    assert '<meta property="og:title" content="#1 망원동 골목 가로등' in card.text
    assert f"https://civic.example.org/media/proposal/{pid}/0" in card.text
    assert "핀 위치는 마포구예요" in card.text and "제안에 적힌 자치구가 아니에요" in card.text
    assert f"https://t.me/civicbot_local?start=p_{pid}" in card.text
    photo = await web.client.get(f"/media/proposal/{pid}/0")
    assert photo.headers["content-type"] == "image/png"
    assert photo.content == placeholder_png(2)
    assert (await web.client.get(f"/media/proposal/{pid}/1")).status_code == 404
    pins = json.loads((await web.client.get("/map/pins.json")).text)
    assert pins["proposals"][0]["id"] == pid
    assert pins["waste"] == [{"status": pins["waste"][0]["status"], "lat": 37.557, "lon": 126.912}]
    assert pins["by_district"]["gangnam"]["proposals"] == 1
    assert pins["by_district"]["mapo"]["waste"] == 1
    shapes = json.loads((await web.client.get("/map/districts.geojson")).text)
    assert len(shapes["features"]) == 25
    stats = await web.client.get("/waste")
    assert "5,000만 원" in stats.text and "마포구" in stats.text
    assert (await web.client.get("/waste/chart.png")).content[:4] == b"\x89PNG"


async def test_standard_headers_and_content_security_policy(web: Web) -> None:
    public = await web.client.get("/")
    policy = public.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert public.headers["x-frame-options"] == "DENY"
    assert public.headers["x-content-type-options"] == "nosniff"
    assert public.headers["strict-transport-security"].startswith("max-age=")
    assert "<script" not in public.text  # no script at all on a plain page
    mini_app = await web.client.get("/app")
    assert "frame-ancestors https://web.telegram.org" in mini_app.headers["content-security-policy"]
    assert "x-frame-options" not in mini_app.headers
    for script in ("/static/app.js", "/static/vendor/telegram-web-app/telegram-web-app.js"):
        assert f'<script src="{script}"></script>' in mini_app.text
        assert (await web.client.get(script)).status_code == 200
    assert "<script>" not in mini_app.text  # no inline code


async def test_the_chat_offers_the_mini_app_over_https(web: Web) -> None:
    h = web.h
    await onboard(h, CITIZEN)
    replies = await h.say(CITIZEN, "/my")
    buttons = [b for row in replies[-1]["reply_markup"]["inline_keyboard"] for b in row]
    assert {
        "text": ko("My page with photos and maps"),
        "web_app": {"url": "https://civic.example.org/app/my"},
    } in buttons
