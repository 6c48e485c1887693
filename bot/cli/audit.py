"""`audit`: every transaction the hot wallet signed, as CSV."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from bot.audit import audit_rows, fees_paid, write_csv
from bot.cli.runtime import in_records, settings
from bot.records import Records


@click.command()
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="Only signatures from this UTC date (or date and time) on.",
)
def audit(since: datetime | None) -> None:
    """Print every transaction the hot wallet signed as CSV: who asked (platform and user), why
    (the request keys), the fee cap and the fee paid (an OP-stack chain's L1 data fee
    included), and the outcome; the totals go to stderr."""
    loaded = settings()
    moment = since.replace(tzinfo=UTC) if since is not None else None

    async def go(records: Records) -> list[dict[str, object]]:
        return await audit_rows(records.sessions, moment)

    rows = in_records(loaded, go)
    count = write_csv(rows, sys.stdout)
    paid, l1_fee = fees_paid(rows)
    click.echo(
        f"{count} signature(s); fees paid: {paid} wei, L1 data fee {l1_fee} wei of it", err=True
    )
