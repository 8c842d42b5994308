"""Wiring: settings, storage and features into one python-telegram-bot application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from telegram.ext import ApplicationBuilder, ContextTypes, Defaults
from telegram.request import BaseRequest
from telegram.warnings import PTBUserWarning

from bot import notifications
from bot.automation import Automation
from bot.config import Settings
from bot.context import BotContext, CivicApplication, Services
from bot.deeplinks import DeepLinks
from bot.flows import apply, broadcast, onboarding, profile, propose, report
from bot.handlers import (
    admin,
    basics,
    broadcasts,
    errors,
    mypage,
    panel_admin,
    panels,
    privacy,
    programme_admin,
    programmes,
    proposals,
    review,
    sharing,
    tally_explain,
    voting,
    waste,
)
from bot.intake import Intake
from bot.menu import CommandRegistry
from bot.persistence import DatabasePersistence
from bot.ratelimit import SharedRateLimiter
from bot.transport import AiohttpRequest
from bot.web import links
from domain.programmes import default_programmes
from storage.db import Database, open_database
from storage.programmes import ProgrammesRepository

log = logging.getLogger(__name__)

# Our flows mix buttons and typed answers per chat, as PTB's own examples do; its warning
# about per-message tracking does not apply.
warnings.filterwarnings("ignore", message=".*per_message.*", category=PTBUserWarning)


def build_application(
    settings: Settings,
    token: str,
    request: BaseRequest | None = None,
    db: Database | None = None,
) -> CivicApplication:
    database = db or open_database(settings.database_url)
    builder = (
        ApplicationBuilder()
        .application_class(CivicApplication)
        .token(token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_api_file_url)
        .context_types(ContextTypes(context=BotContext))
        .persistence(DatabasePersistence(database))
        .defaults(Defaults(tzinfo=settings.tz))
        .rate_limiter(SharedRateLimiter(settings.send_rate, settings.broadcast_rate))
        .post_init(_post_init)  # type: ignore[arg-type]
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    elif settings.telegram_transport == "aiohttp":
        # As PTB's defaults: a pool for the calls, one connection for getUpdates.
        builder = builder.request(AiohttpRequest()).get_updates_request(
            AiohttpRequest(connection_pool_size=1)
        )
    application = builder.build()
    assert isinstance(application, CivicApplication)
    application.services = Services(settings=settings, db=database)
    application.commands = CommandRegistry()
    application.deep_links = DeepLinks()
    application.automation = Automation(application.services)
    application.intake = Intake(application)
    register_features(application)
    return application


def register_features(application: CivicApplication) -> None:
    registry = application.commands
    # Conversations first: inside a flow, its steps decide what input means.
    onboarding.register(application, registry)
    profile.register(application, registry)
    propose.register(application, registry)
    report.register(application, registry)
    apply.register(application, registry)
    broadcast.register(application, registry)
    basics.register(application, registry)
    proposals.register(application, registry)
    mypage.register(application, registry)
    sharing.register(application)
    review.register(application, registry)
    voting.register(application, registry)
    tally_explain.register(application)
    panels.register(application, registry)
    panel_admin.register(application, registry)
    waste.register(application, registry)
    admin.register(application, registry)
    programme_admin.register(application, registry)
    broadcasts.register(application, registry)
    programmes.register(application, registry)
    privacy.register(application, registry)
    notifications.register(application, registry)
    basics.register_fallbacks(application, registry)
    application.add_error_handler(errors.on_error)


async def _post_init(application: CivicApplication) -> None:
    services = application.services
    await seed_default_programmes(services.db, services)
    await application.automation.start(application)
    await application.commands.publish(
        application.bot, services.settings.default_language, sorted(services.settings.admin_ids)
    )
    await links.set_menu_button(application)


async def seed_default_programmes(db: Database, services: Services) -> None:
    """A new installation starts with the city's yearly cycle (SPEC §3)."""
    async with db.transaction() as session:
        repository = ProgrammesRepository(session)
        if await repository.count():
            return
        for programme in default_programmes():
            await repository.upsert(programme, services.clock())
    log.info("Loaded the default programmes")


@asynccontextmanager
async def running(application: CivicApplication, poll_timeout: float = 10) -> AsyncIterator[None]:
    """Start the application with long polling into the durable intake, and stop it after."""
    await application.initialize()
    try:
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        stop = asyncio.Event()
        polling = asyncio.create_task(application.intake.poll(poll_timeout, stop))
        try:
            yield
        finally:
            stop.set()
            polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
            await application.stop()
    finally:
        await application.shutdown()
