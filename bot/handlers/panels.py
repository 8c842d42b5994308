"""/panels: recruitment, my applications, invitations, my panels and their meetings, the
published draw record; /budgetschool CODE (SPEC §5). The admin side is
`bot/handlers/panel_admin.py`.

Every action is checked again by `bot.services.panels`, whatever the button said.
"""

from __future__ import annotations

from html import escape
from io import BytesIO

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode
from telegram.ext import CallbackQueryHandler

from bot.automation import one_worker_at_a_time
from bot.context import BotContext, CivicApplication, translator
from bot.flows.eligibility import where_to_learn
from bot.handlers.common import answer, edit_or_send, send
from bot.handlers.draw_fairness import chance_lines, fairness_lines
from bot.i18n import N_, Translator
from bot.menu import CommandRegistry, MenuCommand
from bot.services import panels as service
from bot.services.panels import feature_name, value_name
from domain.panels import (
    ApplicationStatus,
    PanelRules,
    Refusal,
)
from domain.programmes import Programme
from storage.panels import Application, DrawRecord, PanelsRepository

REFUSALS = {
    Refusal.NOT_SIGNED_UP: N_("Please sign up first with /start."),
    Refusal.NOT_FOUND: N_("That panel or application does not exist."),
    Refusal.CLOSED: N_("That is not possible at this stage of the panel."),
    Refusal.ALREADY: N_("That is already done."),
    Refusal.BUDGET_SCHOOL: N_(
        "This panel is open only to graduates of the 예산학교 (budget school). If you completed"
        " it, send /budgetschool followed by your course code; /budgetschool alone says where"
        " and when to take it."
    ),
    Refusal.NOT_CONNECTED: N_(
        "Panels are open to people who live, work or study in Seoul. See your answers in /profile."
    ),
    Refusal.TOO_YOUNG: N_("You are below the minimum age for this panel."),
    Refusal.OFFICIAL: N_(
        "Officials of the city, its districts and the bodies they fund cannot apply to this panel."
    ),
    Refusal.INVALID: N_("That answer is not valid."),
    Refusal.LIST_FIXED: N_(
        "The applicant list is final: its commitment is published, so it can no longer change."
    ),
    Refusal.FORBIDDEN: N_("This is for administrators only."),
    Refusal.RECRUITING: N_(
        "Recruitment is still open: the commitment and the draw come after it closes."
    ),
    Refusal.NOT_COMMITTED: N_(
        "The commitment is not published yet: the seed may only be fixed after it."
    ),
    Refusal.COMMITTED: N_("The commitment is already published."),
    Refusal.APPLIED_WITHOUT: N_(
        "People have applied without being asked that, so a feature can only be added before"
        " the first application. You can still remove a feature or change the tolerance."
    ),
    Refusal.DRAWN: N_("The draw has already been held; its seed and result are published."),
    Refusal.INFEASIBLE: N_("No panel can be drawn from these applicants and quotas."),
    Refusal.NOT_MEMBER: N_("This is for the members of the panel only."),
    Refusal.PAST_DEADLINE: N_("The deadline to answer has passed."),
    Refusal.BAD_SEED: N_("The seed must be one line of text of at most 200 characters."),
    Refusal.BAD_CODE: N_("That course code is not valid or is closed. Check it with your course."),
}
RSVP_LABELS = {"yes": N_("coming"), "maybe": N_("maybe"), "no": N_("not coming")}


def refusal_text(t: Translator, refusal: Refusal) -> str:
    return t.gettext(REFUSALS[refusal])


async def refuse(update: Update, context: BotContext, refusal: Refusal) -> None:
    t = await translator(update, context)
    await answer(update, refusal_text(t, refusal), alert=True)
    if update.callback_query is None:
        await send(update, context, refusal_text(t, refusal))


def answers_lines(t: Translator, rules: PanelRules, features: dict[str, str]) -> list[str]:
    return [
        f"{feature_name(t, rules, f)}: {value_name(t, rules, f, v)}" for f, v in features.items()
    ]


# -- /panels -------------------------------------------------------------------------------
async def panels_command(update: Update, context: BotContext) -> None:
    await answer(update)
    t = await translator(update, context)
    assert update.effective_user is not None
    user_id = update.effective_user.id
    now = context.services.clock()
    async with context.services.db.reading() as session:
        programmes = await service.panels(session)
        mine = {a.programme_id: a for a in await PanelsRepository(session).by_user(user_id)}
        committed = {
            pid for pid, _ in programmes if await PanelsRepository(session).draw(pid) is not None
        }
    heading = t.gettext("Citizen panels")
    lines = [f"<b>{escape(heading)}</b>"]
    rows: list[list[InlineKeyboardButton]] = []
    recruiting = [(pid, p) for pid, p in programmes if service.recruiting(p, now)]
    heading = t.gettext("Recruiting now")
    lines += ["", f"<b>{escape(heading)}</b>"]
    if not recruiting:
        lines.append(t.gettext("No panel is recruiting now. See /programmes for what opens when."))
    for pid, programme in recruiting:
        name = programme.name.get(t.language)
        end = service.recruitment_end(programme, now)
        line = f"• {escape(name)}"
        if end is not None:
            line += " — " + t.gettext("applications until %(end)s (%(left)s)") % {
                "end": t.deadline(end, now),
                "left": t.left(now, end),
            }
        lines.append(line)
        existing = mine.get(pid)
        if existing is None or existing.status is ApplicationStatus.WITHDRAWN:
            label = t.gettext("Apply: %(panel)s") % {"panel": name}
            rows.append([InlineKeyboardButton(label[:60], callback_data=f"ap:start:{pid}")])
    names = {pid: p.name.get(t.language) for pid, p in programmes}
    heading = t.gettext("My applications and panels")
    lines += ["", f"<b>{escape(heading)}</b>"]
    if not mine:
        lines.append(t.gettext("None yet."))
    for pid, application in mine.items():
        status = t.gettext(service.STATUS_LABELS[application.status])
        lines.append(f"• {escape(names.get(pid, ''))} — {escape(status)}")
        rows.append([InlineKeyboardButton(names.get(pid, "")[:60], callback_data=f"pn:a:{pid}")])
    for pid in sorted(committed):
        label = t.gettext("Draw record: %(panel)s") % {"panel": names[pid]}
        rows.append([InlineKeyboardButton(label[:60], callback_data=f"pn:rec:{pid}")])
    await edit_or_send(
        update, context, "\n".join(lines)[:4000], InlineKeyboardMarkup(rows),
        parse_mode=ParseMode.HTML,
    )  # fmt: skip


def application_text(
    t: Translator,
    programme: Programme,
    application: Application,
    record: DrawRecord | None,
) -> str:
    rules = service.rules_of(programme)
    lines = [
        f"<b>{escape(programme.name.get(t.language))}</b>",
        t.gettext("Status: %(status)s")
        % {"status": escape(t.gettext(service.STATUS_LABELS[application.status]))},
        t.gettext("Applied on %(date)s") % {"date": t.when(application.applied_at)},
        t.gettext("Your pseudonym in the published applicant list: %(pseudonym)s")
        % {"pseudonym": application.pseudonym},
        "",
        *(escape(line) for line in answers_lines(t, rules, application.features)),
    ]
    if application.status is ApplicationStatus.INVITED and application.respond_by:
        lines += [
            "",
            t.gettext("Please accept or decline by %(deadline)s.")
            % {"deadline": t.deadline(application.respond_by)},
        ]
    if record is not None and application.pseudonym in record.reserve:
        position = record.reserve.index(application.pseudonym) + 1
        if application.status is ApplicationStatus.RESERVE:
            lines += ["", t.gettext("Reserve list position: %(position)s") % {"position": position}]
    lines += chance_lines(t, record, application.pseudonym)
    return "\n".join(lines)


async def show_application(update: Update, context: BotContext, programme_id: int) -> None:
    t = await translator(update, context)
    assert update.effective_user is not None
    async with context.services.db.reading() as session:
        programme = await service.panel(session, programme_id)
        repository = PanelsRepository(session)
        application = await repository.of_user(programme_id, update.effective_user.id)
        record = await repository.draw(programme_id)
    if programme is None or application is None:
        await send(update, context, refusal_text(t, Refusal.NOT_FOUND))
        return
    rows = []
    status = application.status
    if status is ApplicationStatus.INVITED:
        rows.append(
            [
                InlineKeyboardButton(
                    t.gettext("I accept"), callback_data=f"pn:acc:{application.id}"
                ),
                InlineKeyboardButton(
                    t.gettext("I decline"), callback_data=f"pn:dec:{application.id}"
                ),
            ]
        )
    if status is ApplicationStatus.RESERVE or (
        status is ApplicationStatus.APPLIED and record is None
    ):
        rows.append(
            [
                InlineKeyboardButton(
                    t.gettext("Withdraw my application"), callback_data=f"pn:wd:{programme_id}"
                )
            ]
        )
    if status is ApplicationStatus.ACCEPTED:
        rows.append(
            [InlineKeyboardButton(t.gettext("Meetings"), callback_data=f"pn:m:{programme_id}")]
        )
    if record is not None:
        rows.append(
            [
                InlineKeyboardButton(
                    t.gettext("See the draw record"), callback_data=f"pn:rec:{programme_id}"
                )
            ]
        )
    rows.append([InlineKeyboardButton(t.gettext("All panels"), callback_data="pn:list")])
    await edit_or_send(
        update,
        context,
        application_text(t, programme, application, record),
        InlineKeyboardMarkup(rows),
        parse_mode=ParseMode.HTML,
    )


# -- buttons ---------------------------------------------------------------------------------
async def on_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    _, action, raw_id, *rest = query.data.split(":")
    number = int(raw_id)
    user_id = update.effective_user.id
    services = context.services
    now = services.clock()
    t = await translator(update, context)
    if action == "a":
        await answer(update)
        await show_application(update, context, number)
    elif action == "wd":
        await answer(update)
        await confirm(
            update, context,
            t.gettext("Withdraw your application? You can apply again while recruitment is open."),
            t.gettext("Yes, withdraw it"), f"pn:wdy:{number}", f"pn:a:{number}",
        )  # fmt: skip
    elif action == "wdy":
        refusal = await service.withdraw(services.db, user_id, number, now)
        if refusal is not None:
            await refuse(update, context, refusal)
            return
        await answer(update, t.gettext("Your application is withdrawn."))
        await show_application(update, context, number)
    elif action == "acc":
        await respond(update, context, number, accept=True)
    elif action == "dec":
        await answer(update)
        await confirm(
            update, context,
            t.gettext(
                "Decline the invitation? Your seat goes to the next person on the reserve list;"
                " this cannot be undone."
            ),
            t.gettext("Yes, decline"), f"pn:decy:{number}", "pn:list",
        )  # fmt: skip
    elif action == "decy":
        await respond(update, context, number, accept=False)
    elif action == "rec":
        await answer(update)
        await show_record(update, context, number)
    elif action == "csv":
        await answer(update)
        await send_record_files(update, context, number)
    elif action == "m":
        await answer(update)
        await show_meetings(update, context, number)
    elif action == "r":
        refusal = await service.rsvp(services.db, user_id, number, rest[0], now)
        if refusal is not None:
            await refuse(update, context, refusal)
            return
        await answer(
            update,
            t.gettext("Noted: %(answer)s.") % {"answer": t.gettext(RSVP_LABELS[rest[0]])},
        )
    elif action == "mt":
        await answer(update)
        await show_materials(update, context, number)


async def confirm(
    update: Update, context: BotContext, text: str, yes: str, yes_data: str, no_data: str
) -> None:
    t = await translator(update, context)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(yes, callback_data=yes_data),
                InlineKeyboardButton(t.gettext("No"), callback_data=no_data),
            ]
        ]
    )
    await edit_or_send(update, context, text, keyboard)


async def respond(update: Update, context: BotContext, application_id: int, accept: bool) -> None:
    assert update.effective_user is not None
    services = context.services
    refusal = await service.respond(
        services.db, update.effective_user.id, application_id, accept, services.clock(),
        services.settings.admin_ids,
    )  # fmt: skip
    t = await translator(update, context)
    if refusal is not None:
        await refuse(update, context, refusal)
        return
    await answer(update)
    text = (
        t.gettext(
            "Welcome aboard! You are now a member. Meetings, materials and members' votes will"
            " come here; see them any time under /panels."
        )
        if accept
        else t.gettext("You declined. Thank you for answering; the next person is invited.")
    )
    await edit_or_send(update, context, text)


# -- the published draw ----------------------------------------------------------------------
async def show_record(update: Update, context: BotContext, programme_id: int) -> None:
    """Public: the commitment, then the seed and result, so anyone can re-run the draw."""
    t = await translator(update, context)
    assert update.effective_user is not None
    async with context.services.db.reading() as session:
        found = await service.draw_record(session, programme_id)
        mine = await PanelsRepository(session).of_user(programme_id, update.effective_user.id)
    if found is None:
        await send(update, context, refusal_text(t, Refusal.NOT_COMMITTED))
        return
    programme, record = found
    title = t.gettext("Draw record: %(panel)s") % {"panel": programme.name.get(t.language)}
    lines = [
        f"<b>{escape(title)}</b>",
        t.gettext("Applicants: %(count)s · Seats: %(seats)s")
        % {"count": f"{len(record.pool):,}", "seats": f"{record.seats:,}"},
        t.gettext("Algorithm: %(version)s") % {"version": escape(record.algorithm)},
        t.gettext("Commitment (SHA-256), published %(date)s:")
        % {"date": t.when(record.committed_at)},
        f"<code>{record.commitment}</code>",
    ]
    if record.seed is not None and record.drawn_at is not None:
        lines += [
            t.gettext("Seed, fixed %(date)s: %(seed)s")
            % {"date": t.when(record.drawn_at), "seed": f"<code>{escape(record.seed)}</code>"},
            t.gettext("Selected: %(selected)s · Reserve list: %(reserve)s")
            % {"selected": len(record.selected), "reserve": len(record.reserve)},
        ]
    else:
        lines.append(t.gettext("Not drawn yet: the seed is fixed after the commitment."))
    if mine is not None and any(a.id == mine.pseudonym for a in record.pool):
        lines.append("")
        lines.append(t.gettext("Your pseudonym: %(pseudonym)s") % {"pseudonym": mine.pseudonym})
        if mine.pseudonym in record.selected:
            lines.append(t.gettext("You were selected in the draw."))
        elif mine.pseudonym in record.reserve:
            position = record.reserve.index(mine.pseudonym) + 1
            lines.append(
                t.gettext("Your place in the reserve call order: %(position)s")
                % {"position": position}
            )
    if mine is not None:
        lines += chance_lines(t, record, mine.pseudonym)
    lines += fairness_lines(t, record)
    lines += ["", t.gettext("Anyone can check the draw with `civicbot draw` on these files.")]
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.gettext("Download the files"), callback_data=f"pn:csv:{programme_id}"
                )
            ]
        ]
    )
    await edit_or_send(update, context, "\n".join(lines), keyboard, parse_mode=ParseMode.HTML)


async def send_record_files(update: Update, context: BotContext, programme_id: int) -> None:
    t = await translator(update, context)
    chat = update.effective_chat
    assert chat is not None
    async with context.services.db.reading() as session:
        found = await service.draw_record(session, programme_id)
    if found is None:
        await send(update, context, refusal_text(t, Refusal.NOT_COMMITTED))
        return
    programme, record = found
    await context.bot.send_chat_action(chat.id, ChatAction.UPLOAD_DOCUMENT)
    files = [
        ("pool.csv", service.pool_csv(record)),
        ("quotas.csv", service.quotas_csv(record)),
        ("result.json", service.result_json(programme, record)),
    ]
    for name, content in files:
        await context.bot.send_document(
            chat.id,
            BytesIO(content.encode("utf-8")),
            filename=f"{programme.key}-{name}",
            caption=t.gettext("Draw record: %(panel)s") % {"panel": programme.name.get(t.language)},
        )


# -- meetings ----------------------------------------------------------------------------------
async def show_meetings(update: Update, context: BotContext, programme_id: int) -> None:
    t = await translator(update, context)
    assert update.effective_user is not None
    user_id = update.effective_user.id
    now = context.services.clock()
    async with context.services.db.reading() as session:
        programme = await service.panel(session, programme_id)
        repository = PanelsRepository(session)
        members = await repository.members(programme_id)
        meetings = [m for m in await repository.meetings(programme_id) if m.starts_at > now]
        answers = {m.id: await repository.rsvp_of(m.id, user_id) for m in meetings}
    if programme is None or user_id not in members:
        await send(update, context, refusal_text(t, Refusal.NOT_MEMBER))
        return
    lines = [t.gettext("Meetings of %(panel)s") % {"panel": programme.name.get(t.language)}]
    rows = []
    if not meetings:
        lines.append(t.gettext("No meetings are scheduled yet."))
    for meeting in meetings[:5]:
        lines.append("")
        lines.append(service.meeting_line(t, programme, meeting))
        if answers[meeting.id]:
            lines.append(
                t.gettext("Your answer: %(answer)s")
                % {"answer": t.gettext(RSVP_LABELS[answers[meeting.id] or "maybe"])}
            )
        rows.append(
            [
                InlineKeyboardButton(b.text, callback_data=b.callback_data)
                for b in service.rsvp_buttons(t, meeting.id)
            ]
        )
        if meeting.materials:
            rows.append(
                [
                    InlineKeyboardButton(
                        t.gettext("Materials: %(meeting)s") % {"meeting": meeting.title[:40]},
                        callback_data=f"pn:mt:{meeting.id}",
                    )
                ]
            )
    await edit_or_send(update, context, "\n".join(lines)[:4000], InlineKeyboardMarkup(rows))


async def show_materials(update: Update, context: BotContext, meeting_id: int) -> None:
    t = await translator(update, context)
    assert update.effective_user is not None
    async with context.services.db.reading() as session:
        found = await service.member_meeting(session, update.effective_user.id, meeting_id)
    if isinstance(found, Refusal):
        await send(update, context, refusal_text(t, found))
        return
    programme, meeting = found
    header = service.meeting_line(t, programme, meeting)
    body = meeting.materials or t.gettext("No materials yet.")
    await send(update, context, f"{header}\n\n{body}"[:4096])


# -- 예산학교 -------------------------------------------------------------------------------
async def budget_school_command(update: Update, context: BotContext) -> None:
    await answer(update)
    t = await translator(update, context)
    assert update.effective_user is not None
    code = " ".join(context.args or [])
    if not code:
        await send(
            update,
            context,
            t.gettext(
                "If you completed the 예산학교 (budget school), send /budgetschool followed by"
                " the course code you were given, e.g. /budgetschool ABCD2345."
            )
            + "\n\n"
            + where_to_learn(t, context),
        )
        return
    services = context.services
    refusal = await service.redeem_code(
        services.db, update.effective_user.id, code[:40], services.clock()
    )
    if refusal is Refusal.ALREADY:
        await send(update, context, t.gettext("Your 예산학교 completion is already recorded."))
    elif refusal is not None:
        await send(update, context, refusal_text(t, refusal))
    else:
        await send(
            update,
            context,
            t.gettext(
                "Your 예산학교 completion is recorded. You can now apply to the participatory"
                " budget committee (see /panels)."
            ),
        )


async def panels_job(context: BotContext) -> None:
    """Expire unanswered invitations (calling replacements) and remind members and the
    invited; also after downtime, as each run looks at what is due now."""
    services = context.services
    now = services.clock()
    await service.expire_due(services.db, now, services.settings.admin_ids)
    await service.queue_invitation_reminders(services.db, now, services.settings.reminder_offsets)
    await service.queue_meeting_reminders(services.db, now)


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    registry.add(
        MenuCommand(
            "panels", N_("Citizen panels: apply, invitations, meetings"), N_("Panels"),
            panels_command,
        )
    )  # fmt: skip
    registry.add(
        MenuCommand(
            "budgetschool",
            N_("Record your 예산학교 completion with the course code"),
            N_("Budget school"),
            budget_school_command,
        )
    )
    application.add_handler(CallbackQueryHandler(panels_command, pattern=r"^pn:list$"))
    application.add_handler(
        CallbackQueryHandler(
            on_button,
            pattern=r"^pn:(a|wd|wdy|acc|dec|decy|rec|csv|m|mt):\d{1,12}$"
            r"|^pn:r:\d{1,12}:(yes|no|maybe)$",
        )
    )
    assert application.job_queue is not None
    application.job_queue.run_repeating(
        one_worker_at_a_time("panels", panels_job), interval=60, first=1, name="panels"
    )
    application.automation.add_reminder_audience(service.unfinished_applications)
