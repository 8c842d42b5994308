"""/paneladmin: the officials' side of panels (SPEC §5) — applicants against quotas with the
short strata, the commitment, the seed and the draw, the panel's fill, meetings and their
materials, members' votes, and 예산학교 course codes.

Buttons here are conveniences: `bot.services.panels` checks the admin role on every action
and writes it (or the refusal) to the audit log.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode
from telegram.ext import CallbackQueryHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext, CivicApplication, translator
from bot.flows.guard import (
    StepHandler,
    discard_flow,
    end_flow,
    flow,
    guided_steps,
    role_checked,
)
from bot.handlers.common import answer, ask, edit_or_send, retire_question, send
from bot.handlers.panels import refusal_text
from bot.i18n import N_, Translator
from bot.menu import CommandRegistry, MenuCommand
from bot.services import panels as service
from bot.services.panels import feature_name, value_name
from domain.panels import BUILT_IN_FEATURES, ApplicationStatus, Refusal, Stratum, check_seed
from domain.programmes import Programme
from storage.panels import PanelsRepository

FLOW_NAME = N_("a panel admin task")
PENDING = "panel_admin_pending"
SEED, SEED_CONFIRM, TITLE, WHEN, PLACE, MATERIALS, QUESTION, CODE_LABEL = (
    "seed", "seed_confirm", "title", "when", "place", "materials", "question", "code_label",
)  # fmt: skip
WHEN_FORMAT = "%Y-%m-%d %H:%M"


async def admin_only(update: Update, context: BotContext) -> bool:
    """Screens show only to admins; a refused attempt (e.g. a forged button) is audited."""
    assert update.effective_user is not None
    services = context.services
    user_id = update.effective_user.id
    async with services.db.reading() as session:
        allowed = await service.is_admin(session, user_id, services.settings.admin_ids)
    if not allowed:
        query = update.callback_query
        what = query.data if query is not None and query.data else "/paneladmin"
        async with services.db.transaction() as session:
            await service.refused(session, user_id, f"paneladmin:{what}", services.clock())
        t = await translator(update, context)
        await send(update, context, refusal_text(t, Refusal.FORBIDDEN))
    return allowed


def back_row(t: Translator, programme_id: int) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(t.gettext("Back"), callback_data=f"pa:p:{programme_id}")]


async def paneladmin_command(update: Update, context: BotContext) -> None:
    await answer(update)
    if not await admin_only(update, context):
        return
    t = await translator(update, context)
    async with context.services.db.reading() as session:
        programmes = await service.panels(session)
    rows = [
        [InlineKeyboardButton(p.name.get(t.language)[:60], callback_data=f"pa:p:{pid}")]
        for pid, p in programmes
    ]
    rows.append([InlineKeyboardButton(t.gettext("예산학교 course codes"), callback_data="pa:bs")])
    await edit_or_send(
        update, context, t.gettext("Panels: choose one."), InlineKeyboardMarkup(rows)
    )


async def show_programme(update: Update, context: BotContext, programme_id: int) -> None:
    t = await translator(update, context)
    now = context.services.clock()
    async with context.services.db.reading() as session:
        programme = await service.panel(session, programme_id)
        repository = PanelsRepository(session)
        counts = await repository.counts(programme_id)
        record = await repository.draw(programme_id)
    if programme is None:
        await send(update, context, refusal_text(t, Refusal.NOT_FOUND))
        return
    lines = [f"<b>{escape(programme.name.get(t.language))}</b>"]
    for stage in programme.open_stages(now):
        lines.append(t.gettext("Now: %(stage)s") % {"stage": escape(stage.name.get(t.language))})
    lines.append(
        t.gettext("Seats: %(seats)s") % {"seats": f"{service.rules_of(programme).seats:,}"}
    )
    lines.append(
        ", ".join(
            f"{t.gettext(service.STATUS_LABELS[status])}: {count:,}"
            for status, count in counts.items()
            if count
        )
        or t.gettext("No applications yet.")
    )
    rows = [
        [
            InlineKeyboardButton(
                t.gettext("Applicants against quotas"), callback_data=f"pa:q:{programme_id}"
            )
        ]
    ]
    if record is None:
        lines.append(t.gettext("Commitment: not published yet."))
        rows.append(
            [
                InlineKeyboardButton(
                    t.gettext("Publish the commitment"), callback_data=f"pa:c:{programme_id}"
                )
            ]
        )
        rows.append(
            [
                InlineKeyboardButton(
                    t.gettext("Features and quotas"), callback_data=f"pa:fq:{programme_id}"
                )
            ]
        )
    else:
        lines.append(t.gettext("Commitment: %(digest)s") % {"digest": record.commitment})
        if not record.drawn:
            rows.append(
                [
                    InlineKeyboardButton(
                        t.gettext("Enter the seed and draw"), callback_data=f"pa:s:{programme_id}"
                    )
                ]
            )
        else:
            lines.append(t.gettext("Seed: %(seed)s") % {"seed": escape(record.seed or "")})
            rows.append(
                [
                    InlineKeyboardButton(
                        t.gettext("Panel fill"), callback_data=f"pa:f:{programme_id}"
                    )
                ]
            )
    rows.append(
        [
            InlineKeyboardButton(t.gettext("Meetings"), callback_data=f"pa:m:{programme_id}"),
            InlineKeyboardButton(t.gettext("Members' vote"), callback_data=f"pa:v:{programme_id}"),
        ]
    )
    rows.append([InlineKeyboardButton(t.gettext("All panels"), callback_data="pa:list")])
    await edit_or_send(
        update, context, "\n".join(lines), InlineKeyboardMarkup(rows), parse_mode=ParseMode.HTML
    )


def problem_lines(t: Translator, programme: Programme, problems: service.Problems) -> list[str]:
    rules = service.rules_of(programme)
    lines = []
    for change in problems.relaxations:
        quota = change.quota
        what = (
            f"{feature_name(t, rules, quota.feature)} "
            f"{value_name(t, rules, quota.feature, quota.value)}"
        )
        if change.lower_min_by:
            lines.append(
                t.gettext("%(what)s: lower the minimum from %(old)s to %(new)s")
                % {"what": what, "old": quota.min, "new": quota.min - change.lower_min_by}
            )
        if change.raise_max_by:
            lines.append(
                t.gettext("%(what)s: raise the maximum from %(old)s to %(new)s")
                % {"what": what, "old": quota.max, "new": quota.max + change.raise_max_by}
            )
    # Without a quota change to suggest (too few applicants, or bad inputs): the details.
    return lines or list(problems.messages)


# The quota view fits a phone (about 20 lines): the short strata first, then each feature in
# the city's order; a feature with many values (the 25 districts) in one line. The full table
# is a CSV file.
SHORT_SHOWN = 5
VALUES_LISTED = 6
INLINE_VALUES = 3
CSV_HEADER = (
    N_("Feature"), N_("Value"), N_("Applicants"), N_("Minimum"), N_("Maximum"), N_("Short"),
)  # fmt: skip


async def quota_view_for(
    update: Update, context: BotContext, programme_id: int
) -> service.QuotaView | None:
    assert update.effective_user is not None
    services = context.services
    view = await service.quota_view(
        services.db,
        update.effective_user.id,
        programme_id,
        services.clock(),
        services.settings.admin_ids,
    )
    if isinstance(view, Refusal):
        t = await translator(update, context)
        await send(update, context, refusal_text(t, view))
        return None
    return view


def quota_lines(t: Translator, view: service.QuotaView) -> list[str]:
    rules = service.rules_of(view.programme)

    def name(stratum: Stratum) -> str:
        return escape(value_name(t, rules, stratum.quota.feature, stratum.quota.value))

    def counted(stratum: Stratum) -> str:
        quota = stratum.quota
        return f"{name(stratum)} {stratum.applicants:,} ({quota.min:,}–{quota.max:,})"

    lines = [
        "<b>"
        + escape(
            t.gettext("Applicants against quotas: %(panel)s")
            % {"panel": view.programme.name.get(t.language)}
        )
        + "</b>",
        t.gettext("%(count)s applicants for %(seats)s seats")
        % {"count": f"{view.pool_size:,}", "seats": f"{view.seats:,}"},
    ]
    if view.committed:
        lines.append(t.gettext("(the list fixed by the commitment)"))
    short = view.short
    lines.append("")
    if short:
        lines.append(
            t.gettext("Short of their minimum (%(count)s), for outreach:") % {"count": len(short)}
        )
        for stratum in short[:SHORT_SHOWN]:
            lines.append(
                "• "
                + t.gettext("%(value)s: %(count)s, minimum %(min)s (%(short)s short)")
                % {
                    "value": name(stratum),
                    "count": f"{stratum.applicants:,}",
                    "min": f"{stratum.quota.min:,}",
                    "short": f"{stratum.short:,}",
                }
            )
        if len(short) > SHORT_SHOWN:
            lines.append(
                t.gettext("…and %(count)s more in the full table.")
                % {"count": len(short) - SHORT_SHOWN}
            )
    else:
        lines.append(t.gettext("No stratum is short of its minimum."))
    lines.append("")
    by_feature: dict[str, list[Stratum]] = {}
    for stratum in view.strata:
        by_feature.setdefault(stratum.quota.feature, []).append(stratum)
    for feature, found in by_feature.items():
        label = escape(feature_name(t, rules, feature))
        if len(found) <= INLINE_VALUES:
            lines.append(f"{label}: " + " · ".join(counted(s) for s in found))
        elif len(found) <= VALUES_LISTED:
            lines.append(t.gettext("%(feature)s (applicants, quota):") % {"feature": label})
            lines += ["  " + counted(s) for s in found]
        else:
            met = sum(1 for s in found if not s.short)
            lines.append(
                t.gettext("%(feature)s: %(met)s of %(total)s meet their minimum.")
                % {"feature": label, "met": met, "total": len(found)}
            )
    if view.problems:
        lines += ["", t.gettext("No panel can be drawn yet. The smallest change that allows one:")]
        lines += [escape(line) for line in problem_lines(t, view.programme, view.problems)]
    return lines


async def show_quotas(update: Update, context: BotContext, programme_id: int) -> None:
    view = await quota_view_for(update, context, programme_id)
    if view is None:
        return
    t = await translator(update, context)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.gettext("Full table (CSV)"), callback_data=f"pa:qc:{programme_id}"
                )
            ],
            back_row(t, programme_id),
        ]
    )
    await edit_or_send(
        update, context, "\n".join(quota_lines(t, view))[:4000], keyboard, parse_mode=ParseMode.HTML
    )


async def send_quota_table(update: Update, context: BotContext, programme_id: int) -> None:
    """Every stratum with its applicants and quota, for a spreadsheet (UTF-8 with a BOM, so
    Excel reads Korean right)."""
    view = await quota_view_for(update, context, programme_id)
    if view is None:
        return
    assert update.effective_chat is not None
    t = await translator(update, context)
    rules = service.rules_of(view.programme)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([t.gettext(column) for column in CSV_HEADER])
    for stratum in view.strata:
        quota = stratum.quota
        feature, value = quota.feature, quota.value
        names = [feature_name(t, rules, feature), value_name(t, rules, feature, value)]
        writer.writerow([*names, stratum.applicants, quota.min, quota.max, stratum.short])
    await context.bot.send_document(
        update.effective_chat.id,
        io.BytesIO(("\ufeff" + out.getvalue()).encode()),
        filename=f"quotas-{view.programme.key}.csv",
        caption=t.gettext("Applicants against quotas: %(panel)s")
        % {"panel": view.programme.name.get(t.language)},
    )


async def confirm_commit(update: Update, context: BotContext, programme_id: int) -> None:
    t = await translator(update, context)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.gettext("Publish the commitment"), callback_data=f"pa:cy:{programme_id}"
                )
            ],
            back_row(t, programme_id),
        ]
    )
    await edit_or_send(
        update,
        context,
        t.gettext(
            "Publishing the commitment fixes the applicant list, the quotas and the number of"
            " seats, and tells every applicant. Only then can the seed be entered. Go on?"
        ),
        keyboard,
    )


async def do_commit(update: Update, context: BotContext, programme_id: int) -> None:
    assert update.effective_user is not None and update.effective_chat is not None
    t = await translator(update, context)
    services = context.services
    await context.bot.send_chat_action(update.effective_chat.id, ChatAction.TYPING)
    result = await service.commit(
        services.db,
        update.effective_user.id,
        programme_id,
        services.clock(),
        services.settings.admin_ids,
    )
    keyboard = InlineKeyboardMarkup([back_row(t, programme_id)])
    if result.refusal is Refusal.INFEASIBLE:
        async with services.db.reading() as session:
            programme = await service.panel(session, programme_id)
        assert programme is not None
        lines = [refusal_text(t, Refusal.INFEASIBLE)]
        if result.pool_size < result.seats:
            lines.append(
                t.gettext("%(count)s applicants for %(seats)s seats")
                % {"count": f"{result.pool_size:,}", "seats": f"{result.seats:,}"}
            )
        lines += problem_lines(t, programme, result.problems)
        await edit_or_send(update, context, "\n".join(lines)[:4000], keyboard)
        return
    if result.refusal is not None:
        await edit_or_send(update, context, refusal_text(t, result.refusal), keyboard)
        return
    # The next step is offered where the message asks for it.
    seed = InlineKeyboardButton(
        t.gettext("Enter the seed and draw"), callback_data=f"pa:s:{programme_id}"
    )
    await edit_or_send(
        update,
        context,
        t.gettext(
            "The commitment is published and every applicant is being told:\n%(digest)s\n"
            "%(count)s applicants. Now fix a public seed, e.g. the numbers of a public lottery"
            " drawn after this moment, and enter it."
        )
        % {"digest": result.commitment, "count": f"{result.pool_size:,}"},
        InlineKeyboardMarkup([[seed], back_row(t, programme_id)]),
    )


async def show_fill(update: Update, context: BotContext, programme_id: int) -> None:
    assert update.effective_user is not None
    t = await translator(update, context)
    services = context.services
    found = await service.fill(
        services.db,
        update.effective_user.id,
        programme_id,
        services.clock(),
        services.settings.admin_ids,
    )
    if isinstance(found, Refusal):
        await send(update, context, refusal_text(t, found))
        return
    rules = service.rules_of(found.programme)
    counts = found.counts
    lines = [
        t.gettext("Panel fill: %(panel)s") % {"panel": found.programme.name.get(t.language)},
        t.gettext(
            "%(members)s members and %(invited)s invitations waiting for %(seats)s seats;"
            " %(vacant)s seats without anyone."
        )
        % {
            "members": counts[ApplicationStatus.ACCEPTED],
            "invited": counts[ApplicationStatus.INVITED],
            "seats": found.seats,
            "vacant": found.vacancies,
        },
        t.gettext(
            "Declined %(declined)s · expired %(expired)s · left %(left)s · reserve %(reserve)s"
        )
        % {
            "declined": counts[ApplicationStatus.DECLINED],
            "expired": counts[ApplicationStatus.EXPIRED],
            "left": counts[ApplicationStatus.LEFT],
            "reserve": counts[ApplicationStatus.RESERVE],
        },
    ]
    if found.vacancies:
        lines.append(
            t.gettext("A seat stays empty when no one on the reserve list keeps every quota met.")
        )
    feature = None
    for stratum in found.seated_strata:
        quota = stratum.quota
        if quota.feature != feature:
            feature = quota.feature
            lines += ["", feature_name(t, rules, feature)]
        lines.append(
            "  "
            + t.gettext("%(value)s: %(count)s (quota %(min)s–%(max)s)")
            % {
                "value": value_name(t, rules, quota.feature, quota.value),
                "count": stratum.applicants,
                "min": quota.min,
                "max": quota.max,
            }
        )
    keyboard = InlineKeyboardMarkup([back_row(t, programme_id)])
    await edit_or_send(update, context, "\n".join(lines)[:4000], keyboard)


async def confirm_outside_quotas(update: Update, context: BotContext, programme_id: int) -> None:
    """An empty seat's second choice, asked again: the quotas will not hold."""
    t = await translator(update, context)
    text = t.gettext(
        "Invite the next person on the reserve list, in call order, although the panel will"
        " then break its quotas? This is written to the audit log and shown in the panel fill."
    )
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.gettext("Invite them outside the quotas"),
                    callback_data=f"pa:ovy:{programme_id}",
                )
            ],
            back_row(t, programme_id),
        ]
    )
    await edit_or_send(update, context, text, keyboard)


async def invite_outside_quotas(update: Update, context: BotContext, programme_id: int) -> None:
    assert update.effective_user is not None
    t = await translator(update, context)
    services = context.services
    found = await service.invite_outside_quotas(
        services.db, update.effective_user.id, programme_id, services.clock(),
        services.settings.admin_ids,
    )  # fmt: skip
    if isinstance(found, Refusal):
        text = (
            t.gettext("No seat is empty, or nobody is left on the reserve list.")
            if found is Refusal.ALREADY
            else refusal_text(t, found)
        )
        await edit_or_send(update, context, text, InlineKeyboardMarkup([back_row(t, programme_id)]))
        return
    await edit_or_send(
        update,
        context,
        t.gettext("Invited the next person on the reserve list; they have been told."),
        InlineKeyboardMarkup([back_row(t, programme_id)]),
    )


# -- features and quotas ------------------------------------------------------------------
PLAN = "panel_plan"  # the features and tolerance being chosen, until saved


async def on_plan(update: Update, context: BotContext) -> None:
    """Choose the quota features and tolerance: every tap edits the one message, showing the
    population-proportional quotas they give; saving asks again."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    await answer(update)
    if not await admin_only(update, context):
        return
    _, action, raw_id, *rest = query.data.split(":")
    programme_id = int(raw_id)
    draft = context.udata.get(PLAN) or {}
    if draft.get("id") != programme_id or action == "fq":
        draft = {"id": programme_id}
    if action == "ft":
        features = list(draft.get("features") or [])
        feature = rest[0]
        draft["features"] = (
            [f for f in features if f != feature]
            if feature in features
            else [f for f in BUILT_IN_FEATURES if f in {*features, feature}]
        )
    elif action == "tl":
        draft["tolerance"] = int(rest[0])
    context.udata[PLAN] = draft
    services, t = context.services, await translator(update, context)
    args = (services.db, update.effective_user.id, programme_id)
    if action == "fy":
        refusal = await service.set_quota_plan(
            *args, draft.get("features") or [], int(draft.get("tolerance", 0)) / 100,
            services.clock(), services.settings.admin_ids,
        )  # fmt: skip
        context.udata.pop(PLAN, None)
        text = refusal_text(t, refusal) if refusal else t.gettext("Saved the features and quotas.")
        await edit_or_send(update, context, text, InlineKeyboardMarkup([back_row(t, programme_id)]))
        return
    tolerance = draft.get("tolerance")
    plan = await service.quota_plan(
        *args, draft.get("features"), None if tolerance is None else int(tolerance) / 100,
        services.clock(), services.settings.admin_ids,
    )  # fmt: skip
    if isinstance(plan, Refusal):
        await edit_or_send(update, context, refusal_text(t, plan))
        return
    draft.update(features=list(plan.features), tolerance=round(plan.tolerance * 100))
    rules = service.rules_of(plan.programme)
    lines = [
        t.gettext("Features and quotas: %(panel)s")
        % {"panel": plan.programme.name.get(t.language)},
        t.gettext(
            "Seats: %(seats)s · applicants so far: %(applicants)s · tolerance ±%(tolerance)s%%"
        )
        % {"seats": plan.seats, "applicants": plan.applicants, "tolerance": draft["tolerance"]},
        t.gettext("Quotas in proportion to Seoul's population:"),
        *(f"• {service.quota_text(t, rules, quota)}" for quota in plan.quotas),
    ]
    if action == "fs":
        lines += ["", t.gettext("Save these features and quotas? They hold until the commitment.")]
        keyboard = [
            [InlineKeyboardButton(t.gettext("Save"), callback_data=f"pa:fy:{programme_id}")],
            [InlineKeyboardButton(t.gettext("Change"), callback_data=f"pa:fc:{programme_id}")],
        ]
    else:
        keyboard = [
            [
                InlineKeyboardButton(
                    ("✓ " if f in plan.features else "") + feature_name(t, rules, f),
                    callback_data=f"pa:ft:{programme_id}:{f}",
                )
                for f in BUILT_IN_FEATURES
            ],
            [
                InlineKeyboardButton(
                    ("✓ " if p == draft["tolerance"] else "") + f"±{p}%",
                    callback_data=f"pa:tl:{programme_id}:{p}",
                )
                for p in service.TOLERANCES
            ],
            [InlineKeyboardButton(t.gettext("Save…"), callback_data=f"pa:fs:{programme_id}")],
            back_row(t, programme_id),
        ]
    await edit_or_send(update, context, "\n".join(lines)[:4000], InlineKeyboardMarkup(keyboard))


async def show_meetings(update: Update, context: BotContext, programme_id: int) -> None:
    t = await translator(update, context)
    async with context.services.db.reading() as session:
        programme = await service.panel(session, programme_id)
        repository = PanelsRepository(session)
        meetings = await repository.meetings(programme_id)
        answers = {m.id: await repository.rsvp_counts(m.id) for m in meetings}
    if programme is None:
        await send(update, context, refusal_text(t, Refusal.NOT_FOUND))
        return
    lines = [t.gettext("Meetings of %(panel)s") % {"panel": programme.name.get(t.language)}]
    rows = [
        [InlineKeyboardButton(t.gettext("Add a meeting"), callback_data=f"pa:ma:{programme_id}")]
    ]
    if not meetings:
        lines.append(t.gettext("No meetings are scheduled yet."))
    for meeting in meetings[-10:]:
        counts = answers[meeting.id]
        lines += [
            "",
            service.meeting_line(t, programme, meeting),
            t.gettext("Coming %(yes)s · maybe %(maybe)s · not coming %(no)s") % counts,
        ]
        rows.append(
            [
                InlineKeyboardButton(
                    t.gettext("Materials: %(meeting)s") % {"meeting": meeting.title[:40]},
                    callback_data=f"pa:mm:{meeting.id}",
                )
            ]
        )
    rows.append(back_row(t, programme_id))
    await edit_or_send(update, context, "\n".join(lines)[:4000], InlineKeyboardMarkup(rows))


async def show_codes(update: Update, context: BotContext) -> None:
    t = await translator(update, context)
    async with context.services.db.reading() as session:
        codes = await PanelsRepository(session).open_codes()
    lines = [
        t.gettext(
            "예산학교 course codes: give one to the people who completed a course; they send"
            " /budgetschool CODE. Open codes:"
        )
    ]
    rows = [[InlineKeyboardButton(t.gettext("Issue a code"), callback_data="pa:bsn")]]
    if not codes:
        lines.append(t.gettext("None yet."))
    for code in codes:
        lines.append(
            t.gettext("%(code)s — %(label)s, used %(uses)s times")
            % {"code": code.code, "label": code.label, "uses": code.uses}
        )
        rows.append(
            [
                InlineKeyboardButton(
                    t.gettext("Close %(code)s") % {"code": code.code},
                    callback_data=f"pa:bsc:{code.code}",
                )
            ]
        )
    rows.append([InlineKeyboardButton(t.gettext("All panels"), callback_data="pa:list")])
    await edit_or_send(update, context, "\n".join(lines), InlineKeyboardMarkup(rows))


async def on_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    await answer(update)
    if not await admin_only(update, context):
        return
    _, action, *rest = query.data.split(":")
    if action == "list":
        await paneladmin_command(update, context)
    elif action == "bs":
        await show_codes(update, context)
    elif action == "bsc":
        services = context.services
        refusal = await service.close_code(
            services.db, update.effective_user.id, rest[0], services.clock(),
            services.settings.admin_ids,
        )  # fmt: skip
        if refusal is not None:
            t = await translator(update, context)
            await send(update, context, refusal_text(t, refusal))
        await show_codes(update, context)
    else:
        programme_id = int(rest[0])
        screens = {
            "p": show_programme, "q": show_quotas, "qc": send_quota_table, "c": confirm_commit,
            "cy": do_commit, "f": show_fill, "m": show_meetings, "ov": confirm_outside_quotas,
            "ovy": invite_outside_quotas,
        }  # fmt: skip
        await screens[action](update, context, programme_id)


# -- typed input: the seed, meetings, materials, a members' vote, a course code ---------------
def pending(context: BotContext) -> dict[str, object]:
    found = context.udata.setdefault(PENDING, {})
    assert isinstance(found, dict)
    return found


async def start_typed(update: Update, context: BotContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    if not await admin_only(update, context):
        return ConversationHandler.END
    _, action, *rest = query.data.split(":")
    first = {"s": SEED, "ma": TITLE, "mm": MATERIALS, "v": QUESTION, "bsn": CODE_LABEL}[action]
    context.udata[PENDING] = {"target": int(rest[0]) if rest else 0, "step": first}
    if first == SEED:
        async with context.services.db.reading() as session:
            record = await PanelsRepository(session).draw(int(rest[0]))
        if record is None or record.drawn:
            t = await translator(update, context)
            refusal = Refusal.NOT_COMMITTED if record is None else Refusal.DRAWN
            await send(update, context, refusal_text(t, refusal))
            return await end(update, context)
    return await ask_current(update, context)


QUESTIONS = {
    SEED: N_(
        "Type the public seed: a value nobody could know when the commitment was published,"
        " e.g. the winning numbers of a public lottery drawn after it. It is published with"
        " the result."
    ),
    TITLE: N_("What is the meeting called? (e.g. 1차 주제별 회의)"),
    WHEN: N_("When does it start? Type the date and time in Seoul time as 2027-06-12 14:00."),
    PLACE: N_("Where? (an address, a room, or an online link)"),
    MATERIALS: N_(
        "Type the materials to read before the meeting (text and links); members are told."
    ),
    QUESTION: N_(
        "Type the question for the members to vote on (yes / no / abstain), in one sentence."
    ),
    CODE_LABEL: N_("Name the course this code is for (e.g. 2027 예산학교 3기)."),
}


async def ask_current(update: Update, context: BotContext) -> str:
    t = await translator(update, context)
    step = str(pending(context).get("step", SEED))
    cancel_row = [InlineKeyboardButton(t.gettext("Cancel"), callback_data="pa:cancel")]
    if step == SEED_CONFIRM:
        text = t.gettext("Draw with the seed “%(seed)s”? This cannot be undone.") % {
            "seed": pending(context).get("seed")
        }
        rows = [[InlineKeyboardButton(t.gettext("Draw now"), callback_data="pa:sy")], cancel_row]
    else:
        text, rows = t.gettext(QUESTIONS[step]), [cancel_row]
    await ask(update, context, text, InlineKeyboardMarkup(rows))
    return step


async def on_text(update: Update, context: BotContext) -> str | int:
    assert update.message is not None and update.message.text is not None
    text = update.message.text.strip()
    job = pending(context)
    step = job.get("step")
    t = await translator(update, context)
    if step == SEED:
        if not check_seed(text):
            await send(update, context, refusal_text(t, Refusal.BAD_SEED))
            return await ask_current(update, context)
        job.update(seed=text, step=SEED_CONFIRM)
    elif step == TITLE:
        if not 0 < len(text) <= service.TITLE_MAX:
            await send(update, context, refusal_text(t, Refusal.INVALID))
            return await ask_current(update, context)
        job.update(title=text, step=WHEN)
    elif step == WHEN:
        try:
            local = datetime.strptime(text, WHEN_FORMAT)
        except ValueError:
            await send(update, context, t.gettext("Please type it as 2027-06-12 14:00."))
            return await ask_current(update, context)
        starts = local.replace(tzinfo=context.services.settings.tz)
        if starts <= context.services.clock():
            await send(update, context, t.gettext("That time has passed."))
            return await ask_current(update, context)
        job.update(when=starts.isoformat(), step=PLACE)
    elif step == PLACE:
        return await finish_meeting(update, context, text)
    elif step == MATERIALS:
        return await finish(update, context, "materials", text)
    elif step == QUESTION:
        return await finish(update, context, "vote", text)
    elif step == CODE_LABEL:
        return await finish(update, context, "code", text)
    else:
        return await end(update, context)
    await retire_question(update, context)
    return await ask_current(update, context)


async def finish_meeting(update: Update, context: BotContext, place: str) -> str | int:
    assert update.effective_user is not None
    job = pending(context)
    services = context.services
    refusal, _ = await service.add_meeting(
        services.db,
        update.effective_user.id,
        int(str(job["target"])),
        service.NewMeeting(str(job["title"]), datetime.fromisoformat(str(job["when"])), place),
        services.clock(),
        services.settings.admin_ids,
    )
    t = await translator(update, context)
    if refusal is Refusal.INVALID:
        await send(update, context, refusal_text(t, refusal))
        return await ask_current(update, context)
    await end(update, context)
    await send(
        update,
        context,
        refusal_text(t, refusal)
        if refusal is not None
        else t.gettext("The meeting is scheduled; members are told and asked to answer."),
    )
    return ConversationHandler.END


async def finish(update: Update, context: BotContext, what: str, text: str) -> str | int:
    assert update.effective_user is not None
    job = pending(context)
    target = int(str(job["target"]))
    services = context.services
    t = await translator(update, context)
    user_id, now, admins = update.effective_user.id, services.clock(), services.settings.admin_ids
    if what == "materials":
        refusal = await service.add_materials(services.db, user_id, target, text, now, admins)
        done = t.gettext("The materials are saved; members are told.")
    elif what == "vote":
        refusal, heading_id = await service.create_member_vote(
            services.db, user_id, target, text, now, admins
        )
        done = t.gettext("The members' vote #%(id)s is set up; members are told.") % {
            "id": heading_id
        }
    else:
        refusal, code = await service.issue_code(services.db, user_id, text, now, admins)
        done = t.gettext("New course code: %(code)s") % {"code": code}
    if refusal is Refusal.INVALID:
        await send(update, context, refusal_text(t, refusal))
        return await ask_current(update, context)
    await end(update, context)
    await send(update, context, refusal_text(t, refusal) if refusal is not None else done)
    return ConversationHandler.END


async def on_draw(update: Update, context: BotContext) -> int:
    assert update.effective_user is not None and update.effective_chat is not None
    await answer(update)
    job = pending(context)
    programme_id = int(str(job.get("target", 0)))
    services = context.services
    await context.bot.send_chat_action(update.effective_chat.id, ChatAction.TYPING)
    result = await service.draw(
        services.db,
        update.effective_user.id,
        programme_id,
        str(job.get("seed", "")),
        services.clock(),
        services.settings.admin_ids,
    )
    await end(update, context)
    t = await translator(update, context)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.gettext("See the draw record"), callback_data=f"pn:rec:{programme_id}"
                )
            ],
            back_row(t, programme_id),
        ]
    )
    if result.refusal is not None:
        lines = [refusal_text(t, result.refusal), *result.problems.messages]
        await send(update, context, "\n".join(lines)[:4000], reply_markup=keyboard)
        return ConversationHandler.END
    text = t.gettext(
        "The draw is done and published. Seed: %(seed)s\nCommitment: %(digest)s\n"
        "Selected: %(selected)s · reserve list: %(reserve)s. Invitations are on their way."
    ) % {
        "seed": job.get("seed"),
        "digest": result.commitment,
        "selected": len(result.selected),
        "reserve": len(result.reserve),
    }
    listing = t.gettext("Selected (pseudonyms): %(ids)s") % {"ids": ", ".join(result.selected)}
    await send(update, context, f"{text}\n\n{listing}"[:4000], reply_markup=keyboard)
    return ConversationHandler.END


async def end(update: Update, context: BotContext) -> int:
    return await end_flow(update, context, PENDING, "paneladmin")


async def cancel(update: Update, context: BotContext) -> int:
    return await discard_flow(update, context, PENDING, "paneladmin", N_("Nothing was changed."))


def conversation(registry: CommandRegistry) -> ConversationHandler[BotContext]:
    step = guided_steps("pa", None, cancel, ask_current, FLOW_NAME, registry)

    # Every step checks the role again (it may be revoked mid-way), not only the last one.
    text: StepHandler = MessageHandler(
        filters.TEXT & ~filters.COMMAND, role_checked(admin_only, on_text)
    )
    return flow(
        entry_points=[
            CallbackQueryHandler(start_typed, pattern=r"^pa:(s|ma|mm|v):\d{1,12}$|^pa:bsn$")
        ],
        states={
            SEED: step(text),
            SEED_CONFIRM: step(
                CallbackQueryHandler(role_checked(admin_only, on_draw), pattern=r"^pa:sy$")
            ),
            TITLE: step(text),
            WHEN: step(text),
            PLACE: step(text),
            MATERIALS: step(text),
            QUESTION: step(text),
            CODE_LABEL: step(text),
        },
        name="paneladmin",
    )


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    registry.add(
        MenuCommand(
            "paneladmin",
            N_("Panels: quotas, the draw, members and meetings (admins)"),
            N_("Panel admin"),
            paneladmin_command,
            admin_only=True,
        )
    )
    application.add_handler(conversation(registry))
    application.add_handler(
        CallbackQueryHandler(
            on_plan,
            pattern=r"^pa:(fq|fc|fs|fy):\d{1,12}$|^pa:ft:\d{1,12}:(gender|age_band|district)$"
            r"|^pa:tl:\d{1,12}:(0|10|20|30)$",
        )
    )
    application.add_handler(
        CallbackQueryHandler(
            on_button,
            pattern=r"^pa:(p|q|qc|c|cy|f|m|ov|ovy):\d{1,12}$|^pa:(list|bs)$"
            r"|^pa:bsc:[A-Z0-9]{1,20}$",
        )
    )
