"""ConsoleChat: the local console as a chat platform. Each line typed is a message from the
console's one member, the admin of its community; answers, claims' outcomes, announcements
and alerts are printed like chat replies.

Lines are read by a thread, so a test (or a pipe) can be the terminal.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from typing import TextIO

from bot.communities import Asker
from bot.console.admin import AdminCommands
from bot.console.drops import DropCommands
from bot.console.local import ASKER, COMMUNITY, PLATFORM, USER_ID, Handler, Screen
from bot.console.mint import MintCommands
from bot.console.render import announcement_text, render_result
from bot.console.showcase import ShowcaseCommands
from bot.console.wallet import WalletCommands
from bot.errors import RequestRejected
from bot.minting.types import MintResult
from bot.runtime import Runtime

log = logging.getLogger(__name__)

HELP = """commands:
  /mint PATH Name | optional description   mint the image at PATH (add to:0x… to send it there)
  /status [KEY]                            your latest requests, or the one with KEY
  /mynfts [PAGE]                           the NFTs minted from your images
  /wallet show|link|verify|set …           where your NFTs go (/wallet link 0x… proves it)
  /withdraw [TOKEN|all]                    send the NFTs the bot holds for you to your wallet
  /drop create PATH Name | supply | text   a drop members claim as numbered editions
  /drop list | info ID | claim ID | close ID | export ID
  /leaderboard                             top creators and collectors here
  /gallery                                 this community's NFTs and its web page
  /admin pause|resume|balance|stats|config you administer this console's community
  /help                                    this text"""


def _lines(source: TextIO) -> asyncio.Queue[str | None]:
    """Lines read from `source` by a daemon thread (None at its end): a blocking read in the
    default executor would keep the process from exiting on Ctrl-C until Enter."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        for line in source:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="console-input", daemon=True).start()
    return queue


class ConsoleChat:
    """The console as the core sees a chat platform (`bot.ports.ChatPlatform`)."""

    name = PLATFORM

    def __init__(
        self, runtime: Runtime, *, source: TextIO | None = None, output: TextIO | None = None
    ) -> None:
        self.runtime = runtime
        self.source = source if source is not None else sys.stdin
        self.screen = Screen(output if output is not None else sys.stdout)
        mint = MintCommands(runtime.service)
        wallet = WalletCommands(runtime.wallets, runtime.withdrawals, self.screen)
        showcase = ShowcaseCommands(runtime.engagement)
        self.commands: dict[str, Handler] = {
            "/help": self.help,
            "/mint": mint.mint,
            "/status": mint.status,
            "/mynfts": mint.mynfts,
            "/wallet": wallet.wallet,
            "/withdraw": wallet.withdraw,
            "/drop": DropCommands(runtime.drops, runtime.settings.public_base_url).drop,
            "/leaderboard": showcase.leaderboard,
            "/gallery": showcase.gallery,
            "/admin": AdminCommands(runtime.service).admin,
        }

    # ----- the platform port -------------------------------------------------------------

    async def deliver(self, result: MintResult) -> None:
        self.screen.say(render_result(result))

    async def announce(self, result: MintResult, channel_id: str, locale: str | None) -> None:
        self.screen.say(announcement_text(result))

    async def tell_claimer(self, result: MintResult) -> None:
        self.screen.say(f"🎁 your drop claim: {render_result(result)}")

    async def tell_admins(self, text: str) -> None:
        self.screen.say(text)

    async def member(self, community_id: str, user_id: str) -> Asker | None:
        return ASKER if (community_id, user_id) == (COMMUNITY, USER_ID) else None

    async def run(self) -> None:
        """Answer lines until cancelled. When the input ends (a closed stdin), the console
        stops reading and still prints what it is told."""
        self._connect()
        self.screen.say("local console ready; type /help")
        lines = _lines(self.source)
        try:
            while (line := await lines.get()) is not None:
                reply = await self.handle(line.strip())
                if reply:
                    self.screen.say(reply)
            await asyncio.Event().wait()
        finally:
            await self.screen.close()

    def _connect(self) -> None:
        """Be reachable by the core: answers to the console's requests and claims,
        announcements in its community, alerts for its admin."""
        runtime = self.runtime
        runtime.platforms.add(self)

    # ----- the commands ------------------------------------------------------------------

    async def handle(self, line: str) -> str | None:
        """The answer to one line. A refusal is said in a line starting with ✗; whatever
        fails, fails only this line."""
        if not line:
            return None
        command, _, rest = line.partition(" ")
        handler = self.commands.get(command.lower())
        if handler is None:
            return f"✗ unknown command {command!r}; type /help"
        try:
            return await handler(rest)
        except RequestRejected as err:
            return f"✗ {err}"
        except Exception:  # a fault of ours: logged, and the console goes on
            log.exception("console: %s failed", command)
            return f"✗ {command} failed on our side (the log says why); nothing else changed"

    async def help(self, rest: str) -> str:
        return HELP
