"""Linking a chat user to an address: with proof (Sign-In with Ethereum, EIP-4361), or without
where the operator allows it (ALLOW_UNVERIFIED_WALLETS), marked unverified.

The bot issues the exact message to sign, with a single-use nonce and an expiry, and keeps it;
the user signs it in their wallet (personal_sign) and pastes the signature back. The signature
is checked against the kept text with eth-account, so a message for another domain, nonce or
address, an expired one, a replayed one or a forged signature links nothing.

The signature proves the address in one of two ways: recovered to the address (an ordinary
account's key), or, where the address holds a contract (a smart wallet: a Safe, a passkey
wallet), accepted by that contract's EIP-1271 `isValidSignature`, asked on the bot's chain;
an ERC-6492 signature (of a smart wallet perhaps not deployed yet) is checked by a deploy-less
`eth_call` that deploys the wallet inside the call first.

Every refusal is raised with its text already translated by `_()`: the platforms call these
methods from the task handling the member's request, where they set the member's locale (a
`ContextVar`, which the awaited core code shares), so the text is in the asker's language.
"""

from __future__ import annotations

import enum
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys.exceptions import BadSignature
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import bot.registry  # noqa: F401  (fills PLATFORMS)
from bot.chain.names import EnsNames, NameUnresolved, looks_like_name
from bot.chain.signatures import (
    ERC6492_SUFFIX,
    ChainUnanswered,
    ContractWallets,
    Verdict,
    personal_message_hash,
)
from bot.errors import NotAllowed, RequestRejected
from bot.i18n import N_, _
from bot.minting.recipients import user_address
from bot.ports import PLATFORMS
from db.models import PlatformUser, WalletChallenge, aware_utc, storable, utcnow

CHALLENGE_LIFETIME = timedelta(minutes=10)
SIGNATURE = re.compile(r"^(0x)?(?:[0-9a-fA-F]{2})*$")
# A pasted signature goes to the node inside an eth_call and through our parsing, and anyone can
# paste anything: the cap keeps one paste from costing more than a real wallet's signature does
# (65 bytes per key, one per owner of a Safe; about 1 KB for a passkey wallet's).
MAX_SIGNATURE_BYTES = 4096
# Every wallet's signature holds at least one ECDSA signature (64 bytes in the compact form of
# EIP-2098, 65 in the usual one): anything shorter is no signature, whatever the address.
MIN_SIGNATURE_BYTES = 64
EOA_SIGNATURE_BYTES = 65
CHAIN_UNANSWERED = N_(
    "I could not ask the chain whether your wallet signed this (its node did not answer in "
    "time). Nothing was linked; send /wallet verify again in a moment."
)


class Proof(enum.Enum):
    """How a signature proved an address is the member's."""

    KEY = N_("verified: a signature of the wallet's key")
    CONTRACT = N_("verified by the smart wallet's contract (EIP-1271)")
    COUNTERFACTUAL = N_(
        "verified by the smart wallet's contract, which is not deployed yet (ERC-6492)"
    )


@dataclass(frozen=True)
class Verified:
    address: str
    proof: Proof


def verified_reply(verified: Verified, *, code: str) -> str:
    """The answer to a verified signature; `code` formats the address."""
    return _("Verified: your NFTs will go to {address} ({proof}).").format(
        address=code.format(verified.address), proof=_(verified.proof.value)
    )


@dataclass(frozen=True)
class _Open:
    """An open challenge, as read for checking outside any transaction."""

    nonce: str
    address: str
    message: str
    expires_at: datetime


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
        contract_wallets: ContractWallets | None = None,
        names: EnsNames | None = None,
    ) -> None:
        self.sessions = sessions
        self.uri = public_base_url
        self.domain = urlsplit(public_base_url).netloc
        self.chain_id = chain_id
        self.allow_unverified = allow_unverified
        self.collection_address = collection_address
        self.lifetime = lifetime
        # EIP-1271 checks on the bot's chain; without them only a key's signature links.
        self.contract_wallets = contract_wallets
        # ENS on mainnet (ENS_RPC_URL); without it, /wallet link takes addresses only.
        self.names = names
        # Told (platform, user ID) after a member's linked address changed and was committed.
        self.on_linked: list[Callable[[str, str], None]] = []

    async def challenge(self, platform: str, user_id: str, address: str) -> Challenge:
        """A new Sign-In with Ethereum message for the user to sign with `address`, or with
        the address an ENS name (`ada.eth`) resolves to, which the message then names too."""
        name = None
        if looks_like_name(address):
            if self.names is None:
                raise RequestRejected(
                    _(
                        "ENS names are not looked up here (the operator has not set "
                        "ENS_RPC_URL): give the 0x… address instead."
                    )
                )
            try:
                name, address = await self.names.address(address)
            except NameUnresolved as err:
                raise RequestRejected(str(err)) from None
        checksummed = user_address(address, collection=self.collection_address)
        named = f" ({name})" if name else ""
        nonce = secrets.token_hex(8)
        issued = utcnow().replace(microsecond=0)
        expires = issued + self.lifetime
        message = siwe_message(
            domain=self.domain,
            address=checksummed,
            statement=(
                f"Link this address{named} to my {platform_label(platform)} account for "
                "mintbot NFTs."
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

    async def verify(
        self, platform: str, user_id: str, display_name: str, signature: str
    ) -> Verified:
        """Link the address that signed one of the user's open messages (its key's signature,
        or one its smart wallet's contract accepts); returns it and how it was proven.
        Raises `RequestRejected` with the reason otherwise."""
        raw = _signature_bytes(signature)
        async with self.sessions() as session:
            open_ones = [
                _Open(c.nonce, c.address, c.message, c.expires_at)
                for c in await session.scalars(
                    select(WalletChallenge)
                    .where(
                        WalletChallenge.platform == platform,
                        WalletChallenge.user_id == user_id,
                        WalletChallenge.used_at.is_(None),
                    )
                    .order_by(WalletChallenge.issued_at.desc())
                    .limit(10)
                )
            ]
        # The chain is asked outside any transaction: a slow node holds no database lock.
        signed, proof = await self._signed(open_ones, raw)
        now = utcnow()
        if aware_utc(signed.expires_at) <= now:
            raise RequestRejected(_("That message expired; ask for a new one with /wallet link."))
        async with self.sessions.begin() as session:
            claimed = await session.execute(
                update(WalletChallenge)
                .where(WalletChallenge.nonce == signed.nonce, WalletChallenge.used_at.is_(None))
                .values(used_at=now)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                raise RequestRejected(_("That signature was used already."))
            await _link(session, platform, user_id, display_name, signed.address, verified=True)
        self._linked(platform, user_id)
        return Verified(signed.address, proof)

    async def _signed(self, open_ones: Sequence[_Open], raw: bytes) -> tuple[_Open, Proof]:
        """The open challenge `raw` signs, and how; RequestRejected saying why if none."""
        if len(raw) == EOA_SIGNATURE_BYTES:
            for challenge in open_ones:
                if _signer(challenge.message, raw) == challenge.address:
                    return challenge, Proof.KEY
        if self.contract_wallets is not None and raw.endswith(ERC6492_SUFFIX):
            found = await _counterfactual_signed(self.contract_wallets, open_ones, raw)
            if found is not None:
                return found
        elif self.contract_wallets is not None:
            accepted = await _contract_signed(self.contract_wallets, open_ones, raw)
            if accepted is not None:
                return accepted, Proof.CONTRACT
        raise RequestRejected(
            _(
                "That signature is not for a message I gave you (or it was used already). "
                "Ask for a new one with /wallet link and sign it exactly as it is."
            )
        )

    async def set_unverified(
        self, platform: str, user_id: str, display_name: str, address: str
    ) -> str:
        """Link `address` without proof, where the operator allows it; returns it checksummed."""
        if not self.allow_unverified:
            raise NotAllowed(
                _(
                    "Linking an address without a signature is turned off: use /wallet link to "
                    "prove it is yours."
                )
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


def _signature_bytes(signature: str) -> bytes:
    text = signature.strip()
    if len(text) > 2 + 2 * MAX_SIGNATURE_BYTES:
        raise RequestRejected(
            _(
                "That signature is longer than any wallet makes ({most} bytes at most): paste "
                "the 0x… text your wallet gave you after signing."
            ).format(most=MAX_SIGNATURE_BYTES)
        )
    if not SIGNATURE.match(text) or len(text.removeprefix("0x")) < 2 * MIN_SIGNATURE_BYTES:
        raise RequestRejected(
            _("That is not a signature: paste the 0x… text your wallet gave you after signing.")
        )
    return bytes.fromhex(text.removeprefix("0x"))


async def _contract_signed(
    wallets: ContractWallets, open_ones: Sequence[_Open], raw: bytes
) -> _Open | None:
    """The open challenge whose address holds a contract that accepts `raw` (EIP-1271), or
    None; RequestRejected when the answer is "cannot tell" rather than "no"."""
    unanswered = not_eip1271 = None
    for address in dict.fromkeys(c.address for c in open_ones):
        try:
            if not await wallets.has_code(address):
                continue
            for challenge in (c for c in open_ones if c.address == address):
                digest = personal_message_hash(challenge.message)
                verdict = await wallets.verdict(address, digest, raw)
                if verdict is Verdict.ACCEPTED:
                    return challenge
                if verdict is Verdict.NOT_EIP1271:
                    not_eip1271 = address
        except ChainUnanswered as err:
            unanswered = err
    if unanswered is not None:
        raise RequestRejected(_(CHAIN_UNANSWERED))
    if not_eip1271 is not None:
        raise RequestRejected(
            _(
                "The contract at {address} does not check signatures (it has no EIP-1271 "
                "isValidSignature), so it cannot prove it is yours. Link a smart wallet that "
                "supports EIP-1271, or an ordinary address."
            ).format(address=not_eip1271)
        )
    return None


async def _counterfactual_signed(
    wallets: ContractWallets, open_ones: Sequence[_Open], raw: bytes
) -> tuple[_Open, Proof] | None:
    """The open challenge an ERC-6492 signature `raw` proves, checked in one deploy-less call
    each (a wallet not deployed yet is deployed inside the call), or None."""
    unanswered = False
    for challenge in open_ones:
        digest = personal_message_hash(challenge.message)
        try:
            deployed = await wallets.has_code(challenge.address)
            verdict = await wallets.counterfactual_verdict(challenge.address, digest, raw)
        except ChainUnanswered:
            unanswered = True
            continue
        if verdict is Verdict.ACCEPTED:
            return challenge, Proof.CONTRACT if deployed else Proof.COUNTERFACTUAL
    if unanswered:
        raise RequestRejected(_(CHAIN_UNANSWERED))
    return None


def _signer(message: str, signature: bytes) -> str | None:
    try:
        return str(Account.recover_message(encode_defunct(text=message), signature=signature))
    except (ValueError, TypeError, BadSignature):  # BadSignature: r or s out of range
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


SIGN_HOWTO = N_(
    'Sign this message in your wallet (personal_sign: in most wallets, "Sign message"), '
    "exactly as it is, then send the signature with {verify}. It works once and expires in "
    "10 minutes."
)


def describe_link(linked: tuple[str, bool] | None, *, code: str, link: str) -> str:
    """Where a user's NFTs go, in words; `code` formats the address, `link` names the command
    that links one."""
    if linked is None:
        return _("No wallet linked: the bot holds your NFTs for you. Link one with {link}.").format(
            link=link
        )
    address, verified = linked
    said = (
        _("Your NFTs go to {address} (verified by your signature).")
        if verified
        else _("Your NFTs go to {address} (not verified).")
    )
    return said.format(address=code.format(address))
