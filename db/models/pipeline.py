"""The mint pipeline's rows: requests and their phases, sealed uploads, chain transactions, their
broadcasts, the nonce lane, the signing audit and key rotations."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.models.base import Base, utcnow


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
        Index("ix_mint_request_answered_in", "platform", "chat_id", "answered_in"),
        # One token per ID; an edition's ID is shared by its editions, one request per number.
        Index(
            "uq_mint_request_token",
            "token_id",
            unique=True,
            sqlite_where=text("edition IS NULL"),
            postgresql_where=text("edition IS NULL"),
        ),
        Index("uq_mint_request_edition", "token_id", "edition", unique=True),
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
    # The platform message that shows its answer, when several requests may share one.
    answered_in: Mapped[str | None] = mapped_column(String(64))
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
    token_id: Mapped[str | None] = mapped_column(String(66))
    # The contract the token is minted in (fixed when the request is queued); None: the shared
    # collection. A community with a collection of its own mints there.
    contract: Mapped[str | None] = mapped_column(String(42))
    # An ERC-1155 edition's number: the request mints a balance of 1 of `token_id` (the
    # artwork's ID, shared by all its editions) in `contract`. None: an ERC-721 token.
    edition: Mapped[int | None] = mapped_column(Integer)
    tx_id: Mapped[int | None] = mapped_column(ForeignKey("chain_tx.id"))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    # The same reason untranslated (`Said.to_json()`), to say it in the member's language;
    # None on rows older than it (shown from `failure_reason`).
    failure_said: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Group-level failures this request took part in (a preparation group that raised, a
    # batch that reverted on chain). Each one shrinks the next group it joins, so a culprit
    # ends up alone; past a bound it fails. Retries are never unbounded.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Where pipeline processes share the database: until when the process that claimed this
    # request's preparation group has it (another takes it after, should that one die).
    prepare_claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
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


class MintUpload(Base):
    """The uploaded bytes of a request, sealed (AES-256-GCM, its key in `upload_key`),
    committed with it and deleted once the request is queued (or rejected): one transaction,
    so a recorded request always has its bytes."""

    __tablename__ = "mint_upload"

    request_id: Mapped[int] = mapped_column(
        ForeignKey("mint_request.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[bytes] = mapped_column(LargeBinary)


class UploadKey(Base):
    """The key of one sealed upload, in a row of its own so that it can be destroyed alone:
    deleted once its request is prepared, it leaves every copy of the upload unreadable.
    Deleting the upload deletes its key too."""

    __tablename__ = "upload_key"

    request_id: Mapped[int] = mapped_column(
        ForeignKey("mint_upload.request_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[bytes] = mapped_column(LargeBinary)


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
    # The L1 data fee of an OP-stack chain, included in fee_paid_wei (None: the chain has none).
    l1_fee_wei: Mapped[str | None] = mapped_column(String(80))
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
    # The GasPriceOracle's L1 data fee for these bytes when signed (None: the chain has none).
    l1_fee_wei: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    tx: Mapped[ChainTx] = relationship(back_populates="attempts")


class NonceState(Base):
    """The next nonce to hand out for one wallet on one chain; rows are locked to allocate."""

    __tablename__ = "nonce_state"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    wallet: Mapped[str] = mapped_column(String(42), primary_key=True)
    next_nonce: Mapped[int] = mapped_column(BigInteger)
    # Set while nothing but `signing_holder` may sign with this wallet (a key rotation): why,
    # in words for the log. A rotated-out wallet keeps it for good.
    signing_stopped: Mapped[str | None] = mapped_column(String(200))
    signing_holder: Mapped[str | None] = mapped_column(String(64))
    # The pipeline process that signs with this wallet (its nonce lane), until its lease
    # expires unrenewed (`bot.chain.lanes`). None: free to take.
    lane_owner: Mapped[str | None] = mapped_column(String(80))
    lane_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


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


# The explorer's address page lists the tokens sent to an address a page at a time.
Index("ix_mint_request_recipient", MintRequest.recipient, MintRequest.id)
