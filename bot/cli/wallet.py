"""`wallet rotate`: move minting to a new hot wallet."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.runtime import in_runtime, settings
from bot.config import ANVIL_DEV_KEYS
from bot.env_values import Secret, parse_address, validate_private_key

if TYPE_CHECKING:
    from bot.app import Runtime


@click.group()
def wallet() -> None:
    """The hot wallet."""


@wallet.command("rotate")
@click.option("--to", "new_address", required=True, help="The new hot wallet's address.")
@click.option(
    "--admin-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file holding the contract admin's private key (default: asked for, hidden; in "
    "local mode anvil's development admin key).",
)
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
    custody addresses move to it), revokes the old key, and lets the new key sign. Run it with
    the settings still holding the old key; then switch the settings to the new key. Each step
    is recorded, and a re-run finishes an interrupted rotation."""
    from bot.chain.wallet import HotWallet  # the chain stack, when it runs (see bot.cli)
    from bot.rotation import KeyRotation

    loaded = settings()
    new_address = parse_address("--to", new_address)
    if admin_key_file is not None:
        raw = admin_key_file.read_text().strip()
    elif loaded.local_mode:
        raw = ANVIL_DEV_KEYS[1]  # the local chain's published admin account
    else:
        raw = getpass.getpass("The contract admin's private key (hidden): ").strip()
    admin = HotWallet(validate_private_key("admin key", Secret(raw)))

    async def go(runtime: Runtime) -> None:
        await KeyRotation(runtime, admin, new_address, click.echo, sweep=sweep).run()

    in_runtime(loaded, go)
    click.echo(
        f"Rotated. Now set HOT_WALLET_PRIVATE_KEY (or the keystore) to the key of {new_address} "
        "and start the bot."
    )
