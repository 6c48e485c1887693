"""The clone factory: deploying it once per chain, and creating a community's collection or
editions contract through it at an address known in advance."""

from __future__ import annotations

from typing import Any

from eth_utils.address import to_checksum_address
from web3 import AsyncWeb3
from web3.contract import AsyncContract

from bot.chain.calls import load_artifact
from bot.chain.contract import CollectionParams
from bot.chain.fees import Fees
from bot.chain.transactions import send_and_confirm
from bot.chain.wallet import HotWallet

CONTRACT_NAME = "MintbotFactory"
# Gas limits for the creates: the worst case measured (tests/test_contract_factory.py: a name of
# 64 four-byte characters, an 11-letter symbol, a 100-byte contract URI, owner, admin and
# royalty receiver all distinct; 532,566 gas for a collection, 532,323 for editions) plus a
# quarter. Nearly all of it is storage: 22,100 gas per 32 bytes of name or URI.
CREATE_COLLECTION_GAS = 666_000
CREATE_EDITIONS_GAS = 666_000

# The implementations are initialised by their constructors, so nobody can initialise them
# later; these values are never used (ERC-2981 refuses a zero royalty receiver).
_NOBODY = "0x0000000000000000000000000000000000000000"
_UNUSED_RECEIVER = "0x000000000000000000000000000000000000dEaD"
IMPLEMENTATION_PARAMS = CollectionParams(
    name="",
    symbol="",
    owner=_NOBODY,
    admin=_NOBODY,
    minter=_NOBODY,
    royalty_receiver=_UNUSED_RECEIVER,
    royalty_bps=0,
    contract_uri="",
)


def artifact() -> dict[str, Any]:
    """The committed compile output of `MintbotFactory.sol`."""
    return load_artifact(CONTRACT_NAME)


async def _deploy(
    w3: AsyncWeb3[Any], wallet: HotWallet, contract_name: str, args: tuple[Any, ...], fees: Fees
) -> str:
    built = load_artifact(contract_name)
    unbound = w3.eth.contract(abi=built["abi"], bytecode=built["bytecode"])
    tx = await unbound.constructor(*args).build_transaction(
        {"from": wallet.address, **fees.as_tx_fields()}
    )
    receipt = await send_and_confirm(w3, wallet, {k: v for k, v in tx.items() if k != "gas"}, fees)
    return to_checksum_address(str(receipt["contractAddress"]))


async def deploy_factory(w3: AsyncWeb3[Any], wallet: HotWallet, fees: Fees) -> str:
    """Deploy both implementations and the factory that clones them from `wallet`, waiting for
    each; returns the factory's address."""
    collection = await _deploy(
        w3, wallet, "MintbotCollection", IMPLEMENTATION_PARAMS.as_args(), fees
    )
    editions = await _deploy(w3, wallet, "MintbotEditions", IMPLEMENTATION_PARAMS.as_args(), fees)
    return await _deploy(w3, wallet, CONTRACT_NAME, (collection, editions), fees)


class Factory:
    """Typed access to a deployed factory. The address of what a deployer creates follows from
    the deployer and a 32-byte salt of its choosing, so it is known before the create is sent
    (and a retried create at the same salt reverts instead of making a second contract)."""

    def __init__(self, w3: AsyncWeb3[Any], address: str) -> None:
        self.w3 = w3
        self.address = to_checksum_address(address)
        self.contract: AsyncContract = w3.eth.contract(address=self.address, abi=artifact()["abi"])

    async def has_code(self) -> bool:
        return len(await self.w3.eth.get_code(self.address)) > 0  # type: ignore[arg-type]

    async def predict_collection(self, deployer: str, salt: bytes) -> str:
        address = await self.contract.functions.predictCollection(deployer, salt).call()
        return to_checksum_address(address)

    async def predict_editions(self, deployer: str, salt: bytes) -> str:
        address = await self.contract.functions.predictEditions(deployer, salt).call()
        return to_checksum_address(address)

    def encode_create_collection(self, salt: bytes, params: CollectionParams) -> bytes:
        """Calldata creating a collection clone at `salt` initialised with `params`."""
        return self._encode("createCollection", salt, params)

    def encode_create_editions(self, salt: bytes, params: CollectionParams) -> bytes:
        """Calldata creating an editions clone at `salt` initialised with `params`."""
        return self._encode("createEditions", salt, params)

    def _encode(self, function: str, salt: bytes, params: CollectionParams) -> bytes:
        if len(salt) != 32:
            raise ValueError(f"a salt is 32 bytes, not {len(salt)}")
        data = self.contract.encode_abi(function, [salt, *params.as_args()])
        return bytes.fromhex(data.removeprefix("0x"))
