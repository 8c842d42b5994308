"""Erasure (/deleteme) against what the person or an official does at the same moment, and
the vote's LOCKED check against a mix (issue 21, "review each repository's
read-check-write"), on SQLite and on PostgreSQL as tests/storage/test_locks_more.py."""

from __future__ import annotations

from collections import Counter

from bot.services import proposals as proposal_service
from storage.db import Database
from storage.privacy import erase_person
from tests.proposals.conftest import IN_PB_CALL, seed_programmes, sign_up
from tests.storage.test_locks import (  # noqa: F401 (connected: a fixture)
    connected,
    submitted_proposal,
)
from tests.storage.test_locks_more import spread


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
