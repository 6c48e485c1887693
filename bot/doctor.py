"""`python -m bot doctor`: check that the bot can mint, one line per check, a hint per failure."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

from bot.chain.contract import Collection
from bot.chain.endpoint import describe, probe
from bot.chain.factory import Factory
from bot.chain.setup import Chain, open_chain
from bot.config import Settings
from bot.content.pinning import open_backends
from bot.errors import ChainError, ConfigError

PINNING_HINT = "check the backend's settings (.env.example, 'Publishing on IPFS') and that it runs"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str = ""
    notes: tuple[str, ...] = ()  # shown under the line whatever the outcome

    def render(self) -> str:
        lines = [f"{'✓' if self.ok else '✗'} {self.name}: {self.detail}"]
        lines += [f"    {note}" for note in self.notes]
        return "\n".join(lines if self.ok else [*lines, f"    hint: {self.hint}"])


async def endpoint_notes(settings: Settings) -> tuple[str, ...]:
    """A health line per RPC endpoint (its URL redacted): reachable, chain ID, latest block,
    latency."""
    urls = settings.effective_rpc_urls
    async with aiohttp.ClientSession() as session:
        return tuple(
            [
                "endpoint " + await probe(session, url, settings.rpc_timeout)
                if not url.startswith(("ws://", "wss://"))
                else f"endpoint {describe(url)}: WebSocket, not probed"
                for url in urls
            ]
        )


async def run_checks(settings: Settings) -> AsyncIterator[Check]:
    """Yield each check as it completes; stop early where later checks cannot run."""
    yield Check("settings", True, "valid" + (" (local mode)" if settings.local_mode else ""))
    notes = await endpoint_notes(settings)
    try:
        async with open_chain(settings) as chain:
            yield Check(
                "rpc", True, f"answers, block {await chain.w3.eth.block_number}", notes=notes
            )
            yield Check(
                "chain id",
                True,
                f"{chain.chain_id}" + (f" ({chain.explorer.chain_name})" if chain.explorer else ""),
            )
            async for check in _chain_checks(chain):
                yield check
    except ChainError as err:
        setting, _, problem = str(err).partition(": ")
        if setting == "CHAIN_ID":
            yield Check("rpc", True, "answers", notes=notes)
            yield Check(
                "chain id",
                False,
                problem,
                "set CHAIN_ID to the chain you mean, or point RPC_URL at it",
            )
        else:
            yield Check(
                "rpc",
                False,
                problem or str(err),
                "check RPC_URL and that the node is running and reachable",
                notes,
            )
    async for check in pinning_checks(settings):
        yield check


async def pinning_checks(settings: Settings) -> AsyncIterator[Check]:
    """Each pinning backend: reachable, credentials accepted, a test pin and its removal."""
    if not settings.pinning:
        yield Check("pinning", True, "none: content stays in DATA_DIR/ipfs, not on public IPFS")
        return
    try:
        backends = open_backends(settings)
    except ConfigError as err:
        yield Check("pinning", False, str(err), "PINNING names the backends to publish to")
        return
    for backend in backends:
        name = f"pinning {backend.name}"
        try:
            for check in await backend.check():
                yield Check(f"{name}: {check.what}", check.ok, check.detail, PINNING_HINT)
        except Exception as err:
            yield Check(name, False, f"{type(err).__name__}: {err}", PINNING_HINT)
        finally:
            await backend.close()


async def _chain_checks(chain: Chain) -> AsyncIterator[Check]:
    wallets = [w.address for w in (chain.wallet, *chain.more_wallets)]
    for wallet in wallets:  # each key of the pool pays for its own lane's gas
        balance = await chain.w3.eth.get_balance(wallet)  # type: ignore[arg-type]
        yield Check(
            "hot wallet balance",
            balance > 0,
            f"{balance / 1e18:.6f} at {wallet}",
            f"send some of the chain's native currency to {wallet} to pay for gas",
        )
    address = chain.configured_address()
    if address is None:
        yield Check(
            "contract",
            False,
            "no CONTRACT_ADDRESS and no recorded deployment",
            "set CONTRACT_ADDRESS, or run `python -m bot deploy`"
            + (" (`make run` deploys on the local chain)" if chain.settings.local_mode else ""),
        )
        return
    collection = Collection(chain.w3, address)
    if not await collection.has_code():
        yield Check(
            "contract",
            False,
            f"no code at {address}",
            "check CONTRACT_ADDRESS and CHAIN_ID, or run `python -m bot deploy`",
        )
        return
    yield Check("contract", True, f"code at {address}")
    try:
        minters = [await collection.is_minter(wallet) for wallet in wallets]
        is_admin = any([await collection.is_admin(wallet) for wallet in wallets])
    except Exception as err:  # a contract that is not ours answers hasRole with a revert
        yield Check(
            "roles",
            False,
            f"the contract at {address} does not answer hasRole ({type(err).__name__})",
            "is CONTRACT_ADDRESS a mintbot collection?",
        )
        return
    for wallet, is_minter in zip(wallets, minters, strict=True):
        yield Check(
            "minter role",
            is_minter,
            f"{wallet} holds MINTER_ROLE" if is_minter else f"{wallet} lacks MINTER_ROLE",
            f"have the contract admin call grantRole(MINTER_ROLE, {wallet})"
            + (" (`python -m bot wallet grant-pool`)" if wallet != wallets[0] else ""),
        )
    yield Check(
        "admin role",
        not is_admin,
        "no hot wallet holds the admin role"
        if not is_admin
        else "a hot wallet holds DEFAULT_ADMIN_ROLE",
        "grant DEFAULT_ADMIN_ROLE to a separate (cold) address, then renounce it "
        "from the hot wallet",
    )
    yield await _factory_check(chain)


async def _factory_check(chain: Chain) -> Check:
    """The factory of community collections is optional: without one, communities share the
    collection; a configured one must have code."""
    recorded = chain.recorded_deployment()
    address = chain.settings.factory_address or (recorded.factory if recorded else None)
    hint = "check FACTORY_ADDRESS, or run `python -m bot deploy --factory`"
    if address is None:
        return Check("factory", True, "none: communities share the collection", hint)
    if not await Factory(chain.w3, address).has_code():
        return Check("factory", False, f"no code at {address}", hint)
    return Check("factory", True, f"code at {address}: communities can have collections")
