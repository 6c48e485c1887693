"""`run`, `web` and `devchain`: the bot, its web server alone, and the local chain alone."""

from __future__ import annotations

import asyncio
import os

import click

from bot.cli.runtime import on_local_node, settings
from bot.config import load_web_settings
from bot.errors import ConfigError
from bot.logs import configure_logging
from bot.roles import ROLES, Role, check_role


@click.command()
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="all",
    show_default=True,
    help="What this process runs: all of the bot; chat (the chat platforms and their "
    "answers); pipeline (preparing, batching, signing, watching); web (gallery and gateway). "
    "Roles other than all need PostgreSQL and RPC_URL.",
)
def run(role: Role) -> None:
    """Run the bot. Without RPC_URL it runs on a local anvil chain, deploying on first start.
    With SQLite, one process at a time: a second one refuses to start."""
    if role == "web":
        web_settings = load_web_settings()
        configure_logging(web_settings.log_level, web_settings.secrets())
        check_role(
            role, database_url=web_settings.database_url, local_mode=not web_settings.rpc_urls
        )
        from bot.web.role import serve_web  # the chain stack, when it runs (see bot.cli)

        asyncio.run(serve_web(web_settings))
        return
    from bot.app import serve  # the chain stack, when it runs (see bot.cli)

    loaded = settings()
    check_role(role, database_url=loaded.database_url, local_mode=loaded.local_mode)
    on_local_node(loaded, lambda: serve(loaded, True, role))


@click.command()
# Given by `run` when it starts this as its child: the listening socket it bound, where the
# bot serves its own routes, and which paths those are.
@click.option("--socket-fd", type=int, hidden=True)
@click.option("--bot-url", hidden=True)
@click.option("--forward-path", multiple=True, hidden=True)
@click.option("--niceness", type=int, default=0, hidden=True)
def web(
    socket_fd: int | None, bot_url: str | None, forward_path: tuple[str, ...], niceness: int
) -> None:
    """Run the web server alone: gallery, token pages, IPFS gateway and explorer pages, from
    the bot's database and content directory (it needs no key). `run` starts one itself."""
    from bot.web.role import serve_web  # the chain stack, when it runs (see bot.cli)

    web_settings = load_web_settings()
    configure_logging(web_settings.log_level, web_settings.secrets())
    os.nice(niceness)  # before any thread starts: threads inherit it
    asyncio.run(
        serve_web(web_settings, socket_fd=socket_fd, bot_url=bot_url, forwarded=forward_path)
    )


@click.command()
def devchain() -> None:
    """Run the local chain (anvil on 127.0.0.1:ANVIL_PORT) in the foreground."""
    from bot.chain.setup import local_node  # the chain stack, when it runs (see bot.cli)
    from bot.signals import wait_for_stop_signal

    loaded = settings()
    if not loaded.local_mode:
        raise ConfigError("RPC_URL", "is set; devchain runs only the local chain (unset RPC_URL)")
    with local_node(loaded) as url:
        click.echo(f"local chain (chain ID 31337) on {url}; Ctrl-C stops it")
        asyncio.run(wait_for_stop_signal())
