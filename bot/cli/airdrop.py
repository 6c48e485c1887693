"""`airdrop`: a drop's editions given to the addresses or members of a file, with progress."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bot.cli.runtime import EXIT_CHECK_FAILED, in_runtime, settings

if TYPE_CHECKING:
    from bot.airdrop import RowOutcome
    from bot.runtime import Runtime


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--drop", "drop_id", type=int, required=True, help="The drop to give from.")
def airdrop(file: Path, drop_id: int) -> None:
    """Give a drop's editions to the addresses or members (platform:user ID) in FILE, one per
    row, and wait until they are minted. Running the same file again mints nothing new; bad
    rows are listed with their line numbers and do not stop the others."""
    from bot.airdrop import read_rows, run_airdrop  # the chain stack, when it runs (see bot.cli)

    loaded = settings()
    text = file.read_text(encoding="utf-8-sig")
    # Wide enough for whole addresses and reasons when the output is a file or a pipe.
    console = Console() if sys.stdout.isatty() else Console(width=200)

    async def go(runtime: Runtime) -> list[RowOutcome]:
        rows, bad = read_rows(text, collection=runtime.collection.address)
        with Progress(console=console, transient=True) as progress:
            decided = progress.add_task("giving editions", total=len(rows))
            minted = progress.add_task("minting", total=len(rows))
            seen: set[int] = set()

            def advance(outcome: RowOutcome) -> None:
                first = outcome.line not in seen
                seen.add(outcome.line)
                if first:
                    progress.advance(decided)
                if not first or outcome.request_id is None:
                    progress.advance(minted)

            given = await run_airdrop(runtime.drops, runtime.service, drop_id, rows, advance)
        return [*given, *bad]

    outcomes = sorted(in_runtime(loaded, go, start=True), key=lambda o: o.line)
    table = Table(title=f"Airdrop of drop #{drop_id} from {file.name}")
    for column in ("line", "recipient", "status", "edition", "detail"):
        table.add_column(column)
    for o in outcomes:
        table.add_row(str(o.line), o.recipient, o.status, o.edition, o.detail)
    console.print(table)
    counts = {s: sum(o.status == s for o in outcomes) for s in {o.status for o in outcomes}}
    console.print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no rows")
    if any(not o.ok for o in outcomes):
        sys.exit(EXIT_CHECK_FAILED)
