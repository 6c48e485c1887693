"""JSON-RPC endpoints: naming one without what it may hide, checking at start that each is the
chain expected, and fail-over between them. Shared by the web3 client (`bot.chain.client`),
the web role's own reader (`bot.chain.reads`) and `doctor`.

Every request goes to the first endpoint that is not resting. One that times out, refuses the
connection, answers an HTTP error (429, 5xx, 401 ...) or a JSON-RPC rate-limit error rests for a
back-off period (doubling while it keeps failing) and is tried again after it; a request tries
each endpoint at most once (resting ones last) and then raises `EndpointFault`, a transient
fault the caller's own bounded retry meets. A definitive JSON-RPC answer (a revert, "nonce too
low", invalid params) is the answer: it is returned, never failed over.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp

from bot.errors import ChainError
from bot.redact import redact_url

log = logging.getLogger(__name__)

# Idle connections are closed after this long, before the idle timeouts HTTP servers commonly
# use (5 s and up) could close one just as it is reused.
KEEPALIVE_S = 4.0
REST_S = 5.0  # a failed endpoint's first rest; doubled per further failure, up to MAX_REST_S
MAX_REST_S = 300.0
JSON_HEADERS = {"Content-Type": "application/json"}

# JSON-RPC errors that say "not now" rather than "no": providers' rate limits and overloads.
_BUSY = (
    "rate limit",
    "limit exceeded",
    "too many requests",
    "exceeded",
    "capacity",
    "try again",
    "temporarily",
    "timeout",
    "timed out",
    "overloaded",
    "unavailable",
)
# ... unless the message is about the transaction itself ("exceeds block gas limit").
_ABOUT_THE_TX = ("gas", "nonce", "revert", "fee", "funds", "balance", "underpriced")
_BUSY_CODES = (-32005, 429, -32029)


def describe(url: str) -> str:
    """The endpoint as it may be shown: credentials redacted (`bot.redact`)."""
    return redact_url(url)


def no_answer(url: str, err: BaseException) -> ChainError:
    # Not str(err): it may quote the full URL, and provider URLs often embed an API key.
    reason = getattr(err, "strerror", None) or getattr(err, "reason", None) or type(err).__name__
    return ChainError(f"RPC_URL: no answer from {describe(url)} ({reason})")


def chain_mismatch(url: str, chain_id: int, expected: int | None) -> ChainError | None:
    """The error to raise when the endpoint's `chain_id` is not the one `expected` (when one
    is), else None."""
    if expected is None or chain_id == expected:
        return None
    return ChainError(
        f"CHAIN_ID: the RPC at {describe(url)} is chain {chain_id}, but CHAIN_ID is {expected}"
    )


class EndpointFault(ConnectionError):
    """An endpoint (or every endpoint) failed a request in a way that says nothing about the
    request: a transient fault. The message names the endpoint redacted."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"RPC endpoint {describe(url)}: {reason}")
        self.reason = reason


def busy_error(answer: Any) -> str | None:
    """The reason, if a JSON-RPC answer is a rate-limit or overload error; else None."""
    error = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(error, dict):
        return None
    message = str(error.get("message", "")).lower()
    if any(word in message for word in _ABOUT_THE_TX):
        return None
    if error.get("code") in _BUSY_CODES or any(word in message for word in _BUSY):
        return f"JSON-RPC error {error.get('code')}: {message[:80]}"
    return None


class EndpointPool:
    """The endpoints of one chain in the order requests prefer them, and which are resting."""

    def __init__(
        self,
        urls: Sequence[str],
        expected_chain_id: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.urls = tuple(urls)
        self.expected_chain_id = expected_chain_id
        self.unverified: set[str] = set()  # did not answer at start: chain ID checked first
        self._clock = clock
        self._rest_until: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._disabled: set[str] = set()

    def order(self) -> list[str]:
        """Endpoints not resting, in the configured order, then resting ones, soonest back
        first (a last resort: better than no answer)."""
        now = self._clock()
        usable = [u for u in self.urls if u not in self._disabled]
        ready = [u for u in usable if self._rest_until.get(u, 0.0) <= now]
        resting = sorted((u for u in usable if u not in ready), key=self._rest_until.__getitem__)
        return ready + resting

    def failed(self, url: str, reason: str) -> None:
        failures = self._failures.get(url, 0) + 1
        self._failures[url] = failures
        rest = min(REST_S * 2 ** (failures - 1), MAX_REST_S)
        self._rest_until[url] = self._clock() + rest
        if len(self.urls) > 1:
            log.warning(
                "RPC endpoint %s failed (%s); resting it %.0f s", describe(url), reason, rest
            )

    def succeeded(self, url: str) -> None:
        if self._failures.pop(url, 0) and len(self.urls) > 1:
            log.info("RPC endpoint %s answers again", describe(url))
        self._rest_until.pop(url, None)

    def disable(self, url: str, reason: str) -> None:
        """Never use `url` again (it is on another chain)."""
        self._disabled.add(url)
        log.error("RPC endpoint %s is not used: %s", describe(url), reason)

    async def post(self, session: aiohttp.ClientSession, body: bytes, timeout: float) -> bytes:
        """POST a JSON-RPC request to the first endpoint that answers it; `EndpointFault`
        if none did."""
        fault = EndpointFault(self.urls[0], "no endpoint left on the expected chain")
        for url in self.order():
            try:
                if url in self.unverified and not await self._verify(session, url, timeout):
                    continue
                raw = await post_once(session, url, body, timeout)
                reason = busy_error(_decoded(raw))
            except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as err:
                # ValueError: a chain ID that is not a hex number
                reason = getattr(err, "reason", None) or type(err).__name__
            if reason is None:
                self.succeeded(url)
                return raw
            self.failed(url, reason)
            fault = EndpointFault(url, reason)
        raise fault

    async def _verify(self, session: aiohttp.ClientSession, url: str, timeout: float) -> bool:
        chain_id = await chain_id_of(session, url, timeout)
        mismatch = chain_mismatch(url, chain_id, self.expected_chain_id)
        if mismatch is not None:
            self.disable(url, str(mismatch).partition(": ")[2])
            return False
        self.unverified.discard(url)
        return True

    async def check(self, session: aiohttp.ClientSession, timeout: float) -> int:
        """At start: each endpoint that answers must be on the expected chain (or, with none
        expected, on the first one's); ChainError if one is not, or if none answers. One that
        does not answer is checked when it first does."""
        first_error: BaseException | None = None
        for url in self.urls:
            try:
                chain_id = await chain_id_of(session, url, timeout)
            except Exception as err:  # any failure to reach the node means the same thing
                first_error = first_error or err
                self.unverified.add(url)
                self.failed(url, getattr(err, "reason", None) or type(err).__name__)
                continue
            mismatch = chain_mismatch(url, chain_id, self.expected_chain_id)
            if mismatch is not None:
                raise mismatch
            self.expected_chain_id = chain_id
        if self.expected_chain_id is None or len(self.unverified) == len(self.urls):
            raise no_answer(self.urls[0], first_error or TimeoutError())
        return self.expected_chain_id


class BadAnswer(aiohttp.ClientError):
    """An HTTP error or an answer that is not JSON-RPC, named without the URL (aiohttp's own
    errors quote it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def post_once(session: aiohttp.ClientSession, url: str, body: bytes, timeout: float) -> bytes:
    async with session.post(
        url,
        data=body,
        headers=JSON_HEADERS,
        timeout=aiohttp.ClientTimeout(total=timeout),
        raise_for_status=False,
    ) as response:
        if response.status >= 400:
            raise BadAnswer(f"HTTP {response.status}")
        return await response.read()


async def chain_id_of(session: aiohttp.ClientSession, url: str, timeout: float) -> int:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    answer = _decoded(await post_once(session, url, body.encode(), timeout))
    if not isinstance(answer, dict) or not isinstance(answer.get("result"), str):
        raise BadAnswer("no chain ID in the answer")
    return int(answer["result"], 16)


async def probe(session: aiohttp.ClientSession, url: str, timeout: float) -> str:
    """One line on an endpoint's health, its URL redacted: reachable, chain ID, latest block
    and the round trip of one call, or why it did not answer."""
    started = time.perf_counter()
    try:
        chain_id = await chain_id_of(session, url, timeout)
        elapsed_ms = (time.perf_counter() - started) * 1000
        body = {"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber", "params": []}
        block = _decoded(await post_once(session, url, json.dumps(body).encode(), timeout))
        latest = int(block["result"], 16)
    except Exception as err:  # what is said is the same for every failure: it did not answer
        reason = getattr(err, "reason", None) or type(err).__name__
        return f"{describe(url)}: no answer ({reason})"
    return f"{describe(url)}: reachable, chain {chain_id}, block {latest}, {elapsed_ms:.0f} ms"


def _decoded(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None
