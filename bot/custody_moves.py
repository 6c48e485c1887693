"""What the chain's confirmation of a custody move means for the records, in whichever process
sees it confirmed: the token's holder is now the move's destination (see bot/custody.py for
when tokens move). Also owns a rotation's custody approval, which the records do not keep."""

from __future__ import annotations

import logging

from eth_utils.address import to_checksum_address
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chain.tx_engine import TxEngine, TxEvents
from bot.minting.types import short_token_id
from db.models import ChainTx, MintRequest

log = logging.getLogger(__name__)

CUSTODY_MOVE_KIND = "custody"
CUSTODY_APPROVAL_KIND = "rotate"  # setApprovalForAll of the old key for the new one
_TRANSFER_FROM = bytes.fromhex("23b872dd")  # transferFrom(address,address,uint256)


def own_custody_moves(txs: TxEngine) -> None:
    """Make `txs` record where a moved custodial token now is, whichever process confirms it
    (and own a rotation's approval, which the database does not record: its row says it)."""
    txs.own(CUSTODY_MOVE_KIND, TxEvents(_moved, _not_moved, _refused))
    txs.own(CUSTODY_APPROVAL_KIND, TxEvents(_no_effect, _no_effect, _no_effect))


async def _no_effect(_session: AsyncSession, _tx: ChainTx, *_: object) -> None:
    return None


def _transfer_args(data: bytes) -> tuple[str, str, int]:
    """(from, to, id) of `transferFrom` calldata: three 32-byte words after the selector."""
    assert data[:4] == _TRANSFER_FROM and len(data) == 100, "not transferFrom calldata"
    return (
        to_checksum_address(data[16:36]),
        to_checksum_address(data[48:68]),
        int.from_bytes(data[68:100], "big"),
    )


async def _moved(session: AsyncSession, tx: ChainTx, _minted: set[int]) -> None:
    holder, to, token_id = _transfer_args(tx.data)
    await session.execute(
        update(MintRequest)
        .where(MintRequest.token_id == f"0x{token_id:064x}", MintRequest.custodial.is_(True))
        .values(recipient=to)
    )
    log.info("custodial token %s moved from %s to %s", short_token_id(token_id), holder, to)


async def _not_moved(_session: AsyncSession, tx: ChainTx) -> None:
    # Dropped: the token did not move; the rotation's next run asks the chain and signs anew.
    log.warning("custody move %d was dropped; run the key rotation again", tx.id)


async def _refused(_session: AsyncSession, tx: ChainTx) -> None:
    holder, _, token_id = _transfer_args(tx.data)
    log.warning(
        "the contract refused to move custodial token %s from %s; it stays there",
        short_token_id(token_id),
        holder,
    )
