"""PNG charts (matplotlib, drawn off-screen). Labels are project keys and numbers only: the
names go in the accompanying table, so no Korean font is needed on the server."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence


def results_chart(
    keys: Sequence[str],
    votes: Mapping[str, float],
    costs: Mapping[str, int],
    selected: Sequence[str],
    budget: int,
    title: str,
) -> bytes:
    """Votes per project (selected ones highlighted) and the budget line over their costs."""
    # Imported here: matplotlib takes a second to load, and only charts need it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    order = sorted(keys, key=lambda key: (-votes.get(key, 0.0), key))
    chosen = set(selected)
    figure = Figure(figsize=(11, max(3.0, 0.35 * len(order) + 1.5)))
    FigureCanvasAgg(figure)  # the Agg canvas: no display needed
    left, right = figure.subplots(1, 2)
    colours = ["#1f77b4" if key in chosen else "#c7c7c7" for key in order]
    left.barh(order, [votes.get(key, 0.0) for key in order], color=colours)
    left.invert_yaxis()
    left.set_xlabel("votes")
    left.set_title(title)
    running = 0
    cumulative = []
    for key in order:
        if key in chosen:
            running += costs.get(key, 0)
        cumulative.append(running)
    right.barh(order, [costs.get(key, 0) for key in order], color=colours)
    right.plot(cumulative, order, color="#2ca02c", marker="o", label="selected, cumulative")
    right.axvline(budget, color="#d62728", linestyle="--", label="budget")
    right.invert_yaxis()
    right.set_xlabel("won")
    right.legend(loc="lower right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
