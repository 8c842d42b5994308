"""Notifications (SPEC §8): the outbox sender, the daily digest, stage announcements and the
/settings menu. The scheduler that drives them is `bot.automation`."""

from __future__ import annotations

from bot.context import CivicApplication
from bot.menu import CommandRegistry
from bot.notifications import settings_menu
from bot.notifications.announcements import StageAnnouncements


def register(application: CivicApplication, registry: CommandRegistry) -> None:
    settings_menu.register(application, registry)
    announcements = StageAnnouncements(application.services)
    application.automation.on_stage_open(announcements.opened)
    application.automation.on_stage_close(announcements.closed)
