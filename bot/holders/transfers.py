"""Transfers of the collections holder rules follow, read from the chain's logs: ERC-721
`Transfer` and ERC-1155 `TransferSingle`/`TransferBatch`, whose topics name the addresses a
token left and reached. Read raw (`eth_blockNumber`, `eth_getLogs`), block range by block
range, from where the last read stopped (kept in the database, so a restart goes on from
there)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils.crypto import keccak
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from web3 import AsyncWeb3
from web3.types import RPCEndpoint

from bot.chain.receipts import TRANSFER_TOPIC
from db.models import HolderCursor

TRANSFER_SINGLE = (
    "0x" + keccak(text="TransferSingle(address,address,address,uint256,uint256)").hex()
)
TRANSFER_BATCH = (
    "0x" + keccak(text="TransferBatch(address,address,address,uint256[],uint256[])").hex()
)
BLOCK_NUMBER = RPCEndpoint("eth_blockNumber")
GET_LOGS = RPCEndpoint("eth_getLogs")
# Blocks asked per eth_getLogs: public endpoints refuse wide ranges (often past 2,000-10,000).
MAX_RANGE = 1_000
ZERO = "0x" + "0" * 40


@dataclass
class Moves:
    """Addresses whose balances changed, by contract (lower-case hex), in a block range, and
    the ERC-721 tokens that moved (custody's among them: its members are found by token)."""

    addresses: dict[str, set[str]] = field(default_factory=dict)
    tokens: set[int] = field(default_factory=set)
    last_block: int = 0

    def add(self, contract: str, *addresses: str) -> None:
        moved = self.addresses.setdefault(contract, set())
        moved.update(a for a in addresses if a != ZERO)


def moved_addresses(logs: Sequence[dict[str, Any]]) -> Moves:
    """From and to of every token transfer among `logs` (the node's JSON); an ERC-20's
    `Transfer` (three topics, the amount in its data) counts the same: a holder rule on a
    fungible token counts its balance too."""
    moves = Moves()
    for entry in logs:
        topics = [str(t).lower() for t in entry.get("topics", ())]
        contract = str(entry.get("address", "")).lower()
        if topics and topics[0] == TRANSFER_TOPIC and len(topics) >= 3:
            moves.add(contract, _address(topics[1]), _address(topics[2]))
            if len(topics) == 4:  # ERC-721: the token ID is indexed
                moves.tokens.add(int(topics[3], 16))
        elif topics and topics[0] in (TRANSFER_SINGLE, TRANSFER_BATCH) and len(topics) == 4:
            moves.add(contract, _address(topics[2]), _address(topics[3]))
    return moves


def _address(topic: str) -> str:
    return "0x" + topic[-40:]


class TransferLogs:
    """Reads the Transfer logs of the contracts it is given, from the last block it read."""

    def __init__(
        self,
        w3: AsyncWeb3[Any],
        sessions: async_sessionmaker[AsyncSession],
        chain_id: int,
        timeout: float,
    ) -> None:
        self.w3 = w3
        self.sessions = sessions
        self.chain_id = chain_id
        self.timeout = timeout

    async def _call(self, method: RPCEndpoint, params: list[Any]) -> Any:
        async with asyncio.timeout(self.timeout):
            response = await self.w3.provider.make_request(method, params)
        return self.w3.manager.formatted_response(response, params)

    async def head(self) -> int:
        return int(await self._call(BLOCK_NUMBER, []), 16)

    async def next_moves(self, contracts: Sequence[str]) -> Moves | None:
        """The transfers after the last block read, up to the chain's head (at most
        `MAX_RANGE` blocks at a time), and the new last block recorded; None if no block is
        new. The first read starts at the head: what came before is the full re-check's."""
        head = await self.head()
        async with self.sessions.begin() as session:
            cursor = await session.get(HolderCursor, self.chain_id)
            if cursor is None:
                session.add(HolderCursor(chain_id=self.chain_id, block=head))
                return None
            start = cursor.block + 1
        if head < start:
            if head < cursor.block:  # a shorter chain after a reorg: read from its head on
                await self._save(head)
            return None
        end = min(head, start + MAX_RANGE - 1)
        moves = Moves(last_block=end)
        if contracts:
            query = {
                "fromBlock": hex(start),
                "toBlock": hex(end),
                "address": list(contracts),
                "topics": [[TRANSFER_TOPIC, TRANSFER_SINGLE, TRANSFER_BATCH]],
            }
            found = moved_addresses(await self._call(GET_LOGS, [query]))
            moves.addresses, moves.tokens = found.addresses, found.tokens
        await self._save(end)
        return moves

    async def _save(self, block: int) -> None:
        async with self.sessions.begin() as session:
            cursor = await session.scalar(
                select(HolderCursor).where(HolderCursor.chain_id == self.chain_id)
            )
            if cursor is not None:
                cursor.block = block
