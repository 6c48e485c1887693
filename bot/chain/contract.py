"""The collection contract: its committed artifact, deployment, and a typed binding."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import AsyncWeb3
from web3._utils.error_formatters_utils import raise_contract_logic_error_on_revert
from web3.contract import AsyncContract
from web3.exceptions import ContractLogicError
from web3.types import RPCEndpoint, TxReceipt

from bot.chain.deployments import Deployment
from bot.chain.fees import Fees
from bot.chain.transactions import send_and_confirm
from bot.chain.wallet import HotWallet
from bot.contracts.build import ARTIFACT_PATH
from bot.errors import ChainError

MINTER_ROLE = keccak(text="MINTER_ROLE")
DEFAULT_ADMIN_ROLE = b"\x00" * 32
ETH_CALL = RPCEndpoint("eth_call")


@cache
def _error_names() -> dict[str, str]:
    """The 4-byte selectors of the custom errors the contract declares, to their names."""
    names = {}
    for item in artifact()["abi"]:
        if item["type"] == "error":
            signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
            names["0x" + keccak(text=signature)[:4].hex()] = item["name"]
    return names


def error_name(err: ContractLogicError) -> str:
    """A revert in words: the custom error's name, the revert string, or what the node said."""
    data = err.data if isinstance(err.data, str) else None
    if data and data[:10] in _error_names():
        return _error_names()[data[:10]]
    return (err.message or str(err) or "reverted")[:200]


@cache
def artifact() -> dict[str, Any]:
    """The committed compile output of `MintbotCollection.sol`."""
    return json.loads(ARTIFACT_PATH.read_text())  # type: ignore[no-any-return]


@dataclass(frozen=True)
class CollectionParams:
    """What a deployment fixes (royalties and collection metadata can change later)."""

    name: str
    symbol: str
    admin: str
    minter: str
    royalty_receiver: str
    royalty_bps: int
    contract_uri: str


async def deploy_collection(
    w3: AsyncWeb3[Any], wallet: HotWallet, params: CollectionParams, fees: Fees
) -> Deployment:
    """Deploy a new collection from `wallet` and wait for it to be mined."""
    if params.admin == params.minter:
        raise ChainError(
            "ADMIN_ADDRESS: the contract admin must not be the hot wallet; "
            "use a separate (ideally cold) address"
        )
    factory = w3.eth.contract(abi=artifact()["abi"], bytecode=artifact()["bytecode"])
    tx = await factory.constructor(
        params.name,
        params.symbol,
        params.admin,
        params.minter,
        params.royalty_receiver,
        params.royalty_bps,
        params.contract_uri,
    ).build_transaction({"from": wallet.address, **fees.as_tx_fields()})
    receipt = await send_and_confirm(w3, wallet, _without_gas(tx), fees)
    return Deployment(
        chain_id=await w3.eth.chain_id,
        address=to_checksum_address(str(receipt["contractAddress"])),
        tx_hash=receipt["transactionHash"].to_0x_hex(),
        block_number=receipt["blockNumber"],
    )


class Collection:
    """Typed access to a deployed collection."""

    def __init__(self, w3: AsyncWeb3[Any], address: str) -> None:
        self.w3 = w3
        self.address = to_checksum_address(address)
        self.contract: AsyncContract = w3.eth.contract(address=self.address, abi=artifact()["abi"])

    async def has_code(self) -> bool:
        return len(await self.w3.eth.get_code(self.address)) > 0  # type: ignore[arg-type]

    async def is_minter(self, account: str) -> bool:
        return bool(await self.contract.functions.hasRole(MINTER_ROLE, account).call())

    async def is_admin(self, account: str) -> bool:
        return bool(await self.contract.functions.hasRole(DEFAULT_ADMIN_ROLE, account).call())

    async def exists(self, token_id: int) -> bool:
        """Whether the token is minted (ownerOf answers instead of reverting)."""
        try:
            await self.contract.functions.ownerOf(token_id).call()
        except ContractLogicError:
            return False
        return True

    async def revert_reason(self, sender: str, data: bytes, gas: int) -> str | None:
        """Run a call as `sender` would send it, against the pending block, without sending
        it: None if it would succeed, else the contract's error (its name where the ABI
        declares it). Faults of the node itself (timeouts, 429s) propagate.

        The call goes to the provider as is: web3's request and result formatters (ENS
        names, checksums, hex conversions of a batch's kilobytes of calldata) cost more CPU
        than the call. A revert raises the `ContractLogicError` web3 would raise."""
        call = {"from": sender, "to": self.address, "data": "0x" + data.hex(), "gas": hex(gas)}
        params = [call, "pending"]
        response = await self.w3.provider.make_request(ETH_CALL, params)
        try:
            self.w3.manager.formatted_response(
                response, params, error_formatters=raise_contract_logic_error_on_revert
            )
        except ContractLogicError as err:
            return error_name(err)
        return None

    def encode_mint_batch(self, recipients: list[str], token_ids: list[int]) -> bytes:
        """Calldata for `mintBatch`, with the single-recipient form where it applies."""
        return mint_batch_calldata(batch_recipients(recipients), token_ids)

    def encode_call(self, function: str, *args: Any) -> bytes:
        """Calldata for calling `function` with `args`."""
        return bytes.fromhex(self.contract.encode_abi(function, list(args)).removeprefix("0x"))

    def encode_transfer(self, owner: str, to: str, token_id: int) -> bytes:
        """Calldata for `transferFrom(owner, to, id)`."""
        return self.encode_call("transferFrom", owner, to, token_id)

    async def may_transfer_for(self, owner: str, operator: str) -> bool:
        """Whether `operator` may move all of `owner`'s tokens (itself, or approved for all)."""
        if to_checksum_address(owner) == to_checksum_address(operator):
            return True
        return bool(await self.contract.functions.isApprovedForAll(owner, operator).call())

    async def owner_of(self, token_id: int) -> str:
        return str(await self.contract.functions.ownerOf(token_id).call())

    async def token_uri(self, token_id: int) -> str:
        return str(await self.contract.functions.tokenURI(token_id).call())

    async def transact(self, wallet: HotWallet, function: str, *args: Any, fees: Fees) -> TxReceipt:
        """Call a state-changing function from `wallet` and wait for its receipt."""
        tx = await getattr(self.contract.functions, function)(*args).build_transaction(
            {"from": wallet.address, **fees.as_tx_fields()}
        )
        return await send_and_confirm(self.w3, wallet, _without_gas(tx), fees)

    async def mint(self, wallet: HotWallet, to: str, token_id: int, fees: Fees) -> TxReceipt:
        return await self.transact(wallet, "mint", to, token_id, fees=fees)

    async def mint_batch(
        self, wallet: HotWallet, recipients: list[str], token_ids: list[int], fees: Fees
    ) -> TxReceipt:
        return await self.transact(
            wallet, "mintBatch", batch_recipients(recipients), token_ids, fees=fees
        )


MINT_BATCH_SELECTOR = keccak(text="mintBatch(address[],uint256[])")[:4]
_UINT256_LIMIT = 1 << 256


def mint_batch_calldata(recipients: list[str], token_ids: list[int]) -> bytes:
    """Calldata for `mintBatch(address[],uint256[])`, ABI-encoded here rather than by web3:
    web3 looks the function up and validates every argument on each call, which costs a
    batch of a hundred more CPU than the rest of signing it. Both arrays hold static
    32-byte words, so the encoding is two offsets, then each array as its length and words.
    Raises `ValueError` for an address that is not 20 bytes of hex or an ID out of range."""
    words = [MINT_BATCH_SELECTOR, _word(64), _word(96 + 32 * len(recipients))]
    words.append(_word(len(recipients)))
    for recipient in recipients:
        raw = bytes.fromhex(recipient[2:]) if recipient[:2] in ("0x", "0X") else b""
        if len(recipient) != 42 or len(raw) != 20:  # fromhex skips spaces: count both
            raise ValueError(f"not an address: {recipient!r}")
        words.append(bytes(12) + raw)
    words.append(_word(len(token_ids)))
    words.extend(_word(token_id) for token_id in token_ids)
    return b"".join(words)


def _word(value: int) -> bytes:
    if not 0 <= value < _UINT256_LIMIT:
        raise ValueError(f"not a uint256: {value}")
    return value.to_bytes(32, "big")


def batch_recipients(recipients: list[str]) -> list[str]:
    """`mintBatch` takes one address for a batch to a single holder (custody): a calldata word
    less per token."""
    return recipients[:1] if len(set(recipients)) == 1 else recipients


def _without_gas(tx: Any) -> dict[str, Any]:
    """A built transaction minus its gas figure, which `send_and_confirm` sets with headroom."""
    return {k: v for k, v in dict(tx).items() if k != "gas"}
