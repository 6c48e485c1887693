"""Linking a chat user to an address: with proof (Sign-In with Ethereum, EIP-4361), or without
where the operator allows it (ALLOW_UNVERIFIED_WALLETS), marked unverified.

The bot issues the exact message to sign, with a single-use nonce and an expiry, and keeps it;
the user signs it in their wallet (personal_sign) and pastes the signature back. The signature
is checked against the kept text with eth-account, so a message for another domain, nonce or
address, an expired one, a replayed one or a forged signature links nothing.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from eth_account import Account
from eth_account.messages import encode_defunct
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import bot.registry  # noqa: F401  (fills PLATFORMS)
from bot.errors import NotAllowed, RequestRejected
from bot.minting.recipients import user_address
from bot.ports import PLATFORMS
from db.models import PlatformUser, WalletChallenge, aware_utc, storable, utcnow

CHALLENGE_LIFETIME = timedelta(minutes=10)
SIGNATURE = re.compile(r"^(0x)?[0-9a-fA-F]{130}$")


def platform_label(platform: str) -> str:
    """What people call the platform ("Discord"), as its kind says; else its name."""
    return PLATFORMS.get(platform).label if platform in PLATFORMS else platform


@dataclass(frozen=True)
class Challenge:
    message: str
    nonce: str
    expires_at: datetime


class WalletLinks:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        public_base_url: str,
        chain_id: int,
        allow_unverified: bool,
        collection_address: str | None = None,
        lifetime: timedelta = CHALLENGE_LIFETIME,
    ) -> None:
        self.sessions = sessions
        self.uri = public_base_url
        self.domain = urlsplit(public_base_url).netloc
        self.chain_id = chain_id
        self.allow_unverified = allow_unverified
        self.collection_address = collection_address
        self.lifetime = lifetime
        # Told (platform, user ID) after a member's linked address changed and was committed.
        self.on_linked: list[Callable[[str, str], None]] = []

    async def challenge(self, platform: str, user_id: str, address: str) -> Challenge:
        """A new Sign-In with Ethereum message for the user to sign with `address`."""
        checksummed = user_address(address, collection=self.collection_address)
        nonce = secrets.token_hex(8)
        issued = utcnow().replace(microsecond=0)
        expires = issued + self.lifetime
        message = siwe_message(
            domain=self.domain,
            address=checksummed,
            statement=(
                f"Link this address to my {platform_label(platform)} account for mintbot NFTs."
            ),
            uri=self.uri,
            chain_id=self.chain_id,
            nonce=nonce,
            issued_at=issued,
            expires_at=expires,
        )
        async with self.sessions.begin() as session:
            session.add(
                WalletChallenge(
                    nonce=nonce,
                    platform=platform,
                    user_id=user_id,
                    address=checksummed,
                    message=message,
                    issued_at=issued,
                    expires_at=expires,
                )
            )
        return Challenge(message, nonce, expires)

    async def verify(self, platform: str, user_id: str, display_name: str, signature: str) -> str:
        """Link the address whose key signed one of the user's open messages; returns it.
        Raises `RequestRejected` with the reason otherwise."""
        signature = signature.strip()
        if not SIGNATURE.match(signature):
            raise RequestRejected(
                "That is not a signature: paste the 0x… text (132 characters) your wallet gave "
                "you after signing."
            )
        now = utcnow()
        async with self.sessions.begin() as session:
            open_ones = list(
                await session.scalars(
                    select(WalletChallenge)
                    .where(
                        WalletChallenge.platform == platform,
                        WalletChallenge.user_id == user_id,
                        WalletChallenge.used_at.is_(None),
                    )
                    .order_by(WalletChallenge.issued_at.desc())
                    .limit(10)
                )
            )
            signed = next(
                (c for c in open_ones if _signer(c.message, signature) == c.address), None
            )
            if signed is None:
                raise RequestRejected(
                    "That signature is not for a message I gave you (or it was used already). "
                    "Ask for a new one with /wallet link and sign it exactly as it is."
                )
            if aware_utc(signed.expires_at) <= now:
                raise RequestRejected("That message expired; ask for a new one with /wallet link.")
            claimed = await session.execute(
                update(WalletChallenge)
                .where(WalletChallenge.nonce == signed.nonce, WalletChallenge.used_at.is_(None))
                .values(used_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                raise RequestRejected("That signature was used already.")
            await _link(session, platform, user_id, display_name, signed.address, verified=True)
        self._linked(platform, user_id)
        return signed.address

    async def set_unverified(
        self, platform: str, user_id: str, display_name: str, address: str
    ) -> str:
        """Link `address` without proof, where the operator allows it; returns it checksummed."""
        if not self.allow_unverified:
            raise NotAllowed(
                "Linking an address without a signature is turned off: use /wallet link to "
                "prove it is yours."
            )
        checksummed = user_address(address, collection=self.collection_address)
        async with self.sessions.begin() as session:
            await _link(session, platform, user_id, display_name, checksummed, verified=False)
        self._linked(platform, user_id)
        return checksummed

    def _linked(self, platform: str, user_id: str) -> None:
        for listener in self.on_linked:
            listener(platform, user_id)

    async def linked(self, platform: str, user_id: str) -> tuple[str, bool] | None:
        """The user's linked address and whether it was verified, or None."""
        async with self.sessions() as session:
            user = await session.get(PlatformUser, (platform, user_id))
        if user is None or not user.address:
            return None
        return user.address, bool(user.address_verified)


async def _link(
    session: AsyncSession,
    platform: str,
    user_id: str,
    display_name: str,
    address: str,
    *,
    verified: bool,
) -> None:
    user = await session.get(PlatformUser, (platform, user_id), with_for_update=True)
    if user is None:
        user = PlatformUser(platform=platform, user_id=user_id)
        session.add(user)
    user.display_name = storable(display_name, 256)
    user.address = address
    user.address_verified = verified
    user.linked_at = utcnow()


def _signer(message: str, signature: str) -> str | None:
    try:
        return str(Account.recover_message(encode_defunct(text=message), signature=signature))
    except (ValueError, TypeError):
        return None


def siwe_message(
    *,
    domain: str,
    address: str,
    statement: str,
    uri: str,
    chain_id: int,
    nonce: str,
    issued_at: datetime,
    expires_at: datetime,
) -> str:
    """An EIP-4361 message, as wallets show and sign it."""
    return (
        f"{domain} wants you to sign in with your Ethereum account:\n"
        f"{address}\n\n"
        f"{statement}\n\n"
        f"URI: {uri}\n"
        "Version: 1\n"
        f"Chain ID: {chain_id}\n"
        f"Nonce: {nonce}\n"
        f"Issued At: {_rfc3339(issued_at)}\n"
        f"Expiration Time: {_rfc3339(expires_at)}"
    )


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


SIGN_HOWTO = (
    'Sign this message in your wallet (personal_sign: in most wallets, "Sign message"), '
    "exactly as it is, then send the signature with {verify}. It works once and expires in "
    "10 minutes."
)


def describe_link(linked: tuple[str, bool] | None, *, code: str, link: str) -> str:
    """Where a user's NFTs go, in words; `code` formats the address, `link` names the command
    that links one."""
    if linked is None:
        return f"No wallet linked: the bot holds your NFTs for you. Link one with {link}."
    address, verified = linked
    where = f"Your NFTs go to {code.format(address)}"
    return where + (" (verified by your signature)." if verified else " (not verified).")
