"""Credentials inside URLs, found by their shape and replaced wherever text leaves the process.

RPC providers and database URLs carry their keys in the URL itself: user-info
(`https://user:pass@host`), query parameters (`?apikey=…`) and path segments (Infura
`/v3/<32 hex>`, Alchemy `/v2/<key>`, QuickNode `/<token>/`, Ankr `/<64 hex>`). Library
exceptions quote the URL they failed on (aiohttp's `ClientResponseError`, for one), so a key
would reach a log line, a traceback or the terminal. `redact_urls` rewrites every URL in a text
with those parts replaced; `url_secrets` names the parts, for redaction of the bare values too.
The hostname, port and ordinary path segments stay: an operator must still see which endpoint
failed.
"""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import parse_qsl, urlsplit

REDACTED = "[REDACTED]"

# Any scheme://… up to whitespace or a quote: how URLs appear in exception texts and reprs.
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\"<>`]+")
# Punctuation that ends a sentence or closes a bracket rather than belonging to the URL.
_TRAILING = ".,;:!?)]}"
# A query parameter whose name says it carries a credential.
_SECRET_PARAM = re.compile(
    r"key|token|secret|pass|pwd|auth|sig|credential|session|jwt|access|private", re.IGNORECASE
)
_KEY_CHARS = re.compile(r"[A-Za-z0-9_\-.~:]+")
# Versioned API prefixes after which providers put the key (Infura /v3/, Alchemy /v2/).
_VERSION = re.compile(r"v\d{1,2}")
# Content identifiers and 0x-hex (transaction hashes, addresses) are public, not keys.
_SLUG = re.compile(r"[a-z][a-z_\-.]*")
_HEX = re.compile(r"[0-9a-fA-F]{32,}")
_PUBLIC = re.compile(r"0x[0-9a-fA-F]+|baf[a-z2-7]{50,}|Qm[1-9A-HJ-NP-Za-km-z]{44}")


def looks_secret(segment: str) -> bool:
    """Whether a path segment or parameter value looks like a key: 16 or more characters of the
    alphabets keys are written in, with a digit or mixed case (a word or a slug has neither)
    or all hex digits (a 32-byte key may have no digit), and not a public identifier."""
    return (
        len(segment) >= 16
        and _KEY_CHARS.fullmatch(segment) is not None
        and (
            any(c.isdigit() for c in segment)
            or segment.lower() != segment != segment.upper()
            or _HEX.fullmatch(segment) is not None
        )
        and _PUBLIC.fullmatch(segment) is None
    )


def _secret_segments(path: str) -> list[int]:
    segments = path.split("/")
    found = []
    for i, segment in enumerate(segments):
        after_version = i > 0 and _VERSION.fullmatch(segments[i - 1]) is not None
        # After /v2/ or /v3/ a shorter key counts too, unless it is a lowercase word or slug.
        keyed = after_version and len(segment) >= 8 and _SLUG.fullmatch(segment) is None
        if (keyed and _PUBLIC.fullmatch(segment) is None) or looks_secret(segment):
            found.append(i)
    return found


def _secret_param(name: str, value: str) -> bool:
    return bool(value) and (_SECRET_PARAM.search(name) is not None or looks_secret(value))


def url_secrets(url: str) -> list[str]:
    """The credential parts of `url` (user name and password, secret query values, key-like
    path segments), as they appear in it."""
    try:
        parts = urlsplit(url)
        found = [p for p in (parts.username, parts.password) if p]
    except ValueError:
        return []
    segments = parts.path.split("/")
    found += [segments[i] for i in _secret_segments(parts.path)]
    found += [
        value
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if _secret_param(name, value)
    ]
    found += [
        raw.partition("=")[2]
        for raw in parts.query.split("&")
        if _secret_param(raw.partition("=")[0], raw.partition("=")[2])
    ]
    return list(dict.fromkeys(found))


def redact_url(url: str) -> str:
    """`url` with its credentials replaced by [REDACTED]; the rest as it was."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    except ValueError:  # not parseable (a bad port, say): keep only the scheme
        return url.partition("://")[0] + "://" + REDACTED
    segments = parts.path.split("/")
    for i in _secret_segments(parts.path):
        segments[i] = REDACTED
    query = "&".join(
        f"{name}={REDACTED}" if _secret_param(name, value) else raw
        for raw in parts.query.split("&")
        if raw
        for name, _, value in [raw.partition("=")]
    )
    fragment = REDACTED if looks_secret(parts.fragment) else parts.fragment
    # Rebuilt by hand, not with urlunsplit: that would turn sqlite:////abs into sqlite://abs.
    return (
        f"{url.partition(':')[0]}://{netloc}{'/'.join(segments)}"
        + (f"?{query}" if "?" in url else "")
        + (f"#{fragment}" if "#" in url else "")
    )


def redact_urls(text: str) -> str:
    """Every URL in `text` passed through `redact_url`."""

    def one(match: re.Match[str]) -> str:
        url = match.group()
        kept = url.rstrip(_TRAILING)
        return redact_url(kept) + url[len(kept) :]

    return _URL.sub(one, text)


def redacted_repr(settings: object) -> str:
    """A dataclass's repr with every URL in it redacted (fields with repr=False left out)."""

    def shown(value: object) -> object:
        if isinstance(value, str) and "://" in value:
            return redact_url(value)
        return tuple(shown(v) for v in value) if isinstance(value, tuple) else value

    fields = (
        f"{f.name}={shown(getattr(settings, f.name))!r}"
        for f in dataclasses.fields(settings)  # type: ignore[arg-type]
        if f.repr
    )
    return f"{type(settings).__name__}({', '.join(fields)})"
