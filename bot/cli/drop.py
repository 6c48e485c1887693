"""`drop create|list|close|export`: community drops from the command line."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

import bot.registry  # noqa: F401  (fills the registries)
from bot.cli.allowlist import read_allowlist
from bot.cli.runtime import in_runtime, read_image, settings
from bot.drops import DropInfo, gates_for, listing_line
from bot.holders.options import holder_gate
from bot.ports import PLATFORMS

if TYPE_CHECKING:
    from bot.drops.allowlists import Uploaded
    from bot.runtime import Runtime
from db.models import utcnow


def chat_platform(_ctx: click.Context, _param: click.Parameter, name: str) -> str:
    """A drop belongs to a registered chat platform's community (not the local console's)."""
    if name not in PLATFORMS or PLATFORMS.get(name).fallback:
        chats = ", ".join(n for n in PLATFORMS.names() if not PLATFORMS.get(n).fallback)
        raise click.BadParameter(f"{name!r} is not a chat platform: one of {chats}")
    return name


_MOMENT = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])


@click.group()
def drop() -> None:
    """Community drops: one artwork, claimable as numbered editions."""


@drop.command("create")
@click.option("--platform", required=True, callback=chat_platform)
@click.option("--community", required=True, help="The Discord server or Telegram chat ID.")
@click.option("--name", required=True, help="The drop's name; editions add '#12 of 500'.")
@click.option(
    "--image", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Artwork."
)
@click.option("--description", default="")
@click.option("--supply", type=click.IntRange(min=1), help="Editions (default: open edition).")
@click.option("--per-user", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--starts", type=_MOMENT, help="UTC start (default: now).")
@click.option("--ends", type=_MOMENT, help="UTC end (default: until closed).")
@click.option("--role", "roles", multiple=True, help="A role ID that may claim (repeatable).")
@click.option("--members-only", is_flag=True, help="Only members of the chat may claim.")
@click.option("--require-wallet", is_flag=True, help="Only claimers with a linked address.")
@click.option(
    "--allowlist",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Only the members and addresses in this CSV file may claim (see `drop allowlist`).",
)
@click.option("--holders-of", help="Only holders of this collection: 'ours' or its address.")
@click.option("--holders-min", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--holders-id", help="The ERC-1155 token ID holders must hold.")
def drop_create(
    platform: str,
    community: str,
    name: str,
    image: Path,
    description: str,
    supply: int | None,
    per_user: int,
    starts: datetime | None,
    ends: datetime | None,
    roles: tuple[str, ...],
    members_only: bool,
    require_wallet: bool,
    allowlist: Path | None,
    holders_of: str | None,
    holders_min: int,
    holders_id: str | None,
) -> None:
    """Create a drop; the artwork is checked and stored once."""
    from bot.drops.allowlists import Allowlists  # the drops core, when it runs (see bot.cli)

    loaded = settings()
    data = read_image(image)
    listed = read_allowlist(allowlist) if allowlist is not None else None

    async def go(runtime: Runtime) -> tuple[DropInfo, Uploaded | None]:
        gates = gates_for(roles, chat_member=members_only, linked_wallet=require_wallet)
        if holders_of is not None:
            gates.append(
                await holder_gate(
                    runtime.collections,
                    runtime.collection.address,
                    platform,
                    community,
                    of=holders_of,
                    token_id=holders_id,
                    minimum=holders_min,
                )
            )
        return await Allowlists(runtime.sessions).create_drop(
            runtime.drops,
            allowlist=listed,
            platform=platform,
            community_id=community,
            created_by=getpass.getuser(),
            name=name,
            image=data,
            description=description,
            supply=supply,
            per_user_limit=per_user,
            starts_at=starts.replace(tzinfo=UTC) if starts else None,
            ends_at=ends.replace(tzinfo=UTC) if ends else None,
            gates=gates,
        )

    created, uploaded = in_runtime(loaded, go)
    click.echo(f"created drop {listing_line(created, utcnow())}")
    if uploaded is not None:
        click.echo(uploaded.report())


@drop.command("list")
@click.option("--platform", required=True, callback=chat_platform)
@click.option("--community", required=True, help="The Discord server or Telegram chat ID.")
def drop_list(platform: str, community: str) -> None:
    """List a community's drops, newest first."""
    loaded = settings()

    async def go(runtime: Runtime) -> list[DropInfo]:
        return await runtime.drops.list_drops(platform, community)

    drops = in_runtime(loaded, go)
    now = utcnow()
    for info in drops:
        click.echo(listing_line(info, now))
    click.echo(f"{len(drops)} drop(s)", err=True)


@drop.command("close")
@click.argument("drop_id", type=int)
def drop_close(drop_id: int) -> None:
    """Close drop DROP_ID early: editions claimed so far are minted, no more are given."""
    loaded = settings()

    async def go(runtime: Runtime) -> DropInfo:
        return await runtime.drops.close(drop_id)

    info = in_runtime(loaded, go)
    click.echo(listing_line(info, utcnow()))


@drop.command("export")
@click.argument("drop_id", type=int)
def drop_export(drop_id: int) -> None:
    """Print the claims of drop DROP_ID as CSV."""
    loaded = settings()

    async def go(runtime: Runtime) -> str:
        return await runtime.drops.export_csv(drop_id)

    click.echo(in_runtime(loaded, go), nl=False)
