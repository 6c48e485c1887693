"""Token balances read from the chain, for the gates and roles that depend on what a member
holds: `balanceOf(owner)` of an ERC-721 or `balanceOf(owner, id)` of an ERC-1155, one
`eth_call` each, remembered for a few seconds.

A claim that asks the same balance a moment after another (a member pressing Claim twice, a
role check after a gate check) costs no second call; a balance that changes shows within the
cache's life. A call that fails or takes longer than its timeout raises `HoldingsUnavailable`,
and the caller refuses what needed it (one claim, one member's role check), never more.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from web3 import AsyncWeb3

from bot.chain.calls import ETH_CALL, address_word, uint256_word

if TYPE_CHECKING:
    from bot.config import Settings

# The first four bytes of the keccak-256 of each signature.
ERC721_BALANCE_OF = bytes.fromhex("70a08231")  # balanceOf(address)
ERC1155_BALANCE_OF = bytes.fromhex("00fdd58e")  # balanceOf(address,uint256)

# How many balances the cache keeps before dropping the expired ones.
CACHE_ROOM = 10_000

EthCall = Callable[[str, bytes], Awaitable[Any]]


class HoldingsUnavailable(Exception):
    """The chain did not say what an address holds (no answer in time, an error, an answer
    that is not a number): whatever needed it is refused this time, and may try again."""


def web3_eth_call(w3: AsyncWeb3[Any]) -> EthCall:
    """`eth_call` on the bot's own connection, raw as the receipts are read (web3's formatters
    would cost more than the call)."""

    async def call(to: str, data: bytes) -> Any:
        params = [{"to": to, "data": "0x" + data.hex()}, "latest"]
        response = await w3.provider.make_request(ETH_CALL, params)
        return w3.manager.formatted_response(response, params)

    return call


def chain_holdings(settings: Settings, w3: AsyncWeb3[Any]) -> ChainHoldings:
    """The bot's balances: on its own connection, cached for HOLDINGS_CACHE_S, each call
    bounded by RPC_TIMEOUT_S."""
    return ChainHoldings(
        web3_eth_call(w3), cache_s=settings.holdings_cache_s, timeout=settings.rpc_timeout
    )


def balance_call(owner: str, token_id: int | None) -> bytes:
    """The calldata of `balanceOf` for an ERC-721 (no `token_id`) or an ERC-1155."""
    if token_id is None:
        return ERC721_BALANCE_OF + address_word(owner)
    return ERC1155_BALANCE_OF + address_word(owner) + uint256_word(token_id)


class ChainHoldings:
    """`bot.ports.Holdings` over `eth_call`, with a cache of `cache_s` seconds and a bound of
    `timeout` seconds on each call."""

    def __init__(
        self,
        eth_call: EthCall,
        *,
        cache_s: float,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.eth_call = eth_call
        self.cache_s = cache_s
        self.timeout = timeout
        self.clock = clock
        self.calls = 0  # eth_calls made, for tests and benchmarks
        self._cache: dict[tuple[str, str, int | None], tuple[float, int]] = {}

    async def held(self, contract: str, owner: str, token_id: int | None = None) -> int:
        """How many tokens of `contract` `owner` holds (of `token_id`, for an ERC-1155), as
        the chain said at most `cache_s` seconds ago."""
        key = (contract.lower(), owner.lower(), token_id)
        now = self.clock()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        count = await self.fresh(contract, owner, token_id)
        if len(self._cache) >= CACHE_ROOM:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        self._cache[key] = (now + self.cache_s, count)
        return count

    async def fresh(self, contract: str, owner: str, token_id: int | None = None) -> int:
        """The balance as the chain says it now, past the cache (after a Transfer was seen)."""
        try:
            data = balance_call(owner, token_id)
        except ValueError as err:
            raise HoldingsUnavailable(f"cannot ask the balance: {err}") from None
        self.calls += 1
        try:
            async with asyncio.timeout(self.timeout):
                answer = await self.eth_call(contract, data)
        except TimeoutError:
            raise HoldingsUnavailable(f"no balance from the chain in {self.timeout:g} s") from None
        except Exception as err:
            raise HoldingsUnavailable(f"the chain gave no balance ({type(err).__name__})") from err
        count = _uint256(answer)
        if count is None:
            raise HoldingsUnavailable(f"{contract} answered balanceOf with no number")
        self._cache[(contract.lower(), owner.lower(), token_id)] = (
            self.clock() + self.cache_s,
            count,
        )
        return count

    def forget(self, owner: str) -> None:
        """Drop what the cache says of `owner` (a Transfer to or from them was seen)."""
        lower = owner.lower()
        for key in [k for k in self._cache if k[1] == lower]:
            del self._cache[key]


def _uint256(answer: Any) -> int | None:
    """One ABI word as a number, from the hex string or bytes the node answered; None if the
    answer is not one word (a contract without `balanceOf` answers nothing)."""
    if isinstance(answer, str):
        try:
            raw = bytes.fromhex(answer.removeprefix("0x"))
        except ValueError:
            return None
    elif isinstance(answer, bytes | bytearray):
        raw = bytes(answer)
    else:
        return None
    return int.from_bytes(raw, "big") if len(raw) == 32 else None
