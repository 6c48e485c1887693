"""/leaderboard and /gallery on the console: what its community minted, and who made and
holds it, with the address of its gallery page."""

from __future__ import annotations

from bot.console.local import COMMUNITY, PLATFORM
from bot.console.render import gallery_text, leaderboard_text
from bot.leaderboard_gallery import Engagement

GALLERY_LINES = 10


class ShowcaseCommands:
    def __init__(self, engagement: Engagement) -> None:
        self.engagement = engagement

    async def leaderboard(self, rest: str) -> str:
        board = await self.engagement.leaderboard(PLATFORM, COMMUNITY)
        return leaderboard_text(board, self.engagement.gallery_url(PLATFORM, COMMUNITY))

    async def gallery(self, rest: str) -> str:
        page = await self.engagement.gallery(PLATFORM, COMMUNITY, limit=GALLERY_LINES)
        url = self.engagement.gallery_url(PLATFORM, COMMUNITY)
        return gallery_text(page, url, self.engagement.token_url)
