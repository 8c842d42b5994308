"""PNG charts an official could put in a report (matplotlib, drawn off-screen), in the
viewer's language.

Hangul needs a font the server may not have: Noto Sans KR (SIL Open Font License 1.1) comes
with the `pylopdf-fonts-ko` package from PyPI and is registered with matplotlib the first time
a chart is drawn. It has Latin letters too, so both languages are drawn in it.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Final

from bot.i18n import Translator

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

SELECTED: Final = "#1f5fa8"
NOT_SELECTED: Final = "#c9ced6"
BUDGET: Final = "#c0392b"
CUMULATIVE: Final = "#2e8b57"
TITLE_LENGTH: Final = 14  # characters of a project title on the chart's axis


@cache
def chart_font() -> str:
    """Register the packaged Hangul font with matplotlib and make it the default; its name."""
    # Imported here: matplotlib takes a second to load, and only charts need it.
    import matplotlib
    from matplotlib import font_manager
    from pylopdf_fonts_ko import sans_path

    path = str(sans_path())
    font_manager.fontManager.addfont(path)
    name = font_manager.FontProperties(fname=path).get_name()
    # DejaVu Sans (matplotlib's own) after it, for any sign the Korean font lacks.
    matplotlib.rcParams["font.family"] = [name, "DejaVu Sans"]
    matplotlib.rcParams["axes.unicode_minus"] = False
    return name


def new_figure(width: float, height: float) -> Figure:
    chart_font()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)  # the Agg canvas: no display needed
    return figure


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def short_title(title: str, limit: int = TITLE_LENGTH) -> str:
    """A project title short enough for an axis label, cut with "…"."""
    title = " ".join(title.split())
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def money_ticks(t: Translator, amount: float) -> str:
    """An axis tick in the unit readers of the language expect: 억 원 or ₩ in millions."""
    if amount == 0:
        return "0"
    if t.language == "ko":
        eok = amount / 100_000_000
        return f"{eok:,.0f}억" if eok == int(eok) else f"{eok:,.1f}억"
    millions = amount / 1_000_000
    return f"₩{millions:,.0f}M" if millions == int(millions) else f"₩{millions:,.1f}M"


@dataclass(frozen=True)
class ChartProject:
    key: str
    title: str  # in the viewer's language, or Korean where there is no other
    votes: float
    cost: int


def results_figure(
    t: Translator,
    title: str,
    projects: Sequence[ChartProject],
    selected: Collection[str],
    budget: int,
    interim: bool,
    at: datetime,
) -> Figure:
    """Votes per project and their costs against the budget, most voted first; selected
    projects in blue. The caption says whether this is an interim count (중간 집계) or the
    final result, and as of when."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    order = sorted(projects, key=lambda p: (-p.votes, p.key))
    labels = [short_title(p.title) for p in order]
    # Two projects with the same short title keep apart by their key.
    labels = [
        f"{label} ({p.key})" if labels.count(label) > 1 else label
        for label, p in zip(labels, order, strict=True)
    ]
    chosen = set(selected)
    colours = [SELECTED if p.key in chosen else NOT_SELECTED for p in order]
    height = max(3.6, 0.42 * len(order) + 2.2)
    figure = new_figure(10, height)
    figure.suptitle(title, fontsize=14)
    votes_axes, cost_axes = figure.subplots(1, 2, sharey=True)
    positions = range(len(order))

    votes_axes.barh(positions, [p.votes for p in order], color=colours)
    votes_axes.set_yticks(list(positions), labels)
    votes_axes.invert_yaxis()
    votes_axes.set_xlabel(t.gettext("Votes"))
    votes_axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    votes_axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    for position, project in zip(positions, order, strict=True):
        votes_axes.annotate(
            f"{project.votes:,.0f}",
            (project.votes, position),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    votes_axes.margins(x=0.15)

    running = 0
    cumulative = []
    for project in order:
        if project.key in chosen:
            running += project.cost
        cumulative.append(running)
    cost_axes.barh(positions, [p.cost for p in order], color=colours)
    cost_axes.plot(cumulative, list(positions), color=CUMULATIVE, marker="o", markersize=4)
    cost_axes.axvline(budget, color=BUDGET, linestyle="--")
    cost_axes.set_xlabel(t.gettext("Cost"))
    cost_axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: money_ticks(t, value)))
    cost_axes.xaxis.set_major_locator(MaxNLocator(nbins=4))
    cost_axes.set_xlim(0, max([budget, running, *(p.cost for p in order), 1]) * 1.08)

    # The legend sits under the plots, where it covers no bar.
    handles = [
        Patch(color=SELECTED, label=t.gettext("Selected")),
        Patch(color=NOT_SELECTED, label=t.gettext("Not selected")),
        Line2D([], [], color=CUMULATIVE, marker="o", label=t.gettext("Selected, cumulative cost")),
        Line2D(
            [],
            [],
            color=BUDGET,
            linestyle="--",
            label=t.gettext("Budget: %(money)s") % {"money": t.money(budget)},
        ),
    ]
    figure.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
    status = t.gettext("Interim count") if interim else t.gettext("Final result")
    caption = t.gettext("%(status)s · as of %(time)s") % {"status": status, "time": t.when(at)}
    figure.text(0.01, 0.99, caption, ha="left", va="top", fontsize=9, color="#444444")
    return figure


def bar_chart(axes: Axes, labels: Sequence[str], values: Sequence[int], colour: str) -> None:
    from matplotlib.ticker import MaxNLocator

    axes.barh(list(range(len(labels))), list(values), color=colour)
    axes.set_yticks(list(range(len(labels))), list(labels))
    axes.invert_yaxis()
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))


def waste_figure(
    t: Translator,
    by_status: Sequence[tuple[str, int]],
    by_district: Sequence[tuple[str, int]],
) -> Figure:
    """Budget-waste reports by status and by district (the ten with most reports), with
    labels already in the viewer's language."""
    figure = new_figure(8, 6)
    status_axes, district_axes = figure.subplots(2, 1)
    bar_chart(status_axes, [name for name, _ in by_status], [n for _, n in by_status], "#2a6fb0")
    status_axes.set_title(t.gettext("Reports by status"))
    bar_chart(
        district_axes, [name for name, _ in by_district], [n for _, n in by_district], "#d9822b"
    )
    district_axes.set_title(t.gettext("Reports by district (top 10)"))
    return figure
