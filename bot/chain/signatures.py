"""Whether a smart wallet (a contract account: a Safe, a passkey wallet) accepts a signature,
as EIP-1271 asks it: `isValidSignature(bytes32 hash, bytes signature)` on the wallet's own
address answers the magic value 0x1626ba7e for a signature it stands behind.

Two calls over whichever JSON-RPC the process has (`RpcCall`): `eth_getCode` (is there a
contract at the address?) and the `eth_call` itself, each bounded by `timeout` seconds. A call
that fails or takes too long raises `ChainUnanswered`: the one check that needed it is refused,
and may be tried again.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Any

from eth_hash.auto import keccak

from bot.chain.reads import RpcCall, RpcRefused

# isValidSignature(bytes32,bytes): its selector is also the value a wallet answers for "yes".
IS_VALID_SIGNATURE = bytes.fromhex("1626ba7e")
# ERC-6492 wraps the signature of a wallet not deployed yet and ends it with these 32 bytes.
ERC6492_SUFFIX = bytes.fromhex("6492" * 16)
# The gas a check may burn: a passkey (P-256) check in Solidity costs a few hundred thousand, a
# Safe's one ecrecover per owner far less; a contract that loops forever stops here.
CHECK_GAS = 2_000_000


class ChainUnanswered(Exception):
    """The chain gave no usable answer in time (the node is down, slow or refusing us)."""


class Verdict(enum.Enum):
    ACCEPTED = "accepted"  # answered the magic value
    REJECTED = "rejected"  # answered something else
    NOT_EIP1271 = "not EIP-1271"  # reverted or answered nothing: no such function


def personal_message_hash(text: str) -> bytes:
    """The EIP-191 hash of `text` as `personal_sign` signs it: what a wallet's
    `isValidSignature` is asked about."""
    data = text.encode()
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)


def is_valid_signature_call(digest: bytes, signature: bytes) -> bytes:
    """The ABI-encoded calldata of `isValidSignature(digest, signature)`."""
    padded = signature + b"\x00" * (-len(signature) % 32)
    return (
        IS_VALID_SIGNATURE
        + digest
        + (64).to_bytes(32, "big")  # where the bytes start, after the two head words
        + len(signature).to_bytes(32, "big")
        + padded
    )


class ContractWallets:
    """EIP-1271 checks over `rpc`, each call bounded by `timeout` seconds."""

    def __init__(self, rpc: RpcCall, *, timeout: float) -> None:
        self.rpc = rpc
        self.timeout = timeout

    async def has_code(self, address: str) -> bool:
        """Whether a contract lives at `address` now."""
        code = await self._ask("eth_getCode", [address, "latest"])
        if not isinstance(code, str):
            raise ChainUnanswered("eth_getCode answered no code string")
        return code not in ("0x", "0x0", "")

    async def verdict(self, address: str, digest: bytes, signature: bytes) -> Verdict:
        """What the contract at `address` says of `signature` over `digest`."""
        call = {
            "to": address,
            "data": "0x" + is_valid_signature_call(digest, signature).hex(),
            "gas": hex(CHECK_GAS),
        }
        try:
            answer = await self._ask("eth_call", [call, "latest"])
        except RpcRefused as err:
            if err.reverted:
                return Verdict.NOT_EIP1271
            raise ChainUnanswered("the node refused the call") from None
        try:
            word = bytes.fromhex(answer.removeprefix("0x")) if isinstance(answer, str) else b""
        except ValueError:
            return Verdict.NOT_EIP1271
        # A bytes4 comes back left-aligned in one 32-byte word; less is no answer at all.
        if len(word) < 32:
            return Verdict.NOT_EIP1271
        return Verdict.ACCEPTED if word[:4] == IS_VALID_SIGNATURE else Verdict.REJECTED

    async def _ask(self, method: str, params: list[Any]) -> Any:
        try:
            async with asyncio.timeout(self.timeout):
                return await self.rpc(method, params)
        except RpcRefused:
            raise
        except TimeoutError:
            raise ChainUnanswered(f"no answer to {method} in {self.timeout:g} s") from None
        except Exception as err:  # any transport failure means the same: no answer this time
            raise ChainUnanswered(f"{method} failed ({type(err).__name__})") from None
