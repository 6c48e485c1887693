"""A web server that does nothing of the bot's: every GET is answered with a few bytes.

    python bench/floor_server.py PORT

The floor of bench/web.py: the same web load sent here, in a process of its own, shows what
serving that much HTTP costs the machine (and so the bot beside it) whatever serves it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.web.process import NICENESS


async def answer(_request: web.Request) -> web.Response:
    return web.Response(body=b"floor\n", content_type="text/plain")


def main() -> None:
    os.nice(NICENESS)  # as the bot's own web server runs
    app = web.Application()
    app.router.add_get("/{path:.*}", answer)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
