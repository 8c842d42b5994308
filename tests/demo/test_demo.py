"""The demo of `civicbot chat --demo` (issue 19): every programme kind open now, with data
enough to browse, support, vote, see the quotas and draw, and all of it marked as demo."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

from bot.demo import BUDGET, DEMO_KEYS, LOTTERY, PANEL, PROPOSALS, build_demo
from bot.services import panels as panels_service
from domain.programmes import Action
from storage.programmes import ProgrammesRepository
from storage.proposals import ProposalsRepository
from tests.harness import Harness, said

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
OFFICIAL = 9000  # an ADMIN_IDS admin in tests


async def test_each_kind_is_open_now_and_marked_as_demo(harness: Harness) -> None:
    h = harness
    h.set_now(NOW)
    await build_demo(h.db, NOW)
    async with h.db.reading() as session:
        programmes = ProgrammesRepository(session)
        demo = {key: await programmes.get(key) for key in DEMO_KEYS}
        repository = ProposalsRepository(session)
        proposals = [await repository.get(number) for number in (1, 2, 3)]
    assert all(p is not None and p.name.ko.startswith("[데모]") for p in demo.values())
    assert demo[PROPOSALS].allows(Action.PROPOSE, NOW)  # type: ignore[union-attr]
    assert demo[PROPOSALS].allows(Action.SUPPORT, NOW)  # type: ignore[union-attr]
    assert demo[BUDGET].allows(Action.VOTE, NOW)  # type: ignore[union-attr]
    assert demo[PANEL].allows(Action.APPLY, NOW)  # type: ignore[union-attr]
    assert demo[LOTTERY].allows(Action.DRAW, NOW)  # type: ignore[union-attr]
    assert all(p is not None and p.title.startswith("[데모]") for p in proposals)
    assert [p.support_count for p in proposals if p is not None] == [4, 3, 2]

    listing = said(await h.say(OFFICIAL, "/programmes"))
    assert "[데모] 시민참여예산 투표" in listing and "[데모] 시민회의 위원 모집" in listing


async def test_an_admin_sees_the_quotas_and_draws_the_demo_panel(harness: Harness) -> None:
    h = harness
    h.set_now(NOW)
    await build_demo(h.db, NOW)
    admins = h.app.services.settings.admin_ids
    async with h.db.reading() as session:
        panel = await ProgrammesRepository(session).id_of(PANEL)
        lottery = await ProgrammesRepository(session).id_of(LOTTERY)
    assert panel is not None and lottery is not None
    view = await panels_service.quota_view(h.db, OFFICIAL, panel, NOW, admins)
    assert not isinstance(view, panels_service.Refusal) and view.pool_size == 5
    committed = await panels_service.commit(h.db, OFFICIAL, lottery, NOW, admins)
    assert committed.refusal is None and committed.pool_size == 12
    drawn = await panels_service.draw(h.db, OFFICIAL, lottery, "demo seed 1", NOW, admins)
    assert drawn.refusal is None and len(drawn.selected) == 4


def test_the_demo_is_loaded_only_by_chat_demo() -> None:
    # Neither the bot's process nor the other commands import the demo's data.
    code = (
        "import sys, bot.app, bot.cli, bot.cli.run, bot.cli.chat, bot.cli.admin\n"
        "bot.cli.build_parser()\n"
        "assert 'bot.demo' not in sys.modules, 'bot.demo imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
