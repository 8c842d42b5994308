"""Rows behind python-telegram-bot's persistence: conversation states and per-person data."""

from __future__ import annotations

import json
from typing import Any

from storage.db import Session


class PtbStateRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    async def conversations(self, name: str) -> dict[tuple[int | str, ...], object]:
        rows = await self.session.fetchall(
            "SELECT key, state FROM ptb_conversations WHERE name = ?", (name,)
        )
        return {tuple(json.loads(row["key"])): json.loads(row["state"]) for row in rows}

    async def conversation_states(
        self, keys: list[tuple[int, ...]]
    ) -> dict[tuple[str, tuple[int | str, ...]], object]:
        """The stored states under any of `keys`, in every conversation, by (name, key)."""
        if not keys:
            return {}
        rows = await self.session.fetchall(
            "SELECT name, key, state FROM ptb_conversations"
            f" WHERE key IN ({','.join('?' * len(keys))})",
            [json.dumps(list(key)) for key in keys],
        )
        return {
            (row["name"], tuple(json.loads(row["key"]))): json.loads(row["state"]) for row in rows
        }

    async def set_conversation(
        self, name: str, key: tuple[int | str, ...], state: object | None
    ) -> None:
        encoded_key = json.dumps(list(key))
        if state is None:
            await self.session.execute(
                "DELETE FROM ptb_conversations WHERE name = ? AND key = ?", (name, encoded_key)
            )
            return
        await self.session.execute(
            "INSERT INTO ptb_conversations (name, key, state) VALUES (?, ?, ?)"
            " ON CONFLICT (name, key) DO UPDATE SET state = excluded.state",
            (name, encoded_key, json.dumps(state)),
        )

    async def all_user_data(self) -> dict[int, dict[str, Any]]:
        rows = await self.session.fetchall("SELECT user_id, data FROM ptb_user_data")
        return {row["user_id"]: json.loads(row["data"]) for row in rows}

    async def set_user_data(self, user_id: int, data: dict[str, Any]) -> None:
        if not data:
            await self.drop_user_data(user_id)
            return
        await self.session.execute(
            "INSERT INTO ptb_user_data (user_id, data) VALUES (?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET data = excluded.data",
            (user_id, json.dumps(data, ensure_ascii=False)),
        )

    async def drop_user_data(self, user_id: int) -> None:
        await self.session.execute("DELETE FROM ptb_user_data WHERE user_id = ?", (user_id,))

    async def user_data_of(self, user_ids: list[int]) -> dict[int, dict[str, Any]]:
        if not user_ids:
            return {}
        marks = ",".join("?" * len(user_ids))
        rows = await self.session.fetchall(
            f"SELECT user_id, data FROM ptb_user_data WHERE user_id IN ({marks})", user_ids
        )
        return {row["user_id"]: json.loads(row["data"]) for row in rows}

    async def user_data(self, user_id: int) -> dict[str, Any]:
        data = await self.session.scalar(
            "SELECT data FROM ptb_user_data WHERE user_id = ?", (user_id,)
        )
        return {} if data is None else dict(json.loads(data))

    async def conversations_of(self, user_id: int) -> list[dict[str, Any]]:
        """Private chats: the key is (chat_id, user_id) with chat_id == user_id."""
        rows = await self.session.fetchall("SELECT name, key, state FROM ptb_conversations")
        return [
            {"conversation": row["name"], "state": json.loads(row["state"])}
            for row in rows
            if user_id in json.loads(row["key"])
        ]

    async def drop_conversations_of(self, user_id: int) -> None:
        rows = await self.session.fetchall("SELECT name, key FROM ptb_conversations")
        for row in rows:
            if user_id in json.loads(row["key"]):
                await self.session.execute(
                    "DELETE FROM ptb_conversations WHERE name = ? AND key = ?",
                    (row["name"], row["key"]),
                )
