"""Discord's API objects as JSON: snowflake IDs, users, roles, channels, messages, the flags and
permissions the emulator uses, and a JSON response as discord.py expects it."""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

API = "/api/v10"
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.test.emulator"  # a bot token's shape; its ID is the app's
APPLICATION_ID = "123456789012345678"
EPHEMERAL = 1 << 6
MANAGE_GUILD = 1 << 5
DEFAULT_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 31)  # view, send, embed, use cmds

DISCORD_EPOCH_MS = 1_420_070_400_000
_sequence = itertools.count()


def snowflake() -> str:
    """A real snowflake: discord.py reads an object's creation time out of its ID."""
    now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return str((now_ms << 22) | (next(_sequence) % (1 << 22)))


def snowflake_on_shard(shard: int, count: int) -> str:
    """A snowflake whose guild would be on shard `shard` of `count`: its timestamp, the bits
    above the low 22, is moved back to the nearest one that is `shard` modulo `count`."""
    flake = int(snowflake())
    stamp = flake >> 22
    stamp -= (stamp - shard) % count
    return str((stamp << 22) | (flake & ((1 << 22) - 1)))


def now() -> str:
    return datetime.now(UTC).isoformat()


def user_object(user_id: str, name: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
    }


def role_object(role_id: str, name: str, permissions: int, position: int) -> dict[str, Any]:
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


def channel_object(channel_id: str, name: str, guild_id: str) -> dict[str, Any]:
    return {
        "id": channel_id,
        "type": 0,
        "name": name,
        "position": 0,
        "permission_overwrites": [],
        "guild_id": guild_id,
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
        "timestamp": now(),
        "edited_timestamp": None,
        "type": 0,
        "flags": 0,
        **fields,
    }


def json_response(data: Any, status: int = 200) -> web.Response:
    # discord.py parses a body as JSON only under exactly this header, with no charset. A
    # message filled by a follow-up with files keeps their bytes for tests (`uploads`); the
    # bot is told their sizes.
    body = json.dumps(data, default=lambda o: len(o) if isinstance(o, bytes) else str(o))
    return web.Response(
        body=body.encode(), status=status, headers={"Content-Type": "application/json"}
    )
