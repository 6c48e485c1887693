"""Telegram as a kind of chat platform (registered in `bot.registry`): what it is called, when
it runs (TELEGRAM_TOKEN is set), and how it is built on the runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.ports import ChatPlatform, PlatformKind

if TYPE_CHECKING:
    from aiohttp.web import Application

    from bot.config import Settings
    from bot.runtime import Runtime


def _configured(settings: Settings) -> bool:
    return settings.telegram_token is not None


def _build(runtime: Runtime, routes: Application) -> ChatPlatform:
    # Imported here, not above: a bot that only looks up this kind's labels (the web
    # gallery) does not load python-telegram-bot.
    from bot.telegram.client import WEBHOOK_PATH, TelegramBot
    from bot.telegram.handlers import register

    telegram = TelegramBot(runtime)
    register(telegram)
    if telegram.webhook_url is not None:  # routes must exist before the server starts
        routes.router.add_post(WEBHOOK_PATH, telegram.webhook)
    return telegram


TELEGRAM: PlatformKind[Runtime] = PlatformKind(
    name="telegram",
    label="Telegram",
    community_label="Telegram group",
    configured=_configured,
    build=_build,
)
