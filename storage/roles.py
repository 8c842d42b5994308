"""Granted roles; super-admins (ADMIN_IDS) hold every role without a row."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from domain.roles import Role
from storage.clock import to_db
from storage.db import Session


class RolesRepository:
    def __init__(self, session: Session, super_admins: Collection[int] = ()) -> None:
        self.session = session
        self.super_admins = super_admins

    async def grant(
        self,
        user_id: int,
        role: Role,
        now: datetime,
        scope: str = "",
        granted_by: int | None = None,
    ) -> None:
        await self.session.execute(
            "INSERT INTO roles (user_id, role, scope, granted_by, granted_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (user_id, role.value, scope, granted_by, to_db(now)),
        )

    async def revoke(self, user_id: int, role: Role, scope: str = "") -> None:
        await self.session.execute(
            "DELETE FROM roles WHERE user_id = ? AND role = ? AND scope = ?",
            (user_id, role.value, scope),
        )

    async def has(self, user_id: int, role: Role, scope: str | None = None) -> bool:
        """Admins hold every role; a role granted with scope "" covers every scope."""
        if user_id in self.super_admins:
            return True
        scopes = ("",) if scope is None else ("", scope)
        found = await self.session.scalar(
            "SELECT 1 FROM roles WHERE user_id = ? AND (role = 'admin' OR (role = ? AND scope IN"
            f" ({','.join('?' * len(scopes))})))",
            (user_id, role.value, *scopes),
        )
        return found is not None

    async def scopes(self, user_id: int, role: Role) -> set[str] | None:
        """The scopes a person holds a role in; None means all of them."""
        if user_id in self.super_admins:
            return None
        rows = await self.session.fetchall(
            "SELECT role, scope FROM roles WHERE user_id = ? AND role IN ('admin', ?)",
            (user_id, role.value),
        )
        if any(r["role"] == "admin" or r["scope"] == "" for r in rows):
            return None
        return {r["scope"] for r in rows}

    async def erase_person(self, user_id: int) -> None:
        """Their roles go with them (no one acts under an erased person's id); the roles
        they granted stay, without the link to who granted them."""
        await self.session.execute("DELETE FROM roles WHERE user_id = ?", (user_id,))
        await self.session.execute(
            "UPDATE roles SET granted_by = NULL WHERE granted_by = ?", (user_id,)
        )
