"""/admin: roles, the moderation queue, posting blocks and the audit log (SPEC §2, issue 8).

Buttons here are conveniences; the services check the role again on every action, and a
refused attempt is written to the audit log.
"""

from __future__ import annotations

import json
import logging
from html import escape

from telegram import (
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageOriginUser,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    CallbackQueryHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.context import BotContext, CivicApplication, translator
from bot.flows.guard import StepHandler, discard_flow, flow, guided_steps
from bot.handlers.common import answer, ask, edit_or_send, retire_question, send
from bot.i18n import LANGUAGES, N_, SEOUL, Translator
from bot.menu import CommandRegistry, MenuCommand
from bot.services import admin as service
from bot.services import waste as waste_service
from domain.ids import is_number, to_id
from domain.proposals import POLICY_FIELDS
from domain.roles import Role
from domain.waste import AGENCY_MAX, check_agency
from storage import audit
from storage.names import KnownName, NamesRepository
from storage.roles import RolesRepository

log = logging.getLogger(__name__)

ROLE_LABELS = {
    Role.ADMIN: N_("Administrator"),
    Role.MODERATOR: N_("Moderator"),
    Role.REVIEWER: N_("Reviewer"),
    Role.WASTE_OFFICER: N_("Waste-report officer"),
}
PENDING = "admin_pending"
FLOW_NAME = N_("an admin task")
GRANT_USER, GRANT_SCOPE, REASON = "grant_user", "grant_scope", "reason"
AGENCIES_SHOWN = 8


async def is_staff(context: BotContext, user_id: int) -> bool:
    """Holds any role, in any scope (a reviewer of one field is staff too)."""
    return bool(await held_roles(context, user_id))


async def holds(update: Update, context: BotContext, role: Role) -> bool:
    """Screens show only to those whose role allows what is on them."""
    assert update.effective_user is not None
    async with context.services.db.reading() as session:
        found = await RolesRepository(session, context.services.settings.admin_ids).has(
            update.effective_user.id, role
        )
    if not found:
        t = await translator(update, context)
        await send(update, context, t.gettext("This is for administrators only."))
    return found


async def admin_command(update: Update, context: BotContext) -> None:
    await answer(update)
    t = await translator(update, context)
    assert update.effective_user is not None
    if not await is_staff(context, update.effective_user.id):
        await send(update, context, t.gettext("This is for administrators only."))
        return
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(t.gettext("Roles"), callback_data="adm:roles")],
            [InlineKeyboardButton(t.gettext("Moderation queue"), callback_data="adm:mod")],
            [InlineKeyboardButton(t.gettext("Audit log"), callback_data="adm:audit:0")],
            [InlineKeyboardButton(t.gettext("Broadcast"), callback_data="menu:broadcast")],
            [InlineKeyboardButton(t.gettext("Programmes and stages"), callback_data="pg:list")],
        ]
        + await work_rows(context, t, update.effective_user.id)
    )
    await send(update, context, t.gettext("Administration"), reply_markup=keyboard)


# Officials' screens reachable from /admin, by the role each needs (any scope of it).
WORK: dict[str, Role] = {
    "review": Role.REVIEWER,
    "results": Role.ADMIN,
    "paneladmin": Role.ADMIN,
    "cases": Role.WASTE_OFFICER,
}


async def held_roles(context: BotContext, user_id: int) -> set[Role]:
    async with context.services.db.reading() as session:
        roles = RolesRepository(session, context.services.settings.admin_ids)
        return {role for role in Role if await roles.scopes(user_id, role) != set()}


async def work_rows(
    context: BotContext, t: Translator, user_id: int
) -> list[list[InlineKeyboardButton]]:
    """A button for each of /review, /results, /paneladmin and /cases the person may use."""
    held = await held_roles(context, user_id)
    rows = []
    for name, role in WORK.items():
        command = context.civic.commands.get(name)
        if command is not None and role in held:
            label = t.gettext(command.label)
            rows.append([InlineKeyboardButton(label, callback_data=f"adm:go:{name}")])
    return rows


async def on_work(update: Update, context: BotContext) -> None:
    """Open an official's screen; the role is checked here (a refusal is audited) and again
    by the screen and the services behind it."""
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    name = query.data.split(":")[2]
    command = context.civic.commands.get(name)
    if command is None or WORK[name] not in await held_roles(context, update.effective_user.id):
        await answer(update)
        services = context.services
        async with services.db.transaction() as session:
            await audit.record(
                session, update.effective_user.id, "refused", f"admin_menu:{name}",
                services.clock(), role=WORK[name].value,
            )  # fmt: skip
        t = await translator(update, context)
        await send(update, context, t.gettext("This is for administrators only."))
        return
    await command.callback(update, context)


# -- roles ------------------------------------------------------------------------------
async def on_roles(update: Update, context: BotContext) -> None:
    await answer(update)
    if not await holds(update, context, Role.ADMIN):
        return
    t = await translator(update, context)
    async with context.services.db.reading() as session:
        granted = await service.grants(session)
        names = await service.labels(session, (user_id for user_id, _, _ in granted[:30]))
    lines = [t.gettext("Granted roles (super-admins come from ADMIN_IDS):")]
    rows = []
    for user_id, role, scope in granted[:30]:
        label = f"{names[user_id]} · {t.gettext(ROLE_LABELS[role])}" + (
            f" · {scope}" if scope else ""
        )
        lines.append(label)
        rows.append(
            [
                InlineKeyboardButton(
                    t.gettext("Revoke %(what)s") % {"what": label},
                    callback_data=f"adm:rv:{user_id}:{role.value}:{scope}"[:64],
                )
            ]
        )
    if not granted:
        lines.append(t.gettext("None yet."))
    rows += [
        [
            InlineKeyboardButton(
                t.gettext("Grant %(role)s") % {"role": t.gettext(label)},
                callback_data=f"adm:g:{role.value}",
            )
        ]
        for role, label in ROLE_LABELS.items()
    ]
    await edit_or_send(update, context, "\n".join(lines), InlineKeyboardMarkup(rows))


async def on_revoke(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    await answer(update)
    _, _, raw_user, raw_role, *scope = query.data.split(":")
    services = context.services
    result = await service.revoke(
        services.db, update.effective_user.id, int(raw_user), Role(raw_role), ":".join(scope),
        services.clock(), services.settings.admin_ids,
    )  # fmt: skip
    await report(update, context, result)
    if result is service.Result.DONE:
        await publish_commands(context, int(raw_user))
        await on_roles(update, context)


async def still_admin(update: Update, context: BotContext, step: str) -> bool:
    """Every step of a grant checks the role again (it may have been revoked meanwhile); a
    refusal ends the flow and is audited."""
    assert update.effective_user is not None
    services = context.services
    async with services.db.transaction() as session:
        permitted = await service.allowed(
            session, update.effective_user.id, Role.ADMIN, services.settings.admin_ids,
            f"grant:{step}", services.clock(),
        )  # fmt: skip
    if not permitted:
        context.udata.pop(PENDING, None)
        await retire_question(update, context)
        await report(update, context, service.Result.FORBIDDEN)
    return permitted


async def start_grant(update: Update, context: BotContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    await answer(update)
    if not await still_admin(update, context, "start"):
        return ConversationHandler.END
    context.udata[PENDING] = {"role": query.data.split(":")[2]}
    return await ask_current(update, context)


async def ask_current(update: Update, context: BotContext) -> str:
    t = await translator(update, context)
    pending = context.udata.get(PENDING) or {}
    cancel_row = [InlineKeyboardButton(t.gettext("Cancel"), callback_data="adm:cancel")]
    if "reason" in pending:
        await ask(
            update,
            context,
            t.gettext("Why? The author will read this reason."),
            InlineKeyboardMarkup([cancel_row]),
        )
        return REASON
    role = Role(str(pending["role"]))
    if "user" not in pending:
        assert update.effective_user is not None
        people = await service.recent_people(context.services.db, [update.effective_user.id])
        buttons = [
            InlineKeyboardButton(person.label[:40], callback_data=f"adm:pick:{person.user_id}")
            for person in people
        ]
        rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)] + [cancel_row]
        text = t.gettext(
            "Who should be %(role)s? Forward me a message they wrote, type their @username,"
            " or pick one of the people who used the bot lately."
        ) % {"role": t.gettext(ROLE_LABELS[role])}
        await ask(update, context, text, InlineKeyboardMarkup(rows))
        return GRANT_USER
    rows = [[InlineKeyboardButton(t.gettext("All"), callback_data="adm:scope:")]]
    if role is Role.REVIEWER:
        buttons = [
            InlineKeyboardButton(f.name(t.language), callback_data=f"adm:scope:{f.code}")
            for f in POLICY_FIELDS
        ]
        rows += [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
        text = t.gettext("Which policy field's proposals should %(person)s review?")
    else:
        # A waste case is handled by the agency or department it concerns (its scope); the
        # admin granting sees every case's.
        assert update.effective_user is not None
        agencies = await waste_service.agencies(
            context.services.db, update.effective_user.id, context.services.settings.admin_ids
        )
        pending["agencies"] = agencies[:AGENCIES_SHOWN]
        rows += [
            [InlineKeyboardButton(name[:40], callback_data=f"adm:ag:{index}")]
            for index, name in enumerate(pending["agencies"])
        ]
        text = t.gettext(
            "Which agency's or department's budget-waste cases should %(person)s handle?"
            " Pick one named in the cases so far, type its name, or choose all."
        )
    rows.append(cancel_row)
    await ask(update, context, text % {"person": pending["name"]}, InlineKeyboardMarkup(rows))
    return GRANT_SCOPE


async def on_text(update: Update, context: BotContext) -> str | int:
    assert update.message is not None and update.message.text is not None
    pending = context.udata.get(PENDING) or {}
    text = update.message.text.strip()
    t = await translator(update, context)
    if "reason" in pending:
        if len(text) < 3:
            await send(update, context, t.gettext("Please give a reason in a few words."))
            return await ask_current(update, context)
        return await finish_decision(update, context, text[:500])
    if not await still_admin(update, context, "person" if "user" not in pending else "scope"):
        return ConversationHandler.END
    if "user" not in pending:
        found = (
            await service.person_by_id(context.services.db, to_id(text))
            if is_number(text)
            else await service.person_by_username(context.services.db, text)
        )
        if found is None:
            unknown = (
                t.gettext("Nobody with that id has signed up.")
                if is_number(text)  # never echoed: an id is no name
                else t.gettext(
                    "I don't know %(who)s: they must have signed up and written to the bot."
                    " Forward me a message they wrote, or pick them from the list."
                )
                % {"who": text[:40]}
            )
            await send(update, context, unknown)
            return await ask_current(update, context)
        return await chosen_person(update, context, found)
    role = Role(str(pending["role"]))
    if role is Role.REVIEWER:
        field = next(
            (f for f in POLICY_FIELDS if text in (f.code, f.name("ko"), f.name("en"))), None
        )
        if field is None:
            await send(update, context, t.gettext("Pick a policy field from the buttons."))
            return await ask_current(update, context)
        return await finish_grant(update, context, field.code)
    if check_agency(text) is not None:
        await send(update, context, t.gettext("Type the agency's or department's name."))
        return await ask_current(update, context)
    return await finish_grant(update, context, text[:AGENCY_MAX].replace(":", " "))


async def on_forward(update: Update, context: BotContext) -> str | int:
    """The person is the author of a forwarded message (unless they hide it)."""
    message = update.message
    assert message is not None
    if "user" in (context.udata.get(PENDING) or {}):
        return await ask_current(update, context)
    if not await still_admin(update, context, "person"):
        return ConversationHandler.END
    origin = message.forward_origin
    t = await translator(update, context)
    if not isinstance(origin, MessageOriginUser):
        await send(
            update,
            context,
            t.gettext(
                "This person's privacy settings hide who wrote a forwarded message. Type their"
                " @username, or pick them from the list."
            ),
        )
        return await ask_current(update, context)
    found = await service.person_by_id(context.services.db, origin.sender_user.id)
    if found is None:
        await send(
            update,
            context,
            t.gettext(
                "%(who)s has not signed up yet. Ask them to open the bot and press /start,"
                " then forward their message again."
            )
            % {"who": origin.sender_user.full_name[:40]},
        )
        return await ask_current(update, context)
    return await chosen_person(update, context, found)


async def on_pick(update: Update, context: BotContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    if "user" in (context.udata.get(PENDING) or {}):
        return await ask_current(update, context)
    if not await still_admin(update, context, "person"):
        return ConversationHandler.END
    found = await service.person_by_id(context.services.db, int(query.data.split(":")[2]))
    if found is None:
        t = await translator(update, context)
        await send(update, context, t.gettext("Nobody with that id has signed up."))
        return await ask_current(update, context)
    return await chosen_person(update, context, found)


async def chosen_person(update: Update, context: BotContext, person: KnownName) -> str | int:
    pending = context.udata.get(PENDING) or {}
    pending.update(user=person.user_id, name=person.label)
    await retire_question(update, context)
    if Role(str(pending["role"])) in (Role.ADMIN, Role.MODERATOR):
        return await finish_grant(update, context, "")
    return await ask_current(update, context)


async def on_scope(update: Update, context: BotContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    pending = context.udata.get(PENDING) or {}
    if "user" not in pending:
        return await ask_current(update, context)
    if not await still_admin(update, context, "scope"):
        return ConversationHandler.END
    role = Role(str(pending["role"]))
    if query.data.startswith("adm:ag:"):
        agencies = pending.get("agencies") or []
        index = int(query.data.split(":")[2])
        if role is not Role.WASTE_OFFICER or index >= len(agencies):
            return await ask_current(update, context)
        return await finish_grant(update, context, str(agencies[index]))
    scope = query.data.split(":", 2)[2]
    if scope and (role is not Role.REVIEWER or scope not in {f.code for f in POLICY_FIELDS}):
        return await ask_current(update, context)  # a field for a waste officer: not theirs
    return await finish_grant(update, context, scope)


async def finish_grant(update: Update, context: BotContext, scope: str) -> int:
    assert update.effective_user is not None
    pending = context.udata.pop(PENDING, None) or {}
    await retire_question(update, context)
    services = context.services
    user_id = int(pending["user"])
    role = Role(str(pending["role"]))
    result = await service.grant(
        services.db, update.effective_user.id, user_id, role, scope,
        services.clock(), services.settings.admin_ids,
    )  # fmt: skip
    if result is service.Result.DONE:
        t = await translator(update, context)
        text = t.gettext("Done: %(person)s is now %(role)s.") % {
            "person": pending.get("name", user_id),
            "role": t.gettext(ROLE_LABELS[role]) + (f" · {scope}" if scope else ""),
        }
        await send(update, context, text)
        await publish_commands(context, user_id)
    else:
        await report(update, context, result)
    return ConversationHandler.END


async def publish_commands(context: BotContext, user_id: int) -> None:
    """Role holders see the admin commands in their command menu; others lose them."""
    staff = await is_staff(context, user_id)
    registry = context.civic.commands
    for language in LANGUAGES:
        try:
            if staff:
                await context.bot.set_my_commands(
                    registry.bot_commands(Translator(language), include_admin=True),
                    scope=BotCommandScopeChat(user_id),
                    language_code=language,
                )
            else:
                await context.bot.delete_my_commands(
                    scope=BotCommandScopeChat(user_id), language_code=language
                )
        except BadRequest as error:
            # The person may never have opened the chat; their menu is set when they do.
            log.info("command menu for %s not set: %s", user_id, error)


async def report(update: Update, context: BotContext, result: service.Result) -> None:
    t = await translator(update, context)
    texts = {
        service.Result.DONE: t.gettext("Done."),
        service.Result.FORBIDDEN: t.gettext("This is for administrators only."),
        service.Result.NOT_FOUND: t.gettext("Nobody with that id has signed up."),
    }
    await send(update, context, texts[result])


# -- moderation ---------------------------------------------------------------------------
async def on_queue(update: Update, context: BotContext) -> None:
    await answer(update)
    if not await holds(update, context, Role.MODERATOR):
        return
    t = await translator(update, context)
    async with context.services.db.reading() as session:
        items = await service.moderation_queue(session)
    if not items:
        await edit_or_send(update, context, t.gettext("Nothing to moderate."))
        return
    for item in items:
        kind = t.gettext("Proposal") if item.target == "proposal" else t.gettext("Comment")
        state = t.gettext("hidden") if item.hidden else t.gettext("visible")
        text = f"{kind} #{item.target_id} · {state} · " + t.ngettext(
            "%(count)d report", "%(count)d reports", item.reports
        ) % {"count": item.reports}
        text += "\n\n" + escape(item.text[:600])
        key = f"{item.target}:{item.target_id}"
        rows = [
            [
                InlineKeyboardButton(t.gettext("Restore"), callback_data=f"adm:dec:{key}:restore"),
                InlineKeyboardButton(t.gettext("Remove"), callback_data=f"adm:dec:{key}:remove"),
            ]
        ]
        if item.author_id is not None:
            rows.append(
                [
                    InlineKeyboardButton(
                        t.gettext("Block the author from posting"),
                        callback_data=f"adm:blk:{item.author_id}",
                    )
                ]
            )
        await send(
            update,
            context,
            text,
            reply_markup=InlineKeyboardMarkup(rows),
            parse_mode=ParseMode.HTML,
        )


async def start_decision(update: Update, context: BotContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    await answer(update)
    parts = query.data.split(":")
    if parts[1] == "blk":
        context.udata[PENDING] = {"reason": True, "block": int(parts[2])}
    else:
        context.udata[PENDING] = {
            "reason": True,
            "target": parts[2],
            "id": int(parts[3]),
            "decision": parts[4],
        }
    if parts[1] == "dec" and parts[4] == "restore":
        return await finish_decision(update, context, "")
    return await ask_current(update, context)


async def finish_decision(update: Update, context: BotContext, reason: str) -> int:
    assert update.effective_user is not None
    pending = context.udata.pop(PENDING, None) or {}
    await retire_question(update, context)
    services = context.services
    if "block" in pending:
        result = await service.block_posting(
            services.db, update.effective_user.id, int(pending["block"]), reason,
            services.clock(), services.settings.admin_ids,
        )  # fmt: skip
    else:
        target: service.Target = "proposal" if pending.get("target") == "proposal" else "comment"
        result = await service.decide(
            services.db, update.effective_user.id, target, int(pending["id"]),
            service.Decision(str(pending["decision"])), reason, services.clock(),
            services.settings.admin_ids,
        )  # fmt: skip
    await report(update, context, result)
    return ConversationHandler.END


async def cancel(update: Update, context: BotContext) -> int:
    return await discard_flow(update, context, PENDING, "admin", N_("Nothing was changed."))


# -- audit log --------------------------------------------------------------------------
async def on_audit(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    await answer(update)
    t = await translator(update, context)
    page = int(query.data.split(":")[2])
    if not await is_staff(context, update.effective_user.id):
        await send(update, context, t.gettext("This is for administrators only."))
        return
    async with context.services.db.reading() as session:
        found = await audit.entries(session, 15, page * 15)
        total = await audit.count(session)
        known = await NamesRepository(session).of(e.actor_id for e in found if e.actor_id)
    lines = [t.gettext("Audit log, newest first (%(total)d entries):") % {"total": total}]
    for entry in found:
        details = json.dumps(entry.details, ensure_ascii=False) if entry.details else ""
        actor = "-" if entry.actor_id is None else f"#{entry.actor_id}"
        if entry.actor_id in known:
            actor = f"{known[entry.actor_id].label} {actor}"  # by name, and the number
        lines.append(
            f"{t.when(entry.at)} · {actor} · {entry.action} · {entry.subject or ''} {details}"[:300]
        )
    rows = []
    if page > 0:
        rows.append(
            InlineKeyboardButton(t.gettext("Previous"), callback_data=f"adm:audit:{page - 1}")
        )
    if (page + 1) * 15 < total:
        rows.append(InlineKeyboardButton(t.gettext("Next"), callback_data=f"adm:audit:{page + 1}"))
    await edit_or_send(
        update,
        context,
        escape("\n".join(lines))[:4000],
        InlineKeyboardMarkup([rows]) if rows else None,
        parse_mode=ParseMode.HTML,
    )


NAME_SEEN = "name_seen"


async def remember_name(update: Update, context: BotContext) -> None:
    """Keep a signed-up person's Telegram name for officials' screens: written when it changes
    and once a day (so "people who used the bot lately" is current), not on every update."""
    user = update.effective_user
    if user is None or user.is_bot or context.user_data is None:
        return
    now = context.services.clock()
    seen = [user.full_name, user.username, now.astimezone(SEOUL).date().isoformat()]
    if context.udata.get(NAME_SEEN) == seen:
        return
    db = context.services.db
    if await service.remember_name(db, user.id, user.full_name, user.username, now):
        context.udata[NAME_SEEN] = seen


def conversation(registry: CommandRegistry) -> ConversationHandler[BotContext]:
    step = guided_steps("adm", None, cancel, ask_current, FLOW_NAME, registry)

    text: StepHandler = MessageHandler(filters.TEXT & ~filters.COMMAND, on_text)
    return flow(
        entry_points=[
            CallbackQueryHandler(
                start_grant, pattern=r"^adm:g:(admin|moderator|reviewer|waste_officer)$"
            ),
            CallbackQueryHandler(
                start_decision, pattern=r"^adm:dec:(proposal|comment):\d{1,12}:(restore|remove)$"
            ),
            CallbackQueryHandler(start_decision, pattern=r"^adm:blk:\d{1,15}$"),
        ],
        states={
            GRANT_USER: step(
                MessageHandler(filters.FORWARDED, on_forward),
                CallbackQueryHandler(on_pick, pattern=r"^adm:pick:\d{1,15}$"),
                text,
            ),
            GRANT_SCOPE: step(
                CallbackQueryHandler(on_scope, pattern=r"^adm:(scope:[a-z_]*|ag:\d{1,2})$"), text
            ),
            REASON: step(text),
        },
        name="admin",
    )


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    registry.add(
        MenuCommand(
            "admin",
            N_("Roles, moderation and the audit log"),
            N_("Admin"),
            admin_command,
            admin_only=True,
        )
    )
    # Before every feature (group -2), and without stopping them.
    application.add_handler(TypeHandler(Update, remember_name), group=-2)
    application.add_handler(conversation(registry))
    application.add_handler(CallbackQueryHandler(on_roles, pattern=r"^adm:roles$"))
    application.add_handler(
        CallbackQueryHandler(on_work, pattern=r"^adm:go:(review|results|paneladmin|cases)$")
    )
    application.add_handler(
        CallbackQueryHandler(on_revoke, pattern=r"^adm:rv:\d{1,15}:[a-z_]+:.*$")
    )
    application.add_handler(CallbackQueryHandler(on_queue, pattern=r"^adm:mod$"))
    application.add_handler(CallbackQueryHandler(on_audit, pattern=r"^adm:audit:\d{1,6}$"))
