"""Where webhooks may go: http(s) URLs whose host resolves only to public addresses.

Refused: loopback (unless WEBHOOK_ALLOW_LOOPBACK, which tests set), private, shared (CGNAT),
link-local, unique-local, multicast, reserved and unspecified addresses, and IPv6 forms that
carry an IPv4 one (mapped, 6to4, Teredo, NAT64) of those kinds. The host is checked when an
endpoint is added (a literal address) and every address a name resolves to is checked at each
delivery (`GuardedResolver`), so a name that later points inside is refused then.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from bot.errors import RequestRejected
from bot.i18n import N_
from bot.i18n.said import Said
from bot.redact import redact_urls

MAX_URL_LENGTH = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not "private" in Python
# Refusals are `Said`s: shown in the admin's language, kept in English in delivery records.
NOT_THERE = N_("Webhooks may not go to {why}.")
LOOPBACK = N_("a loopback address")


class TargetRefused(RequestRejected):
    """A webhook URL that points where webhooks may not go."""


def check_url(url: str) -> str:
    """`url`, stripped, if it is an http(s) URL with a host a webhook may name; else raises
    TargetRefused with a message that shows no credential of it."""
    url = url.strip()
    shown = redact_urls(url[:200])
    if not url or len(url) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 32 for c in url):
        raise TargetRefused(N_("Give one http(s) URL of at most 2,000 characters, without spaces."))
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise TargetRefused(N_("That is not a URL: {url}"), url=shown) from None
    if parts.scheme not in ("http", "https") or not host:
        raise TargetRefused(N_("Webhooks go to http:// or https:// URLs with a host name."))
    if port == 0:
        raise TargetRefused(N_("Port 0 is not a port webhooks can go to."))
    try:
        host.encode("idna")
    except UnicodeError:
        raise TargetRefused(N_("That host name is not valid.")) from None
    return url


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


def refusal(address: IPAddress, *, allow_loopback: bool) -> Said | None:
    """Why a webhook may not go to `address`, or None if it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = (
            address.ipv4_mapped
            or address.sixtofour
            or (address.teredo[1] if address.teredo else None)
            or (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in _NAT64 else None)
        )
        if embedded is not None:
            return refusal(embedded, allow_loopback=allow_loopback)
    if address.is_loopback:
        return None if allow_loopback else Said(LOOPBACK)
    kinds = (
        (address.is_unspecified, N_("an unspecified address")),
        (address.is_link_local, N_("a link-local address")),
        (address.is_multicast, N_("a multicast address")),
        (address.is_reserved, N_("a reserved address")),
        (address.is_private, N_("a private address")),
        (isinstance(address, ipaddress.IPv4Address) and address in _SHARED, N_("a shared address")),
        (not address.is_global, N_("an address that is not public")),
    )
    return next((Said(why) for refused, why in kinds if refused), None)


def check_host(host: str, *, allow_loopback: bool) -> None:
    """Refuse a literal address, or a name only a machine's own network knows."""
    address = literal_address(host)
    if address is not None:
        why = refusal(address, allow_loopback=allow_loopback)
        if why is not None:
            raise TargetRefused(NOT_THERE, why=why)
    elif not allow_loopback and _names_loopback(host.lower().rstrip(".")):
        raise TargetRefused(NOT_THERE, why=Said(LOOPBACK))


def _names_loopback(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


class GuardedResolver(AbstractResolver):
    """Resolves as aiohttp does, then refuses the connection if any address is one a webhook
    may not go to: the check happens on the very addresses aiohttp connects to."""

    def __init__(self, *, allow_loopback: bool) -> None:
        self._inner = ThreadedResolver()
        self.allow_loopback = allow_loopback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        for result in found:
            address = literal_address(result["host"])
            why = (
                Said(N_("an address that cannot be read"))
                if address is None
                else refusal(address, allow_loopback=self.allow_loopback)
            )
            if why is not None:
                raise TargetRefused(N_("the host resolves to {why}"), why=why)
        return found

    async def close(self) -> None:
        await self._inner.close()


def host_of(url: str) -> str:
    host = urlsplit(url).hostname
    assert host is not None  # check_url made sure
    return host


def described(url: str) -> str:
    """The URL as shown to people and logs: scheme, host, port and path, no credentials."""
    parts = urlsplit(url)
    netloc: Any = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    shown = redact_urls(f"{parts.scheme}://{netloc}{parts.path}")
    return shown if len(shown) <= 200 else shown[:199] + "…"
