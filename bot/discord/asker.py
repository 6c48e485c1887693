"""What an interaction tells the core before any download: who asks (their roles, admin
rights, membership) and what they attached."""

from __future__ import annotations

from typing import Any

import discord

from bot.communities import Asker
from bot.minting.types import Upload


def asker_of(interaction: discord.Interaction[Any]) -> Asker:
    """Who is asking, as the interaction says: their roles, admin rights, and the guild they
    are a member of (an interaction from a guild carries the member; one who has not passed
    the guild's membership screening is not a member yet)."""
    user = interaction.user
    roles = getattr(user, "roles", [])
    permissions = interaction.permissions
    is_member = isinstance(user, discord.Member) and not user.pending
    return Asker(
        user_id=str(user.id),
        role_ids=frozenset(str(role.id) for role in roles),
        is_admin=permissions.manage_guild or permissions.administrator,
        member_of=str(interaction.guild_id) if is_member and interaction.guild_id else None,
    )


def asker_of_member(member: discord.Member) -> Asker:
    """A guild member as the core sees them, from the guild's own record of them."""
    permissions = member.guild_permissions
    return Asker(
        user_id=str(member.id),
        role_ids=frozenset(str(role.id) for role in member.roles),
        is_admin=permissions.manage_guild or permissions.administrator,
        member_of=None if member.pending else str(member.guild.id),
    )


def upload_of(attachment: discord.Attachment | None) -> Upload | None:
    """What Discord says of an attachment before anyone downloads it: its size, and whether
    it is an image (Discord measures an image's dimensions, and reports a content type)."""
    if attachment is None:
        return None
    content_type = attachment.content_type or ""
    looks_like_image = (
        True
        if attachment.width or content_type.startswith("image/")
        else (False if content_type else None)
    )
    return Upload(attachment.size, looks_like_image)
