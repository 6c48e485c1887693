"""The bot's web server: an IPFS gateway for stored content, the web gallery, explorer pages
for a local chain and a health check (`server.py` puts them on one aiohttp application)."""

from __future__ import annotations

from bot.web.server import WebServer

__all__ = ["WebServer"]
