"""The aiohttp transport (bot/transport.py) over real sockets: it carries the Bot API, and
its failures reach PTB and the outbox sender as PTB's httpx transport's do."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import NetworkError, TimedOut
from telegram.request import HTTPXRequest

from bot.app import build_application
from bot.config import Settings
from bot.localapi.core import LocalBotApi
from bot.localapi.server import LocalBotApiServer
from bot.notifications.sender import certainly_not_sent
from bot.transport import AiohttpRequest

TOKEN = "123456:LOCAL-TEST-TOKEN"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """Accepts connections and reads requests, and never answers: the base URL."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read(65536)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/bot"
    for writer in held:
        writer.close()
    server.close()


def bot_at(base_url: str, request: AiohttpRequest) -> Bot:
    return Bot(TOKEN, base_url=base_url, request=request, get_updates_request=request)


@asynccontextmanager
async def opened(request: AiohttpRequest) -> AsyncIterator[AiohttpRequest]:
    """The transport alone: a Bot would call getMe first."""
    await request.initialize()
    try:
        yield request
    finally:
        await request.shutdown()


async def test_the_bot_api_is_reached_over_aiohttp() -> None:
    api = LocalBotApi()
    server = LocalBotApiServer(api)
    await server.start()
    try:
        api.user(7)
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("공감", callback_data="pr:1")]])
        async with bot_at(server.base_url, AiohttpRequest()) as bot:
            sent = await bot.send_message(7, "안녕하세요 & <b>", reply_markup=keyboard)
            photo = await bot.send_photo(7, b"\x89PNG\r\n\x1a\n" + bytes(64), caption="사진")
        text, picture = api.bot_messages(7)
        assert (sent.message_id, text["text"]) == (text["message_id"], "안녕하세요 & <b>")
        assert text["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "pr:1"
        assert (photo.caption, picture["caption"]) == ("사진", "사진")  # multipart upload
    finally:
        await server.stop()


async def test_a_refused_connection_is_a_network_error_certainly_not_sent() -> None:
    async with opened(AiohttpRequest()) as request:
        with pytest.raises(NetworkError) as raised:
            await request.post(f"http://127.0.0.1:{free_port()}/bot{TOKEN}/sendMessage")
    assert certainly_not_sent(raised.value)


async def test_a_read_timeout_is_timed_out_and_may_have_been_delivered(silent_server: str) -> None:
    async with opened(AiohttpRequest(read_timeout=0.2)) as request:
        with pytest.raises(TimedOut) as raised:
            await request.post(f"{silent_server}{TOKEN}/sendMessage")
    assert not certainly_not_sent(raised.value)


async def test_no_free_connection_in_time_is_timed_out_and_certainly_not_sent(
    silent_server: str,
) -> None:
    request = AiohttpRequest(
        connection_pool_size=1, read_timeout=5, connect_timeout=0.1, pool_timeout=0.1
    )
    url = f"{silent_server}{TOKEN}/sendMessage"
    async with opened(request):
        first = asyncio.create_task(request.post(url))  # holds the only connection
        await asyncio.sleep(0.1)
        with pytest.raises(TimedOut) as raised:
            await request.post(url)
        first.cancel()
    assert certainly_not_sent(raised.value)


def test_the_transport_is_aiohttp_unless_httpx_is_asked_for(settings: Settings) -> None:
    ours = build_application(settings, TOKEN)
    assert isinstance(ours.bot.request, AiohttpRequest)
    theirs = build_application(settings.model_copy(update={"telegram_transport": "httpx"}), TOKEN)
    assert isinstance(theirs.bot.request, HTTPXRequest)
