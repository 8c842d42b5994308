"""Erasure (/deleteme) against what the person or an official does at the same moment, and
the vote's LOCKED check against a mix (issue 21, "review each repository's
read-check-write"), on SQLite and on PostgreSQL as tests/storage/test_locks_more.py."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bot.services import proposals as proposal_service
from bot.services import voting as voting_service
from storage.db import Database, PostgresSession
from storage.privacy import erase_person
from storage.voting import MIN_CLASS, VotingRepository
from tests.proposals.conftest import IN_PB_CALL, seed_programmes, sign_up
from tests.storage.test_locks import (  # noqa: F401 (connected: a fixture)
    connected,
    submitted_proposal,
)
from tests.storage.test_locks_more import spread
from tests.voting.conftest import DURING_VOTE, ballot_file
from tests.voting.test_service import change_settings


async def erase(db: Database, user_id: int) -> None:
    async with db.transaction() as session:
        await erase_person(session, user_id)


async def test_person_comments_sent_while_their_author_erases_themselves(db: Database) -> None:
    """People comment from several devices while they erase themselves: each comment is
    refused (no such person) or stored and then unlinked by the erasure; none is kept under
    an erased person's id, and none fails (the comment's insert share-locks the person's
    row, which erasure locks first)."""
    await seed_programmes(db)
    commenters = range(20, 28)
    await sign_up(db, 1, *commenters)
    proposal_id = await submitted_proposal(db)
    outcomes: Counter[proposal_service.Outcome] = Counter()
    for n, user in enumerate(commenters):
        comments = [
            lambda user=user: proposal_service.comment(
                db, proposal_id, user, "저도 같은 생각이에요.", None, IN_PB_CALL
            )
            for _ in range(6)
        ]
        # The erasure starts among the comments, a little later for each person.
        comments.insert(n % 5, lambda user=user: erase(db, user))
        sent = [outcome for outcome in await spread(*comments, step=0.5) if outcome is not None]
        outcomes.update(sent)
    assert set(outcomes) <= {
        proposal_service.Outcome.DONE,
        proposal_service.Outcome.NOT_SIGNED_UP,
    }
    async with db.reading() as session:
        assert (
            await session.scalar("SELECT COUNT(*) FROM comments WHERE author_id IS NOT NULL") == 0
        )
        stored = await session.scalar("SELECT COUNT(*) FROM comments")
    assert stored == outcomes[proposal_service.Outcome.DONE]


async def test_a_mix_while_a_vote_is_checked_does_not_lock_the_voter_out(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A voter casts again from their phone while their laptop's ballot is stored and the
    heading mixed, right after the phone's check has read the sealed ballots: the phone's
    cast is not refused as LOCKED (the check reads the roll, the sealed and the mixed
    ballots in one statement, so at one moment; read one after the other, the voter's
    ballot was in neither).

    The voter's first ballot is mixed; since then they finished 예산학교, so their next one
    weighs more and, alone of its weight, the mix (which moves a late voter's ballot) keeps
    it sealed and takes their first one out of the ballot table (storage/voting.py:
    MIN_CLASS). SQLite's writers are one at a time: there the laptop's cast and the mix come
    before the phone's."""
    await seed_programmes(db)
    voters = range(1, MIN_CLASS + 2)
    voter, late = voters[0], voters[-1]
    await sign_up(db, *voters)
    city = {h.key: i for i, h in await voting_service.import_ballot(db, ballot_file)}["city"]
    for user in voters:
        if user == late:
            await voting_service.mix_ballots(db, [city])
        assert (await voting_service.cast(db, user, city, ["a"], DURING_VOTE, 14)).refusal is None
    async with db.transaction() as session:
        await change_settings(session, "pb-citywide-2027", budget_school_weight=1.5)
        await VotingRepository(session).complete_budget_school(voter, DURING_VOTE, "code")

    async def laptop_and_mix() -> None:
        assert (await voting_service.cast(db, voter, city, ["b"], DURING_VOTE, 14)).refusal is None
        # The late voter's ballot moves; the voter's new one, alone of its weight, is held.
        assert await voting_service.mix_ballots(db, [city]) == 1

    if db.dialect == "postgres":
        armed = True
        fetchall = PostgresSession.fetchall

        async def then_laptop(self: PostgresSession, sql: str, params: Any = ()) -> Any:
            nonlocal armed
            rows = await fetchall(self, sql, params)
            if armed and "ballot_box" in sql:
                armed = False
                await laptop_and_mix()
            return rows

        monkeypatch.setattr(PostgresSession, "fetchall", then_laptop)
    else:
        await laptop_and_mix()
    phone = await voting_service.cast(db, voter, city, ["c"], DURING_VOTE, 14)
    assert phone.refusal is None and phone.replaced
    assert await voting_service.current_choices(db, voter, city) == ["c"]
