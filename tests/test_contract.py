"""The collection contract on a real anvil: minting, batches, roles, royalties, token URIs."""

from __future__ import annotations

import base64
import hashlib

import pytest
from eth_utils import keccak, to_checksum_address
from web3 import AsyncWeb3, Web3
from web3.exceptions import ContractCustomError, ContractLogicError

from bot.chain import client
from bot.chain.contract import (
    DEFAULT_ADMIN_ROLE,
    MINTER_ROLE,
    Collection,
    artifact,
    mint_batch_calldata,
)
from bot.chain.wallet import HotWallet
from tests.rpc_proxy import RpcProxy
from tests.support import FEES

HOLDER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"  # anvil dev account 3
OTHER = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"  # anvil dev account 4


def token_id(content: bytes) -> int:
    return int.from_bytes(hashlib.sha256(content).digest(), "big")


def selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


def reverted_with(err: Exception, signature: str) -> bool:
    data = getattr(err, "data", None)
    return isinstance(data, str) and data.startswith(selector(signature))


async def test_mint_gives_the_token_to_the_recipient(collection: Collection, minter: HotWallet):
    tid = token_id(b"first")
    receipt = await collection.mint(minter, HOLDER, tid, FEES)
    assert receipt["status"] == 1
    assert await collection.owner_of(tid) == HOLDER
    assert await collection.contract.functions.balanceOf(HOLDER).call() == 1


async def test_a_second_single_mint_of_the_same_id_reverts(
    w3: AsyncWeb3, collection: Collection, minter: HotWallet
):
    tid = token_id(b"once")
    await collection.mint(minter, HOLDER, tid, FEES)
    with pytest.raises(ContractCustomError) as caught:
        await collection.mint(minter, OTHER, tid, FEES)
    assert reverted_with(caught.value, "TokenAlreadyExists()")

    # Forced on chain with a fixed gas limit, it is mined and fails: no second token.
    tx = await collection.contract.functions.mint(OTHER, tid).build_transaction(
        {
            "from": minter.address,
            "gas": 200_000,
            **FEES.as_tx_fields(),
            "nonce": await w3.eth.get_transaction_count(minter.address),
        }  # type: ignore[arg-type]
    )
    tx_hash = await w3.eth.send_raw_transaction(minter.sign_transaction(dict(tx)).raw_transaction)
    receipt = await w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 0
    assert await collection.owner_of(tid) == HOLDER
    assert await collection.contract.functions.balanceOf(OTHER).call() == 0


async def test_batch_skips_ids_that_exist_and_mints_the_rest(
    collection: Collection, minter: HotWallet
):
    existing = token_id(b"existing")
    await collection.mint(minter, HOLDER, existing, FEES)
    new = [token_id(b"new-1"), token_id(b"new-2")]

    minted = await collection.contract.functions.mintBatch(
        [OTHER, OTHER, OTHER], [new[0], existing, new[1]]
    ).call({"from": minter.address})
    assert minted == 2
    receipt = await collection.mint_batch(
        minter, [OTHER, OTHER, OTHER], [new[0], existing, new[1]], FEES
    )
    assert receipt["status"] == 1
    assert await collection.owner_of(existing) == HOLDER  # untouched
    assert [await collection.owner_of(t) for t in new] == [OTHER, OTHER]

    # The same batch again is harmless: it succeeds and creates nothing.
    again = await collection.mint_batch(
        minter, [OTHER, OTHER, OTHER], [new[0], existing, new[1]], FEES
    )
    assert again["status"] == 1
    assert await collection.contract.functions.balanceOf(OTHER).call() == 2
    transfers = collection.contract.events.Transfer().process_receipt(again)
    assert transfers == ()


async def test_batch_with_one_recipient_gives_it_every_token(
    collection: Collection, minter: HotWallet
):
    ids = [token_id(b"custody-%d" % n) for n in range(5)]
    # The binding sends a single address when every token goes to one holder.
    receipt = await collection.mint_batch(minter, [HOLDER] * 5, ids, FEES)
    call = collection.contract.decode_function_input(
        (await collection.w3.eth.get_transaction(receipt["transactionHash"]))["input"]
    )
    assert call[1]["to"] == [HOLDER]
    assert [await collection.owner_of(t) for t in ids] == [HOLDER] * 5


@pytest.mark.parametrize("count", [0, 1, 2, 100])
def test_mint_batch_calldata_is_the_abi_encoding_web3_makes(count: int):
    unbound = Web3().eth.contract(abi=artifact()["abi"])
    recipients = [to_checksum_address(keccak(b"holder %d" % n)[:20]) for n in range(count)]
    ids = [token_id(b"id %d" % n) for n in range(count - 1)] + [2**256 - 1] * (count > 0)
    for to in (recipients, recipients[:1]):
        expected = unbound.encode_abi("mintBatch", [to, ids])
        assert "0x" + mint_batch_calldata(to, ids).hex() == expected


@pytest.mark.parametrize(
    ("recipients", "ids"),
    [
        ([HOLDER[:-2]], [1]),
        (["0xnothex" + HOLDER[9:]], [1]),
        ([HOLDER[:-2] + " a"], [1]),
        ([HOLDER[2:] + "00"], [1]),
        ([HOLDER], [-1]),
        ([HOLDER], [2**256]),
    ],
)
def test_mint_batch_calldata_refuses_what_is_not_an_address_or_uint256(
    recipients: list[str], ids: list[int]
):
    with pytest.raises(ValueError):
        mint_batch_calldata(recipients, ids)


async def test_a_simulation_is_one_call_to_the_node(
    proxy: RpcProxy, collection: Collection, minter: HotWallet
):
    """Hosted RPC providers bill per call: simulating a batch asks the node once, not also
    for its chain ID (web3's validation does that around every eth_call unless cached), and
    over the connection the last call used."""
    w3 = await client.connect(proxy.url, 31337)
    try:
        through_proxy = Collection(w3, collection.address)
        data = through_proxy.encode_mint_batch([HOLDER], [token_id(b"simulated")])
        proxy.calls.clear()
        proxy.peers.clear()
        for _ in range(3):
            assert await through_proxy.revert_reason(minter.address, data, 200_000) is None
        assert proxy.calls == ["eth_call"] * 3
        # Over one connection kept open, not a new one (and on https a handshake) per call.
        assert len(set(proxy.peers)) == 1
    finally:
        await client.close(w3)


async def test_a_simulation_names_the_error_the_contract_would_revert_with(
    collection: Collection, minter: HotWallet, admin: HotWallet
):
    zero = "0x0000000000000000000000000000000000000000"
    taken = token_id(b"taken")
    await collection.mint(minter, HOLDER, taken, FEES)
    cases = [
        (minter, [HOLDER, zero], [1, 2], "TransferToZeroAddress()"),
        (admin, [HOLDER], [3], "AccessControlUnauthorizedAccount(address,bytes32)"),
        (minter, [HOLDER], [taken], None),  # a batch skips IDs that exist
        (minter, [HOLDER, OTHER], [4, 5], None),
    ]
    for sender, to, ids, error in cases:
        data = collection.encode_mint_batch(to, ids)
        reason = await collection.revert_reason(sender.address, data, 500_000)
        assert reason == (error.split("(")[0] if error else None)
        if error is not None:  # web3's own call raises the same error
            with pytest.raises(ContractCustomError) as caught:
                await collection.contract.functions.mintBatch(to, ids).call(
                    {"from": sender.address}
                )
            assert reverted_with(caught.value, error)


async def test_a_deployed_collection_is_owned_and_cannot_be_initialised_again(
    collection: Collection, admin: HotWallet
):
    """The shared collection is deployed directly: its constructor initialises it, once."""
    functions = collection.contract.functions
    assert await collection.owner() == admin.address
    again = functions.initialize("Mine", "MINE", *[admin.address] * 4, 0, "")
    with pytest.raises(ContractCustomError) as caught:
        await again.call({"from": admin.address})
    assert reverted_with(caught.value, "AlreadyInitialized()")


async def test_batch_with_mismatched_lengths_reverts(collection: Collection, minter: HotWallet):
    with pytest.raises(ContractCustomError) as caught:
        await collection.mint_batch(minter, [HOLDER, OTHER], [1, 2, 3], FEES)
    assert reverted_with(caught.value, "MintBatchLengthMismatch(uint256,uint256)")


async def test_minting_to_the_zero_address_reverts(collection: Collection, minter: HotWallet):
    zero = "0x0000000000000000000000000000000000000000"
    for mint in (
        collection.mint(minter, zero, 7, FEES),
        collection.mint_batch(minter, [HOLDER, zero], [8, 9], FEES),
    ):
        with pytest.raises(ContractCustomError) as caught:
            await mint
        assert reverted_with(caught.value, "TransferToZeroAddress()")


async def test_only_the_minter_may_mint(collection: Collection, admin: HotWallet):
    for mint in (
        collection.mint(admin, HOLDER, token_id(b"x"), FEES),
        collection.mint_batch(admin, [HOLDER], [token_id(b"y")], FEES),
    ):
        with pytest.raises(ContractCustomError) as caught:
            await mint
        assert reverted_with(caught.value, "AccessControlUnauthorizedAccount(address,bytes32)")


async def test_admin_grants_and_revokes_the_minter_role(
    collection: Collection, minter: HotWallet, admin: HotWallet
):
    assert await collection.is_admin(admin.address)
    assert not await collection.is_admin(minter.address)
    assert await collection.is_minter(minter.address)

    await collection.transact(admin, "revokeRole", MINTER_ROLE, minter.address, fees=FEES)
    assert not await collection.is_minter(minter.address)
    with pytest.raises(ContractCustomError):
        await collection.mint(minter, HOLDER, token_id(b"revoked"), FEES)

    await collection.transact(admin, "grantRole", MINTER_ROLE, minter.address, fees=FEES)
    await collection.mint(minter, HOLDER, token_id(b"granted"), FEES)
    assert await collection.owner_of(token_id(b"granted")) == HOLDER

    # The minter cannot manage roles.
    with pytest.raises(ContractCustomError):
        await collection.transact(
            minter, "grantRole", DEFAULT_ADMIN_ROLE, minter.address, fees=FEES
        )


async def test_royalties_set_at_deploy_and_changed_by_the_admin(
    collection: Collection, minter: HotWallet, admin: HotWallet
):
    tid = token_id(b"royal")
    await collection.mint(minter, HOLDER, tid, FEES)
    royalty = collection.contract.functions.royaltyInfo
    assert await royalty(tid, 10_000).call() == [admin.address, 500]

    await collection.transact(admin, "setDefaultRoyalty", OTHER, 250, fees=FEES)
    assert await royalty(tid, 1_000_000).call() == [OTHER, 25_000]

    with pytest.raises(ContractCustomError):
        await collection.transact(minter, "setDefaultRoyalty", minter.address, 10_000, fees=FEES)
    with pytest.raises(ContractLogicError):  # above 100 % is refused by ERC2981
        await collection.transact(admin, "setDefaultRoyalty", OTHER, 10_001, fees=FEES)


async def test_contract_uri_is_set_at_deploy_and_by_the_admin_only(
    collection: Collection, minter: HotWallet, admin: HotWallet
):
    assert await collection.contract.functions.contractURI().call() == "ipfs://collection"
    await collection.transact(admin, "setContractURI", "ipfs://v2", fees=FEES)
    assert await collection.contract.functions.contractURI().call() == "ipfs://v2"
    with pytest.raises(ContractCustomError):
        await collection.transact(minter, "setContractURI", "ipfs://evil", fees=FEES)


# Published vector: `ipfs add --cid-version=1 --raw-leaves` of the 11 bytes "hello world".
HELLO_WORLD_CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"


def cidv1_raw_sha256(digest: bytes) -> str:
    """An independent encoding: multibase 'b' + RFC 4648 base32 (lower, unpadded)."""
    raw = bytes([0x01, 0x55, 0x12, 0x20]) + digest
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


async def test_token_uri_is_the_cid_of_the_id(collection: Collection, minter: HotWallet):
    tid = token_id(b"hello world")
    assert cidv1_raw_sha256(tid.to_bytes(32, "big")) == HELLO_WORLD_CID
    await collection.mint(minter, HOLDER, tid, FEES)
    assert await collection.token_uri(tid) == f"ipfs://{HELLO_WORLD_CID}"

    # Edge digests exercise every bit position of the encoder.
    for digest in (b"\x00" * 32, b"\xff" * 32, bytes(range(32))):
        on_chain = await collection.contract.functions.cidOf(int.from_bytes(digest, "big")).call()
        assert on_chain == cidv1_raw_sha256(digest)


async def test_token_uri_of_a_missing_token_reverts(collection: Collection):
    with pytest.raises(ContractCustomError) as caught:
        await collection.token_uri(token_id(b"never minted"))
    assert reverted_with(caught.value, "TokenDoesNotExist()")


@pytest.mark.parametrize(
    ("interface", "expected"),
    [
        ("0x01ffc9a7", True),  # ERC-165
        ("0x80ac58cd", True),  # ERC-721
        ("0x5b5e139f", True),  # ERC-721 metadata
        ("0x2a55205a", True),  # ERC-2981
        ("0x7965db0b", True),  # AccessControl
        ("0xffffffff", False),  # ERC-165 says this must be false
        ("0xd9b67a26", False),  # ERC-1155
    ],
)
async def test_supports_interface(collection: Collection, interface: str, expected: bool):
    answer = await collection.contract.functions.supportsInterface(
        bytes.fromhex(interface[2:])
    ).call()
    assert answer is expected
