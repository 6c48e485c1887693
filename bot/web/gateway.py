"""`/ipfs/<cid>`: the content store, served as an IPFS gateway serves it.

The CID is the ETag: what a CID names never changes, so a request whose If-None-Match names it
is answered 304 before the store is touched, and every answer may be cached for a year
(`immutable`). A file is sent from its block files with sendfile, block after block: it is
never read whole into memory, nor hashed per request (the store checked each block when it was
written). What a file is made of (its blocks, size and media type, from a few header bytes) is
looked up once per CID, in a thread, and remembered.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from pathlib import Path

from aiohttp import web
from aiohttp.helpers import ETAG_ANY

from bot.content.cid import is_cid
from bot.content.store import BlockNotFoundError, ContentStore, FileLayout

IMMUTABLE = "public, max-age=31536000, immutable"
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def content_type(head: bytes) -> str:
    """The media type of stored content, from its first bytes (we only store what we made:
    checked images and metadata JSON)."""
    for magic, mime in _SIGNATURES:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    # An ISO media file whose major brand is AVIF's (as Pillow writes the AVIF images we store).
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "image/avif"
    if head[:1] == b"{":
        return "application/json"
    return "application/octet-stream"


class IpfsGateway:
    """Serves the files of one content store, remembering the layout of the last files asked."""

    def __init__(self, content: ContentStore, *, remembered: int = 4096) -> None:
        self.content = content
        self._layouts: OrderedDict[str, FileLayout] = OrderedDict()
        self._remembered = remembered

    async def handle(self, request: web.Request) -> web.StreamResponse:
        cid = request.match_info["cid"]
        if not is_cid(cid):
            raise web.HTTPNotFound(text="no such content here")
        headers = {"ETag": f'"{cid}"', "Cache-Control": IMMUTABLE}
        wanted = request.if_none_match
        if wanted and any(tag.value == cid for tag in wanted):
            return web.Response(status=304, headers=headers)
        layout = await self._layout(cid)
        if layout is None:
            raise web.HTTPNotFound(text="no such content here")
        if wanted and any(tag.value == ETAG_ANY for tag in wanted):
            return web.Response(status=304, headers=headers)
        response = web.StreamResponse(headers={**headers, "X-Content-Type-Options": "nosniff"})
        response.content_type = content_type(layout.head)
        response.content_length = layout.size
        await response.prepare(request)
        if request.method != "HEAD":
            for part in layout.parts:
                if isinstance(part, bytes):
                    await response.write(part)
                else:
                    await _send_file(request, part)
            await response.write_eof()
        return response

    async def _layout(self, cid: str) -> FileLayout | None:
        layout = self._layouts.get(cid)
        if layout is not None:
            self._layouts.move_to_end(cid)
            return layout
        try:
            layout = await asyncio.to_thread(self.content.file_layout, cid)
        except BlockNotFoundError:
            return None
        self._layouts[cid] = layout
        if len(self._layouts) > self._remembered:
            self._layouts.popitem(last=False)
        return layout


async def _send_file(request: web.Request, path: Path) -> None:
    """One block file, by sendfile: the kernel copies it (asyncio reads it in a thread where
    sendfile cannot work, as under TLS)."""
    transport = request.transport
    if transport is None:
        raise ConnectionResetError("the client went away")
    with path.open("rb") as leaf:
        await asyncio.get_running_loop().sendfile(transport, leaf)
