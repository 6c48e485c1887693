"""A drop's claims as CSV, by edition: who claimed each, and where its mint stands."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import MINTED, ChainTx, DropClaim, MintRequest, aware_utc

CSV_COLUMNS = (
    "edition",
    "claimer_platform",
    "claimer_id",
    "claimer_name",
    "nth_claim",
    "claimed_at",
    "status",
    "recipient",
    "custodial",
    "token_id",
    "tx_hash",
)


async def claims_csv(sessions: async_sessionmaker[AsyncSession], drop_id: int) -> str:
    """Every claim of the drop as CSV (a header alone if it has none)."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(DropClaim, MintRequest, ChainTx)
                .join(MintRequest, MintRequest.id == DropClaim.request_id)
                .outerjoin(ChainTx, ChainTx.id == MintRequest.tx_id)
                .where(DropClaim.drop_id == drop_id)
                .order_by(DropClaim.edition)
            )
        ).all()
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for claim, request, tx in rows:
        writer.writerow(
            {
                "edition": claim.edition,
                "claimer_platform": claim.platform,
                "claimer_id": _cell(claim.user_id),
                "claimer_name": _cell(claim.user_name),
                "nth_claim": claim.n,
                "claimed_at": aware_utc(claim.created_at).isoformat(),
                "status": "minted" if request.phase in MINTED else request.phase,
                "recipient": request.recipient or "",
                "custodial": "yes" if request.custodial else "no",
                "token_id": request.token_id_int if request.token_id else "",
                "tx_hash": (tx.mined_hash or "") if tx is not None else "",
            }
        )
    return out.getvalue()


def _cell(text: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
