"""Scripted citizens: whole user journeys told through the Bot API only.

A `Citizen` pushes updates into a `LocalBotApi` as one person and, after each step, waits
(`api.wait_until`, never a fixed sleep) until a bot message in that chat is new or edited
*and* shows what the next step needs — the next question's buttons, a confirmation, a
receipt. It never looks at the bot's process or database, so the same script drives the bot
in-process (`tests/harness.py`) or in worker processes behind the HTTP Bot API.

A step fails at once, with the chat's transcript, when the bot answers a button with an alert
(the handlers' refusals), or says one of the texts a journey must never meet (a stale button,
"answer the question below", "sign up first", the flow's refusals); otherwise after
`timeout` seconds without the expected reply.

`prepare_world` sets up, with services and repositories on a `Database` (no chat), what the
journeys need: proposals open for support and a ballot open for voting.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Final
from weakref import WeakKeyDictionary

from bot.flows.onboarding import RELATION_LABELS
from bot.flows.report import refusal_text as report_refusal_text
from bot.handlers.voting import REFUSALS as VOTE_REFUSALS
from bot.i18n import Translator
from bot.localapi.core import LocalBotApi
from bot.services import proposals as proposal_service
from bot.services import voting as voting_service
from domain.people import DISTRICTS_BY_CODE, Relation, find_district
from domain.programmes import Programme, default_programmes
from domain.proposals import Scope
from domain.voting import BallotFile
from domain.waste import Refusal as WasteRefusal
from storage.db import Database
from storage.people import PeopleRepository
from storage.programmes import ProgrammesRepository

DEFAULT_TIMEOUT: Final = 30.0

Message = dict[str, Any]
Expectation = Callable[[list[Message]], bool]

# The bot's words the journeys look for (msgids; each citizen reads them in its language).
SIGNED_UP: Final = (
    "You are all set! Use the menu below, or /help to see everything you can do."
    " Change your language any time with /language."
)
SUPPORTED: Final = "Thank you for your support (공감)!"
BALLOT_CAST: Final = (
    "Your ballot is in. Receipt: %(code)s. You can change it until the vote closes;"
    " the last one counts."
)
BALLOT_CHANGED: Final = (
    "Your ballot is changed. Receipt: %(code)s. The last ballot you submit before the"
    " vote closes is the one that counts."
)
CHOSEN: Final = "Chosen: %(item)s"
REPORT_RECEIVED: Final = (
    "Your report is received. Receipt number: %(receipt)s\n"
    "An answer is due by %(due)s. You will be told at every step, and you can add"
    " information until the case is closed."
)
NO_VOTE_OPEN: Final = "No vote is open right now. See /programmes."
WELCOME_BACK: Final = "Welcome back! Use the menu below, or /help to see what you can do."
PROPOSAL_MISSING: Final = "That proposal does not exist or is hidden."
# Said by the flow guard (bot/flows/guard.py) or a handler when a step went wrong.
TROUBLE: Final = (
    "You are in the middle of %(flow)s. Answer the question below, or send /cancel to stop.",
    "That button is out of date. Here is the current question.",
    "I can't use that here. Please answer the question below.",
    "Please sign up first with /start.",
)


class JourneyError(AssertionError):
    """A step of a journey did not get the reply it needed."""


# -- what a step waits for -------------------------------------------------------------------
def buttons(message: Message) -> Iterator[dict[str, Any]]:
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        yield from row


def text_of(message: Message) -> str:
    return str(message.get("text") or message.get("caption") or "")


def has_button(
    data: str | None = None,
    *,
    prefix: str | None = None,
    label: str | None = None,
    label_prefix: str | None = None,
) -> Expectation:
    """A changed message has a button matching every criterion given."""

    def matches(button: dict[str, Any]) -> bool:
        callback = str(button.get("callback_data", ""))
        shown = str(button.get("text", ""))
        return (
            (data is None or callback == data)
            and (prefix is None or callback.startswith(prefix))
            and (label is None or shown == label)
            and (label_prefix is None or shown.startswith(label_prefix))
        )

    return lambda changed: any(matches(b) for m in changed for b in buttons(m))


def has_keyboard(*data: str) -> Expectation:
    """A changed message whose buttons are exactly these callbacks (a flow's question)."""
    wanted = set(data)
    return lambda changed: any(
        {str(b.get("callback_data")) for b in buttons(m)} == wanted for m in changed
    )


def has_text(template: str) -> Expectation:
    """A changed message says this (a translated template: its fields match anything)."""
    pattern = template_pattern(template)
    return lambda changed: any(pattern.search(text_of(m)) for m in changed)


def any_of(*expectations: Expectation) -> Expectation:
    return lambda changed: any(expect(changed) for expect in expectations)


@cache
def template_pattern(template: str) -> re.Pattern[str]:
    """A message made from `template` (`%(name)s` fields become named groups)."""
    pattern, position = "", 0
    for field in re.finditer(r"%\((\w+)\)[sd]", template):
        pattern += re.escape(template[position : field.start()].replace("%%", "%"))
        pattern += f"(?P<{field.group(1)}>.+?)"
        position = field.end()
    pattern += re.escape(template[position:].replace("%%", "%"))
    return re.compile(pattern, re.DOTALL)


def fill_in(template: str, text: str, name: str) -> str | None:
    """The value of `%(name)s` in `text`, a message made from `template` (None if it is not)."""
    found = template_pattern(template).search(text)
    return None if found is None else found.group(name)


def _look(message: Message) -> tuple[Any, ...]:
    return (message.get("text"), message.get("caption"), message.get("reply_markup"))


class ChatChanges:
    """How many Bot API calls have touched each chat (sent, edited, deleted): a waiting step
    looks at its chat's messages again only when this moved, so thousands of citizens waiting
    at once do not each rescan their chat on every call the bot makes."""

    def __init__(self) -> None:
        self.count: defaultdict[int, int] = defaultdict(int)

    def __call__(self, method: str, params: dict[str, Any], result: Any) -> None:
        chat = params.get("chat_id")
        if isinstance(chat, int):
            self.count[chat] += 1


_changes: WeakKeyDictionary[LocalBotApi, ChatChanges] = WeakKeyDictionary()


def chat_changes(api: LocalBotApi) -> ChatChanges:
    found = _changes.get(api)
    if found is None:
        found = _changes[api] = ChatChanges()
        api.listeners.append(found)  # called after every successful call, before waiters wake
    return found


# -- the citizen -----------------------------------------------------------------------------
class Citizen:
    """One person in the chat. Journeys expect a person the bot does not know yet (sign_up
    first) and take their own steps one after another; many citizens may run at once."""

    def __init__(
        self,
        api: LocalBotApi,
        user_id: int,
        *,
        language: str = "ko",
        first_name: str = "시민",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.api = api
        self.user_id = user_id
        self.timeout = timeout
        self.t = Translator(language)
        self.last_query_id: str | None = None
        self._changes = chat_changes(api)
        api.user(user_id, first_name=first_name, language_code=language)
        # Texts that end any step at once: the guard's complaints, in this person's language.
        self._trouble = [self.t.gettext(text) for text in TROUBLE]

    # ----------------------------------------------------------------- primitives
    async def say(
        self, text: str, expect: Expectation | None = None, fail_on: Iterable[str] = ()
    ) -> list[Message]:
        """Send text; returns the bot messages new or changed once `expect` holds."""
        return await self._step(
            lambda: self.api.send_text(self.user_id, text), expect, fail_on, f"say {text!r}"
        )

    async def press(
        self,
        label: str | None = None,
        *,
        data: str | None = None,
        prefix: str | None = None,
        expect: Expectation | None = None,
        fail_on: Iterable[str] = (),
    ) -> list[Message]:
        """Press the button with this label (or callback data, or data prefix) on the newest
        bot message that has one."""
        message_id, callback = self.button(label, data=data, prefix=prefix)

        def act() -> str:
            self.last_query_id = self.api.press(self.user_id, message_id, callback)
            return self.last_query_id

        return await self._step(act, expect, fail_on, f"press {label or callback!r}")

    async def send_photo(self, expect: Expectation | None = None) -> list[Message]:
        return await self._step(
            lambda: self.api.send_photo(self.user_id), expect, (), "send a photo"
        )

    async def send_location(
        self, latitude: float, longitude: float, expect: Expectation | None = None
    ) -> list[Message]:
        return await self._step(
            lambda: self.api.send_location(self.user_id, latitude, longitude),
            expect,
            (),
            "send a location",
        )

    def button(
        self, label: str | None = None, *, data: str | None = None, prefix: str | None = None
    ) -> tuple[int, str]:
        """(message id, callback data) of the newest bot message's matching button."""
        for message in reversed(self.api.bot_messages(self.user_id)):
            for button in buttons(message):
                callback = button.get("callback_data")
                if callback is None:
                    continue
                if (
                    (label is None or button.get("text") == label)
                    and (data is None or callback == data)
                    and (prefix is None or callback.startswith(prefix))
                ):
                    return message["message_id"], str(callback)
        wanted = label or data or f"{prefix}…"
        raise self.failure(f"no button {wanted!r}")

    def failure(self, what: str) -> JourneyError:
        return JourneyError(
            f"citizen {self.user_id}: {what}; the chat:\n{self.api.transcript(self.user_id)}"
        )

    async def _step(
        self,
        act: Callable[[], object],
        expect: Expectation | None,
        fail_on: Iterable[str],
        what: str,
    ) -> list[Message]:
        before = {m["message_id"]: _look(m) for m in self.api.bot_messages(self.user_id)}
        trouble = [template_pattern(text) for text in (*self._trouble, *fail_on)]
        outcome = act()
        query_id = outcome if isinstance(outcome, str) else None

        def changed() -> list[Message]:
            return [
                m
                for m in self.api.bot_messages(self.user_id)
                if before.get(m["message_id"]) != _look(m)
            ]

        def alert() -> str | None:
            answered = self.api.answered_queries.get(query_id or "")
            if answered and answered.get("show_alert"):
                return str(answered.get("text", ""))
            return None

        def troubled(messages: list[Message]) -> str | None:
            return next(
                (text_of(m) for m in messages if any(p.search(text_of(m)) for p in trouble)),
                None,
            )

        looked_at = -1  # the chat's change count when its messages were last looked at

        def done() -> bool:
            nonlocal looked_at
            if alert() is not None:
                return True
            if self._changes.count[self.user_id] == looked_at:
                return False  # nothing new in this chat since the last look
            looked_at = self._changes.count[self.user_id]
            messages = changed()
            return bool(messages) and (
                troubled(messages) is not None or expect is None or expect(messages)
            )

        try:
            await self.api.wait_until(done, self.timeout)
        except TimeoutError:
            raise self.failure(f"{what}: no expected reply within {self.timeout:g} s") from None
        refusal = alert()
        if refusal is not None:
            raise self.failure(f"{what}: the bot refused: {refusal!r}")
        messages = changed()
        complaint = troubled(messages)
        if complaint is not None:
            raise self.failure(f"{what}: the bot said {complaint!r}")
        return messages

    @staticmethod
    def _prefix(template: str) -> str:
        """A message's fixed opening, for templates with placeholders."""
        return template.split("%(")[0]

    # ----------------------------------------------------------------- journeys
    async def sign_up(
        self, district: str | None = "mapo", relation: Relation = Relation.RESIDENT
    ) -> None:
        """/start → "I agree" → relation → district (a code such as "mapo", a name such as
        "마포구", or None to skip). Ends on the "you are all set" message."""
        t = self.t
        await self.say("/start", has_button("onb:consent:yes"), [t.gettext(WELCOME_BACK)])
        await self.press(t.gettext("I agree"), expect=has_button(prefix="onb:rel:"))
        finished = has_text(t.gettext(SIGNED_UP))
        relation_label = t.gettext(RELATION_LABELS[relation])
        if relation is Relation.OTHER:
            await self.press(relation_label, expect=finished)
            return
        await self.press(relation_label, expect=has_button(prefix="onb:dist:"))
        if district is None:
            await self.press(data="onb:dist:skip", expect=finished)
            return
        found = DISTRICTS_BY_CODE.get(district) or find_district(district)
        if found is None:
            raise ValueError(f"no district {district!r}")
        await self.press(found.name(t.language), expect=finished)

    async def support(self, proposal_id: int) -> None:
        """Open the proposal by its deep link (`/start p_<id>`) and press 공감 on its card.
        Ends when the card, edited in place, offers to withdraw the support and the button
        was answered with the thanks."""
        t = self.t
        support, withdraw = f"pr:sup:{proposal_id}", f"pr:uns:{proposal_id}"
        card = any_of(has_button(f"pr:fol:{proposal_id}"), has_button(f"pr:unf:{proposal_id}"))
        missing = t.gettext(PROPOSAL_MISSING)
        replies = await self.say(f"/start p_{proposal_id}", card, fail_on=[missing])
        offered = {b.get("callback_data") for m in replies for b in buttons(m)}
        if withdraw in offered:
            raise self.failure(f"proposal #{proposal_id} is already supported")
        if support not in offered:
            raise self.failure(f"proposal #{proposal_id} is not open for support")
        await self.press(data=support, expect=has_button(withdraw))
        answered = self.api.answered_queries.get(self.last_query_id or "", {})
        if answered.get("text") != t.gettext(SUPPORTED):
            raise self.failure(f"support of #{proposal_id} answered {answered.get('text')!r}")

    async def vote(self, heading_id: int | None = None, picks: int = 2) -> str:
        """/vote → the heading (the first one listed if None) → the first `picks` items of
        its first page → Review and submit → Submit my ballot. Returns the receipt code."""
        t = self.t
        if heading_id is None:
            listed = has_button(prefix="vt:h:")
        else:
            listed = has_button(f"vt:h:{heading_id}:0")
        await self.say("/vote", listed, fail_on=[t.gettext(NO_VOTE_OPEN)])
        if heading_id is None:
            _, callback = self.button(prefix="vt:h:")
            heading_id = int(callback.split(":")[2])
        refusals = [t.gettext(text) for text in VOTE_REFUSALS.values()]
        review = f"vt:v:{heading_id}"
        await self.press(data=f"vt:h:{heading_id}:0", expect=has_button(review), fail_on=refusals)
        chosen = self._prefix(t.gettext(CHOSEN))
        for index in range(picks):
            toggle = f"vt:t:{heading_id}:{index}"
            message_id, _ = self.button(data=toggle)
            ballot = next(
                m for m in self.api.bot_messages(self.user_id) if m["message_id"] == message_id
            )
            (shown,) = [b["text"] for b in buttons(ballot) if b.get("callback_data") == toggle]
            if str(shown).startswith(chosen):
                continue  # chosen in an earlier ballot, loaded back
            await self.press(data=toggle, expect=has_button(toggle, label_prefix=chosen))
        await self.press(data=review, expect=has_button(f"vt:s:{heading_id}"))
        templates = [t.gettext(BALLOT_CAST), t.gettext(BALLOT_CHANGED)]
        replies = await self.press(
            data=f"vt:s:{heading_id}",
            expect=any_of(*(has_text(template) for template in templates)),
            fail_on=refusals,
        )
        for message in replies:
            for template in templates:
                code = fill_in(template, text_of(message), "code")
                if code:
                    return code
        raise self.failure("no ballot receipt")

    async def report_waste(
        self,
        description: str = "멀쩡한 보도블록을 해마다 갈아엎고 있습니다. 올해만 세 번째입니다.",
        *,
        agency: str | None = "마포구청 건설관리과",
        district: str | None = "mapo",
        location: tuple[float, float] | None = (37.5663, 126.9019),
        amount: str | None = "2억 5천만",
        photos: int = 1,
        named: bool = False,
        contact: bool = False,
    ) -> str:
        """/report and every step of the report flow: description, agency (typed or "I don't
        know"), district (button or skip), where (a location pin or skip), when ("Today"),
        amount (typed or skip), `photos` photos, Done, naming, contact, Submit. Returns the
        receipt number (e.g. W-2026-000001)."""
        t = self.t
        refusals = [report_refusal_text(t, refusal) for refusal in WasteRefusal]
        nav = ("rp:back", "rp:cancel")
        skip_question = has_keyboard("rp:skip", *nav)
        await self.say("/report", has_keyboard(*nav), refusals)
        await self.say(description, skip_question, refusals)  # → agency
        district_question = has_button("rp:dist:mapo")
        if agency is None:
            await self.press(data="rp:skip", expect=district_question)
        else:
            await self.say(agency, district_question, refusals)
        place = f"rp:dist:{district}" if district is not None else "rp:skip"
        await self.press(data=place, expect=skip_question)  # → where
        when_question = has_button("rp:day:0")
        if location is None:
            await self.press(data="rp:skip", expect=when_question)
        else:
            await self.send_location(*location, expect=when_question)
        await self.press(data="rp:day:0", expect=skip_question)  # → amount
        files_question = has_button("rp:next")
        if amount is None:
            await self.press(data="rp:skip", expect=files_question)
        else:
            await self.say(amount, files_question, refusals)
        for _ in range(photos):
            await self.send_photo(files_question)
        await self.press(data="rp:next", expect=has_button("rp:name:y"))
        await self.press(data=f"rp:name:{'y' if named else 'n'}", expect=has_button("rp:contact:y"))
        await self.press(
            data=f"rp:contact:{'y' if contact else 'n'}", expect=has_button("rp:submit")
        )
        received = t.gettext(REPORT_RECEIVED)
        replies = await self.press(
            data="rp:submit",
            expect=has_button(prefix="wr:v:"),
            fail_on=refusals,
        )
        for message in replies:
            receipt = fill_in(received, text_of(message), "receipt")
            if receipt:
                return receipt
        raise self.failure("no report receipt")


# -- the world the journeys need ------------------------------------------------------------
LOAD_PROPOSALS: Final = "load-proposals"
LOAD_VOTE: Final = "load-vote"
LOAD_VOTE_STAGE: Final = "vote"
LOAD_HEADING: Final = "load"
AUTHOR_BASE: Final = 7_000_000  # proposal authors: AUTHOR_BASE + 0, 1, …


@dataclass(frozen=True)
class World:
    proposal_ids: tuple[int, ...]  # published, open for support
    proposals_programme: str
    heading_id: int  # the open ballot of `LOAD_VOTE`
    ballot_titles: tuple[str, ...]
    max_choices: int
    authors: tuple[int, ...]


def proposals_programme(support_threshold: int, window_days: int = 30) -> Programme:
    """A 민주주의 서울 alike with its own support goal: open all year for proposing and
    supporting, so `prepare_world` can make proposals reach their goal (and their followers
    be told, through the outbox) with a handful of citizens."""
    return Programme.model_validate(
        {
            "key": LOAD_PROPOSALS,
            "kind": "proposals",
            "name": {"ko": "부하 시험 시민제안", "en": "Load test proposals"},
            "settings": {
                "support_threshold": support_threshold,
                "support_window_days": window_days,
            },
            "stage": [
                {
                    "key": "always-open",
                    "name": {"ko": "상시 제안", "en": "Open all year"},
                    "starts_at": datetime(2020, 1, 1, tzinfo=UTC),
                    "actions": ["propose", "support", "comment", "debate"],
                }
            ],
        }
    )


def vote_programme(now: datetime, days: float = 30) -> Programme:
    """A poll (no participatory-budget eligibility: signing up is enough to vote) whose one
    vote stage opened an hour before `now` and closes `days` after it. The shipped cycle's
    votes are all in 2027; this is a vote open *now*."""
    return Programme.model_validate(
        {
            "key": LOAD_VOTE,
            "kind": "poll",
            "name": {"ko": "부하 시험 투표", "en": "Load test vote"},
            "stage": [
                {
                    "key": LOAD_VOTE_STAGE,
                    "name": {"ko": "투표", "en": "Vote"},
                    "starts_at": now - timedelta(hours=1),
                    "ends_at": now + timedelta(days=days),
                    "actions": ["vote"],
                }
            ],
        }
    )


async def ensure_default_programmes(db: Database, now: datetime) -> None:
    """Write the shipped programmes that are missing. The bot seeds them only into an empty
    table, so a world prepared before the bot first starts must bring them itself."""
    async with db.transaction() as session:
        repository = ProgrammesRepository(session)
        for programme in default_programmes():
            if await repository.get(programme.key) is None:
                await repository.upsert(programme, now)


async def open_vote(
    db: Database, now: datetime, titles: Sequence[str], max_choices: int, days: float = 30
) -> int:
    """Write `vote_programme(now, days)` and its one approval heading; returns its id.
    Idempotent: the programme and the heading are replaced by key."""
    async with db.transaction() as session:
        await ProgrammesRepository(session).upsert(vote_programme(now, days), now)
    ballot = BallotFile.model_validate(
        {
            "programme": LOAD_VOTE,
            "stage": LOAD_VOTE_STAGE,
            "heading": [
                {
                    "key": LOAD_HEADING,
                    "name": {"ko": "부하 시험 사업", "en": "Load test projects"},
                    "max_choices": max_choices,
                    "item": [
                        {"key": f"i{number}", "title": title}
                        for number, title in enumerate(titles, 1)
                    ],
                }
            ],
        }
    )
    ((heading_id, _),) = await voting_service.import_ballot(db, ballot)
    return heading_id


async def prepare_world(
    db: Database,
    clock_now: datetime,
    *,
    proposals: int = 4,
    support_threshold: int | None = None,
    ballot_items: int = 4,
    max_choices: int = 3,
    vote_days: float = 30,
    author_base: int = AUTHOR_BASE,
) -> World:
    """Create (or find again: everything is keyed) what the journeys need, at `clock_now`,
    through services and repositories only. `db` must be connected and migrated.

    - the shipped programmes, if missing (budget-waste reports come from there);
    - `proposals` published proposals, one per author (`author_base + i`, signed up here),
      in 민주주의 서울 or, with `support_threshold`, in `proposals_programme(threshold)`;
    - an approval ballot of `ballot_items` projects (at most 6, one page) and `max_choices`,
      in `vote_programme(clock_now, vote_days)`.

    Real-time conditions, for bots running on the real clock (pass `datetime.now(UTC)`):
    support is open for the support window (30 days) after `clock_now`, while a proposal
    short of its goal; the vote from an hour before `clock_now` for `vote_days` days; waste
    reports are open all year but five per person per Seoul day. Citizens must be new to
    the bot (their user ids unknown to it). Outbox notices (e.g. a goal reached, with
    `support_threshold`) wait for the end of quiet hours (22:00–08:00 Seoul by default).
    """
    if not 1 <= ballot_items <= 6:
        raise ValueError("the ballot keeps to one page: 1 to 6 items")
    await ensure_default_programmes(db, clock_now)
    programme_key = "democracy-seoul"
    if support_threshold is not None:
        programme_key = LOAD_PROPOSALS
        async with db.transaction() as session:
            await ProgrammesRepository(session).upsert(
                proposals_programme(support_threshold), clock_now
            )
    authors = tuple(author_base + number for number in range(proposals))
    async with db.transaction() as session:
        people = PeopleRepository(session)
        for author in authors:
            if await people.get(author) is None:
                await people.consent(author, "ko", clock_now)
                await people.update(
                    author, clock_now, relation=Relation.RESIDENT.value, district="mapo"
                )
    proposal_ids = []
    for number, author in enumerate(authors, 1):
        result = await proposal_service.submit(
            db,
            author,
            proposal_service.Draft(
                programme_key=programme_key,
                title=f"부하 시험 제안 {number}: 공원 벤치",
                description="공원에 앉을 곳이 부족합니다. 벤치를 더 놓아 주세요.",
                field="environment",
                scope=Scope.CITY,
                districts=(),
                key=f"load:{programme_key}:{number}",
            ),
            clock_now,
            14,
        )
        if result.proposal_id is None:
            raise RuntimeError(f"proposal {number} refused: {result.refusal}")
        proposal_ids.append(result.proposal_id)
    titles = tuple(f"부하 사업 {number}" for number in range(1, ballot_items + 1))
    heading_id = await open_vote(db, clock_now, titles, max_choices, vote_days)
    return World(
        proposal_ids=tuple(proposal_ids),
        proposals_programme=programme_key,
        heading_id=heading_id,
        ballot_titles=titles,
        max_choices=max_choices,
        authors=authors,
    )
