"""Chain set-up: the node to talk to (anvil in local mode), the hot wallet, the collection to
mint into (deployed on first start in local mode), and the EVM chain kind the registry names.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from web3 import AsyncWeb3

from bot.chain import client
from bot.chain.contract import MINTER_ROLE, Collection, CollectionParams, deploy_collection
from bot.chain.deployments import Deployment
from bot.chain.devchain import Anvil, rpc_chain_id
from bot.chain.explorer import Explorer, explorer_for
from bot.chain.factory import Factory, deploy_factory
from bot.chain.fees import Fees, current_fees
from bot.chain.l1fee import L1DataFee, detect_l1_fee
from bot.chain.wallet import HotWallet
from bot.config import Settings
from bot.env_values import Secret
from bot.errors import ChainError, ConfigError
from bot.hot_wallet_keys import ANVIL_DEV_KEYS, LOCAL_CHAIN_ID
from bot.ports import ChainKind

log = logging.getLogger(__name__)


@contextlib.contextmanager
def local_node(settings: Settings) -> Iterator[str]:
    """In local mode, make sure anvil answers on ANVIL_PORT: reuse one already running there
    (say, `python -m bot devchain` in another terminal), else start one until the block ends.
    With RPC_URL set this does nothing. Yields the RPC URL either way."""
    url = settings.effective_rpc_url
    if not settings.local_mode or rpc_chain_id(url, timeout=0.5) == LOCAL_CHAIN_ID:
        yield url
        return
    anvil_dir = settings.data_dir / "anvil"
    anvil_dir.mkdir(parents=True, exist_ok=True)
    with Anvil(
        settings.anvil_port,
        state_file=anvil_dir / "state.json",
        block_time=settings.anvil_block_time,
        log_file=anvil_dir / "anvil.log",
    ):
        log.info("started the local chain (anvil) on %s, state in %s", url, anvil_dir)
        yield url


def operator_admin(settings: Settings) -> str | None:
    """The operator's contract admin: ADMIN_ADDRESS, or in local mode anvil's second account."""
    return settings.admin_address or (local_admin_address() if settings.local_mode else None)


def local_admin_address() -> str:
    """In local mode the contract admin is anvil's second published account."""
    return str(Account.from_key(ANVIL_DEV_KEYS[1]).address)


def collection_params(settings: Settings, wallet: HotWallet, admin: str | None) -> CollectionParams:
    admin = admin or operator_admin(settings)
    if admin is None:
        raise ConfigError(
            "ADMIN_ADDRESS", "required to deploy: the contract admin, not the hot wallet"
        )
    return CollectionParams(
        name=settings.collection_name,
        symbol=settings.collection_symbol,
        owner=admin,  # the shared collection belongs to the operator
        admin=admin,
        minter=wallet.address,
        royalty_receiver=settings.royalty_receiver or admin,
        royalty_bps=settings.royalty_bps,
        contract_uri=settings.contract_uri,
    )


@dataclass
class Chain:
    """Everything the bot needs to act on an EVM chain, built once by `open_chain`; the
    chain backend the core sees (`bot.ports.ChainBackend`) once `collection` has found the
    collection to mint into."""

    settings: Settings
    w3: AsyncWeb3[Any]
    chain_id: int
    wallet: HotWallet  # the custody key: the first of the pool
    explorer: Explorer | None
    # The L1 data fee an OP-stack chain charges besides gas (None: this chain charges none).
    l1_fee: L1DataFee | None = None
    # The pool's other keys (HOT_WALLET_KEYS): each a nonce lane of its own.
    more_wallets: tuple[HotWallet, ...] = ()
    _collection: Collection | None = field(default=None, init=False, repr=False)

    async def fees(self) -> Fees:
        """The fees to offer now, within the configured caps."""
        return await current_fees(
            self.w3, self.settings.priority_fee_wei, self.settings.max_fee_per_gas_wei
        )

    async def balance(self) -> int:
        """The hot wallet's balance in wei."""
        return int(await self.w3.eth.get_balance(self.wallet.address))  # type: ignore[arg-type]

    def encode_mint(self, recipients: list[str], token_ids: list[int]) -> bytes:
        """Calldata minting `token_ids` to `recipients` (skipping IDs that exist)."""
        return self._found().encode_mint_batch(recipients, token_ids)

    def encode_transfer(self, owner: str, to: str, token_id: int) -> bytes:
        """Calldata moving `token_id` from `owner` to `to`."""
        return self._found().encode_transfer(owner, to, token_id)

    def _found(self) -> Collection:
        if self._collection is None:
            raise ChainError("the collection is not known yet: call Chain.collection() first")
        return self._collection

    def recorded_deployment(self) -> Deployment | None:
        return Deployment.load(self.settings.deployments_dir, self.chain_id)

    def configured_address(self) -> str | None:
        """CONTRACT_ADDRESS if set, else the deployment recorded for this chain, if any."""
        if self.settings.contract_address:
            return self.settings.contract_address
        recorded = self.recorded_deployment()
        return recorded.address if recorded else None

    async def deploy(
        self, admin: str | None = None, granter: HotWallet | None = None
    ) -> Deployment:
        """Deploy a new collection and record it under DATA_DIR/deployments/. `granter`: the
        admin's key, to grant the pool's other keys MINTER_ROLE (on the local chain the
        published admin key does without it)."""
        params = collection_params(self.settings, self.wallet, admin)
        if granter is not None and granter.address != params.admin:
            raise ChainError(
                f"the admin key given is {granter.address}'s, not the contract admin "
                f"{params.admin}'s: nothing was deployed"
            )
        deployment = await deploy_collection(self.w3, self.wallet, params, await self.fees())
        factory = await deploy_factory(self.w3, self.wallet, await self.fees())
        deployment = dataclasses.replace(deployment, factory=factory)
        await self._grant_pool(deployment.address, params.admin, granter)
        deployment.save(self.settings.deployments_dir)
        log.info(
            "deployed the collection at %s and its factory at %s (admin %s, minter %s)",
            deployment.address,
            deployment.factory,
            params.admin,
            params.minter,
        )
        return deployment

    async def _grant_pool(self, address: str, admin: str, granter: HotWallet | None) -> None:
        """The pool's other keys mint too: the admin grants them MINTER_ROLE, with its key
        given to `deploy`, or on the local chain as the development account this process can
        sign for; else the operator grants it later with `wallet grant-pool`."""
        if not self.more_wallets:
            return
        if granter is None and admin == local_admin_address():
            granter = HotWallet(Secret(ANVIL_DEV_KEYS[1]))
        if granter is None:
            log.warning(
                "the pool's other keys lack MINTER_ROLE on %s: grant it with "
                "`python -m bot wallet grant-pool --admin-key-file ...`",
                address,
            )
            return
        collection = Collection(self.w3, address)
        for wallet in self.more_wallets:
            await collection.transact(
                granter, "grantRole", MINTER_ROLE, wallet.address, fees=await self.fees()
            )

    async def deploy_factory(self) -> str:
        """Deploy the factory of community collections and record it with the collection's
        deployment on this chain (which must exist: `deploy` first)."""
        recorded = self.recorded_deployment()
        if recorded is None:
            raise ChainError(f"no deployment recorded for chain {self.chain_id}: run deploy")
        address = await deploy_factory(self.w3, self.wallet, await self.fees())
        dataclasses.replace(recorded, factory=address).save(self.settings.deployments_dir)
        log.info("deployed the community collection factory at %s", address)
        return address

    async def factory(self) -> Factory | None:
        """The factory of community collections: FACTORY_ADDRESS, else the recorded one. In
        local mode it is deployed on first start; elsewhere, without one, communities share
        the collection (and `python -m bot deploy --factory` adds one)."""
        recorded = self.recorded_deployment()
        address = self.settings.factory_address or (recorded.factory if recorded else None)
        if address is not None:
            factory = Factory(self.w3, address)
            if await factory.has_code():
                return factory
            if self.settings.factory_address or not self.settings.local_mode:
                raise ChainError(
                    f"FACTORY_ADDRESS: no contract code at {address} on chain {self.chain_id}"
                )
        if not self.settings.local_mode or recorded is None:
            return None
        return Factory(self.w3, await self.deploy_factory())

    async def collection(self) -> Collection:
        """The collection to mint into. In local mode it is deployed on first start and reused
        afterwards; elsewhere it must be configured or deployed with `python -m bot deploy`."""
        self._collection = await self._find_collection()
        return self._collection

    async def _find_collection(self) -> Collection:
        address = self.configured_address()
        if address is not None:
            collection = Collection(self.w3, address)
            if await collection.has_code():
                return collection
            if self.settings.contract_address or not self.settings.local_mode:
                raise ChainError(
                    f"CONTRACT_ADDRESS: no contract code at {address} on chain {self.chain_id}"
                )
            log.info("the recorded local collection is gone (fresh chain state); deploying anew")
        elif not self.settings.local_mode:
            raise ChainError(
                f"CONTRACT_ADDRESS: not set and no deployment recorded for chain {self.chain_id}; "
                "run `python -m bot deploy`"
            )
        return Collection(self.w3, (await self.deploy()).address)


@contextlib.asynccontextmanager
async def open_chain(settings: Settings) -> AsyncIterator[Chain]:
    """Connect to the configured chain and build the hot wallet; close the connection after."""
    w3 = await client.connect(
        settings.effective_rpc_urls, settings.chain_id, timeout=settings.rpc_timeout
    )
    try:
        wallet = HotWallet(settings.hot_wallet_key)
        more = tuple(HotWallet(key) for key in settings.more_hot_wallet_keys)
        if settings.hot_wallet_key_is_dev:
            log.warning(
                "LOCAL MODE: the hot wallet is anvil's PUBLISHED development key (%s). "
                "Anyone can spend from it. It is only for the local chain; set RPC_URL and "
                "HOT_WALLET_PRIVATE_KEY for a real one.",
                wallet.address,
            )
        chain_id = await w3.eth.chain_id
        if settings.local_mode:
            for each in (wallet, *more):
                await _fund_on_local_chain(w3, each.address)
        explorer = explorer_for(chain_id, settings.explorer_url, settings.public_base_url)
        l1_fee = await detect_l1_fee(w3, settings.l1_fee)
        yield Chain(settings, w3, chain_id, wallet, explorer, l1_fee, more)
    finally:
        await client.close(w3)


async def _fund_on_local_chain(w3: AsyncWeb3[Any], address: str) -> None:
    """Local anvil funds its dev accounts; a hot wallet of your own gets test ether too."""
    if await w3.eth.get_balance(address) == 0:  # type: ignore[arg-type]
        await w3.provider.make_request("anvil_setBalance", [address, hex(10_000 * 10**18)])  # type: ignore[arg-type]
        log.info("funded the hot wallet %s with 10000 test ether on the local chain", address)


EVM = ChainKind[Chain]("evm", open_chain)
