"""The gateway websocket: HELLO, heartbeats, IDENTIFY (READY, then a GUILD_CREATE per guild
of the shard), RESUME with the replay of missed events, and dispatching events, zlib-stream
compressed when the bot asks.

Sharded as Discord is: an IDENTIFY may claim shard `[id, count]` (none: `[0, 1]`), and a
guild's events go only to the session of shard `(guild_id >> 22) % count`, events without a
guild (direct messages) to shard 0. It refuses what Discord would not take (close code 4010,
"Invalid shard"): a shard ID outside the count, a shard another open connection holds, and
(stricter than Discord, to catch plans that overlap) a count other than the open sessions'.
"""

from __future__ import annotations

import contextlib
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.emulators.discord.objects import APPLICATION_ID, TOKEN, snowflake
from tests.emulators.discord.recording import DiscordRecording
from tests.emulators.discord.world import DiscordWorld

INVALID_SHARD = 4010
# Events about a guild that carry its ID as `id` rather than `guild_id`.
GUILD_EVENTS = ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE")


@dataclass
class Connection:
    """One websocket, and the address the bot reached the emulator at."""

    socket: web.WebSocketResponse
    host: str
    compress: Any

    @property
    def open(self) -> bool:
        return not self.socket.closed


@dataclass
class Session:
    """An identified session of one shard; its events wait for a RESUME while it is away."""

    session_id: str
    shard: int
    count: int
    connection: Connection | None
    seq: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return self.connection is not None and self.connection.open


def shard_of(data: dict[str, Any], event: str, count: int) -> int:
    """The shard an event goes to, as Discord routes it."""
    guild_id = data.get("id") if event in GUILD_EVENTS else data.get("guild_id")
    return 0 if guild_id is None else (int(guild_id) >> 22) % count


class Gateway:
    """The bot's sessions, one per shard."""

    def __init__(self, world: DiscordWorld, recording: DiscordRecording) -> None:
        self._world = world
        self._recording = recording
        self._sessions: dict[int, Session] = {}  # by shard ID: the session that holds it

    async def connect(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        compress = request.query.get("compress")
        if compress not in (None, "zlib-stream"):
            raise web.HTTPBadRequest(text=f"unsupported compression {compress}")
        zlib_stream = zlib.compressobj() if compress == "zlib-stream" else None
        connection = Connection(socket, request.url.host or "", zlib_stream)
        await self._send(connection, {"op": 10, "d": {"heartbeat_interval": 41_250}})
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            payload = json.loads(message.data)
            op = payload["op"]
            self._recording.gateway_ops.append(op)
            if op == 1:
                await self._send(connection, {"op": 11})
            elif op == 2:
                await self._identify(connection, payload["d"])
            elif op == 6:
                await self._resume(connection, payload["d"])
        for session in self._sessions.values():
            if session.connection is connection:
                session.connection = None
        return socket

    async def close(self, code: int = 1000) -> None:
        """Close every session's socket; a resumable `code` (4000) makes discord.py RESUME."""
        for session in list(self._sessions.values()):
            if session.connection is not None:
                await session.connection.socket.close(code=code)

    @property
    def count(self) -> int:
        """The shard count of the sessions (1 before any)."""
        return next((s.count for s in self._sessions.values()), 1)

    async def dispatch(self, event: str, data: dict[str, Any]) -> tuple[int, str] | None:
        """Send an event to the session of its shard; returns that shard and the address its
        bot connected at, or None if no session holds the shard (the event is lost)."""
        shard = shard_of(data, event, self.count)
        session = self._sessions.get(shard)
        if session is None:
            self._recording.undelivered.append((event, data))
            return None
        await self._dispatch_to(session, event, data)
        return shard, session.connection.host if session.connection else ""

    async def _dispatch_to(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.sent.append(payload)
        if session.connection is not None:  # else delivered on RESUME
            await self._send(session.connection, payload)

    async def _refuse(self, connection: Connection, reason: str) -> None:
        self._recording.refused_identifies.append(reason)
        await connection.socket.close(code=INVALID_SHARD, message=reason.encode()[:120])

    async def _identify(self, connection: Connection, data: dict[str, Any]) -> None:
        if data.get("token") != TOKEN:
            await connection.socket.close(code=4004)
            return
        shard, count = data.get("shard") or (0, 1)
        if not (isinstance(shard, int) and isinstance(count, int) and 0 <= shard < count):
            await self._refuse(connection, f"shard {shard} of {count} does not exist")
            return
        live = [s for s in self._sessions.values() if s.live and s.connection is not connection]
        if any(s.shard == shard for s in live):
            await self._refuse(connection, f"shard {shard} is already connected")
            return
        if any(s.count != count for s in live):
            await self._refuse(connection, f"shard count {count} differs from {live[0].count}")
            return
        if any(s.count != count for s in self._sessions.values()):
            self._sessions.clear()  # none of the old plan is connected: start afresh
        session = Session(snowflake(), shard, count, connection)
        self._sessions[shard] = session
        world = self._world
        guilds = [g for g in world.guilds if (int(g) >> 22) % count == shard]
        await self._dispatch_to(
            session,
            "READY",
            {
                "v": 10,
                "user": {**world.bot_user, "bot": True, "verified": True, "flags": 0},
                "guilds": [{"id": guild_id, "unavailable": True} for guild_id in guilds],
                "session_id": session.session_id,
                "resume_gateway_url": world.gateway_url_at(connection.host),
                "application": {"id": APPLICATION_ID, "flags": 0},
                "private_channels": [],
                "relationships": [],
                "shard": [shard, count],
            },
        )
        for guild_id in guilds:
            await self._dispatch_to(session, "GUILD_CREATE", world.guild_object(guild_id))
        self._recording.identifies.append((shard, count, connection.host))
        self._recording.identified.set()

    async def _resume(self, connection: Connection, data: dict[str, Any]) -> None:
        session = next(
            (s for s in self._sessions.values() if s.session_id == data.get("session_id")), None
        )
        if session is None or session.live:
            await self._send(connection, {"op": 9, "d": False})
            return
        session.connection = connection
        for event in session.sent:
            if event["s"] > (data.get("seq") or 0):
                await self._send(connection, event)
        await self._dispatch_to(session, "RESUMED", {})

    async def _send(self, connection: Connection, payload: dict[str, Any]) -> None:
        if not connection.open:
            return  # delivered on RESUME
        raw = json.dumps(payload).encode()
        if connection.compress is not None:
            raw = connection.compress.compress(raw) + connection.compress.flush(zlib.Z_SYNC_FLUSH)
        with contextlib.suppress(ConnectionResetError):
            await connection.socket.send_bytes(raw)
