"""SQLAlchemy 2 models: mint requests, chain transactions, nonces, users and the signing audit.

Everything irreversible is decided here by constraints: one request per chat message
(`uq_mint_request_key`), one transaction per wallet nonce (`uq_chain_tx_nonce`), one row per
broadcast hash. The SQL is portable: the same models run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


# NUL (PostgreSQL text refuses it) and lone surrogates (they have no UTF-8 form).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with what no database could store replaced by
    U+FFFD: for what members send that is kept as given (display names, refused input)."""
    return _UNSTORABLE.sub("\ufffd", text[:limit])


def aware_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone-aware columns; they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    # Named constraints, so migrations can refer to them on every backend.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Phase(enum.StrEnum):
    """Where a mint request is. Each arrow is one committed database transaction:
    received -> stored -> queued -> signed -> sent -> confirmed -> replied,
    or rejected (bad input, before anything costly) / failed (a definitive reason)."""

    RECEIVED = "received"
    STORED = "stored"
    QUEUED = "queued"
    SIGNED = "signed"
    SENT = "sent"
    CONFIRMED = "confirmed"
    REPLIED = "replied"
    REJECTED = "rejected"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        """The request's outcome is decided (its answer may still be unsent)."""
        return self in FINAL


# Named sets of phases, for queries and checks that ask "which requests are ...".
# Minted: the token is on chain (its requester may not be answered yet).
MINTED = frozenset({Phase.CONFIRMED, Phase.REPLIED})
# Being prepared: the upload is not yet stored as content.
PREPARING = frozenset({Phase.RECEIVED, Phase.STORED})
# Still on their way to an outcome.
IN_FLIGHT = frozenset({Phase.RECEIVED, Phase.STORED, Phase.QUEUED, Phase.SIGNED, Phase.SENT})
# Decided, with an answer that may still be owed to whoever asked.
UNANSWERED = frozenset({Phase.CONFIRMED, Phase.REJECTED, Phase.FAILED})
# Decided for good.
FINAL = MINTED | {Phase.REJECTED, Phase.FAILED}


class TxStatus(enum.StrEnum):
    SIGNED = "signed"  # persisted, maybe not yet broadcast
    SENT = "sent"  # broadcast at least once
    MINED = "mined"  # one of its hashes is in a block, not yet deep enough
    CONFIRMED = "confirmed"  # enough confirmations
    DROPPED = "dropped"  # its nonce was used by another transaction; its work was re-queued


class MintRequest(Base):
    __tablename__ = "mint_request"
    __table_args__ = (
        UniqueConstraint("platform", "chat_id", "message_id", name="uq_mint_request_key"),
        Index("ix_mint_request_phase", "phase"),
        Index("ix_mint_request_requester", "platform", "requester_id"),
        Index("ix_mint_request_community", "platform", "community_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The idempotency key: (platform, chat, message). Telegram message IDs are per chat.
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(64))
    # sha256 over what was asked (image digest, name, description, recipient).
    fingerprint: Mapped[str] = mapped_column(String(64))
    requester_id: Mapped[str] = mapped_column(String(64))
    requester_name: Mapped[str] = mapped_column(String(256), default="")
    # The guild or group the request came from (rate limits, stats); None for the CLI.
    community_id: Mapped[str | None] = mapped_column(String(64))
    # Where the adapter answers (JSON of its own: an interaction token, a message to edit).
    reply_to: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    # sha256 of the uploaded bytes; the bytes themselves wait in `mint_upload` until stored.
    upload_digest: Mapped[str] = mapped_column(String(64))
    requested_recipient: Mapped[str | None] = mapped_column(String(42))
    recipient: Mapped[str | None] = mapped_column(String(42))
    custodial: Mapped[bool] = mapped_column(Boolean, default=False)
    phase: Mapped[str] = mapped_column(String(16), default=Phase.RECEIVED)
    image_cid: Mapped[str | None] = mapped_column(String(128))
    metadata_cid: Mapped[str | None] = mapped_column(String(128))
    # uint256 does not fit any portable integer column: 0x-prefixed 64-digit hex.
    token_id: Mapped[str | None] = mapped_column(String(66), unique=True)
    tx_id: Mapped[int | None] = mapped_column(ForeignKey("chain_tx.id"))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Group-level failures this request took part in (a preparation group that raised, a
    # batch that reverted on chain). Each one shrinks the next group it joins, so a culprit
    # ends up alone; past a bound it fails. Retries are never unbounded.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Delivering the answer: failed tries, when the next is due, the last error, and when
    # delivery was given up (bounded by ANSWER_MAX_ATTEMPTS / ANSWER_GIVE_UP_HOURS).
    answer_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    answer_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answer_error: Mapped[str | None] = mapped_column(Text)
    undeliverable_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The withdrawal that holds this custodial token (claimed by a conditional UPDATE, so
    # a token leaves custody at most once); cleared again if that withdrawal fails.
    withdrawal_id: Mapped[int | None] = mapped_column(Integer, index=True)

    tx: Mapped[ChainTx | None] = relationship(back_populates="requests")

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.chat_id}:{self.message_id}"

    @property
    def token_id_int(self) -> int | None:
        return int(self.token_id, 16) if self.token_id else None


class WithdrawalStatus(enum.StrEnum):
    QUEUED = "queued"  # recorded, the token claimed; its transfer is not signed yet
    SIGNED = "signed"  # its transfer is signed (and maybe sent): see its chain_tx
    CONFIRMED = "confirmed"  # the token is at the address
    FAILED = "failed"  # the contract refused; the token is back in custody

    @property
    def is_final(self) -> bool:
        return self in (WithdrawalStatus.CONFIRMED, WithdrawalStatus.FAILED)


class Withdrawal(Base):
    """One custodial token on its way to its owner's verified address, asked for by one chat
    command (`asked_key`: platform:chat:message). The same command asked again finds these
    rows; another command finds the token already claimed."""

    __tablename__ = "withdrawal"
    __table_args__ = (
        UniqueConstraint("asked_key", "request_id", name="uq_withdrawal_asked"),
        Index("ix_withdrawal_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asked_key: Mapped[str] = mapped_column(String(160))
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[int] = mapped_column(ForeignKey("mint_request.id"))
    to_address: Mapped[str] = mapped_column(String(42))
    status: Mapped[str] = mapped_column(String(16), default=WithdrawalStatus.QUEUED)
    tx_id: Mapped[int | None] = mapped_column(ForeignKey("chain_tx.id"))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class CommunitySettings(Base):
    """What a community's admins set: where and by whom minting is allowed, and a pause."""

    __tablename__ = "community_settings"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    community_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # JSON list of channel IDs; empty means every channel.
    allowed_channels: Mapped[str] = mapped_column(Text, default="[]")
    minter_role_id: Mapped[str | None] = mapped_column(String(64))
    curator_role_id: Mapped[str | None] = mapped_column(String(64))
    # Where every confirmed mint from this community is announced (a channel or chat), if set.
    announce_channel_id: Mapped[str | None] = mapped_column(String(64))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class RateScope(Base):
    """One row per rate-limited scope (a member, a community) that has asked. Recording a
    request first upserts its scopes' rows, which locks them until the transaction ends, so
    concurrent recorders (other processes on PostgreSQL too) count one after another."""

    __tablename__ = "rate_scope"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)  # "member" | "community"
    scope_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    touched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MintUpload(Base):
    """The uploaded bytes of a request, sealed (AES-256-GCM, its key in `upload_key`),
    committed with it and deleted once the request is queued (or rejected): one transaction,
    so a recorded request always has its bytes."""

    __tablename__ = "mint_upload"

    request_id: Mapped[int] = mapped_column(
        ForeignKey("mint_request.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ChainTx(Base):
    """One unit of on-chain work at one nonce. Fee bumps add attempts, never a new nonce."""

    __tablename__ = "chain_tx"
    __table_args__ = (
        UniqueConstraint("chain_id", "wallet", "nonce", name="uq_chain_tx_nonce"),
        Index("ix_chain_tx_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    wallet: Mapped[str] = mapped_column(String(42))
    nonce: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    to_address: Mapped[str] = mapped_column(String(42))
    # The call data: every attempt signs these same bytes, only the fees change.
    data: Mapped[bytes] = mapped_column(LargeBinary)
    gas_limit: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=TxStatus.SIGNED)
    mined_hash: Mapped[str | None] = mapped_column(String(66))
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(String(66))
    gas_used: Mapped[int | None] = mapped_column(BigInteger)
    # Wei can exceed 2**63 in a cost; store as decimal text to stay exact on every backend.
    fee_paid_wei: Mapped[str | None] = mapped_column(String(80))
    reverted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    attempts: Mapped[list[TxAttempt]] = relationship(
        back_populates="tx", order_by="TxAttempt.id", lazy="selectin"
    )
    requests: Mapped[list[MintRequest]] = relationship(back_populates="tx")


class TxAttempt(Base):
    """One signed version of a ChainTx: the bytes are committed before they are broadcast."""

    __tablename__ = "tx_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tx_id: Mapped[int] = mapped_column(ForeignKey("chain_tx.id"), index=True)
    tx_hash: Mapped[str] = mapped_column(String(66), unique=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    max_fee_per_gas: Mapped[int] = mapped_column(BigInteger)
    max_priority_fee_per_gas: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    tx: Mapped[ChainTx] = relationship(back_populates="attempts")


class NonceState(Base):
    """The next nonce to hand out for one wallet on one chain; rows are locked to allocate."""

    __tablename__ = "nonce_state"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    wallet: Mapped[str] = mapped_column(String(42), primary_key=True)
    next_nonce: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class PlatformUser(Base):
    """A chat user and the address they linked, if any."""

    __tablename__ = "platform_user"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(256), default="")
    address: Mapped[str | None] = mapped_column(String(42))
    address_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    linked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WalletChallenge(Base):
    """A Sign-In with Ethereum message the bot issued to link an address: single use, with an
    expiry. The exact text is kept, since the signature is checked against it."""

    __tablename__ = "wallet_challenge"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(42))
    message: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_wallet_challenge_user", "platform", "user_id", "issued_at"),)


class KeyRotationStep(Base):
    """One step of `python -m bot wallet rotate` from one hot wallet to another: what was done,
    by which transaction, and when. Re-running a rotation records the steps it skips, too."""

    __tablename__ = "key_rotation_step"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    old_address: Mapped[str] = mapped_column(String(42))
    new_address: Mapped[str] = mapped_column(String(42))
    step: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Drop(Base):
    """A community drop: one artwork stored once, claimable as numbered editions.

    `claimed` is the edition counter. A claim raises it with one conditional UPDATE that also
    checks supply, window and closure, in the transaction that records the claim, so the
    database alone decides who gets an edition.
    """

    __tablename__ = "nft_drop"
    __table_args__ = (
        Index("ix_nft_drop_community", "platform", "community_id"),
        CheckConstraint("supply IS NULL OR claimed <= supply", name="claimed_within_supply"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    community_id: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    image_cid: Mapped[str] = mapped_column(String(128))
    image_digest: Mapped[str] = mapped_column(String(64))  # sha256 of the uploaded bytes
    image_mime: Mapped[str] = mapped_column(String(32))
    image_width: Mapped[int] = mapped_column(Integer)
    image_height: Mapped[int] = mapped_column(Integer)
    supply: Mapped[int | None] = mapped_column(Integer)  # None: an open edition
    per_user_limit: Mapped[int] = mapped_column(Integer, default=1)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Who may claim: a list of {"kind": ..., "params": {...}}, each kind a registered gate
    # (bot.drops.gates); a claimant must pass them all. Empty: anyone.
    gates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    claimed: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DropClaim(Base):
    """One edition of a drop and who claimed it; `n` counts the claimer's own claims
    (1..per_user_limit), so the constraints refuse an edition too many either way."""

    __tablename__ = "drop_claim"
    __table_args__ = (
        UniqueConstraint("drop_id", "platform", "user_id", "n", name="uq_drop_claim_user_n"),
        UniqueConstraint("drop_id", "edition", name="uq_drop_claim_edition"),
        UniqueConstraint("drop_id", "platform", "source", name="uq_drop_claim_source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    drop_id: Mapped[int] = mapped_column(ForeignKey("nft_drop.id"))
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    user_name: Mapped[str] = mapped_column(String(256), default="")
    n: Mapped[int] = mapped_column(Integer)
    edition: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[int] = mapped_column(ForeignKey("mint_request.id"), unique=True)
    # The platform's ID of the message or interaction that claimed, where it may come again.
    source: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DropAnnouncement(Base):
    """A message announcing a drop in a chat, whose live counter the bot keeps current."""

    __tablename__ = "drop_announcement"

    drop_id: Mapped[int] = mapped_column(ForeignKey("nft_drop.id"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SigningAudit(Base):
    """One row for every signature the hot wallet makes: who asked, why, and what it costs."""

    __tablename__ = "signing_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tx_id: Mapped[int] = mapped_column(ForeignKey("chain_tx.id"), index=True)
    tx_hash: Mapped[str] = mapped_column(String(66))
    chain_id: Mapped[int] = mapped_column(BigInteger)
    wallet: Mapped[str] = mapped_column(String(42))
    nonce: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(32))  # "mint", "fee bump", ...
    request_keys: Mapped[str] = mapped_column(Text)  # platform:chat:message, one per line
    requesters: Mapped[str] = mapped_column(Text)  # platform:user, one per line
    max_fee_per_gas: Mapped[int] = mapped_column(BigInteger)
    gas_limit: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UploadKey(Base):
    """The key of one sealed upload, in a row of its own so that it can be destroyed alone:
    deleted once its request is prepared, it leaves every copy of the upload unreadable.
    Deleting the upload deletes its key too."""

    __tablename__ = "upload_key"

    request_id: Mapped[int] = mapped_column(
        ForeignKey("mint_upload.request_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[bytes] = mapped_column(LargeBinary)


class TokenOwner(Base):
    """A minted token's owner as the chain last said (`ownerOf`), and when it was last asked.

    The web pages ask the chain again at most once a minute per token, whichever process serves
    them: a process takes the turn by moving `checked_at` with a conditional UPDATE. The chain's
    answer holds while the database still says what it said then (`recorded_owner`, the mint's
    recipient or a confirmed withdrawal's address); once the bot moves the token itself, the
    database's newer word wins until the next check.
    """

    __tablename__ = "token_owner"

    token_id: Mapped[str] = mapped_column(String(66), primary_key=True)
    recorded_owner: Mapped[str] = mapped_column(String(42))
    owner: Mapped[str | None] = mapped_column(String(42))  # None until the chain answered
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# The explorer's address page lists the tokens sent to an address a page at a time.
Index("ix_mint_request_recipient", MintRequest.recipient, MintRequest.id)


class InboxUpdate(Base):
    """An update or interaction from a chat platform, committed before the bot acknowledges it
    in any way; `processed_at` once its handling finished. Rows not processed are dispatched
    again (after a crash, or a failure) until processed or given up."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("platform", "update_id", name="uq_inbox_update"),
        Index("ix_inbox_pending", "platform", "processed_at", "given_up_at", "due_at"),
        Index("ix_inbox_processed_at", "processed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    update_id: Mapped[str] = mapped_column(String(128))  # the platform's own ID for it
    payload: Mapped[str] = mapped_column(Text)  # JSON, as the platform sent it
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # When a dispatcher last took it in hand, and when another may take it over if it is still
    # not processed (its handling went silent, or the back-off after a failure is over).
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # What the member was already shown for it (a "minting…" reply's IDs, JSON), so handling
    # it again edits that instead of showing another.
    acknowledgement: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed dispatches
    last_error: Mapped[str | None] = mapped_column(Text)
    given_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
