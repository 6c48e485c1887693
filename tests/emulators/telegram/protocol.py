"""The Bot API's envelope: the bot's token, its answer to a failed call, and a call's
parameters read the ways python-telegram-bot sends them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-emulator-token"
BOT_ID = 123456

# One Bot API method: its parameters in, its `result` out (or ApiError).
Method = Callable[[dict[str, Any]], Awaitable[Any]]


class ApiError(Exception):
    """A method's refusal, answered as `{"ok": false, "error_code", "description"}`."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


def error_response(code: int, description: str, **more: Any) -> web.Response:
    body = {"ok": False, "error_code": code, "description": description, **more}
    return web.json_response(body, status=code)


def too_many_requests(retry_after: int) -> web.Response:
    """Telegram's flood-control answer: wait `retry_after` seconds, then try again."""
    return error_response(
        429,
        f"Too Many Requests: retry after {retry_after}",
        parameters={"retry_after": retry_after},
    )


async def read_params(request: web.Request) -> dict[str, Any]:
    """python-telegram-bot sends form fields (JSON for nested values) or multipart; accept JSON
    and query strings too, as the Bot API does."""
    raw: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        raw |= await request.json()
    elif request.can_read_body:
        for key, value in (await request.post()).items():
            raw[key] = value if isinstance(value, str) else value.file.read()  # an upload
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and value[:1] in "{[":
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        params[key] = value
    return params
