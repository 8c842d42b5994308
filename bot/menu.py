"""The commands every feature registers: the command menu, the main menu and /help share it.

SPEC §10: every command is also reachable from the main menu's buttons, and the command
menu is set per language with setMyCommands (admin commands only in admins' chats).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler
from telegram.ext.filters import MessageFilter

from bot.context import BotContext
from bot.i18n import LANGUAGES, Translator

Callback = Callable[[Update, BotContext], Awaitable[object]]

# The order of SPEC §10; commands of features not listed here come after, as registered.
COMMAND_ORDER = (
    "start", "help", "menu", "propose", "proposals", "my", "profile", "vote", "panels", "report",
    "programmes", "settings", "language", "privacy", "mydata", "deleteme", "cancel", "admin",
)  # fmt: skip


@dataclass(frozen=True)
class MenuCommand:
    name: str
    description: str  # marked with N_(); translated when shown
    label: str  # the main-menu button, also N_()
    callback: Callback
    on_keyboard: bool = False  # also on the persistent keyboard under the input field
    admin_only: bool = False
    opens_flow: bool = False  # its ConversationHandler answers /name (see `entry_points`)


class CommandRegistry:
    def __init__(self) -> None:
        self._commands: dict[str, MenuCommand] = {}
        # Label → command in every language; every text message is checked against it.
        self._by_label: dict[str, MenuCommand] | None = None

    def add(self, command: MenuCommand) -> None:
        if command.name in self._commands:
            raise ValueError(f"/{command.name} registered twice")
        self._commands[command.name] = command
        self._by_label = None

    def command_handlers(self) -> list[CommandHandler[BotContext, object]]:
        """/name for every command that does not open a flow (flows answer their own)."""
        return [
            CommandHandler(command.name, command.callback)  # type: ignore[arg-type]
            for command in self.all()
            if not command.opens_flow
        ]

    def get(self, name: str) -> MenuCommand | None:
        return self._commands.get(name)

    def public(self) -> list[MenuCommand]:
        return [command for command in self.all() if not command.admin_only]

    def all(self) -> list[MenuCommand]:
        def position(command: MenuCommand) -> int:
            name = command.name
            return COMMAND_ORDER.index(name) if name in COMMAND_ORDER else len(COMMAND_ORDER)

        return sorted(self._commands.values(), key=position)

    def _labels(self) -> dict[str, MenuCommand]:
        if self._by_label is None:
            found: dict[str, MenuCommand] = {}
            for language in reversed(LANGUAGES):  # Korean wins a label both languages share
                t = Translator(language)
                for command in self._commands.values():
                    found[t.gettext(command.label)] = command
            self._by_label = found
        return self._by_label

    def by_label(self, text: str) -> MenuCommand | None:
        """The command whose keyboard label (in any language) is `text`."""
        return self._labels().get(text)

    def labels(self) -> set[str]:
        return set(self._labels())

    def bot_commands(self, t: Translator, include_admin: bool) -> list[BotCommand]:
        chosen = self.all() if include_admin else self.public()
        return [BotCommand(command.name, t.gettext(command.description)) for command in chosen]

    def main_keyboard(self, t: Translator) -> ReplyKeyboardMarkup:
        buttons = [
            KeyboardButton(t.gettext(command.label))
            for command in self.all()
            if command.on_keyboard
        ]
        rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
        return ReplyKeyboardMarkup(rows, resize_keyboard=True, is_persistent=True)

    def inline_menu(self, t: Translator, is_admin: bool) -> InlineKeyboardMarkup:
        chosen = self.all() if is_admin else self.public()
        buttons = [
            InlineKeyboardButton(t.gettext(command.label), callback_data=f"menu:{command.name}")
            for command in chosen
            if command.name not in ("start", "menu")
        ]
        return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])

    async def publish(self, bot: Bot, default_language: str, admin_ids: Sequence[int]) -> None:
        """setMyCommands for every language, and the admin set in each admin's chat."""
        for language in LANGUAGES:
            t = Translator(language)
            await bot.set_my_commands(
                self.bot_commands(t, include_admin=False),
                scope=BotCommandScopeDefault(),
                language_code=language,
            )
        await bot.set_my_commands(
            self.bot_commands(Translator(default_language), include_admin=False),
            scope=BotCommandScopeDefault(),
        )
        if any(command.admin_only for command in self._commands.values()):
            for admin_id in admin_ids:
                for language in LANGUAGES:
                    await bot.set_my_commands(
                        self.bot_commands(Translator(language), include_admin=True),
                        scope=BotCommandScopeChat(admin_id),
                        language_code=language,
                    )


class MenuLabel(MessageFilter):
    """Text that is one of the main-menu labels (of one command, if named), in any language."""

    def __init__(self, registry: CommandRegistry, command: str | None = None) -> None:
        super().__init__(name="MenuLabel")
        self.registry = registry
        self.command = command

    def filter(self, message: Message) -> bool:
        if message.text is None:
            return False
        if self.command is None:
            return message.text in self.registry.labels()
        found = self.registry.by_label(message.text)
        return found is not None and found.name == self.command


def entry_points(
    registry: CommandRegistry, name: str, callback: Callback
) -> list[BaseHandler[Update, BotContext, object]]:
    """How a conversation starts: its /command, its main-menu button and its keyboard label."""
    return [
        CommandHandler(name, callback),  # type: ignore[arg-type]
        CallbackQueryHandler(callback, pattern=rf"^menu:{name}$"),  # type: ignore[arg-type]
        MessageHandler(MenuLabel(registry, name), callback),  # type: ignore[arg-type]
    ]
