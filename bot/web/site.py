"""What every page needs: the bot's services, templates in the reader's language, the
signed-in viewer of the Mini App, request limits and the caches."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from bot.context import CivicApplication, Services
from bot.i18n import LANGUAGES, Translator, pick_language
from bot.services import voting
from bot.web.auth import AuthFailure, Viewer, viewer_from_header
from bot.web.limits import RequestLimits
from domain.people import DISTRICTS_BY_CODE, Person
from domain.proposals import FIELDS_BY_CODE
from storage.people import PeopleRepository

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
LANGUAGE_COOKIE = "lang"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        auto_reload=False,  # templates change with a new release, not while serving
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["district"] = lambda code, language: (
        DISTRICTS_BY_CODE[code].name(language) if code in DISTRICTS_BY_CODE else code
    )
    env.filters["field"] = lambda code, language: (
        FIELDS_BY_CODE[code].name(language) if code in FIELDS_BY_CODE else code
    )
    return env


@dataclass
class Visit:
    """One Mini App request: who, their stored answers (None before sign-up), their language."""

    viewer: Viewer
    person: Person | None
    t: Translator


@dataclass
class Site:
    application: CivicApplication
    public_url: str
    env: jinja2.Environment = field(default_factory=_environment)
    limits: RequestLimits = field(init=False)
    _results: dict[int, tuple[float, voting.Results]] = field(default_factory=dict)
    _counting: dict[int, asyncio.Lock] = field(default_factory=dict)

    def __post_init__(self) -> None:
        settings = self.services.settings
        self.limits = RequestLimits(settings.web_write_limit, settings.web_read_limit)

    @property
    def services(self) -> Services:
        return self.application.services

    def now(self) -> datetime:
        return self.services.clock()

    @property
    def bot_username(self) -> str:
        try:
            return str(self.application.bot.username)
        except RuntimeError:  # the bot has not said who it is yet
            return ""

    def chat_link(self, payload: str = "") -> str:
        """A link that opens the bot's chat (with /start payload), for sharing and sign-up."""
        name = self.bot_username
        if not name:
            return ""
        return f"https://t.me/{name}" + (f"?start={payload}" if payload else "")

    def absolute(self, request: Request, path: str) -> str:
        base = self.public_url or str(request.base_url).rstrip("/")
        return base + path

    # -- language ------------------------------------------------------------------------
    def public_translator(self, request: Request) -> Translator:
        """?lang=, then the cookie it sets, then the browser's languages, then the default."""
        settings = self.services.settings
        chosen = request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
        if chosen in LANGUAGES:
            return Translator(str(chosen), settings.tz)
        header = request.headers.get("accept-language", "")
        first = header.split(",")[0].split(";")[0].strip() or None
        return Translator(pick_language(first, settings.default_language), settings.tz)

    # -- the Mini App's viewer -----------------------------------------------------------
    async def visit(self, request: Request) -> Visit:
        settings = self.services.settings
        token = self.application.bot.token
        viewer = viewer_from_header(
            request.headers.get("authorization"), token, settings.webapp_auth_max_age, self.now()
        )
        async with self.services.db.reading() as session:
            person = await PeopleRepository(session).get(viewer.user_id)
        language = (
            person.language
            if person is not None
            else pick_language(viewer.language_code, settings.default_language)
        )
        return Visit(viewer, person, Translator(language, settings.tz))

    # -- rendering -----------------------------------------------------------------------
    def render(
        self,
        request: Request,
        template: str,
        t: Translator,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        **values: Any,
    ) -> HTMLResponse:
        context = {
            "t": t,
            "gettext": t.gettext,
            "ngettext": t.ngettext,
            "lang": t.language,
            "request": request,
            "site": self,
            "path": request.url.path,
            "canonical": self.absolute(request, request.url.path),
            "now": self.now(),
            **values,
        }
        body = self.env.get_template(template).render(context)
        response = HTMLResponse(body, status_code=status_code, headers=headers)
        if request.query_params.get("lang") in LANGUAGES:
            response.set_cookie(
                LANGUAGE_COOKIE, str(request.query_params["lang"]), max_age=31536000, samesite="lax"
            )
        return response

    # -- cached counts -------------------------------------------------------------------
    async def results(self, heading_id: int) -> voting.Results | None:
        """Live results are recounted at most every RESULTS_CACHE_SECONDS; final ones stay."""
        found = self._fresh(heading_id)
        if found is not None:
            return found
        # One recount at a time per heading: readers arriving meanwhile take its result.
        async with self._counting.setdefault(heading_id, asyncio.Lock()):
            found = self._fresh(heading_id)
            if found is not None:
                return found
            counted = await voting.results(self.services.db, heading_id, self.now())
            if counted is not None:
                expires = time.monotonic() + self.services.settings.results_cache_seconds
                self._results[heading_id] = (expires, counted)
            return counted

    def _fresh(self, heading_id: int) -> voting.Results | None:
        found = self._results.get(heading_id)
        if found is not None and (
            found[1].state is voting.ResultState.FINAL or time.monotonic() < found[0]
        ):
            return found[1]
        return None


__all__ = ["AuthFailure", "Site", "Visit"]
