"""Which Discord shards this process runs (DISCORD_SHARDS), and which shard a guild is on.

Discord splits a bot's guilds into `count` shards, one gateway connection each: a guild's
events and interactions arrive only on shard `(guild_id >> 22) % count`, direct messages on
shard 0. Several processes share the work by each running some of the shards of the same
count, so the plans of all processes together name every shard once.

Plain Python, no discord.py: the settings (`bot.config`) read it in every process.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.errors import ConfigError

# A part of the ID list: one shard ID, or a range of them, both ends included.
_PART = re.compile(r"(\d+)(?:-(\d+))?")
# Discord's shard IDs are small: far fewer shards than this ever run.
MAX_SHARDS = 65_536


@dataclass(frozen=True)
class ShardPlan:
    """The shards this process runs: `ids` of `count`; both None for `auto` (discord.py asks
    Discord how many shards it recommends and runs them all here)."""

    ids: tuple[int, ...] | None
    count: int | None

    def owns_guild(self, guild_id: int | str | None) -> bool:
        """Does a guild's traffic (None: a direct message's) arrive on one of these shards?"""
        if self.ids is None or self.count is None:
            return True
        return shard_of(guild_id, self.count) in self.ids

    def owns_interaction(self, payload: Mapping[str, Any]) -> bool:
        """Would Discord have delivered this INTERACTION_CREATE payload to this process?"""
        return self.owns_guild(payload.get("guild_id"))

    def __str__(self) -> str:
        if self.ids is None:
            return "auto"
        return f"{','.join(map(str, self.ids))} of {self.count}"


def shard_of(guild_id: int | str | None, count: int) -> int:
    """The shard a guild's events arrive on; a direct message's (no guild) on shard 0."""
    if guild_id is None:
        return 0
    return (int(guild_id) >> 22) % count


def parse_shards(name: str, raw: str | None) -> ShardPlan | None:
    """`raw` as a shard plan: `IDS/COUNT` where IDS is a shard ID or a range `FIRST-LAST`,
    or several of them comma-separated (`0-3/8`, `2/4`, `0,2/4`); `auto`; None when unset
    (one unsharded connection). Raises `ConfigError` naming `name` for anything else."""
    if raw is None:
        return None
    text = raw.strip().lower()
    if text == "auto":
        return ShardPlan(None, None)
    wanted, slash, count_text = text.partition("/")
    if not slash or not count_text.strip().isdigit():
        raise ConfigError(
            name, f"say which shards of how many, as 0-3/8 or 2/4 (or auto), not {raw!r}"
        )
    count = int(count_text)
    if not 1 <= count <= MAX_SHARDS:
        raise ConfigError(name, f"the shard count must be between 1 and {MAX_SHARDS}, not {count}")
    ids: list[int] = []
    for part in wanted.split(","):
        found = _PART.fullmatch(part.strip())
        if found is None:
            raise ConfigError(name, f"not a shard ID or range FIRST-LAST: {part.strip()!r}")
        first = int(found.group(1))
        last = int(found.group(2)) if found.group(2) is not None else first
        if last < first:
            raise ConfigError(name, f"the range {first}-{last} runs backwards")
        if last >= count:
            raise ConfigError(
                name, f"shard {last} does not exist: shards of {count} are 0 to {count - 1}"
            )
        ids.extend(range(first, last + 1))
    if len(set(ids)) != len(ids):
        raise ConfigError(name, "names a shard twice")
    return ShardPlan(tuple(sorted(ids)), count)
