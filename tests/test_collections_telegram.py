"""Community collections end to end on Telegram: `python -m bot run` against the Bot API
emulator and anvil. Group admins create their group's collection from chat, members mint into
it (each group into its own, in one batch window), an edition drop is claimed, re-delivered
and withdrawn from custody, and `collection handover` leaves the group's owner in charge."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import AsyncWeb3

from bot.chain.contract import Collection
from bot.hot_wallet_keys import ANVIL_DEV_KEYS
from bot.runtime import Runtime
from db.models import CollectionStatus, Standard
from tests.emulators.telegram import TelegramServer
from tests.support import (
    DEV_ADMIN,
    DEV_MINTER,
    balance,
    edition_token,
    hand_over_by_cli,
    observed,
    png,
    run_cli,
)
from tests.test_telegram import final_reply, link_wallet, minted, polling_bot, readable

pytestmark = pytest.mark.db
OWNER = Account.create()  # the first group's admin's own wallet
SECOND_OWNER = Account.create()
MEMBERS = [Account.create() for _ in range(5)]


async def said(
    telegram: TelegramServer, chat: dict[str, Any], user: dict[str, Any], text: str
) -> str:
    """`user` writes `text` in `chat`; the bot's reply, as it reads."""
    message = telegram.send_text(chat, user, text)
    await telegram.wait_for(lambda: telegram.replies_to(message))
    return readable(telegram.replies_to(message)[0])


async def created_live(
    telegram: TelegramServer,
    runtime: Runtime,
    group: dict[str, Any],
    admin: dict[str, Any],
    name: str,
    symbol: str,
) -> str:
    """`admin` creates the group's collection from chat; its address once it is live."""
    answer = await said(telegram, group, admin, f"/collection_create {name} | {symbol} | 5")
    recorded = await runtime.collections.view("telegram", str(group["id"]))
    assert recorded is not None, answer
    assert f"{name} ({symbol}) at {recorded.address}: being created" in answer
    live = await runtime.collections.wait_live("telegram", str(group["id"]), 60)
    assert live is not None and live.status == CollectionStatus.LIVE, live
    return recorded.address


async def minted_token(telegram: TelegramServer, photo: dict[str, Any], name: str) -> int:
    """The token ID the minted answer to `photo` links to."""
    assert minted(await final_reply(telegram, photo), name)
    (reply,) = telegram.replies_to(photo)
    found = re.search(r'href="http://127\.0\.0\.1:8080/token/(\d+)"', reply["text"])
    assert found is not None, reply["text"]
    return int(found[1])


async def test_each_group_creates_its_collection_mints_into_it_and_hands_it_over(
    telegram: TelegramServer,
    world: dict[str, Any],
    factory_env: dict[str, str],
    collection: Collection,
    w3: AsyncWeb3,
    tmp_path: Path,
):
    group, ana, ada = world["group"], world["Ana"], world["Ada"]
    bea = telegram.user("Bea")
    harbour = telegram.group("Harbour", admins=[bea])
    # Long enough that both groups' mints are queued inside one batch window.
    env = {**factory_env, "BATCH_MAX_WAIT_S": "2"}
    async with polling_bot(telegram, env, tmp_path / "bot.log"), observed(env) as runtime:
        assert "Only this chat's administrators" in await said(
            telegram, group, ada, "/collection_create Mine | MINE | 5"
        )
        refused = await said(telegram, group, ana, "/collection_create Art club | ART | 5")
        assert "your own verified address: link one with /wallet link" in refused
        assert "mints into the shared collection" in await said(telegram, group, ana, "/collection")
        assert await runtime.collections.view("telegram", str(group["id"])) is None

        await asyncio.gather(
            link_wallet(telegram, telegram.private(ana), ana, OWNER),
            link_wallet(telegram, telegram.private(bea), bea, SECOND_OWNER),
        )
        first, second = await asyncio.gather(
            created_live(telegram, runtime, group, ana, "Art club", "ART"),
            created_live(telegram, runtime, harbour, bea, "Harbour art", "HARB"),
        )
        shown = await said(telegram, group, ana, "/collection")
        assert f"at {first}: live: this community's mints and drops go to it" in shown
        assert f"Owner and royalty receiver: {OWNER.address} (5 % royalties)" in shown

        ours = telegram.send_photo(group, ada, [png(801)], "/mint Pier")
        theirs = telegram.send_photo(harbour, world["Zoe"], [png(802)], "/mint Lighthouse")
        ours_id, theirs_id = await asyncio.gather(
            minted_token(telegram, ours, "Pier"), minted_token(telegram, theirs, "Lighthouse")
        )
        assert await balance(collection, DEV_MINTER.address) == 0  # not the shared collection
        assert await Collection(w3, first).owner_of(ours_id) == DEV_MINTER.address
        assert await Collection(w3, second).owner_of(theirs_id) == DEV_MINTER.address

        await hand_over_by_cli(env, "telegram", str(group["id"]), w3, OWNER.address, first, second)
        shown = await said(telegram, group, ana, "/collection")
        assert "The operator has handed its admin role over" in shown
        assert "handed" not in await said(telegram, harbour, bea, "/collection")


async def test_an_edition_drop_of_five_is_claimed_redelivered_and_withdrawn_from_custody(
    telegram: TelegramServer,
    world: dict[str, Any],
    factory_env: dict[str, str],
    tmp_path: Path,
):
    group, ana = world["group"], world["Ana"]
    linked = [world["Ada"], world["Max"], world["Zoe"], telegram.user("Kit")]
    zed, late = telegram.user("Zed"), telegram.user("Lou")  # Zed has no wallet yet

    def minted_notices() -> int:
        chats = [group, *(telegram.private(u) for u in [*linked, zed])]
        return sum(
            "Minted Harbour #" in readable(m)
            for c in chats
            for m in telegram.in_chat(c)
            if "text" in m
        )

    async def press(user: dict[str, Any]) -> tuple[dict[str, Any], str]:
        query = telegram.press(user, announcement, button)
        await telegram.wait_for(lambda: query["id"] in telegram.callback_answers)
        return query, str(telegram.callback_answers[query["id"]]["text"])

    async with (
        polling_bot(telegram, factory_env, tmp_path / "bot.log"),
        observed(factory_env) as runtime,
    ):
        await asyncio.gather(
            link_wallet(telegram, telegram.private(ana), ana, OWNER),
            *(
                link_wallet(telegram, telegram.private(u), u, a)
                for u, a in zip(linked, MEMBERS, strict=False)
            ),
        )
        await created_live(telegram, runtime, group, ana, "Art club", "ART")
        telegram.send_photo(group, ana, [png(810)], "/drop_create Harbour | 5 edition | at dusk")
        await telegram.wait_for(lambda: any(m.get("photo") for m in telegram.in_chat(group)))
        announcement = next(m for m in telegram.in_chat(group) if m.get("photo"))
        button = announcement["reply_markup"]["inline_keyboard"][0][0]["callback_data"]

        query, first = await press(linked[0])
        update = next(u for u in telegram.delivered if u.get("callback_query") is query)
        telegram.deliver(update)  # the same press delivered again
        answers = await asyncio.gather(*(press(u) for u in [*linked[1:], zed]))
        texts = [first, *(text for _, text in answers)]
        assert sorted(re.search(r"#(\d) of 5", t)[1] for t in texts) == list("12345"), texts
        assert "sold out" in (await press(late))[1].lower()
        await telegram.wait_for(lambda: minted_notices() == 5, timeout=60)
        await telegram.wait_for(lambda: not telegram.unconfirmed())
        await asyncio.sleep(1)  # an answer to the second delivery would have come by now
        assert minted_notices() == 5
        answered = telegram.sent("answerCallbackQuery")
        assert [c.params["callback_query_id"] for c in answered].count(query["id"]) == 1

        editions = await runtime.collections.view("telegram", str(group["id"]), Standard.ERC1155)
        assert editions is not None and editions.live and editions.owner == OWNER.address
        contract = runtime.service.chain.erc1155(editions.address)
        token_id = await edition_token(runtime)
        assert await contract.minted(token_id, [1, 2, 3, 4, 5, 6]) == {1, 2, 3, 4, 5}
        for account in MEMBERS[:4]:
            assert await contract.balance_of(account.address, token_id) == 1
        assert await contract.balance_of(DEV_MINTER.address, token_id) == 1  # Zed's, in custody

        private = telegram.private(zed)
        await link_wallet(telegram, private, zed, MEMBERS[4])
        withdraw = telegram.send_text(private, zed, "/withdraw")
        await telegram.wait_for(
            lambda: "delivered" in "".join(readable(m) for m in telegram.replies_to(withdraw))
        )
        assert f"Withdrawing to {MEMBERS[4].address}" in readable(telegram.replies_to(withdraw)[0])
        assert await contract.balance_of(MEMBERS[4].address, token_id) == 1
        assert await contract.balance_of(DEV_MINTER.address, token_id) == 0
        assert await contract.minted(token_id, [6]) == set()  # still no sixth

        # Handing over covers the group's editions contract as well as its collection.
        handover = await asyncio.to_thread(
            run_cli,
            *("collection", "handover", "--platform", "telegram", "--community", str(group["id"])),
            env=factory_env,
            stdin=ANVIL_DEV_KEYS[1] + "\n",
        )
        assert handover.returncode == 0, handover.output
        assert handover.stdout.count("handed its admin role over") == 2, handover.stdout
        assert not await contract.is_admin(DEV_ADMIN.address)
        assert await contract.is_admin(OWNER.address)
