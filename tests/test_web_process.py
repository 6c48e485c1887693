"""The web server in a process of its own (WEB_SERVER=process, the default): `python -m bot
run` starts `python -m bot web` beside it on the same address, and it ends with the bot however
the bot ends, freeing the address for the next start."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.chain.devchain import free_port
from tests.support import bot_process

pytestmark = pytest.mark.db


async def _answers(url: str) -> bool:
    try:
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url) as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


@pytest.mark.slow
async def test_the_web_server_runs_beside_the_bot_and_ends_with_it(
    bot_env: dict[str, str], tmp_path: Path
):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**bot_env, "WEB_SERVER": "process", "HTTP_PORT": str(port), "PUBLIC_BASE_URL": base}
    # The bot killed (no chance to stop its child), then stopped as usual: the child ends
    # either way, and the second start finds the address free.
    for killed in (True, False):
        async with bot_process(env, tmp_path / "bot.log") as bot:
            await _until(lambda: _answers(f"{base}/health"), True, timeout=90)
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{base}/health") as response:  # the bot's, passed on
                    assert (await response.json())["chain_id"] == 31337
                async with http.get(f"{base}/metrics") as response:  # the bot's too
                    text = await response.text()
                    families = {f.name for f in text_string_to_metric_families(text)}
                    assert {"mintbot_requests", "mintbot_batch_size"} <= families
                async with http.get(f"{base}/c/test/chat") as response:
                    assert "Nothing minted here yet." in await response.text()
            (web,) = [pid for pid, command in _children(bot.pid) if b"bot\0web\0" in command]
            if killed:
                # The web server dies alone: connections wait in the bot's socket while the
                # bot starts it again.
                os.kill(web, signal.SIGKILL)
                await _until_true(lambda pid=web: not Path(f"/proc/{pid}").exists())
                assert await _answers(f"{base}/c/test/chat")
                assert [pid for pid, command in _children(bot.pid) if b"bot\0web\0" in command]
                bot.kill()
                await bot.wait()
        await _until_true(lambda: not _listening(port))


def _children(pid: int) -> list[tuple[int, bytes]]:
    """A process's children and their command lines."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [(int(child), Path(f"/proc/{child}/cmdline").read_bytes()) for child in children]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def _until(
    read: Callable[[], Awaitable[object]], expected: object, timeout: float = 30
) -> None:
    async with asyncio.timeout(timeout):
        while await read() != expected:
            await asyncio.sleep(0.1)


async def _until_true(check: Callable[[], object], timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.1)
