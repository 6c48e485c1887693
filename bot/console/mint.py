"""/mint, /status and /mynfts on the console: the same core calls as the chats' commands."""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path

from bot.console.local import (
    ASKER,
    CHANNEL,
    COMMUNITY,
    PLATFORM,
    USER_ID,
    USER_NAME,
    fresh_id,
    read_file,
)
from bot.console.render import nft_line, render_result, status_line
from bot.errors import RequestConflict
from bot.minting.service import MintService
from bot.minting.types import MintSubmission

MINT_USAGE = "usage: /mint PATH [Name] [to:0xADDRESS] [| description]"
MYNFTS_PAGE = 10
MAX_PAGE = 100_000


def parse_mint(rest: str) -> tuple[str, str, str, str | None] | None:
    """`PATH [Name words] [to:ADDRESS] [| description]` -> (path, name, description,
    recipient); the name defaults to the file's name. None if there is no path."""
    head, _, description = rest.partition("|")
    try:
        words = shlex.split(head)
    except ValueError:  # an apostrophe in a name, say: words are then split on spaces
        words = head.split()
    if not words:
        return None
    path, recipient, name_words = words[0], None, []
    for word in words[1:]:
        if word.lower().startswith("to:"):
            recipient = word[3:]
        else:
            name_words.append(word)
    name = " ".join(name_words) or Path(path).stem
    return path, name, description.strip(), recipient


class MintCommands:
    def __init__(self, service: MintService) -> None:
        self.service = service

    async def mint(self, rest: str) -> str:
        """/mint: read the image, check that this member may mint here now (a paused
        community refuses), and submit; the answer arrives through `deliver`."""
        parsed = parse_mint(rest)
        if parsed is None:
            return MINT_USAGE
        path, name, description, recipient = parsed
        self.service.check_text(name, description, recipient)
        try:
            image = await asyncio.to_thread(read_file, path)
        except OSError as err:
            return f"✗ cannot read {path}: {err.strerror}"
        key = (PLATFORM, CHANNEL, fresh_id())
        if not await self.service.admit(key, COMMUNITY, ASKER, author_id=USER_ID):
            return "✗ that is already being minted"
        submission = MintSubmission(
            platform=PLATFORM,
            chat_id=CHANNEL,
            message_id=key[2],
            requester_id=USER_ID,
            requester_name=USER_NAME,
            image=image,
            name=name,
            description=description,
            recipient=recipient,
            community_id=COMMUNITY,
        )
        try:
            handle = await self.service.submit(submission)
        except RequestConflict:
            return "✗ that is already being minted"
        return f"… {handle.key}: received; you will see the result here"

    async def status(self, rest: str) -> str:
        """/status: the latest five requests; /status KEY: one in full (its whole key, or
        the number after `console:local:`)."""
        key = rest.strip()
        if not key:
            results, _ = await self.service.requests_of(
                PLATFORM, USER_ID, minted_only=False, limit=5
            )
            if not results:
                return "nothing minted yet; try /mint PATH Name"
            return "\n".join(map(status_line, results))
        if key.count(":") < 2:
            key = f"{PLATFORM}:{CHANNEL}:{key}"
        platform, chat, message = key.split(":", 2)
        result = await self.service.find(platform, chat, message)
        return render_result(result) if result else f"✗ no request {key}"

    async def mynfts(self, rest: str) -> str:
        """/mynfts [page]: the member's minted tokens, ten at a time, newest first."""
        asked = rest.strip()
        page = min(max(1, int(asked)), MAX_PAGE) if asked.isdecimal() and len(asked) < 10 else 1
        results, total = await self.service.requests_of(
            PLATFORM,
            USER_ID,
            minted_only=True,
            offset=(page - 1) * MYNFTS_PAGE,
            limit=MYNFTS_PAGE,
        )
        if total == 0:
            return "Nothing minted yet. Try /mint PATH Name"
        pages = (total + MYNFTS_PAGE - 1) // MYNFTS_PAGE
        lines = [f"Your NFTs ({total}), page {page} of {pages}:"]
        lines += [f"  {nft_line(r)}" for r in results]
        if page < pages:
            lines.append(f"More: /mynfts {page + 1}")
        return "\n".join(lines)
