"""The web server as a child process of the bot (WEB_SERVER=process, the default).

Served on the bot's event loop, a burst of web requests delays the bot's answers to Discord
and Telegram (bench/web.py measures it); in a process of its own, at a lower CPU priority, it
takes only the CPU the bot leaves. The bot binds the
public socket itself and hands it over, so the address is known at once and connections wait in
its backlog while the child starts or restarts. The bot's own routes (`/health`, the Telegram
webhook) are served by the bot on a loopback port of their own, and the child passes requests
for them on. The child gets only the settings it needs, in its environment: never the key or a
chat token, and runs at a lower CPU priority than the bot. It ends with the bot; if it ends
before, it is started again after a pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time

from aiohttp import web

from bot.config import Settings

log = logging.getLogger(__name__)

# What a Python process needs from the environment to start; everything else is given.
_PROCESS_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "TMPDIR", "TZ")
_RESTART_PAUSE_S = (1.0, 60.0)  # doubling from the first to the second
_STOP_GRACE_S = 10.0
# The child runs at a lower CPU priority: when the machine is short of CPU, the bot's answers
# to members come first and the web pages get what is left.
NICENESS = 10


class WebProcess:
    """Runs `python -m bot web` beside the bot. `app` holds the bot's own routes."""

    def __init__(self, settings: Settings, *, chain_id: int, collection_address: str) -> None:
        self.settings = settings
        self.chain_id = chain_id
        self.collection_address = collection_address
        self.app = web.Application()
        self._socket: socket.socket | None = None
        self._runner: web.AppRunner | None = None
        self._bot_url = ""
        self._child: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Future[None] | None = None

    async def start(self) -> str:
        """Bind the public address, serve the bot's own routes on loopback and start the
        child; returns the public base URL."""
        host, port = self.settings.http_host, self.settings.http_port
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        self._socket = socket.create_server((host, port), family=family, backlog=1024)
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        internal = site._server.sockets[0].getsockname()  # type: ignore[union-attr]
        self._bot_url = f"http://127.0.0.1:{internal[1]}"
        self._supervisor = asyncio.ensure_future(self._supervise())
        return f"http://{host}:{self._socket.getsockname()[1]}"

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._socket is not None:
            self._socket.close()

    async def _supervise(self) -> None:
        pause = _RESTART_PAUSE_S[0]
        try:
            while True:
                started = time.monotonic()
                self._child = await self._spawn()
                code = await self._child.wait()
                if time.monotonic() - started > _RESTART_PAUSE_S[1]:
                    pause = _RESTART_PAUSE_S[0]  # it ran a good while: a new failure
                log.error(
                    "the web server process ended (exit code %s); starting it again in %.0f s",
                    code,
                    pause,
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, _RESTART_PAUSE_S[1])
        finally:  # the bot is stopping
            if self._child is not None and self._child.returncode is None:
                await _end(self._child)

    async def _spawn(self) -> asyncio.subprocess.Process:
        assert self._socket is not None
        fd = self._socket.fileno()
        forwarded = [
            argument
            for resource in self.app.router.resources()
            for argument in ("--forward-path", resource.canonical)
        ]
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "web",
            "--socket-fd",
            str(fd),
            "--bot-url",
            self._bot_url,
            "--niceness",
            str(NICENESS),
            *forwarded,
            env=self._child_env(),
            stdin=asyncio.subprocess.PIPE,  # never written: closed when the bot ends
            # The bot's session, so that its niceness counts against the bot's (with autogroup
            # scheduling, a session of its own would get an equal share of the CPU).
            pass_fds=(fd,),
        )

    def _child_env(self) -> dict[str, str]:
        settings = self.settings
        env = {name: os.environ[name] for name in _PROCESS_ENV if name in os.environ}
        env |= {
            "ENV_FILE": os.devnull,  # the .env file holds secrets; what the child needs is here
            "DATA_DIR": str(settings.data_dir),
            "DATABASE_URL": settings.database_url,
            "RPC_URLS": ",".join(settings.effective_rpc_urls),
            "CHAIN_ID": str(self.chain_id),
            "CONTRACT_ADDRESS": self.collection_address,
            "PUBLIC_BASE_URL": settings.public_base_url,
            "COLLECTION_NAME": settings.collection_name,
            "LOG_LEVEL": settings.log_level,
            "RPC_TIMEOUT_S": str(settings.rpc_timeout),
        }
        if settings.explorer_url:
            env["EXPLORER_URL"] = settings.explorer_url
        return env


async def _end(child: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL if it has not ended after a grace period."""
    with contextlib.suppress(ProcessLookupError):
        child.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.shield(child.wait()), _STOP_GRACE_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await child.wait()
