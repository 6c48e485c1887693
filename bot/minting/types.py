"""What adapters hand to the mint pipeline and what they get back."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from bot.i18n import N_, _
from bot.i18n.said import Said
from db.models import MINTED, Phase

# English msgids: `status_text` keeps them (logs, the CLI); `MintResult.status_shown()`
# translates them for a member.
PHASE_TEXT = {
    Phase.RECEIVED: N_("received; checking the image"),
    Phase.STORED: N_("image stored; preparing the token"),
    Phase.QUEUED: N_("waiting for the next mint transaction"),
    Phase.SIGNED: N_("mint transaction signed; sending it"),
    Phase.SENT: N_("mint transaction sent; waiting for confirmation"),
    Phase.CONFIRMED: N_("minted"),
    Phase.REPLIED: N_("minted"),
    Phase.REJECTED: N_("refused"),
    Phase.FAILED: N_("failed"),
}


def failure(reason: Said) -> dict[str, str]:
    """The columns that keep why a request ended: `failure_reason` in English (the dashboard,
    webhooks, the CLI read it) and `failure_said`, to say it in the member's language."""
    return {"failure_reason": str(reason), "failure_said": reason.to_json()}


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
    # Why it was not minted: in English (`failure_reason`: webhooks, the dashboard, the CLI)
    # and untranslated (`failure_said`, None on rows stored before it), for `reason_shown`.
    failure_reason: str | None
    answered: bool = False
    # The last error of an answer that could not be delivered (given up or still retried).
    answer_error: str | None = None
    # Why it waits in the queue, in English, and untranslated where it was decided as a `Said`
    # (the chain's own reasons, a fee cap or a wallet to fund, are English texts only).
    waiting_reason: str | None = None
    waiting_said: Said | None = None
    failure_said: Said | None = None

    @property
    def locale(self) -> str | None:
        """The language tag the member asked in, as the adapter recorded it (None: English)."""
        tag = (self.reply_to or {}).get("locale")
        return tag if isinstance(tag, str) else None

    def status_shown(self) -> str:
        """Its phase in the current locale (see `bot.i18n.speaking`)."""
        return _(self.status_text)

    def reason_shown(self) -> str:
        """Why it was not minted, in the current locale: the stored `Said`; on an older row
        the English reason as a catalogue knows it (or as it is); without one, its phase."""
        if self.failure_said is not None:
            return self.failure_said.text()
        if self.failure_reason:
            return _(self.failure_reason)
        return self.status_shown()

    def waiting_shown(self) -> str | None:
        """Why it waits, in the current locale; None if it does not."""
        if self.waiting_said is not None:
            return self.waiting_said.text()
        return _(self.waiting_reason) if self.waiting_reason else None

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
