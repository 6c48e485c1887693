"""Dashboard sign-in links: single-use, short-lived, HMAC-SHA256-signed tokens bound to one
platform, community and user.

A token is `payload.signature`, both base64url: the payload is the JSON list
`[version, platform, community, user, expiry, nonce, locale]`, the signature an HMAC-SHA256 of
the payload's bytes under DASHBOARD_SECRET (or a key made in DATA_DIR on first use). The locale
is the admin's when they asked for the link: the dashboard speaks it (a link made before links
carried one reads as English). Whether a link was used already is the database's to say
(`bot.dashboard.sessions`), not this module's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

from bot.atomic_files import kept_key
from bot.env_values import Secret
from bot.i18n import ENGLISH, N_, _, current, locale_of

KEY_FILE = "dashboard.key"
LINK_LIFETIME = timedelta(minutes=30)
_VERSION = 1
# Far more than any real token: longer input is refused before it is decoded.
MAX_TOKEN_CHARS = 1024


class LinkRefused(Exception):
    """A sign-in link that signs nobody in; the message (an English msgid) says why, in plain
    words: `str(err)` in English, `err.text()` in the current locale."""

    def text(self) -> str:
        return _(str(self))


@dataclass(frozen=True)
class SignedLink:
    """What a valid link says: who it signs in, to which community, until when."""

    platform: str
    community_id: str
    user_id: str
    expires_at: datetime
    nonce: str
    locale: str = ENGLISH


class DashboardKey:
    """Signs and checks sign-in tokens and derives each session's CSRF token. Its repr never
    shows the key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "DashboardKey(…)"

    def mac(self, purpose: str, message: bytes) -> bytes:
        return hmac.new(self._key, purpose.encode() + b"\x00" + message, hashlib.sha256).digest()

    def token(self, link: SignedLink) -> str:
        """The signed token of `link`."""
        expiry = int(link.expires_at.timestamp())
        fields = [
            *(_VERSION, link.platform, link.community_id, link.user_id, expiry, link.nonce),
            link.locale,
        ]
        payload = json.dumps(fields, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self.mac('link', payload))}"

    def link_url(
        self,
        public_base_url: str,
        platform: str,
        community_id: str,
        user_id: str,
        now: datetime,
        locale: str | None = None,
    ) -> str:
        """A new sign-in link for this admin of this community, valid for LINK_LIFETIME, to
        a dashboard in `locale` (by default the current one: the asking admin's)."""
        link = SignedLink(
            platform,
            community_id,
            user_id,
            now + LINK_LIFETIME,
            secrets.token_hex(16),
            locale_of(locale or current()),
        )
        return sign_in_url(public_base_url, link, self.token(link))

    def check(self, token: str, now: datetime) -> SignedLink:
        """What the token says, if this key signed it and it has not expired; else LinkRefused."""
        payload, signature = _split(token)
        if not hmac.compare_digest(signature, self.mac("link", payload)):
            raise LinkRefused(N_("This sign-in link is not one the bot made."))
        link = _fields(payload)
        if link.expires_at <= now:
            raise LinkRefused(N_("This sign-in link has expired: ask the bot for a new one."))
        return link

    def csrf(self, session_token: str) -> str:
        """The CSRF token of a session: derived from its cookie, so nothing more is stored."""
        return _b64(self.mac("csrf", session_token.encode()))


# Every dashboard page, as a route: what a web server that does not serve them passes on.
DASHBOARD_PAGES = "/dashboard/{rest:.*}"


def community_path(platform: str, community_id: str) -> str:
    """Where a community's dashboard pages are (its session cookie is scoped to it)."""
    return f"/dashboard/{quote(platform, safe='')}/{quote(community_id, safe='')}"


def sign_in_url(public_base_url: str, link: SignedLink, token: str) -> str:
    """The link an admin is given: the sign-in page of their community's dashboard."""
    base = public_base_url.rstrip("/") + community_path(link.platform, link.community_id)
    return f"{base}/signin?{urlencode({'token': token})}"


def dashboard_key(secret: Secret | None, data_dir: Path) -> DashboardKey:
    """DASHBOARD_SECRET where set; else a random key kept in the data directory (made on first
    use, readable by its owner only), which suits one machine: processes on several set
    DASHBOARD_SECRET alike."""
    if secret is not None:
        return DashboardKey(secret.reveal().encode())
    return DashboardKey(kept_key(data_dir, KEY_FILE))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_MALFORMED = N_("This sign-in link is damaged: copy it whole, or ask the bot for a new one.")


def _split(token: str) -> tuple[bytes, bytes]:
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1 or not token.isascii():
        raise LinkRefused(_MALFORMED)
    payload, signature = token.split(".")
    try:
        return _unb64(payload), _unb64(signature)
    except (binascii.Error, ValueError):
        raise LinkRefused(_MALFORMED) from None


def token_locale(token: str) -> str | None:
    """The locale a token names, signed or not (a refusal is worded in it: a language is no
    secret and grants nothing); None where the token names none."""
    try:
        return _fields(_split(token)[0]).locale
    except LinkRefused:
        return None


def _fields(payload: bytes) -> SignedLink:
    """The signed payload's fields (signed by us, so well-formed unless the format changed).
    The locale is optional: links made before it was added have six fields."""
    try:
        version, platform, community, user, expiry, nonce, *rest = json.loads(payload)
    except (ValueError, TypeError):
        raise LinkRefused(_MALFORMED) from None
    locale = rest[0] if len(rest) == 1 else ENGLISH
    texts = (platform, community, user, nonce, locale)
    if len(rest) > 1:
        raise LinkRefused(_MALFORMED)
    if version != _VERSION or not all(isinstance(t, str) for t in texts):
        raise LinkRefused(_MALFORMED)
    if not isinstance(expiry, int) or isinstance(expiry, bool):
        raise LinkRefused(_MALFORMED)
    try:
        expires_at = datetime.fromtimestamp(expiry, UTC)
    except (OverflowError, OSError, ValueError):
        raise LinkRefused(_MALFORMED) from None
    return SignedLink(platform, community, user, expires_at, nonce, locale_of(locale))
