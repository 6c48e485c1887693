"""Whether a smart wallet (a contract account: a Safe, a passkey wallet) accepts a signature,
as EIP-1271 asks it: `isValidSignature(bytes32 hash, bytes signature)` on the wallet's own
address answers the magic value 0x1626ba7e for a signature it stands behind.

ERC-6492 extends it to a wallet not deployed yet: its signature wraps the wallet factory's call
that deploys it, and MintbotSignatureCheck's constructor, run by an `eth_call` (never
deployed), makes that call and then asks the wallet.

Calls go over whichever JSON-RPC the process has (`RpcCall`): `eth_getCode` (is there a
contract at the address?) and the `eth_call`s, each bounded by `timeout` seconds. A call
that fails or takes too long raises `ChainUnanswered`: the one check that needed it is refused,
and may be tried again.
"""

from __future__ import annotations

import asyncio
import enum
import json
from functools import cache
from typing import Any

from eth_hash.auto import keccak

from bot.chain.reads import RpcCall, RpcRefused
from bot.contracts.build import artifact_path

# isValidSignature(bytes32,bytes): its selector is also the value a wallet answers for "yes".
IS_VALID_SIGNATURE = bytes.fromhex("1626ba7e")
# ERC-6492 wraps the signature of a wallet not deployed yet and ends it with these 32 bytes.
ERC6492_SUFFIX = bytes.fromhex("6492" * 16)
# The gas a check may burn: a passkey (P-256) check in Solidity costs a few hundred thousand, a
# Safe's one ecrecover per owner far less; a contract that loops forever stops here.
CHECK_GAS = 2_000_000
# An ERC-6492 check may deploy the wallet first (a few hundred thousand gas for the wallets in
# use), inside the same call.
DEPLOYLESS_GAS = 5_000_000


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


def _word(number: int) -> bytes:
    return number.to_bytes(32, "big")


def _bytes_tail(data: bytes) -> bytes:
    """`data` as the tail of an ABI-encoded `bytes`: its length, then it padded to words."""
    return _word(len(data)) + data + b"\x00" * (-len(data) % 32)


@cache
def _signature_check_code() -> bytes:
    """The creation code of MintbotSignatureCheck, ERC-6492's deploy-less validator."""
    built = json.loads(artifact_path("MintbotSignatureCheck").read_text())
    return bytes.fromhex(built["bytecode"].removeprefix("0x"))


def deployless_check_call(address: str, digest: bytes, signature: bytes) -> bytes:
    """The data of an `eth_call` (no `to`) that runs MintbotSignatureCheck's constructor with
    (address, digest, signature): it answers 0x01 if the wallet accepts the signature."""
    signer = bytes.fromhex(address.removeprefix("0x")).rjust(32, b"\x00")
    return _signature_check_code() + signer + digest + _word(96) + _bytes_tail(signature)


def is_valid_signature_call(digest: bytes, signature: bytes) -> bytes:
    """The ABI-encoded calldata of `isValidSignature(digest, signature)`."""
    # The bytes start after the two head words, at offset 64.
    return IS_VALID_SIGNATURE + digest + _word(64) + _bytes_tail(signature)


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

    async def counterfactual_verdict(
        self, address: str, digest: bytes, signature: bytes
    ) -> Verdict:
        """What the wallet at `address` says of an ERC-6492 `signature` over `digest`, deploying
        it inside the call if it is not deployed yet (MintbotSignatureCheck)."""
        call = {
            "data": "0x" + deployless_check_call(address, digest, signature).hex(),
            "gas": hex(DEPLOYLESS_GAS),
        }
        try:
            answer = await self._ask("eth_call", [call, "latest"])
        except RpcRefused as err:
            if err.reverted:  # a wrapper that does not decode
                return Verdict.REJECTED
            raise ChainUnanswered("the node refused the call") from None
        return Verdict.ACCEPTED if answer == "0x01" else Verdict.REJECTED

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
