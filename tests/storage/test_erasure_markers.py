"""/deleteme does not lift what stops a person doing something twice (issue 21; SPEC §2, §6;
storage/privacy.py: erase_person): a counted ballot's roll entry and a posting block stay
under a keyed marker, and the same account signing up again gets them back."""

from __future__ import annotations

from bot.services import admin as admin_service
from bot.services import proposals as proposal_service
from bot.services import voting as voting_service
from domain.voting import parse_ballot_file
from storage.ballotkey import BallotKey
from storage.db import Database
from storage.people import PeopleRepository
from storage.privacy import erase_person
from storage.programmes import ProgrammesRepository
from storage.voting import VotingRepository
from tests.proposals.conftest import IN_PB_CALL, seed_programmes, sign_up
from tests.voting.conftest import AFTER_VOTE, BALLOT, DURING_VOTE

VOTER, OTHER, MODERATOR = 7, 8, 9000
ADMINS = frozenset({MODERATOR})
Refusal = voting_service.Refusal


async def erase(db: Database, user_id: int) -> None:
    async with db.transaction() as session:
        await erase_person(session, user_id)


async def headings(db: Database, ballot: str = BALLOT) -> dict[str, int]:
    await seed_programmes(db)
    await sign_up(db, VOTER, OTHER, MODERATOR)
    saved = await voting_service.import_ballot(db, parse_ballot_file(ballot))
    return {heading.key: heading_id for heading_id, heading in saved}


async def cast(db: Database, user_id: int, heading_id: int, choice: str) -> Refusal | None:
    return (await voting_service.cast(db, user_id, heading_id, [choice], DURING_VOTE, 14)).refusal


async def roll(db: Database) -> list[tuple[int, int]]:
    async with db.reading() as session:
        rows = await session.fetchall("SELECT heading_id, user_id FROM voter_roll ORDER BY 1, 2")
    return [(row[0], row[1]) for row in rows]


def marker(db: Database, user_id: int) -> int:
    assert db.ballot_key is not None
    return db.ballot_key.erased(user_id)


async def test_an_erased_voter_signed_up_again_cannot_vote_twice(db: Database) -> None:
    """Vote, /deleteme, /start, vote again in the same heading: refused as someone on the roll
    whose ballot cannot be changed, and the first ballot counts once."""
    ids = await headings(db)
    city = ids["city"]
    assert await cast(db, VOTER, city, "a") is None
    assert await cast(db, OTHER, city, "b") is None

    await erase(db, VOTER)
    # Meanwhile the roll keeps the entry under the marker, not the person's id, with no time
    # of its own (the stage's opening).
    assert await roll(db) == sorted([(city, OTHER), (city, marker(db, VOTER))])
    async with db.reading() as session:
        times = await session.fetchone(
            "SELECT first_voted_at, last_voted_at FROM voter_roll WHERE user_id = ?",
            (marker(db, VOTER),),
        )
        opening = await session.scalar(
            "SELECT s.starts_at FROM ballot_headings h JOIN stages s ON s.id = h.stage_id"
            " WHERE h.id = ?",
            (city,),
        )
    assert times is not None and tuple(times) == (opening, opening)
    async with db.reading() as session:
        assert await VotingRepository(session).voters(city) == [OTHER]  # the people to tell
        assert (await VotingRepository(session).counts(city))["voters"] == 2

    await sign_up(db, VOTER)
    assert await voting_service.may_vote(db, VOTER, city, DURING_VOTE, 14) is None
    assert await cast(db, VOTER, city, "c") is Refusal.LOCKED
    assert await roll(db) == [(city, VOTER), (city, OTHER)]
    results = await voting_service.results(db, city, DURING_VOTE)
    assert results is not None
    assert results.online == 2
    assert (results.votes["a"], results.votes["b"], results.votes["c"]) == (1, 1, 0)


async def test_an_erased_voter_signed_up_again_cannot_vote_in_another_heading_of_the_group(
    db: Database,
) -> None:
    """One heading of a group per person (migration 0024) holds across an erasure too."""
    grouped = BALLOT.replace("[[heading]]", '[[heading]]\ngroup = "districts"')
    ids = await headings(db, grouped)
    assert await cast(db, VOTER, ids["mapo"], "m1") is None
    await erase(db, VOTER)
    await sign_up(db, VOTER)
    assert await cast(db, VOTER, ids["city"], "a") is Refusal.OTHER_HEADING
    results = await voting_service.results(db, ids["city"], DURING_VOTE)
    assert results is not None and results.online == 0


async def test_a_person_who_never_voted_votes_normally_after_signing_up_again(
    db: Database,
) -> None:
    ids = await headings(db)
    assert await cast(db, OTHER, ids["city"], "b") is None  # someone else's marker-free entry
    await erase(db, VOTER)
    await sign_up(db, VOTER)
    assert await cast(db, VOTER, ids["city"], "a") is None
    assert await cast(db, VOTER, ids["city"], "c") is None  # and changes it as anyone
    assert await voting_service.current_choices(db, VOTER, ids["city"]) == ["c"]


async def test_markers_go_once_their_heading_is_confirmed(db: Database) -> None:
    """총회 승인 makes a heading final: its markers go then, and an erasure after it leaves
    none."""
    ids = await headings(db)
    city, mapo = ids["city"], ids["mapo"]
    for user_id, heading_id, choice in (
        (VOTER, city, "a"),
        (VOTER, mapo, "m1"),
        (OTHER, city, "b"),
    ):
        assert await cast(db, user_id, heading_id, choice) is None
    await erase(db, VOTER)
    assert await voting_service.confirm(db, mapo, MODERATOR, AFTER_VOTE, ADMINS) is None
    assert await roll(db) == sorted([(city, OTHER), (city, marker(db, VOTER))])
    assert await voting_service.confirm(db, city, MODERATOR, AFTER_VOTE, ADMINS) is None
    assert await roll(db) == [(city, OTHER)]
    await erase(db, OTHER)
    assert await roll(db) == []


async def test_markers_of_a_group_stay_until_every_heading_of_it_is_confirmed(
    db: Database,
) -> None:
    """A marker in one heading of a group refuses the others: it stays while any of them may
    take ballots."""
    grouped = BALLOT.replace(
        '[[heading]]\nkey = "city"', '[[heading]]\nkey = "city"\ngroup = "districts"'
    ).replace('[[heading]]\nkey = "mapo"', '[[heading]]\nkey = "mapo"\ngroup = "districts"')
    ids = await headings(db, grouped)
    city, mapo = ids["city"], ids["mapo"]
    assert await cast(db, VOTER, city, "a") is None
    assert await cast(db, OTHER, mapo, "m1") is None
    await erase(db, VOTER)
    assert await voting_service.confirm(db, city, MODERATOR, AFTER_VOTE, ADMINS) is None
    assert await roll(db) == sorted([(city, marker(db, VOTER)), (mapo, OTHER)])
    assert await voting_service.confirm(db, mapo, MODERATOR, AFTER_VOTE, ADMINS) is None
    assert await roll(db) == [(mapo, OTHER)]
    await erase(db, OTHER)
    assert await roll(db) == []


async def test_a_blocked_person_erased_and_signed_up_again_is_still_blocked(
    db: Database,
) -> None:
    """The block survives the erasure under the marker, without its reason, and holds again
    on the new sign-up; a moderator can then lift it as any other."""
    await seed_programmes(db)
    await sign_up(db, VOTER, MODERATOR)
    done = await admin_service.block_posting(db, MODERATOR, VOTER, "도배", IN_PB_CALL, ADMINS)
    assert done is admin_service.Result.DONE

    await erase(db, VOTER)
    async with db.reading() as session:
        rows = await session.fetchall("SELECT user_id, reason, blocked_by FROM posting_blocks")
    assert [tuple(row) for row in rows] == [(marker(db, VOTER), None, MODERATOR)]

    await sign_up(db, VOTER)

    async def refusal() -> proposal_service.Refusal | None:
        async with db.reading() as session:
            programme = await ProgrammesRepository(session).get("democracy-seoul")
            person = await PeopleRepository(session).get(VOTER)
            assert programme is not None and person is not None
            return await proposal_service.check_can_propose(
                session, person, programme, IN_PB_CALL, 14
            )

    assert await refusal() is proposal_service.Refusal.BLOCKED
    lifted = await admin_service.block_posting(
        db, MODERATOR, VOTER, "", IN_PB_CALL, ADMINS, block=False
    )
    assert lifted is admin_service.Result.DONE
    assert await refusal() is None


async def test_the_marker_is_keyed_and_never_a_telegram_id() -> None:
    one, other = BallotKey.generate(), BallotKey.generate()
    assert one.erased(VOTER) == one.erased(VOTER)
    assert one.erased(VOTER) != one.erased(OTHER)
    assert one.erased(VOTER) != other.erased(VOTER)
    assert all(-(2**62) <= key.erased(user) < 0 for key in (one, other) for user in range(50))
