"""/profile: every answer the bot keeps about the person, and a button to change each
(SPEC §2). The questions are the ones the flows ask on demand (`bot.flows.eligibility`).

Moving house changes which district's votes are the person's from then on; a ballot already
cast stays valid (it is not touched).
"""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, ConversationHandler

from bot.context import BotContext, CivicApplication, person_and_translator
from bot.flows import eligibility
from bot.flows.guard import end_flow, flow
from bot.handlers.common import answer, edit_or_send, send
from bot.i18n import N_, Translator
from bot.menu import CommandRegistry, MenuCommand, entry_points
from domain.people import DISTRICTS_BY_CODE, Person, Question
from storage.voting import VotingRepository

NAME = "profile"
FLOW_NAME = N_("changing your profile")
CHANGING = "profile_changing"
LANGUAGE_NAMES = {"ko": "한국어", "en": "English"}
CHANGE_LABELS = {
    Question.RELATION: N_("Change: connection to Seoul"),
    Question.DISTRICT: N_("Change: district"),
    Question.BIRTH_YEAR: N_("Change: year of birth"),
    Question.NOT_OFFICIAL: N_("Change: official or not"),
    Question.GENDER: N_("Change: gender"),
    Question.BUDGET_SCHOOL: N_("Enter a 예산학교 course code"),
}


def profile_text(t: Translator, person: Person, budget_school: bool) -> str:
    def value(question: Question, raw: str | None) -> str:
        return escape(eligibility.answer_label(t, question, raw))

    if person.declared_official_at is not None:
        official = t.gettext("yes, declared on %(date)s") % {
            "date": t.day(person.declared_official_at)
        }
    elif person.declared_not_official_at is not None:
        official = t.gettext("no, declared on %(date)s") % {
            "date": t.day(person.declared_not_official_at)
        }
    else:
        official = t.gettext("no answer yet")
    lines = [
        f"<b>{escape(t.gettext('My profile'))}</b>",
        t.gettext("Language: %(value)s") % {"value": LANGUAGE_NAMES.get(person.language, "")},
        t.gettext("Connection to Seoul: %(value)s")
        % {"value": value(Question.RELATION, person.relation)},
        t.gettext("District: %(value)s") % {"value": value(Question.DISTRICT, person.district)},
        t.gettext("Year of birth: %(value)s")
        % {"value": person.birth_year or t.gettext("no answer yet")},
        t.gettext("Gender: %(value)s") % {"value": value(Question.GENDER, person.gender)},
        t.gettext("Official of the city or a district, or of a body they fund: %(value)s")
        % {"value": official},
        t.gettext("Budget school (예산학교): %(value)s")
        % {
            "value": t.gettext("completed the course")
            if budget_school
            else t.gettext("no completion recorded")
        },
        t.gettext("Agreed to the privacy notice: %(date)s") % {"date": t.day(person.consented_at)},
        "",
        t.gettext(
            "Tap what you want to change. Everything we keep: /mydata. Erase it all: /deleteme."
        ),
    ]
    return "\n".join(lines)


def profile_keyboard(t: Translator, budget_school: bool) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(t.gettext(label), callback_data=f"pf:q:{question.value}")
        for question, label in CHANGE_LABELS.items()
        if not (question is Question.BUDGET_SCHOOL and budget_school)
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([InlineKeyboardButton(t.gettext("Change language"), callback_data="menu:language")])
    return InlineKeyboardMarkup(rows)


async def show(update: Update, context: BotContext, new_message: bool = False) -> int:
    await answer(update)
    person, t = await person_and_translator(update, context)
    if person is None:
        await send(update, context, t.gettext("Please sign up first with /start."))
        return ConversationHandler.END
    async with context.services.db.reading() as session:
        budget_school = await VotingRepository(session).completed_budget_school(person.user_id)
    text = profile_text(t, person, budget_school)
    keyboard = profile_keyboard(t, budget_school)
    if update.callback_query is not None and not new_message:
        await edit_or_send(update, context, text, keyboard, parse_mode=ParseMode.HTML)
    else:
        await send(update, context, text, reply_markup=keyboard, parse_mode=ParseMode.HTML)
    return ConversationHandler.END


async def profile_command(update: Update, context: BotContext) -> int:
    return await show(update, context)


async def change(update: Update, context: BotContext) -> object:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    person, _ = await person_and_translator(update, context)
    if person is None:
        return await show(update, context)
    question = Question(query.data.rpartition(":")[2])
    context.udata[CHANGING] = question.value
    return await eligibility.ask(
        update, context, HOST, (question,), eligibility.Purpose(eligibility.ANSWER_ONLY)
    )


async def resume(update: Update, context: BotContext) -> int:
    changed = context.udata.pop(CHANGING, None)
    person, t = await person_and_translator(update, context)
    if changed == Question.DISTRICT.value and person is not None and person.district:
        await send(
            update,
            context,
            t.gettext(
                "Your district is now %(district)s. Ballots you already cast stay valid; from"
                " now on the votes of %(district)s are yours."
            )
            % {"district": DISTRICTS_BY_CODE[person.district].name(t.language)},
        )
    await checkpoint_end(update, context)
    return await show(update, context, new_message=True)


async def checkpoint_end(update: Update, context: BotContext) -> int:
    return await end_flow(update, context, CHANGING, NAME)


async def cancel(update: Update, context: BotContext) -> int:
    await answer(update)
    await checkpoint_end(update, context)
    return await show(update, context, new_message=True)


HOST = eligibility.Host(NAME, FLOW_NAME, resume, cancel, checkpoint_end)


def handler(registry: CommandRegistry) -> ConversationHandler[BotContext]:
    questions = "|".join(question.value for question in CHANGE_LABELS)
    return flow(
        entry_points=[
            *entry_points(registry, "profile", profile_command),
            CallbackQueryHandler(change, pattern=rf"^pf:q:({questions})$"),
        ],
        states=eligibility.states(HOST, registry),
        name=NAME,
    )


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    registry.add(
        MenuCommand(
            "profile",
            N_("Your answers: see and change them"),
            N_("My profile"),
            profile_command,
            opens_flow=True,
        )
    )
    application.add_handler(handler(registry))
