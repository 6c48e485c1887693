"""`pin`: publish stored content on the pinning backends PINNING names, and audit what is
pinned there."""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import click

from bot.cli.runtime import EXIT_CHECK_FAILED, in_records, settings
from bot.records import Records


@click.command("pin")
@click.option(
    "--all", "everything", is_flag=True, help="Pin every stored image and metadata not pinned yet."
)
@click.option(
    "--verify",
    is_flag=True,
    help="Read every pinned CID back (through IPFS_GATEWAY_URL, else the backend) and check it.",
)
def pin(everything: bool, verify: bool) -> None:
    """Publish stored content on IPFS (--all), or check what is published (--verify).

    --all is safe to run again, and beside a running bot: what is pinned already is skipped,
    and each CID is published by one of them. Exits 1 if anything is left unpinned or fails
    its check."""
    if everything == verify:
        raise click.UsageError("say --all or --verify")
    loaded = settings()
    if not loaded.pinning:
        raise click.ClickException(
            "PINNING names no backend: content is kept locally only (see .env.example)"
        )
    from bot.minting.pin_audit import pin_everything, verify_pins  # see bot.cli

    async def work(records: Records) -> bool:
        if everything:
            return await pin_everything(loaded, records.sessions, _bar)
        return await verify_pins(loaded, records.sessions, _bar)

    sys.exit(0 if in_records(loaded, work) else EXIT_CHECK_FAILED)


def _bar(total: int, label: str) -> contextlib.AbstractContextManager[Any]:
    """A progress bar on standard error, so standard output stays the report."""
    return click.progressbar(length=total, label=label, file=sys.stderr)
