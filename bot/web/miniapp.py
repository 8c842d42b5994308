"""The Telegram Mini App (SPEC §12): the ballot as project cards, the proposal browser with
공감, and my page.

`/app/...` is a shell page with no personal data; its script fetches the fragments under
`/app/f/...` with Telegram's signed initData in the Authorization header, and every fragment
request is checked (bot/web/auth.py) and limited per person. Every rule is the chat's: the
ballot is cast by `bot.services.voting.cast`, 공감 by `bot.services.proposals.support`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from bot.flows.eligibility import question_text
from bot.flows.onboarding import RELATION_LABELS
from bot.handlers.proposals import OUTCOME_TEXTS
from bot.handlers.voting import ANSWER_LABELS, REFUSALS, not_yours, problem_text
from bot.i18n import N_, Translator
from bot.services import mypage, panels, people, voting, waste
from bot.services import proposals as proposal_service
from bot.web.auth import AuthFailure
from bot.web.ids import parse_id
from bot.web.public import (
    list_context,
    proposal_details,
    proposal_filters,
    proposal_page_of,
    proposal_status_label,
)
from bot.web.site import Site, Visit
from domain.people import DISTRICTS, Question
from domain.voting import BallotProblem, Heading, HeadingKind, check_ballot, spent

Fragment = Callable[[Request, Site, Visit], Awaitable[Response]]
MAX_CHOICES: Final = 200  # more than any ballot has; a longer form is not a ballot


def site_of(request: Request) -> Site:
    site: Site = request.app.state.site
    return site


async def shell(request: Request) -> Response:
    """The page Telegram opens; the same for everyone, so it carries nothing personal."""
    site = site_of(request)
    return site.render(request, "app.html", site.public_translator(request))


def fragment(write: bool = False) -> Callable[[Fragment], Callable[[Request], Awaitable[Response]]]:
    """Check the initData and the person's request limit, then answer with a fragment."""

    def wrap(handler: Fragment) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            site = site_of(request)
            try:
                visit = await site.visit(request)
            except AuthFailure as refused:
                t = site.public_translator(request)
                return site.render(
                    request, "app/refused.html", t, status_code=401, failure=refused.failure.value
                )
            if not await site.limits.allow(f"user:{visit.viewer.user_id}", write):
                return site.render(
                    request, "app/too_many.html", visit.t, status_code=429,
                    headers={"Retry-After": "60"},
                )  # fmt: skip
            response = await handler(request, site, visit)
            # A person's own page: kept by no cache on the way.
            response.headers["Cache-Control"] = "no-store"
            # The person's language: the shell (app.js) follows it, so one screen speaks one.
            response.headers["Content-Language"] = visit.t.language
            return response

        return endpoint

    return wrap


def message(request: Request, site: Site, visit: Visit, text: str, status: int = 200) -> Response:
    return site.render(request, "app/message.html", visit.t, status_code=status, text=text)


@fragment()
async def missing(request: Request, site: Site, visit: Visit) -> Response:
    return message(request, site, visit, visit.t.gettext("That page does not exist."), 404)


# -- home ----------------------------------------------------------------------------------
@fragment()
async def home(request: Request, site: Site, visit: Visit) -> Response:
    if visit.person is None:
        return site.render(request, "app/sign_up.html", visit.t, status_code=403)
    minimum_age = site.services.settings.minimum_age
    async with site.services.db.reading() as session:
        found = await voting.open_headings(session, visit.viewer.user_id, site.now(), minimum_age)
    # As /vote: a ballot that is not the person's is named with why, not offered.
    yours = [e for e in found if e.eligibility.refusal is None or e.voted]
    others = [
        (e, not_yours(visit.t, e, minimum_age))
        for e in found
        if e.eligibility.refusal is not None and not e.voted
    ]
    return site.render(request, "app/home.html", visit.t, open_votes=yours, not_yours=others)


# -- the ballot ----------------------------------------------------------------------------
def chosen(form: FormData) -> list[str]:
    keys = [str(value) for value in form.getlist("choice")[:MAX_CHOICES]]
    return list(dict.fromkeys(keys))  # in order, once each


def item_label(t: Translator, heading: Heading, key: str) -> str:
    item = heading.item(key)
    if heading.kind is HeadingKind.QUESTION and key in ANSWER_LABELS:
        return t.gettext(ANSWER_LABELS[key])
    return item.title_in(t.language) if item else key


async def ballot_view(
    request: Request,
    site: Site,
    visit: Visit,
    heading_id: int | None,
    choices: list[str] | None,
    note: str = "",
) -> Response:
    t = visit.t
    async with site.services.db.reading() as session:
        where = await voting.locate(session, heading_id) if heading_id is not None else None
    if where is None or heading_id is None:
        return message(request, site, visit, t.gettext(REFUSALS[voting.Refusal.NOT_FOUND]), 404)
    refusal = await voting.may_vote(
        site.services.db,
        visit.viewer.user_id,
        heading_id,
        site.now(),
        site.services.settings.minimum_age,
    )
    if choices is None:
        choices = await voting.current_choices(site.services.db, visit.viewer.user_id, heading_id)
    heading = where.heading
    # A missing answer is asked when the ballot is submitted, not held against the voter.
    blocking = refusal is not None and refusal is not voting.Refusal.NEEDS_ANSWERS
    return site.render(
        request,
        "app/ballot.html",
        t,
        heading_id=heading_id,
        where=where,
        heading=heading,
        choices=choices,
        refusal=t.gettext(REFUSALS[refusal]) if blocking and refusal is not None else "",
        note=note,
        label=lambda key: item_label(t, heading, key),
        spent=spent(heading, choices),
        knapsack=heading.knapsack and heading.budget is not None,
        question=heading.kind is HeadingKind.QUESTION,
    )


@fragment()
async def ballot(request: Request, site: Site, visit: Visit) -> Response:
    heading_id = parse_id(request.path_params["id"])
    choices = None
    if request.method == "POST":
        choices = chosen(await request.form())
    return await ballot_view(request, site, visit, heading_id, choices)


@fragment()
async def review(request: Request, site: Site, visit: Visit) -> Response:
    """Check the choices against the ballot's rules (the domain's check, as the chat's) and
    show them for a last look."""
    t = visit.t
    heading_id = parse_id(request.path_params["id"])
    async with site.services.db.reading() as session:
        where = await voting.locate(session, heading_id) if heading_id is not None else None
    if where is None or heading_id is None:
        return message(request, site, visit, t.gettext(REFUSALS[voting.Refusal.NOT_FOUND]), 404)
    choices = chosen(await request.form())
    problem = check_ballot(where.heading, choices)
    if problem is not None:
        note = problem_text(t, where.heading, problem, choices)
        if problem is BallotProblem.UNKNOWN_ITEM:
            choices = [c for c in choices if where.heading.item(c) is not None]
        return await ballot_view(request, site, visit, heading_id, choices, note)
    return site.render(
        request,
        "app/review.html",
        t,
        heading_id=heading_id,
        heading=where.heading,
        choices=choices,
        label=lambda key: item_label(t, where.heading, key),
        total=spent(where.heading, choices),
        costs=any(item.cost for item in where.heading.items),
    )


@dataclass(frozen=True)
class AnswerField:
    """One question of the answers form: the chat's words, and how it is answered here."""

    name: str
    text: str
    kind: str  # "choice" (radio buttons), "district" (a list) or "year"
    options: tuple[tuple[str, str], ...] = ()


def answer_field(t: Translator, question: Question, minimum_age: int) -> AnswerField | None:
    text = question_text(t, question, minimum_age)
    if question is Question.RELATION:
        options = tuple((r.value, t.gettext(label)) for r, label in RELATION_LABELS.items())
        return AnswerField(question.value, text, "choice", options)
    if question is Question.DISTRICT:
        options = tuple((d.code, d.name(t.language)) for d in DISTRICTS)
        return AnswerField(question.value, text, "district", options)
    if question is Question.BIRTH_YEAR:
        return AnswerField(question.value, text, "year")
    if question is Question.NOT_OFFICIAL:
        options = (("no", t.gettext("No, I am not")), ("yes", t.gettext("Yes, I am")))
        return AnswerField(question.value, text, "choice", options)
    return None  # 예산학교 completion and the like: a course code, in the chat


async def missing_answers(site: Site, visit: Visit, heading_id: int) -> tuple[Question, ...]:
    """The answers this heading needs that the person has not given (the chat's check)."""
    minimum_age = site.services.settings.minimum_age
    async with site.services.db.reading() as session:
        where = await voting.locate(session, heading_id)
        if where is None:
            return ()
        needs = voting.requirements(where.programme, where.heading, minimum_age)
        _, found = await people.eligibility(session, visit.viewer.user_id, needs, site.now())
    return found.missing


async def ask_answers(
    request: Request,
    site: Site,
    visit: Visit,
    heading_id: int,
    choices: list[str],
    problem: str = "",
) -> Response:
    """The questions the vote needs, with the ballot kept in the form; what the page cannot
    ask (a course code) is left to the chat."""
    missing = await missing_answers(site, visit, heading_id)
    minimum_age = site.services.settings.minimum_age
    fields = [answer_field(visit.t, q, minimum_age) for q in missing]
    if not fields or None in fields:
        text = visit.t.gettext(REFUSALS[voting.Refusal.NEEDS_ANSWERS])
        return site.render(request, "app/message.html", visit.t, status_code=409, text=text)
    return site.render(
        request,
        "app/answers.html",
        visit.t,
        heading_id=heading_id,
        choices=choices,
        fields=fields,
        problem=problem,
    )


async def cast(
    request: Request, site: Site, visit: Visit, heading_id: int | None, choices: list[str]
) -> Response:
    t = visit.t
    settings = site.services.settings
    if heading_id is None:
        return message(request, site, visit, t.gettext(REFUSALS[voting.Refusal.NOT_FOUND]), 404)
    result = await voting.cast(
        site.services.db,
        visit.viewer.user_id,
        heading_id,
        choices,
        site.now(),
        settings.minimum_age,
    )
    if result.refusal is voting.Refusal.INVALID and result.problem is not None:
        async with site.services.db.reading() as session:
            where = await voting.locate(session, heading_id)
        assert where is not None
        note = problem_text(t, where.heading, result.problem, choices)
        return await ballot_view(request, site, visit, heading_id, choices, note)
    if result.refusal is voting.Refusal.NEEDS_ANSWERS:
        return await ask_answers(request, site, visit, heading_id, choices)
    if result.refusal is voting.Refusal.NOT_SIGNED_UP:
        return site.render(request, "app/sign_up.html", t, status_code=403)
    if result.refusal is not None:
        return message(request, site, visit, t.gettext(REFUSALS[result.refusal]), 409)
    return site.render(
        request,
        "app/receipt.html",
        t,
        heading_id=heading_id,
        receipt=result.receipt,
        replaced=result.replaced,
    )


@fragment(write=True)
async def submit(request: Request, site: Site, visit: Visit) -> Response:
    heading_id = parse_id(request.path_params["id"])
    form = await request.form()
    return await cast(request, site, visit, heading_id, chosen(form))


@fragment(write=True)
async def answers(request: Request, site: Site, visit: Visit) -> Response:
    """The answers the vote needs (saved as the chat saves them), then the ballot is cast as
    it was chosen."""
    t = visit.t
    heading_id = parse_id(request.path_params["id"])
    if heading_id is None:
        return message(request, site, visit, t.gettext(REFUSALS[voting.Refusal.NOT_FOUND]), 404)
    form = await request.form()
    choices = chosen(form)
    minimum_age = site.services.settings.minimum_age
    for question in await missing_answers(site, visit, heading_id):
        given = form.get(question.value)
        try:
            await people.save_answer(
                site.services.db,
                visit.viewer.user_id,
                question,
                str(given).strip() if given is not None else None,
                site.now(),
            )
        except people.Invalid:
            problem = question_text(t, question, minimum_age)
            return await ask_answers(request, site, visit, heading_id, choices, problem)
    return await cast(request, site, visit, heading_id, choices)


# -- proposals -----------------------------------------------------------------------------
@fragment()
async def proposals(request: Request, site: Site, visit: Visit) -> Response:
    values = proposal_filters(request)
    found, total, page = await proposal_page_of(site, request, values)
    return site.render(
        request,
        "app/proposals.html",
        visit.t,
        found=found,
        total=total,
        page=page,
        **list_context(visit.t, values),
    )


async def proposal_view(
    request: Request, site: Site, visit: Visit, proposal_id: int | None, note: str = ""
) -> Response:
    details = await proposal_details(site, proposal_id, visit.t, visit.viewer.user_id)
    if details is None:
        text = visit.t.gettext(OUTCOME_TEXTS[proposal_service.Outcome.NOT_FOUND])
        return message(request, site, visit, text, 404)
    return site.render(request, "app/proposal.html", visit.t, note=note, **details)


@fragment()
async def proposal(request: Request, site: Site, visit: Visit) -> Response:
    return await proposal_view(request, site, visit, parse_id(request.path_params["id"]))


SUPPORT_DONE: Final = {
    "support": N_("Thank you for your support (공감)!"),
    "withdraw": N_("Your support is withdrawn."),
}


@fragment(write=True)
async def support(request: Request, site: Site, visit: Visit) -> Response:
    """공감 from the page: the chat's service, with its checks (signed up, stage open, once)."""
    proposal_id = parse_id(request.path_params["id"])
    form = await request.form()
    action = "withdraw" if form.get("action") == "withdraw" else "support"
    if proposal_id is None:
        outcome = proposal_service.Outcome.NOT_FOUND
    elif action == "support":
        outcome = await proposal_service.support(
            site.services.db, proposal_id, visit.viewer.user_id, site.now()
        )
    else:
        outcome = await proposal_service.withdraw_support(
            site.services.db, proposal_id, visit.viewer.user_id, site.now()
        )
    t = visit.t
    if outcome is proposal_service.Outcome.NOT_SIGNED_UP:
        return site.render(request, "app/sign_up.html", t, status_code=403)
    note = (
        t.gettext(SUPPORT_DONE[action])
        if outcome is proposal_service.Outcome.DONE
        else t.gettext(OUTCOME_TEXTS[outcome])
    )
    return await proposal_view(request, site, visit, proposal_id, note)


# -- my page -------------------------------------------------------------------------------
@fragment()
async def my(request: Request, site: Site, visit: Visit) -> Response:
    if visit.person is None:
        return site.render(request, "app/sign_up.html", visit.t, status_code=403)
    t = visit.t
    async with site.services.db.reading() as session:
        page = await mypage.my_page(session, visit.viewer.user_id, site.now())
    return site.render(
        request,
        "app/my.html",
        t,
        page=page,
        status_label=proposal_status_label(t),
        application_label=lambda status: t.gettext(panels.STATUS_LABELS[status]),
        report_label=lambda status: t.gettext(waste.STATUS_LABELS[status]),
    )
