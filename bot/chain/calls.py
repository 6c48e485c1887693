"""What every binding of our contracts shares: the committed artifacts, custom errors in
words, and simulating a call before sending it."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import AsyncWeb3
from web3._utils.error_formatters_utils import raise_contract_logic_error_on_revert
from web3.contract import AsyncContract
from web3.exceptions import ContractLogicError
from web3.types import RPCEndpoint

from bot.contracts.build import artifact_path

ETH_CALL = RPCEndpoint("eth_call")
_UINT256_LIMIT = 1 << 256


@cache
def load_artifact(contract_name: str) -> dict[str, Any]:
    """The committed compile output of `<contract_name>.sol`."""
    return json.loads(artifact_path(contract_name).read_text())  # type: ignore[no-any-return]


@cache
def error_names(contract_name: str) -> dict[str, str]:
    """The 4-byte selectors of the custom errors a contract declares, to their names."""
    names = {}
    for item in load_artifact(contract_name)["abi"]:
        if item["type"] == "error":
            signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
            names["0x" + keccak(text=signature)[:4].hex()] = item["name"]
    return names


def revert_words(err: ContractLogicError, contract_name: str) -> str:
    """A revert in words: the custom error's name, the revert string, or what the node said."""
    data = err.data if isinstance(err.data, str) else None
    names = error_names(contract_name)
    if data and data[:10] in names:
        return names[data[:10]]
    return (err.message or str(err) or "reverted")[:200]


async def simulate(
    w3: AsyncWeb3[Any],
    to: str,
    sender: str,
    data: bytes,
    gas: int,
    error_name: Callable[[ContractLogicError], str],
) -> str | None:
    """Run a call as `sender` would send it to `to`, against the pending block, without
    sending it: None if it would succeed, else the contract's error in `error_name`'s words.
    Faults of the node itself (timeouts, 429s) propagate.

    The call goes to the provider as is: web3's request and result formatters (ENS names,
    checksums, hex conversions of a batch's kilobytes of calldata) cost more CPU than the
    call. A revert raises the `ContractLogicError` web3 would raise."""
    call = {"from": sender, "to": to, "data": "0x" + data.hex(), "gas": hex(gas)}
    params = [call, "pending"]
    response = await w3.provider.make_request(ETH_CALL, params)
    try:
        w3.manager.formatted_response(
            response, params, error_formatters=raise_contract_logic_error_on_revert
        )
    except ContractLogicError as err:
        return error_name(err)
    return None


def uint256_word(value: int) -> bytes:
    """`value` as one ABI word; `ValueError` outside uint256."""
    if not 0 <= value < _UINT256_LIMIT:
        raise ValueError(f"not a uint256: {value}")
    return value.to_bytes(32, "big")


def address_bytes(address: str) -> bytes:
    """The 20 bytes of a 0x-prefixed hex address; `ValueError` for anything else."""
    raw = bytes.fromhex(address[2:]) if address[:2] in ("0x", "0X") else b""
    if len(address) != 42 or len(raw) != 20:  # fromhex skips spaces: count both
        raise ValueError(f"not an address: {address!r}")
    return raw


def address_word(address: str) -> bytes:
    """An address as one ABI word (left-padded with zeros)."""
    return bytes(12) + address_bytes(address)


MINTER_ROLE = keccak(text="MINTER_ROLE")
DEFAULT_ADMIN_ROLE = b"\x00" * 32


class ManagedContract:
    """What every contract of ours answers alike (`MintbotManaged`: roles, owner), bound to
    its address with its ABI."""

    def __init__(self, w3: AsyncWeb3[Any], address: str, abi: list[dict[str, Any]]) -> None:
        self.w3 = w3
        self.address = to_checksum_address(address)
        self.contract: AsyncContract = w3.eth.contract(address=self.address, abi=abi)

    async def has_code(self) -> bool:
        return len(await self.w3.eth.get_code(self.address)) > 0  # type: ignore[arg-type]

    async def is_minter(self, account: str) -> bool:
        return bool(await self.contract.functions.hasRole(MINTER_ROLE, account).call())

    async def is_admin(self, account: str) -> bool:
        return bool(await self.contract.functions.hasRole(DEFAULT_ADMIN_ROLE, account).call())

    async def owner(self) -> str:
        """The contract's owner: the address marketplaces let edit its page."""
        return str(await self.contract.functions.owner().call())
