"""What every handler needs: the services, the person, and their language."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import Application, CallbackContext, ExtBot

from bot.config import Settings
from bot.i18n import Translator, pick_language
from domain.people import Person
from storage.clock import utcnow
from storage.db import Database
from storage.people import PeopleRepository
from storage.ptbstate import PtbStateRepository

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from bot.automation import Automation
    from bot.deeplinks import DeepLinks
    from bot.menu import CommandRegistry


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Callable[[], datetime] = field(default=utcnow)


class CivicApplication(Application[Any, Any, Any, Any, Any, Any]):
    services: Services
    commands: CommandRegistry
    deep_links: DeepLinks
    automation: Automation
    # Where the web side is reached (bot/web); https: the chat offers the Mini App.
    web_url = ""
    updates_handled = 0  # a running count, for monitoring and for tests to wait on

    async def initialize(self) -> None:
        # The database must be up before PTB loads persisted conversations from it.
        await self.services.db.connect()
        await self.services.db.migrate()
        await super().initialize()

    async def shutdown(self) -> None:
        await super().shutdown()
        await self.services.db.close()

    async def process_update(self, update: object) -> None:
        db = self.services.db
        person = _person_of(update) if isinstance(update, Update) else None
        if not db.shared or person is None:
            await self._handle(update)
            return
        assert isinstance(update, Update)
        # Other bot processes share the database: this person's updates are handled one at
        # a time across all of them, each starting from the state the last one saved.
        async with db.person_lock(person):
            if await self._take_and_reload(update):
                await self._handle(update)
            else:
                log.info("Update %d came again; a worker already took it", update.update_id)
                self.updates_handled += 1

    async def _handle(self, update: object) -> None:
        await super().process_update(update)
        # Persist conversation state at once rather than every N seconds, so a person
        # mid-flow loses nothing when the process dies.
        if self.persistence is not None:
            await self.update_persistence()
        self.updates_handled += 1

    async def _take_and_reload(self, update: Update) -> bool:
        """Record the update as taken (False: a worker already took it) and load the
        person's conversation states and user_data as the database has them, in one unit
        of work."""
        keys = _conversation_keys(update)
        user = update.effective_user
        async with self.services.db.transaction() as session:
            repository = PtbStateRepository(session)
            if not await repository.take_update(
                update.update_id, self.services.clock(), self.services.settings.worker_name
            ):
                return False
            stored = await repository.conversation_states(keys)
            data = await repository.user_data(user.id) if user else {}
        if user:
            memory = self.user_data[user.id]  # created on first access, as PTB does
            memory.clear()
            memory.update(data)
        # PTB keeps each ConversationHandler's states in this (internal) tracking dict;
        # writing through `data` leaves them unmarked, so nothing is written back unchanged.
        for name, states in self._conversation_handler_conversations.items():
            for key in keys:
                if (name, key) in stored:
                    states.data[key] = stored[name, key]
                else:
                    states.data.pop(key, None)
        return True


def _person_of(update: Update) -> int | None:
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat is not None else None


def _conversation_keys(update: Update) -> list[tuple[int, ...]]:
    """Every key a ConversationHandler may file this update under (per chat and/or user)."""
    chat = update.effective_chat.id if update.effective_chat else None
    user = update.effective_user.id if update.effective_user else None
    keys: list[tuple[int, ...]] = []
    if chat is not None and user is not None:
        keys.append((chat, user))
    keys += [(one,) for one in (chat, user) if one is not None]
    return list(dict.fromkeys(keys))


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    @property
    def services(self) -> Services:
        return self.civic.services

    @property
    def civic(self) -> CivicApplication:
        application = self.application
        assert isinstance(application, CivicApplication)
        return application

    @property
    def udata(self) -> dict[str, Any]:
        data = self.user_data
        assert data is not None
        return data


async def load_person(context: BotContext, user_id: int) -> Person | None:
    async with context.services.db.reading() as session:
        return await PeopleRepository(session).get(user_id)


def language_for(update: Update, context: BotContext, person: Person | None) -> str:
    """The person's stored choice, else their session choice, else their Telegram client's."""
    if person is not None:
        return person.language
    chosen = context.user_data.get("language") if context.user_data is not None else None
    if isinstance(chosen, str):
        return chosen
    user = update.effective_user
    return pick_language(
        user.language_code if user else None, context.services.settings.default_language
    )


async def person_and_translator(
    update: Update, context: BotContext
) -> tuple[Person | None, Translator]:
    user = update.effective_user
    person = await load_person(context, user.id) if user else None
    return person, Translator(language_for(update, context, person), context.services.settings.tz)


async def translator(update: Update, context: BotContext) -> Translator:
    return (await person_and_translator(update, context))[1]
