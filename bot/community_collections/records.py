"""What is recorded of a community's collection, as admins are told it and as the mint
pipeline asks for it: which collection each community mints in, and whether a contract is
live."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from eth_utils.crypto import keccak
from sqlalchemy import ColumnElement, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_, _
from db.models import CollectionStatus, CommunityCollection, MintRequest, Standard

# The operator's own editions contract, for edition drops of communities without a collection
# of their own: a row like a community's, under this platform and community.
SHARED = ("", "")


@dataclass(frozen=True)
class CollectionView:
    """A community's collection as its admins are told it."""

    platform: str
    community_id: str
    standard: Standard
    address: str
    name: str
    symbol: str
    owner: str
    royalty_bps: int
    status: CollectionStatus
    contract_uri: str
    image_cid: str | None
    failure_reason: str | None
    handed_over: bool
    # Asked before: this is the collection the first request recorded.
    existing: bool = False

    @property
    def live(self) -> bool:
        return self.status == CollectionStatus.LIVE


def salt_of(platform: str, community_id: str, standard: Standard) -> bytes:
    """The factory salt of a community's contract: one per community, chain and standard."""
    return keccak(text=f"mintbot:{platform}:{community_id}:{standard}")


def view_of(row: CommunityCollection, *, existing: bool = False) -> CollectionView:
    return CollectionView(
        platform=row.platform,
        community_id=row.community_id,
        standard=Standard(row.standard),
        address=row.address,
        name=row.name,
        symbol=row.symbol,
        owner=row.owner,
        royalty_bps=row.royalty_bps,
        status=CollectionStatus(row.status),
        contract_uri=f"ipfs://{row.metadata_cid}",
        image_cid=row.image_cid,
        failure_reason=row.failure_reason,
        handed_over=row.handed_over_at is not None,
        existing=existing,
    )


async def live_collections(
    session: AsyncSession, communities: Iterable[tuple[str, str | None]]
) -> dict[tuple[str, str], str]:
    """The live ERC-721 collection of each of `communities` (platform, community) that has
    one, by community."""
    wanted = {(p, c) for p, c in communities if c is not None}
    if not wanted:
        return {}
    rows = await session.execute(
        select(
            CommunityCollection.platform,
            CommunityCollection.community_id,
            CommunityCollection.address,
        ).where(
            CommunityCollection.standard == Standard.ERC721,
            CommunityCollection.status == CollectionStatus.LIVE,
            tuple_(CommunityCollection.platform, CommunityCollection.community_id).in_(wanted),
        )
    )
    return {(p, c): address for p, c, address in rows.all()}


async def failed_contracts(session: AsyncSession, addresses: Iterable[str | None]) -> set[str]:
    """Those of `addresses` whose creation failed: nothing can be minted there."""
    wanted = {a for a in addresses if a is not None}
    if not wanted:
        return set()
    rows = await session.scalars(
        select(CommunityCollection.address).where(
            CommunityCollection.address.in_(wanted),
            CommunityCollection.status == CollectionStatus.FAILED,
        )
    )
    return set(rows)


def mintable_contract() -> ColumnElement[bool]:
    """The condition on a mint request: its contract is the shared collection or live."""
    live = select(CommunityCollection.address).where(
        CommunityCollection.status == CollectionStatus.LIVE
    )
    return MintRequest.contract.is_(None) | MintRequest.contract.in_(live)


# The failure_reason stored when the factory's transaction reverts: English in the column (a
# readable one), and a msgid, so `describe` shows it in the admin's language.
REVERTED = N_("The factory refused to create the collection (the transaction reverted).")
STATUS_TEXT = {
    CollectionStatus.CREATING: N_(
        "being created (this community's mints use the shared collection until it is live)"
    ),
    CollectionStatus.LIVE: N_("live: this community's mints and drops go to it"),
    CollectionStatus.FAILED: N_("not created"),
}


def describe(view: CollectionView) -> str:
    """The collection in plain text, in the current locale, as every platform shows it (each
    escapes it its way)."""
    lines = [
        _("{name} ({symbol}) at {address}: {status}.").format(
            name=view.name,
            symbol=view.symbol,
            address=view.address,
            status=_(STATUS_TEXT[view.status]),
        ),
        # The percentage as one value: "% r…" would read as a printf conversion to gettext.
        _("Owner and royalty receiver: {owner} ({royalties} royalties).").format(
            owner=view.owner, royalties=f"{view.royalty_bps / 100:g} %"
        ),
        _("Collection metadata: {uri}").format(uri=view.contract_uri),
    ]
    if view.failure_reason:
        # Stored in English (a readable column); a text the bot stores is a msgid, so it is
        # shown translated, and anything else as it is.
        lines.append(_(view.failure_reason))
    if view.handed_over:
        lines.append(
            _("The operator has handed its admin role over: the owner alone administers it.")
        )
    if view.existing:
        lines.insert(0, _("This community has a collection already:"))
    return "\n".join(lines)
