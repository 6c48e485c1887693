"""The collection contract: its committed artifact, deployment, and a typed binding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import AsyncWeb3
from web3.exceptions import ContractLogicError
from web3.types import TxReceipt

# The roles, named where callers look for them (defined beside the binding they share).
from bot.chain.calls import DEFAULT_ADMIN_ROLE as DEFAULT_ADMIN_ROLE
from bot.chain.calls import MINTER_ROLE as MINTER_ROLE
from bot.chain.calls import (
    ManagedContract,
    address_word,
    load_artifact,
    revert_words,
    simulate,
    uint256_word,
)
from bot.chain.deployments import Deployment
from bot.chain.fees import Fees
from bot.chain.transactions import send_and_confirm
from bot.chain.wallet import HotWallet
from bot.contracts.build import CONTRACT_NAME
from bot.errors import ChainError


def error_name(err: ContractLogicError) -> str:
    """A revert in words: the custom error's name, the revert string, or what the node said."""
    return revert_words(err, CONTRACT_NAME)


def artifact() -> dict[str, Any]:
    """The committed compile output of `MintbotCollection.sol`."""
    return load_artifact(CONTRACT_NAME)


@dataclass(frozen=True)
class CollectionParams:
    """What a deployment fixes (royalties and collection metadata can change later)."""

    name: str
    symbol: str
    owner: str
    admin: str
    minter: str
    royalty_receiver: str
    royalty_bps: int
    contract_uri: str

    def as_args(self) -> tuple[str, str, str, str, str, str, int, str]:
        """The constructor's (and a clone's `initialize`) arguments, in their order."""
        return (
            self.name,
            self.symbol,
            self.owner,
            self.admin,
            self.minter,
            self.royalty_receiver,
            self.royalty_bps,
            self.contract_uri,
        )


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
    tx = await factory.constructor(*params.as_args()).build_transaction(
        {"from": wallet.address, **fees.as_tx_fields()}
    )
    receipt = await send_and_confirm(w3, wallet, _without_gas(tx), fees)
    return Deployment(
        chain_id=await w3.eth.chain_id,
        address=to_checksum_address(str(receipt["contractAddress"])),
        tx_hash=receipt["transactionHash"].to_0x_hex(),
        block_number=receipt["blockNumber"],
    )


class Collection(ManagedContract):
    """Typed access to a deployed collection."""

    def __init__(self, w3: AsyncWeb3[Any], address: str) -> None:
        super().__init__(w3, address, artifact()["abi"])

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
        return await simulate(self.w3, self.address, sender, data, gas, error_name)

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


def mint_batch_calldata(recipients: list[str], token_ids: list[int]) -> bytes:
    """Calldata for `mintBatch(address[],uint256[])`, ABI-encoded here rather than by web3:
    web3 looks the function up and validates every argument on each call, which costs a
    batch of a hundred more CPU than the rest of signing it. Both arrays hold static
    32-byte words, so the encoding is two offsets, then each array as its length and words.
    Raises `ValueError` for an address that is not 20 bytes of hex or an ID out of range."""
    words = [MINT_BATCH_SELECTOR, uint256_word(64), uint256_word(96 + 32 * len(recipients))]
    words.append(uint256_word(len(recipients)))
    words.extend(address_word(recipient) for recipient in recipients)
    words.append(uint256_word(len(token_ids)))
    words.extend(uint256_word(token_id) for token_id in token_ids)
    return b"".join(words)


def batch_recipients(recipients: list[str]) -> list[str]:
    """`mintBatch` takes one address for a batch to a single holder (custody): a calldata word
    less per token."""
    return recipients[:1] if len(set(recipients)) == 1 else recipients


def _without_gas(tx: Any) -> dict[str, Any]:
    """A built transaction minus its gas figure, which `send_and_confirm` sets with headroom."""
    return {k: v for k, v in dict(tx).items() if k != "gas"}
