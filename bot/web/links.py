"""The way into the web side from the chat: the menu button and WebApp buttons, shown when
the pages have a public HTTPS address (Telegram opens Mini Apps over HTTPS only)."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, MenuButtonWebApp, WebAppInfo
from telegram.error import TelegramError

from bot.context import CivicApplication
from bot.i18n import N_, Translator

log = logging.getLogger(__name__)

MENU_LABEL = N_("Participate")


def mini_app_url(web_url: str, path: str = "") -> str | None:
    """The Mini App's address for `path` (e.g. "ballot/3"), or None without HTTPS."""
    if not web_url.startswith("https://"):
        return None
    return f"{web_url}/app" + (f"/{path}" if path else "")


def webapp_button(web_url: str, label: str, path: str = "") -> InlineKeyboardButton | None:
    url = mini_app_url(web_url, path)
    return None if url is None else InlineKeyboardButton(label, web_app=WebAppInfo(url))


async def set_menu_button(application: CivicApplication) -> None:
    """The button beside the message field opens the Mini App (SPEC §12)."""
    url = mini_app_url(application.web_url)
    if url is None:
        return
    t = Translator(application.services.settings.default_language)
    try:
        await application.bot.set_chat_menu_button(
            menu_button=MenuButtonWebApp(t.gettext(MENU_LABEL), WebAppInfo(url))
        )
    except TelegramError as error:
        log.warning("The menu button could not be set: %s", error)
