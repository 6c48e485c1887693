"""Pinata as a pinning backend, through its files API (v3).

Content goes up as CAR files (`car=true`, which Pinata takes on its public network only), so
Pinata keeps the bot's own CIDs instead of hashing the bytes its own way. One upload is one
Pinata file with one CID, so a CAR with several roots goes up as one CAR per root. The JWT
travels only in the Authorization header of requests to Pinata's API and upload hosts: never in
a URL, a log line, an exception or a request to a gateway.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import aiohttp

from bot.content.car import CarFormatError, car_of_root, read_car, write_car
from bot.content.cid import Block, raw_cid
from bot.content.pinning.gateway import BlockMismatch, GatewayReader
from bot.env_values import Secret
from bot.errors import ConfigError, MintbotError
from bot.ports import BackendCheck, PinningKind, PinRefused

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

NETWORK = "public"  # CAR uploads are taken on the public network only
CAR_TYPE = "application/vnd.ipld.car"
# An upload may be an image of several MB on a slow link; a list or delete is small.
TIMEOUT = aiohttp.ClientTimeout(total=300, sock_connect=15)
# Answers to an upload that say the CAR itself is wrong, so sending it again would not help.
REFUSALS = frozenset({400, 413, 422})
DETAIL_CHARS = 300


class PinataUnavailable(MintbotError):
    """Pinata cannot take or answer a request now (unreachable, credentials refused, rate
    limited, a server error): a transient fault, retried later. `retry_after` is the wait in
    seconds Pinata asked for, if it said."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class PinataBackend:
    """Pins CARs on Pinata and reads their blocks back through a gateway."""

    name = "pinata"

    def __init__(
        self,
        jwt: Secret,
        *,
        api_url: str,
        upload_url: str,
        gateway_url: str,
    ) -> None:
        self._jwt = jwt
        self.api_url = api_url.rstrip("/")
        self.upload_url = upload_url.rstrip("/")
        self.gateway_url = gateway_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"PinataBackend(api_url={self.api_url!r}, gateway_url={self.gateway_url!r})"

    # ----- the port -----------------------------------------------------------------------------

    async def pin_car(self, car: bytes, roots: Sequence[str]) -> None:
        """Upload the CAR (one per root) and check that Pinata kept each root's CID."""
        for root, data in _one_car_per_root(car, roots):
            await self._upload(root, data)

    async def fetch_block(self, cid: str) -> bytes:
        """The block's bytes from the gateway, checked against `cid`."""
        return await GatewayReader(self.gateway_url, self._client()).fetch_block(cid)

    async def pinned(self, cids: Sequence[str]) -> set[str]:
        """Those of `cids` that Pinata lists as files on the public network."""
        return {cid for cid in dict.fromkeys(cids) if await self._file_ids(cid)}

    async def check(self) -> list[BackendCheck]:
        """Pinata answers and takes PINATA_JWT; a tiny block pins, reads back and goes away."""
        checks: list[BackendCheck] = []
        try:
            body = await self._request(
                "GET", f"{self.api_url}/data/testAuthentication", "testing the key"
            )
        except (PinataUnavailable, aiohttp.ClientError, TimeoutError) as err:
            return [BackendCheck("Pinata API reachable and PINATA_JWT accepted", False, str(err))]
        checks.append(
            BackendCheck(
                "Pinata API reachable and PINATA_JWT accepted", True, body.get("message", "")
            )
        )
        # Random bytes: the test file cannot be one anybody pinned, so removing it removes
        # nothing else.
        data = b"mintbot doctor " + secrets.token_hex(16).encode()
        cid = raw_cid(hashlib.sha256(data).digest())
        out = io.BytesIO()
        write_car(out, [cid], [Block(cid, data)])
        try:
            await self._upload(cid, out.getvalue())
            listed = await self.pinned([cid])
            checks.append(BackendCheck("test pin of a tiny block", cid in listed, cid))
            if cid in listed:
                checks.append(await self._read_back_check(cid, data))
        except (PinataUnavailable, PinRefused, aiohttp.ClientError, TimeoutError) as err:
            checks.append(BackendCheck("test pin of a tiny block", False, str(err)))
        finally:
            checks.append(await self._remove_test_pin(cid))
        return checks

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ----- requests -----------------------------------------------------------------------------

    async def _upload(self, root: str, car: bytes) -> None:
        form = aiohttp.FormData()
        form.add_field("file", car, filename=f"{root}.car", content_type=CAR_TYPE)
        form.add_field("network", NETWORK)
        form.add_field("car", "true")
        form.add_field("name", root)
        body = await self._request(
            "POST", f"{self.upload_url}/v3/files", f"pinning {root}", data=form, upload_of=root
        )
        stored = (body.get("data") or {}).get("cid")
        if stored != root:
            # Pinata hashed the upload itself instead of keeping the CAR's root: the bot's
            # CID would point at nothing there, and uploading again would do the same.
            raise PinRefused(f"Pinata stored the CAR for {root} as {stored!r}, not under its root")
        log.info("pinned %s on Pinata (%d bytes of CAR)", root, len(car))

    async def _file_ids(self, cid: str) -> list[str]:
        body = await self._request(
            "GET",
            f"{self.api_url}/v3/files/{NETWORK}",
            f"looking up {cid}",
            params={"cid": cid, "limit": "100"},
        )
        files = (body.get("data") or {}).get("files") or []
        return [str(file["id"]) for file in files if file.get("cid") == cid]

    async def _read_back_check(self, cid: str, data: bytes) -> BackendCheck:
        what = f"read back through {self.gateway_url}"
        try:
            same = await self.fetch_block(cid) == data
        except (BlockMismatch, aiohttp.ClientError, TimeoutError) as err:
            return BackendCheck(what, False, f"{cid}: {err}")
        return BackendCheck(what, same, cid)

    async def _remove_test_pin(self, cid: str) -> BackendCheck:
        what = "test pin removed"
        try:
            for file_id in await self._file_ids(cid):
                await self._request(
                    "DELETE", f"{self.api_url}/v3/files/{NETWORK}/{file_id}", f"removing {cid}"
                )
            left = await self._file_ids(cid)
        except (PinataUnavailable, aiohttp.ClientError, TimeoutError) as err:
            return BackendCheck(what, False, f"{cid}: {err}")
        return BackendCheck(what, not left, cid if not left else f"{cid} is still listed")

    async def _request(
        self,
        method: str,
        url: str,
        doing: str,
        *,
        upload_of: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """One API call with the JWT as a bearer token; its JSON answer, or an error."""
        headers = {"Authorization": f"Bearer {self._jwt.reveal()}", "Accept": "application/json"}
        try:
            async with self._client().request(
                method, url, headers=headers, allow_redirects=False, **kwargs
            ) as response:
                if response.status < 300:
                    if response.content_type != "application/json":
                        return {}
                    answer = await response.json()
                    return answer if isinstance(answer, dict) else {}
                detail = self._detail(await response.read())
                status, wait = response.status, _retry_after(response.headers)
        except TimeoutError:
            raise PinataUnavailable(f"Pinata did not answer in time while {doing}") from None
        if status in REFUSALS and upload_of is not None:
            raise PinRefused(f"Pinata refused the CAR for {upload_of} (HTTP {status}): {detail}")
        raise self._error(status, wait, doing, detail)

    def _error(self, status: int, wait: float | None, doing: str, detail: str) -> PinataUnavailable:
        if status in (401, 403):
            message = (
                f"Pinata refused the key in PINATA_JWT (HTTP {status}) while {doing}: check "
                "that the key exists, is not revoked and may write, list and delete files"
            )
        elif status == 429:
            after = f"; it asks to wait {wait:g} s" if wait is not None else ""
            message = f"Pinata is limiting our request rate (HTTP 429) while {doing}{after}"
        else:
            message = f"Pinata answered HTTP {status} while {doing}: {detail}"
        log.warning("%s", message)
        return PinataUnavailable(message, status=status, retry_after=wait)

    def _detail(self, body: bytes) -> str:
        """A short reason from an error body: `{"error": {"reason", "details"}}`, `{"error":
        "..."}` or text. The key is cut out in case a body ever echoes it."""
        text = body[:4096].decode("utf-8", "replace")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            error = parsed.get("error", parsed)
            if isinstance(error, dict):
                parts = (error.get(key) for key in ("reason", "details", "message"))
                text = ": ".join(str(part) for part in parts if part)
            else:
                text = str(error)
        key = self._jwt.reveal()
        if key:
            text = text.replace(key, "**********")
        return text.strip()[:DETAIL_CHARS]

    def _client(self) -> aiohttp.ClientSession:
        # No default headers: the session also talks to gateways, which must not see the key.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._session


def _one_car_per_root(car: bytes, roots: Sequence[str]) -> list[tuple[str, bytes]]:
    if len(roots) == 1:
        return [(roots[0], car)]
    try:
        blocks = {block.cid: block for block in read_car(car)}
        return [(root, car_of_root(root, blocks)) for root in dict.fromkeys(roots)]
    except CarFormatError as err:
        raise PinRefused(f"the CAR cannot be split by root: {err}") from err


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After in seconds, when given as seconds (the form rate limiters use)."""
    try:
        return max(0.0, float(headers.get("Retry-After", "")))
    except ValueError:
        return None


def open_pinata(settings: Settings) -> PinataBackend:
    if settings.pinata_jwt is None:
        raise ConfigError("PINATA_JWT", "required when PINNING names pinata")
    return PinataBackend(
        settings.pinata_jwt,
        api_url=settings.pinata_api_url,
        upload_url=settings.pinata_upload_url,
        gateway_url=settings.ipfs_gateway_url or settings.pinata_gateway_url,
    )


PINATA = PinningKind(name="pinata", open=open_pinata)
