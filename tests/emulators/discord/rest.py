"""The REST API's routes: authentication and recording of every call, the bot's user and
application, command sync, interaction callbacks and webhooks (follow-ups, edits, deletes of
the original response), channel messages, and attachment downloads (whole or streamed)."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tests.emulators.discord.commands import refusals
from tests.emulators.discord.objects import (
    API,
    APPLICATION_ID,
    EPHEMERAL,
    TOKEN,
    json_response,
    message_object,
    snowflake,
    user_object,
)
from tests.emulators.discord.recording import Call, DiscordRecording
from tests.emulators.discord.world import DiscordWorld

BODY = web.RequestKey("body", object)


class RestApi:
    """Answers the bot's HTTP requests from the world, writing down what it did."""

    def __init__(self, world: DiscordWorld, recording: DiscordRecording) -> None:
        self._world = world
        self._recording = recording

    def add_routes(self, app: web.Application) -> None:
        """The routes; `record` must be among the application's middlewares."""
        app.router.add_get("/attachments/{id}/{filename}", self._attachment)
        app.router.add_route("*", API + "/{path:.*}", self._rest)

    @web.middleware
    async def record(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith(API):
            body: Any = None
            if request.content_type == "application/json":
                body = await request.json()
            elif request.content_type.startswith("multipart/"):
                form = await request.post()
                body = json.loads(str(form.get("payload_json", "{}")))
                # Uploaded files, by file name, where tests can read them.
                uploads = {
                    part.filename: part.file.read()
                    for part in form.values()
                    if isinstance(part, web.FileField)
                }
                if uploads:
                    (body.get("data", body) if isinstance(body, dict) else {})["uploads"] = uploads
            request[BODY] = body
            path = request.path[len(API) :]
            call = Call(request.method, path, body, time.monotonic(), request.url.host or "")
            self._recording.calls.append(call)
            # Interaction callbacks and webhooks authenticate by the token in their path.
            by_token = path.startswith(("/interactions/", "/webhooks/"))
            if not by_token and request.headers.get("Authorization") != f"Bot {TOKEN}":
                return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        return await handler(request)

    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        attachment_id = request.match_info["id"]
        data, content_type = self._world.attachments[attachment_id]
        size = self._world.streamed.get(attachment_id)
        if size is None:
            return web.Response(body=data, content_type=content_type)
        response = web.StreamResponse(headers={"Content-Type": content_type})
        response.enable_chunked_encoding()
        await response.prepare(request)
        bytes_sent = self._recording.bytes_sent
        bytes_sent[attachment_id] = 0
        try:
            while (sent := bytes_sent[attachment_id]) < size:
                piece = data[sent : sent + 65536]  # the file itself, then zeros
                piece += bytes(min(65536, size - sent) - len(piece))
                await response.write(piece)
                bytes_sent[attachment_id] += len(piece)
            await response.write_eof()
        except ConnectionError:
            self._recording.sent_whole[attachment_id] = False
        else:
            self._recording.sent_whole[attachment_id] = True
        return response

    async def _rest(self, request: web.Request) -> web.Response:
        parts = request.match_info["path"].strip("/").split("/")
        method, body = request.method, request.get(BODY)
        recording = self._recording
        match parts:
            case ["users", "@me"]:
                return json_response({**self._world.bot_user, "bot": True})
            case ["gateway"] | ["gateway", "bot"]:
                return json_response(
                    {
                        "url": self._world.gateway_url_at(request.url.host or "127.0.0.1"),
                        "shards": self._world.recommended_shards,
                        "session_start_limit": {
                            "total": 1000,
                            "remaining": 999,
                            "reset_after": 0,
                            "max_concurrency": 1,
                        },
                    }
                )
            case ["oauth2", "applications", "@me"] | ["applications", "@me"]:
                return json_response(
                    {
                        "id": APPLICATION_ID,
                        "name": "mintbot",
                        "icon": None,
                        "description": "",
                        "bot_public": True,
                        "bot_require_code_grant": False,
                        "verify_key": "0" * 64,
                        "flags": 0,
                        "owner": user_object("1", "owner"),
                        "team": None,
                    }
                )
            case ["applications", _, "commands"] | ["applications", _, "guilds", _, "commands"]:
                if method == "PUT":
                    faults = refusals(body)
                    if faults:  # Discord's answer to a body it refuses
                        return json_response(
                            {"code": 50035, "message": "Invalid Form Body", "errors": faults},
                            status=400,
                        )
                    recording.commands = {c["name"]: {**c, "id": snowflake()} for c in body}
                    recording.synced.set()
                return json_response(
                    [
                        {"description": "", **c, "application_id": APPLICATION_ID, "version": "1"}
                        for c in recording.commands.values()
                    ]
                )
            case ["interactions", interaction_id, token, "callback"]:
                return self._callback(interaction_id, token, body)
            case ["webhooks", _, token, *rest]:
                return self._webhook(method, token, rest, body)
            case ["channels", channel_id, "messages"] if method == "POST":
                message = self._message(body, channel_id)
                recording.channel_messages.append(message)
                return json_response(message)
            case ["channels", channel_id, "messages", message_id] if method == "PATCH":
                found = next((m for m in recording.channel_messages if m["id"] == message_id), None)
                if found is None:
                    return json_response({"message": "Unknown Message", "code": 10008}, 404)
                found.update({k: v for k, v in body.items() if k != "attachments"})
                found.setdefault("edits", []).append(body)
                return json_response(found)
        return json_response({"message": "404: Not Found", "code": 0}, 404)

    def _callback(self, interaction_id: str, token: str, body: dict[str, Any]) -> web.Response:
        interaction = self._recording.interactions.get(interaction_id)
        if (
            interaction is None
            or interaction.token != token
            or interaction.timed_out
            or interaction.expired
        ):
            return json_response({"message": "Unknown interaction", "code": 10062}, 404)
        if self._world.refusing_callbacks:
            return json_response({"message": "Missing Access", "code": 50001}, 403)
        if interaction.callbacks:
            return json_response(
                {"message": "Interaction has already been acknowledged.", "code": 40060}, 400
            )
        interaction.callbacks.append(body)
        interaction.callback_at = time.monotonic()
        data = body.get("data") or {}
        message = self._message(data, interaction.payload["channel_id"])
        if body["type"] in (4, 5):
            interaction.original = message
            interaction.loading = body["type"] == 5
        return json_response(
            {
                "interaction": {
                    "id": interaction_id,
                    "type": interaction.payload["type"],
                    "response_message_id": message["id"],
                    "response_message_loading": body["type"] == 5,
                    "response_message_ephemeral": bool(data.get("flags", 0) & EPHEMERAL),
                },
                "resource": {"type": body["type"], "message": message},
            }
        )

    def _webhook(
        self, method: str, token: str, rest: list[str], body: dict[str, Any] | None
    ) -> web.Response:
        interaction = self._recording.by_token(token)
        if interaction is None or interaction.expired:
            return json_response({"message": "Invalid Webhook Token", "code": 50027}, 401)
        if not interaction.callbacks:  # never acknowledged: there is nothing to follow up
            return json_response({"message": "Unknown Webhook", "code": 10015}, 404)
        if interaction.dead:
            return json_response({"message": "Unknown Message", "code": 10008}, 404)
        if not rest and interaction.loading and interaction.original is not None:
            # The first follow-up after a deferral fills the placeholder, flags and all.
            filled = {k: v for k, v in (body or {}).items() if k not in ("flags", "attachments")}
            interaction.original.update(filled)
            interaction.original_edits.append(filled)
            interaction.loading = False
            return json_response(interaction.original)
        if not rest:  # POST: a follow-up
            message = self._message(body or {}, interaction.payload["channel_id"])
            interaction.followups.append(message)
            if message["flags"] & EPHEMERAL:
                interaction.answered_at = interaction.answered_at or time.monotonic()
            return json_response(message)
        target = rest[1] if len(rest) > 1 else ""
        original = interaction.original
        is_original = target == "@original" or (original is not None and target == original["id"])
        if not is_original or original is None or interaction.original_deleted:
            return json_response({"message": "Unknown Message", "code": 10008}, 404)
        if method == "PATCH":
            original.update({k: v for k, v in (body or {}).items() if k != "attachments"})
            interaction.original_edits.append(body or {})
            interaction.loading = False
            if original.get("embeds"):
                interaction.answered_at = interaction.answered_at or time.monotonic()
        elif method == "DELETE":
            interaction.original_deleted = True
            interaction.dead = interaction.loading
            return web.Response(status=204)
        return json_response(original)

    def _message(self, body: dict[str, Any], channel_id: str) -> dict[str, Any]:
        """The message the bot's request body creates."""
        message = message_object(
            snowflake(),
            author={**self._world.bot_user, "bot": True},
            content=body.get("content") or "",
            embeds=body.get("embeds") or [],
            components=body.get("components") or [],
            flags=body.get("flags") or 0,
        )
        message["channel_id"] = channel_id
        message["allowed_mentions"] = body.get("allowed_mentions")
        return message
