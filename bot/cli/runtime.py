"""What every command shares: the settings (with logging set up from them), the runtime
opened on the local chain when there is one (or the records alone, for commands that only
read them), and how a result is printed as JSON."""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import logging
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bot.config import Settings, load_settings
from bot.env_values import Secret, validate_private_key
from bot.hot_wallet_keys import ANVIL_DEV_KEYS
from bot.logs import configure_logging
from bot.minting.types import MintResult
from bot.records import Records, open_records

if TYPE_CHECKING:
    from bot.runtime import Runtime

T = TypeVar("T")

EXIT_CHECK_FAILED = 1
EXIT_CONFIG = 2


def settings() -> Settings:
    """The settings from the environment and .env, with logging configured from them (and
    their warnings logged)."""
    loaded = load_settings()
    configure_logging(loaded.log_level, loaded.secrets())
    for warning in loaded.warnings:
        logging.getLogger("mintbot").warning("%s", warning)
    return loaded


def on_local_node(settings: Settings, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run `work` to its end, with the local chain up for it in local mode."""
    from bot.chain.setup import local_node  # the chain stack, when a command runs (see bot.cli)

    with local_node(settings):
        return asyncio.run(work())


def in_runtime(
    settings: Settings, work: Callable[[Runtime], Awaitable[T]], *, start: bool = False
) -> T:
    """Open the runtime (with `start`, resuming unfinished work too), run `work` in it, close
    it, and return what `work` returned."""
    from bot.app import open_runtime  # the chain stack, when a command runs (see bot.cli)

    async def opened() -> T:
        async with open_runtime(settings, start=start) as runtime:
            return await work(runtime)

    return on_local_node(settings, opened)


def in_records(settings: Settings, work: Callable[[Records], Awaitable[T]]) -> T:
    """Open the database alone (no chain, no local node), run `work` on its records, close
    it, and return what `work` returned."""

    async def opened() -> T:
        async with open_records(settings) as records:
            return await work(records)

    return asyncio.run(opened())


def admin_key_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--admin-key-file FILE`, for commands that sign as the contract admin."""
    return click.option(
        "--admin-key-file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help=f"A file holding the contract admin's private key {help_text} (default: asked for, "
        "hidden; in local mode anvil's development admin key).",
    )


def admin_key(settings: Settings, key_file: Path | None) -> Secret:
    """The contract admin's key: from `key_file`, anvil's published admin key in local mode,
    else asked for at a hidden prompt. It is used for the command's transactions and kept
    nowhere."""
    if key_file is not None:
        raw = key_file.read_text().strip()
    elif settings.local_mode:
        raw = ANVIL_DEV_KEYS[1]  # the local chain's published admin account
    else:
        raw = getpass.getpass("The contract admin's private key (hidden): ").strip()
    return validate_private_key("admin key", Secret(raw))


def result_json(result: MintResult) -> dict[str, Any]:
    """A mint result as `--json` prints it."""
    data = dataclasses.asdict(result)
    data.pop("reply_to")  # the platform's answer address: an interaction token, for one
    # Untranslated copies of `failure_reason` and `waiting_reason` (for members' languages):
    # the operator reads the English ones.
    data.pop("failure_said")
    data.pop("waiting_said")
    data["phase"] = str(result.phase)
    data["token_id"] = str(result.token_id) if result.token_id is not None else None
    return data


def read_image(path: Path) -> bytes:
    """The bytes of an image file named on the command line, or one line saying why not."""
    try:
        return path.read_bytes()
    except OSError as err:
        raise click.ClickException(f"cannot read {path}: {err.strerror}") from None
