"""`raffle verify ID`: re-run a raffle's draw from public data alone, the chain's block hash and
the published entrant list, without the bot's database, settings or keys."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from bot.cli.runtime import EXIT_CHECK_FAILED

DEFAULT_GATEWAY = "https://ipfs.io"
TIMEOUT_S = 30


@click.group()
def raffle() -> None:
    """Raffle drops."""


@raffle.command()
@click.argument("raffle_id", type=int)
@click.option(
    "--entrants",
    "entrants_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The published entrant list, as a file.",
)
@click.option("--cid", help="The published entrant list's CID (as the draw's announcement shows).")
@click.option(
    "--gateway",
    envvar="IPFS_GATEWAY_URL",
    default=DEFAULT_GATEWAY,
    show_default=True,
    help="An IPFS gateway to read --cid from (or IPFS_GATEWAY_URL).",
)
@click.option(
    "--rpc", "rpc_url", envvar="RPC_URL", help="A JSON-RPC endpoint of the chain (or RPC_URL)."
)
def verify(
    raffle_id: int,
    entrants_file: Path | None,
    cid: str | None,
    gateway: str,
    rpc_url: str | None,
) -> None:
    """Recompute raffle RAFFLE_ID's winners from the hash of its seed block (asked of the
    chain) and its entrant list (the file, or the CID from an IPFS gateway), and compare them
    with the winners the list records. Exit status 1 if anything differs."""
    # Imported here, as every command module's heavier parts are (bot/cli/__init__.py).
    from bot.content.cid import cid_of_bytes
    from bot.drops.raffle_draw import EntrantList
    from bot.drops.raffle_draw import verify as rerun

    if (entrants_file is None) == (cid is None):
        raise click.UsageError("give the entrant list: --entrants FILE or --cid CID")
    if rpc_url is None:
        raise click.UsageError("give the chain: --rpc URL (or set RPC_URL)")
    if entrants_file is not None:
        data = entrants_file.read_bytes()
    else:
        assert cid is not None
        data = _fetch(f"{gateway.rstrip('/')}/ipfs/{cid}")
        if cid_of_bytes(data) != cid:
            raise click.ClickException(f"the gateway's bytes are not {cid}")
    try:
        entrants = EntrantList.decode(data)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    if entrants.raffle != raffle_id:
        raise click.ClickException(f"that list is raffle #{entrants.raffle}'s, not #{raffle_id}'s")
    chain_id = int(_rpc(rpc_url, "eth_chainId", []), 16)
    if chain_id != entrants.chain_id:
        raise click.ClickException(
            f"the RPC is chain {chain_id}; the raffle ran on {entrants.chain_id}"
        )
    block = _rpc(rpc_url, "eth_getBlockByNumber", [hex(entrants.block), False])
    if block is None:
        raise click.ClickException(f"block {entrants.block} does not exist yet")
    verdict = rerun(entrants, str(block["hash"]))
    click.echo(f"raffle #{entrants.raffle} {entrants.name}")
    click.echo(f"block {entrants.block} of chain {chain_id}: seed {verdict.seed}")
    click.echo(f"{len(entrants.tickets)} entrants, {len(verdict.winners)} winners:")
    for place, winner in enumerate(verdict.winners, 1):
        click.echo(f"  {place}. {winner}")
    if not verdict.seed_matches:
        click.echo(f"MISMATCH: the list says the seed was {entrants.seed}")
    if not verdict.winners_match:
        click.echo("MISMATCH: the list records other winners")
    if not verdict.ok:
        sys.exit(EXIT_CHECK_FAILED)
    click.echo("OK: the draw is reproduced")


def _fetch(url: str) -> bytes:
    import aiohttp

    async def get() -> bytes:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(TIMEOUT_S)) as http,
            http.get(url) as response,
        ):
            response.raise_for_status()
            return await response.read()

    try:
        return asyncio.run(get())
    except (aiohttp.ClientError, TimeoutError) as err:
        raise click.ClickException(f"could not read {url}: {err!r}") from None


def _rpc(url: str, method: str, params: list[object]) -> Any:
    import aiohttp

    async def call() -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(TIMEOUT_S)) as http,
            http.post(url, json=body) as response,
        ):
            response.raise_for_status()
            return await response.json(content_type=None)

    try:
        answer = asyncio.run(call())
    except (aiohttp.ClientError, TimeoutError, ValueError) as err:
        raise click.ClickException(f"the RPC did not answer {method}: {err!r}") from None
    if "error" in answer:
        raise click.ClickException(f"the RPC refused {method}: {answer['error']}")
    return answer.get("result")
