"""/wallet and /withdraw on the console: where the member's tokens go, and moving the ones
the bot holds for them there."""

from __future__ import annotations

from bot.console.local import CHANNEL, PLATFORM, USER_ID, USER_NAME, Screen, fresh_id
from bot.console.render import withdrawals_text
from bot.wallets import SIGN_HOWTO, WalletLinks, describe_link, verified_reply
from bot.withdrawals import Withdrawals

WALLET_USAGE = (
    "usage: /wallet show | /wallet link 0xADDRESS, then /wallet verify 0xSIGNATURE | "
    "/wallet set 0xADDRESS"
)
# How long the console keeps an eye on a withdrawal to print its outcome.
WITHDRAW_ANSWER_WAIT_S = 120


class WalletCommands:
    def __init__(self, wallets: WalletLinks, withdrawals: Withdrawals, screen: Screen) -> None:
        self.wallets = wallets
        self.withdrawals = withdrawals
        self.screen = screen

    async def wallet(self, rest: str) -> str:
        """/wallet show|link|verify|set, as the chats offer them."""
        args = rest.split()
        action = args[0].lower() if args else "show"
        if action == "show" and len(args) <= 1:
            linked = await self.wallets.linked(PLATFORM, USER_ID)
            return describe_link(linked, code="{}", link="/wallet link 0xADDRESS")
        if len(args) != 2:
            return WALLET_USAGE
        if action == "link":
            challenge = await self.wallets.challenge(PLATFORM, USER_ID, args[1])
            howto = SIGN_HOWTO.format(verify="/wallet verify 0xSIGNATURE")
            return f"{challenge.message}\n\n{howto}"
        if action == "verify":
            verified = await self.wallets.verify(PLATFORM, USER_ID, USER_NAME, args[1])
            return verified_reply(verified, code="{}")
        if action == "set":
            address = await self.wallets.set_unverified(PLATFORM, USER_ID, USER_NAME, args[1])
            return f"Your NFTs will go to {address} (not verified by a signature)."
        return WALLET_USAGE

    async def withdraw(self, rest: str) -> str:
        """/withdraw [token|all]: send the tokens the bot holds for the member to their
        verified address; the outcome is printed once the transfers are decided."""
        token = rest.strip() or None
        if token is not None and token.lower() == "all":
            token = None
        asked_key = f"{PLATFORM}:{CHANNEL}:{fresh_id()}"
        views = await self.withdrawals.withdraw(asked_key, PLATFORM, USER_ID, token)
        self.screen.later(self._outcome(asked_key, withdrawals_text(views)))
        return withdrawals_text(views)

    async def _outcome(self, asked_key: str, shown: str) -> None:
        final = withdrawals_text(
            await self.withdrawals.wait(asked_key, timeout=WITHDRAW_ANSWER_WAIT_S)
        )
        if final != shown:
            self.screen.say(final)
