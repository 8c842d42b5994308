"""Budget-waste reports through the fake Bot API: the report flow, the reporter's view,
adding information, the officers' queue and actions, permissions, statistics (SPEC §7)."""

from __future__ import annotations

from typing import Any

from bot.config import Settings
from bot.localapi.core import LocalBotApi, UploadedFile
from bot.services import waste as service
from domain.roles import Role
from domain.waste import FileKind, Status, Verdict
from storage.roles import RolesRepository
from storage.waste import NewFile, Report, WasteRepository
from tests.harness import Harness, running_harness, said
from tests.proposals.conftest import seed_programmes, sign_up
from tests.waste.conftest import ADMIN, NOW, TRANSPORT, draft, outbox, photo

ALICE, BOB, OFFICER = 601, 602, 603


async def ready(h: Harness, *users: int) -> None:
    h.set_now(NOW)
    await seed_programmes(h.db)
    await sign_up(h.db, *users)


async def reports(h: Harness) -> list[Report]:
    async with h.db.reading() as session:
        return await WasteRepository(session).all_for_export()


async def send_document(h: Harness, user: int, name: str) -> list[dict[str, Any]]:
    document = {
        "file_id": f"doc-{name}",
        "file_unique_id": f"doc-unique-{name}",
        "file_name": name,
        "mime_type": "application/pdf",
    }
    return await h._act(user, lambda: h.api._user_message(user, document=document))


async def test_a_citizen_reports_waste_step_by_step(harness: Harness) -> None:
    await ready(harness, ALICE)
    replies = await harness.say(ALICE, "/report")
    assert "무슨 일이 있었나요?" in said(replies)
    await harness.say(ALICE, "멀쩡한 보도블록을 해마다 갈아엎고 있습니다. 올해만 세 번째입니다.")
    assert "어느 기관이나 부서의 책임인가요?" in harness.last_text(ALICE)
    await harness.say(ALICE, "마포구청 건설관리과")
    await harness.press(ALICE, "마포구")
    assert "정확히 어디인가요?" in harness.last_text(ALICE)
    await harness._act(ALICE, lambda: harness.api.send_location(ALICE, 37.5663, 126.9019))
    assert "언제 있었던 일인가요?" in harness.last_text(ALICE)
    await harness.say(ALICE, "3월 2일")
    await harness.say(ALICE, "2억 5천만")
    assert "지금 0개" in harness.last_text(ALICE)
    await harness.send_photo(ALICE)
    await send_document(harness, ALICE, "계약서.pdf")
    assert "지금 2개" in harness.last_text(ALICE)
    await harness.press(ALICE, "완료")
    await harness.press(ALICE, "네, 이름을 밝혀도 됩니다")
    await harness.press(ALICE, "연락하지 마세요")
    preview = harness.last_text(ALICE)
    for part in ("기관·부서: 마포구청 건설관리과", "장소: 마포구 · 위치 첨부됨",
                 "일시: 2027년 3월 2일 (화)", "낭비 추정액: 2억 5,000만 원", "증거 자료: 2개",
                 "이름 공개: 예", "담당자 연락 동의: 아니요"):  # fmt: skip
        assert part in preview, part
    before = len(harness.api.calls)
    replies = await harness.press(ALICE, "제출")
    assert "접수번호: W-2027-000001" in said(replies)
    # The preview becomes the receipt in one edit (its buttons are not taken off first).
    assert harness.calls_since(before) == ["answerCallbackQuery", "editMessageText"]
    # 30 working days from Wed 10 Mar 2027, the day of receipt included.
    assert "답변 기한은 4월 20일(화) 24:00" in said(replies)
    (report,) = await reports(harness)
    assert report.reporter_id == ALICE and report.reporter_name == "시민"
    assert report.reporter_username is None  # no contact consent: no handle kept
    assert (report.district, report.latitude, report.amount) == ("mapo", 37.5663, 250_000_000)
    async with harness.db.reading() as session:
        files = await WasteRepository(session).files(report.id)
    assert [(f.kind, f.file_name, f.mime_type) for f in files] == [
        (FileKind.PHOTO, None, "image/jpeg"),
        (FileKind.DOCUMENT, "계약서.pdf", "application/pdf"),
    ]
    # The receipt's button opens the report, with its history, below the receipt.
    replies = await harness.press(ALICE, "신고 보기")
    card = replies[-1]["text"]
    assert card.startswith("<b>W-2027-000001</b> — 접수") and "신고 접수" in card
    assert "접수번호: W-2027-000001" in harness.texts(ALICE)[-2]
    assert not harness.errors.records


async def test_a_draft_and_its_files_survive_a_restart(settings: Settings) -> None:
    api = LocalBotApi()
    async with running_harness(settings, api) as first:
        await ready(first, ALICE)
        await first.say(ALICE, "/report")
        await first.say(ALICE, "구청 앞 분수대를 만든 지 두 달 만에 철거하고 새로 짓습니다.")
        for label in ("모르겠어요", "한 자치구가 아님 / 모름", "건너뛰기", "모름 / 계속되는 중",
                      "모르겠어요"):  # fmt: skip
            await first.press(ALICE, label)
        await first.send_photo(ALICE)
        await first.send_photo(ALICE)
        assert "지금 2개" in first.last_text(ALICE)
    async with running_harness(settings, api) as second:
        second.set_now(NOW)
        replies = await send_document(second, ALICE, "견적서.hwp")
        assert "지금 3개" in replies[-1]["text"]
        await second.press(ALICE, "완료")
        await second.press(ALICE, "아니요, 익명으로 해 주세요")
        await second.press(ALICE, "연락하지 마세요")
        await second.press(ALICE, "제출")
        (report,) = await reports(second)
        assert report.file_count == 3 and report.reporter_name is None
        assert (report.agency, report.district, report.occurred_on, report.amount) == (
            None, None, None, None,
        )  # fmt: skip
    # Interrupted with /report again: the unfinished report goes on, files and all.
    async with running_harness(settings, api) as third:
        third.set_now(NOW)
        await third.say(ALICE, "/report")
        await third.say(ALICE, "공원 가로등을 멀쩡한데도 전부 교체하고 있습니다. 이상합니다.")
        await third.press(ALICE, "모르겠어요")
        await third.say(ALICE, "/report")
        assert "작성 중인 신고가 있어요" in third.texts(ALICE)[-2]
        assert "어느 자치구" in third.last_text(ALICE)


async def test_the_daily_limit(harness: Harness) -> None:
    await ready(harness, ALICE)
    for _ in range(5):
        assert (await service.submit(harness.db, ALICE, draft(), NOW)).report is not None
    replies = await harness.say(ALICE, "/report")
    assert said(replies) == "오늘 신고할 수 있는 건수를 모두 쓰셨어요. 내일 다시 해 주세요."
    replies = await harness.say(BOB, "/report")
    assert said(replies) == "먼저 /start로 가입해 주세요."


async def test_bad_input_at_every_kind_of_step(harness: Harness) -> None:
    await ready(harness, ALICE)
    await harness.say(ALICE, "/report")
    replies = await harness.say(ALICE, "낭비")
    assert "10자 이상" in said(replies)
    replies = await harness.send_photo(ALICE)  # a photo where text is expected
    assert "받을 수 없어요" in said(replies) and "무슨 일이 있었나요?" in said(replies)
    replies = await harness.say(ALICE, "가" * 2001)
    assert "2,000자 이내로" in said(replies)
    await harness.say(ALICE, "시청 로비 화분을 매달 통째로 바꿉니다. 한 번에 수백만 원입니다.")
    replies = await harness.say(ALICE, "가" * 101)
    assert "2–100자" in said(replies)
    await harness.press(ALICE, "모르겠어요")
    replies = await harness.say(ALICE, "아틀란티스구")
    assert "“아틀란티스구”라는 자치구를 찾지 못했어요." in said(replies)
    # A forged district and a button of an earlier question change nothing.
    question = harness.api.bot_messages(ALICE)[-1]
    assert "어느 자치구" in question["text"]
    await harness.press_data(ALICE, question["message_id"], "rp:dist:atlantis")
    replies = await harness.press_data(ALICE, question["message_id"], "rp:submit")
    assert replies == [] and harness.api.bot_messages(ALICE)[-1] == question  # asked in place
    await harness.say(ALICE, "중구")
    await harness.press(ALICE, "건너뛰기")
    replies = await harness.say(ALICE, "2099-01-01")
    assert "아직 오지 않은 날짜예요." in said(replies)
    replies = await harness.say(ALICE, "언젠가")
    assert "날짜를 읽지 못했어요" in said(replies)
    await harness.say(ALICE, "2027.3.1")
    replies = await harness.say(ALICE, "엄청 많이")
    assert "금액을 읽지 못했어요" in said(replies)
    replies = await harness.say(ALICE, "/programmes")  # a command mid-flow
    assert "지금은 예산낭비신고 작성 중이에요" in said(replies)
    await harness.say(ALICE, "300만")
    replies = await harness.say(ALICE, "사진 보낼게요")  # text where files are expected
    assert "지금은 이 입력을 받을 수 없어요" in said(replies)
    for _ in range(10):
        await harness.send_photo(ALICE)
    replies = await harness.send_photo(ALICE)
    assert "파일은 10개까지" in said(replies)
    replies = await harness.press(ALICE, "이전")
    assert "낭비된 금액" in replies[-1]["text"]
    await harness.press(ALICE, "취소")
    assert "작성 중이던 신고를 지웠어요" in harness.last_text(ALICE)
    assert await reports(harness) == []
    assert not harness.errors.records


async def press_forged(h: Harness, user: int, data: str) -> list[dict[str, Any]]:
    """Press `data` as if it were a button on the person's latest message."""
    return await h.press_data(user, h.api.bot_messages(user)[-1]["message_id"], data)


async def make_officer(h: Harness, user: int, scope: str) -> None:
    await sign_up(h.db, user)
    async with h.db.transaction() as session:
        await RolesRepository(session).grant(user, Role.WASTE_OFFICER, NOW, scope=scope)


async def test_an_officer_handles_a_case_and_the_reporter_is_told(harness: Harness) -> None:
    await ready(harness, ALICE, ADMIN)
    lost = NewFile(FileKind.DOCUMENT, "gone", "gone-unique", "application/pdf", "견적서.pdf")
    report = (await service.submit(harness.db, ALICE, draft(files=(photo(1), lost)), NOW)).report
    assert report is not None
    replies = await harness.say(ADMIN, "/cases")
    listing = replies[-1]["text"]
    assert "1건 · 전체 기한 경과 0건" in listing and "W-2027-000001 · 접수 · 마포구" in listing
    replies = await harness.press(ADMIN, "W-2027-000001")
    case = replies[-1]["text"]
    assert "신고인(연락 동의):" in case and "@kimcitizen" in case
    # Evidence is sent again by its Telegram file id; one Telegram no longer has is named.
    harness.api.files["photo-1"] = UploadedFile("photo.jpg", b"jpeg")
    replies = await harness.press(ADMIN, "증거 자료 (2)")
    assert replies[0]["photo"][0]["file_id"] == "photo-1"
    assert replies[-1]["text"] == "증거 자료 1개를 보여 드릴 수 없어요."
    await harness.press(ADMIN, "내가 맡기")
    await harness.press(ADMIN, "조사 시작")
    await harness.press(ADMIN, "답변하기…")
    await harness.press(ADMIN, "인정")
    replies = await harness.say(ADMIN, "엄청")
    assert "금액을 원 단위로" in said(replies)
    await harness.say(ADMIN, "1억")
    replies = await harness.say(ADMIN, "교체 계약을 해지하고 남은 예산을 환수했습니다.")
    assert "처리했어요. 신고인에게 알렸어요." in said(replies)
    await harness.press(ADMIN, "성과금 결정…")
    await harness.say(ADMIN, "300만")
    replies = await harness.press(ADMIN, "종결하기")
    assert "— 종결" in replies[-1]["text"]
    # The "Answer…" button of an older card: refused before anything is typed.
    replies = await press_forged(harness, ADMIN, f"wc:a:{report.id}:ans")
    assert said(replies) == "지금 상태에서는 그렇게 바꿀 수 없어요."
    done = (await reports(harness))[0]
    assert (done.status, done.verdict, done.saved_amount, done.reward) == (
        Status.CLOSED, Verdict.SUBSTANTIATED, 100_000_000, 3_000_000,
    )  # fmt: skip
    told = [text for user, _, text in await outbox(harness.db) if user == ALICE]
    assert [text.split("\n")[0] for text in told] == [
        "예산낭비신고 W-2027-000001: 담당 배정",
        "예산낭비신고 W-2027-000001: 조사 시작",
        "예산낭비신고 W-2027-000001: 답변 완료",
        "예산낭비신고 W-2027-000001: 성과금 결정",
        "예산낭비신고 W-2027-000001: 종결",
    ]
    assert not harness.errors.records


async def test_officers_are_picked_and_shown_by_name(harness: Harness) -> None:
    await ready(harness, ALICE, ADMIN)
    await make_officer(harness, OFFICER, TRANSPORT)
    harness.api.name(OFFICER, "최담당", "Choi_Officer")
    await harness.say(OFFICER, "/help")  # the bot sees the officer's name
    report = (await service.submit(harness.db, ALICE, draft(), NOW)).report
    assert report is not None
    await harness.say(ADMIN, "/cases")
    await harness.press(ADMIN, "W-2027-000001")
    replies = await harness.press(ADMIN, "담당자에게 배정…")
    assert "담당자를 고르거나 @사용자명을 입력해 주세요." in said(replies)
    replies = await harness.press(ADMIN, "최담당 (@choi_officer)")
    assert "처리했어요. 신고인에게 알렸어요." in said(replies)
    case = replies[-1]["text"]
    assert "담당자: 최담당 (@choi_officer)" in case and f"담당자: {OFFICER}" not in case
    assert (await reports(harness))[0].officer_id == OFFICER
    # By @username too; someone unknown is refused with the way on.
    await harness.press(ADMIN, "담당자에게 배정…")
    replies = await harness.say(ADMIN, "@nobody_here")
    assert "그 @사용자명으로 가입한 분이 없어요." in said(replies)
    replies = await harness.say(ADMIN, "@CHOI_OFFICER")
    assert "처리했어요" in said(replies)
    assert not harness.errors.records


async def test_the_reporter_adds_information_from_the_report(harness: Harness) -> None:
    await ready(harness, ALICE)
    report = (await service.submit(harness.db, ALICE, draft(), NOW)).report
    assert report is not None
    await harness.say(ALICE, "/start")
    messages = harness.api.bot_messages(ALICE)
    await harness.press_data(ALICE, messages[-1]["message_id"], f"wr:v:{report.id}")
    await harness.press(ALICE, "정보 추가")
    replies = await harness.press(ALICE, "보내기")
    assert "아직 보낼 내용이 없어요." in said(replies)
    await harness.say(ALICE, "작년에도 같은 공사를 했습니다.")
    replies = await send_document(harness, ALICE, "작년_공사_사진.pdf")
    assert "파일 1개, 메시지 있음" in replies[-1]["text"]
    replies = await harness.press(ALICE, "보내기")
    assert "보내 주신 정보를 신고에 추가했어요." in said(replies)
    assert "신고인이 정보를 추가함: 작년에도 같은 공사를 했습니다." in replies[-1]["text"]
    assert (await reports(harness))[0].file_count == 2


async def test_citizens_and_other_officers_cannot_reach_private_fields(harness: Harness) -> None:
    await ready(harness, ALICE, BOB)
    await make_officer(harness, OFFICER, "마포구청 건설관리과")
    report = (await service.submit(harness.db, ALICE, draft(agency=TRANSPORT), NOW)).report
    assert report is not None
    await harness.say(BOB, "/start")
    await harness.say(OFFICER, "/start")
    # Bob forges every button of the reporter's view and of the officers' screens.
    for data in (f"wr:v:{report.id}", f"wi:{report.id}"):
        replies = await press_forged(harness, BOB, data)
        assert said(replies) == "없는 신고이거나 본인의 신고가 아니에요."
    officers_only = [
        f"wc:c:{report.id}", f"wc:e:{report.id}", f"wc:do:{report.id}:close",
        f"wc:do:{report.id}:me", f"wc:a:{report.id}:ans", f"wc:a:{report.id}:dept",
    ]  # fmt: skip
    for user, forged in (
        (BOB, [*officers_only, "wc:pick:st", "wc:pg:0"]),
        (OFFICER, officers_only),
    ):
        for data in forged:
            replies = await press_forged(harness, user, data)
            assert said(replies) == "예산낭비신고 담당자만 쓸 수 있어요.", (user, data)
    replies = await harness.say(BOB, "/cases")
    assert said(replies) == "예산낭비신고 담당자만 쓸 수 있어요."
    replies = await harness.say(OFFICER, "/cases")
    assert "0건" in replies[-1]["text"] and "W-2027" not in replies[-1]["text"]
    assert (await reports(harness))[0].status is Status.RECEIVED
    assert not harness.errors.records


async def test_queue_filters_and_the_overdue_list(harness: Harness) -> None:
    await ready(harness, ALICE, ADMIN)
    late = (await service.submit(harness.db, ALICE, draft(district="guro"), NOW)).report
    assert late is not None
    harness.set_now(NOW.replace(day=20))
    await service.submit(
        harness.db, ALICE, draft(agency="마포구청 건설관리과"), NOW.replace(day=20)
    )
    harness.set_now(late.due_at.replace(day=late.due_at.day + 1))
    replies = await harness.say(ADMIN, "/cases")
    assert "2건 · 전체 기한 경과 1건" in replies[-1]["text"]
    replies = await harness.press(ADMIN, "기한 경과만")
    assert "W-2027-000001" in replies[-1]["text"] and "W-2027-000002" not in replies[-1]["text"]
    assert "기한 경과" in replies[-1]["text"]
    await harness.press(ADMIN, "기한 전체 보기")
    await harness.press(ADMIN, "기관")
    replies = await harness.press(ADMIN, "마포구청 건설관리과")
    assert "W-2027-000002" in replies[-1]["text"] and "W-2027-000001" not in replies[-1]["text"]
    await harness.press(ADMIN, "자치구")
    replies = await harness.press(ADMIN, "구로구")
    assert "조건에 맞는 신고가 없어요." in replies[-1]["text"]  # 마포구청's is in 마포구
    await harness.press(ADMIN, "기관")
    await harness.press(ADMIN, "모든 기관")
    await harness.press(ADMIN, "상태")
    replies = await harness.press(ADMIN, "배정됨")
    assert "조건에 맞는 신고가 없어요." in replies[-1]["text"]
    replies = await harness.say(ADMIN, "/cases w-2027-000002")
    assert replies[-1]["text"].startswith("<b>W-2027-000002</b>")


async def test_public_statistics_with_a_png_chart(harness: Harness) -> None:
    await ready(harness, ALICE)
    replies = await harness.say(BOB, "/wastestats")  # public: no sign-up needed
    assert "신고: 0건" in said(replies) and not any("photo" in m for m in replies)
    await service.submit(harness.db, ALICE, draft(amount=4_000_000_000), NOW)
    await service.submit(harness.db, ALICE, draft(district="guro", amount=None), NOW)
    replies = await harness.say(BOB, "/wastestats")
    text = said(replies)
    assert "신고: 2건" in text and "상태별: 접수 2" in text
    assert "자치구별: 구로구 1 · 마포구 1" in text
    assert "신고된 낭비 추정액: 40억 원" in text and "미배정 2" in text
    assert "김시민" not in text
    chart = replies[-1]
    file_id = chart["photo"][0]["file_id"]
    assert harness.api.files[file_id].content.startswith(b"\x89PNG\r\n\x1a\n")
    assert any(call == "sendChatAction" for call, _ in harness.api.calls)
