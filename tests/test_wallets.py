"""Linking a chat user to an address with a Sign-In with Ethereum signature (bot/wallets.py):
what links, and every way a signature is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from eth_account import Account
from sqlalchemy import update

from bot.errors import NotAllowed, RequestRejected
from bot.runtime import Runtime
from bot.wallets import MAX_SIGNATURE_BYTES, Proof, Verified, WalletLinks, siwe_message
from db.models import WalletChallenge, utcnow
from tests.support import COLLECTOR, Inbox, sign_message

pytestmark = pytest.mark.db

OWNER = COLLECTOR
THIEF = Account.create()
sign = sign_message


@pytest.fixture
def wallets(bot: tuple[Runtime, Inbox]) -> WalletLinks:
    return bot[0].wallets


async def test_a_signed_message_links_the_address_verified(wallets: WalletLinks):
    challenge = await wallets.challenge("telegram", "u1", OWNER.address.lower())
    assert f"wants you to sign in with your Ethereum account:\n{OWNER.address}\n" in (
        challenge.message
    )
    assert f"Nonce: {challenge.nonce}\n" in challenge.message
    assert "Expiration Time: " in challenge.message and "Chain ID: 31337" in challenge.message
    linked = await wallets.verify("telegram", "u1", "Ada", sign(challenge.message))
    assert linked == Verified(OWNER.address, Proof.KEY)
    assert await wallets.linked("telegram", "u1") == (OWNER.address, True)


async def test_a_forged_signature_is_refused(wallets: WalletLinks):
    challenge = await wallets.challenge("telegram", "u1", OWNER.address)
    with pytest.raises(RequestRejected, match="not for a message I gave you"):
        await wallets.verify("telegram", "u1", "Ada", sign(challenge.message, THIEF))
    with pytest.raises(RequestRejected, match="not for a message I gave you"):
        await wallets.verify("telegram", "u1", "Ada", "0x" + "12" * 64)  # no contract to ask
    for junk in ("0x12345", "0x1234", "0x" + "12" * 63):  # odd, or shorter than any signature
        with pytest.raises(RequestRejected, match="not a signature"):
            await wallets.verify("telegram", "u1", "Ada", junk)
    with pytest.raises(RequestRejected, match="longer than any wallet makes"):
        await wallets.verify("telegram", "u1", "Ada", "0x" + "ab" * (MAX_SIGNATURE_BYTES + 1))
    assert await wallets.linked("telegram", "u1") is None


async def test_an_expired_message_is_refused(wallets: WalletLinks, bot: tuple[Runtime, Inbox]):
    challenge = await wallets.challenge("telegram", "u1", OWNER.address)
    async with bot[0].sessions.begin() as session:
        await session.execute(
            update(WalletChallenge)
            .where(WalletChallenge.nonce == challenge.nonce)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with pytest.raises(RequestRejected, match="expired"):
        await wallets.verify("telegram", "u1", "Ada", sign(challenge.message))
    assert await wallets.linked("telegram", "u1") is None


async def test_a_signature_works_once(wallets: WalletLinks):
    challenge = await wallets.challenge("telegram", "u1", OWNER.address)
    signature = sign(challenge.message)
    await wallets.verify("telegram", "u1", "Ada", signature)
    with pytest.raises(RequestRejected, match="used already"):
        await wallets.verify("telegram", "u1", "Ada", signature)
    with pytest.raises(RequestRejected):  # nor for another user who copied it
        await wallets.verify("telegram", "u2", "Max", signature)


@pytest.mark.parametrize(
    "change",
    [
        {"domain": "evil.example"},
        {"nonce": "0123456789abcdef"},
        {"chain_id": 1},
        {"uri": "https://evil.example"},
    ],
    ids=["another domain", "another nonce", "another chain", "another uri"],
)
async def test_a_signature_over_any_other_message_is_refused(
    wallets: WalletLinks, change: dict[str, object]
):
    challenge = await wallets.challenge("telegram", "u1", OWNER.address)
    issued = utcnow().replace(microsecond=0)
    fields = {
        "domain": wallets.domain,
        "address": OWNER.address,
        "statement": challenge.message.split("\n\n")[1],
        "uri": wallets.uri,
        "chain_id": wallets.chain_id,
        "nonce": challenge.nonce,
        "issued_at": issued,
        "expires_at": issued + timedelta(minutes=10),
    }
    genuine = siwe_message(**fields)  # type: ignore[arg-type]
    assert genuine.split("Issued At")[0] == challenge.message.split("Issued At")[0]
    other = siwe_message(**{**fields, **change})  # type: ignore[arg-type]
    with pytest.raises(RequestRejected, match="not for a message I gave you"):
        await wallets.verify("telegram", "u1", "Ada", sign(other))
    assert await wallets.linked("telegram", "u1") is None


async def test_linking_without_proof_needs_the_operators_permission(wallets: WalletLinks):
    with pytest.raises(NotAllowed, match="without a signature is turned off"):
        await wallets.set_unverified("discord", "u1", "Ada", OWNER.address)
    lenient = replace_allowing(wallets)
    assert await lenient.set_unverified("discord", "u1", "Ada", OWNER.address) == OWNER.address
    assert await wallets.linked("discord", "u1") == (OWNER.address, False)


def replace_allowing(wallets: WalletLinks) -> WalletLinks:
    return WalletLinks(
        wallets.sessions,
        public_base_url=wallets.uri,
        chain_id=wallets.chain_id,
        allow_unverified=True,
    )
