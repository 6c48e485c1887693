"""`deploy`, `doctor` and `contracts build`: the collection contract and the checks that it,
the RPC and the hot wallet are as the settings say."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.cli.runtime import EXIT_CHECK_FAILED, admin_key, on_local_node, settings
from bot.contracts.build import write_artifact
from bot.env_values import parse_address
from bot.errors import ConfigError


@click.command()
@click.option("--admin", help="Contract admin address (default: ADMIN_ADDRESS).")
@click.option(
    "--factory",
    "factory_only",
    is_flag=True,
    help="Keep the recorded collection; deploy only the factory of community collections.",
)
@click.option(
    "--admin-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file holding the contract admin's private key, to grant MINTER_ROLE to the other "
    "keys of a hot-wallet pool (HOT_WALLET_KEYS) at once; without it, run `wallet grant-pool` "
    "later (on the local chain the development admin grants it).",
)
def deploy(admin: str | None, factory_only: bool, admin_key_file: Path | None) -> None:
    """Deploy a new collection contract and the factory of community collections, and record
    their addresses under DATA_DIR."""
    from bot.app import open_configured_chain  # the chain stack, when it runs (see bot.cli)
    from bot.chain.wallet import HotWallet

    loaded = settings()
    granter = HotWallet(admin_key(loaded, admin_key_file)) if admin_key_file else None

    async def go() -> None:
        async with open_configured_chain(loaded) as chain:
            if factory_only:
                click.echo(f"FACTORY_ADDRESS={await chain.deploy_factory()}")
                return
            deployment = await chain.deploy(admin, granter)
        click.echo(f"deployed on chain {deployment.chain_id} at {deployment.address}")
        click.echo(f"CONTRACT_ADDRESS={deployment.address}")
        click.echo(f"FACTORY_ADDRESS={deployment.factory}")

    if admin is not None:
        admin = parse_address("--admin", admin)
    on_local_node(loaded, go)


@click.command()
def doctor() -> None:
    """Check settings, RPC, chain ID, balance, contract and roles. Exit 1 if any check fails."""
    from bot.doctor import Check, run_checks  # the chain stack, when it runs (see bot.cli)

    try:
        loaded = settings()
    except ConfigError as err:
        click.echo(
            Check(
                "settings",
                False,
                str(err),
                "fix the setting in .env or the environment; .env.example documents each one",
            ).render()
        )
        sys.exit(EXIT_CHECK_FAILED)

    async def go() -> bool:
        ok = True
        async for check in run_checks(loaded):
            click.echo(check.render())
            ok = ok and check.ok
        return ok

    sys.exit(0 if on_local_node(loaded, go) else EXIT_CHECK_FAILED)


@click.group()
def contracts() -> None:
    """Developer tools for the Solidity contract."""


@contracts.command("build")
def contracts_build() -> None:
    """Recompile the contracts with the pinned solc and rewrite the committed artifacts."""
    for path in write_artifact():
        click.echo(f"wrote {path}")
