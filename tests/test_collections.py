"""Community collections on a real anvil: created by the factory from an admin's verified
wallet, owned by the community, receiving that community's mints (and only them), edition
drops as ERC-1155 balances, and the operator's admin role handed over."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from eth_account import Account
from sqlalchemy import select

from bot.chain.contract import DEFAULT_ADMIN_ROLE, MINTER_ROLE, Collection, CollectionParams
from bot.chain.transactions import send_and_confirm
from bot.chain.wallet import HotWallet
from bot.community_collections.metadata import CollectionText
from bot.community_collections.operator import hand_over, replace_metadata
from bot.community_collections.records import salt_of
from bot.config import load_settings
from bot.drops import DropKind
from bot.env_values import Secret
from bot.errors import DropClosed, NotAllowed, RequestRejected
from bot.hot_wallet_keys import ANVIL_DEV_KEYS
from bot.ports import Claimant
from bot.rotation import KeyRotation
from bot.runtime import Runtime
from db.models import CollectionStatus, Drop, MintRequest, Standard
from tests.platform_stub import RecordingPlatform
from tests.support import (
    DEV_ADMIN,
    DEV_MINTER,
    FEES,
    Inbox,
    answered,
    png,
    running,
    sign_message,
    submission,
)

pytestmark = pytest.mark.db
OWNER = Account.create()  # the community admin's own wallet
SECOND_OWNER = Account.create()
MEMBERS = [Account.create() for _ in range(5)]


@pytest.fixture
async def bot(factory_env: dict[str, str]) -> AsyncIterator[tuple[Runtime, Inbox]]:
    async with running(load_settings(factory_env)) as (runtime, inbox):
        runtime.platforms.add(RecordingPlatform("test", inbox))
        yield runtime, inbox


async def verified(runtime: Runtime, user_id: str, account: Any, platform: str = "test") -> None:
    """Link and verify `account` for the user, as /wallet link and /wallet verify do."""
    challenge = await runtime.wallets.challenge(platform, user_id, account.address)
    await runtime.wallets.verify(
        platform, user_id, user_id, sign_message(challenge.message, account)
    )


async def live_collection(runtime: Runtime, community: str, owner: Any, **changes: Any) -> Any:
    await verified(runtime, f"admin-{community}", owner)
    fields: dict[str, Any] = {
        "platform": "test",
        "community_id": community,
        "created_by": f"admin-{community}",
        "name": f"{community} art",
        "symbol": "ART",
        "royalty_bps": 500,
        **changes,
    }
    view = await runtime.collections.create(**fields)
    assert view.status == CollectionStatus.CREATING
    live = await runtime.collections.wait_live("test", community, 60)
    assert live is not None and live.status == CollectionStatus.LIVE, live
    return live


async def test_an_admin_without_a_verified_wallet_cannot_create_one(bot: tuple[Runtime, Inbox]):
    runtime, _ = bot
    with pytest.raises(NotAllowed, match="verified address"):
        await runtime.collections.create(
            platform="test", community_id="g", created_by="nobody", name="N", symbol="N"
        )
    # Linked but not verified (where the operator allows such links) is not enough either.
    runtime.wallets.allow_unverified = True
    await runtime.wallets.set_unverified("test", "half", "Half", OWNER.address)
    with pytest.raises(NotAllowed, match="verified address"):
        await runtime.collections.create(
            platform="test", community_id="g", created_by="half", name="N", symbol="N"
        )
    assert await runtime.collections.view("test", "g") is None


@pytest.mark.parametrize(
    ("symbol", "bps", "reason"),
    [("", 0, "symbol"), ("TOO-LONG!", 0, "symbol"), ("ART", 1001, "Royalties")],
)
async def test_bad_symbols_and_royalties_are_refused_clearly(
    bot: tuple[Runtime, Inbox], symbol: str, bps: int, reason: str
):
    runtime, _ = bot
    await verified(runtime, "admin", OWNER)
    with pytest.raises(RequestRejected, match=reason):
        await runtime.collections.create(
            platform="test",
            community_id="g",
            created_by="admin",
            name="Art",
            symbol=symbol,
            royalty_bps=bps,
        )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (CollectionText(external_link="javascript:alert(1)"), "external link"),
        (CollectionText(external_link="https://x.example/\n<script>"), "external link"),
        (CollectionText(image=b"GIF89a not really"), "not a picture"),
        (CollectionText(description="come @everyone"), "@everyone"),
    ],
)
async def test_bad_text_and_images_are_refused_and_nothing_is_recorded(
    bot: tuple[Runtime, Inbox], text: CollectionText, reason: str
):
    runtime, _ = bot
    await verified(runtime, "admin", OWNER)
    with pytest.raises(RequestRejected, match=reason):
        await runtime.collections.create(
            platform="test", community_id="g", created_by="admin", name="N", symbol="N", text=text
        )
    assert await runtime.collections.view("test", "g") is None


async def test_the_collection_belongs_to_the_community(bot: tuple[Runtime, Inbox], w3: Any):
    runtime, _ = bot
    text = CollectionText("Harbour art", "https://harbour.example", png(3, (16, 16)))
    view = await live_collection(runtime, "g1", OWNER, text=text)
    clone = Collection(w3, view.address)
    hot = runtime.chain.wallet.address
    assert await clone.contract.functions.owner().call() == OWNER.address
    receiver, amount = await clone.contract.functions.royaltyInfo(1, 10_000).call()
    assert (receiver, amount) == (OWNER.address, 500)
    assert await clone.is_minter(hot) and not await clone.is_admin(hot)
    assert await clone.is_admin(OWNER.address) and await clone.is_admin(DEV_ADMIN.address)
    assert await clone.contract.functions.name().call() == "g1 art"
    # contractURI points at the collection's metadata, stored like token metadata.
    uri = await clone.contract.functions.contractURI().call()
    assert uri == view.contract_uri
    document = json.loads(runtime.content.read_file(uri.removeprefix("ipfs://")))
    assert document == {
        "name": "g1 art",
        "description": "Harbour art",
        "external_link": "https://harbour.example",
        "image": f"ipfs://{view.image_cid}",
        "seller_fee_basis_points": 500,
        "fee_recipient": OWNER.address,
    }
    assert runtime.content.has(view.image_cid)
    # Asking again (a retried command) answers with the same collection.
    again = await runtime.collections.create(
        platform="test", community_id="g1", created_by="admin-g1", name="Other", symbol="O"
    )
    assert again.existing and again.address == view.address and again.name == "g1 art"


async def test_each_community_mints_into_its_own_collection_in_one_window(
    bot: tuple[Runtime, Inbox], w3: Any, collection: Collection
):
    runtime, inbox = bot
    first = await live_collection(runtime, "g1", OWNER)
    second = await live_collection(runtime, "g2", SECOND_OWNER, symbol="TWO")
    subs = [
        submission("1", community_id="g1"),
        submission("2", community_id="g2"),
        submission("3", community_id="g-shared"),
        submission("4", community_id="g1"),
    ]
    for sub in subs:
        await runtime.service.submit(sub)
    results = [await answered(runtime, inbox, sub.key, timeout=60) for sub in subs]
    assert all(r.minted for r in results)
    where = [first.address, second.address, collection.address, first.address]
    for result, address in zip(results, where, strict=True):
        assert result.token_id is not None
        assert await Collection(w3, address).owner_of(result.token_id) == DEV_MINTER.address
    # ... and nowhere else: the shared collection holds only the third.
    assert await collection.contract.functions.balanceOf(DEV_MINTER.address).call() == 1
    async with runtime.sessions() as session:
        contracts = list(
            await session.scalars(select(MintRequest.contract).order_by(MintRequest.id))
        )
    assert contracts == [first.address, second.address, None, first.address]


async def test_an_edition_drop_mints_balances_once_per_claim(bot: tuple[Runtime, Inbox], w3: Any):
    runtime, inbox = bot
    await live_collection(runtime, "g1", OWNER)
    drop = await runtime.drops.create_drop(
        platform="test",
        community_id="g1",
        created_by="admin-g1",
        name="Harbour",
        image=png(7, (16, 16)),
        supply=5,
        kind=DropKind.EDITION,
    )
    assert drop.kind == DropKind.EDITION
    for i, member in enumerate(MEMBERS):
        await verified(runtime, f"m{i}", member)
    claims = await asyncio.gather(
        *(
            runtime.drops.claim(drop.id, Claimant("test", f"m{i}"), f"m{i}", source=f"click-{i}")
            for i in range(5)
        )
    )
    # The first click, delivered again, is the same claim: no sixth edition.
    again = await runtime.drops.claim(drop.id, Claimant("test", "m0"), "m0", source="click-0")
    assert again.duplicate and again.edition == claims[0].edition
    assert sorted(c.edition for c in claims) == [1, 2, 3, 4, 5]
    assert len({c.token_id for c in claims}) == 1  # one token ID for the artwork
    results = [await answered(runtime, inbox, c.key, timeout=60) for c in claims]
    assert all(r.minted for r in results)
    editions = await runtime.collections.view("test", "g1", Standard.ERC1155)
    assert editions is not None and editions.live
    contract = runtime.service.chain.erc1155(editions.address)
    for member in MEMBERS:
        assert await contract.balance_of(member.address, claims[0].token_id) == 1
    assert await contract.minted(claims[0].token_id, [1, 2, 3, 4, 5, 6]) == {1, 2, 3, 4, 5}
    async with runtime.sessions() as session:
        row = await session.get(Drop, drop.id)
    assert row is not None
    assert await contract.uri(claims[0].token_id) == f"ipfs://{row.metadata_cid}"


async def test_handover_leaves_the_owner_alone_in_charge(bot: tuple[Runtime, Inbox], w3: Any):
    runtime, _ = bot
    view = await live_collection(runtime, "g1", OWNER)
    clone = Collection(w3, view.address)
    stranger = HotWallet(Secret(ANVIL_DEV_KEYS[3]))
    with pytest.raises(NotAllowed, match="created with the admin"):
        await hand_over(runtime.collections, "test", "g1", stranger, FEES)
    with pytest.raises(RequestRejected, match="no live collection"):
        await hand_over(runtime.collections, "test", "elsewhere", stranger, FEES)
    operator = HotWallet(Secret(ANVIL_DEV_KEYS[1]))
    # Before handing over, the operator may point the collection at a new document.
    text = CollectionText("New words", image=png(4, (16, 16)))
    [changed] = await replace_metadata(runtime.collections, "test", "g1", operator, FEES, text)
    assert changed.contract_uri != view.contract_uri and changed.image_cid is not None
    assert await clone.contract.functions.contractURI().call() == changed.contract_uri
    handed = await hand_over(runtime.collections, "test", "g1", operator, FEES)
    assert [v.handed_over for v in handed] == [True]
    assert not await clone.is_admin(DEV_ADMIN.address)
    assert await clone.is_admin(OWNER.address)
    assert await clone.contract.functions.hasRole(MINTER_ROLE, DEV_MINTER.address).call()
    # Afterwards only the owner can: the URI is stored and named for them.
    with pytest.raises(NotAllowed, match="its owner sets contractURI to ipfs://"):
        await replace_metadata(runtime.collections, "test", "g1", operator, FEES, text)
    # Handing over again changes nothing and says so the same way.
    again = await hand_over(runtime.collections, "test", "g1", operator, FEES)
    assert [v.handed_over for v in again] == [True]
    assert await clone.contract.functions.hasRole(DEFAULT_ADMIN_ROLE, OWNER.address).call()


async def test_a_refused_factory_call_fails_the_requests_waiting_for_it(
    bot: tuple[Runtime, Inbox], w3: Any
):
    """A clone address already taken (here: created behind the bot's back, with the bot's own
    hot wallet and salt) makes the factory call revert: the collection is marked failed, and
    an edition drop's claims that waited for it fail with a reason instead of waiting
    forever."""
    runtime, inbox = bot
    await verified(runtime, "admin-g1", OWNER)
    factory = runtime.collections.factory
    assert factory is not None
    salt = salt_of("test", "g1", Standard.ERC1155)
    params = CollectionParams("x", "X", OWNER.address, DEV_ADMIN.address, DEV_MINTER.address,
                              OWNER.address, 0, "")  # fmt: skip
    minter = HotWallet(Secret(ANVIL_DEV_KEYS[0]))
    await send_and_confirm(
        w3, minter, {"to": factory.address, "data": factory.encode_create_editions(salt, params)},
        FEES,
    )  # fmt: skip
    await live_collection(runtime, "g1", OWNER)
    drop = await runtime.drops.create_drop(
        platform="test", community_id="g1", created_by="admin-g1", name="Taken",
        image=png(8, (16, 16)), supply=2, kind=DropKind.EDITION,
    )  # fmt: skip
    claim = await runtime.drops.claim(drop.id, Claimant("test", "m0"), "m0", source="c0")
    result = await answered(runtime, inbox, claim.key, timeout=60)
    assert not result.minted and result.failure_reason is not None
    assert "collection could not be created" in result.failure_reason
    editions = await runtime.collections.view("test", "g1", Standard.ERC1155)
    assert editions is not None and editions.status == CollectionStatus.FAILED
    # Later claims are refused at once rather than queued for a contract that never was.
    with pytest.raises(DropClosed, match="could not be created"):
        await runtime.drops.claim(drop.id, Claimant("test", "m1"), "m1", source="c1")


async def test_a_key_rotation_moves_the_minter_role_on_community_collections(
    bot: tuple[Runtime, Inbox], w3: Any
):
    runtime, _ = bot
    ours = await live_collection(runtime, "g1", OWNER)
    theirs = await live_collection(runtime, "g2", SECOND_OWNER, symbol="TWO")
    operator = HotWallet(Secret(ANVIL_DEV_KEYS[1]))
    await hand_over(runtime.collections, "test", "g2", operator, FEES)
    new = Account.from_key(ANVIL_DEV_KEYS[6]).address
    said: list[str] = []
    await KeyRotation(runtime, operator, new, said.append).run()
    clone, handed = Collection(w3, ours.address), Collection(w3, theirs.address)
    assert await clone.is_minter(new) and not await clone.is_minter(DEV_MINTER.address)
    # The community that took its collection over grants the role itself: it is told so.
    assert not await handed.is_minter(new)
    assert any(theirs.address in line and "its owner must grant" in line for line in said)
