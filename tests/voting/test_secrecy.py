"""Ballot secrecy against whoever holds the database (issue 16, docs/ballot-secrecy.md).

An adversary gets a full copy of the database and no settings, and tries every link it can
between the voter roll and the ballots: recomputing pseudonyms with any key it finds, time
joins, id order, physical row order, PostgreSQL transaction ids, receipts handed over by the
voters, and the sealed ballots. Each voter chooses a different project, so a link is right
exactly when it names the voter's own project. The same attacks run first on a database laid
out as before (key in a table, times, ids in voting order), where they link everyone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import sqlite3
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.services import voting as service
from domain.voting import parse_ballot_file, pseudonym
from storage.ballotkey import receipt_digest
from storage.db import Database, SqliteDatabase
from storage.ptbstate import PtbStateRepository
from storage.voting import MIN_CLASS, VotingRepository
from tests.conftest import TEST_BALLOT_KEY
from tests.harness import Harness, said
from tests.proposals.conftest import seed_programmes, sign_up
from tests.voting.conftest import AFTER_VOTE, DURING_VOTE
from tests.voting.test_service import change_settings

VOTERS = list(range(101, 125))  # 24 voters, each for a project of their own
ITEMS = [f"i{n:02d}" for n in range(1, len(VOTERS) + 1)]
BALLOT = (
    'programme = "pb-citywide-2027"\nstage = "citizen-vote"\n'
    '[[heading]]\nkey = "open"\nname = { ko = "열린 투표", en = "Open vote" }\nmax_choices = 1\n'
    + "".join(f'[[heading.item]]\nkey = "{key}"\ntitle = "사업 {key}"\n' for key in ITEMS)
)
# Right links an attack may make by luck: against a random order it expects one; seven or
# more happen with a chance below 1 in 10,000.
LUCK = 6

Dump = dict[str, list[dict[str, Any]]]


async def a_vote(db: Database) -> tuple[int, dict[int, str], dict[int, str]]:
    """Everyone votes, one a minute; a mix; some change their ballot; a mix; three more
    change theirs after it (still sealed in the copy). Returns the heading, each voter's
    final choice, and the receipts the voters were given."""
    await seed_programmes(db)
    await sign_up(db, *VOTERS)
    heading = (await service.import_ballot(db, parse_ballot_file(BALLOT)))[0][0]
    truth: dict[int, str] = {}
    receipts: dict[int, str] = {}
    moment = DURING_VOTE

    async def cast(voter: int, choice: str) -> None:
        nonlocal moment
        moment += timedelta(minutes=1)
        result = await service.cast(db, voter, heading, [choice], moment, 14)
        assert result.refusal is None and result.receipt is not None
        truth[voter] = choice
        receipts[voter] = result.receipt

    for voter, item in zip(VOTERS[:12], ITEMS, strict=False):
        await cast(voter, item)
    await service.mix_ballots(db)
    for voter, item in zip(VOTERS[12:], ITEMS[12:], strict=True):
        await cast(voter, item)
    # Voters 1 and 2 swap their choices (a replaced ballot), then a mix.
    first, second = VOTERS[0], VOTERS[1]
    a, b = truth[first], truth[second]
    await cast(first, b)
    await cast(second, a)
    await service.mix_ballots(db)
    # Three swap again after the last mix: their ballots wait sealed.
    for voter, other in ((VOTERS[2], VOTERS[3]), (VOTERS[3], VOTERS[2])):
        await cast(voter, ITEMS[VOTERS.index(other)])
    await cast(VOTERS[4], ITEMS[VOTERS.index(VOTERS[4])])
    return heading, truth, receipts


async def full_copy(db: Database) -> Dump:
    """Every row of every table, as a database administrator sees them: on PostgreSQL with
    each row's transaction id (xmin) and physical place (ctid), on SQLite with its rowid."""
    dump: Dump = {}
    for table in await db.tables():
        async with db.reading() as session:
            if session.dialect == "postgres":
                sql = f"SELECT xmin::text AS _xmin, ctid::text AS _place, * FROM {table}"
            else:
                has_rowid = await session.scalar(
                    "SELECT sql NOT LIKE '%WITHOUT ROWID%' FROM sqlite_master WHERE name = ?",
                    (table,),
                )
                sql = f"SELECT {'rowid AS _place, ' if has_rowid else ''}* FROM {table}"
            dump[table] = [dict(zip(row.keys(), tuple(row), strict=True)) for row in
                           await session.fetchall(sql)]  # fmt: skip
    return dump


# -- the adversary: a copy of the database, voters' receipts, no settings --------------------
def _place(row: dict[str, Any]) -> tuple[int, ...]:
    value = row.get("_place")
    if isinstance(value, str):  # ctid "(page,item)"
        return tuple(int(part) for part in re.findall(r"\d+", value))
    return (int(value or 0),)


def _value(value: Any) -> tuple[float, str]:
    return (float(value), "") if isinstance(value, int | float) else (0.0, str(value))


def _orders(rows: list[dict[str, Any]], columns: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    found = {"_place": sorted(rows, key=_place)}
    for column in columns:
        if rows and column in rows[0]:
            found[column] = sorted(rows, key=lambda r: (_value(r[column]), _place(r)))
    if rows and "_xmin" in rows[0]:
        found["_xmin"] = sorted(rows, key=lambda r: (int(r["_xmin"]), _place(r)))
    return found


def _choices(ballot: dict[str, Any]) -> str | None:
    found = json.loads(ballot["choices"])
    return found[0] if found else None


def attacks(dump: Dump, heading: int, receipts: dict[int, str]) -> dict[str, dict[int, str]]:
    """Each attack's links: voter → the choice of the ballot it names for them."""
    ballots = [b for b in dump["ballots"] if b["heading_id"] == heading]
    roll = [r for r in dump["voter_roll"] if r["heading_id"] == heading]
    where = next(h for h in dump["ballot_headings"] if h["id"] == heading)
    links: dict[str, dict[int, str]] = {}

    # 1. Pseudonyms recomputed with every key-like value in the copy.
    text = json.dumps(dump, default=str)
    candidates = {value for value in re.findall(r"[0-9a-f]{64}", text)}
    candidates |= {str(r["value"]) for r in dump["installation_secrets"]}
    by_name = {b["pseudonym"]: b for b in ballots if b["pseudonym"]}
    found: dict[int, str] = {}
    for candidate in candidates:
        try:
            key = bytes.fromhex(candidate)
        except ValueError:
            continue
        for entry in roll:
            name = pseudonym(key, where["stage_id"], json.loads(where["definition"])["key"],
                             entry["user_id"])  # fmt: skip
            if name in by_name and (choice := _choices(by_name[name])):
                found[entry["user_id"]] = choice
    links["pseudonym"] = found

    # 2. Orders: the k-th ballot in one order for the k-th voter in another.
    ballot_orders = _orders(ballots, ("id", "cast_at"))
    roll_orders = _orders(roll, ("first_voted_at", "last_voted_at"))
    for b_name, b_rows in ballot_orders.items():
        for r_name, r_rows in roll_orders.items():
            pairs = zip(r_rows, b_rows, strict=False)
            links[f"order {r_name}~{b_name}"] = {
                r["user_id"]: c for r, b in pairs if (c := _choices(b))
            }

    # 3. Time joins and transaction ids: a ballot value equal to a roll entry's.
    joined: dict[int, str] = {}
    for entry in roll:
        marks = {str(entry[c]) for c in ("first_voted_at", "last_voted_at", "_xmin") if c in entry}
        for ballot in ballots:
            values = {str(v) for k, v in ballot.items() if k not in ("heading_id", "weight")}
            if marks & values and (choice := _choices(ballot)):
                joined[entry["user_id"]] = choice
    links["equal times or xids"] = joined

    # 4. Receipts the voters showed: from the receipt to a ballot, by value, xid or order.
    digests = {receipt_digest(code): voter for voter, code in receipts.items()}
    shown = [r for r in dump["ballot_receipts"] if r["heading_id"] == heading]
    by_receipt: dict[int, str] = {}
    for voter, code in receipts.items():
        for ballot in ballots:
            values = json.dumps(ballot, default=str)
            legacy = {
                hashlib.sha256(f"{ballot['pseudonym']}:{ballot.get(c)}".encode())
                .hexdigest()[:10]
                .upper()
                for c in ("cast_at", "id")
            }
            if (code in values or code in legacy) and (choice := _choices(ballot)):
                by_receipt[voter] = choice
    for row in shown:
        voter = digests.get(row["digest"])
        for ballot in ballots:
            if voter and "_xmin" in row and row["_xmin"] == ballot.get("_xmin"):
                if choice := _choices(ballot):
                    by_receipt[voter] = choice
    links["receipts"] = by_receipt
    for r_name, r_rows in _orders(shown, ()).items():
        for b_name, b_rows in ballot_orders.items():
            pairs = zip(r_rows, b_rows, strict=False)
            links[f"receipt order {r_name}~{b_name}"] = {
                digests[r["digest"]]: c for r, b in pairs if r["digest"] in digests
                if (c := _choices(b))
            }  # fmt: skip

    # 5. The sealed ballots: any project key readable in them, for the voter whose roll
    # entry shares their xid or place.
    sealed: dict[int, str] = {}
    for box in dump.get("ballot_box", []):
        raw = base64.b64decode(box["sealed"]) + box["sealed"].encode()
        # A key as JSON would hold it (quoted): three bare characters turn up in random
        # base64 text by chance (about one run in five), which is no link.
        readable = [key for key in ITEMS if f'"{key}"'.encode() in raw]
        for entry in roll:
            if readable and entry.get("_xmin") == box.get("_xmin"):
                sealed[entry["user_id"]] = readable[0]
    links["sealed ballots"] = sealed
    return links


def right(links: dict[int, str], truth: dict[int, str]) -> int:
    return sum(truth.get(voter) == choice for voter, choice in links.items())


def as_before(truth: dict[int, str], dump: Dump, heading: int) -> Dump:
    """The copy an installation from before issue 16 would give of the same vote: the key
    in a table, ids in voting order, cast_at equal to the roll's last_voted_at."""
    key = bytes.fromhex("ab" * 32)
    where = next(h for h in dump["ballot_headings"] if h["id"] == heading)
    heading_key = json.loads(where["definition"])["key"]
    roll = sorted(
        (r for r in dump["voter_roll"] if r["heading_id"] == heading),
        key=lambda r: str(r["last_voted_at"]),
    )
    ballots = [
        {
            "_place": n,
            "id": n,
            "heading_id": heading,
            "pseudonym": pseudonym(key, where["stage_id"], heading_key, r["user_id"]),
            "choices": json.dumps([truth[r["user_id"]]]),
            "weight": 1.0,
            "cast_at": r["last_voted_at"],
        }
        for n, r in enumerate(roll, 1)
    ]
    return {
        **dump,
        "installation_secrets": [{"name": "ballot-pseudonyms", "value": key.hex()}],
        "ballots": ballots,
        "ballot_receipts": [],
        "ballot_box": [],
    }


async def test_a_copy_of_the_database_links_no_ballot_to_a_voter(
    db: Database, tmp_path: Path
) -> None:
    heading, truth, receipts = await a_vote(db)
    dump = await full_copy(db)
    # The attacks are real: on the old layout each of these links every voter.
    before = attacks(as_before(truth, dump, heading), heading, receipts)
    for name in ("pseudonym", "order last_voted_at~id", "equal times or xids"):
        assert right(before[name], truth) == len(VOTERS), name

    links = attacks(dump, heading, receipts)
    assert len(links) >= 12
    for name, found in links.items():
        assert right(found, truth) <= LUCK, (name, found)
    for exact in ("pseudonym", "equal times or xids", "receipts", "sealed ballots"):
        assert right(links[exact], truth) == 0, exact
    # Nothing on a ballot row to join with: no time, no user id.
    assert set(dump["ballots"][0]) - {"_xmin", "_place"} == {
        "id", "heading_id", "pseudonym", "choices", "weight", "voter_group", "source"
    }  # fmt: skip
    assert TEST_BALLOT_KEY not in json.dumps(dump, default=str)
    if isinstance(db, SqliteDatabase):
        # Nor anywhere in the file: a backup, bytes and free pages included.
        copy = tmp_path / "copy.sqlite3"
        await db.backup(copy)
        raw = copy.read_bytes()
        assert TEST_BALLOT_KEY.encode() not in raw and bytes.fromhex(TEST_BALLOT_KEY) not in raw
        with sqlite3.connect(copy) as connection:
            assert connection.execute("PRAGMA secure_delete").fetchone() is not None


async def test_with_the_key_a_ballot_is_still_replaced(db: Database) -> None:
    heading, truth, receipts = await a_vote(db)
    voter = VOTERS[5]
    assert await service.current_choices(db, voter, heading) == [truth[voter]]
    again = await service.cast(db, voter, heading, [ITEMS[0]], DURING_VOTE + timedelta(hours=1), 14)
    assert again.replaced and again.refusal is None
    # One receipt per voter and heading: a shown receipt says nothing of a later change.
    assert again.receipt == receipts[voter]
    assert await service.receipt_counted(db, heading, receipts[voter].lower())
    assert not await service.receipt_counted(db, heading, "0123456789")
    assert await service.current_choices(db, voter, heading) == [ITEMS[0]]
    outcome = await service.results(db, heading, DURING_VOTE + timedelta(hours=2))
    assert outcome is not None and outcome.online == len(VOTERS)
    expected = dict.fromkeys(ITEMS, 0.0)
    for choice in {**truth, voter: ITEMS[0]}.values():
        expected[choice] += 1
    assert outcome.votes == expected
    await service.mix_ballots(db)
    async with db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM ballot_box") == 0
        rows = await session.fetchall(
            "SELECT choices FROM ballots WHERE heading_id = ?", (heading,)
        )
    assert sorted(json.loads(r["choices"])[0] for r in rows) == sorted(
        {**truth, voter: ITEMS[0]}.values()
    )
    assert await service.current_choices(db, voter, heading) == [ITEMS[0]]


def _mentions(record: logging.LogRecord, needles: Iterable[str]) -> set[str]:
    text = record.getMessage() + repr(record.__dict__)
    return {needle for needle in needles if needle in text}


async def test_no_log_line_names_a_voter_with_a_choice(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # What `civicbot run` writes (INFO), and our own packages' debug lines too. (The
    # libraries' DEBUG lines show each Bot API request, which is what the person sees,
    # their ballot included: docs/ballot-secrecy.md says not to run with them.)
    caplog.set_level(logging.INFO)
    for ours in ("bot", "storage", "domain"):
        caplog.set_level(logging.DEBUG, logger=ours)
    harness.set_now(DURING_VOTE)
    await seed_programmes(harness.db)
    voter = 777123
    await sign_up(harness.db, voter)
    await service.import_ballot(harness.db, parse_ballot_file(BALLOT))
    await harness.say(voter, "/vote")
    await harness.press(voter, "열린 투표")
    await harness.press(voter, "3. 사업 i03")
    await harness.press(voter, "확인하고 제출")
    replies = await harness.press(voter, "투표 제출")
    assert "투표를 제출했어요" in said(replies)
    await harness.app.automation.tick()  # the mix, and whatever it logs
    assert caplog.records  # the bot did log while the person voted
    both = [
        r.getMessage()
        for r in caplog.records
        if _mentions(r, [str(voter)]) and _mentions(r, ["i03", "사업 i03"])
    ]
    assert not both
    # Nor does the person's conversation data keep the cast ballot's choices.
    async with harness.db.reading() as session:
        data = await PtbStateRepository(session).user_data(voter)
    assert "i03" not in json.dumps(data)


async def test_the_draft_goes_with_the_cast_in_one_unit_of_work(harness: Harness) -> None:
    harness.set_now(DURING_VOTE)
    await seed_programmes(harness.db)
    voter = 777124
    await sign_up(harness.db, voter)
    heading = (await service.import_ballot(harness.db, parse_ballot_file(BALLOT)))[0][0]
    await harness.say(voter, "/vote")
    await harness.press(voter, "열린 투표")
    await harness.press(voter, "2. 사업 i02")
    async with harness.db.reading() as session:
        draft = await PtbStateRepository(session).user_data(voter)
    assert draft[service.DRAFTS] == {str(heading): ["i02"]}  # a draft while it is built
    await harness.press(voter, "확인하고 제출")
    await harness.press(voter, "투표 제출")
    async with harness.db.reading() as session:
        data = await PtbStateRepository(session).user_data(voter)
    assert service.DRAFTS not in data
    # Looking at the cast ballot again shows it from the ballot table, and keeps no copy.
    await harness.say(voter, "/vote")
    replies = await harness.press(voter, "열린 투표")
    assert "선택함: 2. 사업 i02" in str(replies[-1]["reply_markup"])
    async with harness.db.reading() as session:
        data = await PtbStateRepository(session).user_data(voter)
    assert service.DRAFTS not in data
    # A draft left in the chat goes too when the ballot is cast elsewhere (the Mini App).
    async with harness.db.transaction() as session:
        await PtbStateRepository(session).set_user_data(
            voter, {service.DRAFTS: {str(heading): ["i05"]}, "language": "ko"}
        )
    cast = await service.cast(harness.db, voter, heading, ["i05"], DURING_VOTE, 14)
    assert cast.refusal is None
    async with harness.db.reading() as session:
        assert await PtbStateRepository(session).user_data(voter) == {"language": "ko"}


def test_the_receipt_is_keyed_and_the_same_for_a_heading() -> None:
    from storage.ballotkey import BallotKey

    key = BallotKey.from_text(TEST_BALLOT_KEY)
    name = key.pseudonym(1, "city", 42)
    assert key.receipt(name) == key.receipt(name) and len(key.receipt(name)) == 10
    other = BallotKey.from_text("00" * 32)
    assert other.receipt(name) != key.receipt(name)
    # Sealed ballots open with their key only, and carry no readable choice.
    sealed = key.seal({"p": name, "c": ["i01"]})
    assert "i01" not in base64.b64decode(sealed).decode("latin-1")
    assert key.open(sealed) == {"p": name, "c": ["i01"]}
    assert hmac.compare_digest(key.fingerprint(), key.fingerprint())
    assert TEST_BALLOT_KEY not in repr(key)


async def test_a_small_weight_class_waits_sealed_until_it_singles_no_one_out(
    db: Database,
) -> None:
    await seed_programmes(db)
    await sign_up(db, *VOTERS)
    heading = (await service.import_ballot(db, parse_ballot_file(BALLOT)))[0][0]
    graduates = VOTERS[:MIN_CLASS]
    async with db.transaction() as session:
        await change_settings(session, "pb-citywide-2027", budget_school_weight=2.0)
        for voter in graduates:
            await VotingRepository(session).complete_budget_school(voter, DURING_VOTE, "code")

    async def table() -> list[float]:
        async with db.reading() as session:
            rows = await session.fetchall("SELECT weight FROM ballots WHERE heading_id = ?",
                                          (heading,))  # fmt: skip
        return sorted(row[0] for row in rows)

    for voter in (*VOTERS[MIN_CLASS:], *graduates[:-1]):
        await service.cast(db, voter, heading, [ITEMS[VOTERS.index(voter)]], DURING_VOTE, 14)
    await service.mix_ballots(db)
    # Four graduates' ballots would name four of the people in `budget_school`: they wait.
    assert await table() == [1.0] * (len(VOTERS) - MIN_CLASS)
    outcome = await service.results(db, heading, DURING_VOTE)
    assert outcome is not None and outcome.online == len(VOTERS) - 1  # counted all the same
    assert outcome.votes[ITEMS[0]] == 2.0
    await service.cast(db, graduates[-1], heading, [ITEMS[MIN_CLASS - 1]], DURING_VOTE, 14)
    await service.mix_ballots(db)
    assert await table() == [1.0] * (len(VOTERS) - MIN_CLASS) + [2.0] * MIN_CLASS
    async with db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM ballot_box") == 0


async def test_the_bot_mixes_every_interval_and_when_a_vote_closes(harness: Harness) -> None:
    harness.set_now(DURING_VOTE)
    await seed_programmes(harness.db)
    await sign_up(harness.db, *VOTERS[:3])
    heading = (await service.import_ballot(harness.db, parse_ballot_file(BALLOT)))[0][0]
    services = harness.app.services

    async def sealed() -> int:
        async with harness.db.reading() as session:
            return int(await session.scalar("SELECT COUNT(*) FROM ballot_box"))

    start = DURING_VOTE + timedelta(hours=1)  # well after any check made at start-up
    harness.set_now(start)
    await service.cast(harness.db, VOTERS[0], heading, [ITEMS[0]], start, 14)
    await harness.app.automation.tick()
    assert await sealed() == 0  # the first check mixes
    await service.cast(harness.db, VOTERS[1], heading, [ITEMS[1]], start, 14)
    harness.set_now(start + timedelta(minutes=5))
    await harness.app.automation.tick()
    assert await sealed() == 1  # BALLOT_MIX_INTERVAL (10 minutes) not yet
    harness.set_now(start + timedelta(minutes=11))
    await harness.app.automation.tick()
    assert await sealed() == 0
    # The vote's close mixes what waits, whatever the interval.
    services.settings = services.settings.model_copy(update={"ballot_mix_interval": 10**9})
    await service.cast(harness.db, VOTERS[2], heading, [ITEMS[2]], DURING_VOTE, 14)
    harness.set_now(AFTER_VOTE)
    await harness.app.automation.tick()
    assert await sealed() == 0
    async with harness.db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM ballots") == 3
