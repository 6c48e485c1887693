"""Going live on IPFS, end to end against a real IPFS implementation (kubo's RPC API on a Helia
node, tests/ipfs/kubo_rpc.mjs): minted tokens point at content the node holds pinned and serves
block for block; a node that fails for a while only delays minting; `pin --all` publishes what
was minted before pinning was set up, `pin --verify` reads it back, `doctor` checks the node,
and `/health` counts what is not pinned yet."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import aiohttp

from bot.config import load_settings
from bot.content.cid import parse_cid
from bot.web_wiring import health
from db.models import MINTED
from tests.ipfs_node import IpfsNode
from tests.support import answered, run_cli, running, submission

NO_ENV_FILE = Path("/nonexistent")


def pinning_env(bot_env: dict[str, str], node: IpfsNode) -> dict[str, str]:
    return bot_env | {"PINNING": "kubo", "KUBO_API_URL": node.url}


async def pinned_on_node(node: IpfsNode, cid: str) -> bool:
    """Asked of the node itself, as kubo answers: pinned recursively, or an error."""
    url = f"{node.url}/api/v0/pin/ls"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, params={"arg": cid, "type": "recursive"}) as response,
    ):
        if response.status != 200:
            return False
        return cid in (await response.json(content_type=None)).get("Keys", {})


async def served_by_node(node: IpfsNode, cid: str) -> bool:
    """The root block as the node's gateway serves it, hashed here (sha2-256) against the CID."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{node.url}/ipfs/{cid}", params={"format": "raw"}) as response,
    ):
        data = await response.read() if response.status == 200 else b""
    return bool(data) and hashlib.sha256(data).digest() == parse_cid(cid).digest


async def test_minted_tokens_point_at_content_pinned_on_a_real_node(
    bot_env: dict[str, str], kubo_rpc: IpfsNode
):
    kubo_rpc.fail_next(status=503, count=3)  # the node is unwell at first: minting waits
    settings = load_settings(pinning_env(bot_env, kubo_rpc), env_file=NO_ENV_FILE)
    async with running(settings) as (runtime, inbox):
        subs = [submission(str(n)) for n in range(30, 33)]
        for sub in subs:
            await runtime.service.submit(sub)
        results = [await answered(runtime, inbox, sub.key, timeout=90) for sub in subs]
        for result in results:
            assert result.phase in MINTED and result.tx_hash
            for cid in (result.image_cid, result.metadata_cid):
                assert cid is not None
                assert await pinned_on_node(kubo_rpc, cid), cid
                assert await served_by_node(kubo_rpc, cid), cid
        status = json.loads((await health(runtime).handle(None)).text)  # type: ignore[arg-type]
        assert status["unpinned_cids"] == 0


async def test_pin_all_publishes_what_was_minted_before_and_verify_reads_it_back(
    bot_env: dict[str, str], kubo_rpc: IpfsNode
):
    local = load_settings(bot_env, env_file=NO_ENV_FILE)  # no PINNING: content stays local
    async with running(local) as (runtime, inbox):
        subs = [submission(str(n)) for n in range(40, 42)]
        for sub in subs:
            await runtime.service.submit(sub)
        results = [await answered(runtime, inbox, sub.key, timeout=60) for sub in subs]
    cids = [cid for r in results for cid in (r.image_cid, r.metadata_cid) if cid]
    assert len(cids) == 4
    assert not [cid for cid in cids if await pinned_on_node(kubo_rpc, cid)]

    env = pinning_env(bot_env, kubo_rpc)
    pinned = run_cli("pin", "--all", env=env, timeout=120)
    assert pinned.returncode == 0, pinned.output
    assert "4 of 4 pinned" in pinned.stdout
    for cid in cids:
        assert await pinned_on_node(kubo_rpc, cid), cid
    again = run_cli("pin", "--all", env=env, timeout=120)  # idempotent: nothing left to do
    assert again.returncode == 0 and "0 of 0 pinned" in again.stdout, again.output

    verified = run_cli("pin", "--verify", env=env, timeout=120)
    assert verified.returncode == 0, verified.output
    assert "4 of 4 pinned CIDs read back intact" in verified.stdout

    doctor = run_cli("doctor", env=env, timeout=120)
    lines = [line for line in doctor.stdout.splitlines() if line.startswith(("✓", "✗"))]
    kubo_lines = [line for line in lines if "pinning kubo" in line]
    assert kubo_lines and all(line.startswith("✓") for line in kubo_lines), doctor.output


async def test_verify_reports_content_the_node_cannot_hand_back(
    bot_env: dict[str, str], kubo_rpc: IpfsNode
):
    settings = load_settings(pinning_env(bot_env, kubo_rpc), env_file=NO_ENV_FILE)
    async with running(settings) as (runtime, inbox):
        sub = submission("50")
        await runtime.service.submit(sub)
        result = await answered(runtime, inbox, sub.key, timeout=60)
    # The node loses both blocks (one each: a small image and its metadata).
    kubo_rpc.fail_next(status=500, count=2, path="/api/v0/block/get")
    verified = run_cli("pin", "--verify", env=pinning_env(bot_env, kubo_rpc), timeout=120)
    assert verified.returncode == 1, verified.output
    assert f"failed: {result.image_cid} on kubo" in verified.stdout
