"""`civicbot chat`: the real bot against the built-in local Bot API, in the terminal.

No Telegram account or token: the bot long-polls a local HTTP Bot API, and what you type is
sent as you. Buttons are listed as numbered choices; type the number to press one.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import logging
import re
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, unquote_plus
from zoneinfo import ZoneInfo

from bot.app import build_application, running
from bot.config import Settings
from bot.localapi.core import LocalBotApi
from bot.localapi.server import LocalBotApiServer
from bot.web.auth import sign_init_data
from bot.web.server import WebServer, bind, local_url
from storage.clock import utcnow
from storage.db import open_database

SEOUL = ZoneInfo("Asia/Seoul")

TAG = re.compile(r"<[^>]+>")
BUTTON = re.compile(r"#(\d+)")
INTRO = """\
시민참여봇 — local chat (no Telegram needed). You are user {user_id}.
Whatever you type is sent to the bot as you typed it: answers, numbers, /commands.
Press a listed button by its number with '#': '#1' presses [#1]. ('=TEXT' sends TEXT as is,
e.g. '=#1'.) Photos and files the bot sends are saved to {files}/ (the path is printed).
Also: ':photo', ':location LAT LON', ':contact PHONE', ':file PATH' (send a document, e.g. a
programme file), ':menu' (the command menu), ':app' (a fresh Mini App link), ':quit'.
':at 2027-07-25T12:00' moves the bot's clock (Seoul time) to try a stage of the yearly cycle.
Try every programme at once with open stages and sample data: civicbot chat --demo (make demo).
"""
WEB = """Web pages: {url}/
Mini App as you (as Telegram would open it): {app}
"""
DEMO_BANNER = """\
==================================================================================
 DEMO — 데모 데이터: a throw-away database with demo programmes open now ([데모] …),
 demo citizens, proposals, panel applicants and a ballot. Nothing here is real.{admin}
==================================================================================
"""
DEMO_ADMIN = "\n You are an admin in this demo: /admin opens the officials' side."
DEMO_CITIZEN = "\n Add --as-admin (make demo does) to try the officials' side too: /admin."


def register(commands: argparse._SubParsersAction[Any]) -> None:
    parser = commands.add_parser("chat", help="talk to the bot in this terminal, no token needed")
    parser.add_argument("--user-id", type=int, default=1001, help="your simulated Telegram id")
    parser.add_argument("--language", default="ko", help="your client's language code (ko, en)")
    parser.add_argument(
        "--fresh", action="store_true", help="use a throw-away database instead of DATABASE_URL"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="a throw-away database with a demo programme of each kind open now, and sample data",
    )
    parser.add_argument(
        "--as-admin", action="store_true", help="make you an admin (with --demo: try /admin)"
    )
    parser.add_argument(
        "--files",
        type=Path,
        help="folder for the photos and files sent (default: next to the SQLite database)",
    )
    parser.add_argument(
        "--at",
        type=seoul_time,
        help="start the bot's clock at this Seoul time, e.g. 2027-07-25T12:00 (it then runs on)",
    )
    parser.set_defaults(func=run)


def seoul_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=SEOUL)


class Clock:
    """The bot's clock: real time, or running on from a moment chosen to try a stage."""

    def __init__(self, start: datetime | None = None) -> None:
        self.offset = timedelta(0)
        if start is not None:
            self.move_to(start)

    def move_to(self, moment: datetime) -> None:
        self.offset = moment - utcnow()

    def __call__(self) -> datetime:
        return utcnow() + self.offset


def plain(text: str, params: dict[str, Any]) -> str:
    if str(params.get("parse_mode", "")).upper() == "HTML":
        return html.unescape(TAG.sub("", text))
    return text


class Terminal:
    """Prints what the bot does, as Telegram would show it, and turns typed lines into a
    person's updates."""

    def __init__(
        self,
        api: LocalBotApi,
        user_id: int,
        out: TextIO,
        clock: Clock | None = None,
        language: str = "ko",
    ) -> None:
        self.api = api
        self.clock = clock or Clock()
        self.user_id = user_id
        self.language = language
        self.out = out
        # (message_id, label, what pressing does): callback data, or "url:…", "inline:…"
        self.inline: list[tuple[int, str, str]] = []
        self.keyboard: list[str] = []
        self.menu: list[dict[str, Any]] = []
        # Changes to the command menu are shown once the session has started (the bot sets
        # several scopes while starting; `print_menu` shows the one this person sees then).
        self.announce_menu = False
        self.last_activity = time.monotonic()
        # Whether the bot has no update in hand (set by `chat`); the offset moves past an
        # update once it is recorded, before it is handled.
        self.idle: Callable[[], bool] = lambda: True
        # Updates sent, and how many the bot has handled (set by `chat`: its running count).
        self.sent = 0
        self.handled: Callable[[], int] = lambda: self.sent
        api.listeners.append(self.on_call)

    def on_call(self, method: str, params: dict[str, Any], result: Any) -> None:
        self.last_activity = time.monotonic()
        if method == "answerInlineQuery":
            self.show_inline_results(params)
        elif method == "answerCallbackQuery":
            self.show_callback_answer(params)
        elif method in ("setMyCommands", "deleteMyCommands"):
            self.show_menu_if_changed()
        if params.get("chat_id") != self.user_id:
            return
        if method == "deleteMessage":
            print(f"bot (deleted #{params.get('message_id')})", file=self.out)
            self.inline = [entry for entry in self.inline if entry[0] != params.get("message_id")]
        if method == "sendMediaGroup" and isinstance(result, list):
            for message in result:
                self.show(message, params, edited=False)
        if not isinstance(result, dict):
            return
        if method in ("sendMessage", "sendPhoto", "sendDocument", "sendLocation"):
            self.show(result, params, edited=False)
            markup = params.get("reply_markup") or {}
            if "keyboard" in markup:
                self.keyboard = [
                    b["text"] if isinstance(b, dict) else b
                    for row in markup["keyboard"]
                    for b in row
                ]
            elif markup.get("remove_keyboard"):
                self.keyboard = []
        elif method == "editMessageText":
            self.show(result, params, edited=True)
        elif method == "editMessageReplyMarkup":
            labels = [b["text"] for row in self.rows(result) for b in row]
            shown = f"buttons now {', '.join(labels)}" if labels else "buttons removed"
            print(f"bot #{result['message_id']} (edited: {shown})", file=self.out)
            self.take_buttons(result)

    def show_callback_answer(self, params: dict[str, Any]) -> None:
        """What Telegram shows on a button press: a pop-up alert to dismiss, or a toast."""
        text = params.get("text")
        if text:
            kind = "alert" if params.get("show_alert") else "toast"
            print(f"   ({kind}) {text}", file=self.out)

    def show_menu_if_changed(self) -> None:
        menu = self.api.effective_commands(self.user_id, self.language)
        if menu != self.menu:
            self.menu = menu
            if self.announce_menu:
                self.print_menu("command menu changed")

    def print_menu(self, title: str = "command menu") -> None:
        """What Telegram's menu button ('/') lists for this person."""
        self.menu = self.api.effective_commands(self.user_id, self.language)
        print(f"   {title} (':menu' shows it again):", file=self.out)
        for command in self.menu or [{"command": "", "description": "(empty)"}]:
            print(f"     /{command['command']} — {command['description']}", file=self.out)

    def show_inline_results(self, params: dict[str, Any]) -> None:
        """Inline mode: what the bot offers to send into the chat the person picks."""
        for found in params.get("results") or []:
            content = found.get("input_message_content") or {}
            body = html.unescape(TAG.sub("", content.get("message_text", "")))
            print(f"inline result (sent into the chat you pick):\n{body}", file=self.out)
            for row in (found.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    print(f"   [{button['text']}] {button.get('url', '')}", file=self.out)

    def saved(self, file_id: str) -> str:
        path = self.api.files.path_of(file_id)
        return f"saved to {path}" if path is not None else "not saved"

    def show(self, message: dict[str, Any], params: dict[str, Any], edited: bool) -> None:
        body = plain(message.get("text") or message.get("caption") or "", params)
        if "document" in message:
            document = message["document"]
            body = (
                f"[file {document['file_name']}, {document['file_size']} bytes,"
                f" {self.saved(document['file_id'])}] {body}"
            )
        if "photo" in message:
            body = f"[photo, {self.saved(message['photo'][-1]['file_id'])}] {body}"
        if "location" in message:
            where = message["location"]
            body = f"[location {where['latitude']:.5f}, {where['longitude']:.5f}] {body}"
        tag = f"bot #{message['message_id']}" + (" (edited)" if edited else "")
        print(f"{tag}: {body.rstrip()}", file=self.out)
        self.take_buttons(message)

    @staticmethod
    def rows(message: dict[str, Any]) -> list[list[dict[str, Any]]]:
        rows: list[list[dict[str, Any]]] = (message.get("reply_markup") or {}).get(
            "inline_keyboard"
        ) or []
        return rows

    def take_buttons(self, message: dict[str, Any]) -> None:
        self.inline = [
            (message["message_id"], b["text"], action(b)) for row in self.rows(message) for b in row
        ] or [entry for entry in self.inline if entry[0] != message["message_id"]]

    def print_choices(self) -> None:
        numbered = list(enumerate([label for _, label, _ in self.inline] + self.keyboard, 1))
        buttons = numbered[: len(self.inline)]
        keyboard = numbered[len(self.inline) :]
        if buttons:
            listed = "  ".join(f"[#{number}] {label}" for number, label in buttons)
            print(f"   buttons: {listed}", file=self.out)
        if keyboard:
            listed = "  ".join(f"[#{number}] {label}" for number, label in keyboard)
            print(f"   keyboard: {listed}", file=self.out)
        self.out.flush()

    def submit(self, line: str) -> int | None:
        """Turn one typed line into an update; returns its update id (None: nothing sent).
        Typed text is always sent as typed; only '#N' presses a button and ':…' lines are
        this terminal's own commands, so an answer and a button never clash."""
        line = line.rstrip("\n")
        if not line.strip():
            return None
        before = self.api.pending_update_ids()
        pressed = BUTTON.fullmatch(line.strip())
        if line.startswith("="):
            self.api.send_text(self.user_id, line[1:])
        elif pressed:
            if not self.press(int(pressed.group(1))):
                return None
        elif line.startswith(":photo"):
            self.api.send_photo(self.user_id)
        elif line.startswith(":location"):
            parts = line.split()
            try:
                self.api.send_location(self.user_id, float(parts[1]), float(parts[2]))
            except (IndexError, ValueError):
                print("usage: :location LATITUDE LONGITUDE", file=self.out)
                return None
        elif line.startswith(":at"):
            try:
                self.clock.move_to(seoul_time(line.partition(" ")[2].strip()))
            except ValueError:
                print("usage: :at 2027-07-25T12:00 (Seoul time)", file=self.out)
            else:
                print(
                    f"(the bot's clock now reads {self.clock():%Y-%m-%d %H:%M} UTC)", file=self.out
                )
            return None
        elif line.startswith(":contact"):
            self.api.send_contact(self.user_id, line.partition(" ")[2] or "+821012345678")
        elif line.startswith(":file"):
            path = Path(line.partition(" ")[2].strip())
            try:
                self.api.send_document(self.user_id, path.name, path.read_bytes())
            except OSError:
                print("usage: :file PATH (e.g. :file examples/programmes.toml)", file=self.out)
                return None
        elif line.startswith(":menu"):
            self.print_menu()
            return None
        elif line.startswith(":"):
            print(f"unknown terminal command {line.split()[0]} (see the top)", file=self.out)
            return None
        else:
            self.api.send_text(self.user_id, line)
        new = set(self.api.pending_update_ids()) - set(before)
        self.sent += len(new)
        return max(new) if new else None

    def press(self, number: int) -> bool:
        """Press button #number; False (with why) when there is none."""
        count = len(self.inline) + len(self.keyboard)
        if not 1 <= number <= count:
            listed = f"#1 to #{count}" if count else "none now"
            print(
                f"no button #{number} (buttons: {listed}); to send '#{number}' as text,"
                f" type =#{number}",
                file=self.out,
            )
            return False
        if number <= len(self.inline):
            message_id, _, data = self.inline[number - 1]
            if not self.follow(data):
                self.api.press(self.user_id, message_id, data)
        else:
            self.api.send_text(self.user_id, self.keyboard[number - 1 - len(self.inline)])
        return True

    def follow(self, data: str) -> bool:
        """A link button: a deep link into this bot is opened as Telegram would (/start with
        its payload); an inline-mode button asks the bot for its cards; others are shown."""
        if data.startswith("inline:"):
            self.api.inline_query(self.user_id, data.removeprefix("inline:"))
            return True
        if not data.startswith("url:"):
            return False
        url = data.removeprefix("url:")
        own = f"https://t.me/{self.api.me['username']}?start="
        if url.startswith(own):
            self.api.send_text(self.user_id, f"/start {url.removeprefix(own)}")
        else:
            print(f"(opens {unquote_plus(url)})", file=self.out)
        return True

    async def settle(self, update_id: int, timeout: float = 15.0) -> None:
        """Wait until the bot has handled every update sent so far, then for a quiet moment
        (a reply may still be on its way after the handler's last call)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            if (
                self.api.delivered(update_id)
                and self.handled() >= self.sent
                and self.idle()
                and time.monotonic() - self.last_activity > 0.3
            ):
                return


async def first_update_id(settings: Settings) -> int:
    """Where this session's update ids start. Each session's local Bot API is new; the bot
    ignores an update whose id it recorded in the last day (a copy Telegram re-sent), so the
    ids continue after those of earlier sessions."""
    db = open_database(settings.database_url)
    await db.connect()
    try:
        await db.migrate()
        async with db.reading() as session:
            last = await session.scalar("SELECT MAX(update_id) FROM updates")
    finally:
        await db.close()
    return int(last or 0) + 1


def action(button: dict[str, Any]) -> str:
    if "url" in button:
        return f"url:{button['url']}"
    if "switch_inline_query" in button:
        return f"inline:{button['switch_inline_query']}"
    return str(button.get("callback_data", ""))


def files_folder(database_url: str) -> Path:
    """Where the local Bot API keeps files: next to a SQLite database, so the file ids the
    bot stored still open in a later session; else in the current folder."""
    if database_url.startswith("sqlite:///"):
        database = Path(database_url.removeprefix("sqlite:///"))
        return database.with_name(f"{database.stem}-files")
    return Path("chat-files")


async def chat(
    settings: Settings,
    user_id: int,
    language: str,
    stdin: TextIO,
    out: TextIO,
    start: datetime | None = None,
    *,
    demo: bool = False,
    files: Path | None = None,
) -> None:
    folder = (files or files_folder(settings.database_url)).absolute()
    api = LocalBotApi(first_update_id=await first_update_id(settings), files_folder=folder)
    api.user(user_id, first_name="You", language_code=language)
    server = LocalBotApiServer(api)
    await server.start()
    settings = settings.model_copy(
        update={"telegram_api_base_url": server.base_url, "telegram_api_file_url": server.file_url}
    )
    application = build_application(settings, api.token)
    try:
        sock = bind(settings.web_listen, settings.web_port)
    except OSError:  # taken (another session?): any free port will do here
        sock = bind(settings.web_listen, 0)
    application.web_url = local_url(sock)
    web = WebServer(application, sock)

    def app_link() -> str:
        signed = sign_init_data(api.token, user_id, language, application.services.clock())
        return f"{application.web_url}/app#tgWebAppData={quote(signed)}"

    clock = Clock(start)
    application.services.clock = clock
    terminal = Terminal(api, user_id, out, clock, language)
    terminal.idle = lambda: not application.intake.in_hand
    handled_before = application.updates_handled
    terminal.handled = lambda: application.updates_handled - handled_before
    loop = asyncio.get_running_loop()
    print(INTRO.format(user_id=user_id, files=folder), file=out)
    print(WEB.format(url=application.web_url, app=app_link()), file=out)
    try:
        async with running(application, poll_timeout=1), web.running():
            if demo:
                # Imported here: the demo's data exists only in a session started with --demo.
                from bot.demo import build_demo

                await build_demo(application.services.db, clock(), settings.minimum_age)
                admin = DEMO_ADMIN if user_id in settings.admin_ids else DEMO_CITIZEN
                print(DEMO_BANNER.format(admin=admin), file=out)
            terminal.print_menu()
            terminal.announce_menu = True
            first = terminal.submit("/start")
            if first is not None:
                await terminal.settle(first)
            terminal.print_choices()
            while True:
                line = await loop.run_in_executor(None, stdin.readline)
                if not line or line.strip() in (":quit", ":q"):
                    break
                if line.strip() == ":app":
                    print(app_link(), file=out)
                    continue
                print(f"you: {line.rstrip()}", file=out)
                update_id = terminal.submit(line)
                if update_id is not None:
                    await terminal.settle(update_id)
                terminal.print_choices()
    finally:
        await server.stop()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The local Bot API's own access log would interleave with the conversation.
    logging.getLogger("tornado.access").setLevel(logging.ERROR)
    settings = Settings()
    if args.as_admin:
        settings = settings.model_copy(update={"admin_ids": settings.admin_ids | {args.user_id}})
    with tempfile.TemporaryDirectory() as scratch:
        # The demo's data goes only into a throw-away database, never into DATABASE_URL's.
        if args.fresh or args.demo:
            settings = settings.model_copy(
                update={"database_url": f"sqlite:///{Path(scratch) / 'chat.sqlite3'}"}
            )
        try:
            asyncio.run(
                chat(
                    settings,
                    args.user_id,
                    args.language,
                    sys.stdin,
                    sys.stdout,
                    args.at,
                    demo=args.demo,
                    files=args.files,
                )
            )
        except KeyboardInterrupt:
            pass
    return 0
