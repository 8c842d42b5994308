"""What `civicbot chat` shows of what the bot does, as Telegram would show it, how typed
lines become updates, and the local Bot API's files across sessions (issue 19)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from bot.cli.chat import Terminal
from bot.localapi.core import LocalBotApi, UploadedFile, placeholder_png
from tests.harness import Harness, said
from tests.proposals.test_flows import ALICE, signed_up, write_until_preview

YOU = 1001


def terminal(tmp_path: Path) -> tuple[LocalBotApi, Terminal, io.StringIO]:
    api = LocalBotApi(files_folder=tmp_path / "files")
    api.user(YOU)
    out = io.StringIO()
    return api, Terminal(api, YOU, out), out


async def ok(api: LocalBotApi, method: str, params: dict[str, Any], **files: UploadedFile) -> Any:
    reply = await api.call(method, params, files)
    assert reply["ok"], reply
    return reply["result"]


async def test_alerts_toasts_and_edits_are_shown(tmp_path: Path) -> None:
    api, _, out = terminal(tmp_path)
    keyboard = {"inline_keyboard": [[{"text": "투표", "callback_data": "v:1"}]]}
    sent = await ok(
        api, "sendMessage", {"chat_id": YOU, "text": "고르세요", "reply_markup": keyboard}
    )
    query = api.press(YOU, sent["message_id"], "v:1")
    await ok(
        api,
        "answerCallbackQuery",
        {"callback_query_id": query, "text": "마감됐어요", "show_alert": True},
    )
    query = api.press(YOU, sent["message_id"], "v:1")
    await ok(api, "answerCallbackQuery", {"callback_query_id": query, "text": "담았어요"})
    edit = {"chat_id": YOU, "message_id": sent["message_id"], "text": "<b>골랐어요</b>"}
    await ok(api, "editMessageText", {**edit, "parse_mode": "HTML"})
    shown = out.getvalue()
    assert f"bot #{sent['message_id']}: 고르세요" in shown
    assert "(alert) 마감됐어요" in shown and "(toast) 담았어요" in shown
    assert f"bot #{sent['message_id']} (edited): 골랐어요" in shown
    await ok(api, "deleteMessage", {"chat_id": YOU, "message_id": sent["message_id"]})
    assert f"bot (deleted #{sent['message_id']})" in out.getvalue()


async def test_photos_documents_and_locations_are_shown_and_saved(tmp_path: Path) -> None:
    api, _, out = terminal(tmp_path)
    png = placeholder_png(1)
    await ok(
        api, "sendPhoto", {"chat_id": YOU, "caption": "통계"}, photo=UploadedFile("c.png", png)
    )
    await ok(api, "sendDocument", {"chat_id": YOU}, document=UploadedFile("mydata.json", b"{}"))
    await ok(api, "sendLocation", {"chat_id": YOU, "latitude": 37.5665, "longitude": 126.978})
    shown = out.getvalue()
    photo = Path(shown.split("[photo, saved to ")[1].split("]")[0])
    document = Path(shown.split("bytes, saved to ")[1].split("]")[0])
    assert photo.read_bytes() == png and "] 통계" in shown
    assert document.name == "mydata.json" and document.read_bytes() == b"{}"
    assert "[location 37.56650, 126.97800]" in shown


async def test_an_album_shows_each_photo(tmp_path: Path) -> None:
    api, _, out = terminal(tmp_path)
    first, second = (api.send_photo(YOU)["photo"][0]["file_id"] for _ in range(2))
    media = [{"type": "photo", "media": first}, {"type": "photo", "media": second}]
    sent = await ok(api, "sendMediaGroup", {"chat_id": YOU, "media": media})
    assert len(sent) == 2 and out.getvalue().count("[photo, saved to ") == 2
    lost = [*media, {"type": "photo", "media": "photo-999"}]
    reply = await api.call("sendMediaGroup", {"chat_id": YOU, "media": lost})
    assert reply["description"] == "Bad Request: wrong file identifier/HTTP URL specified"
    assert out.getvalue().count("[photo, saved to ") == 2  # the album goes whole or not at all


async def test_the_command_menu_is_the_one_this_person_sees(tmp_path: Path) -> None:
    api, term, out = terminal(tmp_path)
    everyone = [{"command": "start", "description": "처음으로"}]
    mine = [*everyone, {"command": "admin", "description": "관리"}]
    await ok(api, "setMyCommands", {"commands": everyone, "language_code": "ko"})
    mine_only = {"type": "chat", "chat_id": YOU}
    await ok(api, "setMyCommands", {"commands": mine, "scope": mine_only, "language_code": "ko"})
    await ok(api, "setMyCommands", {"commands": everyone, "scope": {"type": "chat", "chat_id": 7}})
    term.submit(":menu")
    assert "/start — 처음으로" in out.getvalue() and "/admin — 관리" in out.getvalue()


async def test_typed_numbers_are_answers_and_buttons_are_pressed_with_a_hash(
    tmp_path: Path,
) -> None:
    api, term, out = terminal(tmp_path)
    keyboard = {"inline_keyboard": [[{"text": "취소", "callback_data": "x"}]]}
    await ok(api, "sendMessage", {"chat_id": YOU, "text": "번호?", "reply_markup": keyboard})
    term.submit("1")
    term.submit("=#1")
    term.submit("#1")
    assert term.submit("#2") is None  # no such button: nothing is sent, and it says why
    updates = api.pending_updates()
    assert [u["message"]["text"] for u in updates[:2]] == ["1", "#1"]
    assert updates[2]["callback_query"]["data"] == "x" and len(updates) == 3
    assert "no button #2 (buttons: #1 to #1); to send '#2' as text, type =#2" in out.getvalue()


async def test_files_outlive_a_session_and_a_lost_one_is_refused_clearly(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    first = LocalBotApi(files_folder=folder)
    first.user(YOU)
    photo = first.send_photo(YOU)["photo"][0]["file_id"]
    # A later session: the same folder serves the id the bot stored; new ids do not clash.
    later = LocalBotApi(files_folder=folder)
    later.user(YOU)
    assert (await ok(later, "getFile", {"file_id": photo}))["file_size"] > 0
    assert (await ok(later, "sendPhoto", {"chat_id": YOU, "photo": photo}))["photo"]
    assert later.send_photo(YOU)["photo"][0]["file_id"] != photo
    # Without the folder the id is unknown: Telegram's own answer, not a crash.
    reply = await LocalBotApi().call("getFile", {"file_id": photo})
    assert reply["description"] == "Bad Request: wrong file identifier/HTTP URL specified"


async def test_a_proposal_photo_telegram_lost_is_said_plainly(harness: Harness) -> None:
    h = harness
    await signed_up(h, ALICE)
    await write_until_preview(h)
    card = (await h.press(ALICE, "제출"))[-1]
    h.api.files.clear()  # e.g. another session of the local Bot API, with no files kept
    buttons = [b for row in card["reply_markup"]["inline_keyboard"] for b in row]
    photos = next(b for b in buttons if b["text"] == "사진")
    replies = await h.press_data(ALICE, card["message_id"], photos["callback_data"])
    assert "사진을 더 이상 보여 드릴 수 없어요" in said(replies)
    assert not h.errors.records
