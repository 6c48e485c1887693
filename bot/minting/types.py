"""What adapters hand to the mint pipeline and what they get back."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from db.models import MINTED, Phase

PHASE_TEXT = {
    Phase.RECEIVED: "received; checking the image",
    Phase.STORED: "image stored; preparing the token",
    Phase.QUEUED: "waiting for the next mint transaction",
    Phase.SIGNED: "mint transaction signed; sending it",
    Phase.SENT: "mint transaction sent; waiting for confirmation",
    Phase.CONFIRMED: "minted",
    Phase.REPLIED: "minted",
    Phase.REJECTED: "refused",
    Phase.FAILED: "failed",
}


@dataclass(frozen=True)
class MintSubmission:
    """One chat message asking for a mint. (platform, chat_id, message_id) is its key."""

    platform: str
    chat_id: str
    message_id: str
    requester_id: str
    requester_name: str
    image: bytes
    name: str
    description: str = ""
    recipient: str | None = None
    # The guild or group it came from, and where the adapter will answer (its own JSON-able
    # data); neither is part of what was asked.
    community_id: str | None = None
    reply_to: dict[str, Any] | None = None
    # The message that shows the answer, where the adapter shares one between requests.
    answered_in: str | None = None

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.chat_id}:{self.message_id}"

    def fingerprint(self) -> str:
        """What was asked, so an edited message (same key, other content) is recognised."""
        asked = {
            "image_sha256": hashlib.sha256(self.image).hexdigest(),
            "name": self.name.strip(),
            "description": self.description.strip(),
            "recipient": (self.recipient or "").strip().lower(),
        }
        return hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Upload:
    """An attachment as the platform describes it, before anyone downloads it: its size in
    bytes and whether the platform took it for an image (None where it does not say)."""

    size: int | None
    looks_like_image: bool | None = None


@dataclass(frozen=True)
class MintHandle:
    """The answer to `submit`: the request exists (now or already) and runs in the background."""

    request_id: int
    key: str
    duplicate: bool
    phase: Phase
    # A request that had failed for good, opened again by the same message asked again.
    reopened: bool = False


@dataclass(frozen=True)
class MintResult:
    """A request's state as a user would be told it."""

    request_id: int
    key: str
    platform: str
    chat_id: str
    message_id: str
    requester_id: str
    requester_name: str
    community_id: str | None
    reply_to: dict[str, Any] | None
    name: str
    phase: Phase
    status_text: str
    recipient: str | None
    custodial: bool
    token_id: int | None
    image_cid: str | None
    metadata_cid: str | None
    tx_hash: str | None
    tx_url: str | None
    # The contract the token is (to be) minted in: a community's own, or the shared collection.
    contract: str
    # An ERC-1155 edition's number (a balance of 1 of `token_id`, which every edition of the
    # artwork shares); None for an ERC-721 token.
    edition: int | None
    # The token's page on the bot's web gallery, once minted: a link that unfurls.
    token_url: str | None
    marketplace_url: str | None
    failure_reason: str | None
    answered: bool = False
    # The last error of an answer that could not be delivered (given up or still retried).
    answer_error: str | None = None
    waiting_reason: str | None = None

    @property
    def is_final(self) -> bool:
        return self.phase.is_final

    @property
    def minted(self) -> bool:
        return self.phase in MINTED

    @property
    def short_token_id(self) -> str | None:
        """The first hex digits of the token ID: what /mynfts shows and /withdraw accepts."""
        return None if self.token_id is None else short_token_id(self.token_id)

    @property
    def token_ref(self) -> str | None:
        """This one token as /withdraw names it: the short ID, and for an edition its number
        after a `#` (the ID alone names every edition of the artwork the member holds)."""
        return None if self.token_id is None else token_ref(self.token_id, self.edition)

    @property
    def token_label(self) -> str | None:
        """The short ID as a member reads it: "1a2b3c4d", or "1a2b3c4d edition #3"."""
        if self.token_id is None:
            return None
        label = short_token_id(self.token_id)
        return label if self.edition is None else f"{label} edition #{self.edition}"


SHORT_ID_DIGITS = 8


def short_token_id(token_id: int) -> str:
    return f"{token_id:064x}"[:SHORT_ID_DIGITS]


def token_ref(token_id: int, edition: int | None) -> str:
    """What /withdraw accepts for one token: its short ID, with `#<edition>` for an edition."""
    short = short_token_id(token_id)
    return short if edition is None else f"{short}#{edition}"
