"""The mintbot command line: `python -m bot COMMAND` (or `mintbot COMMAND`)."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import click

from bot.config import Settings, load_settings, parse_address
from bot.errors import ConfigError, MintbotError
from bot.logs import configure_logging

log = logging.getLogger("bot")

EXIT_CHECK_FAILED = 1
EXIT_CONFIG = 2


def _settings() -> Settings:
    settings = load_settings()
    configure_logging(settings.log_level, settings.secrets())
    return settings


def _run(coro_fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> Any:
    return asyncio.run(coro_fn(*args))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """mintbot: mint members' art as NFTs from Discord and Telegram."""


@cli.command()
def run() -> None:
    """Run the bot. Without RPC_URL it runs on a local anvil chain, deploying on first start."""
    from bot.app import local_node, serve

    settings = _settings()
    with local_node(settings):
        _run(serve, settings)


@cli.command()
@click.option("--admin", help="Contract admin address (default: ADMIN_ADDRESS).")
def deploy(admin: str | None) -> None:
    """Deploy a new collection contract and record its address under DATA_DIR."""
    from bot.app import local_node, open_chain

    settings = _settings()

    async def go() -> None:
        async with open_chain(settings) as chain:
            deployment = await chain.deploy(admin)
        click.echo(f"deployed on chain {deployment.chain_id} at {deployment.address}")
        click.echo(f"CONTRACT_ADDRESS={deployment.address}")

    if admin is not None:
        admin = parse_address("--admin", admin)
    with local_node(settings):
        _run(go)


@cli.command()
def devchain() -> None:
    """Run the local chain (anvil on 127.0.0.1:ANVIL_PORT) in the foreground."""
    from bot.app import local_node, wait_for_stop_signal

    settings = _settings()
    if not settings.local_mode:
        raise ConfigError("RPC_URL", "is set; devchain runs only the local chain (unset RPC_URL)")
    with local_node(settings) as url:
        click.echo(f"local chain (chain ID 31337) on {url}; Ctrl-C stops it")
        _run(wait_for_stop_signal)


@cli.command()
def doctor() -> None:
    """Check settings, RPC, chain ID, balance, contract and roles. Exit 1 if any check fails."""
    from bot.app import local_node
    from bot.doctor import Check, run_checks

    try:
        settings = _settings()
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
        async for check in run_checks(settings):
            click.echo(check.render())
            ok = ok and check.ok
        return ok

    with local_node(settings):
        ok = _run(go)
    sys.exit(0 if ok else EXIT_CHECK_FAILED)


@cli.group()
def contracts() -> None:
    """Developer tools for the Solidity contract."""


@contracts.command("build")
def contracts_build() -> None:
    """Recompile the contract with the pinned solc and rewrite the committed artifact."""
    from bot.contracts.build import write_artifact

    click.echo(f"wrote {write_artifact()}")


def main() -> None:
    """Entry point: turn expected errors into one clear line and an exit code, no traceback."""
    try:
        cli.main(prog_name="mintbot", standalone_mode=False)
    except click.exceptions.Exit as exit_:
        sys.exit(exit_.exit_code)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except click.Abort:
        sys.exit(130)
    except ConfigError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_CONFIG)
    except MintbotError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_CHECK_FAILED)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
