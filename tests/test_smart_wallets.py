"""Linking a smart wallet (EIP-1271, ERC-6492) on anvil: the wallet's contract vouches for its
owner's signature, through the core and through Discord; a wrong owner, a contract that cannot
check signatures, a silent chain and any pasted text are each refused, and only that request.
And `/wallet link name.eth` through ENS_RPC_URL: ENS's own contracts are not installable here,
so anvil holds a stand-in for its Universal Resolver (tests/contracts/EnsStandIn.sol) at the
mainnet address, and the namehash is checked against EIP-137's own examples."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from ens.constants import UNIVERSAL_RESOLVER_ADDR
from eth_abi.abi import encode
from eth_account import Account
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hypothesis import example, given
from hypothesis import strategies as st
from web3 import AsyncWeb3

from bot.chain.names import UNIVERSAL_RESOLVER, EnsNames, namehash
from bot.chain.reads import web3_rpc
from bot.chain.signatures import ERC6492_SUFFIX, ContractWallets
from bot.contracts.build import CompiledContract
from bot.errors import RequestRejected
from bot.runtime import Runtime
from bot.wallets import MAX_SIGNATURE_BYTES, Proof, Verified, WalletLinks
from tests.emulators.discord import DiscordServer
from tests.solc import compiled_contract
from tests.support import COLLECTOR, Inbox, rpc, sign_message
from tests.test_discord import discord_bot, link_wallet

pytestmark = pytest.mark.db

OWNER = Account.create()  # the key behind the smart wallet
STRANGER = Account.create()


@pytest.fixture(scope="module")
def compiled() -> dict[str, CompiledContract]:
    """The test wallet, its factory and the ENS stand-in."""
    return {n: compiled_contract(n) for n in ("OwnedWallet", "OwnedWalletFactory", "EnsStandIn")}


async def place(w3: AsyncWeb3, contract: CompiledContract, owner: str | None = None) -> str:
    """`contract`'s code at a new address (and `owner` in its slot 0); the address."""
    address = to_checksum_address(os.urandom(20))
    await rpc(w3, "anvil_setCode", address, contract.deployed_bytecode)
    if owner is not None:
        await rpc(w3, "anvil_setStorageAt", address, "0x0", "0x" + owner[2:].lower().rjust(64, "0"))
    return address


@pytest.fixture
async def wallet(w3: AsyncWeb3, compiled: dict[str, CompiledContract]) -> str:
    """An OwnedWallet of OWNER's key."""
    return await place(w3, compiled["OwnedWallet"], OWNER.address)


@pytest.fixture
def wallets(bot: tuple[Runtime, Inbox]) -> WalletLinks:
    return bot[0].wallets


async def test_a_smart_wallet_links_by_its_contract_and_an_account_by_its_key(
    wallets: WalletLinks, wallet: str
):
    challenge = await wallets.challenge("telegram", "u1", wallet)
    with pytest.raises(RequestRejected, match="not for a message I gave you"):
        await wallets.verify("telegram", "u1", "Ada", sign_message(challenge.message, STRANGER))
    linked = await wallets.verify("telegram", "u1", "Ada", sign_message(challenge.message, OWNER))
    assert linked == Verified(wallet, Proof.CONTRACT)
    assert await wallets.linked("telegram", "u1") == (wallet, True)
    # The owner's key alone, linked as an ordinary account, is proven by its signature.
    challenge = await wallets.challenge("telegram", "u2", COLLECTOR.address)
    linked = await wallets.verify("telegram", "u2", "Max", sign_message(challenge.message))
    assert linked == Verified(COLLECTOR.address, Proof.KEY)


async def test_a_contract_that_cannot_check_signatures_is_refused_in_words(
    wallets: WalletLinks, w3: AsyncWeb3, compiled: dict[str, CompiledContract]
):
    factory = await place(w3, compiled["OwnedWalletFactory"])  # no isValidSignature
    challenge = await wallets.challenge("telegram", "u1", factory)
    with pytest.raises(RequestRejected, match=f"The contract at {factory} does not check"):
        await wallets.verify("telegram", "u1", "Ada", sign_message(challenge.message, OWNER))
    assert await wallets.linked("telegram", "u1") is None


async def test_a_silent_chain_refuses_that_verification_alone(wallets: WalletLinks, wallet: str):
    async def silent(method: str, params: list[Any]) -> Any:
        await asyncio.Event().wait()  # a node that never answers

    cut_off = WalletLinks(
        wallets.sessions,
        public_base_url=wallets.uri,
        chain_id=wallets.chain_id,
        allow_unverified=False,
        contract_wallets=ContractWallets(silent, timeout=0.05),
    )
    challenge = await cut_off.challenge("telegram", "u1", wallet)
    signature = sign_message(challenge.message, OWNER)
    with pytest.raises(RequestRejected, match="could not ask the chain"):
        await cut_off.verify("telegram", "u1", "Ada", signature)
    # An account's key needs no chain: it links meanwhile.
    other = await cut_off.challenge("telegram", "u2", COLLECTOR.address)
    assert (await cut_off.verify("telegram", "u2", "Max", sign_message(other.message))).proof is (
        Proof.KEY
    )
    # The refused message stays open: once the chain answers, the same signature links.
    assert (await wallets.verify("telegram", "u1", "Ada", signature)).address == wallet


def erc6492(factory: str, deploy: bytes, signature: str) -> str:
    """`signature` wrapped as ERC-6492 asks for a wallet `factory` deploys with `deploy`."""
    wrapped = encode(["address", "bytes", "bytes"], [factory, deploy, bytes.fromhex(signature[2:])])
    return "0x" + (wrapped + ERC6492_SUFFIX).hex()


async def test_a_wallet_not_deployed_yet_links_by_erc6492(
    wallets: WalletLinks, w3: AsyncWeb3, compiled: dict[str, CompiledContract]
):
    factory = await place(w3, compiled["OwnedWalletFactory"])
    salt = os.urandom(32)
    deploy = keccak(text="deploy(address,bytes32)")[:4] + encode(
        ["address", "bytes32"], [OWNER.address, salt]
    )
    init = bytes.fromhex(compiled["OwnedWallet"].bytecode[2:]) + encode(
        ["address"], [OWNER.address]
    )
    future = to_checksum_address(
        keccak(b"\xff" + bytes.fromhex(factory[2:]) + salt + keccak(init))[12:]
    )
    challenge = await wallets.challenge("telegram", "u1", future)
    for stranger in (STRANGER, COLLECTOR):
        forged = erc6492(factory, deploy, sign_message(challenge.message, stranger))
        with pytest.raises(RequestRejected, match="not for a message I gave you"):
            await wallets.verify("telegram", "u1", "Ada", forged)
    signature = erc6492(factory, deploy, sign_message(challenge.message, OWNER))
    linked = await wallets.verify("telegram", "u1", "Ada", signature)
    assert linked == Verified(future, Proof.COUNTERFACTUAL)
    assert await rpc(w3, "eth_getCode", future, "latest") == "0x"  # the check deployed nothing
    # Deployed since, the same kind of signature proves it by its contract.
    await rpc(w3, "anvil_setCode", future, compiled["OwnedWallet"].deployed_bytecode)
    await rpc(w3, "anvil_setStorageAt", future, "0x0", "0x" + OWNER.address[2:].rjust(64, "0"))
    again = await wallets.challenge("telegram", "u1", future)
    signature = erc6492(factory, deploy, sign_message(again.message, OWNER))
    assert (await wallets.verify("telegram", "u1", "Ada", signature)).proof is Proof.CONTRACT


def pasted() -> st.SearchStrategy[str]:
    """What a member may paste as a signature: any text, any hex, hex of ERC-6492's shape."""
    raw = st.binary(max_size=200)
    return st.one_of(
        st.text(max_size=300),
        raw.map(lambda b: "0x" + b.hex()),
        raw.map(lambda b: "0x" + (b + ERC6492_SUFFIX).hex()),
        st.integers(MAX_SIGNATURE_BYTES - 1, MAX_SIGNATURE_BYTES + 2).map(
            lambda n: "0x" + "1b" * n
        ),
    )


@example(text="0x" + "00" * 65)
@example(text="0x" + ("ab" * 40 + "6492" * 16))
@given(text=pasted())
async def test_any_pasted_text_fails_only_its_own_request(
    wallets: WalletLinks, wallet: str, text: str
):
    hostile = await wallets.challenge("telegram", "hostile", wallet)
    honest = await wallets.challenge("telegram", "honest", wallet)
    with pytest.raises(RequestRejected) as refused:
        await wallets.verify("telegram", "hostile", "Eve", text)
    assert str(refused.value) and "Traceback" not in str(refused.value)
    linked = await wallets.verify("telegram", "honest", "Ada", sign_message(honest.message, OWNER))
    assert linked == Verified(wallet, Proof.CONTRACT)
    # The hostile member's own message is still theirs to sign properly.
    mended = await wallets.verify(
        "telegram", "hostile", "Eve", sign_message(hostile.message, OWNER)
    )
    assert mended.address == wallet


async def test_a_smart_wallet_links_through_discord(
    discord: DiscordServer, bot_env: dict[str, str], wallet: str, tmp_path: Path
):
    member = discord.add_member("Ada")
    async with discord_bot(discord, bot_env, tmp_path / "bot.log"):
        told = await link_wallet(discord, member, OWNER, address=wallet)
        assert "verified by the smart wallet's contract (EIP-1271)" in told


def test_the_bot_asks_where_web3_would():
    assert UNIVERSAL_RESOLVER == UNIVERSAL_RESOLVER_ADDR
    assert namehash("eth").hex() == (
        "93cdeb708b7545dc668eb9280176169d1c33cfd8ed6f04690a0bcc88a93fc4ae"
    )
    assert namehash("foo.eth").hex() == (
        "de9b09fd7c5f901e23a3f19fecc54828e9c848539801e86591bd9801b019f84f"
    )


@pytest.fixture
async def ens_wallets(
    bot: tuple[Runtime, Inbox], w3: AsyncWeb3, compiled: dict[str, CompiledContract]
) -> WalletLinks:
    """The bot's wallet links with ENS on anvil, where ada.eth points to COLLECTOR."""
    stand_in = compiled["EnsStandIn"]
    await rpc(w3, "anvil_setCode", UNIVERSAL_RESOLVER_ADDR, stand_in.deployed_bytecode)
    slot = keccak(namehash("ada.eth") + b"\x00" * 32)
    await rpc(
        w3,
        "anvil_setStorageAt",
        UNIVERSAL_RESOLVER_ADDR,
        "0x" + slot.hex(),
        "0x" + COLLECTOR.address[2:].lower().rjust(64, "0"),
    )
    wallets = bot[0].wallets
    return WalletLinks(
        wallets.sessions,
        public_base_url=wallets.uri,
        chain_id=wallets.chain_id,
        allow_unverified=False,
        names=EnsNames(web3_rpc(w3), timeout=5),
    )


async def test_a_name_links_the_address_it_points_to(
    ens_wallets: WalletLinks, bot: tuple[Runtime, Inbox]
):
    challenge = await ens_wallets.challenge("telegram", "u1", "Ada.ETH")  # ENSIP-15 folds case
    assert f"\n{COLLECTOR.address}\n" in challenge.message
    assert "Link this address (ada.eth) to my Telegram account" in challenge.message
    linked = await ens_wallets.verify("telegram", "u1", "Ada", sign_message(challenge.message))
    assert linked == Verified(COLLECTOR.address, Proof.KEY)
    with pytest.raises(RequestRejected, match="nobody.eth does not point to an address"):
        await ens_wallets.challenge("telegram", "u1", "nobody.eth")
    with pytest.raises(RequestRejected, match="letters a-z, digits and hyphens only"):
        await ens_wallets.challenge("telegram", "u1", "\u0430da.eth")  # a Cyrillic a
    # Without ENS_RPC_URL, a name is refused in words.
    with pytest.raises(RequestRejected, match="ENS_RPC_URL"):
        await bot[0].wallets.challenge("telegram", "u1", "ada.eth")
