"""python-telegram-bot's HTTP calls over aiohttp, through PTB's documented `BaseRequest` hook.

PTB's default transport is httpx. Under a burst it was most of the bot's CPU: with 300 mint
messages at once, httpcore's pool bookkeeping and per-call overhead left the bot's "minting…"
replies 15-20 ms apart (bench/telegram_reply.py). aiohttp is already the bot's HTTP stack
(web server, Discord) and costs a fraction of that per call.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData

FORM = "application/x-www-form-urlencoded"
DOWNLOAD_CHUNK = 64 * 1024


class FileTooBig(Exception):
    """A download passed its byte cap; `size` is the file's length when the server declared
    it, else None (the rest was never read)."""

    def __init__(self, size: int | None) -> None:
        super().__init__("file over the download cap")
        self.size = size


class AiohttpRequest(BaseRequest):
    def __init__(
        self,
        *,
        connections: int = 64,
        read_timeout: float = 5.0,
        write_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        pool_timeout: float = 5.0,
        media_write_timeout: float = 20.0,
    ) -> None:
        self._connections = connections
        self._timeouts = {
            "read": read_timeout,
            "write": write_timeout,
            "connect": connect_timeout,
            "pool": pool_timeout,
        }
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float:
        return self._timeouts["read"]

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, limit_per_host=self._connections),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data is not None and request_data.contains_files
        write = self._timeout(write_timeout, "write")
        if files and isinstance(write_timeout, DefaultValue):
            write = self._media_write_timeout
        # aiohttp has no separate write timeout; the read clock covers the whole answer.
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=(self._timeout(pool_timeout, "pool") or 0)
            + (self._timeout(connect_timeout, "connect") or 0)
            or None,
            sock_read=max(self._timeout(read_timeout, "read") or 0, write or 0) or None,
        )
        try:
            async with self._session.request(
                method, url, data=_body(request_data), timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp: {err!r}") from err

    async def retrieve_at_most(self, url: str, max_bytes: int) -> bytes:
        """GET a file's bytes, reading no more than `max_bytes` of it whatever its size is said
        to be: past that, `FileTooBig`, and the connection is closed on the rest.

        Errors never name the URL: a Bot API file URL carries the bot's token."""
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=(self._timeouts["pool"] or 0) + (self._timeouts["connect"] or 0) or None,
            sock_read=self._timeouts["read"],
        )
        try:
            async with self._session.get(url, timeout=timeout) as response:
                if response.status != 200:
                    raise NetworkError(f"the file server answered {response.status}")
                declared = response.content_length
                if declared is not None and declared > max_bytes:
                    response.close()
                    raise FileTooBig(declared)
                data = bytearray()
                async for chunk in response.content.iter_chunked(DOWNLOAD_CHUNK):
                    data += chunk
                    if len(data) > max_bytes:
                        response.close()
                        raise FileTooBig(None)
                return bytes(data)
        except TimeoutError:
            raise TimedOut("a file download timed out") from None
        except aiohttp.ClientError as err:
            raise NetworkError(f"a file download failed: {type(err).__name__}") from None

    @staticmethod
    def parse_json_payload(payload: bytes) -> Any:
        """PTB's documented hook for parsing answers: orjson, as discord.py uses it."""
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError as err:
            raise TelegramError("Invalid server response") from err

    def _timeout(self, given: ODVInput[float], kind: str) -> float | None:
        if isinstance(given, DefaultValue):
            return self._timeouts[kind]
        return given


def _body(request_data: RequestData | None) -> Any:
    """Form fields as PTB encodes them (JSON for nested values); multipart when files go up.

    URL-encoded by hand: a plain dict would make aiohttp build a FormData, whose multipart
    writer compiles a fresh regular expression per call (half of a reply's CPU in a burst)."""
    if request_data is None:
        return None
    if not request_data.contains_files:
        return aiohttp.payload.BytesPayload(
            request_data.url_encoded_parameters().encode(), content_type=FORM
        )
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mime_type) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mime_type)
    return form
