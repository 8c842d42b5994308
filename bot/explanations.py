"""Why Equal Shares selected what it did, in words: the chat's "why these projects?" screen
and the web's results page show the same text (issue 23), from
`bot.services.voting.explain_result`'s figures."""

from __future__ import annotations

from html import escape

from bot.i18n import Translator
from domain.tally import Explanation, PaidProject, RejectedProject


def explanation_text(
    t: Translator,
    heading: str,
    explanation: Explanation,
    titles: dict[str, str],
    limit: int | None = None,
) -> str:
    """The explanation as HTML lines; with a `limit` (a chat message's), cut with a note."""
    share = round(explanation.share)
    title = t.gettext("Why these projects: %(heading)s") % {"heading": heading}
    lines = [
        f"<b>{escape(title)}</b>",
        t.gettext(
            "Equal Shares gave every voter an equal share of %(share)s to spend on the "
            "projects they voted for."
        )
        % {"share": t.money(share)}
        if explanation.start_share
        else t.gettext("No ballot has been counted yet."),
    ]
    if explanation.share != explanation.start_share:
        lines.append(
            t.gettext(
                "The share was raised from %(start)s, one won at a time, while the result "
                "still fitted the budget (Add1 completion)."
            )
            % {"start": t.money(round(explanation.start_share))}
        )
    chosen_heading = t.gettext("Selected projects")
    lines += ["", f"<b>{escape(chosen_heading)}</b>"]
    body = [paid_line(t, p, titles) for p in explanation.paid]
    body += [
        "✓ "
        + t.gettext(
            "%(project)s: added after Equal Shares, with the most votes among what still fitted."
        )
        % {"project": name(titles, key)}
        for key in explanation.completed
    ]
    if not body:
        body.append(t.gettext("None."))
    rejected_heading = t.gettext("Projects not selected")
    body += ["", f"<b>{escape(rejected_heading)}</b>"]
    body += [rejected_line(t, r, titles) for r in explanation.rejected]
    kept: list[str] = []
    size = sum(len(line) + 1 for line in lines)
    for line in body:
        if limit is not None and size + len(line) + 1 > limit:
            kept.append(t.gettext("… and more: the full explanation is in the results file."))
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(lines + kept)


def name(titles: dict[str, str], key: str) -> str:
    return escape(f"‘{titles.get(key, key)[:40]}’")


def paid_line(t: Translator, paid: PaidProject, titles: dict[str, str]) -> str:
    line = t.ngettext(
        "%(project)s: %(payers)s of its %(supporters)s supporter paid %(price)s each and "
        "kept %(left)s of their share.",
        "%(project)s: %(payers)s of its %(supporters)s supporters paid %(price)s each and "
        "kept %(left)s of their share on average.",
        paid.supporters,
    ) % {
        "project": name(titles, paid.project),
        "payers": f"{paid.full_payers:,}",
        "supporters": f"{paid.supporters:,}",
        "price": t.money(round(paid.price)),
        "left": f"{paid.share_left:.0%}",
    }
    if paid.partial_payers:
        line += " " + t.ngettext(
            "%(count)s more paid all they had left.",
            "%(count)s more paid all they had left.",
            paid.partial_payers,
        ) % {"count": f"{paid.partial_payers:,}"}
    return "✓ " + line


def rejected_line(t: Translator, rejected: RejectedProject, titles: dict[str, str]) -> str:
    project = name(titles, rejected.project)
    if rejected.reason == "beaten" and rejected.beaten_by is not None:
        text = t.gettext(
            "%(project)s: %(winner)s won first — it asked %(winner_price)s of each supporter, "
            "this one would have needed %(price)s each; after that its supporters had "
            "%(money)s of the %(cost)s it costs."
        ) % {
            "project": project,
            "winner": name(titles, rejected.beaten_by),
            "winner_price": t.money(round(rejected.winner_price or 0)),
            "price": t.money(round(rejected.price or 0)),
            "money": t.money(int(rejected.money)),
            "cost": t.money(int(rejected.cost)),
        }
    elif rejected.reason == "too_little_support":
        text = t.gettext(
            "%(project)s: its supporters' shares together came to %(money)s, less than its "
            "cost of %(cost)s."
        ) % {
            "project": project,
            "money": t.money(int(rejected.money)),
            "cost": t.money(int(rejected.cost)),
        }
    elif rejected.reason == "no_votes":
        text = t.gettext("%(project)s: no votes.") % {"project": project}
    else:
        text = t.gettext("%(project)s: it no longer fitted the budget left.") % {"project": project}
    return "✗ " + text
