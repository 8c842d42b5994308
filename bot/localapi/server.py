"""The local Bot API over HTTP, with real long polling, on 127.0.0.1.

Point the bot at it with `TELEGRAM_API_BASE_URL=http://127.0.0.1:PORT/bot{token}` and
`TELEGRAM_API_FILE_URL=http://127.0.0.1:PORT/file/bot{token}`.
"""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import parse_qsl

from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler

from bot.localapi.core import LocalBotApi, UploadedFile


class _MethodHandler(RequestHandler):
    def initialize(self, api: LocalBotApi) -> None:
        self.api = api

    async def get(self, token: str, method: str) -> None:
        await self.post(token, method)

    async def post(self, token: str, method: str) -> None:
        if token != self.api.token:
            self._reply({"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        params: dict[str, Any] = {
            name: values[-1].decode() for name, values in self.request.query_arguments.items()
        }
        content_type = self.request.headers.get("Content-Type", "")
        files: dict[str, UploadedFile] = {}
        if content_type.startswith("application/json") and self.request.body:
            try:
                params.update(json.loads(self.request.body))
            except json.JSONDecodeError:
                self._reply(
                    {"ok": False, "error_code": 400, "description": "Bad Request: invalid JSON"}
                )
                return
        elif content_type.startswith("multipart/form-data"):
            for name, values in self.request.body_arguments.items():
                params[name] = values[-1].decode()
            for name, uploads in self.request.files.items():
                upload = uploads[-1]
                files[name] = UploadedFile(upload.filename, upload.body, upload.content_type)
        elif self.request.body:
            params.update(parse_qsl(self.request.body.decode(), keep_blank_values=True))
        self._reply(await self.api.call(method, params, files))

    def _reply(self, body: dict[str, Any]) -> None:
        self.set_status(200 if body["ok"] else int(body["error_code"]))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


class _FileHandler(RequestHandler):
    def initialize(self, api: LocalBotApi) -> None:
        self.api = api

    def get(self, token: str, path: str) -> None:
        stored = self.api.files.get(path.rpartition("/")[2])
        if token != self.api.token or stored is None:
            self.set_status(404)
            self.finish("Not Found")
            return
        self.finish(stored.content)


class LocalBotApiServer:
    def __init__(self, api: LocalBotApi, host: str = "127.0.0.1", port: int = 0) -> None:
        self.api = api
        self.host = host
        self.port = port
        self._server: HTTPServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/bot{{token}}"

    @property
    def file_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot{{token}}"

    async def start(self) -> None:
        app = Application(
            [
                (r"/file/bot([^/]+)/(.+)", _FileHandler, {"api": self.api}),
                (r"/bot([^/]+)/([A-Za-z]+)/?", _MethodHandler, {"api": self.api}),
            ]
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._server = HTTPServer(app)
        self._server.add_sockets([sock])

    async def stop(self) -> None:
        await self.api.close()
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None
