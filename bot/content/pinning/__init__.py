"""Publishing content on public IPFS: the pinning backends PINNING names (each a module here
plus one line in `bot.registry`), opened from the settings, and where pinned content is read
back from."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp

from bot.content.pinning.gateway import GatewayReader
from bot.errors import ConfigError
from bot.ports import PINNERS, PinningBackend

if TYPE_CHECKING:
    from bot.config import Settings

READ_TIMEOUT_S = 60


@dataclass
class Pinning:
    """The backends content is published to (none: it stays local), and the gateway pinned
    blocks are read back from (None: each backend reads back its own)."""

    backends: list[PinningBackend] = field(default_factory=list)
    read_back: Callable[[str], Awaitable[bytes]] | None = None


def open_backends(settings: Settings) -> list[PinningBackend]:
    """A backend for each name in PINNING, in its order; none means content stays local.
    Raises `ConfigError` for a name no backend is registered under, or a setting it lacks."""
    backends: list[PinningBackend] = []
    for name in settings.pinning:
        if name not in PINNERS:
            known = ", ".join(PINNERS.names()) or "none"
            raise ConfigError("PINNING", f"no pinning backend named {name!r} (known: {known})")
        backends.append(PINNERS.get(name).open(settings))
    return backends


@contextlib.asynccontextmanager
async def open_pinning(settings: Settings) -> AsyncIterator[Pinning]:
    """The configured backends and read-back gateway, closed when the block ends."""
    backends = open_backends(settings)
    session: aiohttp.ClientSession | None = None
    try:
        pinning = Pinning(backends)
        if backends and settings.ipfs_gateway_url:
            session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=READ_TIMEOUT_S))
            pinning.read_back = GatewayReader(settings.ipfs_gateway_url, session).fetch_block
        yield pinning
    finally:
        for backend in backends:
            await backend.close()
        if session is not None:
            await session.close()
