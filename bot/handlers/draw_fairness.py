"""The published chances of a panel draw, as the chat shows them (issue 23).

Each applicant sees their own selection probability after the draw; the draw record shows the
lottery's fairness figures. The figures themselves are `domain.sortition.Fairness`, stored
with the draw (`storage.panels.DrawRecord.fairness`).
"""

from __future__ import annotations

from html import escape

from bot.i18n import Translator
from storage.panels import DrawRecord


def percent(chance: float) -> str:
    if 0 < chance < 0.0005:
        return "<0.1%"
    return f"{chance:.1%}"


def chance_lines(t: Translator, record: DrawRecord | None, pseudonym: str) -> list[str]:
    """The applicant's own chance, once drawn (nothing before, or for older draws)."""
    if record is None or record.fairness is None:
        return []
    chance = record.fairness.of(pseudonym)
    if chance is None:
        return []
    return [
        "",
        t.gettext("Your chance of being selected in this draw was %(chance)s.")
        % {"chance": percent(chance)},
    ]


def fairness_lines(t: Translator, record: DrawRecord) -> list[str]:
    figures = record.fairness
    if figures is None:
        return []
    return [
        "",
        t.gettext(
            "Fairness: the smallest chance was %(ratio)s times the average (a plain lottery "
            "would give 1.00; with these quotas no lottery can give more than %(bound)s)."
        )
        % {"ratio": f"{figures.min_ratio:.2f}", "bound": f"{figures.upper_bound_ratio:.2f}"},
        t.gettext("Inequality of the chances (Gini): %(gini)s · method: %(method)s")
        % {"gini": f"{figures.gini:.3f}", "method": escape(figures.method)},
        t.gettext("Every applicant's chance is in the record's result.json."),
    ]
