"""python-telegram-bot persistence in our database, so flows survive a restart."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import CDCData, ConversationDict, ConversationKey

from storage.db import Database
from storage.ptbstate import PtbStateRepository

UserData = dict[str, Any]


class DatabasePersistence(BasePersistence[UserData, dict[Any, Any], dict[Any, Any]]):
    """Conversation states and user_data live in the database; chat_data and bot_data are not
    used. Nothing is loaded at start-up: each update loads its person's state and saves what
    changed when it is done (bot/intake.py), since any worker may handle the next one.
    """

    def __init__(self, db: Database) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=False, user_data=True, callback_data=False
            ),
            update_interval=60,
        )
        self.db = db

    async def get_user_data(self) -> dict[int, UserData]:
        return {}

    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def get_bot_data(self) -> dict[Any, Any]:
        return {}

    async def get_callback_data(self) -> CDCData | None:
        return None

    async def get_conversations(self, name: str) -> ConversationDict:
        return {}

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        async with self.db.transaction() as session:
            await PtbStateRepository(session).set_conversation(name, tuple(key), new_state)

    async def update_user_data(self, user_id: int, data: UserData) -> None:
        async with self.db.transaction() as session:
            await PtbStateRepository(session).set_user_data(user_id, deepcopy(data))

    async def drop_user_data(self, user_id: int) -> None:
        async with self.db.transaction() as session:
            await PtbStateRepository(session).drop_user_data(user_id)

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        return None

    async def update_bot_data(self, data: dict[Any, Any]) -> None:
        return None

    async def update_callback_data(self, data: CDCData) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def refresh_user_data(self, user_id: int, user_data: UserData) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        return None

    async def refresh_bot_data(self, bot_data: dict[Any, Any]) -> None:
        return None

    async def flush(self) -> None:
        return None
