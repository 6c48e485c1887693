"""Shared fixtures: a real anvil per test session, a fresh collection per test, CLI runners."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from web3 import AsyncWeb3

from bot.chain import client
from bot.chain.contract import Collection, CollectionParams, deploy_collection
from bot.chain.devchain import Anvil
from bot.chain.factory import Factory, deploy_factory
from bot.chain.transactions import send_and_confirm
from bot.chain.wallet import HotWallet
from bot.config import load_settings
from bot.env_values import Secret
from bot.hot_wallet_keys import ANVIL_DEV_KEYS
from bot.runtime import Runtime
from tests.emulators.discord import DiscordServer
from tests.emulators.telegram import TelegramServer
from tests.ipfs_node import kubo_rpc  # noqa: F401  (a fixture: pytest finds it by name)
from tests.rpc_proxy import RpcProxy
from tests.support import (
    DEV_ADMIN,
    FEES,
    Inbox,
    database_template,
    running,
    scratch_database,
)

# Property tests (tests/test_blast_radius.py) share one running bot across a test's examples,
# which is what the function-scoped-fixture health check warns about; their examples are slow
# by nature (each goes through the chain). "ci", the default, draws a few fixed examples and
# does not shrink a failure (each try costs seconds; the failure names the request at fault),
# so `make test` stays quick and repeatable. `--hypothesis-profile=long` draws many random
# examples, shrinks a failure to its smallest form and keeps it in .hypothesis/ to replay first.
_PROPERTY_CHECKS = dict(
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
    print_blob=True,
)
settings.register_profile(
    "ci",
    max_examples=5,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    **_PROPERTY_CHECKS,
)
settings.register_profile("long", max_examples=200, **_PROPERTY_CHECKS)
settings.load_profile("ci")

# Screenshots the browser tests saved, listed at the end of the run.
SCREENSHOTS = pytest.StashKey[list[str]]()


# A test that means its bot to go over Telegram's flood limits says so with this marker.
OVER_TELEGRAM_LIMITS = "telegram_over_limits"


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SCREENSHOTS] = []
    config.addinivalue_line(
        "markers",
        f"{OVER_TELEGRAM_LIMITS}: the Telegram emulator may refuse calls over its flood limits "
        "without failing the test",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `slow` first, the rest in their usual order. Parallel workers take tests
    in this order one at a time (`--maxschedchunk=1` in pyproject.toml): a long test started
    last would keep one worker busy while the others have nothing left to do."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    if config.stash.get(SCREENSHOTS, []):
        terminalreporter.section("screenshots")
        for path in config.stash[SCREENSHOTS]:
            terminalreporter.write_line(path)


@pytest.fixture
def screenshot_saved(request: pytest.FixtureRequest) -> Callable[[Path], None]:
    """Note a screenshot's path for the run's summary."""
    return lambda path: request.config.stash[SCREENSHOTS].append(str(path))


# The chat platforms' emulators, one per test that asks for them.
@pytest.fixture
async def telegram(request: pytest.FixtureRequest) -> AsyncIterator[TelegramServer]:
    """The Telegram emulator, enforcing Telegram's flood limits. Telegram refuses a bot that
    goes over them, so a test whose bot did fails at teardown (unless marked
    `telegram_over_limits`)."""
    server = TelegramServer()
    await server.start()
    yield server
    await server.stop()
    if server.limit_violations and not request.node.get_closest_marker(OVER_TELEGRAM_LIMITS):
        pytest.fail(
            f"the bot went over Telegram's flood limits ({server.limits}): "
            f"{len(server.limit_violations)} calls refused, seconds into the test:\n"
            f"{server.limit_report()}",
            pytrace=False,
        )


@pytest.fixture
async def discord() -> AsyncIterator[DiscordServer]:
    server = DiscordServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def world(telegram: TelegramServer) -> dict[str, Any]:
    """A Telegram group with its members (a Discord test module defines its own world)."""
    people = {name: telegram.user(name) for name in ("Ada", "Ana", "Max", "Zoe")}
    return {**people, "group": telegram.group("Art club", admins=[people["Ana"]])}


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    with Anvil() as node:
        yield node


@pytest.fixture
async def w3(anvil: Anvil) -> AsyncIterator[AsyncWeb3]:
    web3 = await client.connect(anvil.url, 31337)
    yield web3
    await client.close(web3)


@pytest.fixture
def minter() -> HotWallet:
    return HotWallet(Secret(ANVIL_DEV_KEYS[0]))


@pytest.fixture
def admin() -> HotWallet:
    return HotWallet(Secret(ANVIL_DEV_KEYS[1]))


@pytest.fixture
async def collection(
    w3: AsyncWeb3, minter: HotWallet, admin: HotWallet, request: pytest.FixtureRequest
) -> Collection:
    """A collection deployed for this test alone: minter = dev key 0, admin = dev key 1.
    Parametrized indirectly with "clone", it is a clone made by a factory (as a community's
    collection is) rather than a contract deployed whole."""
    params = CollectionParams(
        name="Test Collection",
        symbol="TEST",
        owner=admin.address,
        admin=admin.address,
        minter=minter.address,
        royalty_receiver=admin.address,
        royalty_bps=500,
        contract_uri="ipfs://collection",
    )
    if getattr(request, "param", "direct") == "clone":
        return await clone_collection(w3, minter, params)
    deployment = await deploy_collection(w3, minter, params, FEES)
    return Collection(w3, deployment.address)


@pytest.fixture
def cli_env(tmp_path: Path, anvil: Anvil) -> dict[str, str]:
    """Settings for a CLI run against the session's anvil with the dev minter key."""
    return {
        "DATA_DIR": str(tmp_path / "data"),
        "RPC_URL": anvil.url,
        "CHAIN_ID": "31337",
        "HOT_WALLET_PRIVATE_KEY": ANVIL_DEV_KEYS[0],
        "ADMIN_ADDRESS": DEV_ADMIN.address,
    }


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """This test process's database at the head revision, copied for each test."""
    with database_template(tmp_path_factory.mktemp("template")) as url:
        yield url


@pytest.fixture
async def database_url(
    tmp_path: Path, request: pytest.FixtureRequest, migrated_template: str
) -> AsyncIterator[str]:
    """SQLite in the test's directory, or a fresh PostgreSQL database when
    MINTBOT_TEST_POSTGRES_URL is set (CI runs the `db` tests a second time that way): a copy
    of a database at the head revision, or empty for a test marked `empty_database`."""
    empty = request.node.get_closest_marker("empty_database") is not None
    async with scratch_database(tmp_path, template=None if empty else migrated_template) as url:
        yield url


@pytest.fixture
def bot_env(
    tmp_path: Path, anvil: Anvil, collection: Collection, database_url: str
) -> dict[str, str]:
    """Settings for a bot on the session's anvil, minting into this test's collection."""
    return {
        "DATA_DIR": str(tmp_path / "data"),
        "RPC_URL": anvil.url,
        "CHAIN_ID": "31337",
        "CONFIRMATIONS": "1",
        "HOT_WALLET_PRIVATE_KEY": ANVIL_DEV_KEYS[0],
        "ADMIN_ADDRESS": DEV_ADMIN.address,
        "CONTRACT_ADDRESS": collection.address,
        "DATABASE_URL": database_url,
        "BATCH_MAX_WAIT_S": "0.2",
        "POLL_INTERVAL_S": "0.1",
        # An update a killed process held is taken over this soon (PostgreSQL only).
        "INBOX_LEASE_S": "3",
        "HTTP_PORT": "0",
        # The web server on the bot's own event loop: the child process of the default mode
        # costs each bot start about 1.5 s of CPU, and tests/test_web_process.py runs it.
        "WEB_SERVER": "inline",
        "ENV_FILE": "/nonexistent/.env",
    }


@pytest.fixture
async def factory_env(bot_env: dict[str, str], w3: AsyncWeb3, minter: HotWallet) -> dict[str, str]:
    """The bot's settings with a factory of this test's own (a clone's address follows from
    the factory, the hot wallet and the community, so each test needs a fresh one)."""
    return {**bot_env, "FACTORY_ADDRESS": await deploy_factory(w3, minter, FEES)}


@pytest.fixture
async def proxy(anvil: Anvil) -> AsyncIterator[RpcProxy]:
    rpc_proxy = RpcProxy(anvil.url)
    await rpc_proxy.start()
    yield rpc_proxy
    await rpc_proxy.stop()


@pytest.fixture
async def own_anvil(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[Anvil, AsyncWeb3, Collection]]:
    """A chain of this test's own, for tests that stop mining or rewrite history; its
    collection a clone when parametrized indirectly with "clone"."""
    with Anvil() as node:
        web3 = await client.connect(node.url, 31337)
        minter = HotWallet(Secret(ANVIL_DEV_KEYS[0]))
        params = CollectionParams(
            "Faults",
            "F",
            DEV_ADMIN.address,
            DEV_ADMIN.address,
            minter.address,
            DEV_ADMIN.address,
            0,
            "",
        )
        if getattr(request, "param", "direct") == "clone":
            yield node, web3, await clone_collection(web3, minter, params)
        else:
            deployment = await deploy_collection(web3, minter, params, FEES)
            yield node, web3, Collection(web3, deployment.address)
        await client.close(web3)


async def clone_collection(
    w3: AsyncWeb3, minter: HotWallet, params: CollectionParams
) -> Collection:
    """A collection made as a community's is: a clone from a newly deployed factory."""
    factory = Factory(w3, await deploy_factory(w3, minter, FEES))
    salt = os.urandom(32)
    address = await factory.predict_collection(minter.address, salt)
    data = factory.encode_create_collection(salt, params)
    await send_and_confirm(w3, minter, {"to": factory.address, "data": data}, FEES)
    return Collection(w3, address)


@pytest.fixture
async def bot(bot_env: dict[str, str]) -> AsyncIterator[tuple[Runtime, Inbox]]:
    settings = load_settings(bot_env)
    async with running(settings) as (runtime, inbox):
        yield runtime, inbox
