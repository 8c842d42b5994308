"""/propose: the guided submission of a proposal, one question per message (SPEC §4).

The draft lives in the person's conversation data, which is written to the database after
every update, so it survives a restart. Every step has Back and Cancel; every answer is
checked at once and a refusal says why.
"""

from __future__ import annotations

import uuid
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    CallbackQueryHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import BotContext, CivicApplication, person_and_translator, translator
from bot.flows import eligibility as asking
from bot.flows.guard import discard_flow, end_flow, flow, guided_steps
from bot.handlers.common import (
    QUESTION_KEY,
    answer,
    ask,
    checkpoint,
    edit_or_send,
    retire_question,
    send,
)
from bot.handlers.proposal_views import proposal_card, refusal_text, summary_line
from bot.i18n import N_, Translator
from bot.menu import CommandRegistry, MenuCommand, entry_points
from bot.services import people as people_service
from bot.services import proposals as service
from domain.people import DISTRICTS, DISTRICTS_BY_CODE
from domain.programmes import Programme, ProgrammeKind
from domain.proposals import (
    DESCRIPTION_MAX,
    FIELDS_BY_CODE,
    PHOTOS_MAX,
    POLICY_FIELDS,
    TITLE_MAX,
    ProjectKind,
    Refusal,
    Scope,
    check_cost,
    check_description,
    check_districts,
    check_title,
    most_similar,
    parse_won,
)
from storage.programmes import ProgrammesRepository
from storage.proposals import ProposalsRepository

FLOW_NAME = N_("writing a proposal")
NAME = "propose"
DRAFT = "proposal_draft"

PROGRAMME, TITLE, DESCRIPTION, FIELD, SCOPE, DISTRICTS_STEP, DONG, KIND, COST = (
    "programme", "title", "description", "field", "scope", "districts", "dong", "kind", "cost",
)  # fmt: skip
PHOTOS, LOCATION, SIMILAR, PREVIEW = "photos", "location", "similar", "preview"

SCOPE_LABELS = {
    Scope.CITY: N_("All of Seoul or several districts"),
    Scope.DISTRICT: N_("One district"),
    Scope.DONG: N_("One neighbourhood (동)"),
}
KIND_LABELS = {
    ProjectKind.GENERAL: N_("General project"),
    ProjectKind.EVENT: N_("Programme or event"),
}


def draft(context: BotContext) -> dict[str, Any]:
    found = context.udata.setdefault(DRAFT, {})
    assert isinstance(found, dict)
    return found


def is_budget(context: BotContext) -> bool:
    return bool(draft(context).get("budget"))


def steps(context: BotContext) -> list[str]:
    """The steps this draft goes through, in order: PB proposals add kind and cost."""
    d = draft(context)
    order = [PROGRAMME] if d.get("choose_programme") else []
    order += [TITLE, DESCRIPTION, FIELD, SCOPE]
    scope = d.get("scope")
    if scope in (Scope.CITY.value, Scope.DISTRICT.value, Scope.DONG.value):
        order.append(DISTRICTS_STEP)
    if scope == Scope.DONG.value:
        order.append(DONG)
    if is_budget(context):
        order += [KIND, COST]
    order += [PHOTOS, LOCATION, SIMILAR, PREVIEW]
    return order


def nav_row(t: Translator) -> list[InlineKeyboardButton]:
    return [
        InlineKeyboardButton(t.gettext("Back"), callback_data="pp:back"),
        InlineKeyboardButton(t.gettext("Cancel"), callback_data="pp:cancel"),
    ]


async def ask_step(update: Update, context: BotContext, step: str) -> str:
    t = await translator(update, context)
    d = draft(context)
    rows: list[list[InlineKeyboardButton]] = []
    if step == PROGRAMME:
        text = t.gettext("Which programme is your proposal for?")
        rows = [
            [InlineKeyboardButton(name, callback_data=f"pp:prog:{key}")]
            for key, name in d["programme_choices"][t.language]
        ]
    elif step == TITLE:
        text = t.gettext("What is the title of your proposal? (at most %(max)d characters)") % {
            "max": TITLE_MAX
        }
    elif step == DESCRIPTION:
        text = t.gettext(
            "Describe your proposal: the problem, what you propose and who benefits."
            " (at most %(max)d characters)"
        ) % {"max": DESCRIPTION_MAX}
    elif step == FIELD:
        text = t.gettext("Which policy field does it belong to?")
        buttons = [
            InlineKeyboardButton(f.name(t.language), callback_data=f"pp:field:{f.code}")
            for f in POLICY_FIELDS
        ]
        rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    elif step == SCOPE:
        text = t.gettext("Where would it apply?")
        rows = [
            [InlineKeyboardButton(t.gettext(label), callback_data=f"pp:scope:{scope.value}")]
            for scope, label in SCOPE_LABELS.items()
            if not (d.get("district_track") and scope is Scope.CITY)
        ]
    elif step == DISTRICTS_STEP:
        text, rows = district_question(t, d)
    elif step == DONG:
        text = t.gettext("Which neighbourhood (동)? Type its name, e.g. 성산1동.")
    elif step == KIND:
        text = t.gettext("What kind of project is it?")
        rows = [
            [InlineKeyboardButton(t.gettext(label), callback_data=f"pp:kind:{kind.value}")]
            for kind, label in KIND_LABELS.items()
        ]
    elif step == COST:
        # The example is within every cap (a 프로그램 사업 is under 3억 원).
        text = t.gettext(
            "What would it cost, in won? Type an amount, e.g. 150,000,000 or 1억 5,000만."
        )
        cap = (await rules(context)).cap(ProjectKind(d["kind"])) if d.get("kind") else None
        if cap is not None:
            text = (
                t.gettext("This kind of project must cost less than %(cap)s.")
                % {"cap": t.money(cap)}
                + " "
                + text
            )
    elif step == PHOTOS:
        count = len(d.get("photos", []))
        text = t.gettext(
            "Send up to %(max)d photos if you like (%(count)d so far), then press Done."
        ) % {"max": PHOTOS_MAX, "count": count}
        rows = [[InlineKeyboardButton(t.gettext("Done"), callback_data="pp:next")]]
    elif step == LOCATION:
        text = t.gettext(
            "Share a location pin if the proposal is about a place (attach → Location), or skip."
        )
        rows = [[InlineKeyboardButton(t.gettext("Skip"), callback_data="pp:next")]]
    elif step == SIMILAR:
        text, rows = await similar_question(context, t)
    else:
        text = t.gettext("Please check your proposal:") + "\n\n" + preview_text(t, d)
        rows = [
            [InlineKeyboardButton(t.gettext("Submit"), callback_data="pp:submit")],
        ]
    rows.append(nav_row(t))
    d["step"] = step
    # A question with only Back and Cancel keeps them once answered by typing.
    lasting = len(rows) == 1
    await ask(update, context, text, InlineKeyboardMarkup(rows), flow=(NAME, step), lasting=lasting)
    return step


def district_question(t: Translator, d: dict[str, Any]) -> tuple[str, list[list[Any]]]:
    chosen = set(d.get("districts", []))
    several = d.get("scope") == Scope.CITY.value
    if several:
        text = t.gettext(
            "Which districts would benefit? Tap to choose several, or All of Seoul; then Done."
        )
    else:
        text = t.gettext("Which district? Tap one or type its name.")
    buttons = [
        InlineKeyboardButton(
            ("✓ " if district.code in chosen else "") + district.name(t.language),
            callback_data=f"pp:dist:{district.code}",
        )
        for district in DISTRICTS
    ]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    if several:
        rows.append(
            [
                InlineKeyboardButton(t.gettext("All of Seoul"), callback_data="pp:dist:all"),
                InlineKeyboardButton(t.gettext("Done"), callback_data="pp:next"),
            ]
        )
    return text, rows


async def similar_question(context: BotContext, t: Translator) -> tuple[str, list[list[Any]]]:
    d = draft(context)
    async with context.services.db.reading() as session:
        repository = ProposalsRepository(session)
        matches = most_similar(
            f"{d['title']} {d['description']}", await repository.texts_for_similarity()
        )
        found = [await repository.get(proposal_id) for proposal_id, _ in matches]
    similar = [p for p in found if p is not None]
    d["similar"] = [p.id for p in similar]
    if not similar:
        return t.gettext("No similar proposals found. Go on to the preview?"), [
            [InlineKeyboardButton(t.gettext("Continue"), callback_data="pp:next")]
        ]
    lines = [t.gettext("These proposals look similar. You could support one instead:")]
    rows = []
    for proposal in similar:
        lines.append(summary_line(t, proposal))
        rows.append(
            [
                InlineKeyboardButton(
                    t.gettext("Support #%(id)d instead") % {"id": proposal.id},
                    callback_data=f"pp:instead:{proposal.id}",
                )
            ]
        )
    rows.append(
        [InlineKeyboardButton(t.gettext("Mine is different, continue"), callback_data="pp:next")]
    )
    return "\n".join(lines), rows


def preview_text(t: Translator, d: dict[str, Any]) -> str:
    field = FIELDS_BY_CODE[d["field"]].name(t.language)
    chosen = d.get("districts", [])
    districts = (
        t.gettext("All of Seoul")
        if set(chosen) >= set(DISTRICTS_BY_CODE)
        else ", ".join(DISTRICTS_BY_CODE[c].name(t.language) for c in chosen)
    )
    where = t.gettext(SCOPE_LABELS[Scope(d["scope"])])
    if districts:
        where += f" ({districts})"
    if d.get("dong"):
        where += f" · {d['dong']}"
    names = d.get("programme_names") or {}
    lines = [
        f"{d['title']}",
        t.gettext("Programme: %(name)s") % {"name": names.get(t.language, d["programme"])},
        t.gettext("Field: %(field)s") % {"field": field},
        t.gettext("Where: %(where)s") % {"where": where},
    ]
    if d.get("kind"):
        lines.append(
            t.gettext("Kind: %(kind)s") % {"kind": t.gettext(KIND_LABELS[ProjectKind(d["kind"])])}
        )
    if d.get("cost") is not None:
        lines.append(t.gettext("Cost: %(cost)s") % {"cost": t.money(int(d["cost"]))})
    if d.get("photos"):
        lines.append(t.gettext("Photos: %(count)d") % {"count": len(d["photos"])})
    if d.get("latitude") is not None:
        lines.append(t.gettext("Location pin attached"))
    lines += ["", d["description"]]
    return "\n".join(lines)


async def go_to(update: Update, context: BotContext, step: str) -> str:
    return await ask_step(update, context, step)


async def advance(update: Update, context: BotContext) -> str:
    order = steps(context)
    current = draft(context).get("step", order[0])
    following = order[order.index(current) + 1] if current in order else order[0]
    return await go_to(update, context, following)


async def back(update: Update, context: BotContext) -> str:
    await answer(update)
    order = steps(context)
    current = draft(context).get("step", order[0])
    position = order.index(current) if current in order else 0
    return await go_to(update, context, order[max(0, position - 1)])


async def refuse(update: Update, context: BotContext, refusal: Refusal, **values: Any) -> None:
    t = await translator(update, context)
    await send(update, context, refusal_text(t, refusal, **values))


# -- entry -----------------------------------------------------------------------------
async def start(update: Update, context: BotContext) -> str | int:
    await answer(update)
    person, t = await person_and_translator(update, context)
    if person is None:
        await send(update, context, t.gettext("Please sign up first with /start."))
        return ConversationHandler.END
    services = context.services
    now = services.clock()
    async with services.db.reading() as session:
        open_now = await service.open_for_proposals(session, now)
    if not open_now:
        await send(
            update,
            context,
            t.gettext(
                "No programme takes proposals right now. See /programmes for what opens when."
            ),
        )
        return ConversationHandler.END
    existing = context.udata.get(DRAFT)
    if isinstance(existing, dict) and existing.get("step"):
        await send(update, context, t.gettext("You have an unfinished proposal; let's go on."))
        return await go_to(update, context, existing["step"])
    context.udata[DRAFT] = {
        # Makes submitting idempotent: a retried or replayed submit finds the same proposal.
        "key": uuid.uuid4().hex,
        "choose_programme": len(open_now) > 1,
        "programme_choices": {
            language: [(p.key, p.name.get(language)) for _, p in open_now]
            for language in ("ko", "en")
        },
    }
    if len(open_now) == 1:
        return await choose_programme(update, context, open_now[0][1].key)
    return await go_to(update, context, PROGRAMME)


async def choose_programme(update: Update, context: BotContext, key: str) -> str | int:
    person, _ = await person_and_translator(update, context)
    services = context.services
    now = services.clock()
    async with services.db.reading() as session:
        programme = await ProgrammesRepository(session).get(key)
        refusal = (
            Refusal.STAGE_CLOSED
            if programme is None or person is None
            else await service.check_can_propose(
                session, person, programme, now, services.settings.minimum_age
            )
        )
    if refusal is Refusal.INELIGIBLE and programme is not None:
        waiting = await answers_needed(update, context, programme, f"programme:{key}")
        if waiting is not None:
            return waiting
        return await choose_programme(update, context, key)
    if refusal is not None or programme is None:
        await refuse(update, context, refusal or Refusal.STAGE_CLOSED)
        return await end(update, context)
    d = draft(context)
    d["programme"] = key
    d["programme_names"] = {"ko": programme.name.ko, "en": programme.name.en}
    d["budget"] = service.rules_of(programme).is_budget
    d["district_track"] = programme.kind is ProgrammeKind.DISTRICT_PLAN
    d["step"] = PROGRAMME
    return await advance(update, context)


async def answers_needed(
    update: Update, context: BotContext, programme: Programme, then: str
) -> str | int | None:
    """PB proposals need the PB answers (SPEC §2): ask the missing ones (the draft waits, and
    `then` carries on), or say why this person cannot propose here. None: nothing missing."""
    assert update.effective_user is not None
    services = context.services
    requirements = service.requirements_to_propose(programme, services.settings.minimum_age)
    async with services.db.reading() as session:
        _, found = await people_service.eligibility(
            session, update.effective_user.id, requirements, services.clock()
        )
    if found.refusal is not None:
        t = await translator(update, context)
        await asking.refuse(update, context, found.refusal, programme.name.get(t.language))
        return await end(update, context)
    if found.missing:
        draft(context)["then"] = then
        purpose = asking.Purpose(asking.PROPOSE, programme.name.ko, programme.name.en)
        return await asking.ask(update, context, HOST, found.missing, purpose)
    return None


async def resume(update: Update, context: BotContext) -> str | int:
    """The answers are in: carry on with the draft where it was."""
    d = draft(context)
    then = str(d.pop("then", ""))
    if then == "submit":
        return await submit(update, context)
    if then.startswith("programme:"):
        return await choose_programme(update, context, then.partition(":")[2])
    return await go_to(update, context, d.get("step") or TITLE)


async def on_programme(update: Update, context: BotContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    key = query.data.removeprefix("pp:prog:")
    keys = [k for k, _ in draft(context).get("programme_choices", {}).get("en", [])]
    if key not in keys:
        return await go_to(update, context, PROGRAMME)
    return await choose_programme(update, context, key)


# -- typed answers -----------------------------------------------------------------------
async def on_text(update: Update, context: BotContext) -> str:
    assert update.message is not None and update.message.text is not None
    text = update.message.text.strip()
    d = draft(context)
    step = d.get("step")
    t = await translator(update, context)
    if step == TITLE:
        refusal = check_title(text)
        if refusal:
            await refuse(update, context, refusal, length=len(text))
            return await go_to(update, context, TITLE)
        d["title"] = text
    elif step == DESCRIPTION:
        refusal = check_description(text)
        if refusal:
            await refuse(update, context, refusal, length=len(text))
            return await go_to(update, context, DESCRIPTION)
        d["description"] = text
    elif step == DISTRICTS_STEP and d.get("scope") != Scope.CITY.value:
        district = await asking.typed_district(update, context, text)
        if district is None:
            return await go_to(update, context, DISTRICTS_STEP)
        d["districts"] = [district.code]
        await retire_question(update, context)
        return await districts_chosen(update, context)
    elif step == DONG:
        if not 2 <= len(text) <= 20:
            await send(update, context, t.gettext("Please type the neighbourhood's name."))
            return await go_to(update, context, DONG)
        d["dong"] = text
    elif step == COST:
        cost = parse_won(text)
        if cost is None or cost <= 0:
            await refuse(update, context, Refusal.COST_NOT_A_NUMBER)
            return await go_to(update, context, COST)
        refusal = check_cost(cost, ProjectKind(d["kind"]), await rules(context))
        if refusal:
            cap = (await rules(context)).cap(ProjectKind(d["kind"])) or 0
            await refuse(update, context, refusal, cap=t.money(cap))
            return await go_to(update, context, COST)
        d["cost"] = cost
    else:
        await send(update, context, t.gettext("Please use the buttons below."))
        return await go_to(update, context, step or TITLE)
    await retire_question(update, context)
    return await advance(update, context)


async def draft_programme(context: BotContext) -> Programme:
    async with context.services.db.reading() as session:
        programme = await ProgrammesRepository(session).get(draft(context)["programme"])
    assert programme is not None
    return programme


async def rules(context: BotContext) -> Any:
    return service.rules_of(await draft_programme(context))


# -- buttons -----------------------------------------------------------------------------
async def on_button(update: Update, context: BotContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    _, action, *rest = query.data.split(":")
    value = rest[0] if rest else ""
    d = draft(context)
    step = d.get("step")
    expected = {
        "field": FIELD, "scope": SCOPE, "dist": DISTRICTS_STEP, "kind": KIND,
        "instead": SIMILAR, "submit": PREVIEW,
    }  # fmt: skip
    if action in expected and expected[action] != step:
        # A button from an earlier question: show the current one again.
        return await go_to(update, context, step or TITLE)
    if action == "field" and value in FIELDS_BY_CODE:
        d["field"] = value
    elif action == "scope" and value in {s.value for s in Scope}:
        if d.get("district_track") and value == Scope.CITY.value:
            return await go_to(update, context, SCOPE)  # not offered there: a forged button
        if d.get("scope") != value:
            d["districts"] = []
            d.pop("dong", None)
        d["scope"] = value
    elif action == "dist":
        return await on_district(update, context, value)
    elif action == "kind" and value in {k.value for k in ProjectKind}:
        d["kind"] = value
    elif action == "next":
        return await on_next(update, context)
    elif action == "instead" and value.isdigit() and int(value) in d.get("similar", []):
        return await support_instead(update, context, int(value))
    elif action == "submit":
        return await submit(update, context)
    elif action == "transfer" and step == DISTRICTS_STEP:
        return await transfer(update, context, value)
    elif action == "more" and step == DISTRICTS_STEP:
        # Several districts make it a city-wide proposal, whichever scope was chosen first.
        d["scope"] = Scope.CITY.value
        d.pop("dong", None)
        return await go_to(update, context, DISTRICTS_STEP)
    else:
        return await go_to(update, context, step or TITLE)
    return await advance(update, context)


async def on_district(update: Update, context: BotContext, code: str) -> str:
    d = draft(context)
    if d.get("scope") == Scope.CITY.value:
        chosen = set(d.get("districts", []))
        if code == "all":
            chosen = set(DISTRICTS_BY_CODE)
        elif code in DISTRICTS_BY_CODE:
            chosen ^= {code}
        d["districts"] = sorted(chosen)
        t = await translator(update, context)
        text, rows = district_question(t, d)
        rows.append(nav_row(t))
        await edit_or_send(update, context, text, InlineKeyboardMarkup(rows))
        return DISTRICTS_STEP
    if code not in DISTRICTS_BY_CODE:
        return await go_to(update, context, DISTRICTS_STEP)
    d["districts"] = [code]
    return await districts_chosen(update, context)


async def districts_chosen(update: Update, context: BotContext) -> str:
    """The scope rules (SPEC §3, §4) for every way districts get chosen: buttons, a typed
    name, Done, All of Seoul."""
    d = draft(context)
    programme = await draft_programme(context)
    refusal = check_districts(
        Scope(d["scope"]), d.get("districts", []), service.rules_of(programme), programme.kind
    )
    if refusal is Refusal.TOO_FEW_DISTRICTS:
        return await offer_transfer(update, context)
    if refusal is not None:
        await refuse(update, context, refusal)
        return await go_to(update, context, SCOPE)
    return await advance(update, context)


async def on_next(update: Update, context: BotContext) -> str:
    d = draft(context)
    step = d.get("step")
    if step == DISTRICTS_STEP:
        if not d.get("districts"):
            t = await translator(update, context)
            await send(update, context, t.gettext("Choose at least one district, or All of Seoul."))
            return await go_to(update, context, DISTRICTS_STEP)
        return await districts_chosen(update, context)
    if step in (PHOTOS, LOCATION, SIMILAR):
        return await advance(update, context)
    return await go_to(update, context, step or TITLE)


async def offer_transfer(update: Update, context: BotContext) -> str:
    """A city-wide PB proposal for one district belongs to that district's track (구단위)."""
    t = await translator(update, context)
    d = draft(context)
    await refuse(update, context, Refusal.TOO_FEW_DISTRICTS)
    district = DISTRICTS_BY_CODE[d["districts"][0]].name(t.language)
    async with context.services.db.reading() as session:
        open_now = await service.open_for_proposals(session, context.services.clock())
    tracks = [p for _, p in open_now if p.kind is ProgrammeKind.DISTRICT_PLAN]
    rows = []
    if tracks:
        text = t.gettext(
            "You can send it to %(track)s as a proposal for %(district)s, or choose more districts."
        ) % {"track": tracks[0].name.get(t.language), "district": district}
        rows.append(
            [
                InlineKeyboardButton(
                    t.gettext("Propose it to %(district)s instead") % {"district": district},
                    callback_data=f"pp:transfer:{tracks[0].key}",
                )
            ]
        )
    else:
        text = t.gettext(
            "The district track is not taking proposals now (see /programmes); choose more"
            " districts, or cancel and propose it to %(district)s when it opens."
        ) % {"district": district}
    rows.append([InlineKeyboardButton(t.gettext("Choose more districts"), callback_data="pp:more")])
    rows.append(nav_row(t))
    await ask(update, context, text, InlineKeyboardMarkup(rows), flow=(NAME, DISTRICTS_STEP))
    return DISTRICTS_STEP


async def transfer(update: Update, context: BotContext, key: str) -> str | int:
    """Move the draft to the district track, keeping what was written."""
    d = draft(context)
    async with context.services.db.reading() as session:
        open_now = await service.open_for_proposals(session, context.services.clock())
    target = next((p for _, p in open_now if p.key == key), None)
    if target is None or target.kind is not ProgrammeKind.DISTRICT_PLAN or not d.get("districts"):
        return await go_to(update, context, DISTRICTS_STEP)
    d.update(
        programme=key,
        programme_names={"ko": target.name.ko, "en": target.name.en},
        budget=service.rules_of(target).is_budget,
        district_track=True,
        # One dong stays one dong; one district (however chosen) is a district proposal.
        scope=Scope.DONG.value if d.get("scope") == Scope.DONG.value else Scope.DISTRICT.value,
        districts=d["districts"][:1],
        step=DISTRICTS_STEP,
    )
    d.pop("kind", None)
    d.pop("cost", None)
    return await advance(update, context)


async def on_photo(update: Update, context: BotContext) -> str:
    assert update.message is not None
    d = draft(context)
    t = await translator(update, context)
    if d.get("step") != PHOTOS:
        await send(update, context, t.gettext("Please answer the question below."))
        return await go_to(update, context, d.get("step") or TITLE)
    photos: list[str] = d.setdefault("photos", [])
    if len(photos) >= PHOTOS_MAX:
        await send(update, context, t.gettext("That is the most photos a proposal can have."))
        return await go_to(update, context, PHOTOS)
    # Telegram keeps the file; its id is all we need to show it again later.
    photos.append(update.message.photo[-1].file_id)
    return await go_to(update, context, PHOTOS)


async def on_location(update: Update, context: BotContext) -> str:
    assert update.message is not None and update.message.location is not None
    d = draft(context)
    if d.get("step") != LOCATION:
        return await go_to(update, context, d.get("step") or TITLE)
    d["latitude"] = update.message.location.latitude
    d["longitude"] = update.message.location.longitude
    await retire_question(update, context)
    return await advance(update, context)


async def support_instead(update: Update, context: BotContext, proposal_id: int) -> int:
    assert update.effective_user is not None
    services = context.services
    outcome = await service.support(
        services.db, proposal_id, update.effective_user.id, services.clock()
    )
    t = await translator(update, context)
    if outcome in (service.Outcome.DONE, service.Outcome.ALREADY):
        await send(
            update,
            context,
            t.gettext("You support #%(id)d. Your draft is discarded.") % {"id": proposal_id},
        )
    else:
        await send(
            update, context, t.gettext("Support for #%(id)d is closed.") % {"id": proposal_id}
        )
    await proposal_card(update, context, proposal_id, new_message=True)
    return await end(update, context)


async def submit(update: Update, context: BotContext) -> str | int:
    assert update.effective_user is not None
    d = draft(context)
    services = context.services
    result = await service.submit(
        services.db,
        update.effective_user.id,
        service.Draft(
            programme_key=d["programme"],
            title=d["title"],
            description=d["description"],
            field=d["field"],
            scope=Scope(d["scope"]),
            districts=tuple(d.get("districts", [])),
            dong=d.get("dong"),
            kind=ProjectKind(d["kind"]) if d.get("kind") else None,
            cost=d.get("cost"),
            photos=tuple(d.get("photos", [])),
            latitude=d.get("latitude"),
            longitude=d.get("longitude"),
            key=d.get("key"),
        ),
        services.clock(),
        services.settings.minimum_age,
    )
    if result.refusal is Refusal.INELIGIBLE:
        programme = await draft_programme(context)
        waiting = await answers_needed(update, context, programme, "submit")
        if waiting is not None:
            return waiting
    if result.refusal is not None or result.proposal_id is None:
        await refuse(update, context, result.refusal or Refusal.STAGE_CLOSED)
        if result.refusal in (
            Refusal.STAGE_CLOSED,
            Refusal.DAILY_LIMIT,
            Refusal.INELIGIBLE,
            Refusal.BLOCKED,
        ):
            return await end(update, context)
        return await go_to(update, context, PREVIEW)
    context.udata.pop(DRAFT, None)
    await checkpoint(update, context, (NAME, None))
    t = await translator(update, context)
    # The preview becomes the published card, edited in place: no longer a question.
    context.udata.pop(QUESTION_KEY, None)
    await proposal_card(
        update,
        context,
        result.proposal_id,
        heading=t.gettext("Your proposal #%(id)d is published. Share it to gather support!")
        % {"id": result.proposal_id},
    )
    return await end(update, context)


async def end(update: Update, context: BotContext) -> int:
    return await end_flow(update, context, DRAFT, NAME)


async def cancel(update: Update, context: BotContext) -> int:
    return await discard_flow(
        update, context, DRAFT, NAME, N_("Your draft proposal was discarded.")
    )


async def ask_current(update: Update, context: BotContext) -> str:
    return await go_to(update, context, draft(context).get("step") or TITLE)


HOST = asking.Host(NAME, FLOW_NAME, resume, cancel, end)


def handler(registry: CommandRegistry) -> ConversationHandler[BotContext]:
    step = guided_steps("pp", back, cancel, ask_current, FLOW_NAME, registry, lasting=True)

    text = MessageHandler(filters.TEXT & ~filters.COMMAND, on_text)
    buttons = CallbackQueryHandler(on_button, pattern=r"^pp:[a-z]+(:[a-z0-9_-]+)?$")
    return flow(
        entry_points=entry_points(registry, "propose", start),
        states={
            PROGRAMME: step(CallbackQueryHandler(on_programme, pattern=r"^pp:prog:[a-z0-9_-]+$")),
            TITLE: step(text),
            DESCRIPTION: step(text),
            FIELD: step(buttons),
            SCOPE: step(buttons),
            DISTRICTS_STEP: step(buttons, text),
            DONG: step(text),
            KIND: step(buttons),
            COST: step(text),
            PHOTOS: step(buttons, MessageHandler(filters.PHOTO, on_photo)),
            LOCATION: step(buttons, MessageHandler(filters.LOCATION, on_location)),
            SIMILAR: step(buttons),
            PREVIEW: step(buttons),
            **asking.states(HOST, registry),
        },
        name=NAME,
    )


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    registry.add(
        MenuCommand(
            "propose",
            N_("Make a new proposal"),
            N_("Propose"),
            start,
            on_keyboard=True,
            opens_flow=True,
        )
    )
    application.add_handler(handler(registry))
