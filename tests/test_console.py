"""The local console as a newcomer uses it: lines typed into its real input loop, answers
read off its screen, on a real runtime (anvil, the database) with the bot's web server."""

from __future__ import annotations

import asyncio
import io
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import aiohttp
import pytest

from bot.app import open_runtime
from bot.chain.contract import Collection
from bot.config import load_settings
from bot.console.chat import ConsoleChat
from bot.runtime import Runtime
from bot.web_wiring import web_server
from tests.support import COLLECTOR, balance, png, poll_until, signed_siwe

pytestmark = pytest.mark.db

PUBLIC = "http://127.0.0.1:8080"  # PUBLIC_BASE_URL when none is set


@dataclass
class Terminal:
    """The console's keyboard (a pipe into its input loop) and its screen."""

    keyboard: TextIO
    screen: io.StringIO
    web: str  # where the bot's web server answers
    runtime: Runtime
    read_up_to: int = 0
    images: list[Path] = field(default_factory=list)

    def type(self, line: str) -> None:
        self.keyboard.write(line + "\n")
        self.keyboard.flush()

    async def until(self, text: str, timeout: float = 60) -> str:
        """Wait until `text` is printed after what was read so far; return what is printed
        from there (and read on to the end of the line holding `text`)."""
        start = self.read_up_to

        def printed() -> bool:
            return text in self.screen.getvalue()[start:]

        await poll_until(
            printed,
            timeout,
            lambda: f"{text!r} not printed; the screen shows:\n{self.screen.getvalue()[start:]}",
        )
        # A reply is printed at once, so all of the one holding `text` is on the screen.
        shown = self.screen.getvalue()
        line_end = shown.find("\n", shown.index(text, start) + len(text))
        self.read_up_to = len(shown) if line_end < 0 else line_end + 1
        return shown[start:]

    async def ask(self, line: str, expected: str) -> str:
        self.type(line)
        return await self.until(expected)


@pytest.fixture
async def console(bot_env: dict[str, str], tmp_path: Path) -> AsyncIterator[Terminal]:
    read_end, write_end = os.pipe()
    keyboard = os.fdopen(write_end, "w")
    screen = io.StringIO()
    async with open_runtime(load_settings(bot_env)) as runtime:
        web = web_server(runtime, host="127.0.0.1", port=0)
        base = await web.start()
        chat = ConsoleChat(runtime, source=os.fdopen(read_end), output=screen)
        loop = asyncio.ensure_future(chat.run())
        terminal = Terminal(keyboard, screen, base, runtime)
        try:
            await terminal.until("local console ready")
            yield terminal
        finally:
            keyboard.close()  # the input ends; the console still answers until cancelled
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
            await web.stop()


def image(tmp_path: Path, seed: int) -> Path:
    path = tmp_path / f"art-{seed}.png"
    path.write_bytes(png(seed))
    return path


async def test_mint_status_mynfts_gallery_and_leaderboard(console: Terminal, tmp_path: Path):
    minted = await console.ask(
        f"/mint {image(tmp_path, 1)} Harbour at dawn | from the pier", "owner: held in custody"
    )
    assert "✓ minted 'Harbour at dawn'" in minted
    assert "transaction: http://127.0.0.1:8080/explorer/tx/0x" in minted
    token_id = int(re.search(r"\(token (\d+)\)", minted).group(1))  # type: ignore[union-attr]

    status = await console.ask("/status", "✓ minted 'Harbour at dawn'")
    assert f"(token {token_id}) [console:local:" in status
    mine = await console.ask("/mynfts", "/withdraw")
    assert "Your NFTs (1), page 1 of 1" in mine and "'Harbour at dawn'" in mine

    board = await console.ask("/leaderboard", "All of them: ")
    assert "1. console: 1" in board
    gallery = await console.ask("/gallery", "'Harbour at dawn' by console")
    url = re.search(r"(http://\S+/c/console/local)", gallery).group(1)  # type: ignore[union-attr]
    assert url == f"{PUBLIC}/c/console/local"
    async with (
        aiohttp.ClientSession() as http,
        http.get(url.replace(PUBLIC, console.web)) as response,
    ):
        page = await response.text()
    assert response.status == 200
    assert f"data-token-id='{token_id}'" in page and "Harbour at dawn" in page


async def test_admin_pause_refuses_a_mint_and_resume_lets_it_through(
    console: Terminal, tmp_path: Path
):
    await console.ask("/admin pause", "Minting is paused here.")
    await console.ask(
        f"/mint {image(tmp_path, 2)} Paused art",
        "✗ Minting is paused in this community by its admins.",
    )
    await console.ask("/admin resume", "Minting is on again.")
    await console.ask("/admin config announce on", "Announcing every mint: on")
    await console.ask(f"/mint {image(tmp_path, 3)} Resumed art", "✓ minted 'Resumed art'")
    await console.until("📣 New NFT: 'Resumed art' by console")
    stats = await console.ask("/admin stats", "Creators: 1")
    assert "replied: 1" in stats
    await console.ask("/admin balance", "fees committed today (UTC)")
    status = await console.ask("/status", "✓ minted 'Resumed art'")
    assert "Paused art" not in status  # refused: nothing was recorded, nothing minted


async def test_wallet_withdraw_and_a_drop_from_creation_to_close(
    console: Terminal, tmp_path: Path, collection: Collection
):
    await console.ask(f"/mint {image(tmp_path, 4)} Kept for me", "owner: held in custody")
    await console.ask("/wallet", "No wallet linked")
    challenge = await console.ask(f"/wallet link {COLLECTOR.address}", "/wallet verify")
    await console.ask(
        f"/wallet verify {signed_siwe(challenge)}",
        f"Verified: your NFTs will go to {COLLECTOR.address}",
    )

    asked = await console.ask("/withdraw all", f"Withdrawing to {COLLECTOR.address}:")
    assert "'Kept for me'" in asked
    await console.until("delivered")
    assert await balance(collection, COLLECTOR.address) == 1

    created = await console.ask(
        f"/drop create {image(tmp_path, 5)} Spring drop | 2 | two editions", "claim it: "
    )
    drop_id = re.search(r"Drop #(\d+) is up", created).group(1)  # type: ignore[union-attr]
    await console.ask("/drop list", f"#{drop_id} 'Spring drop': 0 / 2 claimed, open")
    claimed = await console.ask(f"/drop claim {drop_id}", "You claimed 'Spring drop' #1 of 2")
    assert "Minting it to your linked wallet" in claimed
    told = await console.until("🎁 your drop claim: ✓ minted 'Spring drop #1 of 2'")
    assert f"owner: {COLLECTOR.address}" in told
    assert await balance(collection, COLLECTOR.address) == 2
    await console.ask(f"/drop claim {drop_id}", "✗ You have claimed")
    await console.ask(f"/drop close {drop_id}", f"Drop #{drop_id} is closed at 1 claimed.")
    await console.ask("/drop list", f"#{drop_id} 'Spring drop': 1 / 2 claimed, closed")
    await console.ask(f"/drop claim {drop_id}", "✗ Spring drop was closed by an admin")


async def test_bad_input_gets_a_clear_line_and_the_console_goes_on(
    console: Terminal, tmp_path: Path
):
    for line, answer in (
        ("hello there", "✗ unknown command 'hello'; type /help"),
        ("/mint", "usage: /mint PATH"),
        ("/mint /nonexistent.png Ghost", "✗ cannot read /nonexistent.png"),
        (f"/mint {image(tmp_path, 6)} Bad to:0xnot-an-address", "✗"),
        ("/drop claim banana", "usage: /drop"),
        ("/drop claim 999999", "✗ There is no drop #999999"),
        ("/drop create /nonexistent.png Name | lots", "usage: /drop create"),
        ("/wallet link 0x1234", "✗"),
        ("/wallet verify 0xdeadbeef", "✗ That is not a signature"),
        ("/withdraw", "✗ Withdrawals go only to an address you proved is yours"),
        ("/admin launch", "usage: /admin"),
        ("/status no-such-key", "✗ no request console:local:no-such-key"),
    ):
        await console.ask(line, answer)
    await console.ask("/help", "/admin pause|resume|balance|stats|config")
    await console.ask(f"/mint {image(tmp_path, 7)} Still here", "✓ minted 'Still here'")
