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


# Programmes change rarely (an import, a new installation) and are read by most updates:
# each process keeps them, per database, with the version they were read at. Every change
# goes through `upsert`, which bumps `cache_versions.programmes` in the same unit of work, so
# one small read tells whether what is kept is current (another process may have imported).
_KEPT: dict[str, tuple[int, list[tuple[int, Programme]]]] = {}


async def programmes_changed(session: Session) -> None:
    """Bump the programmes' version: every process reads them again."""
    await session.execute(
        "INSERT INTO cache_versions (name, version) VALUES ('programmes', 1)"
        " ON CONFLICT (name) DO UPDATE SET version = cache_versions.version + 1"
    )


class ProgrammesRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    async def _current(self) -> list[tuple[int, Programme]]:
        """(id, programme) for every programme, in id order: kept, or read again when their
        version moved."""
        version = int(
            await self.session.scalar(
                "SELECT version FROM cache_versions WHERE name = 'programmes'"
            )
            or 0
        )
        kept = _KEPT.get(self.session.scope)
        if kept is not None and kept[0] == version:
            return kept[1]
        rows = await self.session.fetchall("SELECT * FROM programmes ORDER BY id")
        stage_rows = await self.session.fetchall(
            "SELECT * FROM stages ORDER BY programme_id, position"
        )
        stages: dict[int, list[Stage]] = {}
        for stage_row in stage_rows:
            stages.setdefault(stage_row["programme_id"], []).append(_stage(stage_row))
        current = [(row["id"], self._programme(row, stages.get(row["id"], []))) for row in rows]
        _KEPT[self.session.scope] = (version, current)
        return current

    async def upsert(self, programme: Programme, now: datetime) -> int:
        """Insert or replace a programme and its stages by key; returns its id.

        Stages keep their ids across re-imports (matched by key), so what refers to a stage
        stays attached when its dates change.
        """
        description = programme.description
        await programmes_changed(self.session)
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
        return [programme for _, programme in await self._current()]

    async def get(self, key: str) -> Programme | None:
        return next((p for _, p in await self._current() if p.key == key), None)

    async def id_of(self, key: str) -> int | None:
        return next((i for i, p in await self._current() if p.key == key), None)

    async def by_id(self, programme_id: int) -> Programme | None:
        return next((p for i, p in await self._current() if i == programme_id), None)

    async def count(self) -> int:
        return len(await self._current())

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
