"""/report: a budget-waste report (예산낭비신고), one question per message (SPEC §7).

The draft, evidence included, lives in the person's conversation data, which is written to
the database after every update: a file is kept the moment it arrives, and a restart or an
interruption loses nothing. Every step has Back and Cancel; every answer is checked at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import CallbackQueryHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext, CivicApplication, translator
from bot.flows.eligibility import typed_district
from bot.flows.guard import discard_flow, end_flow, flow, guided_steps
from bot.handlers.common import (
    answer,
    ask,
    edit_or_send,
    retire_question,
    send,
)
from bot.i18n import N_, Translator
from bot.menu import CommandRegistry, MenuCommand, entry_points
from bot.services import waste as service
from domain.people import DISTRICTS, DISTRICTS_BY_CODE
from domain.waste import (
    ADDRESS_MAX,
    AGENCY_MAX,
    DESCRIPTION_MAX,
    FILES_MAX,
    NOTE_MAX,
    SEOUL,
    FileKind,
    Refusal,
    check_address,
    check_agency,
    check_date,
    check_description,
    parse_date,
    read_amount,
)
from storage.waste import NewFile

FLOW_NAME = N_("writing a budget-waste report")
DRAFT = "waste_draft"

DESCRIPTION, AGENCY, DISTRICT, WHERE, WHEN, AMOUNT = (
    "description", "agency", "district", "where", "when", "amount",
)  # fmt: skip
FILES, NAMING, CONTACT, PREVIEW = "files", "naming", "contact", "preview"
STEPS = (DESCRIPTION, AGENCY, DISTRICT, WHERE, WHEN, AMOUNT, FILES, NAMING, CONTACT, PREVIEW)


def refusal_text(t: Translator, refusal: Refusal) -> str:
    texts = {
        Refusal.DESCRIPTION_TOO_SHORT: t.gettext(
            "Please say what happened in a few sentences (at least 10 characters)."
        ),
        Refusal.DESCRIPTION_TOO_LONG: t.gettext(
            "That is too long; please keep it to %(max)s characters."
        )
        % {"max": f"{DESCRIPTION_MAX:,}"},
        Refusal.AGENCY_INVALID: t.gettext(
            "Please type the agency or department name (2 to %(max)d characters)."
        )
        % {"max": AGENCY_MAX},
        Refusal.ADDRESS_INVALID: t.gettext(
            "Please type the address or a landmark (2 to %(max)d characters)."
        )
        % {"max": ADDRESS_MAX},
        Refusal.DATE_NOT_UNDERSTOOD: t.gettext(
            "I couldn't read that date. Type it like 2027-03-05 or 3월 5일."
        ),
        Refusal.DATE_IN_FUTURE: t.gettext("That date is in the future."),
        Refusal.DATE_TOO_EARLY: t.gettext("Reports can be about the year 2000 or later."),
        Refusal.AMOUNT_NOT_A_NUMBER: t.gettext(
            "I couldn't read that amount. Type digits, e.g. 5,000,000, or 500만; or skip."
        ),
        Refusal.AMOUNT_TOO_LARGE: t.gettext("That amount is larger than any city budget."),
        Refusal.TOO_MANY_FILES: t.gettext("A report can have at most %(max)d files.")
        % {"max": FILES_MAX},
        Refusal.NOTE_INVALID: t.gettext("That is too long; please keep it to %(max)s characters.")
        % {"max": f"{NOTE_MAX:,}"},
        Refusal.REWARD_NOT_ALLOWED: t.gettext(
            "A reward goes only with a substantiated or partly substantiated report."
        ),
        Refusal.DAILY_LIMIT: t.gettext(
            "You have reached today's limit of reports. Please try again tomorrow."
        ),
        Refusal.CLOSED: t.gettext("Reports are not being taken right now."),
        Refusal.NOT_SIGNED_UP: t.gettext("Please sign up first with /start."),
    }
    return texts[refusal]


def draft(context: BotContext) -> dict[str, Any]:
    found = context.udata.setdefault(DRAFT, {})
    assert isinstance(found, dict)
    return found


def nav_row(t: Translator) -> list[InlineKeyboardButton]:
    return [
        InlineKeyboardButton(t.gettext("Back"), callback_data="rp:back"),
        InlineKeyboardButton(t.gettext("Cancel"), callback_data="rp:cancel"),
    ]


def skip_row(t: Translator, label: str) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(t.gettext(label), callback_data="rp:skip")]


def yes_no(t: Translator, key: str, yes: str, no: str) -> list[list[InlineKeyboardButton]]:
    return [
        [InlineKeyboardButton(t.gettext(yes), callback_data=f"rp:{key}:y")],
        [InlineKeyboardButton(t.gettext(no), callback_data=f"rp:{key}:n")],
    ]


async def ask_step(update: Update, context: BotContext, step: str) -> str:
    t = await translator(update, context)
    d = draft(context)
    rows: list[list[InlineKeyboardButton]] = []
    if step == DESCRIPTION:
        text = t.gettext(
            "Budget-waste report (예산낭비신고센터, 지방재정법 제48조의2)\n\n"
            "What happened? Describe the spending you think is illegal or wasteful."
            " (at most %(max)s characters)"
        ) % {"max": f"{DESCRIPTION_MAX:,}"}
    elif step == AGENCY:
        text = t.gettext(
            "Which agency or department is responsible, if you know? Type its name,"
            " e.g. 서울시 도시교통실 or 마포구청 건설관리과."
        )
        rows = [skip_row(t, N_("I don't know"))]
    elif step == DISTRICT:
        text = t.gettext("In which district (자치구)? Tap one or type its name.")
        buttons = [
            InlineKeyboardButton(d.name(t.language), callback_data=f"rp:dist:{d.code}")
            for d in DISTRICTS
        ]
        rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
        rows.append(skip_row(t, N_("Not in one district / not sure")))
    elif step == WHERE:
        text = t.gettext(
            "Where exactly? Send a location pin (attach → Location) or type the address"
            " or a landmark; or skip."
        )
        rows = [skip_row(t, N_("Skip"))]
    elif step == WHEN:
        text = t.gettext("When did it happen? Type a date like 2027-03-05 or 3월 5일.")
        rows = [
            [
                InlineKeyboardButton(t.gettext("Today"), callback_data="rp:day:0"),
                InlineKeyboardButton(t.gettext("Yesterday"), callback_data="rp:day:1"),
            ],
            skip_row(t, N_("Not sure / still going on")),
        ]
    elif step == AMOUNT:
        text = t.gettext(
            "About how much money was wasted, in won? Type an amount, e.g. 5,000,000 or"
            " 1억 5,000만; or skip if you don't know."
        )
        rows = [skip_row(t, N_("I don't know"))]
    elif step == FILES:
        text = t.gettext(
            "Send photos or documents as evidence, up to %(max)d (%(count)d so far),"
            " then press Done."
        ) % {"max": FILES_MAX, "count": len(d.get("files", []))}
        rows = [[InlineKeyboardButton(t.gettext("Done"), callback_data="rp:next")]]
    elif step == NAMING:
        text = t.gettext(
            "May we name you publicly as the reporter, e.g. in published lists of reports?"
            " Your Telegram name would be shown."
        )
        rows = yes_no(t, "name", N_("Yes, you may name me"), N_("No, keep me anonymous"))
    elif step == CONTACT:
        text = t.gettext(
            "May the officer handling your report see your Telegram name and contact you"
            " about it? If not, they will only reach you through this bot's notices."
        )
        rows = yes_no(t, "contact", N_("Yes, they may contact me"), N_("No contact, please"))
    else:
        text = t.gettext("Please check your report:") + "\n\n" + preview_text(t, d)
        rows = [[InlineKeyboardButton(t.gettext("Submit"), callback_data="rp:submit")]]
    # A question with only Back and Cancel keeps them once answered by typing.
    lasting = not rows
    rows.append(nav_row(t))
    d["step"] = step
    await ask(
        update, context, text, InlineKeyboardMarkup(rows), flow=("report", step), lasting=lasting
    )
    return step


def day_text(t: Translator, day: date) -> str:
    """A calendar day as Koreans write it: "2027년 3월 5일 (금)"."""
    return t.day(datetime.combine(day, time(12), SEOUL))


def evidence_text(t: Translator, count: int) -> str:
    return t.ngettext("Evidence: %(count)d file", "Evidence: %(count)d files", count) % {
        "count": count
    }


def yes_or_no(t: Translator, value: bool) -> str:
    return t.gettext("yes") if value else t.gettext("no")


def preview_text(t: Translator, d: dict[str, Any]) -> str:
    unknown = t.gettext("not given")
    district = DISTRICTS_BY_CODE[d["district"]].name(t.language) if d.get("district") else ""
    where = ", ".join(part for part in (district, d.get("address") or "") if part) or unknown
    if d.get("latitude") is not None:
        where += " · " + t.gettext("location pin attached")
    when = day_text(t, date.fromisoformat(d["occurred_on"])) if d.get("occurred_on") else unknown
    amount = t.money(int(d["amount"])) if d.get("amount") else unknown
    lines = [
        t.gettext("Agency or department: %(agency)s") % {"agency": d.get("agency") or unknown},
        t.gettext("Place: %(place)s") % {"place": where},
        t.gettext("When: %(when)s") % {"when": when},
        t.gettext("Estimated amount: %(amount)s") % {"amount": amount},
        evidence_text(t, len(d.get("files", []))),
        t.gettext("Name me publicly: %(answer)s") % {"answer": yes_or_no(t, bool(d.get("named")))},
        t.gettext("The officer may contact me: %(answer)s")
        % {"answer": yes_or_no(t, bool(d.get("contact")))},
        "",
        d.get("description", ""),
    ]
    return "\n".join(lines)


async def advance(update: Update, context: BotContext) -> str:
    current = draft(context).get("step", DESCRIPTION)
    following = STEPS[STEPS.index(current) + 1] if current in STEPS[:-1] else PREVIEW
    return await ask_step(update, context, following)


async def back(update: Update, context: BotContext) -> str:
    await answer(update)
    current = draft(context).get("step", DESCRIPTION)
    position = STEPS.index(current) if current in STEPS else 0
    return await ask_step(update, context, STEPS[max(0, position - 1)])


async def refuse(update: Update, context: BotContext, refusal: Refusal) -> None:
    t = await translator(update, context)
    await send(update, context, refusal_text(t, refusal))


# -- entry -----------------------------------------------------------------------------------
async def start(update: Update, context: BotContext) -> str | int:
    await answer(update)
    assert update.effective_user is not None
    services = context.services
    existing = context.udata.get(DRAFT)
    async with services.db.reading() as session:
        refusal = await service.check_can_report(
            session, update.effective_user.id, services.clock()
        )
    if refusal is not None:
        await refuse(update, context, refusal)
        return ConversationHandler.END
    if isinstance(existing, dict) and existing.get("step") in STEPS:
        t = await translator(update, context)
        await send(update, context, t.gettext("You have an unfinished report; let's go on."))
        return await ask_step(update, context, existing["step"])
    context.udata[DRAFT] = {"token": uuid.uuid4().hex, "files": []}
    return await ask_step(update, context, DESCRIPTION)


# -- typed answers ---------------------------------------------------------------------------
# Typed answers that are kept as written, once their check passes.
TYPED: dict[str, tuple[str, Callable[[str], Refusal | None]]] = {
    DESCRIPTION: ("description", check_description),
    AGENCY: ("agency", check_agency),
    WHERE: ("address", check_address),
}


async def on_text(update: Update, context: BotContext) -> str:
    assert update.message is not None and update.message.text is not None
    text = update.message.text.strip()
    d = draft(context)
    step = d.get("step") or DESCRIPTION
    refusal: Refusal | None = None
    if step in TYPED:
        key, check = TYPED[step]
        refusal = check(text)
        if refusal is None:
            d[key] = text
    elif step == DISTRICT:
        district = await typed_district(update, context, text)
        if district is None:
            return await ask_step(update, context, DISTRICT)
        d["district"] = district.code
    elif step == WHEN:
        return await on_date(update, context, text)
    elif step == AMOUNT:
        amount = read_amount(text)
        if isinstance(amount, Refusal):
            refusal = amount
        else:
            d["amount"] = amount
    else:
        t = await translator(update, context)
        await send(update, context, t.gettext("Please use the buttons below."))
        return await ask_step(update, context, step)
    if refusal is not None:
        await refuse(update, context, refusal)
        return await ask_step(update, context, step)
    await retire_question(update, context)
    return await advance(update, context)


async def on_date(update: Update, context: BotContext, text: str) -> str:
    today = service.today_in_seoul(context.services.clock())
    day = parse_date(text, today)
    refusal = Refusal.DATE_NOT_UNDERSTOOD if day is None else check_date(day, today)
    if refusal is not None or day is None:
        await refuse(update, context, refusal or Refusal.DATE_NOT_UNDERSTOOD)
        return await ask_step(update, context, WHEN)
    draft(context)["occurred_on"] = day.isoformat()
    await retire_question(update, context)
    return await advance(update, context)


# -- buttons -----------------------------------------------------------------------------------
# Which step each button belongs to: a button from an earlier question only re-asks.
BUTTON_STEPS = {
    "dist": (DISTRICT,),
    "day": (WHEN,),
    "next": (FILES,),
    "name": (NAMING,),
    "contact": (CONTACT,),
    "submit": (PREVIEW,),
    "skip": (AGENCY, DISTRICT, WHERE, WHEN, AMOUNT),
}
SKIPPED = {
    AGENCY: ("agency",),
    DISTRICT: ("district",),
    WHERE: ("address", "latitude", "longitude"),
    WHEN: ("occurred_on",),
    AMOUNT: ("amount",),
}


async def on_button(update: Update, context: BotContext) -> str | int:
    query = update.callback_query
    assert query is not None and query.data is not None
    await answer(update)
    _, action, *rest = query.data.split(":")
    value = rest[0] if rest else ""
    d = draft(context)
    step = d.get("step") or DESCRIPTION
    if step not in BUTTON_STEPS.get(action, ()):
        return await ask_step(update, context, step)
    if action == "skip":
        for key in SKIPPED[step]:
            d.pop(key, None)
    elif action == "dist" and value in DISTRICTS_BY_CODE:
        d["district"] = value
    elif action == "day" and value in ("0", "1"):
        today = service.today_in_seoul(context.services.clock())
        d["occurred_on"] = (today - timedelta(days=int(value))).isoformat()
    elif action in ("name", "contact") and value in ("y", "n"):
        d["named" if action == "name" else "contact"] = value == "y"
    elif action == "submit":
        return await submit(update, context)
    elif action != "next":
        return await ask_step(update, context, step)
    return await advance(update, context)


async def on_location(update: Update, context: BotContext) -> str:
    assert update.message is not None and update.message.location is not None
    d = draft(context)
    d["latitude"] = update.message.location.latitude
    d["longitude"] = update.message.location.longitude
    await retire_question(update, context)
    return await advance(update, context)


def file_of(message: Message) -> dict[str, Any] | None:
    """What is needed to show or fetch a file again later; Telegram keeps the file itself."""
    if message.photo:
        photo = message.photo[-1]  # the largest size
        return {
            "kind": FileKind.PHOTO.value,
            "file_id": photo.file_id,
            "file_unique_id": photo.file_unique_id,
            "mime_type": "image/jpeg",
            "file_name": None,
        }
    if message.document:
        document = message.document
        return {
            "kind": FileKind.DOCUMENT.value,
            "file_id": document.file_id,
            "file_unique_id": document.file_unique_id,
            "mime_type": document.mime_type,
            "file_name": document.file_name,
        }
    return None


def keep_file(files: list[dict[str, Any]], message: Message) -> Refusal | None:
    """Add a photo or document to a list of files, once, up to the limit."""
    found = file_of(message)
    if found is None:
        return None
    if any(f["file_unique_id"] == found["file_unique_id"] for f in files):
        return None
    if len(files) >= FILES_MAX:
        return Refusal.TOO_MANY_FILES
    files.append(found)
    return None


async def on_file(update: Update, context: BotContext) -> str:
    assert update.message is not None
    refusal = keep_file(draft(context).setdefault("files", []), update.message)
    if refusal is not None:
        await refuse(update, context, refusal)
    return await ask_step(update, context, FILES)


def new_files(files: list[dict[str, Any]]) -> tuple[NewFile, ...]:
    return tuple(
        NewFile(
            kind=FileKind(f["kind"]),
            file_id=f["file_id"],
            file_unique_id=f["file_unique_id"],
            mime_type=f.get("mime_type"),
            file_name=f.get("file_name"),
        )
        for f in files
    )


async def submit(update: Update, context: BotContext) -> str | int:
    user = update.effective_user
    assert user is not None
    d = draft(context)
    services = context.services
    now = services.clock()
    result = await service.submit(
        services.db,
        user.id,
        service.Draft(
            token=d["token"],
            description=d.get("description", ""),
            agency=d.get("agency"),
            district=d.get("district"),
            address=d.get("address"),
            latitude=d.get("latitude"),
            longitude=d.get("longitude"),
            occurred_on=date.fromisoformat(d["occurred_on"]) if d.get("occurred_on") else None,
            amount=d.get("amount"),
            files=new_files(d.get("files", [])),
            named_publicly=bool(d.get("named")),
            contact_consent=bool(d.get("contact")),
            reporter_name=user.full_name,
            reporter_username=user.username,
        ),
        now,
    )
    if result.report is None:
        await refuse(update, context, result.refusal or Refusal.CLOSED)
        if result.refusal in (Refusal.DAILY_LIMIT, Refusal.CLOSED, Refusal.NOT_SIGNED_UP):
            return await end(update, context)
        return await ask_step(update, context, PREVIEW)
    t = await translator(update, context)
    report = result.report
    await end_flow(update, context, DRAFT, "report", edited_next=True)
    await edit_or_send(
        update,
        context,
        t.gettext(
            "Your report is received. Receipt number: %(receipt)s\n"
            "An answer is due by %(due)s. You will be told at every step, and you can add"
            " information until the case is closed."
        )
        % {"receipt": report.receipt, "due": t.deadline(report.due_at, now)},
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t.gettext("Open the report"), callback_data=f"wr:v:{report.id}"
                    )
                ]
            ]
        ),
    )
    return ConversationHandler.END


def open_button(t: Translator, report_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(t.gettext("Open the report"), callback_data=f"wr:v:{report_id}")


async def end(update: Update, context: BotContext) -> int:
    return await end_flow(update, context, DRAFT, "report")


async def cancel(update: Update, context: BotContext) -> int:
    return await discard_flow(
        update, context, DRAFT, "report", N_("Your draft report was discarded.")
    )


async def ask_current(update: Update, context: BotContext) -> str:
    return await ask_step(update, context, draft(context).get("step") or DESCRIPTION)


def handler(registry: CommandRegistry) -> ConversationHandler[BotContext]:
    step = guided_steps("rp", back, cancel, ask_current, FLOW_NAME, registry, lasting=True)

    text = MessageHandler(filters.TEXT & ~filters.COMMAND, on_text)
    buttons = CallbackQueryHandler(on_button, pattern=r"^rp:[a-z]+(:[a-z0-9_-]+)?$")
    files = MessageHandler(filters.PHOTO | filters.Document.ALL, on_file)
    return flow(
        entry_points=entry_points(registry, "report", start),
        states={
            DESCRIPTION: step(text),
            AGENCY: step(buttons, text),
            DISTRICT: step(buttons, text),
            WHERE: step(buttons, text, MessageHandler(filters.LOCATION, on_location)),
            WHEN: step(buttons, text),
            AMOUNT: step(buttons, text),
            FILES: step(buttons, files),
            NAMING: step(buttons),
            CONTACT: step(buttons),
            PREVIEW: step(buttons),
        },
        name="report",
    )


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    registry.add(
        MenuCommand(
            "report",
            N_("Report wasted public money"),
            N_("Report waste"),
            start,
            opens_flow=True,
        )
    )
    application.add_handler(handler(registry))
