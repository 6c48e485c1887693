"""`drop allowlist`: set or replace a drop's allowlist from a CSV file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.runtime import in_records, settings

if TYPE_CHECKING:
    from bot.drops.allowlists import Uploaded
    from bot.records import Records


def read_allowlist(path: Path) -> bytes:
    """The bytes of an allowlist file named on the command line, or one line saying why not."""
    try:
        return path.read_bytes()
    except OSError as err:
        raise click.ClickException(f"cannot read {path}: {err.strerror}") from None


@click.command("allowlist")
@click.argument("drop_id", type=int)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def drop_allowlist(drop_id: int, file: Path) -> None:
    """Make FILE drop DROP_ID's allowlist, in place of any it has, even while it is open.

    One entry a line: discord:ID, telegram:ID or an address, then optionally how many
    editions it may claim (default 1). A file with any bad line changes nothing: its bad
    lines are listed by number. Claims already made stay."""
    from bot.drops.allowlists import Allowlists  # the drops core, when it runs (see bot.cli)

    loaded = settings()
    data = read_allowlist(file)

    async def go(records: Records) -> Uploaded:
        return await Allowlists(records.sessions).replace(drop_id, data, by="cli")

    click.echo(in_records(loaded, go).report())
