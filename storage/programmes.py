"""The programmes repository (SPEC §3)."""

from __future__ import annotations

import json
from datetime import datetime

from domain.programmes import LocalizedText, Programme, Stage
from storage.clock import from_db, maybe_from_db, to_db
from storage.db import Row, Session


def _stage(row: Row) -> Stage:
    return Stage(
        key=row["key"],
        name=LocalizedText(ko=row["name_ko"], en=row["name_en"]),
        starts_at=from_db(row["starts_at"]),
        ends_at=maybe_from_db(row["ends_at"]),
        actions=frozenset(json.loads(row["actions"])),
    )


class ProgrammesRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    async def upsert(self, programme: Programme, now: datetime) -> int:
        """Insert or replace a programme and its stages by key; returns its id.

        Stages keep their ids across re-imports (matched by key), so what refers to a stage
        stays attached when its dates change.
        """
        description = programme.description
        await self.session.execute(
            "INSERT INTO programmes (key, kind, name_ko, name_en, description_ko, description_en,"
            " settings, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET kind = excluded.kind,"
            " name_ko = excluded.name_ko, name_en = excluded.name_en,"
            " description_ko = excluded.description_ko, description_en = excluded.description_en,"
            " settings = excluded.settings, updated_at = excluded.updated_at",
            (
                programme.key,
                programme.kind.value,
                programme.name.ko,
                programme.name.en,
                description.ko if description else None,
                description.en if description else None,
                json.dumps(programme.settings, ensure_ascii=False),
                to_db(now),
            ),
        )
        programme_id: int = await self.session.scalar(
            "SELECT id FROM programmes WHERE key = ?", (programme.key,)
        )
        kept = [stage.key for stage in programme.stages]
        await self.session.execute(
            "DELETE FROM stages WHERE programme_id = ?"
            f" AND key NOT IN ({','.join('?' * len(kept))})",
            (programme_id, *kept),
        )
        # Positions move when stages are reordered; park them first to keep UNIQUE happy.
        await self.session.execute(
            "UPDATE stages SET position = -position - 1 WHERE programme_id = ?", (programme_id,)
        )
        for position, stage in enumerate(programme.stages):
            await self.session.execute(
                "INSERT INTO stages (programme_id, position, key, name_ko, name_en, starts_at,"
                " ends_at, actions) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (programme_id, key) DO UPDATE SET position = excluded.position,"
                " name_ko = excluded.name_ko, name_en = excluded.name_en,"
                " starts_at = excluded.starts_at, ends_at = excluded.ends_at,"
                " actions = excluded.actions",
                (
                    programme_id,
                    position,
                    stage.key,
                    stage.name.ko,
                    stage.name.en,
                    to_db(stage.starts_at),
                    None if stage.ends_at is None else to_db(stage.ends_at),
                    json.dumps(sorted(stage.actions)),
                ),
            )
        return programme_id

    async def all(self) -> list[Programme]:
        rows = await self.session.fetchall("SELECT * FROM programmes ORDER BY id")
        stage_rows = await self.session.fetchall(
            "SELECT * FROM stages ORDER BY programme_id, position"
        )
        stages: dict[int, list[Stage]] = {}
        for stage_row in stage_rows:
            stages.setdefault(stage_row["programme_id"], []).append(_stage(stage_row))
        return [self._programme(row, stages.get(row["id"], [])) for row in rows]

    async def get(self, key: str) -> Programme | None:
        row = await self.session.fetchone("SELECT * FROM programmes WHERE key = ?", (key,))
        if row is None:
            return None
        stage_rows = await self.session.fetchall(
            "SELECT * FROM stages WHERE programme_id = ? ORDER BY position", (row["id"],)
        )
        return self._programme(row, [_stage(stage_row) for stage_row in stage_rows])

    async def id_of(self, key: str) -> int | None:
        found = await self.session.scalar("SELECT id FROM programmes WHERE key = ?", (key,))
        return None if found is None else int(found)

    async def by_id(self, programme_id: int) -> Programme | None:
        key = await self.session.scalar("SELECT key FROM programmes WHERE id = ?", (programme_id,))
        return None if key is None else await self.get(str(key))

    async def count(self) -> int:
        count: int = await self.session.scalar("SELECT COUNT(*) FROM programmes")
        return count

    @staticmethod
    def _programme(row: Row, stages: list[Stage]) -> Programme:
        description = None
        if row["description_ko"] and row["description_en"]:
            description = LocalizedText(ko=row["description_ko"], en=row["description_en"])
        return Programme.model_validate(
            {
                "key": row["key"],
                "kind": row["kind"],
                "name": LocalizedText(ko=row["name_ko"], en=row["name_en"]),
                "description": description,
                "settings": json.loads(row["settings"]),
                "stage": stages,
            }
        )
