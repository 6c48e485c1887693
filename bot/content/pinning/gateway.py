"""Reading blocks back from an IPFS HTTP gateway that serves raw blocks (a trustless gateway:
`GET /ipfs/<cid>?format=raw`), and checking them against their CIDs."""

from __future__ import annotations

import aiohttp

from bot.content.cid import block_matches
from bot.errors import MintbotError

RAW_BLOCK = "application/vnd.ipld.raw"
# One block is at most 1 MiB plus its header in any DAG the bot builds (256 KiB chunks); a
# gateway sending more is not sending a block.
MAX_BLOCK_BYTES = 2 * 1024 * 1024


class BlockMismatch(MintbotError):
    """Bytes read back for a CID do not hash to it."""


def checked(cid: str, data: bytes) -> bytes:
    """`data` if it is the block `cid` names; else `BlockMismatch`."""
    if not block_matches(cid, data):
        raise BlockMismatch(f"the bytes read back for {cid} do not match it")
    return data


class GatewayReader:
    """Raw blocks from a gateway at `base_url` (no trailing slash)."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session

    async def fetch_block(self, cid: str) -> bytes:
        """The block's bytes, checked against `cid`. Raises `aiohttp.ClientError` (a status
        other than 200 among them) or `BlockMismatch`."""
        async with self.session.get(
            f"{self.base_url}/ipfs/{cid}",
            params={"format": "raw"},
            headers={"Accept": RAW_BLOCK},
        ) as response:
            response.raise_for_status()
            # read(n) gives what has arrived so far, up to n: a block of several TCP segments
            # needs reading to the end.
            data = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                data += chunk
                if len(data) > MAX_BLOCK_BYTES:
                    break
        if len(data) > MAX_BLOCK_BYTES:
            raise BlockMismatch(f"the gateway sent more than a block for {cid}")
        return checked(cid, bytes(data))
