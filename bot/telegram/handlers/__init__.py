"""Telegram's handlers, one module per feature like Discord's cogs: minting (`mint`),
wallets and withdrawals (`wallet`), group administration (`admin`), leaderboards and
galleries (`engagement`) and drops (`drops`). Each is thin: read the update, ask the core,
render (`bot/telegram/render.py`).

`register` adds them in the order python-telegram-bot tries them (the first that matches an
update handles it): commands first, then edits and stray private messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram import Update
from telegram.ext import CommandHandler, ContextTypes, filters

from bot.i18n import _
from bot.telegram.handlers.admin import AdminHandlers
from bot.telegram.handlers.allowlists import AllowlistHandlers
from bot.telegram.handlers.codewords import CodewordHandlers
from bot.telegram.handlers.drops import DropHandlers
from bot.telegram.handlers.engagement import EngagementHandlers
from bot.telegram.handlers.holders import HolderHandlers
from bot.telegram.handlers.mint import MintHandlers
from bot.telegram.handlers.raffles import RaffleHandlers
from bot.telegram.handlers.wallet import WalletHandlers
from bot.telegram.render import HELP, reply

if TYPE_CHECKING:
    from bot.telegram.client import TelegramBot

Context = ContextTypes.DEFAULT_TYPE


def register(bot: TelegramBot) -> None:
    """Add every feature's handlers to the bot's application."""
    new = filters.UpdateType.MESSAGE  # not edits, not channel posts
    mint = MintHandlers(bot)
    wallets = WalletHandlers(bot)
    welcome = Welcome(mint, wallets)
    mint.register(new)
    bot.app.add_handler(CommandHandler("start", welcome.start, filters=new))
    bot.app.add_handler(CommandHandler("help", welcome.help, filters=new))
    EngagementHandlers(bot).register(new)
    AdminHandlers(bot).register(new)
    DropHandlers(bot).register(new)
    HolderHandlers(bot).register(new)
    RaffleHandlers(bot).register(new)
    AllowlistHandlers(bot).register(new)
    CodewordHandlers(bot).register(new)
    wallets.register(new)
    mint.register_last(new)


class Welcome:
    """/start and /help: how to mint, or where a deep link points."""

    def __init__(self, mint: MintHandlers, wallets: WalletHandlers) -> None:
        self.mint = mint
        self.wallets = wallets

    async def start(self, update: Update, context: Context) -> None:
        """/start, also from deep links (t.me/<bot>?start=wallet, =status, =mynfts)."""
        payload = (context.args or [""])[0].lower()
        routes = {
            "wallet": self.wallets.wallet,
            "status": self.mint.status,
            "mynfts": self.mint.mynfts,
        }
        if payload in routes:
            context.args = []
            await routes[payload](update, context)
            return
        await self.help(update, context)

    async def help(self, update: Update, context: Context) -> None:
        assert update.effective_message is not None
        await reply(update.effective_message, _(HELP))
