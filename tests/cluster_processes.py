"""What a cluster of bot processes runs beside the bot (tests/scale_cluster.py): each bot
process, started again as often as it is killed, and the webhook front, the one URL Telegram
posts to, in front of the chat processes' own as a load balancer is.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections import Counter
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.chain.devchain import free_port
from tests import forkserver
from tests.support import PROJECT_ROOT

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# What a process logs once it takes work: a chat process once Telegram may post to it.
READY_LINES = {"chat": "telegram: @", "pipeline": "ready on chain", "all": "ready on chain"}


class BotProcess:
    """One `python -m bot run --role ROLE` with its own settings and log, started again as
    often as it is killed."""

    def __init__(self, name: str, role: str, env: dict[str, str], log: Path) -> None:
        self.name, self.role, self.env, self.log = name, role, env, log
        self.proc: forkserver.ForkedProcess | None = None
        self.starts = 0
        self.kills = 0
        self.deaths: list[int] = []  # exit codes of the times it ended without being told
        self._readies_before = 0

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        assert not self.alive, f"{self.name} runs already"
        self._readies_before = await asyncio.to_thread(self._readies)
        with self.log.open("ab") as out:
            env = {"PATH": os.environ["PATH"], **self.env}
            args = ["run", "--role", self.role]
            self.proc = await forkserver.start_bot(args, env, PROJECT_ROOT, out.fileno())
        self.starts += 1

    def _readies(self) -> int:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text.count(READY_LINES[self.role])

    async def ready(self, timeout: float = 90) -> None:
        """Wait until the last start takes work; fail with its log if it ends first."""
        async with asyncio.timeout(timeout):
            while await asyncio.to_thread(self._readies) <= self._readies_before:
                assert self.alive, f"{self.name} ended:\n{self.tail()}"
                await asyncio.sleep(0.2)

    async def kill(self) -> None:
        """SIGKILL: it dies holding whatever it held."""
        self._ended_by_itself()
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
            self.kills += 1

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not ended within 20 s."""
        self._ended_by_itself()
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), 20)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    def _ended_by_itself(self) -> None:
        if self.proc is not None and self.proc.returncode is not None:
            self.deaths.append(self.proc.returncode)
            self.proc = None  # counted once

    def tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class WebhookFront:
    """The one webhook URL, in front of the chat processes' own (`targets`)."""

    def __init__(self, targets: list[str]) -> None:
        self.targets = targets
        self.route: dict[int, int] = {}  # update_id -> the target chosen for it
        self.forwarded: Counter[str] = Counter()  # target URL -> updates it answered 2xx
        self.passed_over = 0  # tries that found a target down and went on to the next
        self._turn = itertools.count()
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post("/telegram/webhook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/telegram/webhook"
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def post(self, url: str, body: bytes, secret: str) -> int:
        """POST an update to one chat process; its answer's status."""
        assert self._http is not None
        headers = {SECRET_HEADER: secret, "Content-Type": "application/json"}
        async with self._http.post(url, data=body, headers=headers) as response:
            await response.read()
            if response.status < 300:
                self.forwarded[url] += 1
            return response.status

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        secret = request.headers.get(SECRET_HEADER, "")
        first = self.route.get(int(json.loads(body)["update_id"]), next(self._turn))
        for step in range(len(self.targets)):
            try:
                target = self.targets[(first + step) % len(self.targets)]
                return web.Response(status=await self.post(target, body, secret))
            except (aiohttp.ClientConnectionError, TimeoutError):
                self.passed_over += 1  # down, or died while answering: the next one
        return web.Response(status=502, text="no chat process answers")
