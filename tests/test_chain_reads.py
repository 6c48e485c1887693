"""The web role's own reads of the chain (bot/chain/reads.py, bot/chain/addresses.py): the
same owners as web3 reads, over HTTP and over a WebSocket, the same refusals when the endpoint
is not the chain expected, and the same addresses as eth-utils gives, without loading web3."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest
from eth_utils import is_hex_address, to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from bot.chain.addresses import checksum_address, parse_hex_address
from bot.chain.contract import Collection
from bot.chain.devchain import Anvil, free_port
from bot.chain.reads import CollectionOwners, RpcFault, connect_json_rpc
from bot.chain.wallet import HotWallet
from bot.errors import ChainError
from tests.support import FEES, PROJECT_ROOT

HOLDER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"  # anvil dev account 3
OTHER = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"  # anvil dev account 4


def token_id(content: bytes) -> int:
    return int.from_bytes(hashlib.sha256(content).digest(), "big")


@pytest.mark.parametrize("scheme", ["http", "ws"])
async def test_owners_read_over_json_rpc_are_the_ones_web3_reads(
    scheme: str, anvil: Anvil, collection: Collection, minter: HotWallet
):
    minted = {token_id(b"one"): HOLDER, token_id(b"two"): OTHER, 7: HOLDER}
    for token, owner in minted.items():
        await collection.mint(minter, owner, token, FEES)
    url = anvil.url.replace("http://", f"{scheme}://")
    rpc = await connect_json_rpc(url, 31337, timeout=10)
    try:
        owners = CollectionOwners(rpc, collection.address.lower())
        assert owners.address == collection.address  # checksummed, as web3 gives it
        for token, owner in minted.items():
            assert await owners.owner_of(token) == await collection.owner_of(token) == owner
        with pytest.raises(RpcFault):  # ownerOf reverts: no such token
            await owners.owner_of(token_id(b"never minted"))
        assert await owners.owner_of(7) == HOLDER  # the connection is still good after it
    finally:
        await rpc.close()


async def test_an_endpoint_on_another_chain_or_not_answering_is_refused_without_its_secrets(
    anvil: Anvil,
):
    with pytest.raises(ChainError) as wrong_chain:
        await connect_json_rpc(anvil.url, 1, timeout=10)
    assert str(wrong_chain.value) == (
        f"CHAIN_ID: the RPC at {anvil.url} is chain 31337, but CHAIN_ID is 1"
    )
    dead = f"http://127.0.0.1:{free_port()}/v3/SECRETKEY?key=SECRET"
    with pytest.raises(ChainError) as no_answer:
        await connect_json_rpc(dead, None, timeout=5)
    assert str(no_answer.value).startswith(
        f"RPC_URL: no answer from {dead.split('/v3')[0]}/v3/[REDACTED]?key=[REDACTED] ("
    )
    assert "SECRET" not in str(no_answer.value)


@given(st.binary(min_size=20, max_size=20))
def test_checksummed_addresses_are_eth_utils_own(raw: bytes):
    assert checksum_address(raw) == to_checksum_address(raw)


@given(
    st.one_of(
        st.from_regex(r"(0[xX])?[0-9a-fA-F]{38,42}", fullmatch=True),
        st.text(max_size=50),
    )
)
def test_a_page_address_parses_as_eth_utils_reads_it(text: str):
    expected = to_checksum_address(text) if is_hex_address(text) else None
    assert parse_hex_address(text) == expected


def test_the_web_role_loads_no_chain_or_chat_library():
    """The web server process starts on the database and aiohttp alone: web3 and eth-account
    (whose keystore code computes BLS12-381 tables when imported) cost it over a second of CPU
    at every start."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, bot.web.role; "
            "heavy = {'web3', 'eth_account', 'eth_utils', 'py_ecc', 'discord', 'telegram'}; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))",
        ],
        env={"PATH": os.environ["PATH"]},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert loaded.stdout.strip() == "[]", loaded.stderr
