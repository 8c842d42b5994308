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
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext, CivicApplication, translator
from bot.flows.guard import StepHandler, discard_flow, flow, guided_steps
from bot.handlers.common import answer, ask, edit_or_send, retire_question, send
from bot.i18n import LANGUAGES, N_, Translator
from bot.menu import CommandRegistry, MenuCommand
from bot.services import admin as service
from domain.ids import is_number, to_id
from domain.proposals import POLICY_FIELDS
from domain.roles import Role
from storage import audit
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


async def is_staff(context: BotContext, user_id: int) -> bool:
    async with context.services.db.reading() as session:
        roles = RolesRepository(session, context.services.settings.admin_ids)
        return any([await roles.has(user_id, role) for role in Role])


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
    )
    await send(update, context, t.gettext("Administration"), reply_markup=keyboard)


# -- roles ------------------------------------------------------------------------------
async def on_roles(update: Update, context: BotContext) -> None:
    await answer(update)
    if not await holds(update, context, Role.ADMIN):
        return
    t = await translator(update, context)
    async with context.services.db.reading() as session:
        granted = await service.grants(session)
    lines = [t.gettext("Granted roles (super-admins come from ADMIN_IDS):")]
    rows = []
    for user_id, role, scope in granted[:30]:
        label = f"{user_id} · {t.gettext(ROLE_LABELS[role])}" + (f" · {scope}" if scope else "")
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


async def start_grant(update: Update, context: BotContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    await answer(update)
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
    if "user" not in pending:
        await ask(
            update,
            context,
            t.gettext("Type the Telegram user id of the person (they must have signed up)."),
            InlineKeyboardMarkup([cancel_row]),
        )
        return GRANT_USER
    role = Role(str(pending["role"]))
    rows = [[InlineKeyboardButton(t.gettext("All"), callback_data="adm:scope:")]]
    if role is Role.REVIEWER:
        buttons = [
            InlineKeyboardButton(f.name(t.language), callback_data=f"adm:scope:{f.code}")
            for f in POLICY_FIELDS
        ]
        rows += [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append(cancel_row)
    text = t.gettext("For which policy field, or all? You can also type an agency name.")
    await ask(update, context, text, InlineKeyboardMarkup(rows))
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
    if "user" not in pending:
        if not is_number(text):
            await send(update, context, t.gettext("A user id is a number, e.g. 123456789."))
            return await ask_current(update, context)
        pending["user"] = to_id(text)
        await retire_question(update, context)
        if Role(str(pending["role"])) in (Role.ADMIN, Role.MODERATOR):
            return await finish_grant(update, context, "")
        return await ask_current(update, context)
    return await finish_grant(update, context, text[:40].replace(":", " "))


async def on_scope(update: Update, context: BotContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    if "user" not in (context.udata.get(PENDING) or {}):
        return await ask_current(update, context)
    return await finish_grant(update, context, query.data.split(":", 2)[2])


async def finish_grant(update: Update, context: BotContext, scope: str) -> int:
    assert update.effective_user is not None
    pending = context.udata.pop(PENDING, None) or {}
    await retire_question(update, context)
    services = context.services
    user_id = int(pending["user"])
    result = await service.grant(
        services.db, update.effective_user.id, user_id, Role(str(pending["role"])), scope,
        services.clock(), services.settings.admin_ids,
    )  # fmt: skip
    await report(update, context, result)
    if result is service.Result.DONE:
        await publish_commands(context, user_id)
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
    lines = [t.gettext("Audit log, newest first (%(total)d entries):") % {"total": total}]
    for entry in found:
        details = json.dumps(entry.details, ensure_ascii=False) if entry.details else ""
        lines.append(
            f"{t.when(entry.at)} · {entry.actor_id or '-'} · {entry.action} · "
            f"{entry.subject or ''} {details}"[:300]
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
            GRANT_USER: step(text),
            GRANT_SCOPE: step(CallbackQueryHandler(on_scope, pattern=r"^adm:scope:[a-z]*$"), text),
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
    application.add_handler(conversation(registry))
    application.add_handler(CallbackQueryHandler(on_roles, pattern=r"^adm:roles$"))
    application.add_handler(
        CallbackQueryHandler(on_revoke, pattern=r"^adm:rv:\d{1,15}:[a-z_]+:.*$")
    )
    application.add_handler(CallbackQueryHandler(on_queue, pattern=r"^adm:mod$"))
    application.add_handler(CallbackQueryHandler(on_audit, pattern=r"^adm:audit:\d{1,6}$"))
