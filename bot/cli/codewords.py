"""`drop codes ID N --out FILE` and `drop word ID`: codeword drops from the command line.

Codes are written to a new file only (readable by its owner alone), never printed: a
terminal's scrollback and a CI log are not where single-use codes belong. The word is asked
for without echo, so it stays out of the shell's history.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.runtime import in_runtime, settings
from bot.drops.codes import MAX_BATCH

if TYPE_CHECKING:
    from bot.app import Runtime


@click.command("codes")
@click.argument("drop_id", type=int)
@click.argument("count", type=click.IntRange(1, MAX_BATCH))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    required=True,
    help="A new CSV file for the codes (refused if it exists).",
)
def drop_codes(drop_id: int, count: int, out: Path) -> None:
    """Make COUNT single-use codes for drop DROP_ID; the drop is claimed with a code from now
    on. Run again for more."""
    if out.exists():
        raise click.BadParameter(f"{out} exists; codes go to a new file", param_hint="--out")
    loaded = settings()

    async def go(runtime: Runtime) -> list[str]:
        return await runtime.codewords.make_codes(drop_id, count)

    from bot.drops.codewords import codes_csv  # the database models, when the command runs

    made = in_runtime(loaded, go)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(codes_csv(drop_id, made))
    click.echo(f"wrote {len(made)} codes for drop #{drop_id} to {out}")


@click.command("word")
@click.argument("drop_id", type=int)
@click.option("--word", prompt="Secret word", hide_input=True, confirmation_prompt=True)
def drop_word(drop_id: int, word: str) -> None:
    """Set the secret word drop DROP_ID is claimed with (asked for without echo)."""
    loaded = settings()

    async def go(runtime: Runtime) -> None:
        await runtime.codewords.set_word(drop_id, word)

    in_runtime(loaded, go)
    click.echo(f"drop #{drop_id} is claimed with its secret word now")
