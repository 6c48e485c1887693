"""The local console: a chat on the terminal, for trying mintbot without any account.

    /mint PATH Name | optional description
    /status [KEY]
    /help

Each line is a message; its key is ("console", "local", a fresh ID), so every /mint line is
a new request. Results arrive like chat replies.
"""

from __future__ import annotations

import asyncio
import shlex
import sys
import threading
import time
from pathlib import Path

from bot.errors import RequestRejected
from bot.minting.service import MintService
from bot.minting.types import MintResult, MintSubmission

HELP = """commands:
  /mint PATH Name | optional description   mint the image at PATH
  /status [KEY]                            show a request (default: the last one)
  /help                                    this text"""


def render_result(result: MintResult) -> str:
    """A result as the console (and the CLI) print it."""
    if result.minted:
        lines = [f"✓ minted {result.name!r} (token {result.token_id})"]
        for label, url in (
            ("transaction", result.tx_url),
            ("token", result.token_url),
            ("marketplace", result.marketplace_url),
        ):
            if url:
                lines.append(f"  {label}: {url}")
        if result.image_cid:
            lines.append(f"  image: ipfs://{result.image_cid}")
        owner = "held in custody by the bot" if result.custodial else result.recipient
        lines.append(f"  owner: {owner}")
        return "\n".join(lines)
    if result.failure_reason:
        return f"✗ {result.key}: {result.status_text}: {result.failure_reason}"
    waiting = f" ({result.waiting_reason})" if result.waiting_reason else ""
    return f"… {result.key}: {result.status_text}{waiting}"


def _stdin_lines() -> asyncio.Queue[str | None]:
    """Lines typed on stdin, read by a daemon thread: a blocking read in the default executor
    would keep the process from exiting on Ctrl-C until the user pressed Enter."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="console-stdin", daemon=True).start()
    return queue


class Console:
    def __init__(self, service: MintService) -> None:
        self.service = service
        self.last_key: str | None = None
        service.answer_through("console", self)

    async def deliver(self, result: MintResult) -> None:
        print(render_result(result), flush=True)

    async def run(self) -> None:
        print("local console ready; type /help", flush=True)
        lines = _stdin_lines()
        while True:
            line = await lines.get()
            if line is None:
                return  # stdin closed: the bot keeps running without the console
            try:
                reply = await self.handle(line.strip())
            except RequestRejected as err:
                reply = f"✗ {err}"
            if reply:
                print(reply, flush=True)

    async def handle(self, line: str) -> str | None:
        if not line:
            return None
        command, _, rest = line.partition(" ")
        if command == "/help":
            return HELP
        if command == "/status":
            key = rest.strip() or self.last_key
            if key is None:
                return "nothing minted yet; try /mint PATH Name"
            platform, _, chat_message = key.partition(":")
            chat, _, message = chat_message.partition(":")
            result = await self.service.find(platform, chat, message)
            return render_result(result) if result else f"no request {key}"
        if command == "/mint":
            return await self._mint(rest)
        return f"unknown command {command!r}; type /help"

    async def _mint(self, rest: str) -> str:
        try:
            words = shlex.split(rest.partition("|")[0])
        except ValueError:
            return "usage: /mint PATH Name | optional description"
        if len(words) < 2:
            return "usage: /mint PATH Name | optional description"
        path, name = words[0], " ".join(words[1:])
        description = rest.partition("|")[2].strip()
        try:
            image = await asyncio.to_thread(lambda: Path(path).expanduser().read_bytes())
        except OSError as err:
            return f"✗ cannot read {path}: {err.strerror}"
        handle = await self.service.submit(
            MintSubmission(
                platform="console",
                chat_id="local",
                message_id=str(time.time_ns()),
                requester_id="local",
                requester_name="console",
                image=image,
                name=name,
                description=description,
            )
        )
        self.last_key = handle.key
        return f"… {handle.key}: received; you will see the result here"
