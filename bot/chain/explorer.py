"""Links to a block explorer for transactions, addresses and tokens, by chain ID.

The built-in table covers the Etherscan family, which shares one URL scheme. EXPLORER_URL
replaces the table's entry with any explorer using that scheme. On the local chain the bot's own
web pages are the explorer.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.hot_wallet_keys import LOCAL_CHAIN_ID

EXPLORERS: dict[int, tuple[str, str]] = {
    1: ("Ethereum", "https://etherscan.io"),
    11155111: ("Sepolia", "https://sepolia.etherscan.io"),
    8453: ("Base", "https://basescan.org"),
    84532: ("Base Sepolia", "https://sepolia.basescan.org"),
    137: ("Polygon", "https://polygonscan.com"),
    80002: ("Polygon Amoy", "https://amoy.polygonscan.com"),
    10: ("OP Mainnet", "https://optimistic.etherscan.io"),
    11155420: ("OP Sepolia", "https://sepolia-optimism.etherscan.io"),
    42161: ("Arbitrum One", "https://arbiscan.io"),
    421614: ("Arbitrum Sepolia", "https://sepolia.arbiscan.io"),
}


@dataclass(frozen=True)
class Explorer:
    """URL builder for one explorer; `base_url` has no trailing slash."""

    chain_name: str
    base_url: str

    def tx_url(self, tx_hash: str) -> str:
        return f"{self.base_url}/tx/{tx_hash}"

    def address_url(self, address: str) -> str:
        return f"{self.base_url}/address/{address}"

    def token_url(self, contract: str, token_id: int) -> str:
        return f"{self.base_url}/nft/{contract}/{token_id}"


def explorer_for(chain_id: int, override: str | None, public_base_url: str) -> Explorer | None:
    """The explorer for `chain_id`: the override if set, the bot's own pages on the local chain,
    else the built-in table. None for an unknown chain without an override."""
    name = EXPLORERS.get(chain_id, (f"chain {chain_id}", ""))[0]
    if override:
        return Explorer(name, override.rstrip("/"))
    if chain_id == LOCAL_CHAIN_ID:
        return Explorer("local anvil", public_base_url.rstrip("/") + "/explorer")
    if chain_id in EXPLORERS:
        return Explorer(name, EXPLORERS[chain_id][1])
    return None


# OpenSea's chain names for its item pages; testnets live on a separate host.
_OPENSEA = {
    1: "https://opensea.io/item/ethereum",
    8453: "https://opensea.io/item/base",
    137: "https://opensea.io/item/polygon",
    10: "https://opensea.io/item/optimism",
    42161: "https://opensea.io/item/arbitrum",
    11155111: "https://testnets.opensea.io/assets/sepolia",
    84532: "https://testnets.opensea.io/assets/base_sepolia",
    80002: "https://testnets.opensea.io/assets/amoy",
}


def marketplace_url(chain_id: int, contract: str, token_id: int) -> str | None:
    """The token's marketplace page, where the chain has one (not on the local chain)."""
    base = _OPENSEA.get(chain_id)
    return f"{base}/{contract}/{token_id}" if base else None
