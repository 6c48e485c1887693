"""Publishing content through a kubo node's RPC API (a node of the operator's own, or a hosted
service speaking the same API, reached with KUBO_API_AUTH).

Kubo's RPC API takes POST requests at `<KUBO_API_URL>/api/v0/<command>`. It answers JSON, and
for a failed command HTTP 500 (400 for a request missing what it needs) with
`{"Message": ..., "Code": ..., "Type": "error"}`. What an answer means for the bot:

- 401 or 403: the credentials are refused. An operator must fix KUBO_API_AUTH; until then the
  content waits, so it is raised as a transient fault whose message says so.
- 429, any 5xx that is not kubo saying the content is malformed, a timeout, a dropped or
  refused connection: transient (`KuboUnavailable`, with the Retry-After the API sent).
- kubo's error about the content itself (a block that does not hash to its CID, a CAR it
  cannot read, a block over its size limit, a root missing from the CAR): `PinRefused`.
  Sending the same CAR again would get the same answer.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from yarl import URL

from bot.content.cid import raw_cid
from bot.content.pinning.gateway import MAX_BLOCK_BYTES, GatewayReader, checked
from bot.errors import ConfigError, MintbotError
from bot.ports import BackendCheck, PinningKind, PinRefused

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.env_values import Secret

CAR_TYPE = "application/vnd.ipld.car"
# Connecting gets 10 s. Once connected, a call may take as long as kubo needs (dag/import
# answers only when every block is stored and pinned) as long as bytes keep coming: a read
# that waits 60 s for the next one is a hung call.
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)
# The largest answer read: a block, or pin/ls for a few hundred CIDs.
MAX_ANSWER_BYTES = MAX_BLOCK_BYTES + 1024 * 1024
# Kubo's words when the content it was sent is at fault (lower case, matched as substrings).
CONTENT_FAULTS = (
    "mismatch in content integrity",
    "invalid car",
    "malformed",
    "over 1mib",
    "unsupported",
    "invalid dag-pb",
    "invalid cid",
)
# Kubo's words for a block it does not hold (a root missing from the CAR it was sent).
MISSING_BLOCK = ("not found", "could not find")
# CIDs per pin/ls: they travel in the query string, which proxies in front of hosted APIs
# cap at a few KiB (a CID is 59 characters, 65 with "arg=" and "&").
PIN_LS_BATCH = 50
CREDENTIALS_REFUSED = "the kubo API refused the credentials (KUBO_API_AUTH)"


class KuboUnavailable(MintbotError):
    """The kubo API cannot do it now: unreachable, slow, busy, failing, or refusing the
    credentials. Transient: the content waits and is tried again. `retry_after` is the wait in
    seconds the API asked for, if it did."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class KuboCredentialsRefused(KuboUnavailable):
    """401 or 403: KUBO_API_AUTH is missing or wrong, for an operator to fix."""

    def __init__(self) -> None:
        super().__init__(CREDENTIALS_REFUSED)


@dataclass(frozen=True)
class _Answer:
    """One HTTP answer of the API, read whole."""

    command: str
    status: int
    body: bytes
    headers: Mapping[str, str]

    @property
    def kubo_error(self) -> str | None:
        """The Message of kubo's error JSON, if the answer is one."""
        try:
            value = json.loads(self.body)
        except ValueError:
            return None
        if isinstance(value, dict) and value.get("Type") == "error":
            return str(value.get("Message", ""))
        return None

    @property
    def not_pinned(self) -> bool:
        return self.status == 500 and "is not pinned" in (self.kubo_error or "")

    def json_object(self) -> dict[str, Any]:
        """The answer as the JSON object every command we call answers with."""
        try:
            value = json.loads(self.body)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise KuboUnavailable(f"kubo {self.command} did not answer a JSON object")
        return value


class KuboBackend:
    """`PinningBackend` over kubo's RPC API at `url` (its base, e.g. http://127.0.0.1:5001).

    `auth`, when given, is sent as the whole Authorization header of every API call (and only
    to the API: never to the gateway). Blocks are read back from `gateway_url` (a trustless
    gateway) when given, else from the API's block/get.
    """

    name = "kubo"

    def __init__(
        self,
        url: str,
        auth: Secret | None = None,
        gateway_url: str | None = None,
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    ) -> None:
        # The base is what kubo's own docs call the API address; a URL given with the
        # /api/v0 path already on it means the same API.
        base = url.rstrip("/").removesuffix("/api/v0")
        self._api = URL(base + "/api/v0/")
        self._auth = auth
        self._gateway_url = gateway_url
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._gateway: GatewayReader | None = None
        # Where the API is, for messages: without any user:password the URL carries.
        self.where = str(URL(base).with_user(None))

    def __repr__(self) -> str:
        return f"KuboBackend({self.where!r})"

    # ----- PinningBackend -----------------------------------------------------------------------

    async def pin_car(self, car: bytes, roots: Sequence[str]) -> None:
        """Import the CAR with pin-roots, then confirm with pin/ls that each of `roots` is
        pinned recursively (a hosted API may accept the import and pin later, or not at all)."""
        form = aiohttp.FormData()
        form.add_field("file", car, filename="content.car", content_type=CAR_TYPE)
        answer = await self._call("dag/import", [("pin-roots", "true")], data=form)
        self._raise_unless_ok(answer, about_content=True)
        reported = _import_roots(answer.body)
        for root in roots:
            problem = reported.get(root, "")
            if any(words in problem.lower() for words in MISSING_BLOCK):
                raise PinRefused(f"kubo could not pin {root}: the CAR lacks blocks ({problem})")
            if problem:
                raise KuboUnavailable(f"kubo could not pin {root}: {_short(problem)}")
        pinned = await self.pinned(roots)
        missing = [root for root in roots if root not in pinned]
        if reported and any(root not in reported for root in missing):
            raise PinRefused(f"the CAR's header does not list {', '.join(missing)} as roots")
        if missing:
            raise KuboUnavailable(
                f"kubo imported the CAR but does not list {', '.join(missing)} as pinned"
            )

    async def fetch_block(self, cid: str) -> bytes:
        """The block read back and checked against `cid`: from the gateway if one is set, else
        from the node's own store (offline: a node that lacks the block says so at once
        rather than looking for it on the network)."""
        if self._gateway_url is not None:
            return await self._from_gateway(cid)
        answer = await self._call("block/get", [("arg", cid), ("offline", "true")])
        if answer.status == 500 and any(
            words in (answer.kubo_error or "") for words in MISSING_BLOCK
        ):
            raise KuboUnavailable(f"kubo does not hold block {cid}")
        self._raise_unless_ok(answer)
        if len(answer.body) > MAX_BLOCK_BYTES:
            raise KuboUnavailable(f"kubo sent more than a block for {cid}")
        return checked(cid, answer.body)

    async def pinned(self, cids: Sequence[str]) -> set[str]:
        """Those of `cids` kubo lists as pinned recursively. One pin/ls asks for up to
        PIN_LS_BATCH of them; kubo fails it whole if any one is not pinned, and then each is
        asked for alone."""
        found: set[str] = set()
        for start in range(0, len(cids), PIN_LS_BATCH):
            batch = cids[start : start + PIN_LS_BATCH]
            answer = await self._pin_ls(batch)
            if answer.not_pinned:
                if len(batch) > 1:
                    for cid in batch:
                        found |= await self.pinned([cid])
                continue
            self._raise_unless_ok(answer)
            keys = answer.json_object().get("Keys") or {}
            found |= {cid for cid in batch if cid in keys}
        return found

    async def check(self) -> list[BackendCheck]:
        """Reachable (version), credentials accepted, a tiny block pinned, read back and
        unpinned again. The lines stop at the first that fails."""
        try:
            answer = await self._call("version", [])
        except KuboUnavailable as err:
            return [BackendCheck("kubo API reachable", False, str(err))]
        checks = [BackendCheck("kubo API reachable", True, self.where)]
        if answer.status in (401, 403):
            hint = "" if self._auth is not None else " (none is set)"
            return [
                *checks,
                BackendCheck("credentials accepted", False, CREDENTIALS_REFUSED + hint),
            ]
        if answer.status != 200:
            detail = f"version answered HTTP {answer.status}: is {self.where} kubo's RPC API?"
            return [*checks, BackendCheck("credentials accepted", False, detail)]
        version = answer.json_object().get("Version", "?")
        who = "accepted" if self._auth is not None else "none needed"
        checks.append(BackendCheck("credentials accepted", True, f"{who}; kubo {version}"))
        return [*checks, *await self._test_pin()]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
            self._gateway = None

    # ----- calls --------------------------------------------------------------------------------

    async def _call(
        self,
        command: str,
        params: Sequence[tuple[str, str]],
        data: aiohttp.FormData | None = None,
    ) -> _Answer:
        """POST one command; the answer whatever its status. Raises `KuboUnavailable` for a
        call that got no answer (refused, dropped, timed out)."""
        headers = {} if self._auth is None else {"Authorization": self._auth.reveal()}
        try:
            async with self._http().post(
                self._api / command, params=list(params), data=data, headers=headers
            ) as response:
                body = await _read_capped(response, command)
                return _Answer(command, response.status, body, response.headers)
        except (aiohttp.ClientError, TimeoutError) as err:
            raise KuboUnavailable(
                f"kubo {command} at {self.where} got no answer ({_described(err)})"
            ) from None

    def _raise_unless_ok(self, answer: _Answer, *, about_content: bool = False) -> None:
        """Nothing for a 200; else the exception the answer means (see the module's rules).
        `about_content`: the call sent content, which kubo's error may blame."""
        if answer.status == 200:
            return
        if answer.status in (401, 403):
            raise KuboCredentialsRefused()
        message = answer.kubo_error
        if about_content:
            if message is not None and any(fault in message.lower() for fault in CONTENT_FAULTS):
                raise PinRefused(f"kubo refused the content: {_short(message)}")
            if answer.status == 413:
                raise PinRefused(f"kubo's API takes no request this large ({self.where})")
        said = f": {_short(message)}" if message else ""
        raise KuboUnavailable(
            f"kubo {answer.command} answered HTTP {answer.status}{said}",
            retry_after=_retry_after(answer.headers),
        )

    async def _pin_ls(self, cids: Sequence[str]) -> _Answer:
        return await self._call("pin/ls", [*(("arg", cid) for cid in cids), ("type", "recursive")])

    async def _test_pin(self) -> list[BackendCheck]:
        """Pin a tiny block of fresh bytes, read it back, then remove the pin."""
        data = b"mintbot doctor test pin " + secrets.token_hex(8).encode()
        cid = raw_cid(hashlib.sha256(data).digest())
        form = aiohttp.FormData()
        form.add_field("data", data, filename="test-pin", content_type="application/octet-stream")
        params = [("cid-codec", "raw"), ("mhtype", "sha2-256"), ("pin", "true")]
        try:
            answer = await self._call("block/put", params, data=form)
            self._raise_unless_ok(answer, about_content=True)
            key = answer.json_object().get("Key")
            if key != cid:
                raise KuboUnavailable(f"block/put named the test block {key}, not {cid}")
            if cid not in await self.pinned([cid]):
                raise KuboUnavailable(f"pin/ls does not list the test block {cid}")
            if await self.fetch_block(cid) != data:
                raise KuboUnavailable(f"the test block {cid} read back differs")
        except (PinRefused, MintbotError) as err:
            return [
                BackendCheck("test pin of a tiny block", False, str(err)),
                await self._unpin(cid),
            ]
        return [BackendCheck("test pin of a tiny block", True, cid), await self._unpin(cid)]

    async def _unpin(self, cid: str) -> BackendCheck:
        what = "test pin removed"
        try:
            answer = await self._call("pin/rm", [("arg", cid)])
            # Kubo refuses to remove a pin it does not hold ("not pinned or pinned
            # indirectly"): then there is nothing to remove, which is the goal.
            if answer.status != 200 and "not pinned" not in (answer.kubo_error or ""):
                self._raise_unless_ok(answer)
            if await self.pinned([cid]):
                return BackendCheck(what, False, f"pin/ls still lists {cid}")
        except KuboUnavailable as err:
            return BackendCheck(what, False, str(err))
        return BackendCheck(what, True, cid)

    async def _from_gateway(self, cid: str) -> bytes:
        if self._gateway is None:
            assert self._gateway_url is not None
            self._gateway = GatewayReader(self._gateway_url, self._http())
        try:
            return await self._gateway.fetch_block(cid)
        except (aiohttp.ClientError, TimeoutError) as err:
            raise KuboUnavailable(
                f"reading {cid} back through IPFS_GATEWAY_URL failed ({_described(err)})"
            ) from None

    def _http(self) -> aiohttp.ClientSession:
        """The one session, made on first use (inside the running event loop). It carries no
        Authorization header of its own: `_call` adds it to API calls only."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session


def open_kubo(settings: Settings) -> KuboBackend:
    """The kubo backend PINNING=kubo names, from KUBO_API_URL, KUBO_API_AUTH and
    IPFS_GATEWAY_URL."""
    if settings.kubo_api_url is None:
        raise ConfigError("KUBO_API_URL", "required when PINNING names kubo")
    url = URL(settings.kubo_api_url)
    if url.user is not None and settings.kubo_api_auth is not None:
        raise ConfigError(
            "KUBO_API_URL", "carries a user:password and KUBO_API_AUTH is set too: give one"
        )
    return KuboBackend(settings.kubo_api_url, settings.kubo_api_auth, settings.ipfs_gateway_url)


KUBO = PinningKind("kubo", open_kubo)


def _import_roots(body: bytes) -> dict[str, str]:
    """dag/import's answer, one JSON object a line: each root it reports, with the reason it
    could not pin it ('' when pinned)."""
    roots: dict[str, str] = {}
    for line in body.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        root = value.get("Root") if isinstance(value, dict) else None
        if isinstance(root, dict) and isinstance(root.get("Cid"), dict):
            roots[str(root["Cid"].get("/"))] = str(root.get("PinErrorMsg") or "")
    return roots


async def _read_capped(response: aiohttp.ClientResponse, command: str) -> bytes:
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            raise KuboUnavailable(f"kubo {command} answered more than {MAX_ANSWER_BYTES} bytes")
    return bytes(body)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After in seconds, when given as a number (its date form is not used by APIs
    that rate-limit)."""
    try:
        return max(0.0, float(headers.get("Retry-After", "")))
    except ValueError:
        return None


def _described(err: BaseException) -> str:
    """The kind of network fault, without aiohttp's text (which may quote the URL)."""
    if isinstance(err, TimeoutError):
        return "timed out"
    if isinstance(err, aiohttp.ClientResponseError):
        return f"HTTP {err.status}"
    if isinstance(err, aiohttp.ClientConnectorError):
        return "connection refused or unreachable"
    return type(err).__name__


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
