"""Ids from outside at the Telegram edge (issue 17): button data is range-checked once, as
each update comes in, before any handler reads it.

Handlers match button data with patterns such as `^pr:card:\\d{1,12}$` and read the numbers in
it. A forged press can carry any number; one that no row id can equal (`domain.ids`) is
replaced by `NO_ID` here, so the handler that owns the button answers it exactly as it answers
an unknown id, and no number too big for the database gets past this point. Typed ids and
deep links go through `domain.ids` where they are read (`bot/deeplinks.py`).
"""

from __future__ import annotations

from telegram import Bot, Update

from domain.ids import clamp_ids


def clamp_update(update: Update, bot: Bot) -> Update:
    """`update` itself, or a copy whose button data has its out-of-range numbers clamped."""
    query = update.callback_query
    if query is None or query.data is None:
        return update
    data = clamp_ids(query.data)
    if data == query.data:
        return update
    raw = update.to_dict()
    raw["callback_query"]["data"] = data
    copy = Update.de_json(raw, bot)
    assert copy is not None
    return copy
