"""Casting, replacing, tallying and confirming ballots on a real SQLite file (SPEC §6)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace

import pytest

from bot.services import voting as service
from domain.proposals import Status
from domain.voting import BallotProblem, parse_ballot_file
from storage import db as db_module
from storage.db import Database, Session, open_database
from storage.panels import PanelsRepository
from storage.people import PeopleRepository
from storage.programmes import ProgrammesRepository, programmes_changed
from storage.proposals import ProposalsRepository
from storage.voting import VotingRepository, heading_to_json
from tests.proposals.conftest import IN_PB_CALL, seed_programmes, sign_up
from tests.voting.conftest import AFTER_VOTE, DURING_VOTE, ballot_file, proposal_on_the_ballot
from tests.voting.conftest import BALLOT as BALLOT_TEMPLATE

ADMINS = frozenset({9000})


@pytest.fixture
async def voting(db: Database) -> dict[str, int]:
    await seed_programmes(db)
    await sign_up(db, *range(1, 31))
    await sign_up(db, 40, district="guro")
    await sign_up(db, 50, eligible_for_pb=False)
    # A proposal put on the ballot joins the city-wide heading.
    proposal_id = await proposal_on_the_ballot(db)
    saved = await service.import_ballot(db, ballot_file)
    ids = {heading.key: heading_id for heading_id, heading in saved}
    ids["proposal"] = proposal_id
    return ids


async def test_the_proposal_on_the_ballot_is_an_item(db: Database, voting: dict[str, int]) -> None:
    async with db.reading() as session:
        _, heading = await VotingRepository(session).heading(voting["city"])  # type: ignore[misc]
    assert [i.key for i in heading.items] == ["a", "b", "c", "d", f"p{voting['proposal']}"]


async def test_cast_replace_and_no_user_id_in_ballots(db: Database, voting: dict[str, int]) -> None:
    first = await service.cast(db, 1, voting["city"], ["a", "c"], DURING_VOTE, 14)
    assert first.refusal is None and first.receipt and not first.replaced
    again = await service.cast(db, 1, voting["city"], ["b"], DURING_VOTE, 14)
    assert again.replaced
    async with db.reading() as session:
        sealed = await session.fetchall("SELECT * FROM ballot_box")
        roll = await session.fetchall("SELECT user_id FROM voter_roll")
        counted = await VotingRepository(session).ballots(voting["city"])
    # Until the mix, ballots wait sealed: no choice readable, no pseudonym, no time.
    assert len(sealed) == 2 and set(sealed[0].keys()) == {"id", "heading_id", "sealed"}
    assert not any('"a"' in row["sealed"] or '"b"' in row["sealed"] for row in sealed)
    assert [b.choices for b in counted] == [("b",)]  # the last one counts, already now
    assert await service.current_choices(db, 1, voting["city"]) == ["b"]
    assert await service.mix_ballots(db) == 2
    async with db.reading() as session:
        rows = await session.fetchall("SELECT * FROM ballots")
        assert await session.scalar("SELECT COUNT(*) FROM ballot_box") == 0
    assert len(rows) == 1 and json.loads(rows[0]["choices"]) == ["b"]
    assert set(rows[0].keys()) == {  # sqlite3.Row: no user id, no time
        "id",
        "heading_id",
        "pseudonym",
        "choices",
        "weight",
        "voter_group",
        "source",
    }
    assert [r["user_id"] for r in roll] == [1]
    assert await service.current_choices(db, 1, voting["city"]) == ["b"]


async def test_refusals_whatever_the_client_sends(db: Database, voting: dict[str, int]) -> None:
    city, mapo = voting["city"], voting["mapo"]
    assert (await service.cast(db, 1, city, ["a", "b"], DURING_VOTE, 14)).problem is (
        BallotProblem.OVER_BUDGET
    )
    assert (await service.cast(db, 1, city, ["zzz"], DURING_VOTE, 14)).problem is (
        BallotProblem.UNKNOWN_ITEM
    )
    assert (await service.cast(db, 1, mapo, ["a"], DURING_VOTE, 14)).problem is (
        BallotProblem.UNKNOWN_ITEM  # a project of another heading
    )
    assert (
        await service.cast(db, 1, city, ["a"], IN_PB_CALL, 14)
    ).refusal is service.Refusal.CLOSED
    assert (
        await service.cast(db, 1, city, ["a"], AFTER_VOTE, 14)
    ).refusal is service.Refusal.CLOSED
    assert (await service.cast(db, 40, mapo, ["m1"], DURING_VOTE, 14)).refusal is (
        service.Refusal.WRONG_DISTRICT
    )
    # Answers never given are asked by the flow; the server refuses until they are.
    assert (await service.cast(db, 50, city, ["a"], DURING_VOTE, 14)).refusal is (
        service.Refusal.NEEDS_ANSWERS
    )
    async with db.transaction() as session:
        await PeopleRepository(session).update(50, DURING_VOTE, declared_official_at=DURING_VOTE)
    assert (await service.cast(db, 50, city, ["a"], DURING_VOTE, 14)).refusal is (
        service.Refusal.INELIGIBLE
    )
    assert (await service.cast(db, 999, city, ["a"], DURING_VOTE, 14)).refusal is (
        service.Refusal.NOT_SIGNED_UP
    )
    assert (await service.cast(db, 1, 424242, ["a"], DURING_VOTE, 14)).refusal is (
        service.Refusal.NOT_FOUND
    )
    async with db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM ballots") == 0
        assert await session.scalar("SELECT COUNT(*) FROM ballot_box") == 0


async def test_double_taps_and_two_devices_leave_one_ballot(
    db: Database, voting: dict[str, int]
) -> None:
    taps = [service.cast(db, 2, voting["city"], ["a"], DURING_VOTE, 14) for _ in range(10)]
    taps += [service.cast(db, 2, voting["city"], ["c", "d"], DURING_VOTE, 14) for _ in range(10)]
    await asyncio.gather(*taps)
    async with db.reading() as session:
        assert (await VotingRepository(session).counts(voting["city"]))["online"] == 1
        assert await session.scalar("SELECT COUNT(*) FROM voter_roll") == 1
    await service.mix_ballots(db)
    async with db.reading() as session:
        assert await session.scalar("SELECT COUNT(*) FROM ballots") == 1


async def change_settings(session: Session, programme_key: str, **changes: object) -> None:
    """Edit a programme's settings JSON (read, change in Python, write back: both engines)."""
    text = await session.scalar("SELECT settings FROM programmes WHERE key = ?", (programme_key,))
    await session.execute(
        "UPDATE programmes SET settings = ? WHERE key = ?",
        (json.dumps({**json.loads(text), **changes}, ensure_ascii=False), programme_key),
    )
    await programmes_changed(session)  # as every change to programmes must


async def test_budget_school_weight(db: Database, voting: dict[str, int]) -> None:
    async with db.transaction() as session:
        await change_settings(session, "pb-citywide-2027", budget_school_weight=1.5)
        await VotingRepository(session).complete_budget_school(3, DURING_VOTE, "code")
    await service.cast(db, 3, voting["city"], ["a"], DURING_VOTE, 14)
    await service.cast(db, 4, voting["city"], ["b"], DURING_VOTE, 14)
    async with db.reading() as session:
        weights = sorted(b.weight for b in await VotingRepository(session).ballots(voting["city"]))
    assert weights == [1.0, 1.5]


async def test_tally_confirm_statuses_and_notices(db: Database, voting: dict[str, int]) -> None:
    proposal_key = f"p{voting['proposal']}"
    for user in range(1, 11):
        await service.cast(db, user, voting["city"], ["c", proposal_key], DURING_VOTE, 14)
    for user in range(11, 15):
        await service.cast(db, user, voting["city"], ["a"], DURING_VOTE, 14)
    outcome = await service.run_tally(db, voting["city"], None, AFTER_VOTE)
    assert outcome.result.rule == "greedy"
    # Most votes first while it fits: c (300 won, 10 votes), a (600, 4); the proposal costs
    # nothing. d (100) still fits, but no one voted for it: never selected.
    assert outcome.result.selected == ["c", "a", proposal_key]
    assert outcome.votes["c"] == 10 and outcome.online == 14
    assert (
        await service.confirm(db, voting["city"], 5, AFTER_VOTE, ADMINS)
        is service.Refusal.FORBIDDEN
    )
    assert await service.confirm(db, voting["city"], 9000, AFTER_VOTE, ADMINS) is None
    assert (
        await service.confirm(db, voting["city"], 9000, AFTER_VOTE, ADMINS)
        is service.Refusal.CONFIRMED
    )
    async with db.reading() as session:
        proposal = await ProposalsRepository(session).get(voting["proposal"])
        notices = await session.fetchall("SELECT user_id, payload FROM outbox")
    assert proposal is not None and proposal.status is Status.SELECTED
    told = {row["user_id"] for row in notices}
    assert set(range(1, 15)) <= told  # every voter, and the proposer
    assert any("결과가 확정됐어요" in row["payload"] for row in notices)


async def test_a_result_is_confirmed_only_after_the_vote_and_then_is_final(
    db: Database, voting: dict[str, int]
) -> None:
    city = voting["city"]
    await service.cast(db, 1, city, ["a"], DURING_VOTE, 14)
    await service.run_tally(db, city, None, DURING_VOTE)  # an interim count, stored
    assert await service.confirm(db, city, 9000, DURING_VOTE, ADMINS) is service.Refusal.STILL_OPEN
    assert (
        await service.confirm_preview(db, city, 9000, None, DURING_VOTE, ADMINS)
        is service.Refusal.STILL_OPEN
    )
    await service.cast(db, 2, city, ["c"], DURING_VOTE, 14)
    await service.cast(db, 3, city, ["c"], DURING_VOTE, 14)
    preview = await service.confirm_preview(db, city, 9000, None, AFTER_VOTE, ADMINS)
    assert isinstance(preview, service.ConfirmPreview)
    assert preview.selected == ("c", "a") and preview.voters == 3
    assert preview.to_not_selected == ("경로당 태양광",) and preview.followers == 1
    # Confirmed from every ballot in, not from the interim count stored before.
    assert await service.confirm(db, city, 9000, AFTER_VOTE, ADMINS) is None
    async with db.reading() as session:
        stored = await VotingRepository(session).result(city)
    assert stored is not None and stored["selected"] == ["c", "a"]
    # Final: even were the stage open again (its dates changed), no ballot is accepted.
    refused = await service.cast(db, 4, city, ["b"], DURING_VOTE, 14)
    assert refused.refusal is service.Refusal.CONFIRMED
    again = await service.cast(db, 1, city, ["b"], DURING_VOTE, 14)
    assert again.refusal is service.Refusal.CONFIRMED
    assert await service.current_choices(db, 1, city) == ["a"]
    async with db.reading() as session:
        assert len(await VotingRepository(session).ballots(city)) == 3  # sealed ones included


async def test_offline_counts_only_with_greedy(db: Database, voting: dict[str, int]) -> None:
    async with db.transaction() as session:
        await VotingRepository(session).set_offline_counts(voting["city"], {"b": 3}, "동 주민센터")
    await service.cast(db, 1, voting["city"], ["a"], DURING_VOTE, 14)
    outcome = await service.run_tally(db, voting["city"], "greedy", AFTER_VOTE)
    assert outcome.result.selected[0] == "b" and outcome.offline == 3
    with pytest.raises(ValueError, match="only be used with greedy"):
        await service.run_tally(db, voting["city"], "mes", AFTER_VOTE)


async def test_erasure_unlinks_ballots_but_keeps_them_counted(
    db: Database, voting: dict[str, int]
) -> None:
    from storage.privacy import erase_person

    await service.cast(db, 6, voting["city"], ["a"], DURING_VOTE, 14)
    async with db.transaction() as session:
        await erase_person(session, 6)
        assert await PeopleRepository(session).get(6) is None
        rows = await session.fetchall("SELECT pseudonym FROM ballots")
        roll = await session.fetchall("SELECT user_id FROM voter_roll")
    assert [r["pseudonym"] for r in rows] == [None]
    assert db.ballot_key is not None
    assert [r["user_id"] for r in roll] == [db.ballot_key.erased(6)]  # not 6: its marker


async def test_one_heading_per_group(db: Database) -> None:
    await seed_programmes(db)
    await sign_up(db, 1)
    grouped = BALLOT_TEMPLATE.replace("[[heading]]", '[[heading]]\ngroup = "districts"')
    saved = await service.import_ballot(db, parse_ballot_file(grouped))
    ids = {heading.key: heading_id for heading_id, heading in saved}
    await sign_up(db, 2)
    assert (await service.cast(db, 2, ids["city"], ["a"], DURING_VOTE, 14)).refusal is None
    assert (await service.cast(db, 2, ids["mapo"], ["m1"], DURING_VOTE, 14)).refusal is (
        service.Refusal.OTHER_HEADING
    )
    # Changing the ballot in the heading already chosen is fine.
    assert (await service.cast(db, 2, ids["city"], ["b"], DURING_VOTE, 14)).refusal is None


async def test_a_heading_put_in_a_group_after_votes_takes_its_roll_along(db: Database) -> None:
    """The roll keeps the group of each heading voted in, for its unique index (migration
    0024): a heading put in a group later takes its voters' entries along, except where the
    voter is already on the roll of another heading of the group (saving never fails)."""
    await seed_programmes(db)
    await sign_up(db, 1, 2)
    ids = {heading.key: i for i, heading in await service.import_ballot(db, ballot_file)}
    for user, key, choices in ((1, "city", ["a"]), (1, "mapo", ["m1"]), (2, "city", ["a"])):
        assert (await service.cast(db, user, ids[key], choices, DURING_VOTE, 14)).refusal is None
    grouped = BALLOT_TEMPLATE.replace("[[heading]]", '[[heading]]\ngroup = "districts"')
    await service.import_ballot(db, parse_ballot_file(grouped))
    assert await roll_groups(db) == [
        (1, ids["city"], "districts"),
        (1, ids["mapo"], None),
        (2, ids["city"], "districts"),
    ]


async def test_migration_0024_gives_earlier_roll_entries_their_group(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries made before the roll kept groups get their heading's; a person already on the
    roll of two headings of one group keeps the group on the first only."""
    everything = db_module.available_migrations()
    monkeypatch.setattr(
        db_module, "available_migrations", lambda: [m for m in everything if m[0] < 24]
    )
    db = open_database(database_url)
    await db.connect()
    try:
        await db.migrate()
        await seed_programmes(db)
        grouped = BALLOT_TEMPLATE.replace("[[heading]]", '[[heading]]\ngroup = "districts"')
        async with db.transaction() as session:
            stage_id, headings = await service.ballot_headings(session, parse_ballot_file(grouped))
            headings.append(replace(headings[0], key="free", group=None))
            ids = {}
            for heading in headings:
                ids[heading.key] = await session.execute(
                    "INSERT INTO ballot_headings (stage_id, key, definition) VALUES (?, ?, ?)",
                    (stage_id, heading.key, heading_to_json(heading)),
                )
            for user, key in ((1, "city"), (2, "city"), (2, "mapo"), (3, "free")):
                await session.execute(
                    "INSERT INTO voter_roll (heading_id, user_id, first_voted_at, last_voted_at)"
                    " VALUES (?, ?, 't', 't')",
                    (ids[key], user),
                )
        monkeypatch.undo()
        assert await db.migrate() == [number for number, _, _ in everything if number >= 24]
        assert await roll_groups(db) == [
            (1, ids["city"], "districts"),
            (2, ids["city"], "districts"),
            (2, ids["mapo"], None),
            (3, ids["free"], None),
        ]
        async with db.reading() as session:
            stages = await session.fetchall("SELECT DISTINCT stage_id FROM voter_roll")
        assert [row[0] for row in stages] == [stage_id]
    finally:
        await db.close()


async def roll_groups(db: Database) -> list[tuple[int, int, str | None]]:
    async with db.reading() as session:
        rows = await session.fetchall(
            "SELECT user_id, heading_id, heading_group FROM voter_roll ORDER BY user_id, heading_id"
        )
    return [(row[0], row[1], row[2]) for row in rows]


async def test_voter_groups_from_panel_membership_count_for_their_share(
    db: Database, voting: dict[str, int]
) -> None:
    async with db.transaction() as session:
        await change_settings(
            session,
            "pb-citywide-2027",
            group_shares={"citizens": 0.5, "committee": 0.5},
            group_panels={"committee": "pb-committee-2027"},
        )
        committee = await ProgrammesRepository(session).id_of("pb-committee-2027")
        assert committee is not None
        application = await PanelsRepository(session).apply(committee, 20, "x1", {}, IN_PB_CALL)
        await session.execute(
            "UPDATE panel_applications SET status = 'accepted' WHERE id = ?", (application,)
        )
    for user in range(1, 10):  # nine citizens for a
        await service.cast(db, user, voting["city"], ["a"], DURING_VOTE, 14)
    await service.cast(db, 20, voting["city"], ["b"], DURING_VOTE, 14)  # one member for b
    async with db.reading() as session:
        groups = sorted(b.group for b in await VotingRepository(session).ballots(voting["city"]))
    assert groups == ["citizens"] * 9 + ["committee"]
    outcome = await service.run_tally(db, voting["city"], None, AFTER_VOTE)
    # Half the weight each: one committee vote counts as much as nine citizens' votes.
    assert outcome.votes["a"] == pytest.approx(outcome.votes["b"])


async def test_the_bot_goes_on_answering_while_a_tally_runs(
    db: Database, voting: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A city-wide vote with Add1 takes about a second to count: the count runs in a thread,
    # and the event loop (other people's updates) keeps running meanwhile.
    for user in range(1, 5):
        await service.cast(db, user, voting["city"], ["c"], DURING_VOTE, 14)
    count = service.count

    def slow_count(*args: object) -> object:
        time.sleep(0.3)
        return count(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "count", slow_count)
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(ticking())
    outcome = await service.run_tally(db, voting["city"], None, AFTER_VOTE)
    ticker.cancel()
    assert outcome.result.selected == ["c"]
    assert ticks >= 10
