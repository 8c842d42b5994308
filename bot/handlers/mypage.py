"""/my: my page — everything the person did, each with a button to open it (SPEC §4):
proposals, supports, follows, ballots cast, panel applications and budget-waste reports.
The gathering is `bot.services.mypage`; the web's my page shows the same."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode

from bot.context import BotContext, CivicApplication, person_and_translator
from bot.handlers.common import answer, send
from bot.handlers.proposal_views import summary_line
from bot.handlers.waste import reports_section
from bot.i18n import N_, Translator
from bot.menu import CommandRegistry, MenuCommand
from bot.services import mypage as service
from bot.services.panels import STATUS_LABELS as APPLICATION_LABELS
from bot.web.links import webapp_button
from storage.proposals import Proposal

SHOWN = 10  # per section: a page stays within one message and Telegram's 100 buttons


def heading(text: str) -> str:
    return f"<b>{escape(text)}</b>"


def section(t: Translator, title: str, empty: bool) -> list[str]:
    return ["", heading(title), *([t.gettext("None yet.")] if empty else [])]


def rows_of(buttons: list[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


def proposal_sections(
    t: Translator, page: service.MyPage
) -> tuple[list[str], list[InlineKeyboardButton]]:
    lines: list[str] = []
    shown: list[Proposal] = []
    for title, items in (
        (t.gettext("My proposals"), page.proposals),
        (t.gettext("Proposals I support"), page.supported),
        (t.gettext("Proposals I follow"), page.followed),
    ):
        lines += section(t, title, not items)
        for proposal in items[:SHOWN]:
            lines.append(summary_line(t, proposal))
            if proposal.id not in {p.id for p in shown}:
                shown.append(proposal)
    buttons = [InlineKeyboardButton(f"#{p.id}", callback_data=f"pr:card:{p.id}") for p in shown]
    return lines, buttons[:20]


def ballot_section(
    t: Translator, page: service.MyPage
) -> tuple[list[str], list[InlineKeyboardButton]]:
    lines = section(t, t.gettext("My ballots"), not page.ballots)
    buttons = []
    for ballot in page.ballots[:SHOWN]:
        name = ballot.heading.name(t.language)
        lines.append(f"• {escape(name)} — {escape(ballot.programme.name.get(t.language))}")
        detail = t.gettext("cast %(when)s") % {"when": t.when(ballot.voted_at)}
        if ballot.receipt:
            detail += " · " + t.gettext("receipt %(code)s") % {"code": ballot.receipt}
        lines.append(f"  {detail}")
        if ballot.changeable:
            label = t.gettext("Change: %(ballot)s") % {"ballot": name}
            buttons.append(
                InlineKeyboardButton(label[:60], callback_data=f"vt:h:{ballot.heading_id}:0")
            )
    return lines, buttons


def application_section(
    t: Translator, page: service.MyPage
) -> tuple[list[str], list[InlineKeyboardButton]]:
    lines = section(t, t.gettext("My panel applications"), not page.applications)
    buttons = []
    for programme, application in page.applications[:SHOWN]:
        name = programme.name.get(t.language)
        status = t.gettext(APPLICATION_LABELS[application.status])
        lines.append(f"• {escape(name)} — {escape(status)}")
        buttons.append(
            InlineKeyboardButton(name[:60], callback_data=f"pn:a:{application.programme_id}")
        )
    return lines, buttons


async def my_command(update: Update, context: BotContext) -> None:
    await answer(update)
    person, t = await person_and_translator(update, context)
    if person is None:
        await send(update, context, t.gettext("Please sign up first with /start."))
        return
    async with context.services.db.reading() as session:
        page = await service.my_page(session, person.user_id, context.services.clock())
    lines = [heading(t.gettext("My page"))]
    proposal_lines, proposal_buttons = proposal_sections(t, page)
    ballot_lines, ballot_buttons = ballot_section(t, page)
    application_lines, application_buttons = application_section(t, page)
    reports_text, report_buttons = reports_section(page.reports, t)
    lines += [*proposal_lines, *ballot_lines, *application_lines, "", reports_text]
    rows = rows_of(proposal_buttons, 5)
    rows += rows_of(ballot_buttons, 1)
    rows += rows_of(application_buttons, 1)
    rows += rows_of(report_buttons, 3)
    rows.append([InlineKeyboardButton(t.gettext("My profile"), callback_data="menu:profile")])
    app = webapp_button(context.civic.web_url, t.gettext("My page with photos and maps"), "my")
    if app is not None:
        rows.append([app])
    await send(
        update,
        context,
        "\n".join(lines)[:4000],
        reply_markup=InlineKeyboardMarkup(rows),
        parse_mode=ParseMode.HTML,
    )


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    registry.add(
        MenuCommand(
            "my",
            N_("My page: proposals, supports, ballots, applications and reports"),
            N_("My page"),
            my_command,
            on_keyboard=True,
        )
    )
