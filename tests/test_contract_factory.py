"""The clone factory on a real anvil: addresses known in advance, clones initialised once and
owned by their community, and the operator's admin handing a collection over."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from eth_utils import keccak, to_checksum_address
from web3 import AsyncWeb3, Web3
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD
from web3.types import TxReceipt

from bot.chain.contract import DEFAULT_ADMIN_ROLE, MINTER_ROLE, Collection, CollectionParams
from bot.chain.editions import Editions
from bot.chain.factory import (
    CREATE_COLLECTION_GAS,
    CREATE_EDITIONS_GAS,
    Factory,
    artifact,
    deploy_factory,
)
from bot.chain.transactions import send_and_confirm
from bot.chain.wallet import HotWallet
from bot.env_values import Secret
from bot.hot_wallet_keys import ANVIL_DEV_KEYS
from tests.support import FEES
from tests.test_contract import HOLDER, reverted_with, token_id

KINDS = ["collection", "editions"]
PROXY_HEAD = bytes.fromhex("3d3d3d3d363d3d37363d73")
PROXY_TAIL = bytes.fromhex("5af43d3d93803e602a57fd5bf3")
DEPLOYMENT_FAILED = "0x30116425"  # LibClone's DeploymentFailed(): CREATE2 found the address taken


@pytest.fixture
def owner() -> HotWallet:
    """The community's verified address (anvil dev key 2)."""
    return HotWallet(Secret(ANVIL_DEV_KEYS[2]))


@pytest.fixture
async def factory(w3: AsyncWeb3, minter: HotWallet) -> Factory:
    return Factory(w3, await deploy_factory(w3, minter, FEES))


@pytest.fixture
def params(owner: HotWallet, admin: HotWallet, minter: HotWallet) -> CollectionParams:
    return CollectionParams(
        name="Art club",
        symbol="ART",
        owner=owner.address,
        admin=admin.address,
        minter=minter.address,
        royalty_receiver=owner.address,
        royalty_bps=750,
        contract_uri="ipfs://club",
    )


async def send(w3: AsyncWeb3, wallet: HotWallet, to: str, data: bytes) -> TxReceipt:
    return await send_and_confirm(w3, wallet, {"to": to, "data": "0x" + data.hex()}, FEES)


async def create(
    factory: Factory, wallet: HotWallet, kind: str, salt: bytes, params: CollectionParams
) -> tuple[str, TxReceipt]:
    """Create a clone of `kind` from `wallet`: its address (from the event) and the receipt."""
    encode = getattr(factory, f"encode_create_{kind}")
    receipt = await send(factory.w3, wallet, factory.address, encode(salt, params))
    event = "CollectionCreated" if kind == "collection" else "EditionsCreated"
    (created,) = getattr(factory.contract.events, event)().process_receipt(
        receipt,
        errors=DISCARD,  # the clone's own events are in the receipt too
    )
    assert created["args"]["deployer"] == wallet.address
    assert created["args"]["salt"] == salt
    return created["args"][kind], receipt


def predictor(factory: Factory, kind: str) -> Callable[[str, bytes], Awaitable[str]]:
    return factory.predict_collection if kind == "collection" else factory.predict_editions


def binding(w3: AsyncWeb3, kind: str, address: str) -> Collection | Editions:
    return Collection(w3, address) if kind == "collection" else Editions(w3, address)


async def implementation(factory: Factory, kind: str) -> str:
    return str(await getattr(factory.contract.functions, f"{kind}Implementation")().call())


@pytest.mark.parametrize("kind", KINDS)
async def test_a_clone_appears_at_the_predicted_address_as_a_proxy_of_the_implementation(
    factory: Factory, minter: HotWallet, params: CollectionParams, kind: str
):
    salt = os.urandom(32)
    predicted = await predictor(factory, kind)(minter.address, salt)
    assert await factory.w3.eth.get_code(predicted) == b""  # type: ignore[arg-type]
    created, _ = await create(factory, minter, kind, salt, params)
    assert created == predicted
    assert await binding(factory.w3, kind, created).has_code()
    # A minimal proxy (0age's 44-byte form of ERC-1167, which explorers recognise) that
    # delegates every call to the implementation.
    code = bytes(await factory.w3.eth.get_code(created))  # type: ignore[arg-type]
    target = bytes.fromhex((await implementation(factory, kind))[2:])
    assert code == PROXY_HEAD + target + PROXY_TAIL
    assert await factory.has_code()


@pytest.mark.parametrize("kind", KINDS)
async def test_a_salt_is_the_callers_own_and_used_once(
    factory: Factory, minter: HotWallet, admin: HotWallet, params: CollectionParams, kind: str
):
    salt = os.urandom(32)
    mine, _ = await create(factory, minter, kind, salt, params)
    with pytest.raises(ContractLogicError) as caught:
        await create(factory, minter, kind, salt, params)
    assert str(caught.value.data).startswith(DEPLOYMENT_FAILED)

    # Another sender's same salt is another address, which nobody else can take first.
    theirs = await predictor(factory, kind)(admin.address, salt)
    assert theirs != mine
    created, _ = await create(factory, admin, kind, salt, params)
    assert created == theirs


@pytest.mark.parametrize("kind", KINDS)
async def test_a_clone_is_initialised_once_and_an_implementation_never(
    factory: Factory, minter: HotWallet, admin: HotWallet, params: CollectionParams, kind: str
):
    created, _ = await create(factory, minter, kind, os.urandom(32), params)
    clone = binding(factory.w3, kind, created)
    takeover = CollectionParams("Mine", "MINE", *[admin.address] * 4, 10_000, "ipfs://mine")
    for target in (created, await implementation(factory, kind)):
        call = clone.contract.functions.initialize(*takeover.as_args())
        with pytest.raises(ContractCustomError) as caught:
            await call.call({"from": admin.address, "to": target})
        assert reverted_with(caught.value, "AlreadyInitialized()")
    assert await clone.contract.functions.owner().call() == params.owner
    assert await clone.contract.functions.name().call() == "Art club"


@pytest.mark.parametrize("kind", KINDS)
async def test_a_clone_is_owned_by_its_community_and_minted_by_the_hot_wallet_only(
    factory: Factory,
    minter: HotWallet,
    admin: HotWallet,
    owner: HotWallet,
    params: CollectionParams,
    kind: str,
):
    created, receipt = await create(factory, minter, kind, os.urandom(32), params)
    clone = binding(factory.w3, kind, created)
    functions = clone.contract.functions
    assert await functions.owner().call() == owner.address
    (transferred,) = clone.contract.events.OwnershipTransferred().process_receipt(
        receipt, errors=DISCARD
    )
    assert transferred["args"]["newOwner"] == owner.address
    assert [await functions.name().call(), await functions.symbol().call()] == ["Art club", "ART"]
    assert await functions.contractURI().call() == "ipfs://club"
    assert await functions.royaltyInfo(token_id(b"any"), 10_000).call() == [owner.address, 750]
    assert await clone.is_admin(admin.address) and await clone.is_admin(owner.address)
    assert await clone.is_minter(minter.address)
    assert not await clone.is_admin(minter.address)
    for account in (admin.address, owner.address):
        assert not await clone.is_minter(account)


@pytest.mark.parametrize("kind", KINDS)
async def test_the_admin_hands_over_and_the_owner_still_administers(
    factory: Factory,
    minter: HotWallet,
    admin: HotWallet,
    owner: HotWallet,
    params: CollectionParams,
    kind: str,
):
    created, _ = await create(factory, minter, kind, os.urandom(32), params)
    clone = binding(factory.w3, kind, created)
    w3 = factory.w3

    async def as_(wallet: HotWallet, function: str, *args: Any) -> TxReceipt:
        return await send(w3, wallet, created, clone.encode_call(function, *args))

    await as_(admin, "renounceRole", DEFAULT_ADMIN_ROLE, admin.address)
    assert not await clone.is_admin(admin.address)
    with pytest.raises(ContractCustomError):
        await as_(admin, "setContractURI", "ipfs://operator")

    await as_(owner, "setContractURI", "ipfs://ours")
    await as_(owner, "setDefaultRoyalty", HOLDER, 500)
    await as_(owner, "revokeRole", MINTER_ROLE, minter.address)
    assert not await clone.is_minter(minter.address)
    receipt = await as_(owner, "transferOwnership", HOLDER)
    (moved,) = clone.contract.events.OwnershipTransferred().process_receipt(receipt)
    assert dict(moved["args"]) == {"previousOwner": owner.address, "newOwner": HOLDER}
    functions = clone.contract.functions
    assert await functions.contractURI().call() == "ipfs://ours"
    assert await functions.royaltyInfo(1, 10_000).call() == [HOLDER, 500]
    assert await functions.owner().call() == HOLDER
    # The minter cannot move ownership.
    with pytest.raises(ContractCustomError):
        await as_(minter, "transferOwnership", minter.address)


async def test_clones_keep_their_own_tokens(
    factory: Factory, minter: HotWallet, params: CollectionParams
):
    first, second = [
        Collection(factory.w3, (await create(factory, minter, "collection", salt, params))[0])
        for salt in (os.urandom(32), os.urandom(32))
    ]
    tid = token_id(b"in the first clone")
    await first.mint(minter, HOLDER, tid, FEES)
    assert await first.owner_of(tid) == HOLDER
    assert not await second.exists(tid)
    assert (
        await first.token_uri(tid) == "ipfs://" + await first.contract.functions.cidOf(tid).call()
    )
    receipt = await first.mint_batch(minter, [HOLDER] * 2, [tid, tid + 1], FEES)
    assert len(first.contract.events.Transfer().process_receipt(receipt)) == 1


@pytest.mark.parametrize(
    ("kind", "limit"), [("collection", CREATE_COLLECTION_GAS), ("editions", CREATE_EDITIONS_GAS)]
)
async def test_the_create_gas_limit_leaves_a_quarter_over_the_worst_case(
    factory: Factory, minter: HotWallet, kind: str, limit: int
):
    worst = CollectionParams(
        "\N{ARTIST PALETTE}" * 64,  # the longest name: 64 characters of 4 UTF-8 bytes
        "A" * 11,
        HOLDER,
        to_checksum_address(keccak(b"admin")[:20]),
        minter.address,
        to_checksum_address(keccak(b"royalties")[:20]),
        1_000,
        "ipfs://" + "b" * 93,
    )
    _, receipt = await create(factory, minter, kind, os.urandom(32), worst)
    assert receipt["gasUsed"] * 1.25 <= limit


@pytest.mark.parametrize("function", ["createCollection", "createEditions"])
def test_create_calldata_is_the_abi_encoding(function: str, params: CollectionParams):
    factory = Factory(AsyncWeb3(), "0x" + "11" * 20)
    salt = keccak(b"salt")
    encode = (
        factory.encode_create_collection
        if "Collection" in function
        else (factory.encode_create_editions)
    )
    expected = (
        Web3()
        .eth.contract(abi=artifact()["abi"])
        .encode_abi(
            function,
            [
                salt,
                "Art club",
                "ART",
                params.owner,
                params.admin,
                params.minter,
                params.owner,
                750,
                "ipfs://club",
            ],
        )
    )
    assert "0x" + encode(salt, params).hex() == expected
    with pytest.raises(ValueError):
        encode(salt[:31], params)
