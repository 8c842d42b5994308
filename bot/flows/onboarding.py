"""/start: privacy consent, relation to the city, district (SPEC §2).

Nothing about a person is stored before they agree to the privacy notice; until then only
the conversation step (and a deep-link payload to open afterwards) is kept.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.config import Settings
from bot.context import BotContext, CivicApplication, person_and_translator, translator
from bot.deeplinks import PAYLOAD_KEY
from bot.flows.guard import flow, guarded
from bot.handlers.common import answer, ask, edit_or_send, retire_question, send, with_answer
from bot.handlers.privacy import privacy_command
from bot.i18n import N_, Translator
from bot.intake import unit_of_work
from bot.menu import CommandRegistry, MenuCommand, MenuLabel
from domain.people import (
    DISTRICTS,
    DISTRICTS_BY_CODE,
    Question,
    Relation,
    find_district,
    sign_up_missing,
)
from storage.people import PeopleRepository

CONSENT, RELATION, DISTRICT = "consent", "relation", "district"
FLOW_NAME = N_("signing up")
NAME = "onboarding"

RELATION_LABELS = {
    Relation.RESIDENT: N_("I live in Seoul"),
    Relation.WORKER: N_("I work in Seoul"),
    Relation.STUDENT: N_("I study in Seoul"),
    Relation.OTHER: N_("None of these"),
}


def consent_text(t: Translator, settings: Settings) -> str:
    """What PIPA asks a consent request to state: purpose, items, retention, the right to
    refuse and what refusing means; the controller and the full notice (/privacy)."""
    return t.gettext(
        "Welcome to 시민참여봇, the citizen participation bot of Seoul.\n\n"
        "Here you can propose policies and gather support, apply for citizen panels, vote on"
        " participatory budget projects and report wasted public money.\n\n"
        "Before we store anything about you, please agree to the privacy notice.\n"
        "• Purpose: to check who may take part in each programme, and to run it.\n"
        "• Items: your Telegram user id, your language, how you are connected to Seoul and"
        " your district; later only what you give to a programme.\n"
        "• Kept until you erase it with /deleteme; /mydata shows all of it.\n"
        "• You may refuse: then nothing is stored, and you can only look around"
        " (/programmes).\n"
        "Controller: %(controller)s (%(contact)s). Full notice: /privacy\n\n"
        "Do you agree?"
    ) % {
        "controller": settings.privacy_controller(t.language),
        "contact": settings.privacy_contact,
    }


def consent_keyboard(t: Translator) -> InlineKeyboardMarkup:
    other = "en" if t.language == "ko" else "ko"
    switch = "English" if other == "en" else "한국어"
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(t.gettext("I agree"), callback_data="onb:consent:yes")],
            [InlineKeyboardButton(t.gettext("I do not agree"), callback_data="onb:consent:no")],
            [InlineKeyboardButton(switch, callback_data=f"onb:lang:{other}")],
        ]
    )


async def ask_consent(update: Update, context: BotContext) -> None:
    t = await translator(update, context)
    await ask(
        update,
        context,
        consent_text(t, context.services.settings),
        consent_keyboard(t),
        flow=(NAME, CONSENT),
    )


async def ask_relation(update: Update, context: BotContext, answered: str | None = None) -> None:
    t = await translator(update, context)
    rows = [
        [InlineKeyboardButton(t.gettext(label), callback_data=f"onb:rel:{relation.value}")]
        for relation, label in RELATION_LABELS.items()
    ]
    await ask(
        update,
        context,
        t.gettext("How are you connected to Seoul?"),
        InlineKeyboardMarkup(rows),
        flow=(NAME, RELATION),
        answered=answered,
    )


def district_keyboard(t: Translator, prefix: str, skip: bool = True) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(district.name(t.language), callback_data=f"{prefix}:{district.code}")
        for district in DISTRICTS
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    if skip:
        rows.append([InlineKeyboardButton(t.gettext("Skip"), callback_data=f"{prefix}:skip")])
    return InlineKeyboardMarkup(rows)


async def ask_district(update: Update, context: BotContext, answered: str | None = None) -> None:
    t = await translator(update, context)
    await ask(
        update,
        context,
        t.gettext(
            "Which district (자치구) is that in? Pick one below or type its name, e.g. 강남구."
            " Some programmes are only for the people of one district."
        ),
        district_keyboard(t, "onb:dist"),
        flow=(NAME, DISTRICT),
        answered=answered,
    )


async def start(update: Update, context: BotContext) -> str | int:
    if context.args:
        context.udata[PAYLOAD_KEY] = context.args[0][:64]
    person, t = await person_and_translator(update, context)
    if person is not None and not person.active:
        # They had blocked the bot and came back: notifications may flow again.
        async with context.services.db.transaction() as session:
            await PeopleRepository(session).set_active(person.user_id, True)
    missing = sign_up_missing(person) if person is not None else ()
    if Question.RELATION in missing:
        # Agreed earlier but stopped before the questions: go on from there.
        await ask_relation(update, context)
        return RELATION
    if Question.DISTRICT in missing:
        # Skipped, cancelled, or lost when a crash came between the buttons and the save.
        await send(update, context, t.gettext("Welcome back! Your sign-up has no district yet."))
        await ask_district(update, context)
        return DISTRICT
    if person is not None:
        if person.active and context.udata.get(PAYLOAD_KEY):
            # A link opens what it links to; the welcome (and its menu) is for those who
            # come back after blocking the bot, whose chat may have lost the menu.
            await open_pending_link(update, context)
            return ConversationHandler.END
        await send(
            update,
            context,
            t.gettext("Welcome back! Use the menu below, or /help to see what you can do."),
            reply_markup=context.civic.commands.main_keyboard(t),
        )
        await open_pending_link(update, context)
        return ConversationHandler.END
    await ask_consent(update, context)
    return CONSENT


async def open_pending_link(update: Update, context: BotContext) -> None:
    payload = context.udata.pop(PAYLOAD_KEY, None)
    if isinstance(payload, str) and payload:
        await context.civic.deep_links.open(update, context, payload)


async def switch_language(update: Update, context: BotContext) -> str:
    query = update.callback_query
    assert query is not None and query.data is not None
    context.udata["language"] = query.data.rpartition(":")[2]
    await answer(update)
    t = await translator(update, context)
    settings = context.services.settings
    await edit_or_send(update, context, consent_text(t, settings), consent_keyboard(t))
    return CONSENT


async def on_consent(update: Update, context: BotContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    await answer(update)
    t = await translator(update, context)
    if query.data.endswith(":no"):
        # Only the link they came with stays, so that agreeing later still opens it.
        payload = context.udata.get(PAYLOAD_KEY)
        context.udata.clear()
        if payload is not None:
            context.udata[PAYLOAD_KEY] = payload
        await edit_or_send(
            update,
            context,
            t.gettext(
                "Understood: nothing about you has been stored. You can still look around with"
                " /programmes and /help. Send /start whenever you change your mind."
            ),
        )
        return ConversationHandler.END
    services = context.services
    now = services.clock()
    async with unit_of_work(context.civic, flow=(NAME, RELATION)) as session:
        await PeopleRepository(session).consent(update.effective_user.id, t.language, now)
    context.udata.pop("language", None)
    # The consent question becomes the next question, with the consent shown above it.
    agreed = t.gettext(
        "You agreed to the privacy notice on %(date)s. Read it again with /privacy."
    ) % {"date": t.when(now)}
    await ask_relation(update, context, answered=agreed)
    return RELATION


async def on_relation(update: Update, context: BotContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    await answer(update)
    relation = Relation(query.data.rpartition(":")[2])
    services = context.services
    following = None if relation is Relation.OTHER else DISTRICT
    # The answer and the step it leads to commit together (issue 14 item 8).
    async with unit_of_work(context.civic, flow=(NAME, following)) as session:
        await PeopleRepository(session).update(
            update.effective_user.id, services.clock(), relation=relation.value
        )
    t = await translator(update, context)
    shown = with_answer(
        t, t.gettext("How are you connected to Seoul?"), t.gettext(RELATION_LABELS[relation])
    )
    if relation is Relation.OTHER:
        await edit_or_send(update, context, shown)
        return await finish(update, context)
    await ask_district(update, context, answered=shown)
    return DISTRICT


async def on_district_button(update: Update, context: BotContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    code = query.data.rpartition(":")[2]
    return await save_district(update, context, None if code == "skip" else code)


async def on_district_text(update: Update, context: BotContext) -> str | int:
    assert update.message is not None and update.message.text is not None
    district = find_district(update.message.text)
    if district is None:
        t = await translator(update, context)
        await send(
            update,
            context,
            t.gettext(
                "I don't know a district called “%(name)s”. Pick one of the buttons, or type a"
                " name like 강남구 or Mapo-gu."
            )
            % {"name": update.message.text[:50]},
        )
        await ask_district(update, context)
        return DISTRICT
    return await save_district(update, context, district.code)


async def save_district(update: Update, context: BotContext, code: str | None) -> str | int:
    assert update.effective_user is not None
    services = context.services
    # The answer and the end of sign-up commit together, before the question loses its
    # buttons: a crash in between leaves the question answerable (issue 14 item 8).
    async with unit_of_work(context.civic, flow=(NAME, None)) as session:
        await PeopleRepository(session).update(
            update.effective_user.id, services.clock(), district=code
        )
    t = await translator(update, context)
    chosen = (
        t.gettext("District: %(district)s") % {"district": DISTRICTS_BY_CODE[code].name(t.language)}
        if code is not None
        else None
    )
    if update.callback_query is not None and chosen is not None:
        # The question shows the answer in place; the main menu needs a message of its own.
        await edit_or_send(update, context, chosen)
        chosen = None
    await retire_question(update, context)
    return await finish(update, context, chosen)


async def finish(update: Update, context: BotContext, answered: str | None = None) -> int:
    t = await translator(update, context)
    done = t.gettext(
        "You are all set! Use the menu below, or /help to see everything you can do."
        " Change your language any time with /language."
    )
    await send(
        update,
        context,
        f"{answered}\n\n{done}" if answered else done,
        reply_markup=context.civic.commands.main_keyboard(t),
    )
    await open_pending_link(update, context)
    return ConversationHandler.END


async def cancel(update: Update, context: BotContext) -> int:
    t = await translator(update, context)
    context.udata.pop(PAYLOAD_KEY, None)
    await send(
        update,
        context,
        t.gettext("Sign-up stopped. What you already answered is kept; send /start to go on."),
        reply_markup=ReplyKeyboardRemove(),
    )
    return ConversationHandler.END


async def notice_then_consent(update: Update, context: BotContext) -> str:
    await privacy_command(update, context)
    await ask_consent(update, context)
    return CONSENT


def handler(registry: CommandRegistry) -> ConversationHandler[BotContext]:
    async def programmes_then_consent(update: Update, context: BotContext) -> str:
        """The consent request says one may look around without agreeing: so one may."""
        command = registry.get("programmes")
        if command is not None:
            await command.callback(update, context)
        await ask_consent(update, context)
        return CONSENT

    return flow(
        entry_points=[CommandHandler("start", start)],
        states={
            CONSENT: guarded(
                [
                    # The consent request points to the full notice: it must open before consent.
                    CommandHandler("privacy", notice_then_consent),
                    CommandHandler("programmes", programmes_then_consent),
                    MessageHandler(MenuLabel(registry, "programmes"), programmes_then_consent),
                    CallbackQueryHandler(on_consent, pattern=r"^onb:consent:(yes|no)$"),
                    CallbackQueryHandler(switch_language, pattern=r"^onb:lang:(ko|en)$"),
                ],
                ask_consent,
                FLOW_NAME,
                cancel,
                registry,
            ),
            RELATION: guarded(
                [
                    CallbackQueryHandler(
                        on_relation, pattern=rf"^onb:rel:({'|'.join(r.value for r in Relation)})$"
                    )
                ],
                ask_relation,
                FLOW_NAME,
                cancel,
                registry,
            ),
            DISTRICT: guarded(
                [
                    CallbackQueryHandler(
                        on_district_button,
                        pattern=rf"^onb:dist:({'|'.join(DISTRICTS_BY_CODE)}|skip)$",
                    ),
                    MessageHandler(filters.TEXT & ~filters.COMMAND, on_district_text),
                ],
                ask_district,
                FLOW_NAME,
                cancel,
                registry,
            ),
        },
        name=NAME,
    )


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    registry.add(
        MenuCommand("start", N_("Sign up or start again"), N_("Start"), start, opens_flow=True)
    )
    application.add_handler(handler(registry))
