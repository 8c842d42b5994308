"""Ids from outside on the web side (issue 17): read by the same rules as the chat's
(bot/web/ids.py → domain/ids.py), so a number out of range is answered as an unknown id."""

from __future__ import annotations

from urllib.parse import unquote

from tests.reliability.test_external_ids import HUGE, UNKNOWN, without_number
from tests.web.conftest import PUBLIC_URL, Web


async def test_web_ids_out_of_range_are_answered_as_unknown_ones(web: Web) -> None:
    """The web side reads its ids by the same rules (bot/web/ids.py → domain/ids.py)."""
    pages = [
        "/proposals/{n}", "/results/{n}", "/results/{n}/chart.png", "/results/{n}/ballots.pb",
        "/draws/{n}", "/draws/{n}/result.json", "/media/proposal/{n}/0", "/media/proposal/1/{n}",
        "/media/ballot/{n}/0",
    ]  # fmt: skip
    for page in pages:
        answers = []
        for number in (UNKNOWN, HUGE, "9" * 60, "²", "-1"):
            path = page.format(n=number)
            response = await web.client.get(path)
            # The page names its own address (og:url, canonical): that is not the answer.
            body = response.text
            for address in (str(response.url), unquote(str(response.url))):
                body = body.replace(address, PUBLIC_URL + "/N")
            answers.append((response.status_code, without_number(body)))
        assert len(set(answers)) == 1, (page, [status for status, _ in answers])
        assert answers[0][0] == 404
    assert not web.h.errors.records, [r.getMessage() for r in web.h.errors.records]
