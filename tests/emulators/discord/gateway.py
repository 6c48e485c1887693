"""The gateway websocket: HELLO, heartbeats, IDENTIFY (READY, then a GUILD_CREATE per guild),
RESUME with the replay of missed events, and dispatching events, zlib-stream compressed when
the bot asks."""

from __future__ import annotations

import contextlib
import json
import zlib
from typing import Any

from aiohttp import WSMsgType, web

from tests.emulators.discord.objects import APPLICATION_ID, TOKEN, snowflake
from tests.emulators.discord.recording import DiscordRecording
from tests.emulators.discord.world import DiscordWorld


class Gateway:
    """One bot session at a time; events sent while it is disconnected wait for its RESUME."""

    def __init__(self, world: DiscordWorld, recording: DiscordRecording) -> None:
        self._world = world
        self._recording = recording
        self._socket: web.WebSocketResponse | None = None
        self._compress: Any = None
        self._session_id = ""
        self._seq = 0
        self._sent: list[dict[str, Any]] = []  # this session's dispatches, for RESUME

    async def connect(self, request: web.Request) -> web.WebSocketResponse:
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
            self._recording.gateway_ops.append(op)
            if op == 1:
                await self._send({"op": 11})
            elif op == 2:
                await self._identify(payload["d"])
            elif op == 6:
                await self._resume(payload["d"])
        if self._socket is socket:
            self._socket = None
        return socket

    async def close(self, code: int = 1000) -> None:
        """Close the session's socket; a resumable `code` (4000) makes discord.py RESUME."""
        if self._socket is not None:
            await self._socket.close(code=code)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        self._seq += 1
        payload = {"op": 0, "t": event, "s": self._seq, "d": data}
        self._sent.append(payload)
        await self._send(payload)

    async def _identify(self, data: dict[str, Any]) -> None:
        if data.get("token") != TOKEN:
            await self.close(code=4004)
            return
        self._session_id, self._seq, self._sent = snowflake(), 0, []
        world = self._world
        await self.dispatch(
            "READY",
            {
                "v": 10,
                "user": {**world.bot_user, "bot": True, "verified": True, "flags": 0},
                "guilds": [{"id": guild_id, "unavailable": True} for guild_id in world.guilds],
                "session_id": self._session_id,
                "resume_gateway_url": world.gateway_url,
                "application": {"id": APPLICATION_ID, "flags": 0},
                "private_channels": [],
                "relationships": [],
            },
        )
        for guild_id in world.guilds:
            await self.dispatch("GUILD_CREATE", world.guild_object(guild_id))
        self._recording.identified.set()

    async def _resume(self, data: dict[str, Any]) -> None:
        if data.get("session_id") != self._session_id:
            await self._send({"op": 9, "d": False})
            return
        for event in self._sent:
            if event["s"] > (data.get("seq") or 0):
                await self._send(event)
        await self.dispatch("RESUMED", {})

    async def _send(self, payload: dict[str, Any]) -> None:
        if self._socket is None or self._socket.closed:
            return  # delivered on RESUME
        raw = json.dumps(payload).encode()
        if self._compress is not None:
            raw = self._compress.compress(raw) + self._compress.flush(zlib.Z_SYNC_FLUSH)
        with contextlib.suppress(ConnectionResetError):
            await self._socket.send_bytes(raw)
