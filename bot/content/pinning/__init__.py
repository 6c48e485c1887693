"""Publishing content on public IPFS: the pinning backends PINNING names (each a module here
plus one line in `bot.registry`), opened from the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.errors import ConfigError
from bot.ports import PINNERS, PinningBackend

if TYPE_CHECKING:
    from bot.config import Settings


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
