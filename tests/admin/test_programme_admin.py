"""/admin → 참여 사업·단계 (issue 15): programmes, stages and ballots run from the phone, and
programme and ballot files sent in the chat. Every change is previewed, confirmed and audited;
the role is checked again on every step."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.handlers.voting import render_ballot
from bot.i18n import Translator
from bot.services import proposals as proposal_service
from bot.services import voting as voting_service
from bot.services.programmes import StageInUse, apply_programmes
from domain.programmes import Stage, parse_programmes
from domain.proposals import Scope, Status
from domain.roles import Role
from domain.voting import parse_ballot_file
from storage.programmes import ProgrammesRepository
from storage.proposals import ProposalsRepository
from storage.roles import RolesRepository
from storage.voting import VotingRepository
from tests.harness import Harness, said
from tests.journeys.steps import buttons
from tests.proposals.conftest import sign_up

OFFICIAL = 9000  # ADMIN_IDS in tests
ADMIN = 9301  # an admin by grant
BEFORE_VOTE = datetime(2027, 7, 16, 3, 0, tzinfo=UTC)  # objections over, the vote not yet open
DURING_VOTE = datetime(2027, 7, 25, 3, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PB = "2027 시민참여예산 광역제안형"


async def open_stage_screen(h: Harness, user_id: int, programme: str, stage: str) -> None:
    await h.say(user_id, "/admin")
    await h.press(user_id, "참여 사업·단계")
    await h.press(user_id, programme)
    await h.press(user_id, stage)


async def audit_actions(h: Harness, actor: int) -> list[str]:
    async with h.db.reading() as session:
        rows = await session.fetchall(
            "SELECT action FROM audit_log WHERE actor_id = ? ORDER BY id", (actor,)
        )
    return [row["action"] for row in rows]


async def stage(h: Harness, programme: str, key: str) -> Stage:
    async with h.db.reading() as session:
        found = await ProgrammesRepository(session).get(programme)
    assert found is not None
    return next(s for s in found.stages if s.key == key)


async def test_the_list_shows_programmes_and_stages_with_their_state(harness: Harness) -> None:
    h = harness
    h.set_now(BEFORE_VOTE)
    await h.say(OFFICIAL, "/admin")
    replies = await h.press(OFFICIAL, "참여 사업·단계")
    listing = said(replies)
    assert "민주주의 서울 시민제안 — 진행 중: 상시 제안" in listing
    assert f"{PB} — 다음: 시민투표 (엠보팅), 7월 20일(화) 09:00부터" in listing
    replies = await h.press(OFFICIAL, PB)
    assert replies[0]["message_id"] == h.api.bot_messages(OFFICIAL)[-1]["message_id"]  # edited
    screen = said(replies)
    assert "3. 이의·조정 — 종료" in screen
    assert "4. 시민투표 (엠보팅) — 7월 20일(화) 09:00부터" in screen


async def test_open_a_stage_now_previews_who_is_told_then_saves_and_announces(
    harness: Harness,
) -> None:
    h = harness
    h.set_now(BEFORE_VOTE)
    await sign_up(h.db, 2301, 2302)
    await open_stage_screen(h, OFFICIAL, PB, "4. 시민투표 (엠보팅)")
    replies = await h.press(OFFICIAL, "지금 시작하기")
    preview = said(replies)
    assert "저장하기 전에 확인해 주세요" in preview
    assert "시민투표 (엠보팅) 시작: 7월 20일(화) 09:00 → 7월 16일(금) 12:00" in preview
    assert "시민투표 (엠보팅) 단계를 지금 시작해요: 공지를 받는 2명에게 알려요." in preview
    assert "아직 투표지가 없어요" in preview  # a vote opening with nothing to vote on
    # Nothing changes before "저장하기".
    assert (await stage(h, "pb-citywide-2027", "citizen-vote")).is_open(BEFORE_VOTE) is False
    replies = await h.press(OFFICIAL, "저장하기")
    assert "저장했어요." in said(replies)
    assert (await stage(h, "pb-citywide-2027", "citizen-vote")).is_open(BEFORE_VOTE)
    async with h.db.reading() as session:
        announced = await session.scalar(
            "SELECT COUNT(*) FROM outbox WHERE dedupe_key LIKE 'stage:%:open:%'"
        )
    assert announced == 2  # at once, not at the scheduler's next check
    assert "programmes:open" in await audit_actions(h, OFFICIAL)


async def test_close_now_and_a_closed_stage_needs_a_new_end(harness: Harness) -> None:
    h = harness
    h.set_now(DURING_VOTE)
    await open_stage_screen(h, OFFICIAL, PB, "4. 시민투표 (엠보팅)")
    preview = said(await h.press(OFFICIAL, "지금 마치기"))
    assert "시민투표 (엠보팅) 단계를 지금 마쳐요" in preview
    await h.press(OFFICIAL, "저장하기")
    assert not (await stage(h, "pb-citywide-2027", "citizen-vote")).is_open(DURING_VOTE)
    # Opening it again without a new end date is refused, with what to do.
    await h.press(OFFICIAL, "이전")
    await h.press(OFFICIAL, "지금 시작하기")
    answered = h.api.answered_queries[max(h.api.answered_queries, key=int)]
    assert "먼저 종료 일시를 새로 정해 주세요" in answered["text"]


async def test_a_new_deadline_moves_its_reminders(harness: Harness) -> None:
    """The scheduler reads deadlines from the stages table: a deadline moved in the chat
    gets its reminders before the new date, and none at the old one's times."""
    h = harness
    h.set_now(DURING_VOTE)
    await sign_up(h.db, 2311)
    async with h.db.transaction() as session:
        stage_id = await voting_service.stage_id_of(session, "pb-citywide-2027", "citizen-vote")
    await voting_service.import_ballot(h.db, parse_ballot_file(BALLOT))
    await open_stage_screen(h, OFFICIAL, PB, "4. 시민투표 (엠보팅)")
    await h.press(OFFICIAL, "종료 일시 바꾸기")
    assert "언제 끝나나요?" in h.last_text(OFFICIAL)
    await h.say(OFFICIAL, "2027년 8월")
    assert "날짜를 읽지 못했어요" in said(h.api.bot_messages(OFFICIAL)[-2:])
    replies = await h.say(OFFICIAL, "2027-08-20")
    preview = said(replies)
    assert "시민투표 (엠보팅) 종료: 8월 9일(월) 24:00 → 8월 20일(금) 24:00" in preview
    assert "마감 전 알림은 바뀐 마감에 맞춰" in preview
    await h.press(OFFICIAL, "저장하기")
    new_deadline = datetime(2027, 8, 20, 15, 0, tzinfo=UTC)
    assert (await stage(h, "pb-citywide-2027", "citizen-vote")).ends_at == new_deadline
    # At the old deadline's 24-hour mark nothing is due; at the new one's, the reminder goes.
    h.set_now(datetime(2027, 8, 9, 3, 0, tzinfo=UTC))
    await h.app.automation.run_reminders()
    h.set_now(new_deadline - timedelta(hours=23))
    assert await h.app.automation.run_reminders() == 1
    async with h.db.reading() as session:
        rows = await session.fetchall(
            "SELECT offset_seconds, deadline FROM stage_reminders WHERE stage_id = ?"
            " AND skipped = 0",
            (stage_id,),
        )
    assert [(r["offset_seconds"], r["deadline"][:10]) for r in rows] == [(86400, "2027-08-20")]


async def test_rename_and_a_date_out_of_order(harness: Harness) -> None:
    h = harness
    h.set_now(BEFORE_VOTE)
    await h.say(OFFICIAL, "/admin")
    await h.press(OFFICIAL, "참여 사업·단계")
    await h.press(OFFICIAL, PB)
    await h.press(OFFICIAL, "이름 바꾸기")
    await h.say(OFFICIAL, "한 줄만")
    assert "두 줄로 입력해 주세요" in said(h.api.bot_messages(OFFICIAL)[-2:])
    preview = said(await h.say(OFFICIAL, "2027 광역 시민참여예산\n2027 city-wide PB"))
    assert f"참여 사업 이름: {PB} → 2027 광역 시민참여예산" in preview
    await h.press(OFFICIAL, "저장하기")
    async with h.db.reading() as session:
        renamed = await ProgrammesRepository(session).get("pb-citywide-2027")
    assert renamed is not None and renamed.name.en == "2027 city-wide PB"
    # A start before the stage ahead of it is refused, saying what to do.
    await open_stage_screen(h, OFFICIAL, "2027 광역 시민참여예산", "5. 총회 승인")
    await h.press(OFFICIAL, "시작 일시 바꾸기")
    replies = await h.say(OFFICIAL, "2027-07-01 09:00")
    assert "그 단계의 날짜부터 바꿔 주세요" in said(replies)
    await h.say(OFFICIAL, "/cancel")
    # The stage's own name.
    await open_stage_screen(h, OFFICIAL, "2027 광역 시민참여예산", "5. 총회 승인")
    await h.press(OFFICIAL, "이름 바꾸기")
    preview = said(await h.say(OFFICIAL, "위원회 총회 승인\nCommittee approval"))
    assert "단계 이름: 총회 승인 → 위원회 총회 승인" in preview
    await h.press(OFFICIAL, "저장하기")
    assert (await stage(h, "pb-citywide-2027", "general-assembly")).name.en == (
        "Committee approval"
    )
    assert [a for a in await audit_actions(h, OFFICIAL) if a.startswith("programmes:")] == [
        "programmes:rename",
        "programmes:rename",
    ]


async def test_a_programme_for_next_year_from_the_yearly_cycle(harness: Harness) -> None:
    h = harness
    h.set_now(BEFORE_VOTE)
    await h.say(OFFICIAL, "/admin")
    await h.press(OFFICIAL, "참여 사업·단계")
    replies = await h.press(OFFICIAL, "연간 일정에서 새로 만들기")
    offered = buttons(replies[-1])
    assert "2028 시민참여예산 광역제안형" in offered
    assert PB not in offered  # this year's is set up already
    preview = said(await h.press(OFFICIAL, "2028 시민참여예산 광역제안형"))
    assert "새 참여 사업: 2028 시민참여예산 광역제안형" in preview
    assert "시민투표 (엠보팅): 2028년 7월 20일(목) 09:00 – 2028년 8월 9일(수) 24:00" in preview
    await h.press(OFFICIAL, "저장하기")
    async with h.db.reading() as session:
        created = await ProgrammesRepository(session).get("pb-citywide-2028")
        logged = await session.fetchone(
            "SELECT subject, details FROM audit_log WHERE action = 'programmes:create'"
        )
    assert created is not None and len(created.stages) == 7
    assert logged["subject"] == "pb-citywide-2028"
    assert json.loads(logged["details"])["changes"][0]["kind"] == "programme_added"


async def test_a_role_revoked_mid_flow_is_refused_at_the_next_step(harness: Harness) -> None:
    h = harness
    h.set_now(BEFORE_VOTE)
    await sign_up(h.db, ADMIN)
    async with h.db.transaction() as session:
        await RolesRepository(session).grant(ADMIN, Role.ADMIN, BEFORE_VOTE)
    await open_stage_screen(h, ADMIN, PB, "4. 시민투표 (엠보팅)")
    await h.press(ADMIN, "종료 일시 바꾸기")
    async with h.db.transaction() as session:
        await RolesRepository(session).revoke(ADMIN, Role.ADMIN, "")
    replies = await h.say(ADMIN, "2027-08-20")
    assert "관리자만 쓸 수 있어요." in said(replies)
    assert "저장하기" not in [b for m in replies for b in buttons(m)]
    assert "refused" in await audit_actions(h, ADMIN)
    # A preview made before the revocation cannot be saved after it either.
    async with h.db.transaction() as session:
        await RolesRepository(session).grant(ADMIN, Role.ADMIN, BEFORE_VOTE)
    await open_stage_screen(h, ADMIN, PB, "4. 시민투표 (엠보팅)")
    await h.press(ADMIN, "지금 시작하기")
    async with h.db.transaction() as session:
        await RolesRepository(session).revoke(ADMIN, Role.ADMIN, "")
    replies = await h.press(ADMIN, "저장하기")
    assert "관리자만 쓸 수 있어요." in said(replies)
    assert not (await stage(h, "pb-citywide-2027", "citizen-vote")).is_open(BEFORE_VOTE)


# -- files -----------------------------------------------------------------------------------
BROKEN = """
[[programme]]
key = "poll-2027"
kind = "poll"
name = { ko = "서울시가 묻습니다", en = "Seoul asks" }
[[programme.stage]]
key = "vote"
name = { ko = "투표", en = "Vote" }
starts_at = 2027-07-01T09:00:00
ends_at = 2027-06-01T00:00:00
actions = ["vote", "fly"]
"""


async def test_a_programme_file_with_problems_names_line_and_field(harness: Harness) -> None:
    h = harness
    h.set_now(BEFORE_VOTE)
    replies = await h.send_document(OFFICIAL, "poll.toml", BROKEN)
    text = said(replies)
    assert "파일에 문제가 있어 저장하지 않았어요" in text
    assert "poll.toml:11: programme.0.stage.0.actions.1: Input should be" in text
    replies = await h.send_document(OFFICIAL, "poll.toml", BROKEN.replace(', "fly"', ""))
    assert "poll.toml:6: programme.0.stage.0: stage 'vote' ends before it starts" in said(replies)
    assert "poll.toml:" in said(await h.send_document(OFFICIAL, "poll.toml", "[[programme]\n"))
    async with h.db.reading() as session:
        assert await ProgrammesRepository(session).get("poll-2027") is None


async def test_a_programme_file_is_previewed_then_saved(harness: Harness) -> None:
    h = harness
    h.set_now(BEFORE_VOTE)
    text = (EXAMPLES / "programmes.toml").read_text(encoding="utf-8")
    preview = said(await h.send_document(OFFICIAL, "programmes.toml", text))
    assert "새 참여 사업: 2027 서울시가 묻습니다: 자전거 전용도로" in preview
    async with h.db.reading() as session:
        assert await ProgrammesRepository(session).get("bike-poll-2027") is None
    await h.press(OFFICIAL, "저장하기")
    async with h.db.reading() as session:
        assert await ProgrammesRepository(session).get("bike-poll-2027") is not None
    # The same file again changes nothing.
    assert "바뀌는 것이 없어요." in said(await h.send_document(OFFICIAL, "programmes.toml", text))


async def test_files_from_people_without_the_role_are_refused_and_logged(
    harness: Harness,
) -> None:
    h = harness
    h.set_now(BEFORE_VOTE)
    await sign_up(h.db, 2321)
    text = (EXAMPLES / "programmes.toml").read_text(encoding="utf-8")
    replies = await h.send_document(2321, "programmes.toml", text)
    assert "관리자만 쓸 수 있어요." in said(replies)
    assert "refused" in await audit_actions(h, 2321)


# -- ballots ---------------------------------------------------------------------------------
BALLOT = """
programme = "pb-citywide-2027"
stage = "citizen-vote"
[[heading]]
key = "city"
name = { ko = "광역 사업", en = "City-wide projects" }
max_choices = 2
[[heading.item]]
key = "a"
title = "어린이 놀이터"
cost = 600
"""


async def put_on_ballot(h: Harness, user_id: int, title: str, district: str) -> int:
    await sign_up(h.db, user_id, district=district)
    submitted = await proposal_service.submit(
        h.db,
        user_id,
        proposal_service.Draft(
            programme_key="democracy-seoul",
            title=title,
            description=f"{title}: 주민이 함께 쓰는 시설을 만들어 주세요.",
            field="environment",
            scope=Scope.DISTRICT,
            districts=(district,),
        ),
        BEFORE_VOTE,
        14,
    )
    assert submitted.proposal_id is not None
    # Into the PB programme, on the ballot (the review flows are tested on their own).
    async with h.db.transaction() as session:
        pb = await ProgrammesRepository(session).id_of("pb-citywide-2027")
        await session.execute(
            "UPDATE proposals SET programme_id = ?, status = ?, cost = ? WHERE id = ?",
            (pb, Status.ON_BALLOT.value, 200_000_000, submitted.proposal_id),
        )
    return submitted.proposal_id


async def test_build_a_ballot_per_district_and_preview_it_as_voters_see_it(
    harness: Harness,
) -> None:
    h = harness
    h.set_now(BEFORE_VOTE)
    mapo = await put_on_ballot(h, 2331, "망원 체육공원", "mapo")
    await put_on_ballot(h, 2332, "구로 산책로", "guro")
    await open_stage_screen(h, OFFICIAL, PB, "4. 시민투표 (엠보팅)")
    screen = said(await h.press(OFFICIAL, "투표지"))
    assert "시민투표 대상 제안: 2건" in screen
    await h.press(OFFICIAL, "시민투표 대상 제안으로 만들기")
    await h.press(OFFICIAL, "1인 선택 수")
    await h.say(OFFICIAL, "0")
    assert "1부터 50까지" in said(h.api.bot_messages(OFFICIAL)[-2:])
    await h.say(OFFICIAL, "1")
    await h.press(OFFICIAL, "예산")
    draft = said(await h.say(OFFICIAL, "3억"))
    assert "1인 최대 1개 선택" in draft and "투표지별 예산: 3억 원" in draft
    replies = await h.press(OFFICIAL, "자치구별 투표지로 하기")
    assert "자치구별 투표지 (해당 자치구 주민만 투표)" in said(replies)
    replies = await h.press(OFFICIAL, "투표 화면 미리 보기")
    preview = replies[-1]
    # The voter's own rendering of the first ballot, word for word.
    async with h.db.reading() as session:
        _, headings = await voting_service.ballot_headings(
            session,
            parse_ballot_file(
                'programme = "pb-citywide-2027"\nstage = "citizen-vote"\n[[heading]]\n'
                'key = "guro"\nname = { ko = "구로구", en = "Guro-gu" }\ndistrict = "guro"\n'
                'only_district = "guro"\ngroup = "districts"\nmax_choices = 1\n'
                "budget = 300000000\nknapsack = true\ninclude_on_ballot = true\n"
            ),
        )
    voter_lines, voter_rows = render_ballot(Translator("ko"), 0, headings[0], [], 0)
    assert "\n".join(voter_lines) in preview["text"]
    assert [b["text"] for b in preview["reply_markup"]["inline_keyboard"][0]] == [
        b.text for b in voter_rows[0]
    ]
    assert "마포구: 사업 1개, 1인 최대 1개 선택 · 예산 3억 원 · 마포구 주민만" in preview["text"]
    assert "(투표지 2개 중 1번째)" in preview["text"]
    second = (await h.press(OFFICIAL, "다음 투표지"))[-1]["text"]
    assert "(투표지 2개 중 2번째)" in second and "1. 망원 체육공원 — 2억 원" in second
    await h.press(OFFICIAL, "저장하기")
    async with h.db.reading() as session:
        stage_id = await voting_service.stage_id_of(session, "pb-citywide-2027", "citizen-vote")
        saved = await VotingRepository(session).headings(stage_id)  # type: ignore[arg-type]
    assert sorted(h.key for _, h in saved) == ["guro", "mapo"]
    mapo_heading = next(h for _, h in saved if h.key == "mapo")
    assert mapo_heading.district == "mapo" and mapo_heading.budget == 300_000_000
    assert [i.key for i in mapo_heading.items] == [f"p{mapo}"]
    assert "programmes:ballot" in await audit_actions(h, OFFICIAL)


@pytest.mark.parametrize("name", ["ballot.toml", "ballot.yaml"])
async def test_a_ballot_file_in_the_chat(harness: Harness, name: str) -> None:
    h = harness
    h.set_now(BEFORE_VOTE)
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    replies = await h.send_document(OFFICIAL, name, text)
    preview = said(replies)
    assert "투표하는 분에게 보이는 모습이에요" in preview
    assert "새 투표지: city, mapo" in preview
    await h.press(OFFICIAL, "저장하기")
    async with h.db.reading() as session:
        stage_id = await voting_service.stage_id_of(session, "pb-citywide-2027", "citizen-vote")
        saved = await VotingRepository(session).headings(stage_id)  # type: ignore[arg-type]
    assert [heading.key for _, heading in saved] == ["city", "mapo"]
    # An error names the line and the field.
    broken = text.replace("max_choices = 3", "max_choices = 0").replace(
        "max_choices: 3", "max_choices: 0"
    )
    problems = said(await h.send_document(OFFICIAL, name, broken))
    assert f"{name}:" in problems and "heading.0.max_choices" in problems


# -- the shipped examples ----------------------------------------------------------------------
def test_the_shipped_examples_are_valid() -> None:
    for name in ("programmes.toml", "programmes.yaml"):
        programmes = parse_programmes((EXAMPLES / name).read_text(encoding="utf-8"), name)
        assert programmes[0].key == "bike-poll-2027"
    toml_ballot = parse_ballot_file((EXAMPLES / "ballot.toml").read_text(encoding="utf-8"))
    yaml_ballot = parse_ballot_file(
        (EXAMPLES / "ballot.yaml").read_text(encoding="utf-8"), "ballot.yaml"
    )
    assert toml_ballot == yaml_ballot
    docs = Path(__file__).resolve().parents[2] / "docs"
    for page, examples in (
        ("programme-file.md", ("programmes.toml", "programmes.yaml")),
        ("ballot-file.md", ("ballot.toml", "ballot.yaml")),
    ):
        text = (docs / page).read_text(encoding="utf-8")
        for example in examples:
            # The page shows each shipped file whole, so the two cannot drift apart.
            assert (EXAMPLES / example).read_text(encoding="utf-8").strip() in text, example


async def test_the_proposals_put_on_the_ballot_are_unchanged_by_a_preview(
    harness: Harness,
) -> None:
    h = harness
    h.set_now(BEFORE_VOTE)
    await put_on_ballot(h, 2341, "성산 도서관", "mapo")
    await open_stage_screen(h, OFFICIAL, PB, "4. 시민투표 (엠보팅)")
    await h.press(OFFICIAL, "투표지")
    await h.press(OFFICIAL, "시민투표 대상 제안으로 만들기")
    await h.press(OFFICIAL, "투표 화면 미리 보기")
    await h.press(OFFICIAL, "취소")
    async with h.db.reading() as session:
        stage_id = await voting_service.stage_id_of(session, "pb-citywide-2027", "citizen-vote")
        assert await VotingRepository(session).headings(stage_id) == []  # type: ignore[arg-type]
        on_ballot = await ProposalsRepository(session).in_status(
            (await ProgrammesRepository(session).id_of("pb-citywide-2027")) or 0, Status.ON_BALLOT
        )
    assert len(on_ballot) == 1


async def test_a_stage_with_ballots_cast_cannot_be_removed(harness: Harness) -> None:
    """Removing a stage would delete its ballots (what cannot be undone): a file that leaves
    such a stage out is refused, in the chat's preview and in the one save path."""
    h = harness
    h.set_now(DURING_VOTE)
    await sign_up(h.db, 2351)
    ((city, _), *_) = await voting_service.import_ballot(h.db, parse_ballot_file(BALLOT))
    await voting_service.cast(h.db, 2351, city, ["a"], DURING_VOTE, 14)
    text = (
        '[[programme]]\nkey = "pb-citywide-2027"\nkind = "participatory_budget"\n'
        'name = { ko = "2027 시민참여예산 광역제안형", en = "2027 city-wide PB" }\n'
        '[[programme.stage]]\nkey = "proposal-call"\n'
        'name = { ko = "사업 제안", en = "Proposal call" }\n'
        "starts_at = 2027-02-01T09:00:00\nends_at = 2027-03-01T00:00:00\n"
        'actions = ["propose"]\n'
    )
    replies = await h.send_document(OFFICIAL, "pb.toml", text)
    assert "citizen-vote 단계는 없앨 수 없어요: 이 단계에서 1표가 투표되었어요." in said(replies)
    assert "저장하기" not in [b for m in replies for b in buttons(m)]
    with pytest.raises(StageInUse, match="citizen-vote"):
        async with h.db.transaction() as session:
            await apply_programmes(session, parse_programmes(text), DURING_VOTE)
    async with h.db.reading() as session:
        kept = await ProgrammesRepository(session).get("pb-citywide-2027")
    assert kept is not None and len(kept.stages) == 7
