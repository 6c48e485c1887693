"""The chain as a raffle sees it: the current block, a block's hash and time, how fast blocks
come, and (on the local dev chain only) mining empty blocks up to the one a draw waits for."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from web3.exceptions import BlockNotFound

if TYPE_CHECKING:
    from web3 import AsyncWeb3

# Blocks between the close and the seed block, beyond the estimate: the estimate may run fast.
MARGIN_BLOCKS = 2
# How far back the block time is measured.
SAMPLE_BLOCKS = 1000
# Never assume blocks slower than this: a slow estimate puts the seed block too early.
SLOWEST_BLOCK_S = 60.0
FASTEST_BLOCK_S = 0.05
# Empty blocks mined per call on the dev chain: anvil takes about 5 ms a block.
MINE_AT_ONCE = 200


@dataclass(frozen=True)
class Block:
    number: int
    hash: str  # 0x-hex, 32 bytes
    timestamp: int  # seconds since the epoch, as the chain says


class ChainBlocks:
    """Blocks of the chain the bot mints on. `dev_chain`: a local anvil, which mines only when
    asked (a transaction, or `anvil_mine`): its blocks are taken to come every second, and a
    draw mines the empty blocks it waits for."""

    def __init__(self, w3: AsyncWeb3[Any], chain_id: int, *, dev_chain: bool) -> None:
        self.w3 = w3
        self.chain_id = chain_id
        self.dev_chain = dev_chain

    async def head(self) -> int:
        return int(await self.w3.eth.block_number)

    async def block(self, number: int) -> Block | None:
        """The block, or None if the chain has not made it yet."""
        try:
            found = await self.w3.eth.get_block(number)
        except BlockNotFound:
            return None
        return Block(number, "0x" + bytes(found["hash"]).hex(), int(found["timestamp"]))

    async def seconds_per_block(self, head: int) -> float:
        """The chain's block time, measured over its last blocks (1 s on the dev chain)."""
        if self.dev_chain or head == 0:
            return 1.0
        back = max(head - SAMPLE_BLOCKS, 0)
        newest, oldest = await self.block(head), await self.block(back)
        if newest is None or oldest is None or newest.timestamp <= oldest.timestamp:
            return 1.0
        measured = (newest.timestamp - oldest.timestamp) / (head - back)
        return min(max(measured, FASTEST_BLOCK_S), SLOWEST_BLOCK_S)

    async def seed_block_for(self, seconds_to_close: float) -> int:
        """The number of a block that comes after the close, by the chain's own pace."""
        head = await self.head()
        pace = await self.seconds_per_block(head)
        return head + math.ceil(max(seconds_to_close, 0) / pace) + MARGIN_BLOCKS

    async def mine_to(self, number: int) -> None:
        """Mine empty blocks towards `number` (the dev chain only; elsewhere the chain makes
        its blocks itself)."""
        if not self.dev_chain:
            return
        missing = number - await self.head()
        if missing > 0:  # a bounded piece per call: the next round mines the rest
            count = hex(min(missing, MINE_AT_ONCE))
            await self.w3.provider.make_request("anvil_mine", [count])  # type: ignore[arg-type]
