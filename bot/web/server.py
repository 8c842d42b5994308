"""Serving the web side next to the bot, in one process and one event loop (uvicorn, as in
python-telegram-bot's customwebhookbot example): with long polling the pages get their own
port; with a webhook, Telegram's updates and the pages share the webhook's port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import uvicorn

from bot.app import running
from bot.context import CivicApplication
from bot.web.app import Webhook, create_web_app

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The bot's process decides when to stop (bot/web/server.py:stop_on_signals).
        yield


def bind(listen: str, port: int, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket (port 0: any free port); raises OSError when it is taken."""
    family = socket.AF_INET6 if ":" in listen else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((listen, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


def local_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def public_url_for(configured: str, webhook_url: str | None, sock: socket.socket) -> str:
    """PUBLIC_URL, else the webhook URL without its last path part, else the local address."""
    if configured:
        return configured
    if webhook_url:
        parts = urlsplit(webhook_url)
        prefix = parts.path.rsplit("/", 1)[0]
        return f"{parts.scheme}://{parts.netloc}{prefix}"
    return local_url(sock)


class WebServer:
    """The web side on a socket, started and stopped with the bot."""

    def __init__(
        self, application: CivicApplication, sock: socket.socket, webhook: Webhook | None = None
    ) -> None:
        self.sock = sock
        self.app = create_web_app(application, application.web_url, webhook)
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            proxy_headers=True,
            timeout_graceful_shutdown=5,
        )
        self.server = _Server(config)

    async def serve(self) -> None:
        await self.server.serve(sockets=[self.sock])

    def stop(self) -> None:
        self.server.should_exit = True

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        task = asyncio.create_task(self.serve())
        while not self.server.started and not task.done():
            await asyncio.sleep(0.01)
        try:
            yield
        finally:
            self.stop()
            await task


def stop_on_signals(server: WebServer) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, server.stop)


async def serve_polling(application: CivicApplication, sock: socket.socket) -> None:
    """Long polling and the pages, until SIGINT or SIGTERM."""
    server = WebServer(application, sock)
    stop_on_signals(server)
    async with running(application):
        log.info("Web pages at %s (public address %s)", local_url(sock), application.web_url)
        await server.serve()


async def serve_webhook(
    application: CivicApplication, sock: socket.socket, url: str, webhook: Webhook
) -> None:
    """Telegram's updates by webhook and the pages on one port, until SIGINT or SIGTERM."""
    server = WebServer(application, sock, webhook)
    stop_on_signals(server)
    await application.initialize()
    try:
        if application.post_init is not None:
            await application.post_init(application)
        await application.bot.set_webhook(url=url, secret_token=webhook.secret)
        await application.start()
        try:
            log.info("Webhook and web pages at %s", local_url(sock))
            await server.serve()
        finally:
            await application.stop()
    finally:
        await application.shutdown()
