"""The Discord a test builds before acting: guilds and their channels, roles, members, messages
and uploaded attachments, and how each looks as the API describes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.emulators.discord.objects import (
    API,
    APPLICATION_ID,
    DEFAULT_PERMISSIONS,
    MANAGE_GUILD,
    channel_object,
    message_object,
    now,
    role_object,
    snowflake,
    snowflake_on_shard,
    user_object,
)


@dataclass
class Member:
    user_id: str
    name: str
    role_ids: list[str] = field(default_factory=list)
    permissions: int = DEFAULT_PERMISSIONS
    guild_id: str = ""
    pending: bool = False  # has not passed the guild's membership screening


class DiscordWorld:
    """Guilds, roles, members, messages and attachments, and where the emulator listens."""

    def __init__(self) -> None:
        self.port = 0
        self.bot_user = user_object(APPLICATION_ID, "mintbot")
        self.guild_id = snowflake()
        self.channel_id = snowflake()
        self.roles: dict[str, dict[str, Any]] = {
            self.guild_id: role_object(self.guild_id, "@everyone", DEFAULT_PERMISSIONS, 0)
        }
        self.members: dict[str, Member] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.attachments: dict[str, tuple[bytes, str]] = {}
        # Attachments served as a stream of `size` bytes, whatever size they were announced with.
        self.streamed: dict[str, int] = {}
        # Every guild the bot is in: its name and channels (the first is its main channel).
        self.guilds: dict[str, dict[str, Any]] = {
            self.guild_id: {
                "name": "Test community",
                "channels": [channel_object(self.channel_id, "art", self.guild_id)],
            }
        }
        self.refusing_callbacks = False  # answer every interaction callback 403 Missing Access
        self.recommended_shards = 1  # what GET /gateway/bot recommends

    @property
    def api_url(self) -> str:
        return self.api_url_at("127.0.0.1")

    @property
    def gateway_url(self) -> str:
        return self.gateway_url_at("127.0.0.1")

    def api_url_at(self, host: str) -> str:
        """The REST API's URL through one of the loopback addresses the emulator listens on."""
        return f"http://{host}:{self.port}{API}"

    def gateway_url_at(self, host: str) -> str:
        return f"ws://{host}:{self.port}/gateway"

    def add_guild(self, name: str, *, shard: tuple[int, int] | None = None) -> str:
        """Another server the bot is in, with one text channel; call before the bot starts.
        `shard`: (ID, count), the shard of that count its traffic is to arrive on."""
        guild_id = snowflake() if shard is None else snowflake_on_shard(*shard)
        self.guilds[guild_id] = {"name": name, "channels": []}
        self.add_channel("general", guild_id)
        return guild_id

    def add_channel(self, name: str, guild_id: str | None = None) -> str:
        """A text channel of the main guild (or `guild_id`); call before the bot starts."""
        guild_id = guild_id or self.guild_id
        channel_id = snowflake()
        self.guilds[guild_id]["channels"].append(channel_object(channel_id, name, guild_id))
        return channel_id

    def add_role(self, name: str, permissions: int = 0) -> str:
        role_id = snowflake()
        self.roles[role_id] = role_object(role_id, name, permissions, len(self.roles))
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

    def member_object(self, member: Member) -> dict[str, Any]:
        return {
            "user": user_object(member.user_id, member.name),
            "roles": member.role_ids,
            "joined_at": now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": member.pending,
            "permissions": str(member.permissions),
        }

    def guild_object(self, guild_id: str) -> dict[str, Any]:
        bot_member = Member(APPLICATION_ID, "mintbot")
        guild = self.guilds[guild_id]
        members = [m for m in self.members.values() if m.guild_id == guild_id]
        roles = (
            list(self.roles.values())
            if guild_id == self.guild_id
            else [role_object(guild_id, "@everyone", DEFAULT_PERMISSIONS, 0)]
        )
        return {
            "id": guild_id,
            "name": guild["name"],
            "owner_id": next((m.user_id for m in members), APPLICATION_ID),
            "roles": roles,
            "channels": guild["channels"],
            "members": [self.member_object(m) for m in [bot_member, *members]],
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
            # The server's primary language (Server Settings > Community); set
            # `guilds[id]["preferred_locale"]` before the bot starts to change it.
            "preferred_locale": guild.get("preferred_locale", "en-US"),
            "system_channel_flags": 0,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "afk_timeout": 300,
            "joined_at": now(),
        }
