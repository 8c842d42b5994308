"""How a budget-waste report looks in the chat, to its reporter and to officers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from html import escape

from bot.flows.report import day_text, evidence_text
from bot.i18n import Translator
from bot.services import waste as service
from domain.people import DISTRICTS_BY_CODE
from domain.waste import AWAITING_ANSWER, EventKind
from storage.waste import Event, Report

CARD_DESCRIPTION = 600  # keeps a card on one phone screen
HISTORY_SHOWN = 10


def bold(text: str) -> str:
    return f"<b>{escape(text)}</b>"


def district_name(t: Translator, code: str | None) -> str:
    return DISTRICTS_BY_CODE[code].name(t.language) if code in DISTRICTS_BY_CODE else ""


def report_lines(t: Translator, report: Report, now: datetime) -> list[str]:
    """What both the reporter and officers see of a report (HTML)."""
    status = t.gettext(service.STATUS_LABELS[report.status])
    lines = [
        f"<b>{report.receipt}</b> — {escape(status)}",
        t.gettext("Received: %(when)s") % {"when": t.when(report.received_at)},
    ]
    if report.status in AWAITING_ANSWER:
        due = t.gettext("Answer due by %(day)s") % {"day": t.deadline(report.due_at, now)}
        if report.overdue(now):
            due += " · " + t.gettext("overdue")
        lines.append(due)
    if report.agency:
        lines.append(t.gettext("Agency named: %(agency)s") % {"agency": escape(report.agency)})
    if report.department:
        lines.append(
            t.gettext("Handled by: %(department)s") % {"department": escape(report.department)}
        )
    place = ", ".join(p for p in (district_name(t, report.district), report.address or "") if p)
    if report.latitude is not None:
        place = " · ".join(p for p in (place, t.gettext("location pin attached")) if p)
    if place:
        lines.append(t.gettext("Place: %(place)s") % {"place": escape(place)})
    if report.occurred_on:
        lines.append(t.gettext("When: %(when)s") % {"when": day_text(t, report.occurred_on)})
    if report.amount:
        lines.append(t.gettext("Estimated amount: %(amount)s") % {"amount": t.money(report.amount)})
    lines.append(evidence_text(t, report.file_count))
    description = report.description
    if len(description) > CARD_DESCRIPTION:
        description = description[:CARD_DESCRIPTION].rstrip() + "…"
    lines += ["", escape(description)]
    if report.verdict is not None:
        verdict = t.gettext(service.VERDICT_LABELS[report.verdict])
        lines += ["", t.gettext("Verdict: %(verdict)s") % {"verdict": escape(verdict)}]
        if report.saved_amount:
            lines.append(
                t.gettext("Money saved: %(amount)s") % {"amount": t.money(report.saved_amount)}
            )
        lines.append(escape((report.answer or "")[:800]))
    if report.reward is not None:
        lines.append(
            t.gettext("Budget-saving reward (예산절약성과금): %(amount)s")
            % {"amount": t.money(report.reward)}
        )
    return lines


def history_lines(
    t: Translator, events: list[Event], actors: Mapping[int, str] | None = None
) -> list[str]:
    """The history, newest last; officers also see who did each step (`actors`: names)."""
    lines = ["", bold(t.gettext("History"))]
    for event in events[-HISTORY_SHOWN:]:
        line = f"{t.day(event.at)} — {escape(t.gettext(service.EVENT_LABELS[event.kind]))}"
        if actors is not None and event.actor_id is not None:
            line += f" ({escape(actors.get(event.actor_id, f'#{event.actor_id}'))})"
        if event.note and event.kind is EventKind.INFO_ADDED:
            line += f": {escape(event.note[:200])}"
        lines.append(line)
    return lines
