"""Admin use cases: roles, moderation, posting blocks — each checked and audited (SPEC §2).

No Telegram here. Every function takes the acting person and refuses (and records the refused
attempt) unless their role allows it, whatever the chat showed them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from bot.i18n import Translator
from domain.notifications import Category, Payload
from domain.roles import Role
from storage import audit
from storage.clock import to_db
from storage.db import WRITE_HOOK, Database, Session
from storage.names import KnownName, NamesRepository
from storage.outbox import enqueue
from storage.people import PeopleRepository
from storage.roles import RolesRepository

Target = Literal["proposal", "comment"]


class Decision(StrEnum):
    RESTORE = "restore"
    REMOVE = "remove"


class Result(StrEnum):
    DONE = "done"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"


# Who may grant what: admins grant the roles below theirs; only super-admins make admins.
GRANTABLE_BY_ADMIN = frozenset({Role.MODERATOR, Role.REVIEWER, Role.WASTE_OFFICER})


async def allowed(
    session: Session,
    user_id: int,
    role: Role,
    admin_ids: Collection[int],
    action: str,
    now: datetime,
    scope: str | None = None,
) -> bool:
    """The role check every admin action starts with; a refusal is written to the audit log."""
    if await RolesRepository(session, admin_ids).has(user_id, role, scope):
        return True
    await audit.record(session, user_id, "refused", action, now, role=role.value)
    return False


async def grant(
    db: Database,
    actor_id: int,
    user_id: int,
    role: Role,
    scope: str,
    now: datetime,
    admin_ids: Collection[int],
) -> Result:
    async with db.transaction() as session:
        await session.lock("person", user_id)  # a role only for a person who exists
        if role is Role.ADMIN:
            permitted = actor_id in admin_ids
            if not permitted:
                await audit.record(session, actor_id, "refused", "grant", now, role=role.value)
        else:
            permitted = await allowed(session, actor_id, Role.ADMIN, admin_ids, "grant", now)
        if not permitted:
            return Result.FORBIDDEN
        if await PeopleRepository(session).get(user_id) is None:
            return Result.NOT_FOUND
        await RolesRepository(session).grant(user_id, role, now, scope, actor_id)
        await audit.record(
            session, actor_id, "grant", f"user:{user_id}", now, role=role.value, scope=scope
        )
    return Result.DONE


async def revoke(
    db: Database,
    actor_id: int,
    user_id: int,
    role: Role,
    scope: str,
    now: datetime,
    admin_ids: Collection[int],
) -> Result:
    async with db.transaction() as session:
        needs_super = role is Role.ADMIN
        if needs_super and actor_id not in admin_ids:
            await audit.record(session, actor_id, "refused", "revoke", now, role=role.value)
            return Result.FORBIDDEN
        if not await allowed(session, actor_id, Role.ADMIN, admin_ids, "revoke", now):
            return Result.FORBIDDEN
        await RolesRepository(session).revoke(user_id, role, scope)
        await audit.record(
            session, actor_id, "revoke", f"user:{user_id}", now, role=role.value, scope=scope
        )
    return Result.DONE


# -- people by name ----------------------------------------------------------------------
RECENT_SHOWN = 8


async def labels(session: Session, user_ids: Iterable[int]) -> dict[int, str]:
    """How officials see these people: their Telegram name and @username; the number only for
    someone whose name the bot never saw."""
    wanted = set(user_ids)
    known = await NamesRepository(session).of(wanted)
    return {
        user_id: known[user_id].label if user_id in known else f"#{user_id}" for user_id in wanted
    }


async def names_of(db: Database, user_ids: Iterable[int]) -> dict[int, str]:
    async with db.reading() as session:
        return await labels(session, user_ids)


async def remember_name(
    db: Database, user_id: int, full_name: str, username: str | None, now: datetime
) -> bool:
    """Keep the name a signed-up person has on Telegram now (False: not signed up).

    Not the update's own change: the write is idempotent, so it must not mark the update
    applied (bot/intake.py) — after a crash the update is then handled again in full."""
    async with db.reading() as session:
        if await PeopleRepository(session).get(user_id) is None:
            return False  # a read only: most updates of people not signed up write nothing
    outside = WRITE_HOOK.set(None)
    try:
        async with db.transaction() as session:
            return await NamesRepository(session).seen(user_id, full_name, username, now)
    finally:
        WRITE_HOOK.reset(outside)


async def person_by_username(db: Database, username: str) -> KnownName | None:
    async with db.reading() as session:
        return await NamesRepository(session).by_username(username)


async def person_by_id(db: Database, user_id: int) -> KnownName | None:
    """A signed-up person (by a forwarded message's author), with their name if known."""
    async with db.reading() as session:
        if await PeopleRepository(session).get(user_id) is None:
            return None
        known = await NamesRepository(session).of([user_id])
    return known.get(user_id, KnownName(user_id, f"#{user_id}", None))


async def recent_people(db: Database, leave_out: Iterable[int] = ()) -> list[KnownName]:
    """The participants seen last, to pick from when granting a role."""
    async with db.reading() as session:
        return await NamesRepository(session).recent(RECENT_SHOWN, leave_out)


async def grants(session: Session) -> list[tuple[int, Role, str]]:
    rows = await session.fetchall("SELECT user_id, role, scope FROM roles ORDER BY user_id, role")
    return [(r["user_id"], Role(r["role"]), r["scope"]) for r in rows]


# -- moderation -------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueItem:
    target: Target
    target_id: int
    text: str
    hidden: bool
    reports: int
    author_id: int | None


_QUEUE = """
SELECT '{kind}' AS target, t.id, {text} AS text, t.hidden, t.report_count, t.author_id
FROM {table} t
WHERE (t.hidden = 1 OR t.report_count > 0)
  AND NOT EXISTS (
    SELECT 1 FROM moderation_decisions d
    WHERE d.target_type = '{kind}' AND d.target_id = t.id
      AND d.at >= COALESCE((SELECT MAX(r.created_at) FROM content_reports r
                            WHERE r.target_type = '{kind}' AND r.target_id = t.id), ''))
"""


async def moderation_queue(session: Session, limit: int = 10) -> list[QueueItem]:
    """Hidden or reported content no moderator has decided on since its last report."""
    sql = (
        _QUEUE.format(kind="proposal", table="proposals", text="t.title || ': ' || t.description")
        + " UNION ALL "
        + _QUEUE.format(kind="comment", table="comments", text="t.text")
        + " ORDER BY 4 DESC, 5 DESC LIMIT ?"
    )
    rows = await session.fetchall(sql, (limit,))
    return [
        QueueItem(
            r["target"], r["id"], r["text"], bool(r["hidden"]), r["report_count"], r["author_id"]
        )
        for r in rows
    ]


async def decide(
    db: Database,
    moderator_id: int,
    target: Target,
    target_id: int,
    decision: Decision,
    reason: str,
    now: datetime,
    admin_ids: Collection[int],
) -> Result:
    table = "proposals" if target == "proposal" else "comments"
    async with db.transaction() as session:
        if not await allowed(session, moderator_id, Role.MODERATOR, admin_ids, "moderate", now):
            return Result.FORBIDDEN
        # As proposals.report: hiding and what it stops (a comment) one at a time.
        await session.lock("proposal", target_id if target == "proposal" else -target_id)
        row = await session.fetchone(f"SELECT author_id FROM {table} WHERE id = ?", (target_id,))
        if row is None:
            return Result.NOT_FOUND
        if decision is Decision.RESTORE:
            await session.execute(
                f"UPDATE {table} SET hidden = 0, report_count = 0 WHERE id = ?", (target_id,)
            )
        else:
            await session.execute(f"UPDATE {table} SET hidden = 1 WHERE id = ?", (target_id,))
        await session.execute(
            "INSERT INTO moderation_decisions (target_type, target_id, decision, reason,"
            " moderator_id, at) VALUES (?, ?, ?, ?, ?, ?)",
            (target, target_id, decision.value, reason, moderator_id, to_db(now)),
        )
        await audit.record(
            session, moderator_id, f"moderate:{decision.value}", f"{target}:{target_id}", now,
            reason=reason,
        )  # fmt: skip
        if decision is Decision.REMOVE and row["author_id"] is not None:
            await tell_author(session, row["author_id"], target, target_id, reason, now)
    return Result.DONE


async def tell_author(
    session: Session, user_id: int, target: Target, target_id: int, reason: str, now: datetime
) -> None:
    person = await PeopleRepository(session).get(user_id)
    if person is None:
        return
    t = Translator(person.language)
    what = t.gettext("your proposal") if target == "proposal" else t.gettext("your comment")
    text = t.gettext("A moderator removed %(what)s (#%(id)d). Reason: %(reason)s") % {
        "what": what,
        "id": target_id,
        "reason": reason,
    }
    await enqueue(
        session,
        user_id=user_id,
        category=Category.DIRECT,
        payload=Payload(text=text[:4096]),
        now=now,
        dedupe_key=f"moderation:{target}:{target_id}:{to_db(now)}",
    )


async def block_posting(
    db: Database,
    moderator_id: int,
    user_id: int,
    reason: str,
    now: datetime,
    admin_ids: Collection[int],
    block: bool = True,
) -> Result:
    async with db.transaction() as session:
        action = "block" if block else "unblock"
        if not await allowed(session, moderator_id, Role.MODERATOR, admin_ids, action, now):
            return Result.FORBIDDEN
        if block:
            await session.execute(
                "INSERT INTO posting_blocks (user_id, reason, blocked_by, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET reason = excluded.reason",
                (user_id, reason, moderator_id, to_db(now)),
            )
        else:
            await session.execute("DELETE FROM posting_blocks WHERE user_id = ?", (user_id,))
        await audit.record(session, moderator_id, action, f"user:{user_id}", now, reason=reason)
    return Result.DONE
