"""`mint` and `status`: a mint through the same pipeline as the chats, and where requests
stand (one, or those that need an admin's eye)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.runtime import (
    EXIT_CHECK_FAILED,
    in_records,
    in_runtime,
    read_image,
    result_json,
    settings,
)
from bot.console.render import render_result
from bot.minting.types import MintResult, MintSubmission
from bot.records import Records

if TYPE_CHECKING:
    from bot.runtime import Runtime

# How long a finished mint waits for its answer to be recorded before the command stops.
ANSWER_WAIT_S = 10


@click.command()
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
    loaded = settings()
    data = read_image(image)
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

    async def go(runtime: Runtime) -> bool:
        answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        class Printed:
            async def deliver(self, result: MintResult) -> None:
                if result.key == submission.key and not answered.done():
                    answered.set_result(None)

        runtime.service.answer_through("cli", Printed())
        handle = await runtime.service.submit(submission)
        result = await runtime.service.wait_final(handle.request_id)
        if not result.answered:  # let this run's answer be recorded before we stop
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(answered, ANSWER_WAIT_S)
        click.echo(json.dumps(result_json(result)) if as_json else render_result(result))
        return result.minted

    ok = in_runtime(loaded, go, start=True)
    sys.exit(0 if ok else EXIT_CHECK_FAILED)


@click.command()
@click.argument("key", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def status(key: str | None, as_json: bool) -> None:
    """Show the request with KEY (platform:chat:message, or a `mint --key` value); without
    KEY, what needs an admin's eye: answers that could not be delivered, and chat updates
    waiting to be handled or given up (with their last error)."""
    loaded = settings()
    if key is None:
        in_records(loaded, lambda records: _print_summary(records, as_json))
        return
    if key.count(":") < 2:
        key = f"cli:cli:{key}"
    platform, chat, message = key.split(":", 2)

    async def go(records: Records) -> MintResult | None:
        return await records.requests.find(platform, chat, message)

    result = in_records(loaded, go)
    if result is None:
        click.echo(f"no request {key}", err=True)
        sys.exit(EXIT_CHECK_FAILED)
    click.echo(json.dumps(result_json(result)) if as_json else render_result(result))
    sys.exit(0)


async def _print_summary(records: Records, as_json: bool) -> None:
    total, given_up = await records.requests.undeliverable()
    updates = await records.inbox.counts()
    updates_given_up = await records.inbox.given_up()
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
            "latest": [result_json(r) for r in given_up],
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
