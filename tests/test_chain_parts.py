"""Explorer links, fee policy and the hot wallet, without a chain."""

from __future__ import annotations

import pytest

from bot.chain.explorer import EXPLORERS, explorer_for
from bot.chain.fees import fees_for_base_fee
from bot.chain.wallet import HotWallet
from bot.env_values import Secret
from bot.errors import FeeCapExceeded
from tests.support import CANARY, CANARY_KEY

TX = "0x" + "ab" * 32
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


@pytest.mark.parametrize(
    ("chain_id", "base"),
    [
        (1, "https://etherscan.io"),
        (11155111, "https://sepolia.etherscan.io"),
        (8453, "https://basescan.org"),
        (84532, "https://sepolia.basescan.org"),
        (137, "https://polygonscan.com"),
        (80002, "https://amoy.polygonscan.com"),
        (10, "https://optimistic.etherscan.io"),
        (42161, "https://arbiscan.io"),
    ],
)
def test_links_for_each_chain_in_the_table(chain_id: int, base: str):
    explorer = explorer_for(chain_id, None, "http://127.0.0.1:8080")
    assert explorer is not None
    assert explorer.tx_url(TX) == f"{base}/tx/{TX}"
    assert explorer.address_url(CONTRACT) == f"{base}/address/{CONTRACT}"
    assert explorer.token_url(CONTRACT, 42) == f"{base}/nft/{CONTRACT}/42"


def test_override_local_and_unknown_chains():
    override = explorer_for(8453, "https://scan.example/", "http://127.0.0.1:8080")
    assert override is not None and override.tx_url(TX) == f"https://scan.example/tx/{TX}"
    assert override.chain_name == "Base"
    local = explorer_for(31337, None, "http://127.0.0.1:8080")
    assert local is not None and local.tx_url(TX) == f"http://127.0.0.1:8080/explorer/tx/{TX}"
    assert explorer_for(999_999, None, "http://127.0.0.1:8080") is None
    assert all(url.startswith("https://") for _, url in EXPLORERS.values())


def test_fees_offer_headroom_but_respect_the_cap():
    gwei = 10**9
    fees = fees_for_base_fee(base_fee=10 * gwei, priority_fee=gwei, cap=100 * gwei)
    assert fees.max_fee_per_gas == 21 * gwei and fees.max_priority_fee_per_gas == gwei
    capped = fees_for_base_fee(base_fee=60 * gwei, priority_fee=gwei, cap=100 * gwei)
    assert capped.max_fee_per_gas == 100 * gwei
    with pytest.raises(FeeCapExceeded, match="above the cap of 100.000 gwei"):
        fees_for_base_fee(base_fee=100 * gwei, priority_fee=gwei, cap=100 * gwei)


def test_hot_wallet_shows_only_its_address():
    wallet = HotWallet(Secret(CANARY_KEY))
    assert wallet.address == CANARY.address
    assert repr(wallet) == str(wallet) == f"HotWallet({CANARY.address})"
    assert HotWallet.signing_backend() == "CoinCurveECCBackend"
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(wallet)
