"""The editions contract (ERC-1155, one token ID per artwork, a balance of 1 per claim): a
typed binding and its hand-made calldata."""

from __future__ import annotations

from typing import Any

from eth_utils.crypto import keccak
from web3 import AsyncWeb3
from web3.exceptions import ContractLogicError

from bot.chain.calls import (
    ManagedContract,
    address_bytes,
    load_artifact,
    revert_words,
    simulate,
    uint256_word,
)

CONTRACT_NAME = "MintbotEditions"
MINT_EDITIONS_SELECTOR = keccak(text="mintEditions(uint256,uint256[])")[:4]
EDITION_LIMIT = 1 << 96  # a claim packs the edition number above a 160-bit address
BITMAP_WORD_BITS = 256


def artifact() -> dict[str, Any]:
    """The committed compile output of `MintbotEditions.sol`."""
    return load_artifact(CONTRACT_NAME)


def error_name(err: ContractLogicError) -> str:
    """A revert in words: the custom error's name (the editions' own and Solady's ERC-1155
    errors), the revert string, or what the node said."""
    return revert_words(err, CONTRACT_NAME)


def mint_editions_calldata(token_id: int, recipients: list[str], editions: list[int]) -> bytes:
    """Calldata for `mintEditions(uint256,uint256[])`, ABI-encoded here rather than by web3
    (see `mint_batch_calldata`): the ID, the array's offset, its length, then one word per
    claim packing `edition << 160 | recipient`. Raises `ValueError` for an address that is not
    20 bytes of hex, an edition outside 1..2**96-1, or lists of different lengths."""
    if len(recipients) != len(editions):
        raise ValueError(f"{len(recipients)} recipients for {len(editions)} editions")
    words = [MINT_EDITIONS_SELECTOR, uint256_word(token_id), uint256_word(64)]
    words.append(uint256_word(len(editions)))
    for recipient, edition in zip(recipients, editions, strict=True):
        if not 0 < edition < EDITION_LIMIT:
            raise ValueError(f"not an edition number: {edition}")
        words.append(edition.to_bytes(12, "big") + address_bytes(recipient))
    return b"".join(words)


class Editions(ManagedContract):
    """Typed access to a deployed editions contract."""

    def __init__(self, w3: AsyncWeb3[Any], address: str) -> None:
        super().__init__(w3, address, artifact()["abi"])

    def encode_mint_editions(
        self, token_id: int, recipients: list[str], editions: list[int]
    ) -> bytes:
        """Calldata minting edition `editions[i]` of `token_id` to `recipients[i]`."""
        return mint_editions_calldata(token_id, recipients, editions)

    async def minted(self, token_id: int, editions: list[int]) -> set[int]:
        """Which of `editions` of `token_id` are minted: one call per bitmap word they span."""
        words = {edition // BITMAP_WORD_BITS for edition in editions}
        bits = {
            word: int(await self.contract.functions.mintedEditions(token_id, word).call())
            for word in sorted(words)
        }
        return {
            edition
            for edition in editions
            if bits[edition // BITMAP_WORD_BITS] >> (edition % BITMAP_WORD_BITS) & 1
        }

    def encode_call(self, function: str, *args: Any) -> bytes:
        """Calldata for calling `function` with `args`."""
        return bytes.fromhex(self.contract.encode_abi(function, list(args)).removeprefix("0x"))

    def encode_transfer(self, owner: str, to: str, token_id: int) -> bytes:
        """Calldata for `safeTransferFrom(owner, to, id, 1, "")`: one edition."""
        return self.encode_call("safeTransferFrom", owner, to, token_id, 1, b"")

    async def balance_of(self, account: str, token_id: int) -> int:
        return int(await self.contract.functions.balanceOf(account, token_id).call())

    async def uri(self, token_id: int) -> str:
        return str(await self.contract.functions.uri(token_id).call())

    async def revert_reason(self, sender: str, data: bytes, gas: int) -> str | None:
        """As `Collection.revert_reason`: None if the call would succeed, else its error."""
        return await simulate(self.w3, self.address, sender, data, gas, error_name)
