"""The local Bot API answers like Telegram: shapes, errors and real long polling."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from bot.localapi.core import LocalBotApi
from bot.localapi.server import LocalBotApiServer
from bot.localapi.webhook import WebhookDelivery


@pytest.fixture
def api() -> LocalBotApi:
    bot_api = LocalBotApi()
    bot_api.user(1)
    return bot_api


@pytest.mark.parametrize(
    ("method", "params", "code", "description"),
    [
        ("sendMessage", {"chat_id": 1, "text": ""}, 400, "Bad Request: message text is empty"),
        ("sendMessage", {"chat_id": 1, "text": "x" * 4097}, 400,
         "Bad Request: message is too long"),
        ("sendMessage", {"chat_id": 2, "text": "hi"}, 400, "Bad Request: chat not found"),
        (
            "sendMessage",
            {
                "chat_id": 1,
                "text": "hi",
                "reply_markup": json.dumps(
                    {"inline_keyboard": [[{"text": "b", "callback_data": "x" * 65}]]}
                ),
            },
            400,
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        ("editMessageText", {"chat_id": 1, "message_id": 99, "text": "x"}, 400,
         "Bad Request: message to edit not found"),
        ("answerCallbackQuery", {"callback_query_id": "nope"}, 400,
         "Bad Request: query is too old and response timeout expired or query ID is invalid"),
        ("setMyCommands", {"commands": json.dumps([{"command": "Bad!", "description": "d"}])},
         400, "Bad Request: BOT_COMMAND_INVALID"),
        ("sendMessage", {"chat_id": 1, "text": "hi", "reply_markup": "{}"}, 400,
         "Bad Request: can't parse reply keyboard markup JSON object"),
        ("flyToTheMoon", {}, 404, "Not Found"),
    ],
)  # fmt: skip
async def test_errors_have_telegrams_shape(
    api: LocalBotApi, method: str, params: dict[str, object], code: int, description: str
) -> None:
    assert await api.call(method, params) == {
        "ok": False,
        "error_code": code,
        "description": description,
    }


async def test_html_length_counts_visible_text_only(api: LocalBotApi) -> None:
    text = "<b>" + "가" * 4096 + "</b>"
    reply = await api.call("sendMessage", {"chat_id": 1, "text": text, "parse_mode": "HTML"})
    assert reply["ok"]


async def test_blocked_person_gives_403(api: LocalBotApi) -> None:
    api.block(1)
    reply = await api.call("sendMessage", {"chat_id": 1, "text": "hi"})
    assert (reply["error_code"], reply["description"]) == (
        403,
        "Forbidden: bot was blocked by the user",
    )


async def test_editing_without_change_is_not_modified(api: LocalBotApi) -> None:
    sent = await api.call("sendMessage", {"chat_id": 1, "text": "hi"})
    message_id = sent["result"]["message_id"]
    reply = await api.call(
        "editMessageText", {"chat_id": 1, "message_id": message_id, "text": "hi"}
    )
    assert reply["description"].startswith("Bad Request: message is not modified")
    reply = await api.call(
        "editMessageText", {"chat_id": 1, "message_id": message_id, "text": "hello"}
    )
    assert reply["ok"] and api.last_bot_message(1)["text"] == "hello"


async def test_callback_query_is_answered_once(api: LocalBotApi) -> None:
    sent = await api.call("sendMessage", {"chat_id": 1, "text": "pick"})
    query_id = api.press(1, sent["result"]["message_id"], "a:b")
    assert (await api.call("answerCallbackQuery", {"callback_query_id": query_id}))["ok"]
    assert not (await api.call("answerCallbackQuery", {"callback_query_id": query_id}))["ok"]


async def test_long_polling_waits_and_offset_confirms() -> None:
    api = LocalBotApi()
    server = LocalBotApiServer(api)
    await server.start()
    url = server.base_url.format(token=api.token)
    try:
        async with httpx.AsyncClient() as client:
            started = time.monotonic()
            empty = await client.post(f"{url}/getUpdates", data={"timeout": "0.3"})
            assert empty.json() == {"ok": True, "result": []}
            assert time.monotonic() - started >= 0.25  # it really waited

            async def later() -> None:
                await asyncio.sleep(0.1)
                api.send_text(5, "안녕")

            poll = asyncio.create_task(client.post(f"{url}/getUpdates", data={"timeout": "5"}))
            await later()
            updates = (await poll).json()["result"]
            assert updates[0]["message"]["text"] == "안녕"
            # Without the offset the same update comes again; with it, it is gone.
            again = await client.post(f"{url}/getUpdates", data={"timeout": "0"})
            assert again.json()["result"] == updates
            offset = str(updates[0]["update_id"] + 1)
            gone = await client.post(f"{url}/getUpdates", data={"offset": offset, "timeout": "0"})
            assert gone.json()["result"] == []

            wrong = await client.post(server.base_url.format(token="1:x") + "/getMe")
            assert wrong.status_code == 401 and wrong.json()["description"] == "Unauthorized"
            me = await client.get(f"{url}/getMe")
            assert me.json()["result"]["is_bot"] is True
    finally:
        await server.stop()


async def test_files_can_be_fetched_back() -> None:
    api = LocalBotApi()
    api.user(1)
    server = LocalBotApiServer(api)
    await server.start()
    url = server.base_url.format(token=api.token)
    try:
        async with httpx.AsyncClient() as client:
            sent = await client.post(
                f"{url}/sendDocument",
                data={"chat_id": "1"},
                files={"document": ("a.json", b"{}", "application/json")},
            )
            file_id = sent.json()["result"]["document"]["file_id"]
            info = (await client.post(f"{url}/getFile", data={"file_id": file_id})).json()
            path = info["result"]["file_path"]
            content = await client.get(server.file_url.format(token=api.token) + "/" + path)
            assert content.content == b"{}"
    finally:
        await server.stop()


async def test_webhook_delivery_stops_while_the_api_keeps_changing() -> None:
    """Leaving WebhookDelivery ends its loop even when a change wakes it as it stops (with a
    cancelled loop, Python 3.11's wait_for could swallow the cancellation and hang)."""
    bot_api = LocalBotApi()
    stop_poking = asyncio.Event()

    async def poke() -> None:
        while not stop_poking.is_set():
            await bot_api._notify()
            await asyncio.sleep(0)

    poker = asyncio.create_task(poke())
    try:
        for _ in range(50):
            delivery = WebhookDelivery(bot_api)
            await delivery.__aenter__()
            await asyncio.sleep(0.005)
            await asyncio.wait_for(delivery.__aexit__(None, None, None), 2)
    finally:
        stop_poking.set()
        await poker
