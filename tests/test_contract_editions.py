"""The editions contract (ERC-1155) on a real anvil, through a clone as a community gets it:
a balance of 1 per claim, no edition minted twice, the receiver check, URIs and transfers."""

from __future__ import annotations

import os

import pytest
from eth_utils import keccak, to_checksum_address
from hypothesis import given
from hypothesis import strategies as st
from web3 import AsyncWeb3, Web3
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD
from web3.types import RPCEndpoint, TxReceipt

from bot.chain import client
from bot.chain.contract import Collection, CollectionParams
from bot.chain.editions import Editions, artifact, mint_editions_calldata
from bot.chain.factory import Factory, deploy_factory
from bot.chain.transactions import send_and_confirm
from bot.chain.wallet import HotWallet
from bot.env_values import Secret
from bot.errors import TransactionReverted
from bot.hot_wallet_keys import ANVIL_DEV_KEYS
from tests.rpc_proxy import RpcProxy
from tests.solc import compiled_contract
from tests.support import FEES
from tests.test_contract import (
    HELLO_WORLD_CID,
    HOLDER,
    OTHER,
    cidv1_raw_sha256,
    reverted_with,
    token_id,
)

ZERO = "0x0000000000000000000000000000000000000000"


def fresh_addresses(count: int) -> list[str]:
    return [to_checksum_address(os.urandom(20)) for _ in range(count)]


@pytest.fixture
async def factory(w3: AsyncWeb3, minter: HotWallet) -> Factory:
    return Factory(w3, await deploy_factory(w3, minter, FEES))


@pytest.fixture
async def editions(factory: Factory, minter: HotWallet, admin: HotWallet) -> Editions:
    """A community's editions clone: owner dev key 2, admin dev key 1, minter dev key 0."""
    owner = HotWallet(Secret(ANVIL_DEV_KEYS[2])).address
    params = CollectionParams(
        "Drops", "DROP", owner, admin.address, minter.address, owner, 500, "ipfs://drops"
    )
    salt = os.urandom(32)
    address = await factory.predict_editions(minter.address, salt)
    await send(factory.w3, minter, factory.address, factory.encode_create_editions(salt, params))
    return Editions(factory.w3, address)


async def send(w3: AsyncWeb3, wallet: HotWallet, to: str, data: bytes) -> TxReceipt:
    return await send_and_confirm(w3, wallet, {"to": to, "data": "0x" + data.hex()}, FEES)


async def mint(
    editions: Editions, wallet: HotWallet, tid: int, recipients: list[str], numbers: list[int]
) -> TxReceipt:
    data = editions.encode_mint_editions(tid, recipients, numbers)
    return await send(editions.w3, wallet, editions.address, data)


def transfers(editions: Editions, receipt: TxReceipt) -> list[tuple[str, str, int, int]]:
    events = editions.contract.events.TransferSingle().process_receipt(receipt, errors=DISCARD)
    return [(e.args["from"], e.args["to"], e.args["id"], e.args["amount"]) for e in events]


async def test_each_claim_mints_a_balance_of_one(editions: Editions, minter: HotWallet):
    tid = token_id(b"artwork")
    holders = fresh_addresses(3)
    receipt = await mint(editions, minter, tid, holders, [1, 2, 3])
    assert [await editions.balance_of(h, tid) for h in holders] == [1, 1, 1]
    assert transfers(editions, receipt) == [(ZERO, h, tid, 1) for h in holders]
    (event, *_) = editions.contract.events.TransferSingle().process_receipt(receipt)
    assert event.args["operator"] == minter.address
    assert await editions.minted(tid, [1, 2, 3, 4, 300]) == {1, 2, 3}
    functions = editions.contract.functions
    assert await functions.mintedEditions(tid, 0).call() == 0b1110
    assert await functions.editionMinted(tid, 3).call()
    assert not await functions.editionMinted(tid, 4).call()
    # Another artwork's editions are its own.
    assert await editions.minted(token_id(b"another"), [1, 2, 3]) == set()


async def test_a_replayed_batch_mints_no_edition_twice(editions: Editions, minter: HotWallet):
    tid = token_id(b"replayed")
    holders = fresh_addresses(4)
    await mint(editions, minter, tid, holders[:3], [1, 2, 300])
    call = editions.contract.functions.mintEditions
    claims = [(n << 160) | int(h, 16) for n, h in zip([1, 2, 300], holders, strict=False)]
    assert await call(tid, claims).call({"from": minter.address}) == 0

    again = await mint(editions, minter, tid, holders[:3], [1, 2, 300])
    assert again["status"] == 1
    assert transfers(editions, again) == []
    # A batch overlapping the last mints only what is new, and the same edition once.
    overlap = await mint(editions, minter, tid, [holders[3], holders[0], OTHER], [2, 4, 4])
    assert transfers(editions, overlap) == [(ZERO, holders[0], tid, 1)]
    balances = [await editions.balance_of(h, tid) for h in [*holders, OTHER]]
    assert balances == [2, 1, 1, 0, 0]
    assert await editions.minted(tid, list(range(1, 301))) == {1, 2, 4, 300}
    # Claims out of order, going back to a bitmap word they left, still mint each edition once.
    late = fresh_addresses(5)
    shuffled = await mint(editions, minter, tid, late, [5, 600, 6, 5, 600])
    assert [to for _, to, _, _ in transfers(editions, shuffled)] == late[:3]
    assert await editions.minted(tid, [5, 6, 600]) == {5, 6, 600}


async def test_edition_zero_reverts(editions: Editions, minter: HotWallet):
    tid = token_id(b"zero")
    with pytest.raises(ValueError):
        editions.encode_mint_editions(tid, [HOLDER], [0])
    claims = [(1 << 160) | int(HOLDER, 16), int(OTHER, 16)]  # edition 0 for OTHER
    data = editions.encode_call("mintEditions", tid, claims)
    assert await editions.revert_reason(minter.address, data, 500_000) == "EditionZero"
    with pytest.raises(ContractCustomError) as caught:
        await editions.contract.functions.mintEditions(tid, claims).call({"from": minter.address})
    assert reverted_with(caught.value, "EditionZero(uint256)")
    assert await editions.balance_of(HOLDER, tid) == 0


async def test_a_contract_that_does_not_accept_editions_fails_its_batch_alone(
    editions: Editions, factory: Factory, minter: HotWallet
):
    """A recipient contract without onERC1155Received makes the call revert, so simulating
    halves of a batch finds the claim at fault."""
    tid = token_id(b"to a contract")
    holder = fresh_addresses(1)[0]
    batch = editions.encode_mint_editions(tid, [holder, factory.address], [1, 2])
    reason = await editions.revert_reason(minter.address, batch, 500_000)
    assert reason == "TransferToNonERC1155ReceiverImplementer"
    alone = editions.encode_mint_editions(tid, [holder], [1])
    assert await editions.revert_reason(minter.address, alone, 500_000) is None
    with pytest.raises(TransactionReverted):
        await send_and_confirm(
            editions.w3,
            minter,
            {"to": editions.address, "data": "0x" + batch.hex(), "gas": 500_000},
            FEES,
        )
    assert await editions.minted(tid, [1, 2]) == set()
    assert await editions.balance_of(holder, tid) == 0


async def test_a_contract_that_accepts_editions_gets_its_edition(
    editions: Editions, w3: AsyncWeb3, minter: HotWallet
):
    receiver = compiled_contract("EditionsReceiver")
    wallet = to_checksum_address(os.urandom(20))
    await w3.provider.make_request(
        RPCEndpoint("anvil_setCode"), [wallet, receiver.deployed_bytecode]
    )
    tid = token_id(b"to a contract wallet")
    holder = fresh_addresses(1)[0]
    receipt = await mint(editions, minter, tid, [holder, wallet], [1, 2])
    assert transfers(editions, receipt) == [(ZERO, holder, tid, 1), (ZERO, wallet, tid, 1)]
    assert await editions.balance_of(wallet, tid) == 1


async def test_the_zero_address_and_other_senders_are_refused(
    editions: Editions, minter: HotWallet, admin: HotWallet
):
    tid = token_id(b"refused")
    cases = [
        (minter, [HOLDER, ZERO], "TransferToZeroAddress"),
        (admin, [HOLDER, OTHER], "AccessControlUnauthorizedAccount"),
        (minter, [HOLDER, OTHER], None),
    ]
    for sender, recipients, error in cases:
        data = editions.encode_mint_editions(tid, recipients, [1, 2])
        assert await editions.revert_reason(sender.address, data, 500_000) == error


async def test_uri_is_the_cid_of_the_id_as_for_the_collection(
    editions: Editions, collection: Collection, minter: HotWallet
):
    tid = token_id(b"hello world")
    assert await editions.uri(tid) == f"ipfs://{HELLO_WORLD_CID}"
    await collection.mint(minter, HOLDER, tid, FEES)
    assert await editions.uri(tid) == await collection.token_uri(tid)
    for digest in (b"\x00" * 32, b"\xff" * 32, bytes(range(32))):
        on_chain = await editions.contract.functions.cidOf(int.from_bytes(digest, "big")).call()
        assert on_chain == cidv1_raw_sha256(digest)


async def test_an_edition_leaves_custody_by_safe_transfer(
    editions: Editions, factory: Factory, minter: HotWallet
):
    """Claims without a wallet go to the hot wallet (custody) and leave it one by one."""
    tid = token_id(b"custody")
    receipt = await mint(editions, minter, tid, [minter.address] * 5, [1, 2, 3, 4, 5])
    assert len(transfers(editions, receipt)) == 5
    assert await editions.balance_of(minter.address, tid) == 5

    withdrawal = editions.encode_transfer(minter.address, HOLDER, tid)
    receipt = await send(editions.w3, minter, editions.address, withdrawal)
    assert transfers(editions, receipt) == [(minter.address, HOLDER, tid, 1)]
    assert await editions.balance_of(minter.address, tid) == 4
    assert await editions.balance_of(HOLDER, tid) == 1
    to_contract = editions.encode_transfer(minter.address, factory.address, tid)
    reason = await editions.revert_reason(minter.address, to_contract, 200_000)
    assert reason == "TransferToNonERC1155ReceiverImplementer"


async def test_reading_minted_editions_is_one_call_per_bitmap_word(
    proxy: RpcProxy, editions: Editions, minter: HotWallet
):
    tid = token_id(b"words")
    await mint(editions, minter, tid, fresh_addresses(3), [1, 255, 256])
    w3 = await client.connect(proxy.url, 31337)
    try:
        through_proxy = Editions(w3, editions.address)
        proxy.calls.clear()
        assert await through_proxy.minted(tid, [1, 2, 255, 256, 257]) == {1, 255, 256}
        assert proxy.calls.count("eth_call") == 2  # words 0 and 1
    finally:
        await client.close(w3)


@pytest.mark.parametrize(
    ("interface", "expected"),
    [
        ("0x01ffc9a7", True),  # ERC-165
        ("0xd9b67a26", True),  # ERC-1155
        ("0x0e89341c", True),  # ERC-1155 metadata URI
        ("0x2a55205a", True),  # ERC-2981
        ("0x7965db0b", True),  # AccessControl
        ("0x80ac58cd", False),  # ERC-721
        ("0xffffffff", False),  # ERC-165 says this must be false
    ],
)
async def test_supports_interface(editions: Editions, interface: str, expected: bool):
    answer = await editions.contract.functions.supportsInterface(
        bytes.fromhex(interface[2:])
    ).call()
    assert answer is expected


UNBOUND = Web3().eth.contract(abi=artifact()["abi"])


@given(
    tid=st.integers(0, 2**256 - 1),
    claims=st.lists(st.tuples(st.binary(min_size=20, max_size=20), st.integers(1, 2**96 - 1))),
)
def test_mint_editions_calldata_is_the_abi_encoding_web3_makes(
    tid: int, claims: list[tuple[bytes, int]]
):
    recipients = [to_checksum_address(raw) for raw, _ in claims]
    numbers = [number for _, number in claims]
    packed = [(number << 160) | int.from_bytes(raw, "big") for raw, number in claims]
    expected = UNBOUND.encode_abi("mintEditions", [tid, packed])
    assert "0x" + mint_editions_calldata(tid, recipients, numbers).hex() == expected


@pytest.mark.parametrize(
    ("tid", "recipients", "numbers"),
    [
        (1, [HOLDER], [0]),
        (1, [HOLDER], [2**96]),
        (1, [HOLDER], [-1]),
        (1, [HOLDER[:-2]], [1]),
        (1, [HOLDER[2:] + "00"], [1]),
        (1, [HOLDER, OTHER], [1]),
        (-1, [HOLDER], [1]),
        (2**256, [HOLDER], [1]),
    ],
)
def test_mint_editions_calldata_refuses_what_it_cannot_encode(
    tid: int, recipients: list[str], numbers: list[int]
):
    with pytest.raises(ValueError):
        mint_editions_calldata(tid, recipients, numbers)


def test_transfer_calldata_is_safe_transfer_from_of_one():
    editions = Editions(AsyncWeb3(), "0x" + "22" * 20)
    expected = UNBOUND.encode_abi("safeTransferFrom", [HOLDER, OTHER, 7, 1, b""])
    assert "0x" + editions.encode_transfer(HOLDER, OTHER, 7).hex() == expected
    assert (
        editions.encode_transfer(HOLDER, OTHER, 7)[:4]
        == keccak(text="safeTransferFrom(address,address,uint256,uint256,bytes)")[:4]
    )
