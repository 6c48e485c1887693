"""URL credentials are redacted by their shape, wherever a URL sits in a text: generated URLs
with a random key in each place a provider puts one."""

from __future__ import annotations

import logging
import string
import sys

from hypothesis import given
from hypothesis import strategies as st

from bot.logs import RedactingFormatter
from bot.redact import REDACTED, redact_url, redact_urls, url_secrets

# A key as providers issue them: 16 to 64 characters of letters and digits, with a digit (a
# word of letters alone is not a key; `looks_secret` says the rule).
KEYS = st.text(string.ascii_letters + string.digits, min_size=16, max_size=64).filter(
    lambda k: any(c.isdigit() for c in k)
)
HEX_KEYS = st.sampled_from([32, 64]).flatmap(
    lambda n: st.text("0123456789abcdef", min_size=n, max_size=n)
)
HOSTS = st.sampled_from(
    ["mainnet.infura.io", "eth-mainnet.g.alchemy.com", "rpc.ankr.com", "127.0.0.1:8545", "h.io"]
)
PLAIN = st.sampled_from(["", "/", "/rpc", "/eth/mainnet", "/api"])
SCHEMES = st.sampled_from(["http", "https", "wss", "postgresql+asyncpg"])
PARAMS = st.sampled_from(["apikey", "key", "token", "api_key", "accessToken", "secret", "auth"])


@st.composite
def urls_with_a_key(draw: st.DrawFn) -> tuple[str, str]:
    """(url, key): the key in the path (after /v3/, /v2/, alone, hex), the query, or the
    user-info."""
    key = draw(st.one_of(KEYS, HEX_KEYS))
    scheme, host, plain = draw(SCHEMES), draw(HOSTS), draw(PLAIN)
    place = draw(st.sampled_from(["v3", "v2", "segment", "trailing", "query", "password", "user"]))
    if place in ("v3", "v2"):
        url = f"{scheme}://{host}/{place}/{key}"
    elif place == "segment":
        url = f"{scheme}://{host}{plain.rstrip('/')}/{key}"
    elif place == "trailing":
        url = f"{scheme}://{host}/{key}/"
    elif place == "query":
        url = f"{scheme}://{host}{plain}?chain=1&{draw(PARAMS)}={key}&x=y"
    elif place == "password":
        url = f"{scheme}://mintbot:{key}@{host}{plain}"
    else:
        url = f"{scheme}://{key}@{host}{plain}"
    return url, key


@given(urls_with_a_key(), st.sampled_from(["{}", "url='{}'", "({})", "at {}.", "URL('{}')"]))
def test_a_key_anywhere_in_a_url_is_redacted_in_any_text(case: tuple[str, str], frame: str):
    url, key = case
    text = "401, message='Unauthorized', " + frame.format(url) + " and on"
    redacted = redact_urls(text)
    assert key not in redacted
    assert REDACTED in redacted
    assert key in url_secrets(url)
    host = url.split("://")[1].split("/")[0].split("?")[0].rpartition("@")[2]
    assert host in redacted  # which endpoint it was is still said


@given(urls_with_a_key())
def test_the_log_formatter_redacts_urls_in_messages_and_tracebacks(case: tuple[str, str]):
    url, key = case
    formatter = RedactingFormatter("%(message)s", [])
    try:
        raise RuntimeError(f"request to {url} failed")
    except RuntimeError:
        record = logging.LogRecord(
            "t", logging.WARNING, __file__, 1, "at %s", (url,), sys.exc_info()
        )
    assert key not in formatter.format(record)


@given(
    st.sampled_from(
        [
            "http://127.0.0.1:8545",
            "https://basescan.org/tx/0x" + "ab" * 32,
            "https://basescan.org/address/0x" + "cd" * 20,
            "http://127.0.0.1:8080/ipfs/bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
            "https://api.example/v1/collections/community-art",
            "sqlite+aiosqlite:////tmp/data/mintbot.sqlite3",
        ]
    )
)
def test_public_urls_are_left_as_they_are(url: str):
    assert redact_url(url) == url
    assert url_secrets(url) == []


def test_provider_urls_as_they_are_written():
    for url, shown in [
        ("https://mainnet.infura.io/v3/" + "0a" * 16, "https://mainnet.infura.io/v3/[REDACTED]"),
        ("https://base.g.alchemy.com/v2/demo-Key_1", "https://base.g.alchemy.com/v2/[REDACTED]"),
        ("https://rpc.ankr.com/eth/" + "ab" * 32, "https://rpc.ankr.com/eth/[REDACTED]"),
        ("https://a-b.quiknode.pro/" + "3f" * 20 + "/", "https://a-b.quiknode.pro/[REDACTED]/"),
        ("https://u:p@h:1/x?apikey=1&n=2", "https://[REDACTED]@h:1/x?apikey=[REDACTED]&n=2"),
        ("postgresql+asyncpg://mintbot:pw@db/m", "postgresql+asyncpg://[REDACTED]@db/m"),
        (
            "https://api.telegram.org/bot123456:AAH-x_yZ/getMe",
            "https://api.telegram.org/[REDACTED]/getMe",
        ),
    ]:
        assert redact_url(url) == shown
