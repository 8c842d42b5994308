"""The permission matrix (issue 9): every admin, reviewer and officer action, attempted
through the chat and through forged callbacks by every role that does not hold it, is
refused, changes nothing, and is written to the audit log."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.services import proposals as proposal_service
from bot.services import voting as voting_service
from domain.proposals import Scope
from domain.roles import Role
from storage.programmes import ProgrammesRepository
from storage.roles import RolesRepository
from tests.harness import Harness
from tests.proposals.conftest import sign_up
from tests.voting.conftest import AFTER_VOTE, DURING_VOTE, ballot_file
from tests.waste.conftest import submit as submit_report

CITIZEN, MODERATOR, REVIEWER, OFFICER, AUTHOR = 811, 812, 813, 814, 815
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ACTORS = {
    "citizen": CITIZEN,
    "moderator": MODERATOR,
    "reviewer of another field": REVIEWER,
    "officer of another agency": OFFICER,
}
STATE_QUERIES = (
    "SELECT id, status, hidden FROM proposals ORDER BY id",
    "SELECT user_id, role, scope FROM roles ORDER BY 1, 2, 3",
    "SELECT heading_id, confirmed_at FROM tally_results ORDER BY 1",
    "SELECT id, status, officer_id, department FROM waste_reports ORDER BY id",
    "SELECT user_id FROM posting_blocks ORDER BY 1",
    "SELECT id, key, name_ko, name_en, settings FROM programmes ORDER BY id",
    "SELECT id, key, name_ko, starts_at, ends_at FROM stages ORDER BY id",
    "SELECT id, stage_id, key, definition FROM ballot_headings ORDER BY id",
)


async def world(h: Harness) -> dict[str, int]:
    h.set_now(DURING_VOTE)
    await sign_up(h.db, CITIZEN, MODERATOR, REVIEWER, OFFICER, AUTHOR, 9000)
    async with h.db.transaction() as session:
        roles = RolesRepository(session)
        await roles.grant(MODERATOR, Role.MODERATOR, DURING_VOTE)
        await roles.grant(REVIEWER, Role.REVIEWER, DURING_VOTE, scope="transport")
        await roles.grant(OFFICER, Role.WASTE_OFFICER, DURING_VOTE, scope="마포구청 건설관리과")
    proposal = await proposal_service.submit(
        h.db,
        AUTHOR,
        proposal_service.Draft(
            programme_key="democracy-seoul",
            title="공원 화장실 개선",
            description="공원 화장실이 너무 낡았습니다. 고쳐 주세요.",
            field="parks",
            scope=Scope.DISTRICT,
            districts=("mapo",),
        ),
        DURING_VOTE,
        14,
    )
    assert proposal.proposal_id is not None
    headings = await voting_service.import_ballot(h.db, ballot_file)
    city = headings[0][0]
    await voting_service.cast(h.db, AUTHOR, city, ["a"], DURING_VOTE, 14)
    await voting_service.run_tally(h.db, city, None, AFTER_VOTE)
    report = await submit_report(h.db, AUTHOR)
    async with h.db.reading() as session:
        stage = await voting_service.stage_id_of(session, "pb-citywide-2027", "citizen-vote")
        programme = await ProgrammesRepository(session).id_of("pb-citywide-2027")
    assert stage is not None and programme is not None
    return {
        "proposal": proposal.proposal_id,
        "heading": city,
        "report": report.id,
        "stage": stage,
        "programme": programme,
    }


def actions(ids: dict[str, int]) -> list[tuple[str, str, str | None, frozenset[str]]]:
    """(name, callback data, text typed afterwards, roles allowed to do it)."""
    p, h, r = ids["proposal"], ids["heading"], ids["report"]
    s, g = ids["stage"], ids["programme"]
    nobody: frozenset[str] = frozenset()
    moderators = frozenset({"moderator"})
    return [
        ("start review", f"rv:do:{p}:review", None, nobody),
        ("put on a ballot", f"rv:do:{p}:ballot", None, nobody),
        ("open a debate", f"rv:do:{p}:fa", None, nobody),
        ("transfer", f"rv:t:{p}:guro", None, nobody),
        ("answer", f"rv:a:{p}:acc", "내년 예산에 반영하겠습니다", nobody),
        ("merge", f"rv:a:{p}:merge", "1", nobody),
        ("confirm a result", f"vt:c:{h}", None, nobody),
        ("confirm a result for good", f"vt:C:{h}:greedy", None, nobody),
        ("grant a role", "adm:g:moderator", str(CITIZEN), nobody),
        ("grant admin", "adm:g:admin", str(CITIZEN), nobody),
        ("revoke a role", f"adm:rv:{MODERATOR}:moderator:", None, nobody),
        ("restore content", f"adm:dec:proposal:{p}:restore", None, moderators),
        ("remove content", f"adm:dec:proposal:{p}:remove", "광고성 게시물", moderators),
        ("block a poster", f"adm:blk:{AUTHOR}", "도배 게시물", moderators),
        ("invite a reserve outside the quotas", "pa:ovy:1", None, nobody),
        ("open results from /admin", "adm:go:results", None, nobody),
        ("open panels from /admin", "adm:go:paneladmin", None, nobody),
        (
            "open reviews from /admin",
            "adm:go:review",
            None,
            frozenset({"reviewer of another field"}),
        ),
        (
            "open waste cases from /admin",
            "adm:go:cases",
            None,
            frozenset({"officer of another agency"}),
        ),
        ("take a case", f"wc:do:{r}:me", None, nobody),
        ("investigate", f"wc:do:{r}:inv", None, nobody),
        ("close a case", f"wc:do:{r}:close", None, nobody),
        ("assign a department", f"wc:a:{r}:dept", "도시교통실 버스정책과", nobody),
        ("answer a case", f"wc:a:{r}:ans", "조사 결과 낭비가 맞습니다", nobody),
        # /admin → 참여 사업·단계 (issue 15)
        ("list programmes", "pg:list", None, nobody),
        ("see a programme", f"pg:p:{g}", None, nobody),
        ("see a stage", f"pg:s:{s}", None, nobody),
        ("open a stage now", f"pg:o:{s}", None, nobody),
        ("close a stage now", f"pg:c:{s}", None, nobody),
        ("save a previewed change", "pg:ok", None, nobody),
        ("rename a programme", f"pg:rn:{g}", "새 이름\nNew name", nobody),
        ("rename a stage", f"pg:rs:{s}", "새 단계\nNew stage", nobody),
        ("move a start", f"pg:ds:{s}", "2027-07-21", nobody),
        ("move a deadline", f"pg:de:{s}", "2027-08-20", nobody),
        ("programmes from the yearly cycle", "pg:new", None, nobody),
        ("create next year's programme", "pg:t:pb-citywide-2028", None, nobody),
        ("see a stage's ballots", f"pg:b:{s}", None, nobody),
        ("build a ballot", f"pg:bb:{s}", None, nobody),
        ("set k", f"pg:bk:{s}", "3", nobody),
        ("set a budget", f"pg:bm:{s}", "10억", nobody),
        ("change the district rule", "pg:br", None, nobody),
        ("preview a ballot", "pg:bp", None, nobody),
        ("preview another ballot", "pg:bv:1", None, nobody),
    ]


async def snapshot(h: Harness) -> list[list[tuple[object, ...]]]:
    async with h.db.reading() as session:
        return [[tuple(row) for row in await session.fetchall(q)] for q in STATE_QUERIES]


async def refusals(h: Harness, actor: int) -> int:
    async with h.db.reading() as session:
        count: int = await session.scalar(
            "SELECT COUNT(*) FROM audit_log WHERE actor_id = ? AND action LIKE '%refused%'",
            (actor,),
        )
    return count


@pytest.mark.parametrize("role", sorted(ACTORS))
async def test_actions_outside_a_role_are_refused_and_logged(harness: Harness, role: str) -> None:
    ids = await world(harness)
    actor = ACTORS[role]
    await harness.say(actor, "/help")
    message_id = harness.api.bot_messages(actor)[-1]["message_id"]
    checked = 0
    for name, data, typed, allowed in actions(ids):
        if role in allowed:
            continue
        before, logged = await snapshot(harness), await refusals(harness, actor)
        await harness.press_data(actor, message_id, data)
        if typed is not None:
            await harness.say(actor, typed)
        await harness.say(actor, "/cancel")
        assert await snapshot(harness) == before, f"{role} could {name}"
        assert await refusals(harness, actor) > logged, f"{role} trying to {name} was not logged"
        checked += 1
    assert checked >= 14
    # A programme or ballot file sent as a document is refused and logged the same way.
    for name, path in (("programmes.toml", "programmes.toml"), ("ballot.toml", "ballot.toml")):
        before, logged = await snapshot(harness), await refusals(harness, actor)
        await harness.send_document(actor, name, (EXAMPLES / path).read_text(encoding="utf-8"))
        await harness.press_data(actor, message_id, "pg:ok")
        assert await snapshot(harness) == before, f"{role} could send {name}"
        assert await refusals(harness, actor) > logged, f"{role} sending {name} was not logged"
    assert not harness.errors.records


async def test_the_admin_commands_refuse_everyone_without_a_role(harness: Harness) -> None:
    await world(harness)
    for command in ("/admin", "/review", "/results", "/cases"):
        replies = await harness.say(CITIZEN, command)
        text = "\n".join(m.get("text", "") for m in replies)
        assert "만" in text and ("관리자" in text or "권한" in text or "담당" in text), command


async def test_a_role_revoked_mid_flow_stops_the_next_step(harness: Harness) -> None:
    """Issue 17 part 2: the reviewer's, the officer's and the broadcaster's flows check the
    role at every step, not only at the last one."""
    ids = await world(harness)
    reviewer, officer, admin = 821, 822, 823
    await sign_up(harness.db, reviewer, officer, admin)
    async with harness.db.transaction() as session:
        roles = RolesRepository(session)
        await roles.grant(reviewer, Role.REVIEWER, DURING_VOTE, scope="parks")
        await roles.grant(officer, Role.WASTE_OFFICER, DURING_VOTE)
        await roles.grant(admin, Role.ADMIN, DURING_VOTE)

    async def revoke(user_id: int, role: Role, scope: str = "") -> None:
        async with harness.db.transaction() as session:
            await RolesRepository(session).revoke(user_id, role, scope)

    # A reviewer starts an answer, loses the role, then types it.
    await harness.say(reviewer, "/help")
    message_id = harness.api.bot_messages(reviewer)[-1]["message_id"]
    replies = await harness.press_data(reviewer, message_id, f"rv:a:{ids['proposal']}:acc")
    assert "답변" in replies[-1]["text"]  # asked for the answer: the role held
    await revoke(reviewer, Role.REVIEWER, "parks")
    before, logged = await snapshot(harness), await refusals(harness, reviewer)
    replies = await harness.say(reviewer, "내년 예산에 반영하겠습니다")
    assert await snapshot(harness) == before
    assert await refusals(harness, reviewer) > logged
    assert replies[-1]["text"] == "검토 권한이 있는 분만 쓸 수 있어요."

    # An officer starts naming the department, loses the role, then types it.
    await harness.say(officer, "/help")
    message_id = harness.api.bot_messages(officer)[-1]["message_id"]
    await harness.press_data(officer, message_id, f"wc:a:{ids['report']}:dept")
    await revoke(officer, Role.WASTE_OFFICER)
    before = await snapshot(harness)
    async with harness.db.reading() as session:
        logged = await session.scalar(
            "SELECT COUNT(*) FROM audit_log WHERE actor_id = ? AND action = 'waste.refused'",
            (officer,),
        )
    await harness.say(officer, "도시교통실 버스정책과")
    assert await snapshot(harness) == before
    async with harness.db.reading() as session:
        assert (
            await session.scalar(
                "SELECT COUNT(*) FROM audit_log WHERE actor_id = ? AND action = 'waste.refused'",
                (officer,),
            )
            > logged
        )

    # An admin names a meeting, loses the role, then types its time.
    await harness.say(admin, "/help")
    message_id = harness.api.bot_messages(admin)[-1]["message_id"]
    await harness.press_data(admin, message_id, f"pa:ma:{ids['programme']}")
    await harness.say(admin, "1차 회의")
    await revoke(admin, Role.ADMIN)
    logged = await refusals(harness, admin)
    await harness.say(admin, "2027-08-01 14:00")
    assert await refusals(harness, admin) > logged
    async with harness.db.transaction() as session:
        await RolesRepository(session).grant(admin, Role.ADMIN, DURING_VOTE)

    # An admin writes a broadcast, loses the role, then goes on to the next step.
    await harness.say(admin, "/broadcast")
    await harness.say(admin, "12월 공지: 시민참여예산 결과 발표")
    await revoke(admin, Role.ADMIN)
    logged = await refusals(harness, admin)
    replies = await harness.say(admin, "December notice: the results")
    assert await refusals(harness, admin) > logged
    assert "관리자만" in replies[-1]["text"]
    await harness.say(admin, "/cancel")
    assert not harness.errors.records
