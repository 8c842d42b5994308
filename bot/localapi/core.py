"""An in-memory Telegram Bot API: what `civicbot chat` and the tests talk to.

It keeps chats, messages and pending updates, answers the Bot API methods the bot uses with
Telegram's own JSON shapes (including its error replies), and lets simulated people send
messages, press buttons and share files. Transports are separate: `server.py` serves it over
HTTP with real long polling, `request.py` plugs it into python-telegram-bot in-process.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
import struct
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

MAX_TEXT: Final = 4096
MAX_CAPTION: Final = 1024
MAX_CALLBACK_DATA: Final = 64

# Parameters Telegram reads as JSON objects when they arrive form-encoded.
_JSON_PARAMS: Final = frozenset(
    {
        "reply_markup",
        "commands",
        "scope",
        "allowed_updates",
        "entities",
        "caption_entities",
        "media",
        "menu_button",
        "reply_parameters",
        "link_preview_options",
        "results",
        "button",
    }
)
_INT_PARAMS: Final = frozenset(
    {"chat_id", "message_id", "offset", "limit", "user_id", "cache_time", "reply_to_message_id"}
)
_FLOAT_PARAMS: Final = frozenset({"timeout", "latitude", "longitude"})
_BOOL_PARAMS: Final = frozenset({"show_alert", "disable_notification", "drop_pending_updates"})
_TAG = re.compile(r"<[^>]+>")
_FILE_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
_FILE_NUMBER = re.compile(r"-(\d+)$")
# Telegram's answer to a file id it does not know (one from another bot or test server).
WRONG_FILE_ID: Final = "wrong file identifier/HTTP URL specified"


class BotApiError(Exception):
    """An error reply, as Telegram sends it: `{"ok": false, "error_code", "description"}`."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(description: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {description}")


@dataclass
class UploadedFile:
    filename: str
    content: bytes
    mime_type: str | None = None


class FileStore(MutableMapping[str, UploadedFile]):
    """The files people and the bot sent, by file id. Kept in memory; with a folder, also on
    disk (`folder/<file id>/<file name>`), so a later session of the local Bot API still
    serves the file ids the bot stored, as Telegram does."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self._memory: dict[str, UploadedFile] = {}

    def path_of(self, file_id: str) -> Path | None:
        """Where the file is on disk (None: only in memory)."""
        if self.folder is None or not _FILE_ID.fullmatch(file_id):
            return None
        found = sorted((self.folder / file_id).glob("*"))
        return found[0] if found else None

    def __getitem__(self, file_id: str) -> UploadedFile:
        if file_id in self._memory:
            return self._memory[file_id]
        path = self.path_of(file_id)
        if path is None:
            raise KeyError(file_id)
        stored = UploadedFile(path.name, path.read_bytes())
        self._memory[file_id] = stored
        return stored

    def __setitem__(self, file_id: str, stored: UploadedFile) -> None:
        self._memory[file_id] = stored
        if self.folder is not None and _FILE_ID.fullmatch(file_id):
            name = Path(stored.filename or "").name
            if name in ("", ".", ".."):
                name = file_id
            (self.folder / file_id).mkdir(parents=True, exist_ok=True)
            (self.folder / file_id / name).write_bytes(stored.content)

    def __delitem__(self, file_id: str) -> None:
        del self._memory[file_id]

    def __iter__(self) -> Iterator[str]:
        on_disk = (
            {p.name for p in self.folder.iterdir() if p.is_dir()}
            if self.folder is not None and self.folder.is_dir()
            else set()
        )
        return iter(sorted(set(self._memory) | on_disk))

    def __len__(self) -> int:
        return len(list(iter(self)))

    def next_number(self) -> int:
        """After the numbers of the files an earlier session left on disk: ids stay unique."""
        numbers = [int(m.group(1)) for name in self if (m := _FILE_NUMBER.search(name))]
        return max(numbers, default=0) + 1


@dataclass
class Fault:
    """An error the API answers instead of doing the call (opt-in, for tests)."""

    method: str
    error: BotApiError
    chat_id: int | None = None  # None: any chat
    times: int = 1


@dataclass
class FloodLimits:
    """Telegram-like flood control (opt-in, for benchmarks): a message that would make more
    than `per_second` in the one second up to it, or come closer than `chat_interval`
    seconds after the last one to its chat, is answered 429 with `retry_after`. (A sliding
    window: stricter than a bucket that lets a second's worth through at once.)"""

    per_second: float
    chat_interval: float = 1.0
    rejected: int = 0  # 429s answered
    _recent: deque[float] = field(default_factory=deque)  # admitted in the last second
    _last_in_chat: dict[Any, float] = field(default_factory=dict)

    def admit(self, chat_id: Any) -> None:
        now = time.monotonic()
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        last = self._last_in_chat.get(chat_id)
        wait = 0.0
        if last is not None and now - last < self.chat_interval:
            wait = self.chat_interval - (now - last)
        elif len(self._recent) + 1 > self.per_second:
            wait = self._recent[0] + 1.0 - now
        if wait > 0:
            self.rejected += 1
            seconds = math.ceil(wait)
            raise BotApiError(429, f"Too Many Requests: retry after {seconds}", seconds)
        self._recent.append(now)
        self._last_in_chat[chat_id] = now


@dataclass
class ChatLog:
    user: dict[str, Any]
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_message_id: int = 1


def normalise_params(raw: dict[str, Any]) -> dict[str, Any]:
    """Turn form-encoded values into the types Telegram reads them as."""
    params: dict[str, Any] = {}
    for name, value in raw.items():
        if isinstance(value, str):
            if name in _JSON_PARAMS:
                try:
                    value = json.loads(value)
                except json.JSONDecodeError as error:
                    raise bad_request(f"can't parse {name} JSON object") from error
            elif name in _INT_PARAMS:
                try:
                    value = int(value)
                except ValueError:
                    if name != "chat_id":
                        raise bad_request(f"invalid {name} specified") from None
            elif name in _FLOAT_PARAMS:
                value = float(value)
            elif name in _BOOL_PARAMS:
                value = value.lower() == "true"
        params[name] = value
    return params


def placeholder_png(number: int, size: int = 90) -> bytes:
    """A plain square PNG in one of a few colours: what a person's photo looks like here."""
    colours = ((70, 130, 180), (60, 150, 90), (200, 120, 50), (150, 80, 160))
    red, green, blue = colours[number % len(colours)]
    row = b"\x00" + bytes((red, green, blue)) * size
    raw = zlib.compress(row * size)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def _counts_as_message(method: str) -> bool:
    name = method.lower()
    return name.startswith(("send", "edit")) and name != "sendchataction"


def _visible_length(text: str, parse_mode: str | None) -> int:
    if parse_mode and parse_mode.upper() == "HTML":
        text = _TAG.sub("", text)
    return len(text)


def _check_markup(markup: Any) -> None:
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        for row in markup["inline_keyboard"]:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise bad_request("can't parse inline keyboard button: Text must be non-empty")
                data = button.get("callback_data")
                targets = [
                    key
                    for key in ("callback_data", "url", "switch_inline_query", "web_app")
                    if key in button
                ]
                if len(targets) != 1:
                    raise bad_request("can't parse inline keyboard button: exactly one action")
                if "web_app" in button and not str(
                    (button["web_app"] or {}).get("url", "")
                ).startswith("https://"):
                    raise bad_request("BUTTON_URL_INVALID")  # Mini Apps open over HTTPS only
                if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                    raise bad_request("BUTTON_DATA_INVALID")
    elif not {"keyboard", "remove_keyboard", "force_reply"} & set(markup):
        raise bad_request("can't parse reply keyboard markup JSON object")
    elif "keyboard" in markup:
        for row in markup["keyboard"]:
            for button in row:
                text = button.get("text") if isinstance(button, dict) else button
                if not text:
                    raise bad_request("keyboard button text must be non-empty")


class LocalBotApi:
    def __init__(
        self,
        token: str = "123456:LOCAL-TEST-TOKEN",
        username: str = "civicbot_local",
        first_update_id: int = 1,
        files_folder: Path | None = None,
    ) -> None:
        self.token = token
        self.me: dict[str, Any] = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": "시민참여봇",
            "username": username,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
        }
        self.chats: dict[int, ChatLog] = {}
        self.blocked: set[int] = set()
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.files = FileStore(files_folder)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answered_queries: dict[str, dict[str, Any]] = {}
        self.inline_answers: dict[str, dict[str, Any]] = {}
        self.updates_pushed = 0
        self.last_update_id = 0
        self.webhook_url = ""
        self.webhook_secret = ""
        self.webhook_max_connections = 40
        self.menu_button: Any = None
        self.closing = False
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(first_update_id)
        self._query_ids = itertools.count(1)
        self._file_ids = itertools.count(self.files.next_number())
        self._pending_queries: set[str] = set()
        self._pending_inline: set[str] = set()
        self._changed: asyncio.Condition | None = None
        self.listeners: list[Callable[[str, dict[str, Any], Any], None]] = []
        self.faults: list[Fault] = []
        self.flood: FloodLimits | None = None
        # Seconds every method but getUpdates takes to answer, as Telegram's servers far away
        # would (opt-in, for benchmarks).
        self.latency = 0.0

    # ----------------------------------------------------------------- notifications
    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def _notify(self) -> None:
        condition = self._condition()
        async with condition:
            condition.notify_all()

    def _poke(self) -> None:
        try:
            asyncio.get_running_loop().create_task(self._notify())
        except RuntimeError:
            pass

    async def close(self) -> None:
        """Release every waiting long poll, as a server going down would."""
        self.closing = True
        await self._notify()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `predicate()` holds; raise TimeoutError with what the bot sent if not."""
        condition = self._condition()
        deadline = asyncio.get_running_loop().time() + timeout
        async with condition:
            while not predicate():
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    raise TimeoutError("condition not met; the bot sent:\n" + self.transcript())
                try:
                    await asyncio.wait_for(condition.wait(), remaining)
                except TimeoutError:
                    continue

    # ----------------------------------------------------------------- simulated people
    def user(
        self, user_id: int, first_name: str = "시민", language_code: str = "ko"
    ) -> dict[str, Any]:
        if user_id not in self.chats:
            self.chats[user_id] = ChatLog(
                user={
                    "id": user_id,
                    "is_bot": False,
                    "first_name": first_name,
                    "language_code": language_code,
                }
            )
        return self.chats[user_id].user

    def name(self, user_id: int, first_name: str, username: str | None = None) -> None:
        """The person's Telegram name (and @username), as their next updates carry it."""
        user = self.user(user_id)
        user["first_name"] = first_name
        if username is not None:
            user["username"] = username

    def forward_text(
        self, user_id: int, from_user_id: int, text: str, hidden: bool = False
    ) -> dict[str, Any]:
        """`user_id` forwards to the bot a message `from_user_id` wrote; with `hidden`, the
        author's privacy settings leave only their name on the forward."""
        author = self.user(from_user_id)
        origin: dict[str, Any] = (
            {"type": "hidden_user", "sender_user_name": author["first_name"]}
            if hidden
            else {"type": "user", "sender_user": dict(author)}
        )
        origin["date"] = int(time.time())
        return self._user_message(user_id, text=text, forward_origin=origin)

    def _user_message(self, user_id: int, **content: Any) -> dict[str, Any]:
        user = self.user(user_id)
        log = self.chats[user_id]
        message = {
            "message_id": log.next_message_id,
            "from": user,
            "chat": {"id": user_id, "type": "private", "first_name": user["first_name"]},
            "date": int(time.time()),
            **content,
        }
        log.next_message_id += 1
        log.messages[message["message_id"]] = message
        self.push_update({"message": message})
        return message

    def pending_update_ids(self) -> list[int]:
        return [update["update_id"] for update in self._updates]

    def delivered(self, update_id: int) -> bool:
        """Has the bot confirmed (by its next getUpdates offset) that it took this update?"""
        return all(update["update_id"] > update_id for update in self._updates)

    def pending_updates(self) -> list[dict[str, Any]]:
        return list(self._updates)

    def confirm_update(self, update_id: int) -> None:
        """The bot took this update (a webhook answered 200): Telegram forgets it."""
        self._updates = [u for u in self._updates if u["update_id"] != update_id]
        self._poke()

    def push_update(self, payload: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self.updates_pushed += 1
        self.last_update_id = update_id
        self._updates.append({"update_id": update_id, **payload})
        self._poke()
        return update_id

    def send_text(self, user_id: int, text: str) -> dict[str, Any]:
        entities = []
        if text.startswith("/"):
            command = text.split()[0]
            entities.append({"type": "bot_command", "offset": 0, "length": len(command)})
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._user_message(user_id, **content)

    def send_photo(self, user_id: int, caption: str | None = None) -> dict[str, Any]:
        file_id = f"photo-{next(self._file_ids)}"
        # A small picture stands for the photo, so getFile and downloads work as on Telegram.
        self.files[file_id] = UploadedFile(f"{file_id}.png", placeholder_png(len(self.files)))
        photo = [{"file_id": file_id, "file_unique_id": file_id, "width": 90, "height": 90}]
        content: dict[str, Any] = {"photo": photo}
        if caption:
            content["caption"] = caption
        return self._user_message(user_id, **content)

    def send_document(self, user_id: int, filename: str, content: bytes) -> dict[str, Any]:
        """The person sends a file; getFile and the download give its bytes back."""
        file_id = f"document-{next(self._file_ids)}"
        self.files[file_id] = UploadedFile(filename, content)
        document = {
            "file_id": file_id,
            "file_unique_id": file_id,
            "file_name": filename,
            "file_size": len(content),
        }
        return self._user_message(user_id, document=document)

    def send_location(self, user_id: int, latitude: float, longitude: float) -> dict[str, Any]:
        return self._user_message(user_id, location={"latitude": latitude, "longitude": longitude})

    def send_contact(self, user_id: int, phone_number: str) -> dict[str, Any]:
        user = self.user(user_id)
        contact = {
            "phone_number": phone_number,
            "first_name": user["first_name"],
            "user_id": user_id,
        }
        return self._user_message(user_id, contact=contact)

    def edit_text(self, user_id: int, message_id: int, text: str) -> dict[str, Any]:
        """The person edits a message they sent: an `edited_message` update."""
        message = self.chats[user_id].messages[message_id]
        message.update(text=text, edit_date=int(time.time()))
        self.push_update({"edited_message": dict(message)})
        return message

    def press(self, user_id: int, message_id: int, data: str) -> str:
        """Press an inline button (or forge one: `data` is sent whatever the keyboard holds)."""
        user = self.user(user_id)
        message = self.chats[user_id].messages.get(message_id)
        if message is None:
            raise KeyError(f"no message {message_id} in chat {user_id}")
        query_id = str(next(self._query_ids))
        self._pending_queries.add(query_id)
        self.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user,
                    "message": message,
                    "chat_instance": str(user_id),
                    "data": data,
                }
            }
        )
        return query_id

    def inline_query(self, user_id: int, query: str) -> str:
        """The person types `@bot query` in some chat (or presses a switch_inline_query
        button); the bot's answer lands in `inline_answers[query id]`."""
        user = self.user(user_id)
        query_id = str(next(self._query_ids))
        self._pending_inline.add(query_id)
        self.push_update(
            {"inline_query": {"id": query_id, "from": user, "query": query, "offset": ""}}
        )
        return query_id

    def block(self, user_id: int) -> None:
        self.blocked.add(user_id)

    def fail_next(
        self,
        method: str,
        code: int,
        description: str,
        *,
        chat_id: int | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls of `method` (to `chat_id`, if given) with an error
        instead, e.g. 429 "Too Many Requests: retry after 5" with `retry_after=5`."""
        self.faults.append(
            Fault(method, BotApiError(code, description, retry_after), chat_id, times)
        )

    def _injected(self, method: str, params: dict[str, Any]) -> BotApiError | None:
        for fault in self.faults:
            if fault.method.lower() == method.lower() and fault.chat_id in (
                None,
                params.get("chat_id"),
            ):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault.error
        return None

    # ----------------------------------------------------------------- reading what was sent
    def bot_messages(self, chat_id: int) -> list[dict[str, Any]]:
        log = self.chats.get(chat_id)
        if log is None:
            return []
        return [m for m in log.messages.values() if m["from"]["id"] == self.me["id"]]

    def last_bot_message(self, chat_id: int) -> dict[str, Any]:
        messages = self.bot_messages(chat_id)
        if not messages:
            raise LookupError(f"the bot sent nothing to {chat_id}")
        return messages[-1]

    def transcript(self, chat_id: int | None = None) -> str:
        lines = []
        for cid, log in self.chats.items():
            if chat_id is not None and cid != chat_id:
                continue
            for message in log.messages.values():
                who = "bot" if message["from"]["id"] == self.me["id"] else "user"
                body = message.get("text") or message.get("caption") or ""
                if "document" in message:
                    body = f"[document {message['document']['file_name']}] {body}"
                lines.append(f"{cid} {who} #{message['message_id']}: {body[:300]}")
        return "\n".join(lines)

    # ----------------------------------------------------------------- Bot API methods
    async def call(
        self, method: str, raw_params: dict[str, Any], files: dict[str, UploadedFile] | None = None
    ) -> dict[str, Any]:
        """Answer one Bot API request; returns the response body (ok or error)."""
        try:
            params = normalise_params(raw_params)
            self.calls.append((method, params))
            injected = self._injected(method, params)
            if injected is not None:
                raise injected
            if self.flood is not None and _counts_as_message(method):
                self.flood.admit(params.get("chat_id"))
            if self.latency and method != "getUpdates":
                await asyncio.sleep(self.latency)
            handler = getattr(self, f"_m_{method.lower()}", None)
            if handler is None:
                raise BotApiError(404, "Not Found")
            result = handler(params, files or {})
            if asyncio.iscoroutine(result):
                result = await result
        except BotApiError as error:
            return error.payload()
        for listener in self.listeners:
            listener(method, params, result)
        self._poke()
        return {"ok": True, "result": result}

    def _chat(self, params: dict[str, Any]) -> ChatLog:
        chat_id = params.get("chat_id")
        if chat_id is None:
            raise bad_request("chat_id is empty")
        if not isinstance(chat_id, int) or chat_id not in self.chats:
            raise bad_request("chat not found")
        if chat_id in self.blocked:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        return self.chats[chat_id]

    def _bot_message(self, log: ChatLog, **content: Any) -> dict[str, Any]:
        user = log.user
        message = {
            "message_id": log.next_message_id,
            "from": self.me,
            "chat": {"id": user["id"], "type": "private", "first_name": user["first_name"]},
            "date": int(time.time()),
            **{key: value for key, value in content.items() if value is not None},
        }
        log.next_message_id += 1
        log.messages[message["message_id"]] = message
        return message

    def _m_getme(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        return self.me

    def _m_deletewebhook(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        self.webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _m_setwebhook(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        self.webhook_url = str(params.get("url", ""))
        self.webhook_secret = str(params.get("secret_token", ""))
        self.webhook_max_connections = int(params.get("max_connections", 40))
        self._poke()
        return True

    def _m_getwebhookinfo(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> dict[str, Any]:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _m_close(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        return True

    def _m_logout(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        return True

    async def _m_getupdates(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise BotApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset", 0))
        limit = min(max(int(params.get("limit", 100)), 1), 100)
        timeout = float(params.get("timeout", 0))
        if offset:
            # Telegram forgets every update below the offset: they are confirmed.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0 and not self.closing:
            condition = self._condition()
            async with condition:
                try:
                    await asyncio.wait_for(
                        condition.wait_for(lambda: bool(self._updates) or self.closing), timeout
                    )
                except TimeoutError:
                    pass
        return self._updates[:limit]

    def _m_sendmessage(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> dict[str, Any]:
        log = self._chat(params)
        text = params.get("text", "")
        if not isinstance(text, str) or not text.strip():
            raise bad_request("message text is empty")
        if _visible_length(text, params.get("parse_mode")) > MAX_TEXT:
            raise bad_request("message is too long")
        _check_markup(params.get("reply_markup"))
        message = self._bot_message(
            log, text=text, reply_markup=self._inline_only(params.get("reply_markup"))
        )
        if params.get("reply_markup") and "keyboard" in params["reply_markup"]:
            message["reply_keyboard"] = params["reply_markup"]
        return message

    @staticmethod
    def _inline_only(markup: Any) -> Any:
        # A message carries only its inline keyboard; reply keyboards belong to the chat.
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            return markup
        return None

    def _edited(self, params: dict[str, Any]) -> tuple[ChatLog, dict[str, Any]]:
        if "inline_message_id" in params:
            raise bad_request("inline messages are not supported here")
        log = self._chat(params)
        message = log.messages.get(int(params.get("message_id", 0)))
        if message is None or message["from"]["id"] != self.me["id"]:
            raise bad_request("message to edit not found")
        return log, message

    def _m_editmessagetext(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> dict[str, Any]:
        _, message = self._edited(params)
        text = params.get("text", "")
        if not isinstance(text, str) or not text.strip():
            raise bad_request("message text is empty")
        if _visible_length(text, params.get("parse_mode")) > MAX_TEXT:
            raise bad_request("MESSAGE_TOO_LONG")
        markup = params.get("reply_markup")
        _check_markup(markup)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        if message.get("text") == text and message.get("reply_markup") == markup:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are"
                " exactly the same as a current content and reply markup of the message"
            )
        message["text"] = text
        message["edit_date"] = int(time.time())
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        return message

    def _m_editmessagereplymarkup(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> dict[str, Any]:
        _, message = self._edited(params)
        markup = params.get("reply_markup")
        _check_markup(markup)
        if message.get("reply_markup") == markup:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are"
                " exactly the same as a current content and reply markup of the message"
            )
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        return message

    def _m_deletemessage(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        log = self._chat(params)
        if log.messages.pop(int(params.get("message_id", 0)), None) is None:
            raise bad_request("message to delete not found")
        return True

    def _m_answercallbackquery(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._pending_queries:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self._pending_queries.discard(query_id)
        self.answered_queries[query_id] = params
        return True

    def _m_answerinlinequery(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        query_id = str(params.get("inline_query_id", ""))
        if query_id not in self._pending_inline:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        results = params.get("results")
        if not isinstance(results, list) or len(results) > 50:
            raise bad_request("RESULTS_TOO_MUCH")
        for result in results:
            if (
                not isinstance(result, dict)
                or not 1 <= len(str(result.get("id", "")).encode()) <= 64
            ):
                raise bad_request("RESULT_ID_INVALID")
            if result.get("type") == "article":
                content = result.get("input_message_content") or {}
                text = content.get("message_text", "")
                if not result.get("title") or not text.strip():
                    raise bad_request("RESULT_ARTICLE_INVALID")
                if _visible_length(text, content.get("parse_mode")) > MAX_TEXT:
                    raise bad_request("MESSAGE_TOO_LONG")
            _check_markup(result.get("reply_markup"))
        self._pending_inline.discard(query_id)
        self.inline_answers[query_id] = params
        return True

    def _m_sendchataction(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        self._chat(params)
        return True

    def _m_setmycommands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be a list of at most 100")
        for command in commands:
            name = command.get("command", "")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._command_key(params)] = commands
        return True

    def _m_getmycommands(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> list[dict[str, Any]]:
        return self.commands.get(self._command_key(params), [])

    def _m_deletemycommands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        self.commands.pop(self._command_key(params), None)
        return True

    @staticmethod
    def _command_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code", ""))

    def _store_file(self, upload: Any, files: dict[str, UploadedFile], kind: str) -> str:
        if isinstance(upload, str) and upload.startswith("attach://"):
            stored = files.get(upload.removeprefix("attach://"))
        elif isinstance(upload, str) and upload in self.files:
            return upload
        elif isinstance(upload, str) and upload and kind not in files:
            raise bad_request(WRONG_FILE_ID)  # an id this API never issued, or has lost
        else:
            stored = files.get(kind)
        if stored is None:
            raise bad_request(f"there is no {kind} in the request")
        file_id = f"{kind}-{next(self._file_ids)}"
        self.files[file_id] = stored
        return file_id

    def _m_senddocument(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> dict[str, Any]:
        log = self._chat(params)
        file_id = self._store_file(params.get("document"), files, "document")
        caption = params.get("caption")
        if caption and len(caption) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        stored = self.files[file_id]
        document = {
            "file_id": file_id,
            "file_unique_id": file_id,
            "file_name": stored.filename,
            "file_size": len(stored.content),
        }
        return self._bot_message(log, document=document, caption=caption)

    def _m_sendphoto(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> dict[str, Any]:
        log = self._chat(params)
        file_id = self._store_file(params.get("photo"), files, "photo")
        caption = params.get("caption")
        if caption and len(caption) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        _check_markup(params.get("reply_markup"))
        photo = [{"file_id": file_id, "file_unique_id": file_id, "width": 800, "height": 600}]
        return self._bot_message(
            log,
            photo=photo,
            caption=caption,
            reply_markup=self._inline_only(params.get("reply_markup")),
        )

    def _m_sendlocation(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> dict[str, Any]:
        log = self._chat(params)
        try:
            latitude = float(params["latitude"])
            longitude = float(params["longitude"])
        except (KeyError, TypeError, ValueError):
            raise bad_request("wrong latitude or longitude specified") from None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise bad_request("wrong latitude or longitude specified")
        _check_markup(params.get("reply_markup"))
        return self._bot_message(
            log,
            location={"latitude": latitude, "longitude": longitude},
            reply_markup=self._inline_only(params.get("reply_markup")),
        )

    def _m_sendmediagroup(
        self, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> list[dict[str, Any]]:
        log = self._chat(params)
        media = params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise bad_request("wrong number of media specified: 2 to 10")
        # Every file is checked before anything is sent: Telegram sends the album or nothing.
        file_ids = []
        for item in media:
            if not isinstance(item, dict) or item.get("type") not in ("photo", "document"):
                raise bad_request("can't parse InputMedia JSON object")
            file_ids.append(
                (item["type"], self._store_file(item.get("media"), files, item["type"]))
            )
        messages = []
        for (kind, file_id), item in zip(file_ids, media, strict=True):
            stored = self.files[file_id]
            content: dict[str, Any] = (
                {
                    "photo": [
                        {"file_id": file_id, "file_unique_id": file_id, "width": 800, "height": 600}
                    ]
                }
                if kind == "photo"
                else {
                    "document": {
                        "file_id": file_id,
                        "file_unique_id": file_id,
                        "file_name": stored.filename,
                        "file_size": len(stored.content),
                    }
                }
            )
            messages.append(self._bot_message(log, caption=item.get("caption"), **content))
        return messages

    def effective_commands(self, user_id: int, language: str) -> list[dict[str, Any]]:
        """The command menu a person sees in their private chat with the bot: the narrowest
        scope set (this chat, then all private chats, then the default), their language's
        list before the one for every language, as Telegram resolves it."""
        scopes = (
            {"type": "chat", "chat_id": user_id},
            {"type": "all_private_chats"},
            {"type": "default"},
        )
        for scope in scopes:
            for code in (language, ""):
                key = (json.dumps(scope, sort_keys=True), code)
                if key in self.commands:
                    return self.commands[key]
        return []

    def _m_getfile(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> dict[str, Any]:
        file_id = str(params.get("file_id", ""))
        stored = self.files.get(file_id)
        if stored is None:
            raise bad_request(WRONG_FILE_ID)
        return {
            "file_id": file_id,
            "file_unique_id": file_id,
            "file_size": len(stored.content),
            "file_path": f"documents/{file_id}",
        }

    def _m_setchatmenubutton(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> bool:
        self.menu_button = params.get("menu_button")
        return True
