"""/programmes: what is open now and when it closes (SPEC §3)."""

from __future__ import annotations

from datetime import datetime
from html import escape

from telegram import Update
from telegram.constants import ParseMode

from bot.context import BotContext, CivicApplication, translator
from bot.handlers.common import send
from bot.i18n import N_, Translator
from bot.menu import CommandRegistry, MenuCommand
from domain.programmes import Programme
from storage.programmes import ProgrammesRepository


def describe(programme: Programme, t: Translator, now: datetime) -> str:
    lines = [f"<b>{escape(programme.name.get(t.language))}</b>"]
    for stage in programme.open_stages(now):
        name = escape(stage.name.get(t.language))
        if stage.ends_at is None:
            # Not "open all year": the stage's own name often says so already (상시 제안).
            lines.append(t.gettext("Now: %(stage)s (no closing date)") % {"stage": name})
        else:
            lines.append(
                t.gettext("Now: %(stage)s, until %(end)s (%(left)s)")
                % {
                    "stage": name,
                    "end": t.deadline(stage.ends_at, now),
                    "left": t.left(now, stage.ends_at),
                }
            )
    upcoming = programme.next_stage(now)
    if upcoming is not None:
        lines.append(
            t.gettext("Next: %(stage)s, from %(start)s")
            % {
                "stage": escape(upcoming.name.get(t.language)),
                "start": t.opening(upcoming.starts_at, now),
            }
        )
    if len(lines) == 1:
        lines.append(t.gettext("Finished"))
    return "\n".join(lines)


async def programmes_command(update: Update, context: BotContext) -> None:
    t = await translator(update, context)
    now = context.services.clock()
    async with context.services.db.reading() as session:
        programmes = await ProgrammesRepository(session).all()
    if not programmes:
        await send(update, context, t.gettext("No programmes have been set up yet."))
        return
    # Open ones first: that is what people come to see.
    programmes.sort(key=lambda p: (not p.open_stages(now), p.stages[0].starts_at))
    blocks = [t.gettext("Programmes (times in Seoul)")]
    blocks += [describe(programme, t, now) for programme in programmes]
    text = "\n\n".join(blocks)
    for chunk in split_message(text):
        await send(update, context, chunk, parse_mode=ParseMode.HTML)


def split_message(text: str, limit: int = 4000) -> list[str]:
    """Split at paragraph breaks so no message exceeds Telegram's 4,096 characters."""
    chunks: list[str] = []
    current = ""
    for block in text.split("\n\n"):
        candidate = f"{current}\n\n{block}" if current else block
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            chunks.append(current)
        while len(block) > limit:
            chunks.append(block[:limit])
            block = block[limit:]
        current = block
    if current:
        chunks.append(current)
    return chunks


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    registry.add(
        MenuCommand(
            "programmes",
            N_("What is open now and when it closes"),
            N_("Programmes"),
            programmes_command,
            on_keyboard=True,
        )
    )
