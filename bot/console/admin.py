"""/admin pause|resume|balance|stats|config on the console, whose member administers its
community: the subcommands the chats' admins have."""

from __future__ import annotations

from bot.communities import KEEP, CommunityConfig
from bot.console.local import CHANNEL, COMMUNITY, PLATFORM
from bot.minting.service import MintService

USAGE = (
    "usage: /admin pause | resume | balance | stats | config [announce on|off] "
    "(announce: print every mint here once it is minted)"
)


def describe(config: CommunityConfig) -> str:
    return (
        f"Minting: {'paused' if config.paused else 'on'}\n"
        f"Announcing every mint: {'on' if config.announce_channel_id else 'off'}"
    )


class AdminCommands:
    def __init__(self, service: MintService) -> None:
        self.service = service
        self.communities = service.communities

    async def admin(self, rest: str) -> str:
        args = rest.lower().split()
        command = args[0] if args else ""
        if command in ("pause", "resume") and len(args) == 1:
            await self.communities.configure(PLATFORM, COMMUNITY, paused=command == "pause")
            if command == "pause":
                return "Minting is paused here. Requests already made go on."
            return "Minting is on again."
        if command == "balance" and len(args) == 1:
            address, balance, spent = await self.service.hot_wallet()
            return (
                f"Hot wallet {address}: {balance / 1e18:.6f} in native currency; fees "
                f"committed today (UTC): {spent / 1e18:.6f}."
            )
        if command == "stats" and len(args) == 1:
            counts = await self.service.community_stats(PLATFORM, COMMUNITY)
            creators = counts.pop("creators", 0)
            lines = [f"{phase}: {count}" for phase, count in sorted(counts.items())]
            return "\n".join([f"Creators: {creators}", *lines]) if lines else "No requests yet."
        if command == "config":
            return await self.config(args[1:])
        return USAGE

    async def config(self, args: list[str]) -> str:
        if args and (len(args) != 2 or args[0] != "announce" or args[1] not in ("on", "off")):
            return USAGE
        announce = KEEP if not args else (CHANNEL if args[1] == "on" else None)
        config = await self.communities.configure(PLATFORM, COMMUNITY, announce_channel_id=announce)
        return describe(config)
