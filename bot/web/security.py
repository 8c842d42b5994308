"""Standard headers on every response: a Content-Security-Policy that allows only this site's
own scripts and styles (no inline code, no CDN), and the usual hardening headers."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Telegram's web clients show a Mini App in a frame; nothing else may frame the pages.
TELEGRAM_FRAMES = "https://web.telegram.org https://webk.telegram.org https://webz.telegram.org"


def content_security_policy(tile_url: str, mini_app: bool) -> str:
    images = "'self' data: blob:"
    if tile_url:
        parts = urlsplit(tile_url)
        images += f" {parts.scheme}://{parts.netloc.replace('{s}', '*')}"
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src {images}",
            "connect-src 'self'",
            "font-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            f"frame-ancestors {TELEGRAM_FRAMES if mini_app else chr(39) + 'none' + chr(39)}",
        )
    )


class SecurityHeaders:
    def __init__(self, app: ASGIApp, tile_url: str, https: bool) -> None:
        self.app = app
        self.public = content_security_policy(tile_url, mini_app=False)
        self.mini_app = content_security_policy(tile_url, mini_app=True)
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        in_app = str(scope.get("path", "")).startswith("/app")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = self.mini_app if in_app else self.public
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
                headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                if not in_app:
                    headers["X-Frame-Options"] = "DENY"
                if self.https:
                    headers["Strict-Transport-Security"] = "max-age=31536000"
            await send(message)

        await self.app(scope, receive, with_headers)
