"""The web side as one Starlette application: public pages, the Mini App, static files and,
in webhook mode, Telegram's updates, all served by the bot's own process (as
python-telegram-bot's customwebhookbot example serves its webhook)."""

from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from telegram import Update

from bot.context import CivicApplication
from bot.web import media, miniapp, public
from bot.web.security import SecurityHeaders
from bot.web.site import STATIC, Site

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Webhook:
    """Where Telegram posts updates, and the secret it must send with each."""

    path: str
    secret: str


def webhook_endpoint(application: CivicApplication, webhook: Webhook) -> Route:
    async def receive(request: Request) -> Response:
        sent = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(sent.encode(), webhook.secret.encode()):
            return PlainTextResponse("Forbidden", status_code=403)
        try:
            data = json.loads(await request.body())
            update = Update.de_json(data, application.bot)
        except (ValueError, TypeError, KeyError):
            return PlainTextResponse("Bad Request", status_code=400)
        # Handled in the application's order, as PTB's own webhook server does.
        await application.update_queue.put(update)
        return PlainTextResponse("ok")

    return Route(f"/{webhook.path}", receive, methods=["POST"])


def create_web_app(
    application: CivicApplication, public_url: str, webhook: Webhook | None = None
) -> Starlette:
    settings = application.services.settings
    routes = [
        Route("/", public.home),
        Route("/programmes/{key}", public.programme_page),
        Route("/proposals", public.proposal_list),
        Route("/proposals/{id}", public.proposal_page),
        Route("/map", public.map_page),
        Route("/map/pins.json", public.map_pins),
        Route("/map/districts.geojson", public.districts_geojson),
        Route("/results/{id}", public.results_page),
        Route("/results/{id}/chart.png", public.results_chart_png),
        Route("/results/{id}/ballots.pb", public.results_pb),
        Route("/draws/{id}", public.draw_page),
        Route("/draws/{id}/{file:str}", public.draw_file),
        Route("/waste", public.waste_page),
        Route("/waste/chart.png", public.waste_chart_png),
        Route("/media/{kind:str}/{id}/{n}", media.photo),
        Route("/healthz", public.health),
        Route("/app/f/home", miniapp.home),
        Route("/app/f/ballot/{id}", miniapp.ballot, methods=["GET", "POST"]),
        Route("/app/f/ballot/{id}/review", miniapp.review, methods=["POST"]),
        Route("/app/f/ballot/{id}/submit", miniapp.submit, methods=["POST"]),
        Route("/app/f/ballot/{id}/answers", miniapp.answers, methods=["POST"]),
        Route("/app/f/proposals", miniapp.proposals),
        Route("/app/f/proposals/{id}", miniapp.proposal),
        Route("/app/f/proposals/{id}/support", miniapp.support, methods=["POST"]),
        Route("/app/f/my", miniapp.my),
        Route("/app/f/{rest:path}", miniapp.missing, methods=["GET", "POST"]),
        Route("/app", miniapp.shell),
        Route("/app/{rest:path}", miniapp.shell),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    if webhook is not None:
        routes.insert(0, webhook_endpoint(application, webhook))
    web = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                SecurityHeaders,
                tile_url=settings.tile_url,
                https=public_url.startswith("https://"),
            )
        ],
        exception_handlers={404: public.page_not_found, 405: public.page_not_found},
        max_body_size=MAX_BODY,
    )
    web.state.site = Site(application, public_url)
    web.state.photos = media.PhotoCache()
    return web
