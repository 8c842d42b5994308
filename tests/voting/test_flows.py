"""The conversational ballot and the results, through the fake Bot API (SPEC §6)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.explanations import explanation_text
from bot.i18n import Translator
from bot.services import voting as service
from domain.pabulib import PBInstance, Project
from domain.tally import tally_explained
from storage.people import PeopleRepository
from storage.voting import VotingRepository
from tests.harness import Harness, said
from tests.proposals.conftest import sign_up
from tests.voting.conftest import AFTER_VOTE, DURING_VOTE, ballot_file

VOTER, GURO, ADMIN = 601, 602, 9000
UNASKED, OFFICIAL = 603, 604


async def prepared(h: Harness) -> dict[str, int]:
    h.set_now(DURING_VOTE)
    await sign_up(h.db, VOTER, ADMIN)
    await sign_up(h.db, GURO, district="guro")
    return {heading.key: hid for hid, heading in await service.import_ballot(h.db, ballot_file)}


def last_alert(h: Harness) -> str:
    return str(list(h.api.answered_queries.values())[-1].get("text", ""))


async def test_choose_within_the_rules_submit_and_change(harness: Harness) -> None:
    ids = await prepared(harness)
    replies = await harness.say(VOTER, "/vote")
    assert "광역 사업 (아직 투표 안 함)" in said(replies)
    replies = await harness.press(VOTER, "광역 사업")
    ballot = replies[-1]
    assert "선택: 0개 (최대 3개)" in ballot["text"] and "남은 예산: 1,000 원" in ballot["text"]
    replies = await harness.press(VOTER, "1. 어린이 놀이터")
    assert replies[-1]["message_id"] == ballot["message_id"]  # edited in place
    assert "남은 예산: 400 원" in replies[-1]["text"]
    await harness.press(VOTER, "2. 한강 자전거길")
    # What it costs, by how much it is over, and what is left (issue 14).
    assert last_alert(harness) == (
        "“한강 자전거길” 사업비는 500 원이에요. 남은 예산 400 원보다 100 원 많아요."
        " 다른 사업을 빼고 골라 주세요."
    )
    await harness.press(VOTER, "3. 공공 와이파이")
    await harness.press(VOTER, "확인하고 제출")
    replies = await harness.press(VOTER, "투표 제출")
    assert "투표를 제출했어요. 투표 확인 번호:" in said(replies)
    assert "/my에서 다시 볼 수 있고, 결과 페이지에서" in said(replies)  # where to check it
    replies = await harness.say(VOTER, "/vote")
    assert "광역 사업 (투표함)" in said(replies)
    replies = await harness.press(VOTER, "광역 사업")
    assert "선택함: 1. 어린이 놀이터" in str(replies[-1]["reply_markup"])  # loaded back
    await harness.press(VOTER, "선택함: 1. 어린이 놀이터")
    await harness.press(VOTER, "확인하고 제출")
    harness.app.web_url = "https://vote.example.org"
    replies = await harness.press(VOTER, "투표 제출")
    assert "투표를 바꿨어요" in said(replies)
    assert f"https://vote.example.org/results/{ids['city']}" in said(replies)
    assert await service.current_choices(harness.db, VOTER, 1) == ["c"]
    assert not harness.errors.records


async def test_english_voters_see_english_titles_where_the_file_has_them(
    harness: Harness,
) -> None:
    """Issue 18 item 8: English where the ballot file gives it, Korean otherwise."""
    await prepared(harness)
    await sign_up(harness.db, 605, language="en")
    await harness.say(605, "/vote")
    ballot = (await harness.press(605, "City-wide projects"))[-1]
    buttons = str(ballot["reply_markup"])
    assert "1. Children's playground" in buttons and "2. 한강 자전거길" in buttons
    await harness.say(VOTER, "/vote")
    korean = (await harness.press(VOTER, "광역 사업"))[-1]
    assert "1. 어린이 놀이터" in str(korean["reply_markup"])
    assert "Children" not in str(korean["reply_markup"])


async def test_an_empty_ballot_is_called_blank_before_it_is_submitted(harness: Harness) -> None:
    await prepared(harness)
    await harness.say(VOTER, "/vote")
    await harness.press(VOTER, "광역 사업")
    review = (await harness.press(VOTER, "확인하고 제출"))[-1]
    assert "이대로 내면 빈 투표로 집계돼요" in review["text"]
    assert "빈 투표 제출" in str(review["reply_markup"])
    await harness.press(VOTER, "고치기")
    await harness.press(VOTER, "1. 어린이 놀이터")
    review = (await harness.press(VOTER, "확인하고 제출"))[-1]
    assert "빈 투표" not in review["text"] and "'투표 제출'" in str(review["reply_markup"])


async def test_forged_and_out_of_rule_ballots_are_refused(harness: Harness) -> None:
    ids = await prepared(harness)
    await harness.say(GURO, "/vote")
    message_id = harness.api.bot_messages(GURO)[-1]["message_id"]
    await harness.press_data(GURO, message_id, f"vt:t:{ids['mapo']}:0")
    replies = await harness.press_data(GURO, message_id, f"vt:s:{ids['mapo']}")
    assert "마포구 사업은 마포구 주민 투표인데, 알려 주신 자치구는 구로구예요." in said(replies)
    assert "이사했다면 /profile에서 자치구를 바꿔 주세요" in said(replies)
    replies = await harness.press_data(GURO, message_id, f"vt:t:{ids['city']}:99")
    assert last_alert(harness) == "이 투표에 없는 사업이에요. 지금 투표 화면을 다시 보여 드릴게요."
    assert "광역 사업" in said(replies)  # the ballot as it is, to carry on from
    replies = await harness.press_data(GURO, message_id, "vt:s:77777")
    assert "이 투표는 더 이상 없어요. 진행 중인 투표는 /vote에서" in said(replies)
    harness.set_now(AFTER_VOTE)
    await harness.press_data(GURO, message_id, f"vt:t:{ids['city']}:0")
    assert last_alert(harness) == (
        "지금은 이 투표를 할 수 없어요. 진행 중인 투표는 /vote에서 볼 수 있어요."
    )
    async with harness.db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM ballots") == 0
    assert not harness.errors.records


async def test_question_ballot(harness: Harness) -> None:
    await prepared(harness)
    await harness.say(VOTER, "/vote")
    await harness.press(VOTER, "자전거 전용도로 확대에 찬성하십니까?")
    await harness.press(VOTER, "1. 찬성")
    replies = await harness.press(VOTER, "2. 반대")
    assert "선택함: 2. 반대" in str(replies[-1]["reply_markup"])
    assert "선택함: 1. 찬성" not in str(replies[-1]["reply_markup"])


async def test_results_chart_and_confirmation(harness: Harness) -> None:
    ids = await prepared(harness)
    await service.cast(harness.db, VOTER, ids["city"], ["b", "c"], DURING_VOTE, 14)
    harness.set_now(AFTER_VOTE)
    replies = await harness.say(VOTER, "/results")
    assert "관리자만 쓸 수 있어요" in said(replies)
    message_id = harness.api.bot_messages(VOTER)[-1]["message_id"]
    replies = await harness.press_data(VOTER, message_id, f"vt:r:{ids['city']}")
    assert "아직 결과가 확정되지 않았어요" in said(replies)

    await harness.say(ADMIN, "/results")
    replies = await harness.press(ADMIN, "광역 사업")
    photo = next(m for m in replies if "photo" in m)
    png = harness.api.files[photo["photo"][0]["file_id"]].content
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    table = replies[-1]["text"]
    assert "선정 방식: 득표순 선정" in table and "온라인 투표 1" in table
    assert "greedy" not in table
    assert "투표가 끝났어요. 이 집계는 결과 확정(총회 승인)을 기다리고 있어요." in table
    # a (600 won) and d (100 won) still fit, but no one voted for them: not selected.
    assert "a 어린이 놀이터 — 0\n" in table + "\n" and "d 경로당 냉방 — 0\n" in table + "\n"
    assert "b 한강 자전거길 — 1 선정" in table

    # Confirming asks again, saying what will happen, in the same message.
    replies = await harness.press(ADMIN, "결과 확정 (총회 승인)")
    preview = replies[-1]
    assert preview["message_id"] == harness.api.bot_messages(ADMIN)[-1]["message_id"]
    assert preview["message_id"] == next(m for m in replies)["message_id"]
    assert "광역 사업의 결과를 확정할까요?" in preview["text"]
    assert "• 한강 자전거길\n• 공공 와이파이" in preview["text"]
    assert "투표한 1명에게 결과를 알리고" in preview["text"]
    assert "확정하면 되돌릴 수 없고, 그 뒤로는 투표를 받지 않아요." in preview["text"]
    async with harness.db.reading() as session:
        assert not await service.is_confirmed(session, ids["city"])  # nothing done yet
    replies = await harness.press(ADMIN, "네, 최종 확정합니다")
    assert replies[-1]["message_id"] == preview["message_id"]
    assert "결과를 확정했어요" in said(replies)
    replies = await harness.press_data(VOTER, message_id, f"vt:r:{ids['city']}")
    assert "확정됐어요" in said(replies)
    # Pressing again (a second device, an old message) confirms nothing twice.
    replies = await harness.press_data(ADMIN, preview["message_id"], f"vt:C:{ids['city']}:greedy")
    assert "이미 확정된 결과예요" in said(replies)
    assert not harness.errors.records


async def test_an_interim_count_says_so_and_cannot_be_confirmed(harness: Harness) -> None:
    ids = await prepared(harness)  # the vote runs until the end of 9 August
    await service.cast(harness.db, VOTER, ids["city"], ["b", "c"], DURING_VOTE, 14)
    await harness.say(ADMIN, "/results")
    replies = await harness.press(ADMIN, "광역 사업")
    table = replies[-1]
    assert "중간 집계: 투표는 8월 9일(월) 24:00까지 진행돼요." in table["text"]
    labels = [b["text"] for row in table["reply_markup"]["inline_keyboard"] for b in row]
    assert "결과 확정 (총회 승인)" not in labels and "균등 배분 방식 (MES)" in labels
    # Forged buttons for both steps get the reason, and nothing is confirmed.
    reason = "투표가 아직 진행 중이라 지금 결과는 중간 집계예요."
    for data in (f"vt:c:{ids['city']}", f"vt:c:{ids['city']}:mes", f"vt:C:{ids['city']}:greedy"):
        await harness.press_data(ADMIN, table["message_id"], data)
        assert reason in last_alert(harness)
        assert reason in harness.last_text(ADMIN)  # the results message, edited in place
    # So does a citizen's forged button, with the administrators-only answer.
    await harness.say(VOTER, "/vote")
    mine = harness.api.bot_messages(VOTER)[-1]["message_id"]
    replies = await harness.press_data(VOTER, mine, f"vt:C:{ids['city']}:greedy")
    assert "관리자만 쓸 수 있어요" in said(replies)
    async with harness.db.reading() as session:
        assert not await service.is_confirmed(session, ids["city"])
        refused = await session.scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'refused' AND subject LIKE 'confirm:%'"
        )
    assert refused >= 2
    assert not harness.errors.records


async def test_people_who_have_not_voted_are_reminded_before_the_vote_closes(
    harness: Harness,
) -> None:
    ids = await prepared(harness)
    await sign_up(harness.db, UNASKED, eligible_for_pb=False)
    await sign_up(harness.db, OFFICIAL)
    async with harness.db.transaction() as session:
        await PeopleRepository(session).update(
            OFFICIAL, DURING_VOTE, declared_official_at=DURING_VOTE, declared_not_official_at=None
        )
    await service.cast(harness.db, VOTER, ids["city"], ["a"], DURING_VOTE, 14)
    await harness.app.automation.tick()  # the stage opened: nothing due yet
    harness.set_now(datetime(2027, 8, 9, 3, 0, tzinfo=UTC))  # 12 hours before it closes
    await harness.app.automation.tick()
    async with harness.db.reading() as session:
        rows = await session.fetchall(
            "SELECT user_id, payload FROM outbox WHERE category = 'deadlines' ORDER BY id"
        )
    reminded = sorted(
        (r["user_id"], json.loads(r["payload"])["buttons"][0][0]["callback_data"]) for r in rows
    )
    # The voter still has the mapo ballot and the question; the 구로구 resident only the city
    # ballot and the question; the person who never gave the PB answers everything of theirs
    # (the button asks the answers: issue 14); the official nothing; nobody twice.
    assert reminded == sorted(
        [
            (VOTER, f"vt:h:{ids['mapo']}:0"),
            (VOTER, f"vt:h:{ids['question']}:0"),
            (GURO, f"vt:h:{ids['city']}:0"),
            (GURO, f"vt:h:{ids['question']}:0"),
            (ADMIN, f"vt:h:{ids['city']}:0"),
            (ADMIN, f"vt:h:{ids['mapo']}:0"),
            (ADMIN, f"vt:h:{ids['question']}:0"),
            (UNASKED, f"vt:h:{ids['city']}:0"),
            (UNASKED, f"vt:h:{ids['mapo']}:0"),
            (UNASKED, f"vt:h:{ids['question']}:0"),
        ]
    )
    await harness.app.automation.tick()
    async with harness.db.reading() as session:
        again = await session.scalar("SELECT COUNT(*) FROM outbox WHERE category = 'deadlines'")
    assert again == len(reminded)


async def test_equal_shares_results_explain_themselves(harness: Harness) -> None:
    ids = await prepared(harness)
    for user_id in (611, 612, 613):
        await sign_up(harness.db, user_id)
    # Shares start at 250: only 공공 와이파이 (c, 2 supporters) and 경로당 냉방 (d) are within
    # reach. Add1 raises the share to 400, where 어린이 놀이터, c and d spend the whole 1,000.
    for user_id, choices in ((VOTER, ["a"]), (611, ["a", "d"]), (612, ["b", "c"]), (613, ["c"])):
        await service.cast(harness.db, user_id, ids["city"], choices, DURING_VOTE, 14)
    harness.set_now(AFTER_VOTE)
    await harness.say(VOTER, "/results")
    voter_message = harness.api.bot_messages(VOTER)[-1]["message_id"]
    await harness.press_data(VOTER, voter_message, f"vt:x:{ids['city']}")
    assert "선정 이유는 결과가 확정된 뒤에 볼 수 있어요" in said(harness.api.bot_messages(VOTER))

    await harness.say(ADMIN, "/results")
    replies = await harness.press(ADMIN, "광역 사업")
    assert "선정 이유 보기" not in str(replies[-1]["reply_markup"])  # greedy: nothing to explain
    replies = await harness.press(ADMIN, "균등 배분(1원씩 올려 보완, MES)")
    assert "선정 방식: 균등 배분(1원씩 올려 보완, MES)" in replies[-1]["text"]
    replies = await harness.press(ADMIN, "선정 이유 보기")
    text = said(replies)
    assert "선정 이유: 광역 사업" in text
    assert "투표자 모두에게 400 원씩" in text and "1인당 몫을 250 원에서 1원씩 올렸어요" in text
    assert (
        "‘어린이 놀이터’: 지지자 2명 중 2명이 1인당 300 원씩 냈어요(낸 뒤 남은 몫: 평균 25%)"
        in text
    )
    assert (
        "‘한강 자전거길’: 지지자들의 몫을 모두 합쳐도 400 원으로 사업비 500 원에 못 미쳤어요"
        in text
    )
    assert not harness.errors.records


async def test_a_voting_stage_without_a_published_ballot_is_named_in_vote(
    harness: Harness,
) -> None:
    """/programmes shows the 숙의형 citizens' vote as open; /vote must not contradict it
    (QA finding 1): it names the vote and says its ballot is not published yet."""
    await prepared(harness)  # a ballot for the city-wide PB only
    programmes = said(await harness.say(VOTER, "/programmes"))
    assert "<b>2027 시민숙의예산 숙의형</b>\n진행 중: 시민투표" in programmes
    replies = said(await harness.say(VOTER, "/vote"))
    assert "광역 사업 (아직 투표 안 함)" in replies
    assert (
        "• 2027 시민숙의예산 숙의형 — 시민투표: 투표할 사업이 아직 게시되지 않았어요."
        " 게시되면 여기에서 투표할 수 있어요"
    ) in replies
    assert "시민참여예산 광역제안형 — 시민투표 (엠보팅):" not in replies
    # With no ballot at all, /vote no longer says that no vote is open.
    await sign_up(harness.db, UNASKED)
    async with harness.db.transaction() as session:
        await session.execute("DELETE FROM ballot_headings")
    replies = said(await harness.say(UNASKED, "/vote"))
    assert "진행 중인 투표가 없어요" not in replies
    assert "2027 시민참여예산 광역제안형 — 시민투표 (엠보팅): 투표할 사업이" in replies
    assert not harness.errors.records


def test_an_explanation_before_any_ballot_says_so() -> None:
    # An interim count with no ballot yet: no "a share of 0 won", no empty list of winners.
    instance = PBInstance(budget=1000, projects={"a": Project("a", 500)}, votes=[])
    _, explanation = tally_explained(instance, "mes+add1")
    assert explanation is not None
    text = explanation_text(Translator("ko"), "광역 사업", explanation, {"a": "어린이 놀이터"})
    assert "아직 집계된 투표가 없어요." in text and "0 원씩" not in text
    assert "<b>선정된 사업</b>\n없어요." in text
    assert "‘어린이 놀이터’: 득표가 없었어요." in text


async def test_a_count_that_changed_since_the_preview_is_not_confirmed(harness: Harness) -> None:
    # Paper counts come in between the preview and the final button: nothing is confirmed,
    # the official is told and shown the new count, and confirms that one.
    ids = await prepared(harness)
    await service.cast(harness.db, VOTER, ids["city"], ["b", "c"], DURING_VOTE, 14)
    harness.set_now(AFTER_VOTE)
    await harness.say(ADMIN, "/results")
    await harness.press(ADMIN, "광역 사업")
    replies = await harness.press(ADMIN, "결과 확정 (총회 승인)")
    assert "• 한강 자전거길\n• 공공 와이파이" in replies[-1]["text"]
    async with harness.db.transaction() as session:
        await VotingRepository(session).set_offline_counts(ids["city"], {"a": 3}, "동 주민센터")
    replies = await harness.press(ADMIN, "네, 최종 확정합니다")
    text = replies[-1]["text"]
    assert "보여 드린 뒤로 집계가 바뀌었어요" in text and "확정하지 않았어요" in text
    assert "• 어린이 놀이터\n• 공공 와이파이" in text
    async with harness.db.reading() as session:
        assert not await service.is_confirmed(session, ids["city"])
    replies = await harness.press(ADMIN, "네, 최종 확정합니다")
    assert "결과를 확정했어요" in said(replies)
    async with harness.db.reading() as session:
        stored = await VotingRepository(session).result(ids["city"])
    assert stored is not None and list(stored["selected"]) == ["a", "c"]
    assert not harness.errors.records
