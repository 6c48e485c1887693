"""A local Discord: enough of the REST API and the gateway for the real discord.py to run a bot
against it, with every REST call recorded.

Tests build a world (a guild, roles, members, channels, messages with attachments), then act
as users: dispatch slash commands, message context menus and button clicks as real
INTERACTION_CREATE events, replay them, expire interaction tokens, force a RESUME. The bot
reaches it through DISCORD_API_BASE_URL and DISCORD_GATEWAY_URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.support import poll_until

API = "/api/v10"
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.test.emulator"  # a bot token's shape; its ID is the app's
APPLICATION_ID = "123456789012345678"
EPHEMERAL = 1 << 6
MANAGE_GUILD = 1 << 5
DEFAULT_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 31)  # view, send, embed, use cmds

BODY = web.RequestKey("body", object)
DISCORD_EPOCH_MS = 1_420_070_400_000
_sequence = itertools.count()


def snowflake() -> str:
    """A real snowflake: discord.py reads an object's creation time out of its ID."""
    now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return str((now_ms << 22) | (next(_sequence) % (1 << 22)))


def _now() -> str:
    return datetime.now(UTC).isoformat()


def user_object(user_id: str, name: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
    }


def message_object(message_id: str, **fields: Any) -> dict[str, Any]:
    """A message as the API sends it, with `fields` over the defaults."""
    return {
        "id": message_id,
        "embeds": [],
        "components": [],
        "attachments": [],
        "mentions": [],
        "mention_roles": [],
        "mention_everyone": False,
        "pinned": False,
        "tts": False,
        "timestamp": _now(),
        "edited_timestamp": None,
        "type": 0,
        "flags": 0,
        **fields,
    }


@dataclass
class Call:
    """One REST request the bot made."""

    method: str
    path: str
    body: Any
    at: float


@dataclass
class Member:
    user_id: str
    name: str
    role_ids: list[str] = field(default_factory=list)
    permissions: int = DEFAULT_PERMISSIONS
    guild_id: str = ""
    pending: bool = False  # has not passed the guild's membership screening


@dataclass
class Interaction:
    """A dispatched interaction and what the bot did with it."""

    id: str
    token: str
    payload: dict[str, Any]
    dispatched_at: float
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    callback_at: float | None = None
    original: dict[str, Any] | None = None
    original_edits: list[dict[str, Any]] = field(default_factory=list)
    original_deleted: bool = False
    followups: list[dict[str, Any]] = field(default_factory=list)
    expired: bool = False
    # Discord's 3 seconds to acknowledge have passed: a callback now is refused.
    timed_out: bool = False
    # Discord: a deferred response is a "thinking" placeholder until the first edit or
    # follow-up fills it (keeping the deferral's public or ephemeral state); deleting it while
    # it is still thinking ends the interaction's webhook.
    loading: bool = False
    dead: bool = False
    answered_at: float | None = None  # the final answer: an embed, or an ephemeral follow-up


class DiscordServer:
    def __init__(self) -> None:
        self.bot_user = user_object(APPLICATION_ID, "mintbot")
        self.guild_id = snowflake()
        self.channel_id = snowflake()
        self.roles: dict[str, dict[str, Any]] = {
            self.guild_id: self._role(self.guild_id, "@everyone", DEFAULT_PERMISSIONS, 0)
        }
        self.members: dict[str, Member] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.attachments: dict[str, tuple[bytes, str]] = {}
        # Attachments served as a stream of `size` bytes, whatever size they were announced
        # with; and how many bytes of each the bot was sent before it hung up.
        self.streamed: dict[str, int] = {}
        self.bytes_sent: dict[str, int] = {}
        self.sent_whole: dict[str, bool] = {}  # set once a stream ends: to its end, or cut off
        # Every guild the bot is in: its name and channels (the first is its main channel).
        self.guilds: dict[str, dict[str, Any]] = {
            self.guild_id: {
                "name": "Test community",
                "channels": [self._channel(self.channel_id, "art", self.guild_id)],
            }
        }
        self.commands: dict[str, dict[str, Any]] = {}
        self.interactions: dict[str, Interaction] = {}
        self.channel_messages: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        self.gateway_ops: list[int] = []
        self.refusing_callbacks = False  # answer every interaction callback 403 Missing Access
        self.identified = asyncio.Event()
        self.synced = asyncio.Event()
        self._socket: web.WebSocketResponse | None = None
        self._compress: Any = None
        self._session_id = ""
        self._seq = 0
        self._sent: list[dict[str, Any]] = []  # this session's dispatches, for RESUME
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ----- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self._record], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{id}/{filename}", self._attachment)
        app.router.add_route("*", API + "/{path:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def env(self) -> dict[str, str]:
        return {
            "DISCORD_TOKEN": TOKEN,
            "DISCORD_API_BASE_URL": self.api_url,
            "DISCORD_GATEWAY_URL": self.gateway_url,
        }

    # ----- the world -------------------------------------------------------------------------

    @staticmethod
    def _role(role_id: str, name: str, permissions: int, position: int) -> dict[str, Any]:
        return {
            "id": role_id,
            "name": name,
            "permissions": str(permissions),
            "position": position,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    @staticmethod
    def _channel(channel_id: str, name: str, guild_id: str) -> dict[str, Any]:
        return {
            "id": channel_id,
            "type": 0,
            "name": name,
            "position": 0,
            "permission_overwrites": [],
            "guild_id": guild_id,
        }

    def add_guild(self, name: str) -> str:
        """Another server the bot is in, with one text channel; call before the bot starts."""
        guild_id = snowflake()
        self.guilds[guild_id] = {"name": name, "channels": []}
        self.add_channel("general", guild_id)
        return guild_id

    def add_channel(self, name: str, guild_id: str | None = None) -> str:
        """A text channel of the main guild (or `guild_id`); call before the bot starts."""
        guild_id = guild_id or self.guild_id
        channel_id = snowflake()
        self.guilds[guild_id]["channels"].append(self._channel(channel_id, name, guild_id))
        return channel_id

    def add_role(self, name: str, permissions: int = 0) -> str:
        role_id = snowflake()
        self.roles[role_id] = self._role(role_id, name, permissions, len(self.roles))
        return role_id

    def add_member(
        self,
        name: str,
        *,
        roles: list[str] | None = None,
        admin: bool = False,
        guild_id: str | None = None,
    ) -> str:
        """A member of the main guild (or of `guild_id`); they act from its main channel."""
        user_id = snowflake()
        permissions = DEFAULT_PERMISSIONS | (MANAGE_GUILD if admin else 0)
        self.members[user_id] = Member(
            user_id, name, list(roles or []), permissions, guild_id or self.guild_id
        )
        return user_id

    def add_attachment(
        self,
        data: bytes,
        filename: str = "art.png",
        *,
        content_type: str | None = "image/png",
        streamed: int | None = None,
    ) -> dict[str, Any]:
        """An uploaded file as Discord describes it: image dimensions only for an image type.
        With `streamed`, downloading it yields that many bytes (a PNG's start, then filler),
        without a length, while it is announced with the size of `data`."""
        attachment_id = snowflake()
        self.attachments[attachment_id] = (data, content_type or "application/octet-stream")
        if streamed is not None:
            self.streamed[attachment_id] = streamed
        url = f"http://127.0.0.1:{self.port}/attachments/{attachment_id}/{filename}"
        described: dict[str, Any] = {
            "id": attachment_id,
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
        }
        if content_type is not None:
            described["content_type"] = content_type
        if (content_type or "").startswith("image/"):
            described |= {"width": 32, "height": 32}
        return described

    def add_message(self, author_id: str, content: str, attachments: list[dict[str, Any]]) -> str:
        message_id = snowflake()
        self.messages[message_id] = message_object(
            message_id,
            author=user_object(author_id, self.members[author_id].name),
            content=content,
            attachments=attachments,
            channel_id=self.channel_id,
            guild_id=self.guild_id,
        )
        return message_id

    def _member_object(self, member: Member) -> dict[str, Any]:
        return {
            "user": user_object(member.user_id, member.name),
            "roles": member.role_ids,
            "joined_at": _now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": member.pending,
            "permissions": str(member.permissions),
        }

    def _guild_object(self, guild_id: str) -> dict[str, Any]:
        bot_member = Member(APPLICATION_ID, "mintbot")
        guild = self.guilds[guild_id]
        members = [m for m in self.members.values() if m.guild_id == guild_id]
        roles = (
            list(self.roles.values())
            if guild_id == self.guild_id
            else [self._role(guild_id, "@everyone", DEFAULT_PERMISSIONS, 0)]
        )
        return {
            "id": guild_id,
            "name": guild["name"],
            "owner_id": next((m.user_id for m in members), APPLICATION_ID),
            "roles": roles,
            "channels": guild["channels"],
            "members": [self._member_object(m) for m in [bot_member, *members]],
            "member_count": len(members) + 1,
            "emojis": [],
            "stickers": [],
            "features": [],
            "threads": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "voice_states": [],
            "presences": [],
            "unavailable": False,
            "large": False,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "system_channel_flags": 0,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "afk_timeout": 300,
            "joined_at": _now(),
        }

    # ----- acting as users ---------------------------------------------------------------------

    async def slash(
        self, user_id: str, name: str, options: list[dict[str, Any]], **resolved: Any
    ) -> Interaction:
        """A user runs /name; subcommands are options of type 1."""
        data: dict[str, Any] = {
            "id": self.commands.get(name, {}).get("id", snowflake()),
            "name": name,
            "type": 1,
            "options": options,
        }
        if resolved:
            data["resolved"] = resolved
        return await self._interact(user_id, 2, data)

    async def mint(self, user_id: str, image: bytes, name: str, **more: str) -> Interaction:
        attachment = self.add_attachment(image)
        options: list[dict[str, Any]] = [
            {"name": "image", "type": 11, "value": attachment["id"]},
            {"name": "name", "type": 3, "value": name},
            *({"name": key, "type": 3, "value": value} for key, value in more.items()),
        ]
        return await self.slash(
            user_id, "mint", options, attachments={attachment["id"]: attachment}
        )

    async def message_command(self, user_id: str, name: str, message_id: str) -> Interaction:
        data = {
            "id": self.commands.get(name, {}).get("id", snowflake()),
            "name": name,
            "type": 3,
            "target_id": message_id,
            "resolved": {"messages": {message_id: self.messages[message_id]}},
        }
        return await self._interact(user_id, 2, data)

    async def click(self, user_id: str, message: dict[str, Any], custom_id: str) -> Interaction:
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._interact(user_id, 3, data, message=message)

    async def submit_modal(
        self, user_id: str, custom_id: str, fields: dict[str, str]
    ) -> Interaction:
        """A user fills in and submits the modal `custom_id` the bot showed."""
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
            for key, value in fields.items()
        ]
        return await self._interact(user_id, 5, {"custom_id": custom_id, "components": rows})

    async def _interact(
        self, user_id: str, kind: int, data: dict[str, Any], **extra: Any
    ) -> Interaction:
        member = self.members[user_id]
        guild_id = member.guild_id
        channel = self.guilds[guild_id]["channels"][0]
        interaction_id = snowflake()
        token = f"interaction-token-{interaction_id}"
        payload = {
            "id": interaction_id,
            "application_id": APPLICATION_ID,
            "type": kind,
            "token": token,
            "version": 1,
            "guild_id": guild_id,
            "channel_id": channel["id"],
            "channel": {"id": channel["id"], "type": 0, "guild_id": guild_id, "name": "art"},
            "member": self._member_object(member),
            "app_permissions": str(DEFAULT_PERMISSIONS),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 25 * 1024 * 1024,
            "authorizing_integration_owners": {"0": guild_id},
            "context": 0,
            "data": data,
            **extra,
        }
        record = Interaction(interaction_id, token, payload, time.monotonic())
        self.interactions[interaction_id] = record
        await self.dispatch("INTERACTION_CREATE", payload)
        return record

    async def replay(self, interaction: Interaction) -> None:
        """Deliver the same INTERACTION_CREATE again, as a gateway replay after RESUME can."""
        await self.dispatch("INTERACTION_CREATE", interaction.payload)

    def expire(self, interaction: Interaction) -> None:
        """Its webhook token stops working, as Discord's do after 15 minutes."""
        interaction.expired = True

    def time_out(self, interaction: Interaction) -> None:
        """Discord's 3 seconds to acknowledge it pass: a late callback is refused (and an
        interaction never acknowledged has no response to edit or follow up)."""
        interaction.timed_out = True

    async def force_resume(self) -> None:
        """Drop the connection with a resumable close code; discord.py reconnects and RESUMEs."""
        if self._socket is not None:
            await self._socket.close(code=4000)

    # ----- waiting ---------------------------------------------------------------------------

    async def wait_for(self, check: Callable[[], object], timeout: float = 30) -> None:
        """Poll `check`; on timeout, fail with the REST calls the bot made."""

        def explain() -> str:
            calls = "\n".join(f"{c.method} {c.path} {c.body}"[:300] for c in self.calls)
            return f"the bot's REST calls:\n{calls}"

        await poll_until(check, timeout, explain)

    def posted(self) -> list[dict[str, Any]]:
        return self.channel_messages

    # ----- gateway -----------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        if self._socket is not None and not self._socket.closed:
            await self._socket.close()
        self._socket = socket
        compress = request.query.get("compress")
        if compress not in (None, "zlib-stream"):
            raise web.HTTPBadRequest(text=f"unsupported compression {compress}")
        self._compress = zlib.compressobj() if compress == "zlib-stream" else None
        await self._send({"op": 10, "d": {"heartbeat_interval": 41_250}})
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            payload = json.loads(message.data)
            op = payload["op"]
            self.gateway_ops.append(op)
            if op == 1:
                await self._send({"op": 11})
            elif op == 2:
                await self._identify(payload["d"])
            elif op == 6:
                await self._resume(payload["d"])
        if self._socket is socket:
            self._socket = None
        return socket

    async def _identify(self, data: dict[str, Any]) -> None:
        if data.get("token") != TOKEN:
            await self._socket.close(code=4004)  # type: ignore[union-attr]
            return
        self._session_id, self._seq, self._sent = snowflake(), 0, []
        await self.dispatch(
            "READY",
            {
                "v": 10,
                "user": {**self.bot_user, "bot": True, "verified": True, "flags": 0},
                "guilds": [{"id": guild_id, "unavailable": True} for guild_id in self.guilds],
                "session_id": self._session_id,
                "resume_gateway_url": self.gateway_url,
                "application": {"id": APPLICATION_ID, "flags": 0},
                "private_channels": [],
                "relationships": [],
            },
        )
        for guild_id in self.guilds:
            await self.dispatch("GUILD_CREATE", self._guild_object(guild_id))
        self.identified.set()

    async def _resume(self, data: dict[str, Any]) -> None:
        if data.get("session_id") != self._session_id:
            await self._send({"op": 9, "d": False})
            return
        for event in self._sent:
            if event["s"] > (data.get("seq") or 0):
                await self._send(event)
        await self.dispatch("RESUMED", {})

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        self._seq += 1
        payload = {"op": 0, "t": event, "s": self._seq, "d": data}
        self._sent.append(payload)
        await self._send(payload)

    async def _send(self, payload: dict[str, Any]) -> None:
        if self._socket is None or self._socket.closed:
            return  # delivered on RESUME
        raw = json.dumps(payload).encode()
        if self._compress is not None:
            raw = self._compress.compress(raw) + self._compress.flush(zlib.Z_SYNC_FLUSH)
        with contextlib.suppress(ConnectionResetError):
            await self._socket.send_bytes(raw)

    # ----- REST --------------------------------------------------------------------------------

    @web.middleware
    async def _record(
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
            self.calls.append(Call(request.method, path, body, time.monotonic()))
            # Interaction callbacks and webhooks authenticate by the token in their path.
            by_token = path.startswith(("/interactions/", "/webhooks/"))
            if not by_token and request.headers.get("Authorization") != f"Bot {TOKEN}":
                return _json({"message": "401: Unauthorized", "code": 0}, 401)
        return await handler(request)

    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        attachment_id = request.match_info["id"]
        data, content_type = self.attachments[attachment_id]
        size = self.streamed.get(attachment_id)
        if size is None:
            return web.Response(body=data, content_type=content_type)
        response = web.StreamResponse(headers={"Content-Type": content_type})
        response.enable_chunked_encoding()
        await response.prepare(request)
        self.bytes_sent[attachment_id] = 0
        try:
            while (sent := self.bytes_sent[attachment_id]) < size:
                piece = data[sent : sent + 65536]  # the file itself, then zeros
                piece += bytes(min(65536, size - sent) - len(piece))
                await response.write(piece)
                self.bytes_sent[attachment_id] += len(piece)
            await response.write_eof()
        except ConnectionError:
            self.sent_whole[attachment_id] = False
        else:
            self.sent_whole[attachment_id] = True
        return response

    async def _rest(self, request: web.Request) -> web.Response:
        parts = request.match_info["path"].strip("/").split("/")
        method, body = request.method, request.get(BODY)
        match parts:
            case ["users", "@me"]:
                return _json({**self.bot_user, "bot": True})
            case ["gateway"] | ["gateway", "bot"]:
                return _json(
                    {
                        "url": self.gateway_url,
                        "shards": 1,
                        "session_start_limit": {
                            "total": 1000,
                            "remaining": 999,
                            "reset_after": 0,
                            "max_concurrency": 1,
                        },
                    }
                )
            case ["oauth2", "applications", "@me"] | ["applications", "@me"]:
                return _json(
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
                    self.commands = {c["name"]: {**c, "id": snowflake()} for c in body}
                    self.synced.set()
                return _json(
                    [
                        {"description": "", **c, "application_id": APPLICATION_ID, "version": "1"}
                        for c in self.commands.values()
                    ]
                )
            case ["interactions", interaction_id, token, "callback"]:
                return self._callback(interaction_id, token, body)
            case ["webhooks", _, token, *rest]:
                return self._webhook(method, token, rest, body)
            case ["channels", channel_id, "messages"] if method == "POST":
                message = self._message(body, channel_id)
                self.channel_messages.append(message)
                return _json(message)
            case ["channels", channel_id, "messages", message_id] if method == "PATCH":
                found = next((m for m in self.channel_messages if m["id"] == message_id), None)
                if found is None:
                    return _json({"message": "Unknown Message", "code": 10008}, 404)
                found.update({k: v for k, v in body.items() if k != "attachments"})
                found.setdefault("edits", []).append(body)
                return _json(found)
        return _json({"message": "404: Not Found", "code": 0}, 404)

    def _find(self, token: str) -> Interaction | None:
        return next((i for i in self.interactions.values() if i.token == token), None)

    def _callback(self, interaction_id: str, token: str, body: dict[str, Any]) -> web.Response:
        interaction = self.interactions.get(interaction_id)
        if (
            interaction is None
            or interaction.token != token
            or interaction.timed_out
            or interaction.expired
        ):
            return _json({"message": "Unknown interaction", "code": 10062}, 404)
        if self.refusing_callbacks:
            return _json({"message": "Missing Access", "code": 50001}, 403)
        if interaction.callbacks:
            return _json(
                {"message": "Interaction has already been acknowledged.", "code": 40060}, 400
            )
        interaction.callbacks.append(body)
        interaction.callback_at = time.monotonic()
        data = body.get("data") or {}
        message = self._message(data, interaction.payload["channel_id"])
        if body["type"] in (4, 5):
            interaction.original = message
            interaction.loading = body["type"] == 5
        return _json(
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
        interaction = self._find(token)
        if interaction is None or interaction.expired:
            return _json({"message": "Invalid Webhook Token", "code": 50027}, 401)
        if not interaction.callbacks:  # never acknowledged: there is nothing to follow up
            return _json({"message": "Unknown Webhook", "code": 10015}, 404)
        if interaction.dead:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        if not rest and interaction.loading and interaction.original is not None:
            # The first follow-up after a deferral fills the placeholder, flags and all.
            filled = {k: v for k, v in (body or {}).items() if k not in ("flags", "attachments")}
            interaction.original.update(filled)
            interaction.original_edits.append(filled)
            interaction.loading = False
            return _json(interaction.original)
        if not rest:  # POST: a follow-up
            message = self._message(body or {}, interaction.payload["channel_id"])
            interaction.followups.append(message)
            if message["flags"] & EPHEMERAL:
                interaction.answered_at = interaction.answered_at or time.monotonic()
            return _json(message)
        target = rest[1] if len(rest) > 1 else ""
        original = interaction.original
        is_original = target == "@original" or (original is not None and target == original["id"])
        if not is_original or original is None or interaction.original_deleted:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
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
        return _json(original)

    def _message(self, body: dict[str, Any], channel_id: str) -> dict[str, Any]:
        """The message the bot's request body creates."""
        message = message_object(
            snowflake(),
            author={**self.bot_user, "bot": True},
            content=body.get("content") or "",
            embeds=body.get("embeds") or [],
            components=body.get("components") or [],
            flags=body.get("flags") or 0,
        )
        message["channel_id"] = channel_id
        message["allowed_mentions"] = body.get("allowed_mentions")
        return message


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py parses a body as JSON only under exactly this header, with no charset.
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"}
    )
