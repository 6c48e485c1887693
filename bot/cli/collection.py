"""`collection create|show|metadata|handover`: a community's own collection from the command
line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

import bot.registry  # noqa: F401  (fills the registries)
from bot.cli.drop import chat_platform
from bot.cli.runtime import admin_key, admin_key_option, in_runtime, read_image, settings

if TYPE_CHECKING:
    from bot.community_collections.records import CollectionView
    from bot.runtime import Runtime

# How long `create` waits for the factory call to confirm before leaving it to the bot.
CREATE_WAIT_S = 120.0


def _echo(view: CollectionView | None) -> None:
    from bot.community_collections.records import describe  # light, but keep --help lighter

    click.echo(describe(view) if view is not None else "no collection of its own")


@click.group()
def collection() -> None:
    """A community's own collection: a clone of the collection contract that it owns."""


@collection.command("create")
@click.option("--platform", required=True, callback=chat_platform)
@click.option("--community", required=True, help="The Discord server or Telegram chat ID.")
@click.option(
    "--admin-user",
    required=True,
    help="The community admin's user ID on the platform: their verified wallet owns it.",
)
@click.option("--name", required=True, help="The collection's name, as marketplaces show it.")
@click.option("--symbol", required=True, help="A short ticker, like ART.")
@click.option("--royalty-bps", type=click.IntRange(0, 10_000), default=0, show_default=True)
@click.option("--description", default="")
@click.option("--external-link", help="The community's site, shown on marketplaces.")
@click.option(
    "--image", type=click.Path(dir_okay=False, path_type=Path), help="The collection's picture."
)
def collection_create(
    platform: str,
    community: str,
    admin_user: str,
    name: str,
    symbol: str,
    royalty_bps: int,
    description: str,
    external_link: str | None,
    image: Path | None,
) -> None:
    """Create the community's collection and wait for it to be live."""
    from bot.community_collections.metadata import CollectionText

    loaded = settings()
    text = CollectionText(description, external_link, read_image(image) if image else None)

    async def go(runtime: Runtime) -> CollectionView | None:
        await runtime.collections.create(
            platform=platform,
            community_id=community,
            created_by=admin_user,
            name=name,
            symbol=symbol,
            royalty_bps=royalty_bps,
            text=text,
        )
        return await runtime.collections.wait_live(platform, community, CREATE_WAIT_S)

    _echo(in_runtime(loaded, go, start=True))


@collection.command("show")
@click.option("--platform", required=True, callback=chat_platform)
@click.option("--community", required=True, help="The Discord server or Telegram chat ID.")
def collection_show(platform: str, community: str) -> None:
    """Show the community's collection, if it has one."""
    loaded = settings()

    async def go(runtime: Runtime) -> CollectionView | None:
        return await runtime.collections.view(platform, community)

    _echo(in_runtime(loaded, go))


@collection.command("handover")
@click.option("--platform", required=True, callback=chat_platform)
@click.option("--community", required=True, help="The Discord server or Telegram chat ID.")
@admin_key_option("(ADMIN_ADDRESS's: it renounces its own role)")
def collection_handover(platform: str, community: str, admin_key_file: Path | None) -> None:
    """Renounce the operator's admin role on the community's contracts, so that their owner
    alone administers them. The admin key signs one transaction per contract."""
    from bot.chain.wallet import HotWallet
    from bot.community_collections.operator import hand_over

    loaded = settings()
    admin = HotWallet(admin_key(loaded, admin_key_file))

    async def go(runtime: Runtime) -> list[CollectionView]:
        return await hand_over(
            runtime.collections, platform, community, admin, await runtime.chain.fees()
        )

    for view in in_runtime(loaded, go):
        _echo(view)


@collection.command("metadata")
@click.option("--platform", required=True, callback=chat_platform)
@click.option("--community", required=True, help="The Discord server or Telegram chat ID.")
@click.option("--description", default="")
@click.option("--external-link", help="The community's site, shown on marketplaces.")
@click.option(
    "--image", type=click.Path(dir_okay=False, path_type=Path), help="The collection's picture."
)
@admin_key_option("(ADMIN_ADDRESS's: it sets contractURI)")
def collection_metadata(
    platform: str,
    community: str,
    description: str,
    external_link: str | None,
    image: Path | None,
    admin_key_file: Path | None,
) -> None:
    """Store and pin a new collection document (name, owner and royalty as they are) and
    point the community's contracts at it. Once handed over, only the owner can: the URI to
    set is printed instead."""
    from bot.chain.wallet import HotWallet
    from bot.community_collections.metadata import CollectionText
    from bot.community_collections.operator import replace_metadata

    loaded = settings()
    text = CollectionText(description, external_link, read_image(image) if image else None)
    admin = HotWallet(admin_key(loaded, admin_key_file))

    async def go(runtime: Runtime) -> list[CollectionView]:
        return await replace_metadata(
            runtime.collections, platform, community, admin, await runtime.chain.fees(), text
        )

    for view in in_runtime(loaded, go, start=True):
        _echo(view)
