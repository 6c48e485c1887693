"""`export-car`: every stored image and metadata block as one CARv1 archive."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.runtime import settings
from bot.content.car import export_store
from bot.content.store import ContentStore


@click.command("export-car")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def export_car(file: Path) -> None:
    """Write every stored image and metadata block to FILE as a CARv1 archive, which any IPFS
    pinning service accepts."""
    loaded = settings()
    roots, blocks = export_store(ContentStore(loaded.ipfs_dir), file)
    click.echo(f"wrote {file}: {roots} file(s), {blocks} block(s)")
