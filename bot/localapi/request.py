"""python-telegram-bot talking to a `LocalBotApi` in the same process (for flow tests)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.request import BaseRequest, RequestData

from bot.localapi.core import LocalBotApi, UploadedFile


def split_url(url: str) -> tuple[str, str]:
    """`…/bot<token>/<method>` → (token, method)."""
    head, _, method = url.rstrip("/").rpartition("/")
    token = head.rpartition("/bot")[2]
    return token, method


def uploaded_files(request_data: RequestData | None) -> dict[str, UploadedFile]:
    files: dict[str, UploadedFile] = {}
    if request_data is None:
        return files
    for name, part in request_data.multipart_data.items():
        filename, content, *rest = part
        data = content if isinstance(content, bytes) else content.read()
        files[name] = UploadedFile(filename or name, data, rest[0] if rest else None)
    return files


class LocalRequest(BaseRequest):
    def __init__(self, api: LocalBotApi) -> None:
        self.api = api

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if "/file/bot" in url:  # a download (File.download_*): the stored bytes, as Telegram
            token_and_path = unquote(url.partition("/file/bot")[2])
            stored = self.api.files.get(url.rpartition("/")[2])
            if not token_and_path.startswith(f"{self.api.token}/") or stored is None:
                return 404, b"Not Found"
            return 200, stored.content
        token, api_method = split_url(url)
        if token != self.api.token:
            body: dict[str, Any] = {"ok": False, "error_code": 401, "description": "Unauthorized"}
        else:
            params = request_data.json_parameters if request_data else {}
            body = await self.api.call(api_method, dict(params), uploaded_files(request_data))
        status = 200 if body["ok"] else int(body["error_code"])
        return status, json.dumps(body).encode()
