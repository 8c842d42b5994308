"""The voting repository: ballot headings, the voter roll, ballots, offline counts, results."""

from __future__ import annotations

import json
import random
import secrets
from collections import Counter
from dataclasses import asdict
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from domain.voting import Heading, HeadingKind, Item, StoredBallot
from storage.ballotkey import NO_KEY_HELP, BallotKey, BallotKeyProblem, receipt_digest
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


class Enrolment(StrEnum):
    """What the roll said to a cast."""

    FIRST = "first"  # the person's first ballot in the heading
    AGAIN = "again"  # it replaces their earlier one
    OTHER_HEADING = "other_heading"  # they are on the roll of another heading of its group
    NO_PERSON = "no_person"  # no such person (erased meanwhile)


class VotingRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    async def secret(self, name: str) -> bytes:
        """An installation key kept in the database, made on first use: for what a database
        holder may link anyway (panel applicants are named on their applications). Never
        the ballot key (storage/ballotkey.py)."""
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
        # The roll follows a heading put in another group after people voted in it (`cast`
        # relies on its index); who is already on the roll of another heading of the new
        # group stays there, and their entry here keeps no group.
        await self.session.execute(
            "UPDATE voter_roll SET heading_group = CASE WHEN EXISTS (SELECT 1 FROM voter_roll e"
            " WHERE e.user_id = voter_roll.user_id AND e.stage_id = voter_roll.stage_id"
            " AND e.heading_group = ? AND e.heading_id <> voter_roll.heading_id) THEN NULL"
            " ELSE ? END WHERE heading_id = ?",
            (heading.group, heading.group, heading_id),
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
    # A cast writes the roll entry and the ballot sealed with the ballot key (`ballot_box`),
    # in one unit of work; `mix` later moves a heading's sealed ballots into `ballots`,
    # rewriting all its rows at once in a shuffled order under random ids. So no ballot row
    # is written in a voter's transaction (PostgreSQL would give both rows one xid), and
    # nothing on it follows the order or the time of voting (docs/ballot-secrecy.md).
    def key(self) -> BallotKey:
        if self.session.ballot_key is None:
            raise BallotKeyProblem(NO_KEY_HELP)
        return self.session.ballot_key

    async def cast(
        self,
        heading_id: int,
        stage_id: int,
        heading_group: str | None,
        user_id: int,
        pseudonym: str,
        choices: list[str],
        weight: float,
        voter_group: str,
        now: datetime,
    ) -> Enrolment:
        """Store a person's ballot, replacing their earlier one, unless the roll refuses it.

        The roll entry comes first, in one statement: the unique index of its group (migration
        0024) refuses a second heading of a group even to a cast running at the same moment,
        and it share-locks the person's row, so an erasure (which locks that row first) waits
        for this cast to end or leaves it no person to enrol. Nothing else is written when it
        refuses."""
        # The person's row must stay until this unit of work ends (PostgreSQL: erasure).
        share = " FOR KEY SHARE" if self.session.dialect == "postgres" else ""
        entered = await self.session.scalar(
            "INSERT INTO voter_roll (heading_id, user_id, stage_id, heading_group,"
            " first_voted_at, last_voted_at) SELECT ?, user_id, ?, ?, ?, ? FROM people"
            f" WHERE user_id = ?{share} ON CONFLICT DO NOTHING RETURNING 1",
            (heading_id, stage_id, heading_group, to_db(now), to_db(now), user_id),
        )
        if entered is not None:
            enrolment = Enrolment.FIRST
        elif await self.session.execute(
            "UPDATE voter_roll SET last_voted_at = ? WHERE heading_id = ? AND user_id = ?",
            (to_db(now), heading_id, user_id),
        ):
            enrolment = Enrolment.AGAIN
        elif await self.session.scalar("SELECT 1 FROM people WHERE user_id = ?", (user_id,)):
            return Enrolment.OTHER_HEADING
        else:
            return Enrolment.NO_PERSON
        key = self.key()
        sealed = key.seal({"p": pseudonym, "c": choices, "w": weight, "g": voter_group})
        await self.session.execute(
            "INSERT INTO ballot_box (heading_id, sealed) VALUES (?, ?)", (heading_id, sealed)
        )
        await self.session.execute(
            "INSERT INTO ballot_receipts (heading_id, digest) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (heading_id, receipt_digest(key.receipt(pseudonym))),
        )
        return enrolment

    async def _waiting(self, heading_id: int) -> list[tuple[int, dict[str, Any]]]:
        """The heading's sealed ballots, opened, oldest first."""
        rows = await self.session.fetchall(
            "SELECT id, sealed FROM ballot_box WHERE heading_id = ? ORDER BY id", (heading_id,)
        )
        if not rows:
            return []
        key = self.key()
        return [(row["id"], key.open(row["sealed"])) for row in rows]

    async def ballot_of(self, heading_id: int, pseudonym: str) -> list[str] | None:
        """The choices of the ballot under this pseudonym: the latest sealed one, else the
        mixed one."""
        for _, waiting in reversed(await self._waiting(heading_id)):
            if waiting["p"] == pseudonym:
                return list(waiting["c"])
        found = await self.session.scalar(
            "SELECT choices FROM ballots WHERE heading_id = ? AND pseudonym = ?",
            (heading_id, pseudonym),
        )
        return None if found is None else list(json.loads(found))

    async def locked_out(self, heading_id: int, user_id: int, pseudonym: str) -> bool:
        """On the heading's roll, but no ballot under this pseudonym (cast under a key that
        was lost and replaced: the ballot stays counted and can no longer be changed).

        The roll, the sealed ballots and the mixed one are read in one statement, so at one
        moment: read one after the other, a mix in between that held the person's newest
        sealed ballot (its class too small, `mix`) and took their older one out of the
        table would leave them in neither read."""
        rows = await self.session.fetchall(
            "SELECT 'roll' AS place, NULL AS sealed FROM voter_roll"
            " WHERE heading_id = ? AND user_id = ?"
            " UNION ALL SELECT 'mixed', NULL FROM ballots WHERE heading_id = ? AND pseudonym = ?"
            # The sealed ones only for someone on the roll (a first ballot reads none).
            " UNION ALL SELECT 'box', sealed FROM ballot_box WHERE heading_id = ? AND EXISTS"
            " (SELECT 1 FROM voter_roll WHERE heading_id = ? AND user_id = ?)",
            (heading_id, user_id, heading_id, pseudonym, heading_id, heading_id, user_id),
        )
        places = {row["place"] for row in rows}
        if "roll" not in places or "mixed" in places:
            return False
        key = self.key()
        return not any(
            key.open(row["sealed"])["p"] == pseudonym for row in rows if row["place"] == "box"
        )

    async def _counted(
        self, heading_id: int
    ) -> tuple[dict[int, str], list[tuple[str | None, StoredBallot]]]:
        """Every ballot that counts, each under its pseudonym (None: offline or erased), in
        no order that says anything; and the sealed ones read (box id → pseudonym)."""
        rows = await self.session.fetchall(
            "SELECT pseudonym, choices, weight, voter_group, source FROM ballots"
            " WHERE heading_id = ?",
            (heading_id,),
        )
        named: dict[str, StoredBallot] = {}
        unnamed: list[StoredBallot] = []
        for r in rows:
            ballot = StoredBallot(
                choices=tuple(json.loads(r["choices"])),
                weight=r["weight"],
                group=r["voter_group"],
                offline=r["source"] == "offline",
            )
            if r["pseudonym"] is None:
                unnamed.append(ballot)
            else:
                named[r["pseudonym"]] = ballot
        waiting = await self._waiting(heading_id)
        for _, data in waiting:
            named[data["p"]] = StoredBallot(tuple(data["c"]), float(data["w"]), str(data["g"]))
        found: list[tuple[str | None, StoredBallot]] = [
            *named.items(),
            *((None, ballot) for ballot in unnamed),
        ]
        found.sort(key=lambda entry: _sort_key(entry[1]))
        return {box_id: str(data["p"]) for box_id, data in waiting}, found

    async def mix(
        self, heading_id: int, forget: frozenset[str] = frozenset(), force: bool = False
    ) -> int:
        """Move the heading's sealed ballots into `ballots`, rewriting every row of the heading
        at once, shuffled, under fresh random ids (`force`: even with none waiting);
        `forget`: pseudonyms to drop from their ballots (the ballots stay counted). Returns
        how many sealed ballots moved."""
        await self.session.lock("heading", heading_id)  # one mix of a heading at a time
        boxed, counted = await self._counted(heading_id)
        # A weight or voter group with few ballots would single its voters out (the roll
        # and the budget-school or panel lists say who they are): while a heading has more
        # than one, the ballots of a class with fewer than MIN_CLASS stay sealed, counted
        # with the key, until it has enough.
        sizes = Counter(_class(ballot) for _, ballot in counted if not ballot.offline)
        held: set[str] = set()
        if len(sizes) > 1:
            held = {
                name
                for name, ballot in counted
                if name is not None
                and name not in forget
                and name in boxed.values()
                and sizes[_class(ballot)] < MIN_CLASS
            }
        latest = {name: box_id for box_id, name in sorted(boxed.items())}
        kept = {latest[name] for name in held}
        box_ids = [box_id for box_id in boxed if box_id not in kept]
        if not box_ids and not forget and not force:
            return 0
        counted = [(name, ballot) for name, ballot in counted if name not in held]
        _SHUFFLE.shuffle(counted)
        await self.session.execute("DELETE FROM ballots WHERE heading_id = ?", (heading_id,))
        for start in range(0, len(box_ids), 500):
            chunk = box_ids[start : start + 500]
            await self.session.execute(
                f"DELETE FROM ballot_box WHERE id IN ({','.join('?' * len(chunk))})", chunk
            )
        await self.session.executemany(
            "INSERT INTO ballots (id, heading_id, pseudonym, choices, weight, voter_group, source)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    random_id(),
                    heading_id,
                    None if name in forget else name,
                    json.dumps(sorted(ballot.choices)),
                    ballot.weight,
                    ballot.group,
                    "offline" if ballot.offline else "online",
                )
                for name, ballot in counted
            ],
        )
        return len(box_ids)

    async def all_heading_ids(self) -> list[int]:
        rows = await self.session.fetchall("SELECT id FROM ballot_headings ORDER BY id")
        return [row[0] for row in rows]

    async def headings_to_mix(self) -> list[int]:
        rows = await self.session.fetchall(
            "SELECT DISTINCT heading_id FROM ballot_box ORDER BY heading_id"
        )
        return [row[0] for row in rows]

    async def add_offline_ballots(
        self, heading_id: int, ballots: list[StoredBallot], now: datetime
    ) -> None:
        await self.session.executemany(
            "INSERT INTO ballots (id, heading_id, pseudonym, choices, weight, voter_group,"
            " source) VALUES (?, ?, NULL, ?, ?, ?, 'offline')",
            [
                (random_id(), heading_id, json.dumps(list(b.choices)), b.weight, b.group)
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
        """The heading's counted ballots, sealed ones included, sorted by their content."""
        return [ballot for _, ballot in (await self._counted(heading_id))[1]]

    async def counts(self, heading_id: int) -> dict[str, int]:
        """(online ballots, offline ballots, voters on the roll) for reports."""
        ballots = await self.ballots(heading_id)
        offline = sum(ballot.offline for ballot in ballots)
        voters = await self.session.scalar(
            "SELECT COUNT(*) FROM voter_roll WHERE heading_id = ?", (heading_id,)
        )
        return {"online": len(ballots) - offline, "offline": offline, "voters": int(voters)}

    async def receipt_recorded(self, heading_id: int, code: str) -> bool:
        found = await self.session.scalar(
            "SELECT 1 FROM ballot_receipts WHERE heading_id = ? AND digest = ?",
            (heading_id, receipt_digest(code)),
        )
        return found is not None

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
        person (their heading is mixed again); the roll forgets them."""
        key = self.key()
        rows = await self.session.fetchall(
            "SELECT h.id, h.stage_id, h.key FROM voter_roll r"
            " JOIN ballot_headings h ON h.id = r.heading_id WHERE r.user_id = ?",
            (user_id,),
        )
        for row in rows:
            name = key.pseudonym(row["stage_id"], row["key"], user_id)
            await self.mix(row["id"], forget=frozenset({name}))
        await self.session.execute("DELETE FROM voter_roll WHERE user_id = ?", (user_id,))
        await self.session.execute("DELETE FROM budget_school WHERE user_id = ?", (user_id,))


_SHUFFLE: Final = random.SystemRandom()
# The fewest ballots of one weight and voter group that may stand in the ballot table.
MIN_CLASS: Final = 5


def random_id() -> int:
    """Ballot ids say nothing of when a ballot was cast (1 … 2^62)."""
    return secrets.randbelow(2**62) + 1


def _class(ballot: StoredBallot) -> tuple[float, str]:
    return (ballot.weight, ballot.group)


def _sort_key(ballot: StoredBallot) -> tuple[bool, tuple[str, ...], float, str]:
    return (ballot.offline, tuple(sorted(ballot.choices)), ballot.weight, ballot.group)
