"""The floor: a minimal python-telegram-bot 22 bot, as its examples write one.

A two-state ConversationHandler that replies to every message, and a button that is answered
and edited in place; PTB's default transport (httpx), long polling. `bench_floor.py` runs it
against the same local Bot API as the real bot, to compare the CPU each spends per update.

    TELEGRAM_BOT_TOKEN=… TELEGRAM_API_BASE_URL=… python bench/minimal_bot.py
"""

from __future__ import annotations

import os

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    filters,
)

FIRST, SECOND = range(2)
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Tap", callback_data="tap")]])


async def first(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert update.message is not None
    await update.message.reply_text("First step. Say something.", reply_markup=KEYBOARD)
    return SECOND


async def second(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert update.message is not None
    await update.message.reply_text("Second step. Say something.", reply_markup=KEYBOARD)
    return FIRST


async def tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    await query.answer("Thanks")
    taps = context.user_data["taps"] = context.user_data.get("taps", 0) + 1  # type: ignore[index]
    await query.edit_message_text(f"Tapped {taps} times.", reply_markup=KEYBOARD)


def main() -> None:
    application = (
        Application.builder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_API_BASE_URL"])
        .build()
    )
    application.add_handler(
        ConversationHandler(
            entry_points=[MessageHandler(filters.TEXT, first)],
            states={
                FIRST: [MessageHandler(filters.TEXT, first)],
                SECOND: [MessageHandler(filters.TEXT, second)],
            },
            fallbacks=[],
        )
    )
    application.add_handler(CallbackQueryHandler(tap))
    application.run_polling()


if __name__ == "__main__":
    main()
