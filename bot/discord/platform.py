"""Discord as a kind of chat platform (registered in `bot.registry`): what it is called, when
it runs (DISCORD_TOKEN is set), and how it is built on the runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.ports import ChatPlatform, PlatformKind

if TYPE_CHECKING:
    from aiohttp.web import Application

    from bot.config import Settings
    from bot.runtime import Runtime


def _configured(settings: Settings) -> bool:
    return settings.discord_token is not None


def _build(runtime: Runtime, routes: Application) -> ChatPlatform:
    # Imported here, not above: a bot that only looks up this kind's labels (the web
    # gallery) does not load discord.py.
    from bot.discord.chat import DiscordChat
    from bot.discord.client import use_endpoints

    settings = runtime.settings
    use_endpoints(settings.discord_api_base_url, settings.discord_gateway_url)
    return DiscordChat(runtime)


DISCORD: PlatformKind[Runtime] = PlatformKind(
    name="discord",
    label="Discord",
    community_label="Discord server",
    configured=_configured,
    build=_build,
)
