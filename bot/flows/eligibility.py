"""Eligibility on demand (SPEC §2, issue 14): a flow that needs an answer the person has not
given asks it right there, says why, saves it and carries on where the person was; someone
who really may not take part is told why, once, and what they can still do.

A flow that needs answers is a *host*: one of our ConversationHandlers, with `states(host)`
among its states. When its own check finds answers missing it calls `ask(...)`; after each
saved answer `host.resume` runs again, and the host checks again and goes on, asks the next
answer (`ask` again) or refuses (`refuse`). What the host was doing — its draft, the ballot
being filled — stays in the person's conversation data meanwhile. /profile is a host too: it
changes an answer with the same questions.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from bot.context import BotContext, person_and_translator, translator
from bot.flows.guard import StepHandler, guided_steps
from bot.flows.onboarding import RELATION_LABELS, district_keyboard
from bot.handlers.common import (
    QUESTION_KEY,
    answer,
    edit_or_send,
    hold_answer,
    retire_question,
    send,
    show_held_answer,
    with_answer,
)
from bot.handlers.common import ask as ask_question
from bot.i18n import N_, Translator
from bot.menu import CommandRegistry
from bot.services import panels as panel_service
from bot.services import people as service
from domain.panels import GENDERS
from domain.panels import Refusal as PanelRefusal
from domain.people import (
    DISTRICTS_BY_CODE,
    District,
    Ineligible,
    Question,
    Relation,
    find_district,
    parse_birth_year,
)

log = logging.getLogger(__name__)

KEY: Final = "eligibility"  # in user_data while a question is out: which, and why
PREFIX: Final = "el"

# What the host flow was doing, for the first question's introduction; ANSWER_ONLY: the person
# asked to give or change this answer, so it needs none.
VOTE, PROPOSE, APPLY, ANSWER_ONLY = "vote", "propose", "apply", "answer"
REFUSALS: Final = {
    Ineligible.NOT_CONNECTED: N_(
        "%(programme)s is open to people who live, work or study in Seoul, and you told us you"
        " do not."
    ),
    Ineligible.TOO_YOUNG: N_(
        "%(programme)s is open from the age of %(age)d (counted by year of birth), so you"
        " cannot take part yet."
    ),
    Ineligible.OFFICIAL: N_(
        "Officials of the city and its districts, and employees of bodies they fund or invest"
        " in, cannot take part in %(programme)s (the city's rules)."
    ),
    Ineligible.OTHER_DISTRICT: N_(
        "%(programme)s is a vote for the people of %(district)s, and your district is %(yours)s."
    ),
}
STILL_POSSIBLE: Final = {
    Ineligible.NOT_CONNECTED: N_(
        "You can still read proposals, support them (공감) and report wasted public money. If"
        " your answer was a mistake, change it in /profile."
    ),
    Ineligible.TOO_YOUNG: N_(
        "You can still propose to Democracy Seoul (민주주의 서울), support proposals (공감)"
        " and report wasted public money. If your year of birth is wrong, change it in /profile."
    ),
    Ineligible.OFFICIAL: N_(
        "You can still propose to Democracy Seoul (민주주의 서울), support proposals (공감)"
        " and report wasted public money. If your answer was a mistake, change it in /profile."
    ),
    Ineligible.OTHER_DISTRICT: N_(
        "If you moved, change your district in /profile: from then on your new district's"
        " votes are yours, and ballots you already cast stay valid."
    ),
}


@dataclass(frozen=True)
class Purpose:
    """What the host is doing and for which programme (or ballot), in both languages."""

    action: str
    name_ko: str = ""
    name_en: str = ""

    def name(self, language: str) -> str:
        return self.name_ko if language == "ko" else self.name_en


@dataclass(frozen=True)
class Host:
    name: str  # the ConversationHandler's name: the question's step is saved under it
    flow_name: str  # marked with N_, for "you are in the middle of …"
    # Called after every saved answer; checks again and returns the host's next state.
    resume: Callable[[Update, BotContext], Awaitable[object]]
    cancel: Callable[[Update, BotContext], Coroutine[Any, Any, object]]
    # Leaves the host quietly (the person was just told why they cannot go on).
    end: Callable[[Update, BotContext], Awaitable[object]]


def state(question: Question) -> str:
    return f"{PREFIX}:{question.value}"


def asking(result: object) -> bool:
    """Is this state one of the questions (so the host is still waiting for an answer)?"""
    return isinstance(result, str) and result.startswith(f"{PREFIX}:")


def intro(t: Translator, purpose: Purpose, count: int) -> str:
    values = {"name": purpose.name(t.language), "count": count}
    if purpose.action == VOTE:
        return (
            t.ngettext(
                "Before you vote in %(name)s, one question.",
                "Before you vote in %(name)s, %(count)d questions.",
                count,
            )
            % values
        )
    if purpose.action == PROPOSE:
        return (
            t.ngettext(
                "Before you propose to %(name)s, one question.",
                "Before you propose to %(name)s, %(count)d questions.",
                count,
            )
            % values
        )
    return (
        t.ngettext(
            "Before you apply to %(name)s, one question.",
            "Before you apply to %(name)s, %(count)d questions.",
            count,
        )
        % values
    )


def question_text(t: Translator, question: Question, minimum_age: int) -> str:
    """Why it is asked, then the question (one per message, the question last)."""
    if question is Question.RELATION:
        return t.gettext(
            "Participatory budgeting and citizen panels are open to people who live, work or"
            " study in Seoul. How are you connected to Seoul?"
        )
    if question is Question.DISTRICT:
        return t.gettext(
            "Some votes are only for the people of one district. Pick your district below or"
            " type its name, e.g. 강남구. Which district (자치구) do you live, work or study in?"
        )
    if question is Question.BIRTH_YEAR:
        return t.gettext(
            "Participatory budgeting is open from the age of %(age)d. Type the year you were"
            " born, in four digits (e.g. 1987)."
        ) % {"age": minimum_age}
    if question is Question.NOT_OFFICIAL:
        return t.gettext(
            "By the city's rules, officials of the city or a district and employees of bodies"
            " they fund or invest in cannot take part in participatory budgeting or in most"
            " citizen panels. Are you one of them?"
        )
    if question is Question.GENDER:
        return t.gettext("It is used only for the quotas of citizen panels. What is your gender?")
    return t.gettext(
        "This is open only to graduates of the 예산학교 (budget school). Type the course code"
        " you were given (e.g. ABCD2345)."
    )


def question_buttons(t: Translator, question: Question) -> list[list[InlineKeyboardButton]]:
    def button(label: str, value: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(label, callback_data=f"{PREFIX}:{question.value}:{value}")

    if question is Question.RELATION:
        return [[button(t.gettext(label), r.value)] for r, label in RELATION_LABELS.items()]
    if question is Question.DISTRICT:
        keyboard = district_keyboard(t, f"{PREFIX}:{question.value}", skip=False)
        return [list(row) for row in keyboard.inline_keyboard]
    if question is Question.NOT_OFFICIAL:
        return [
            [button(t.gettext("No, I am not"), "no")],
            [button(t.gettext("Yes, I am"), "yes")],
        ]
    if question is Question.GENDER:
        return [
            [button(option.name(t.language), option.code) for option in GENDERS],
            [button(t.gettext("I'd rather not say"), "none")],
        ]
    if question is Question.BUDGET_SCHOOL:
        return [[button(t.gettext("I have not completed it"), "none")]]
    return []


def answer_label(t: Translator, question: Question, value: str | None) -> str:
    if value is None:
        return t.gettext("no answer yet")
    if question is Question.RELATION:
        return t.gettext(RELATION_LABELS[Relation(value)])
    if question is Question.DISTRICT:
        return DISTRICTS_BY_CODE[value].name(t.language)
    if question is Question.NOT_OFFICIAL:
        return t.gettext("Yes, I am") if value == "yes" else t.gettext("No, I am not")
    if question is Question.GENDER:
        found = next((o for o in GENDERS if o.code == value), None)
        return found.name(t.language) if found else value
    return value


async def ask(
    update: Update,
    context: BotContext,
    host: Host,
    missing: tuple[Question, ...],
    purpose: Purpose,
) -> str:
    """Ask the first missing answer; the first question of a round says why they are asked."""
    question = missing[0]
    t = await translator(update, context)
    pending = context.udata.get(KEY)
    # A round of questions is introduced once; a later question of it is not.
    first = not isinstance(pending, dict) or (
        pending.get("host"),
        pending.get("action"),
        pending.get("en"),
    ) != (host.name, purpose.action, purpose.name_en)
    context.udata[KEY] = {
        "host": host.name,
        "question": question.value,
        "action": purpose.action,
        "ko": purpose.name_ko,
        "en": purpose.name_en,
    }
    lines = []
    if first and purpose.action != ANSWER_ONLY:
        lines.append(
            intro(t, purpose, len(missing))
            + " "
            + t.gettext("Answers are kept for every programme; change them any time in /profile.")
        )
    lines.append(question_text(t, question, context.services.settings.minimum_age))
    rows = question_buttons(t, question)
    rows.append([InlineKeyboardButton(t.gettext("Cancel"), callback_data=f"{PREFIX}:cancel")])
    await ask_question(
        update,
        context,
        "\n\n".join(lines),
        InlineKeyboardMarkup(rows),
        flow=(host.name, state(question)),
    )
    return state(question)


def pending_purpose(context: BotContext) -> Purpose:
    pending = context.udata.get(KEY) or {}
    return Purpose(
        str(pending.get("action", "")), str(pending.get("ko", "")), str(pending.get("en", ""))
    )


def current_question(context: BotContext) -> Question | None:
    pending = context.udata.get(KEY)
    if not isinstance(pending, dict):
        return None
    try:
        return Question(str(pending.get("question")))
    except ValueError:
        return None


async def ask_again(update: Update, context: BotContext, host: Host) -> object:
    question = current_question(context)
    if question is None:
        return await host.resume(update, context)
    return await ask(update, context, host, (question,), pending_purpose(context))


async def refuse(
    update: Update,
    context: BotContext,
    refusal: Ineligible,
    programme: str,
    district: str | None = None,
) -> None:
    """Say once, exactly, why the person may not take part, and what they can still do."""
    person, t = await person_and_translator(update, context)
    person_district = person.district if person is not None else None
    values = {
        "programme": programme,
        "age": context.services.settings.minimum_age,
        "district": DISTRICTS_BY_CODE[district].name(t.language) if district else "",
        "yours": DISTRICTS_BY_CODE[person_district].name(t.language)
        if person_district in DISTRICTS_BY_CODE
        else "",
    }
    text = t.gettext(REFUSALS[refusal]) % values + "\n" + t.gettext(STILL_POSSIBLE[refusal])
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton(t.gettext("My profile"), callback_data="menu:profile")]]
    )
    await send(update, context, text, reply_markup=keyboard)


# -- answers ---------------------------------------------------------------------------------
async def saved(
    update: Update, context: BotContext, host: Host, question: Question, value: str | None
) -> object:
    """Save the answer, show it under the question, and give the host its turn again."""
    services = context.services
    assert update.effective_user is not None
    try:
        await service.save_answer(
            services.db, update.effective_user.id, question, value, services.clock()
        )
    except service.Invalid:
        return await ask_again(update, context, host)
    t = await translator(update, context)
    question_line = question_text(t, question, services.settings.minimum_age)
    shown = with_answer(t, question_line, answer_label(t, question, value))
    if update.callback_query is not None and hold_answer(shown):
        # The next question (or the host's next screen) takes the question's place.
        result = await carry_on(update, context, host)
        await show_held_answer(update, context)
        return result
    await show_answer(update, context, shown)
    return await carry_on(update, context, host)


async def show_answer(update: Update, context: BotContext, text: str) -> None:
    """The question, answered: its message shows the answer and loses its buttons."""
    if update.callback_query is not None:
        await edit_or_send(update, context, text)
        return
    message_id = context.udata.pop(QUESTION_KEY, None)
    chat = update.effective_chat
    if not isinstance(message_id, int) or chat is None:
        return
    try:
        await context.bot.edit_message_text(text, chat.id, message_id)
    except BadRequest as error:
        log.debug("question already changed: %s", error)


async def carry_on(update: Update, context: BotContext, host: Host) -> object:
    result = await host.resume(update, context)
    if not asking(result):
        context.udata.pop(KEY, None)
    return result


async def on_button(update: Update, context: BotContext, host: Host) -> object:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    _, raw_question, value = query.data.split(":")
    question = Question(raw_question)
    if question is not current_question(context):
        # A button of an earlier question: the current one again.
        return await ask_again(update, context, host)
    if question is Question.BUDGET_SCHOOL:
        return await no_budget_school(update, context, host)
    return await saved(update, context, host, question, None if value == "none" else value)


async def typed_birth_year(update: Update, context: BotContext, text: str) -> int | None:
    """A year of birth as typed, or None after saying how to type one."""
    year = parse_birth_year(text, service.this_year(context.services.clock()))
    if year is None:
        t = await translator(update, context)
        await send(update, context, t.gettext("Please type a year of four digits, e.g. 1987."))
    return year


async def typed_district(update: Update, context: BotContext, text: str) -> District | None:
    """A district as typed ("강남구", "강남", "Gangnam-gu"), or None after saying so."""
    district = find_district(text)
    if district is None:
        t = await translator(update, context)
        await send(
            update,
            context,
            t.gettext("I don't know a district called “%(name)s”.") % {"name": text[:50]},
        )
    return district


async def on_text(update: Update, context: BotContext, host: Host) -> object:
    assert update.message is not None and update.message.text is not None
    assert update.effective_user is not None
    text = update.message.text.strip()
    question = current_question(context)
    t = await translator(update, context)
    if question is Question.BIRTH_YEAR:
        year = await typed_birth_year(update, context, text)
        if year is None:
            return await ask_again(update, context, host)
        return await saved(update, context, host, question, str(year))
    if question is Question.DISTRICT:
        district = await typed_district(update, context, text)
        if district is None:
            return await ask_again(update, context, host)
        return await saved(update, context, host, question, district.code)
    if question is Question.BUDGET_SCHOOL:
        services = context.services
        refusal = await panel_service.redeem_code(
            services.db, update.effective_user.id, text[:40], services.clock()
        )
        if refusal not in (None, PanelRefusal.ALREADY):
            await send(
                update,
                context,
                t.gettext(
                    "That course code is not valid or is closed. Check it with your course,"
                    " or type it again."
                ),
            )
            return await ask_again(update, context, host)
        await retire_question(update, context)
        await send(update, context, t.gettext("Your 예산학교 completion is recorded."))
        return await carry_on(update, context, host)
    await send(update, context, t.gettext("Please use the buttons below."))
    return await ask_again(update, context, host)


def where_to_learn(t: Translator, context: BotContext) -> str:
    """Where and when the 예산학교 is taken: the city runs it all year and in the districts
    (자치구 신청제, 2019 종합계획 3-1); its office answers on the city's contact line."""
    return t.gettext(
        "The 예산학교 runs all year, across the city and in the districts. For the next"
        " course near you and how to sign up, contact the city at %(contact)s."
    ) % {"contact": context.services.settings.privacy_contact}


async def no_budget_school(update: Update, context: BotContext, host: Host) -> object:
    t = await translator(update, context)
    purpose = pending_purpose(context)
    context.udata.pop(KEY, None)
    await retire_question(update, context)
    await send(
        update,
        context,
        t.gettext(
            "%(programme)s is open only to graduates of the 예산학교 (budget school). When you"
            " complete it you get a course code: send it with /budgetschool CODE, then apply"
            " again. Meanwhile you can apply to the other panels under /panels."
        )
        % {"programme": purpose.name(t.language)}
        + "\n\n"
        + where_to_learn(t, context),
    )
    return await host.end(update, context)


def states(host: Host, registry: CommandRegistry) -> dict[object, list[StepHandler]]:
    """The questions as states of the host's ConversationHandler."""

    async def again(update: Update, context: BotContext) -> object:
        return await ask_again(update, context, host)

    async def button(update: Update, context: BotContext) -> object:
        return await on_button(update, context, host)

    async def text(update: Update, context: BotContext) -> object:
        return await on_text(update, context, host)

    async def cancel(update: Update, context: BotContext) -> object:
        context.udata.pop(KEY, None)
        return await host.cancel(update, context)

    step = guided_steps(PREFIX, None, cancel, again, host.flow_name, registry)
    buttons = CallbackQueryHandler(button, pattern=rf"^{PREFIX}:[a-z_]+:[a-z0-9_]{{1,20}}$")
    typed = MessageHandler(filters.TEXT & ~filters.COMMAND, text)
    return {
        state(Question.RELATION): step(buttons),
        state(Question.DISTRICT): step(buttons, typed),
        state(Question.BIRTH_YEAR): step(typed),
        state(Question.NOT_OFFICIAL): step(buttons),
        state(Question.GENDER): step(buttons),
        state(Question.BUDGET_SCHOOL): step(buttons, typed),
    }
