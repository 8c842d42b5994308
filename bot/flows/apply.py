"""Applying to a citizen panel, one question per message (SPEC §5): what the panel's quotas
need (gender, birth year → age band, district, the panel's own features) and agreement to the
duties and schedule. What the panel asks of the person before that — a connection to Seoul,
the declaration that they are not an official, a 예산학교 course code — is asked on demand
(`bot.flows.eligibility`) if it was never given, and is kept for every programme.

The draft lives in the person's conversation data (it survives a restart); every step has
Back and Cancel, and `bot.services.panels.apply` checks everything again on submission.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext, CivicApplication, translator
from bot.flows import eligibility as asking
from bot.flows.guard import StepHandler, discard_flow, end_flow, flow, guided_steps
from bot.handlers.common import answer, ask, edit_or_send, retire_question, send
from bot.handlers.panels import answers_lines, refusal_text
from bot.i18n import N_, Translator
from bot.menu import CommandRegistry
from bot.services import panels as service
from bot.services import people as people_service
from bot.services.panels import value_name
from domain.panels import (
    AGE_BAND,
    DISTRICT,
    GENDER,
    Answers,
    PanelRules,
    Refusal,
    age_band,
)
from domain.people import Requirements
from domain.programmes import Action, Programme

FLOW_NAME = N_("applying to a panel")
DRAFT = service.DRAFT_KEY
GENDER_STEP, BIRTH_YEAR, DISTRICT_STEP, EXTRA, DUTIES, PREVIEW = (
    "gender", "birth_year", "district", "extra", "duties", "preview",
)  # fmt: skip
APPLYING_TO = "panel_applying_to"  # the panel whose answers are being asked on demand


def draft(context: BotContext) -> dict[str, Any]:
    found = context.udata.setdefault(DRAFT, {})
    assert isinstance(found, dict)
    return found


async def programme_of(context: BotContext) -> Programme | None:
    async with context.services.db.reading() as session:
        return await service.panel(session, int(draft(context).get("programme", 0)))


def steps(rules: PanelRules) -> list[str]:
    """The steps of this panel's application, in order; an extra feature is `extra:<key>`."""
    order = [GENDER_STEP] if GENDER in rules.features else []
    order.append(BIRTH_YEAR)
    if DISTRICT in rules.features:
        order.append(DISTRICT_STEP)
    order += [f"{EXTRA}:{extra.key}" for extra in rules.extra_features]
    return [*order, DUTIES, PREVIEW]


def this_year(context: BotContext) -> int:
    return context.services.clock().astimezone(service.SEOUL).year


def nav_row(t: Translator) -> list[InlineKeyboardButton]:
    return [
        InlineKeyboardButton(t.gettext("Back"), callback_data="ap:back"),
        InlineKeyboardButton(t.gettext("Cancel"), callback_data="ap:cancel"),
    ]


def choices(
    t: Translator, rules: PanelRules, feature: str, chosen: str | None, prefix: str
) -> list[list[InlineKeyboardButton]]:
    buttons = [
        InlineKeyboardButton(
            ("✓ " if code == chosen else "") + value_name(t, rules, feature, code),
            callback_data=f"{prefix}:{code}",
        )
        for code in rules.options(feature)
    ]
    width = 3 if len(buttons) > 6 else 2
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


def duties_text(t: Translator, programme: Programme) -> str:
    later = [s for s in programme.stages if Action.APPLY not in s.actions]
    lines = [
        t.gettext("Members of %(panel)s take part in its meetings and votes over this schedule:")
        % {"panel": programme.name.get(t.language)}
    ]
    for stage in later:
        lines.append(f"• {stage.name.get(t.language)}: {t.day(stage.starts_at)}")
    lines.append(t.gettext("Do you agree to these duties and the schedule?"))
    return "\n".join(lines)


async def ask_step(update: Update, context: BotContext, step: str) -> str | int:
    t = await translator(update, context)
    programme = await programme_of(context)
    if programme is None:
        await send(update, context, refusal_text(t, Refusal.NOT_FOUND))
        return await end(update, context)
    rules = service.rules_of(programme)
    d = draft(context)
    rows: list[list[InlineKeyboardButton]] = []
    if step == GENDER_STEP:
        text = t.gettext("Your gender? (used only for the panel's quotas)")
        rows = choices(t, rules, GENDER, d.get("gender"), "ap:g")
    elif step == BIRTH_YEAR:
        text = t.gettext("Your year of birth? Type four digits, e.g. 1987.")
        if d.get("birth_year"):
            rows = [
                [
                    InlineKeyboardButton(
                        t.gettext("Keep %(year)s") % {"year": d["birth_year"]},
                        callback_data="ap:keep",
                    )
                ]
            ]
    elif step == DISTRICT_STEP:
        text = t.gettext("Which district (자치구) do you live, work or study in? Tap or type it.")
        rows = choices(t, rules, DISTRICT, d.get("district"), "ap:d")
    elif step.startswith(f"{EXTRA}:"):
        extra = rules.extra(step.partition(":")[2])
        assert extra is not None
        text = extra.name(t.language)
        rows = choices(t, rules, extra.key, d.get("extra", {}).get(extra.key), "ap:x")
    elif step == DUTIES:
        text = duties_text(t, programme)
        rows = [[InlineKeyboardButton(t.gettext("I agree"), callback_data="ap:agree")]]
    else:
        text = preview_text(t, programme, rules, d, this_year(context))
        rows = [[InlineKeyboardButton(t.gettext("Send my application"), callback_data="ap:send")]]
    # A question with only Back and Cancel keeps them once answered by typing.
    lasting = not rows
    rows.append(nav_row(t))
    d["step"] = step
    await ask(update, context, text, InlineKeyboardMarkup(rows), lasting=lasting)
    return step.partition(":")[0]


def preview_text(
    t: Translator, programme: Programme, rules: PanelRules, d: dict[str, Any], year: int
) -> str:
    values: dict[str, str] = {}
    if GENDER in rules.features:
        values[GENDER] = str(d.get("gender"))
    values[AGE_BAND] = age_band(int(d["birth_year"]), year)
    if DISTRICT in rules.features:
        values[DISTRICT] = str(d.get("district"))
    values.update(d.get("extra", {}))
    lines = [
        t.gettext("Please check your application to %(panel)s:")
        % {"panel": programme.name.get(t.language)},
        "",
        *answers_lines(t, rules, values),
        t.gettext("Year of birth: %(year)s") % {"year": d["birth_year"]},
    ]
    return "\n".join(lines)


async def go_to(update: Update, context: BotContext, step: str) -> str | int:
    return await ask_step(update, context, step)


async def current_steps(context: BotContext) -> list[str]:
    programme = await programme_of(context)
    return steps(service.rules_of(programme)) if programme else [PREVIEW]


async def advance(update: Update, context: BotContext) -> str | int:
    order = await current_steps(context)
    current = draft(context).get("step")
    following = order[order.index(current) + 1] if current in order else order[0]
    return await go_to(update, context, following)


async def back(update: Update, context: BotContext) -> str | int:
    await answer(update)
    order = await current_steps(context)
    current = draft(context).get("step")
    position = order.index(current) if current in order else 0
    return await go_to(update, context, order[max(0, position - 1)])


async def refuse_and_end(update: Update, context: BotContext, refusal: Refusal) -> int:
    t = await translator(update, context)
    text = refusal_text(t, refusal)
    if refusal is Refusal.ALREADY:
        text = t.gettext("You have already applied to this panel; see it under /panels.")
    await end(update, context)
    await send(update, context, text)
    return ConversationHandler.END


# -- entry -----------------------------------------------------------------------------------
async def start(update: Update, context: BotContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    return await begin(update, context, int(query.data.rpartition(":")[2]))


def requirements(rules: PanelRules) -> Requirements:
    """What a panel asks before its own questions (SPEC §2, §5)."""
    return Requirements(
        connected=True,
        not_official=rules.exclude_officials,
        budget_school=rules.requires_budget_school,
    )


async def begin(update: Update, context: BotContext, programme_id: int) -> str | int:
    assert update.effective_user is not None
    services = context.services
    async with services.db.reading() as session:
        refusal = await service.check_can_apply(
            session, update.effective_user.id, programme_id, services.clock()
        )
        programme = await service.panel(session, programme_id)
    # What the answers decide is the eligibility step's: it asks what is missing, or says why not.
    asked = (None, Refusal.NOT_CONNECTED, Refusal.OFFICIAL, Refusal.BUDGET_SCHOOL)
    if refusal not in asked or programme is None:
        return await refuse_and_end(update, context, refusal or Refusal.NOT_FOUND)
    async with services.db.reading() as session:
        person, found = await people_service.eligibility(
            session, update.effective_user.id, requirements(service.rules_of(programme)),
            services.clock(),
        )  # fmt: skip
    t = await translator(update, context)
    if found.refusal is not None:
        await asking.refuse(update, context, found.refusal, programme.name.get(t.language))
        return await end(update, context)
    if found.missing:
        context.udata[APPLYING_TO] = programme_id
        purpose = asking.Purpose(asking.APPLY, programme.name.ko, programme.name.en)
        return await asking.ask(update, context, HOST, found.missing, purpose)
    existing = context.udata.get(DRAFT)
    if (
        isinstance(existing, dict)
        and existing.get("programme") == programme_id
        and existing.get("step")
    ):
        await send(update, context, t.gettext("You have an unfinished application; let's go on."))
        return await go_to(update, context, existing["step"])
    assert person is not None
    context.udata[DRAFT] = {
        "programme": programme_id,
        "gender": person.gender,
        "birth_year": person.birth_year,
        "district": person.district,
        "not_official": person.declared_not_official_at is not None,
        "extra": {},
    }
    order = await current_steps(context)
    return await go_to(update, context, order[0])


async def resume(update: Update, context: BotContext) -> str | int:
    """The answers the panel needs are in: on to its own questions."""
    return await begin(update, context, int(context.udata.pop(APPLYING_TO, 0)))


async def leave(update: Update, context: BotContext) -> int:
    context.udata.pop(APPLYING_TO, None)
    return await end(update, context)


# -- answers -----------------------------------------------------------------------------------
async def on_text(update: Update, context: BotContext) -> str | int:
    assert update.message is not None and update.message.text is not None
    text = update.message.text.strip()
    d = draft(context)
    step = d.get("step")
    t = await translator(update, context)
    if step == BIRTH_YEAR:
        birth_year = await asking.typed_birth_year(update, context, text)
        if birth_year is None:
            return await go_to(update, context, BIRTH_YEAR)
        d["birth_year"] = birth_year
    elif step == DISTRICT_STEP:
        district = await asking.typed_district(update, context, text)
        if district is None:
            return await go_to(update, context, DISTRICT_STEP)
        d["district"] = district.code
    else:
        await send(update, context, t.gettext("Please use the buttons below."))
        return await go_to(update, context, step or BIRTH_YEAR)
    await retire_question(update, context)
    return await advance(update, context)


async def on_button(update: Update, context: BotContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    _, action, *rest = query.data.split(":")
    value = rest[0] if rest else ""
    d = draft(context)
    step = str(d.get("step") or BIRTH_YEAR)
    programme = await programme_of(context)
    if programme is None:
        return await refuse_and_end(update, context, Refusal.NOT_FOUND)
    rules = service.rules_of(programme)
    expected = {"g": GENDER_STEP, "keep": BIRTH_YEAR, "d": DISTRICT_STEP, "x": EXTRA,
                "agree": DUTIES, "send": PREVIEW}  # fmt: skip
    if expected.get(action) != step.partition(":")[0]:
        # A button from an earlier question: show the current one again.
        return await go_to(update, context, step)
    if action == "g" and value in rules.options(GENDER):
        d["gender"] = value
    elif action == "keep" and d.get("birth_year"):
        pass
    elif action == "d" and value in rules.options(DISTRICT):
        d["district"] = value
    elif action == "x" and value in rules.options(step.partition(":")[2]):
        d.setdefault("extra", {})[step.partition(":")[2]] = value
    elif action == "agree":
        d["agreed"] = True
    elif action == "send":
        return await submit(update, context, rules)
    else:
        return await go_to(update, context, step)
    return await advance(update, context)


async def submit(update: Update, context: BotContext, rules: PanelRules) -> str | int:
    assert update.effective_user is not None
    d = draft(context)
    services = context.services
    result = await service.apply(
        services.db,
        update.effective_user.id,
        int(d["programme"]),
        Answers(
            gender=d.get("gender") if GENDER in rules.features else None,
            birth_year=int(d.get("birth_year") or 0),
            district=d.get("district") if DISTRICT in rules.features else None,
            extra=dict(d.get("extra", {})),
            not_official=bool(d.get("not_official")) or not rules.exclude_officials,
            agreed=bool(d.get("agreed")),
        ),
        services.clock(),
        services.settings.minimum_age,
    )
    if result.refusal is Refusal.INVALID:
        t = await translator(update, context)
        await send(update, context, refusal_text(t, Refusal.INVALID))
        return await go_to(update, context, (await current_steps(context))[0])
    if result.refusal is not None:
        return await refuse_and_end(update, context, result.refusal)
    t = await translator(update, context)
    await end(update, context)
    await edit_or_send(
        update,
        context,
        t.gettext(
            "Your application is in. Your pseudonym in the published applicant list will be"
            " %(pseudonym)s. Check or withdraw it under /panels until the list is fixed before"
            " the draw."
        )
        % {"pseudonym": result.pseudonym},
    )
    return ConversationHandler.END


async def end(update: Update, context: BotContext) -> int:
    return await end_flow(update, context, DRAFT, "apply")


async def cancel(update: Update, context: BotContext) -> int:
    discarded = N_("Your application was not sent.")
    return await discard_flow(update, context, DRAFT, "apply", discarded)


async def ask_current(update: Update, context: BotContext) -> str | int:
    return await go_to(update, context, draft(context).get("step") or BIRTH_YEAR)


HOST = asking.Host("apply", FLOW_NAME, resume, cancel, leave)


def handler(registry: CommandRegistry) -> ConversationHandler[BotContext]:
    step = guided_steps("ap", back, cancel, ask_current, FLOW_NAME, registry, lasting=True)

    text: StepHandler = MessageHandler(filters.TEXT & ~filters.COMMAND, on_text)
    buttons: StepHandler = CallbackQueryHandler(
        on_button, pattern=r"^ap:(g|d|x):[a-z0-9_]{1,20}$|^ap:(keep|agree|send)$"
    )
    return flow(
        entry_points=[CallbackQueryHandler(start, pattern=r"^ap:start:\d{1,12}$")],
        states={
            GENDER_STEP: step(buttons),
            BIRTH_YEAR: step(buttons, text),
            DISTRICT_STEP: step(buttons, text),
            EXTRA: step(buttons),
            DUTIES: step(buttons),
            PREVIEW: step(buttons),
            **asking.states(HOST, registry),
        },
        name="apply",
    )


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    application.add_handler(handler(registry))
