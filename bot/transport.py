"""The Bot API transport: python-telegram-bot's `BaseRequest` on aiohttp (issue 22).

PTB's default transport is httpx. Per Bot API call aiohttp costs this process less CPU
(bench/bench_floor.py measures the whole bot; `TELEGRAM_TRANSPORT=httpx` brings PTB's
default back). Errors are raised as PTB raises them from httpx — `TimedOut` for timeouts,
`NetworkError` for the rest, with aiohttp's exception as the cause — so handlers and the
outbox sender see the same classes whichever transport runs. The sender resends only what
certainly never left this machine; for aiohttp that is `NOT_SENT` below.
"""

from __future__ import annotations

from typing import Final

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

# Failures before the request was written: no connection could be made or taken from the
# pool in time (aiohttp's connect timeout covers both). Anything later — a read timeout, a
# dropped connection — may come after Telegram got the request.
NOT_SENT: Final = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)


class AiohttpRequest(BaseRequest):
    """One aiohttp session with up to `connection_pool_size` connections. Timeouts as in
    PTB's `HTTPXRequest` (seconds): `connect_timeout` + `pool_timeout` bound getting a
    connection, `read_timeout` each read; aiohttp has no write timeout, so `write_timeout`
    is accepted and not applied (the read timeout still ends a stalled exchange)."""

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None
        self._headers = {"User-Agent": self.USER_AGENT}

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers=self._headers,
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _timeout(
        self,
        read_timeout: ODVInput[float],
        connect_timeout: ODVInput[float],
        pool_timeout: ODVInput[float],
    ) -> aiohttp.ClientTimeout:
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = (
            self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        )
        pool = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        waiting = None if connect is None or pool is None else connect + pool
        return aiohttp.ClientTimeout(
            total=None, connect=waiting, sock_connect=connect, sock_read=read
        )

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        body: aiohttp.FormData | dict[str, str] | None = None
        if request_data is not None:
            parameters = request_data.json_parameters
            if request_data.contains_files:
                form = aiohttp.FormData()
                for name, value in parameters.items():
                    form.add_field(name, value)
                for name, part in request_data.multipart_data.items():
                    filename, content, *rest = part
                    form.add_field(
                        name,
                        content,
                        filename=filename or name,
                        content_type=rest[0] if rest else "application/octet-stream",
                    )
                body = form
            elif parameters:
                body = parameters  # form-urlencoded, as PTB sends with httpx
        try:
            async with session.request(
                method,
                url,
                data=body,
                timeout=self._timeout(read_timeout, connect_timeout, pool_timeout),
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{error.__class__.__name__}: {error}") from error
