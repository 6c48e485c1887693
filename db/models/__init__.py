"""SQLAlchemy 2 models: mint requests, chain transactions, nonces, communities and members,
drops, community collections, the inbox, pins on IPFS and the signing audit, one module per
part of the bot.

Everything irreversible is decided by constraints: one request per chat message
(`uq_mint_request_key`), one transaction per wallet nonce (`uq_chain_tx_nonce`), one row per
broadcast hash. The SQL is portable: the same models run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from db.models.allowlists import Allowlist, AllowlistEntry
from db.models.base import Base, aware_utc, storable, utcnow
from db.models.codes import CodeTries, DropCode, DropCodeword
from db.models.collections import CollectionStatus, CommunityCollection, Standard
from db.models.dashboard import DashboardLinkUse, DashboardSession
from db.models.drops import Drop, DropAnnouncement, DropClaim
from db.models.holders import HolderChange, HolderCursor, HolderMember, HolderRule
from db.models.inbox import InboxUpdate
from db.models.members import (
    CommunitySettings,
    PlatformUser,
    RateScope,
    TokenOwner,
    WalletChallenge,
    Withdrawal,
    WithdrawalStatus,
)
from db.models.pins import PIN_PENDING, PIN_PINNED, PIN_REFUSED, Pin
from db.models.pipeline import (
    FINAL,
    IN_FLIGHT,
    MINTED,
    PREPARING,
    UNANSWERED,
    ChainTx,
    KeyRotationStep,
    MintRequest,
    MintUpload,
    NonceState,
    Phase,
    SigningAudit,
    TxAttempt,
    TxStatus,
    UploadKey,
)
from db.models.raffles import Raffle, RaffleEntry
from db.models.turns import LaneMember, SharedTurn
from db.models.webhooks import GLOBAL_SCOPE, WebhookDelivery, WebhookEndpoint

__all__ = [
    "FINAL",
    "GLOBAL_SCOPE",
    "IN_FLIGHT",
    "MINTED",
    "PIN_PENDING",
    "PIN_PINNED",
    "PIN_REFUSED",
    "PREPARING",
    "UNANSWERED",
    "Allowlist",
    "AllowlistEntry",
    "Base",
    "ChainTx",
    "CodeTries",
    "CollectionStatus",
    "CommunityCollection",
    "CommunitySettings",
    "DashboardLinkUse",
    "DashboardSession",
    "Drop",
    "DropAnnouncement",
    "DropClaim",
    "DropCode",
    "DropCodeword",
    "HolderChange",
    "HolderCursor",
    "HolderMember",
    "HolderRule",
    "InboxUpdate",
    "KeyRotationStep",
    "LaneMember",
    "MintRequest",
    "MintUpload",
    "NonceState",
    "Phase",
    "Pin",
    "PlatformUser",
    "Raffle",
    "RaffleEntry",
    "RateScope",
    "SharedTurn",
    "SigningAudit",
    "Standard",
    "TokenOwner",
    "TxAttempt",
    "TxStatus",
    "UploadKey",
    "WalletChallenge",
    "WebhookDelivery",
    "WebhookEndpoint",
    "Withdrawal",
    "WithdrawalStatus",
    "aware_utc",
    "storable",
    "utcnow",
]
