"""Panels through the fake Bot API: applying, the admin's quotas, commitment, seed and draw,
invitations, the draw record, meetings with RSVP, 예산학교 codes, forged buttons."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.services import panels as service
from domain.panels import ApplicationStatus
from storage.panels import PanelsRepository
from storage.people import PeopleRepository
from tests.harness import Harness, said
from tests.panels.conftest import (
    ADMIN,
    ADMINS,
    AFTER_RECRUITMENT,
    MEETING_STAGE,
    RECRUITING,
    answers,
    apply_all,
    seed_panels,
)
from tests.proposals.conftest import sign_up

ALICE, BOB, CAROL = 701, 702, 703
WOMEN, MEN = (711, 712, 713), (721, 722, 723)


async def prepared(h: Harness) -> dict[str, int]:
    h.set_now(RECRUITING)
    ids = await seed_panels(h.db)
    await sign_up(h.db, ALICE, BOB, ADMIN, *WOMEN, *MEN)
    for user_id in (*WOMEN, *MEN):
        h.api.user(user_id)  # they have a chat with the bot, so it can write to them
    return ids


async def deliver(h: Harness) -> None:
    """Send what the outbox holds now rather than wait for the sender's next round; rows the
    sender's own job claimed first are waited for."""
    for _ in range(1000):
        await h.app.automation.sender.run_batch()
        async with h.db.reading() as session:
            waiting = await session.scalar(
                "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'claimed')"
            )
        if not waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the outbox was not delivered")


async def applications(h: Harness, programme_id: int) -> dict[int | None, ApplicationStatus]:
    async with h.db.reading() as session:
        found = await PanelsRepository(session).in_status(programme_id, set(ApplicationStatus))
    return {a.user_id: a.status for a in found}


def buttons(message: dict[str, object]) -> str:
    return str(message.get("reply_markup"))


async def test_apply_with_every_feature_then_withdraw(harness: Harness) -> None:
    h = harness
    ids = await prepared(h)
    replies = await h.say(ALICE, "/panels")
    assert "모집 중" in said(replies) and "시험 시민패널" in said(replies)
    replies = await h.press(ALICE, "신청하기: 시험 시민패널")
    assert "성별이 어떻게 되시나요?" in said(replies)
    await h.press(ALICE, "여성")
    assert "1990년 그대로" in buttons(h.api.bot_messages(ALICE)[-1])  # from the profile
    replies = await h.say(ALICE, "62년생")
    assert "연도를 네 자리로" in said(replies)
    replies = await h.say(ALICE, "1962")
    assert "✓ 마포구" in buttons(replies[-1])
    replies = await h.say(ALICE, "노원")
    assert "주거 형태" in said(replies)
    await h.press(ALICE, "임차")  # the declaration is in the profile: not asked again
    assert "회의와 투표에 참여해요" in h.last_text(ALICE) and "추첨" in h.last_text(ALICE)
    replies = await h.press(ALICE, "동의합니다")
    preview = said(replies)
    for line in ("성별: 여성", "연령대: 60세 이상", "자치구: 노원구", "주거 형태: 임차",
                 "태어난 해: 1962"):  # fmt: skip
        assert line in preview
    replies = await h.press(ALICE, "신청서 보내기")
    assert "신청을 접수했어요" in said(replies)
    async with h.db.reading() as session:
        found = await PanelsRepository(session).of_user(ids["full-panel"], ALICE)
    assert found is not None and found.pseudonym in said(replies)
    assert found.features == {
        "gender": "female", "age_band": "60plus", "district": "nowon", "housing": "tenant",
    }  # fmt: skip
    replies = await h.say(ALICE, "/panels")
    assert "시험 시민패널 — 신청함, 추첨 대기" in said(replies)
    replies = await h.press(ALICE, "시험 시민패널")
    assert found.pseudonym in said(replies)
    await h.press(ALICE, "신청 철회")
    replies = await h.press(ALICE, "네, 철회합니다")
    assert "상태: 철회" in said(replies)
    assert (await applications(h, ids["full-panel"]))[ALICE] is ApplicationStatus.WITHDRAWN
    assert not h.errors.records


async def test_the_flow_explains_and_asks_again(harness: Harness) -> None:
    h = harness
    ids = await prepared(h)
    await h.say(ALICE, "/panels")
    await h.press(ALICE, "신청하기: 작은 패널")
    replies = await h.say(ALICE, "/vote")  # a command mid-flow
    assert "지금은 시민참여단 신청 중이에요" in said(replies)
    question = h.api.bot_messages(ALICE)[-1]
    assert "성별이 어떻게 되시나요?" in question["text"]
    replies = await h.press_data(ALICE, question["message_id"], "ap:g:nonbinary")  # forged value
    assert replies == [] and h.api.bot_messages(ALICE)[-1] == question  # asked in place
    await h.press(ALICE, "남성")
    await h.press(ALICE, "1990년 그대로")
    await h.press(ALICE, "동의합니다")
    send = h.api.bot_messages(ALICE)[-1]["message_id"]
    await h.press_data(ALICE, send, "ap:send")
    replies = await h.press_data(ALICE, send, "ap:send")  # a double tap
    assert "지난 버튼이라 더 이상 쓸 수 없어요" in said(replies)
    assert list(await applications(h, ids["small-panel"])) == [ALICE]
    # The declaration, never given, is asked before the application; an official is told
    # why they cannot apply, and the answer is kept (issue 14).
    await sign_up(h.db, CAROL, eligible_for_pb=False)
    await h.say(CAROL, "/panels")
    replies = await h.press(CAROL, "신청하기: 작은 패널")
    assert "작은 패널에 신청하기 전에 질문 1개만 드릴게요" in said(replies)
    assert "대부분의 시민참여단에 참여할 수 없어요. 여기에 해당하시나요?" in said(replies)
    replies = await h.press(CAROL, "네, 해당합니다")
    assert "규정에 따라 작은 패널에 참여할 수 없어요" in said(replies)
    assert CAROL not in await applications(h, ids["small-panel"])
    async with h.db.reading() as session:
        person = await PeopleRepository(session).get(CAROL)
    assert person is not None and person.declared_official_at is not None
    assert not h.errors.records


async def test_budget_school_code_opens_the_committee(harness: Harness) -> None:
    h = harness
    await prepared(h)
    replies = await h.say(ADMIN, "/paneladmin")
    await h.press(ADMIN, "예산학교 과정 코드")
    await h.press(ADMIN, "코드 발급")
    replies = await h.say(ADMIN, "2027 예산학교 1기")
    code = said(replies).rpartition("새 과정 코드: ")[2].strip()
    assert len(code) == 8
    # Asked for right there, the code lets the application carry on (issue 14).
    await h.say(ALICE, "/panels")
    replies = await h.press(ALICE, "신청하기: 예산학교 패널")
    assert "예산학교 수료자만 신청할 수 있어요. 수료할 때 받은 과정 코드를" in said(replies)
    replies = await h.say(ALICE, "NOTACODE")
    assert "유효하지 않거나 마감된 과정 코드예요" in said(replies)
    replies = await h.say(ALICE, code.lower())
    assert "예산학교 수료를 기록했어요" in said(replies)
    assert "성별이 어떻게 되시나요?" in said(replies)
    # Who has not completed it is told what to do, once; /budgetschool works too.
    await h.say(BOB, "/panels")
    await h.press(BOB, "신청하기: 예산학교 패널")
    replies = await h.press(BOB, "수료하지 않았어요")
    assert "/budgetschool 다음에 코드를 붙여 보낸 뒤 다시 신청해 주세요" in said(replies)
    # … and where and when to take it (QA finding 7).
    where = (
        "예산학교는 서울시가 연중 운영하고 자치구에서도 열려요. 가까운 과정의 일정과 신청"
        " 방법은 02-120으로 문의해 주세요."
    )
    assert where in said(replies)
    replies = await h.say(BOB, "/budgetschool")
    assert "/budgetschool ABCD2345" in said(replies) and where in said(replies)
    replies = await h.say(BOB, "/budgetschool NOTACODE")
    assert "올바르지 않거나 마감된 과정 코드" in said(replies)
    replies = await h.say(BOB, f"/budgetschool {code}")
    assert "예산학교 수료를 등록했어요" in said(replies)
    await h.say(BOB, "/panels")
    replies = await h.press(BOB, "신청하기: 예산학교 패널")
    assert "성별이 어떻게 되시나요?" in said(replies)
    assert not h.errors.records


async def test_forged_admin_buttons_are_refused_and_audited(harness: Harness) -> None:
    h = harness
    ids = await prepared(h)
    await apply_all(h.db, ids["small-panel"], {u: answers("female") for u in WOMEN})
    await apply_all(h.db, ids["small-panel"], {u: answers("male") for u in MEN})
    h.set_now(AFTER_RECRUITMENT)
    replies = await h.say(BOB, "/paneladmin")
    assert "관리자만 쓸 수 있어요" in said(replies)
    message_id = h.api.bot_messages(BOB)[-1]["message_id"]
    for data in (f"pa:cy:{ids['small-panel']}", f"pa:q:{ids['small-panel']}", "pa:bsn"):
        replies = await h.press_data(BOB, message_id, data)
        assert "관리자만 쓸 수 있어요" in said(replies)
    async with h.db.reading() as session:
        assert await PanelsRepository(session).draw(ids["small-panel"]) is None
        refused = await session.fetchall(
            "SELECT actor_id, subject FROM audit_log WHERE action = 'refused'"
        )
    assert [(r["actor_id"], r["subject"]) for r in refused] == [
        (BOB, "paneladmin:/paneladmin"),
        (BOB, f"paneladmin:pa:cy:{ids['small-panel']}"),
        (BOB, f"paneladmin:pa:q:{ids['small-panel']}"),
        (BOB, "paneladmin:pa:bsn"),
    ]
    assert not h.errors.records


async def test_quotas_commitment_seed_draw_and_invitations(harness: Harness) -> None:
    h = harness
    ids = await prepared(h)
    panel = ids["small-panel"]
    await apply_all(h.db, panel, {u: answers("female") for u in WOMEN})
    await apply_all(h.db, panel, {MEN[0]: answers("male")})
    await h.say(ADMIN, "/paneladmin")
    await h.press(ADMIN, "작은 패널")
    replies = await h.press(ADMIN, "할당 대비 신청자")
    view = said(replies)
    assert "• 남성: 1명, 최소 2명 (1명 부족)" in view  # the short strata come first
    assert "성별: 여성 3 (2–2) · 남성 1 (2–2)" in view
    assert "남성 Male: 최솟값을 2에서 1로 낮추기" not in view  # names are localised
    assert "남성: 최솟값을 2에서 1로 낮추기" in view
    replies = await h.press(ADMIN, "전체 표 (CSV)")
    table = h.api.files[replies[-1]["document"]["file_id"]].content.decode("utf-8-sig")
    assert table.splitlines() == [
        "기준,집단,신청자,최소,최대,부족", "성별,여성,3,2,2,0", "성별,남성,1,2,2,1",
    ]  # fmt: skip
    await apply_all(h.db, panel, {u: answers("male") for u in MEN[1:]})
    await h.press(ADMIN, "이전")
    replies = await h.press(ADMIN, "추첨 확인값 공개")
    assert "모든 신청자에게 알려요" in said(replies)
    replies = await h.press(ADMIN, "추첨 확인값 공개")
    assert "아직 모집 중이에요" in said(replies)  # recruitment has not closed yet
    h.set_now(AFTER_RECRUITMENT)
    await h.press(ADMIN, "이전")
    await h.press(ADMIN, "추첨 확인값 공개")
    replies = await h.press(ADMIN, "추첨 확인값 공개")
    async with h.db.reading() as session:
        record = await PanelsRepository(session).draw(panel)
    assert record is not None and record.commitment in said(replies)
    await h.press(ADMIN, "이전")
    replies = await h.press(ADMIN, "시드 입력 후 추첨")
    assert "공개 시드를 입력해 주세요" in said(replies)
    replies = await h.say(ADMIN, "두 줄\u2028시드")
    assert "200자 이내의 한 줄" in said(replies)
    replies = await h.say(ADMIN, "로또 1161회 2 8 9 15 29 36")
    assert "시드 “로또 1161회 2 8 9 15 29 36”으로 추첨할까요?" in said(replies)
    replies = await h.press(ADMIN, "지금 추첨")
    assert "추첨을 마치고 공개했어요" in said(replies) and record.commitment in said(replies)
    found = await applications(h, panel)
    invited = [u for u, s in found.items() if s is ApplicationStatus.INVITED]
    assert len(invited) == 4
    await deliver(h)
    first, second = (u for u in invited[:2] if u is not None)
    assert "위원으로 추첨되셨어요" in h.last_text(first)
    replies = await h.press(first, "수락합니다")
    assert "위촉을 환영해요" in said(replies)
    await h.press(second, "사양합니다")
    replies = await h.press(second, "네, 사양합니다")
    assert "사양하셨어요" in said(replies)
    after = await applications(h, panel)
    assert (
        after[first] is ApplicationStatus.ACCEPTED and after[second] is ApplicationStatus.DECLINED
    )
    assert sum(s is ApplicationStatus.INVITED for s in after.values()) == 3  # one called
    # Anyone in the pool sees the record and gets the files to check it.
    replies = await h.press(second, "추첨 기록 보기")
    record_text = said(replies)
    assert record.commitment in record_text and "로또 1161회" in record_text
    # The draw's chances are published with it; each applicant sees their own (issue 23).
    async with h.db.reading() as session:
        drawn = await PanelsRepository(session).draw(panel)
        mine = await PanelsRepository(session).of_user(panel, second)
    assert drawn is not None and drawn.fairness is not None and mine is not None
    assert sum(drawn.fairness.probabilities.values()) == pytest.approx(4, abs=1e-4)
    assert "공정성: 가장 낮은 선정 확률이 평균의" in record_text
    own = f"{drawn.fairness.probabilities[mine.pseudonym]:.1%}"
    assert f"이번 추첨에서 선정되실 확률은 {own}" in record_text
    replies = await h.press(second, "파일 내려받기")
    names = [m["document"]["file_name"] for m in replies if "document" in m]
    assert names == ["small-panel-pool.csv", "small-panel-quotas.csv", "small-panel-result.json"]
    published = json.loads(h.api.files[replies[-1]["document"]["file_id"]].content)
    assert published["probabilities"] == drawn.fairness.as_dict()["probabilities"]
    assert published["min_ratio"] <= published["upper_bound_ratio"] + 1e-4
    await h.say(second, "/panels")
    replies = await h.press(second, "작은 패널")
    assert f"이번 추첨에서 선정되실 확률은 {own}" in said(replies)
    await h.say(ADMIN, "/paneladmin")
    await h.press(ADMIN, "작은 패널")
    replies = await h.press(ADMIN, "위원 충원 현황")
    assert "정원 4명: 위원 1명, 답을 기다리는 위촉 안내 3건, 빈자리 0석" in said(replies)
    assert not h.errors.records


async def test_meetings_are_scheduled_and_answered(harness: Harness) -> None:
    h = harness
    ids = await prepared(h)
    panel = ids["small-panel"]
    await apply_all(h.db, panel, {u: answers("female") for u in WOMEN})
    await apply_all(h.db, panel, {u: answers("male") for u in MEN})
    assert (await service.commit(h.db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS)).refusal is None
    await service.draw(h.db, ADMIN, panel, "seed", AFTER_RECRUITMENT, ADMINS)
    member = next(u for u, s in (await applications(h, panel)).items() if s == "invited")
    assert member is not None
    async with h.db.reading() as session:
        found = await PanelsRepository(session).of_user(panel, member)
    assert found is not None
    assert await service.respond(h.db, member, found.id, True, AFTER_RECRUITMENT) is None
    h.set_now(MEETING_STAGE)
    await h.say(ADMIN, "/paneladmin")
    await h.press(ADMIN, "작은 패널")
    await h.press(ADMIN, "회의")
    await h.press(ADMIN, "회의 추가")
    await h.say(ADMIN, "1차 주제별 회의")
    replies = await h.say(ADMIN, "내일 저녁")
    assert "2027-06-12 14:00 형식으로" in said(replies)
    await h.say(ADMIN, "2027-04-20 19:00")
    replies = await h.say(ADMIN, "서울시청 다목적홀")
    assert "회의를 잡았어요" in said(replies)
    await deliver(h)
    assert "새 회의: 1차 주제별 회의 (작은 패널), 2027년 4월 20일 (화) 오후 7:00" in h.last_text(
        member
    )
    await h.press(member, "참석")
    alert = list(h.api.answered_queries.values())[-1].get("text", "")
    assert alert == "기록했어요: 참석"
    replies = await h.say(member, "/panels")
    await h.press(member, "작은 패널")
    replies = await h.press(member, "회의")
    assert "1차 주제별 회의" in said(replies) and "답변: 참석" in said(replies)
    outsider = next(u for u in (*WOMEN, *MEN) if u != member)
    await h.say(outsider, "/panels")
    message_id = h.api.bot_messages(outsider)[-1]["message_id"]
    async with h.db.reading() as session:
        (meeting,) = await PanelsRepository(session).meetings(panel)
    await h.press_data(outsider, message_id, f"pn:r:{meeting.id}:yes")
    alert = list(h.api.answered_queries.values())[-1].get("text", "")
    assert alert == "시민참여단 위원만 쓸 수 있어요."
    assert not h.errors.records


async def test_features_and_proportional_quotas_are_chosen_in_the_chat(harness: Harness) -> None:
    h = harness
    ids = await prepared(h)
    panel = ids["small-panel"]
    await h.say(ADMIN, "/paneladmin")
    await h.press(ADMIN, "작은 패널")
    replies = await h.press(ADMIN, "기준과 할당")
    screen = replies[-1]
    assert "정원 4명 · 지금까지 신청자 0명 · 허용 범위 ±10%" in screen["text"]
    assert "• 성별 여성: 할당 2–2명" in screen["text"] and "연령대" not in screen["text"]
    replies = await h.press(ADMIN, "연령대")  # add a feature: its quotas appear
    assert replies[-1]["message_id"] == screen["message_id"]  # one message, edited
    assert "• 연령대 " in replies[-1]["text"]
    assert "✓ 연령대" in str(replies[-1]["reply_markup"])
    before = replies[-1]["text"]
    replies = await h.press(ADMIN, "±30%")
    assert "허용 범위 ±30%" in replies[-1]["text"] and replies[-1]["text"] != before
    replies = await h.press(ADMIN, "저장하기…")
    assert "이 기준과 할당을 저장할까요?" in replies[-1]["text"]
    async with h.db.reading() as session:
        unchanged = await service.panel(session, panel)
    assert unchanged is not None and unchanged.settings["features"] == ["gender"]
    replies = await h.press(ADMIN, "저장하기")
    assert replies[-1]["text"] == "기준과 할당을 저장했어요."
    async with h.db.reading() as session:
        saved = await service.panel(session, panel)
        logged = await session.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'panel_plan'")
    assert saved is not None and saved.settings["features"] == ["gender", "age_band"]
    assert saved.settings["quota_tolerance"] == 0.3 and logged == 1

    # Once people applied, the count shows against the quotas, and a feature they were never
    # asked cannot be added (removing one can).
    await apply_all(h.db, panel, {u: answers("female") for u in WOMEN})
    await h.press(ADMIN, "이전")
    replies = await h.press(ADMIN, "기준과 할당")
    assert "지금까지 신청자 3명" in replies[-1]["text"]
    await h.press(ADMIN, "자치구")
    await h.press(ADMIN, "저장하기…")
    replies = await h.press(ADMIN, "저장하기")
    assert "첫 신청 전에만 기준을 더할 수 있어요" in replies[-1]["text"]
    await h.press(ADMIN, "이전")
    await h.press(ADMIN, "기준과 할당")
    await h.press(ADMIN, "✓ 연령대")
    await h.press(ADMIN, "저장하기…")
    replies = await h.press(ADMIN, "저장하기")
    assert replies[-1]["text"] == "기준과 할당을 저장했어요."
    # Someone else's forged button is refused; after the commitment nothing changes.
    await h.say(BOB, "/help")
    refused = await h.press_data(BOB, h.api.bot_messages(BOB)[-1]["message_id"], f"pa:fy:{panel}")
    assert "관리자만" in said(refused)
    await apply_all(h.db, panel, {u: answers("male") for u in MEN})
    h.set_now(AFTER_RECRUITMENT)
    assert (await service.commit(h.db, ADMIN, panel, AFTER_RECRUITMENT, ADMINS)).refusal is None
    assert (
        await service.set_quota_plan(h.db, ADMIN, panel, ["gender"], 0.1, AFTER_RECRUITMENT, ADMINS)
        is service.Refusal.COMMITTED
    )
    assert not h.errors.records
