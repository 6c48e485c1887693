"""A claim on its way to a token: the pending claim, the edition the writer gave it, and that
edition's name, metadata document and mint request row."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.content.metadata import build_metadata
from bot.drops.types import DROP_ORIGIN, edition_label
from bot.ports import Claimant
from db.models import Drop, Phase


@dataclass
class PendingClaim:
    """A claim waiting for its group's transaction."""

    drop_id: int
    claimant: Claimant
    user_name: str
    reply_to: dict[str, object] | None
    source: str | None
    # An admin's airdrop: past the gates on who may claim, and straight to this address if
    # one is given.
    granted_to: str | None = None
    granted: bool = False


@dataclass
class Accepted:
    """A claim given an edition, to be recorded with the rest of its group."""

    pending: PendingClaim
    drop: Drop
    n: int
    edition: int
    key: str
    recipient: str
    custodial: bool
    # A numbered edition's own metadata; None for an ERC-1155 edition, whose token ID and
    # metadata are its drop's (`Drop.token_id`, `Drop.metadata_cid`).
    metadata: bytes | None
    token_id: str
    # Where it mints: the drop's editions contract, or a community's own collection (None:
    # the shared collection).
    contract: str | None
    # The shared allowance it comes out of and its number there (an allowlisted address's).
    shared_claim: tuple[str, int] | None = None

    def request_row(self, metadata_cid: str | None) -> dict[str, object]:
        """The edition's mint request, queued: the mint pipeline takes it from there."""
        drop, pending = self.drop, self.pending
        return {
            "platform": DROP_ORIGIN,
            "chat_id": str(drop.id),
            "message_id": self.key,
            "fingerprint": self.token_id[2:],
            "requester_id": pending.claimant.user_id,
            "requester_name": pending.user_name,
            "community_id": drop.community_id,
            "reply_to": json.dumps(pending.reply_to) if pending.reply_to else None,
            "name": token_name(drop, self.edition),
            "description": drop.description,
            "upload_digest": drop.image_digest,
            "requested_recipient": None,
            "recipient": self.recipient,
            "custodial": self.custodial,
            "phase": Phase.QUEUED,
            "image_cid": drop.image_cid,
            "metadata_cid": metadata_cid,
            "token_id": self.token_id,
            "contract": self.contract,
            "edition": self.edition if self.metadata is None else None,
        }


def edition_metadata(
    drop: Drop, edition: int, key: str, claimer: Claimant, user_name: str
) -> bytes:
    """This edition's metadata: the drop's artwork and text, the edition, the claimer.
    The source (the claim's key) makes each block, hence each token ID, unique."""
    attributes: list[dict[str, str | int]] = [
        {"trait_type": "Drop", "value": drop.name},
        {"trait_type": "Edition", "value": edition},
    ]
    if drop.supply is not None:
        attributes.append({"trait_type": "Supply", "value": drop.supply})
    attributes.append({"trait_type": "Claimer", "value": user_name or claimer.user_id})
    return build_metadata(
        name=token_name(drop, edition),
        description=drop.description,
        image_cid=drop.image_cid,
        creator={"platform": drop.platform, "user_id": drop.created_by},
        source={"platform": DROP_ORIGIN, "chat_id": str(drop.id), "message_id": key},
        attributes=attributes,
        mime=drop.image_mime,
        width=drop.image_width,
        height=drop.image_height,
        extra_properties={
            "drop": {"id": drop.id, "edition": edition, "supply": drop.supply},
            "claimer": {
                "platform": claimer.platform,
                "user_id": claimer.user_id,
                "name": user_name,
            },
        },
    )


def artwork_metadata(drop: Drop) -> bytes:
    """An edition drop's one metadata document: the artwork, its text and its supply, the
    same for every edition (ERC-1155 gives a token ID one URI). The drop's ID makes the
    block, hence the token ID, unique to the drop."""
    attributes: list[dict[str, str | int]] = [{"trait_type": "Drop", "value": drop.name}]
    if drop.supply is not None:
        attributes.append({"trait_type": "Supply", "value": drop.supply})
    return build_metadata(
        name=drop.name,
        description=drop.description,
        image_cid=drop.image_cid,
        creator={"platform": drop.platform, "user_id": drop.created_by},
        source={"platform": DROP_ORIGIN, "chat_id": str(drop.id), "message_id": "edition"},
        attributes=attributes,
        mime=drop.image_mime,
        width=drop.image_width,
        height=drop.image_height,
        extra_properties={"drop": {"id": drop.id, "supply": drop.supply, "kind": "edition"}},
    )


def token_name(drop: Drop, edition: int) -> str:
    return f"{drop.name} {edition_label(edition, drop.supply)}"
