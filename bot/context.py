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
from bot.intake import CURRENT, Intake, Work
from domain.people import Person
from storage.ballotkey import attach
from storage.clock import utcnow
from storage.db import USAGE, Database
from storage.people import PeopleRepository

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
    intake: Intake
    # Where the web side is reached (bot/web); https: the chat offers the Mini App.
    web_url = ""
    updates_handled = 0  # a running count, for monitoring and for tests to wait on

    async def initialize(self) -> None:
        await self.services.db.connect()
        await self.services.db.migrate()
        # Refuses to start without this database's ballot key (storage/ballotkey.py).
        await attach(self.services.db, self.services.settings.ballot_key_value())
        await super().initialize()

    async def shutdown(self) -> None:
        await super().shutdown()
        await self.services.db.close()
        log.info("Database use: %s", USAGE.summary())

    async def start(self) -> None:
        await super().start()
        await self.intake.start()

    async def stop(self) -> None:
        await self.intake.stop()
        await super().stop()

    async def update_persistence(self) -> None:
        """Nothing to do: each update's end saves that person's state (bot/intake.py), so
        PTB's periodic and final runs would only write it again."""

    def conversation_states(self) -> dict[str, Any]:
        """Each persistent ConversationHandler's states, by its name (PTB's tracking dicts)."""
        return self._conversation_handler_conversations

    def forget(self, work: Work) -> None:
        """The update is saved: drop the person's state from memory; the next update loads it
        again (it may reach another worker)."""
        if work.user_id is not None:
            self._user_data.pop(work.user_id, None)
            self._user_ids_to_be_updated_in_persistence.discard(work.user_id)
        chat = work.update.effective_chat
        if chat is not None:
            self._chat_data.pop(chat.id, None)
            self._chat_ids_to_be_updated_in_persistence.discard(chat.id)
        for states in self._conversation_handler_conversations.values():
            for key in work.keys:
                states.data.pop(key, None)
            states.pop_accessed_keys()


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
    """The person, read once per update: loaded with the update, again only after a write."""
    work = CURRENT.get()
    if work is not None and work.user_id == user_id and work.person_fresh:
        return work.person
    async with context.services.db.reading() as session:
        person = await PeopleRepository(session).get(user_id)
    if work is not None and work.user_id == user_id:
        work.person, work.person_fresh = person, True
    return person


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
