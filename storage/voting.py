"""The voting repository: ballot headings, the voter roll, ballots, offline counts, results."""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict
from datetime import datetime
from typing import Any

from domain.voting import Heading, HeadingKind, Item, StoredBallot, pseudonym
from storage.clock import from_db, maybe_from_db, to_db
from storage.db import Session


def heading_to_json(heading: Heading) -> str:
    data = asdict(heading)
    data["kind"] = heading.kind.value
    return json.dumps(data, ensure_ascii=False)


def heading_from_json(text: str) -> Heading:
    data: dict[str, Any] = json.loads(text)
    data["kind"] = HeadingKind(data["kind"])
    data["items"] = tuple(Item(**item) for item in data["items"])
    return Heading(**data)


class VotingRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    async def secret(self, name: str = "ballot-pseudonyms") -> bytes:
        """The installation's key, made on first use."""
        value = await self.session.scalar(
            "SELECT value FROM installation_secrets WHERE name = ?", (name,)
        )
        if value is None:
            value = secrets.token_hex(32)
            await self.session.execute(
                "INSERT INTO installation_secrets (name, value) VALUES (?, ?)"
                " ON CONFLICT DO NOTHING",
                (name, value),
            )
            value = await self.session.scalar(
                "SELECT value FROM installation_secrets WHERE name = ?", (name,)
            )
        return bytes.fromhex(str(value))

    # -- headings ----------------------------------------------------------------------
    async def save_heading(self, stage_id: int, heading: Heading) -> int:
        await self.session.execute(
            "INSERT INTO ballot_headings (stage_id, key, definition) VALUES (?, ?, ?)"
            " ON CONFLICT (stage_id, key) DO UPDATE SET definition = excluded.definition",
            (stage_id, heading.key, heading_to_json(heading)),
        )
        heading_id: int = await self.session.scalar(
            "SELECT id FROM ballot_headings WHERE stage_id = ? AND key = ?",
            (stage_id, heading.key),
        )
        return heading_id

    async def headings(self, stage_id: int) -> list[tuple[int, Heading]]:
        rows = await self.session.fetchall(
            "SELECT id, definition FROM ballot_headings WHERE stage_id = ? ORDER BY id",
            (stage_id,),
        )
        return [(r["id"], heading_from_json(r["definition"])) for r in rows]

    async def all_headings(self) -> dict[int, list[tuple[int, Heading]]]:
        """Every heading, by stage id."""
        found: dict[int, list[tuple[int, Heading]]] = {}
        for row in await self.session.fetchall(
            "SELECT id, stage_id, definition FROM ballot_headings ORDER BY id"
        ):
            found.setdefault(row["stage_id"], []).append(
                (row["id"], heading_from_json(row["definition"]))
            )
        return found

    async def heading(self, heading_id: int) -> tuple[int, Heading] | None:
        row = await self.session.fetchone(
            "SELECT stage_id, definition FROM ballot_headings WHERE id = ?", (heading_id,)
        )
        return None if row is None else (row["stage_id"], heading_from_json(row["definition"]))

    # -- ballots and the roll ------------------------------------------------------------
    async def cast(
        self,
        heading_id: int,
        user_id: int,
        pseudonym: str,
        choices: list[str],
        weight: float,
        group: str,
        now: datetime,
    ) -> bool:
        """Store a person's ballot, replacing their earlier one; True if it is their first."""
        await self.session.execute(
            "INSERT INTO ballots (heading_id, pseudonym, choices, weight, voter_group, cast_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (heading_id, pseudonym) DO UPDATE SET"
            " choices = excluded.choices, weight = excluded.weight,"
            " voter_group = excluded.voter_group, cast_at = excluded.cast_at",
            (heading_id, pseudonym, json.dumps(choices), weight, group, to_db(now)),
        )
        first = not await self.has_voted(heading_id, user_id)
        await self.session.execute(
            "INSERT INTO voter_roll (heading_id, user_id, first_voted_at, last_voted_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (heading_id, user_id)"
            " DO UPDATE SET last_voted_at = excluded.last_voted_at",
            (heading_id, user_id, to_db(now), to_db(now)),
        )
        return first

    async def ballot_of(self, heading_id: int, pseudonym: str) -> tuple[list[str], datetime] | None:
        row = await self.session.fetchone(
            "SELECT choices, cast_at FROM ballots WHERE heading_id = ? AND pseudonym = ?",
            (heading_id, pseudonym),
        )
        return None if row is None else (json.loads(row["choices"]), from_db(row["cast_at"]))

    async def add_offline_ballots(
        self, heading_id: int, ballots: list[StoredBallot], now: datetime
    ) -> None:
        await self.session.executemany(
            "INSERT INTO ballots (heading_id, pseudonym, choices, weight, voter_group, source,"
            " cast_at) VALUES (?, NULL, ?, ?, ?, 'offline', ?)",
            [
                (heading_id, json.dumps(list(b.choices)), b.weight, b.group, to_db(now))
                for b in ballots
            ],
        )

    async def set_offline_counts(self, heading_id: int, counts: dict[str, int], note: str) -> None:
        await self.session.execute("DELETE FROM offline_counts WHERE heading_id = ?", (heading_id,))
        await self.session.executemany(
            "INSERT INTO offline_counts (heading_id, item_key, votes, note) VALUES (?, ?, ?, ?)",
            [(heading_id, key, votes, note) for key, votes in counts.items()],
        )

    async def offline_counts(self, heading_id: int) -> dict[str, int]:
        rows = await self.session.fetchall(
            "SELECT item_key, votes FROM offline_counts WHERE heading_id = ?", (heading_id,)
        )
        return {r["item_key"]: r["votes"] for r in rows}

    async def ballots(self, heading_id: int) -> list[StoredBallot]:
        rows = await self.session.fetchall(
            "SELECT choices, weight, voter_group, source FROM ballots WHERE heading_id = ?"
            " ORDER BY id",
            (heading_id,),
        )
        return [
            StoredBallot(
                choices=tuple(json.loads(r["choices"])),
                weight=r["weight"],
                group=r["voter_group"],
                offline=r["source"] == "offline",
            )
            for r in rows
        ]

    async def counts(self, heading_id: int) -> dict[str, int]:
        """(online ballots, offline ballots, voters on the roll) for reports."""
        online = await self.session.scalar(
            "SELECT COUNT(*) FROM ballots WHERE heading_id = ? AND source = 'online'",
            (heading_id,),
        )
        offline = await self.session.scalar(
            "SELECT COUNT(*) FROM ballots WHERE heading_id = ? AND source = 'offline'",
            (heading_id,),
        )
        voters = await self.session.scalar(
            "SELECT COUNT(*) FROM voter_roll WHERE heading_id = ?", (heading_id,)
        )
        return {"online": int(online), "offline": int(offline), "voters": int(voters)}

    async def voters(self, heading_id: int) -> list[int]:
        rows = await self.session.fetchall(
            "SELECT user_id FROM voter_roll WHERE heading_id = ? ORDER BY user_id", (heading_id,)
        )
        return [r[0] for r in rows]

    async def voted_headings(self, stage_id: int, user_id: int) -> list[int]:
        rows = await self.session.fetchall(
            "SELECT r.heading_id FROM voter_roll r JOIN ballot_headings h ON h.id = r.heading_id"
            " WHERE h.stage_id = ? AND r.user_id = ?",
            (stage_id, user_id),
        )
        return [r[0] for r in rows]

    async def has_voted(self, heading_id: int, user_id: int) -> bool:
        found = await self.session.scalar(
            "SELECT 1 FROM voter_roll WHERE heading_id = ? AND user_id = ?", (heading_id, user_id)
        )
        return found is not None

    async def voted_by(self, user_id: int) -> list[tuple[int, datetime]]:
        """The headings this person is on the roll of, with when they last voted, newest
        first (for their own page)."""
        rows = await self.session.fetchall(
            "SELECT heading_id, last_voted_at FROM voter_roll WHERE user_id = ?"
            " ORDER BY last_voted_at DESC, heading_id",
            (user_id,),
        )
        return [(r["heading_id"], from_db(r["last_voted_at"])) for r in rows]

    # -- results -------------------------------------------------------------------------
    async def save_result(
        self, heading_id: int, rule: str, selected: list[str], now: datetime
    ) -> None:
        await self.session.execute(
            "INSERT INTO tally_results (heading_id, rule, selected, computed_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (heading_id) DO UPDATE SET rule = excluded.rule,"
            " selected = excluded.selected, computed_at = excluded.computed_at"
            " WHERE tally_results.confirmed_at IS NULL",
            (heading_id, rule, json.dumps(selected), to_db(now)),
        )

    async def result(self, heading_id: int) -> dict[str, Any] | None:
        row = await self.session.fetchone(
            "SELECT * FROM tally_results WHERE heading_id = ?", (heading_id,)
        )
        if row is None:
            return None
        return {
            "rule": row["rule"],
            "selected": json.loads(row["selected"]),
            "computed_at": from_db(row["computed_at"]),
            "confirmed_at": maybe_from_db(row["confirmed_at"]),
            "confirmed_by": row["confirmed_by"],
        }

    async def confirm(self, heading_id: int, user_id: int, now: datetime) -> bool:
        changed = await self.session.execute(
            "UPDATE tally_results SET confirmed_at = ?, confirmed_by = ?"
            " WHERE heading_id = ? AND confirmed_at IS NULL",
            (to_db(now), user_id, heading_id),
        )
        return changed > 0

    # -- budget school (예산학교) ----------------------------------------------------------
    async def complete_budget_school(self, user_id: int, now: datetime, source: str) -> None:
        await self.session.execute(
            "INSERT INTO budget_school (user_id, completed_at, source) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (user_id, to_db(now), source),
        )

    async def completed_budget_school(self, user_id: int) -> bool:
        found = await self.session.scalar(
            "SELECT 1 FROM budget_school WHERE user_id = ?", (user_id,)
        )
        return found is not None

    # -- privacy -----------------------------------------------------------------------
    async def export_person(self, user_id: int) -> dict[str, Any]:
        rows = await self.session.fetchall(
            "SELECT g.key AS programme, g.name_ko AS programme_name, h.id AS heading_id,"
            " h.key AS heading, r.first_voted_at, r.last_voted_at FROM voter_roll r"
            " JOIN ballot_headings h ON h.id = r.heading_id JOIN stages s ON s.id = h.stage_id"
            " JOIN programmes g ON g.id = s.programme_id WHERE r.user_id = ? ORDER BY h.id",
            (user_id,),
        )
        voted = []
        for row in rows:
            found = await self.heading(row["heading_id"])
            name = found[1].name_ko if found is not None else row["heading"]
            voted.append(
                {
                    "voted_in": f"{row['programme_name']} — {name}",
                    "programme": row["programme"],
                    "heading": row["heading"],
                    "first_voted_at": row["first_voted_at"],
                    "last_voted_at": row["last_voted_at"],
                }
            )
        school = await self.session.fetchall(
            "SELECT completed_at, source FROM budget_school WHERE user_id = ?", (user_id,)
        )
        return {
            # Only that the person voted, and where (SPEC §6): their choices are not linked
            # to them.
            "voted_in": voted,
            "budget_school": [dict(r) for r in school],
        }

    async def erase_person(self, user_id: int) -> None:
        """Counted ballots stay counted but lose the pseudonym that could lead back to the
        person; the roll forgets them."""
        secret = await self.secret()
        rows = await self.session.fetchall(
            "SELECT h.id, h.stage_id, h.key FROM voter_roll r"
            " JOIN ballot_headings h ON h.id = r.heading_id WHERE r.user_id = ?",
            (user_id,),
        )
        for row in rows:
            await self.session.execute(
                "UPDATE ballots SET pseudonym = NULL WHERE heading_id = ? AND pseudonym = ?",
                (row["id"], pseudonym(secret, row["stage_id"], row["key"], user_id)),
            )
        await self.session.execute("DELETE FROM voter_roll WHERE user_id = ?", (user_id,))
        await self.session.execute("DELETE FROM budget_school WHERE user_id = ?", (user_id,))
