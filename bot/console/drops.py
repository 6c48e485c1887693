"""/drop create|list|info|claim|close|export on the console: the console's community runs
drops like any other, and its member claims them."""

from __future__ import annotations

import asyncio
import shlex

from bot.console.local import COMMUNITY, PLATFORM, USER_ID, USER_NAME, fresh_id, read_file
from bot.console.render import drop_line, drop_text
from bot.drops.service import Drops
from bot.ports import Claimant

CREATE_USAGE = "usage: /drop create PATH Name | supply (a number, or open) | description"
USAGE = (
    "usage: /drop create PATH Name | supply | description, /drop list, /drop info ID, "
    "/drop claim ID, /drop close ID, /drop export ID"
)


def parse_create(rest: str) -> tuple[str, str, int | None, str] | None:
    """`PATH Name | supply | description` -> (path, name, supply or None, description)."""
    parts = [part.strip() for part in rest.split("|")]
    try:
        words = shlex.split(parts[0])
    except ValueError:
        words = parts[0].split()
    if len(words) < 2 or len(parts) < 2:
        return None
    supply_text = parts[1].lower()
    if supply_text == "open":
        supply = None
    elif supply_text.isdecimal() and 0 < int(supply_text) < 10**9:
        supply = int(supply_text)
    else:
        return None
    return words[0], " ".join(words[1:]), supply, " | ".join(parts[2:])


def parse_id(text: str) -> int | None:
    text = text.strip().lstrip("#")
    return int(text) if text.isdecimal() and len(text) < 10 else None


class DropCommands:
    def __init__(self, drops: Drops, public_base_url: str) -> None:
        self.drops = drops
        self.public_base_url = public_base_url

    async def drop(self, rest: str) -> str:
        action, _, args = rest.strip().partition(" ")
        action = action.lower()
        if action == "create":
            return await self.create(args)
        if action == "list":
            return await self.list_drops()
        drop_id = parse_id(args)
        if drop_id is None or action not in ("info", "claim", "close", "export"):
            return USAGE
        # Drop IDs are global: the console sees only its own community's.
        drop = await self.drops.community_drop(drop_id, PLATFORM, COMMUNITY)
        if action == "info":
            return drop_text(drop, self.public_base_url)
        if action == "claim":
            return await self.claim(drop_id)
        if action == "close":
            closed = await self.drops.close(drop_id)
            return f"Drop #{closed.id} is closed at {closed.claimed} claimed."
        return await self.drops.export_csv(drop_id)

    async def create(self, rest: str) -> str:
        parsed = parse_create(rest)
        if parsed is None:
            return CREATE_USAGE
        path, name, supply, description = parsed
        try:
            image = await asyncio.to_thread(read_file, path)
        except OSError as err:
            return f"✗ cannot read {path}: {err.strerror}"
        drop = await self.drops.create_drop(
            platform=PLATFORM,
            community_id=COMMUNITY,
            created_by=USER_ID,
            name=name,
            description=description,
            image=image,
            supply=supply,
        )
        return f"Drop #{drop.id} is up.\n{drop_text(drop, self.public_base_url)}"

    async def list_drops(self) -> str:
        drops = await self.drops.list_drops(PLATFORM, COMMUNITY)
        return "\n".join(drop_line(d) for d in drops[:20]) or "No drops yet."

    async def claim(self, drop_id: int) -> str:
        drop = await self.drops.info(drop_id)
        claimant = Claimant(PLATFORM, USER_ID, is_member=True)
        claim = await self.drops.claim(drop_id, claimant, USER_NAME, source=fresh_id())
        where = "your linked wallet" if not claim.custodial else "the bot, for you (/withdraw)"
        return f"You claimed {drop.name!r} {claim.edition_text}. Minting it to {where}…"
