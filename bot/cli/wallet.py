"""`wallet rotate`: move minting to a new hot wallet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.runtime import admin_key, admin_key_option, in_runtime, settings
from bot.env_values import parse_address

if TYPE_CHECKING:
    from bot.runtime import Runtime


@click.group()
def wallet() -> None:
    """The hot wallet."""


@wallet.command("rotate")
@click.option("--to", "new_address", required=True, help="The new hot wallet's address.")
@admin_key_option("(it grants and revokes MINTER_ROLE)")
@click.option(
    "--sweep",
    is_flag=True,
    help="Move every custodial token to the new address instead of approving it to move them "
    "(for a compromised key: the old address then holds nothing).",
)
def wallet_rotate(new_address: str, admin_key_file: Path | None, sweep: bool) -> None:
    """Move minting to a new hot wallet. Stops signing with the old and new keys in every
    bot process (they wait and log why; the bot may keep running), grants the new address
    MINTER_ROLE, finishes the old key's in-flight transactions, keeps custodial tokens movable
    by the new key (the old custody approves it, or --sweep moves them; tokens of older
    custody addresses move to it), revokes the old key, and lets the new key sign. With a pool
    (HOT_WALLET_KEYS: the first key is the one rotated), the pool's other keys are granted
    MINTER_ROLE where they lack it too. Run it with the settings still holding the old key;
    then switch the settings to the new key. Each step is recorded, and a re-run finishes an
    interrupted rotation."""
    from bot.chain.wallet import HotWallet  # the chain stack, when it runs (see bot.cli)
    from bot.pool_roles import grant_pool
    from bot.rotation import KeyRotation

    loaded = settings()
    new_address = parse_address("--to", new_address)
    admin = HotWallet(admin_key(loaded, admin_key_file))

    async def go(runtime: Runtime) -> None:
        await KeyRotation(runtime, admin, new_address, click.echo, sweep=sweep).run()
        if runtime.chain.more_wallets:
            fees = await runtime.chain.fees()
            await grant_pool(runtime, admin, fees, lambda said: click.echo(f"pool: {said}"))

    in_runtime(loaded, go)
    click.echo(
        f"Rotated. Now set HOT_WALLET_PRIVATE_KEY (or the keystore) to the key of {new_address} "
        "and start the bot."
    )


@wallet.command("grant-pool")
@admin_key_option("(it grants MINTER_ROLE)")
def wallet_grant_pool(admin_key_file: Path | None) -> None:
    """Grant MINTER_ROLE to every key of the hot-wallet pool (HOT_WALLET_KEYS) that lacks it,
    on the shared collection and on each community contract the admin still administers. A
    key without the role is never used for that contract's batches; a re-run grants only what
    is missing."""
    from bot.chain.wallet import HotWallet  # the chain stack, when it runs (see bot.cli)
    from bot.pool_roles import grant_pool

    loaded = settings()
    admin = HotWallet(admin_key(loaded, admin_key_file))

    async def go(runtime: Runtime) -> None:
        granted = await grant_pool(runtime, admin, await runtime.chain.fees(), click.echo)
        click.echo(f"{granted} grant(s) made.")

    in_runtime(loaded, go)
