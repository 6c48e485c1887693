"""Pages rendered once and served for a moment: a popular page costs its database queries at
most once every couple of seconds however many ask for it, and the requests that arrive while it
is being rendered wait for that one rendering instead of starting their own.

A page is kept per path, query and variant: what else decides what the page says (its
language, from the request's Accept-Language), so a page kept in one language is never served to
a reader of another.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from multidict import CIMultiDict

Handler = Callable[[web.Request], Awaitable[web.Response]]
Variant = Callable[[web.Request], str]


@dataclass(frozen=True)
class _Page:
    body: bytes
    headers: CIMultiDict[str]
    until: float


class PageCache:
    """Successful (200) pages by variant, path and query, each kept `ttl` seconds, the `size`
    most recently used at most. Errors are never kept."""

    def __init__(
        self, *, ttl: float = 2.0, size: int = 512, variant: Variant = lambda _request: ""
    ) -> None:
        self.ttl = ttl
        self.size = size
        self.variant = variant
        self._pages: OrderedDict[str, _Page] = OrderedDict()
        self._rendering: dict[str, asyncio.Future[web.Response]] = {}

    def wrap(self, handler: Handler) -> Handler:
        async def cached(request: web.Request) -> web.Response:
            key = f"{self.variant(request)} {request.path_qs}"
            page = self._pages.get(key)
            if page is not None and page.until > time.monotonic():
                self._pages.move_to_end(key)
                return web.Response(body=page.body, headers=page.headers)
            rendering = self._rendering.get(key)
            if rendering is None:
                rendering = asyncio.ensure_future(self._render(key, handler, request))
                self._rendering[key] = rendering
                rendering.add_done_callback(lambda done: self._rendered(key, done))
            # Shielded: one asker going away does not cancel the rendering the others await.
            response = await asyncio.shield(rendering)
            return web.Response(
                body=response.body, status=response.status, headers=response.headers
            )

        return cached

    def _rendered(self, key: str, done: asyncio.Future[web.Response]) -> None:
        self._rendering.pop(key, None)
        if not done.cancelled():
            done.exception()  # an error reaches every asker; none is left unretrieved

    async def _render(self, key: str, handler: Handler, request: web.Request) -> web.Response:
        response = await handler(request)
        if response.status == 200 and isinstance(response.body, bytes):
            self._pages[key] = _Page(
                response.body, CIMultiDict(response.headers), time.monotonic() + self.ttl
            )
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
        return response
