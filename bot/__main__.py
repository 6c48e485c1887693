"""The mintbot command line: `python -m bot COMMAND` (or `mintbot COMMAND`)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import getpass
import json
import logging
import os
import sys
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.config import Settings, load_settings, parse_address
from bot.errors import ConfigError, MintbotError
from bot.logs import configure_logging

if TYPE_CHECKING:
    from bot.drops import DropInfo
    from bot.minting.types import MintResult

log = logging.getLogger("bot")

EXIT_CHECK_FAILED = 1
EXIT_CONFIG = 2


def _settings() -> Settings:
    settings = load_settings()
    configure_logging(settings.log_level, settings.secrets())
    for warning in settings.warnings:
        logging.getLogger("mintbot").warning("%s", warning)
    return settings


def _run(coro_fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> Any:
    return asyncio.run(coro_fn(*args))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """mintbot: mint members' art as NFTs from Discord and Telegram."""


@cli.command()
def run() -> None:
    """Run the bot. Without RPC_URL it runs on a local anvil chain, deploying on first start."""
    from bot.app import serve
    from bot.chain.setup import local_node

    settings = _settings()
    with local_node(settings):
        _run(serve, settings, True)


@cli.command()
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
    from bot.config import load_web_settings
    from bot.web.role import serve_web

    settings = load_web_settings()
    configure_logging(settings.log_level)
    os.nice(niceness)  # before any thread starts: threads inherit it
    _run(lambda: serve_web(settings, socket_fd=socket_fd, bot_url=bot_url, forwarded=forward_path))


@cli.command()
@click.option("--admin", help="Contract admin address (default: ADMIN_ADDRESS).")
def deploy(admin: str | None) -> None:
    """Deploy a new collection contract and record its address under DATA_DIR."""
    from bot.chain.setup import local_node, open_chain

    settings = _settings()

    async def go() -> None:
        async with open_chain(settings) as chain:
            deployment = await chain.deploy(admin)
        click.echo(f"deployed on chain {deployment.chain_id} at {deployment.address}")
        click.echo(f"CONTRACT_ADDRESS={deployment.address}")

    if admin is not None:
        admin = parse_address("--admin", admin)
    with local_node(settings):
        _run(go)


@cli.command()
def devchain() -> None:
    """Run the local chain (anvil on 127.0.0.1:ANVIL_PORT) in the foreground."""
    from bot.app import wait_for_stop_signal
    from bot.chain.setup import local_node

    settings = _settings()
    if not settings.local_mode:
        raise ConfigError("RPC_URL", "is set; devchain runs only the local chain (unset RPC_URL)")
    with local_node(settings) as url:
        click.echo(f"local chain (chain ID 31337) on {url}; Ctrl-C stops it")
        _run(wait_for_stop_signal)


@cli.command()
def doctor() -> None:
    """Check settings, RPC, chain ID, balance, contract and roles. Exit 1 if any check fails."""
    from bot.chain.setup import local_node
    from bot.doctor import Check, run_checks

    try:
        settings = _settings()
    except ConfigError as err:
        click.echo(
            Check(
                "settings",
                False,
                str(err),
                "fix the setting in .env or the environment; .env.example documents each one",
            ).render()
        )
        sys.exit(EXIT_CHECK_FAILED)

    async def go() -> bool:
        ok = True
        async for check in run_checks(settings):
            click.echo(check.render())
            ok = ok and check.ok
        return ok

    with local_node(settings):
        ok = _run(go)
    sys.exit(0 if ok else EXIT_CHECK_FAILED)


@cli.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to DATABASE_URL (the bot also does this at start)."""
    from bot.app import open_database
    from db.engine import current_revision

    settings = _settings()

    async def go() -> str | None:
        engine = await open_database(settings)
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    click.echo(f"database at revision {_run(go)}")


@cli.command()
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="The token's name.")
@click.option("--description", default="", help="The token's description.")
@click.option("--to", "recipient", help="Mint to this address (default: custody).")
@click.option("--key", help="Idempotency key: the same key never mints twice.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def mint(
    image: Path,
    name: str,
    description: str,
    recipient: str | None,
    key: str | None,
    as_json: bool,
) -> None:
    """Mint IMAGE through the same pipeline as the chat platforms, wait, and print the links."""
    from bot.app import open_runtime
    from bot.chain.setup import local_node
    from bot.console import render_result
    from bot.minting.types import MintSubmission

    settings = _settings()
    try:
        data = image.read_bytes()
    except OSError as err:
        raise click.ClickException(f"cannot read {image}: {err.strerror}") from None

    async def go() -> bool:
        async with open_runtime(settings) as runtime:
            answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            class Printed:
                async def deliver(self, result: MintResult) -> None:
                    if result.key == submission.key and not answered.done():
                        answered.set_result(None)

            submission = MintSubmission(
                platform="cli",
                chat_id="cli",
                message_id=key or uuid.uuid4().hex,
                requester_id=getpass.getuser(),
                requester_name=getpass.getuser(),
                image=data,
                name=name,
                description=description,
                recipient=recipient,
            )
            runtime.service.answer_through("cli", Printed())
            handle = await runtime.service.submit(submission)
            result = await runtime.service.wait_final(handle.request_id)
            if not result.answered:  # let this run's answer be recorded before we stop
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(answered, 10)
            click.echo(json.dumps(_result_json(result)) if as_json else render_result(result))
            return result.minted

    with local_node(settings):
        ok = _run(go)
    sys.exit(0 if ok else EXIT_CHECK_FAILED)


@cli.command()
@click.argument("key", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def status(key: str | None, as_json: bool) -> None:
    """Show the request with KEY (platform:chat:message, or a `mint --key` value); without
    KEY, what needs an admin's eye: answers that could not be delivered, and chat updates
    waiting to be handled or given up (with their last error)."""
    from bot.app import open_runtime
    from bot.chain.setup import local_node
    from bot.console import render_result

    settings = _settings()
    if key is None:
        with local_node(settings):
            _run(_print_summary, settings, as_json)
        return
    if key.count(":") < 2:
        key = f"cli:cli:{key}"
    platform, chat, message = key.split(":", 2)

    async def go() -> bool:
        async with open_runtime(settings, start=False) as runtime:
            result = await runtime.service.find(platform, chat, message)
        if result is None:
            click.echo(f"no request {key}", err=True)
            return False
        click.echo(json.dumps(_result_json(result)) if as_json else render_result(result))
        return True

    with local_node(settings):
        found = _run(go)
    sys.exit(0 if found else EXIT_CHECK_FAILED)


async def _print_summary(settings: Settings, as_json: bool) -> None:
    from bot.app import open_runtime

    async with open_runtime(settings, start=False) as runtime:
        total, given_up = await runtime.service.undeliverable()
        updates = await runtime.inbox.counts()
        updates_given_up = await runtime.inbox.given_up()
    if as_json:
        rows = [
            {
                "platform": e.platform,
                "update_id": e.update_id,
                "received_at": e.received_at.isoformat() if e.received_at else None,
                "given_up_at": e.given_up_at.isoformat() if e.given_up_at else None,
                "attempts": e.attempts,
                "last_error": e.last_error,
            }
            for e in updates_given_up
        ]
        summary = {
            "undeliverable": total,
            "latest": [_result_json(r) for r in given_up],
            "inbox": {**updates, "given_up_updates": rows},
        }
        click.echo(json.dumps(summary))
        return
    click.echo(f"answers given up as undeliverable: {total}")
    for result in given_up:
        click.echo(f"  {result.key}  {result.phase}  {result.answer_error or ''}")
    click.echo(
        f"chat updates: {updates['waiting']} waiting to be handled, {updates['given_up']} given up"
    )
    for e in updates_given_up:
        when = f"{e.given_up_at:%Y-%m-%d %H:%M:%S} UTC" if e.given_up_at else ""
        click.echo(
            f"  given up {when}: {e.platform} update {e.update_id} after {e.attempts} "
            f"attempts: {e.last_error}"
        )


@cli.command()
def invite() -> None:
    """Print the URL that adds the bot to a Discord server, with the permissions it needs."""
    from bot.discord_client import application_id_from_token, invite_url

    settings = _settings()
    if settings.discord_token is None:
        raise click.ClickException("DISCORD_TOKEN is not set (see .env.example)")
    try:
        application_id = application_id_from_token(settings.discord_token.reveal())
    except ValueError:
        raise click.ClickException("DISCORD_TOKEN does not look like a bot token") from None
    click.echo(invite_url(application_id))


@cli.command()
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="Only signatures from this UTC date (or date and time) on.",
)
def audit(since: datetime | None) -> None:
    """Print every transaction the hot wallet signed as CSV: who asked (platform and user), why
    (the request keys), the fee cap and the fee paid, and the outcome."""
    from bot.app import open_runtime
    from bot.audit import audit_rows, write_csv
    from bot.chain.setup import local_node

    settings = _settings()
    moment = since.replace(tzinfo=UTC) if since is not None else None

    async def go() -> list[dict[str, object]]:
        async with open_runtime(settings, start=False) as runtime:
            return await audit_rows(runtime.sessions, moment)

    with local_node(settings):
        rows = _run(go)
    count = write_csv(rows, sys.stdout)
    click.echo(f"{count} signature(s)", err=True)


@cli.group()
def wallet() -> None:
    """The hot wallet."""


@wallet.command("rotate")
@click.option("--to", "new_address", required=True, help="The new hot wallet's address.")
@click.option(
    "--admin-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file holding the contract admin's private key (default: asked for, hidden; in "
    "local mode anvil's development admin key).",
)
def wallet_rotate(new_address: str, admin_key_file: Path | None) -> None:
    """Move minting to a new hot wallet: grant it MINTER_ROLE, finish the old key's in-flight
    transactions, let it move the old custody's tokens, revoke the old key. Run it with the
    bot stopped and the settings still holding the old key; then switch the settings to the
    new key. Each step is recorded, and a re-run finishes an interrupted rotation."""
    from bot.app import open_runtime
    from bot.chain.setup import local_node
    from bot.chain.wallet import HotWallet
    from bot.config import ANVIL_DEV_KEYS, Secret, validate_private_key
    from bot.rotation import KeyRotation

    settings = _settings()
    new_address = parse_address("--to", new_address)
    if admin_key_file is not None:
        raw = admin_key_file.read_text().strip()
    elif settings.local_mode:
        raw = ANVIL_DEV_KEYS[1]  # the local chain's published admin account
    else:
        raw = getpass.getpass("The contract admin's private key (hidden): ").strip()
    admin = HotWallet(validate_private_key("admin key", Secret(raw)))

    async def go() -> None:
        async with open_runtime(settings, start=False) as runtime:
            await KeyRotation(runtime, admin, new_address, click.echo).run()

    with local_node(settings):
        _run(go)
    click.echo(
        f"Rotated. Now set HOT_WALLET_PRIVATE_KEY (or the keystore) to the key of {new_address} "
        "and start the bot."
    )


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--drop", "drop_id", type=int, required=True, help="The drop to give from.")
def airdrop(file: Path, drop_id: int) -> None:
    """Give a drop's editions to the addresses or members (platform:user ID) in FILE, one per
    row, and wait until they are minted. Running the same file again mints nothing new; bad
    rows are listed with their line numbers and do not stop the others."""
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from bot.airdrop import read_rows, run_airdrop
    from bot.app import open_runtime
    from bot.chain.setup import local_node

    settings = _settings()
    text = file.read_text(encoding="utf-8-sig")
    # Wide enough for whole addresses and reasons when the output is a file or a pipe.
    console = Console() if sys.stdout.isatty() else Console(width=200)

    async def go() -> list[Any]:
        async with open_runtime(settings) as runtime:
            rows, bad = read_rows(text, collection=runtime.collection.address)
            with Progress(console=console, transient=True) as progress:
                decided = progress.add_task("giving editions", total=len(rows))
                minted = progress.add_task("minting", total=len(rows))
                seen: set[int] = set()

                def advance(outcome: Any) -> None:
                    first = outcome.line not in seen
                    seen.add(outcome.line)
                    if first:
                        progress.advance(decided)
                    if not first or outcome.request_id is None:
                        progress.advance(minted)

                given = await run_airdrop(runtime.drops, runtime.service, drop_id, rows, advance)
            return [*given, *bad]

    with local_node(settings):
        outcomes = sorted(_run(go), key=lambda o: o.line)
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


@cli.command("export-car")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def export_car(file: Path) -> None:
    """Write every stored image and metadata block to FILE as a CARv1 archive, which any IPFS
    pinning service accepts."""
    from bot.content.car import export_store
    from bot.content.store import ContentStore

    settings = _settings()
    roots, blocks = export_store(ContentStore(settings.ipfs_dir), file)
    click.echo(f"wrote {file}: {roots} file(s), {blocks} block(s)")


_MOMENT = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])


@cli.group()
def drop() -> None:
    """Community drops: one artwork, claimable as numbered editions."""


@drop.command("create")
@click.option("--platform", type=click.Choice(["discord", "telegram"]), required=True)
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
) -> None:
    """Create a drop; the artwork is checked and stored once."""
    from bot.app import open_runtime
    from bot.chain.setup import local_node

    settings = _settings()
    try:
        data = image.read_bytes()
    except OSError as err:
        raise click.ClickException(f"cannot read {image}: {err.strerror}") from None

    async def go() -> None:
        async with open_runtime(settings, start=False) as runtime:
            created = await runtime.drops.create_drop(
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
                gate_roles=roles,
                gate_chat_member=members_only,
                require_linked_address=require_wallet,
            )
        click.echo(f"created drop #{created.id}: {_drop_line(created)}")

    with local_node(settings):
        _run(go)


@drop.command("list")
@click.option("--platform", type=click.Choice(["discord", "telegram"]), required=True)
@click.option("--community", required=True, help="The Discord server or Telegram chat ID.")
def drop_list(platform: str, community: str) -> None:
    """List a community's drops, newest first."""
    from bot.app import open_runtime
    from bot.chain.setup import local_node

    settings = _settings()

    async def go() -> None:
        async with open_runtime(settings, start=False) as runtime:
            drops = await runtime.drops.list_drops(platform, community)
        for info in drops:
            click.echo(f"#{info.id} {_drop_line(info)}")
        click.echo(f"{len(drops)} drop(s)", err=True)

    with local_node(settings):
        _run(go)


@drop.command("close")
@click.argument("drop_id", type=int)
def drop_close(drop_id: int) -> None:
    """Close drop DROP_ID early: editions claimed so far are minted, no more are given."""
    from bot.app import open_runtime
    from bot.chain.setup import local_node

    settings = _settings()

    async def go() -> None:
        async with open_runtime(settings, start=False) as runtime:
            info = await runtime.drops.close(drop_id)
        click.echo(f"#{info.id} {_drop_line(info)}")

    with local_node(settings):
        _run(go)


@drop.command("export")
@click.argument("drop_id", type=int)
def drop_export(drop_id: int) -> None:
    """Print the claims of drop DROP_ID as CSV."""
    from bot.app import open_runtime
    from bot.chain.setup import local_node

    settings = _settings()

    async def go() -> str:
        async with open_runtime(settings, start=False) as runtime:
            return await runtime.drops.export_csv(drop_id)

    with local_node(settings):
        click.echo(_run(go), nl=False)


def _drop_line(info: DropInfo) -> str:
    from db.models import utcnow

    supply = "open edition" if info.supply is None else f"of {info.supply}"
    return f"{info.name}: {info.claimed} claimed {supply}, {info.status(utcnow())}"


def _result_json(result: MintResult) -> dict[str, Any]:
    data = dataclasses.asdict(result)
    data.pop("reply_to")  # the platform's answer address: an interaction token, for one
    data["phase"] = str(result.phase)
    data["token_id"] = str(result.token_id) if result.token_id is not None else None
    return data


@cli.group()
def contracts() -> None:
    """Developer tools for the Solidity contract."""


@contracts.command("build")
def contracts_build() -> None:
    """Recompile the contract with the pinned solc and rewrite the committed artifact."""
    from bot.contracts.build import write_artifact

    click.echo(f"wrote {write_artifact()}")


def main() -> None:
    """Entry point: turn expected errors into one clear line and an exit code, no traceback."""
    try:
        cli.main(prog_name="mintbot", standalone_mode=False)
    except click.exceptions.Exit as exit_:
        sys.exit(exit_.exit_code)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except click.Abort:
        sys.exit(130)
    except ConfigError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_CONFIG)
    except MintbotError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(EXIT_CHECK_FAILED)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
