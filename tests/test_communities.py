"""Who may mint where: community settings, roles, curators, pauses and rate limits (the core
decisions both chat platforms share)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot import communities as communities_module
from bot.communities import KEEP, AnnounceTarget, Asker, Communities, check_announce_target
from bot.errors import MintingPaused, NotAllowed, RateLimited
from bot.runtime import Runtime
from tests.support import Inbox, answered, submission

pytestmark = pytest.mark.db

MEMBER = Asker("u1")
CURATOR = Asker("u2", frozenset({"curators"}))
ADMIN = Asker("u3", is_admin=True)


async def admit(runtime: Runtime, message_id: str, asker: Asker, author: str = "u1") -> bool:
    return await runtime.service.admit(
        ("test", "chat", message_id), "guild", asker, author_id=author
    )


async def test_anyone_may_mint_their_own_image_by_default(bot: tuple[Runtime, Inbox]):
    runtime, _ = bot
    assert await admit(runtime, "1", MEMBER)


async def test_someone_elses_message_needs_the_curator_role(bot: tuple[Runtime, Inbox]):
    runtime, _ = bot
    with pytest.raises(NotAllowed, match="author or a curator"):
        await admit(runtime, "1", CURATOR, author="u9")  # no curator role configured yet
    await runtime.service.communities.configure("test", "guild", curator_role_id="curators")
    assert await admit(runtime, "1", CURATOR, author="u9")
    with pytest.raises(NotAllowed):
        await admit(runtime, "1", MEMBER, author="u9")
    assert await admit(runtime, "1", ADMIN, author="u9")


async def test_channels_minter_role_and_pause(bot: tuple[Runtime, Inbox]):
    runtime, _ = bot
    communities = runtime.service.communities
    await communities.configure("test", "guild", allowed_channels=("elsewhere",))
    with pytest.raises(NotAllowed, match="not enabled in this channel"):
        await admit(runtime, "1", MEMBER)
    config = await communities.configure(
        "test", "guild", allowed_channels=(), minter_role_id="minters"
    )
    assert config.allowed_channels == () and config.minter_role_id == "minters"
    with pytest.raises(NotAllowed, match="minter role"):
        await admit(runtime, "1", MEMBER)
    assert await admit(runtime, "1", Asker("u1", frozenset({"minters"})))
    config = await communities.configure("test", "guild", minter_role_id=None, paused=True)
    assert config.minter_role_id is None and config.paused
    with pytest.raises(MintingPaused, match="paused"):
        await admit(runtime, "1", MEMBER)
    # KEEP leaves a setting alone
    config = await communities.configure("test", "guild", curator_role_id=KEEP, paused=False)
    assert not config.paused


async def test_a_known_key_is_not_admitted_again_even_when_paused(bot: tuple[Runtime, Inbox]):
    """A replayed or double-clicked message: the answer is already on its way."""
    runtime, inbox = bot
    sub = submission("5")
    await runtime.service.submit(sub)
    await runtime.service.communities.configure("test", "guild", paused=True)
    assert not await admit(runtime, "5", MEMBER)
    await answered(runtime, inbox, sub.key)


async def test_the_rate_limit_says_when_to_try_again(bot: tuple[Runtime, Inbox]):
    runtime, _ = bot
    limit = runtime.settings.user_mints_per_minute
    for i in range(limit):
        await runtime.service.submit(submission(str(10 + i)))
    with pytest.raises(RateLimited) as refused:
        await admit(runtime, "99", MEMBER)
    assert 1 <= refused.value.retry_after <= 60
    assert f"try again in {refused.value.retry_after} s" in str(refused.value)
    assert await admit(runtime, "99", Asker("someone-else"), author="someone-else")


async def test_the_check_before_an_acknowledgement_decides_like_the_full_one(
    bot: tuple[Runtime, Inbox],
):
    """`check_may_mint` (cached settings, no rate limits) refuses what `check_mint` refuses,
    and sees this process's own configuration changes at once."""
    runtime, _ = bot
    communities = runtime.service.communities
    await communities.check_may_mint("test", "guild", "chat", MEMBER, author_id="u1")
    await communities.configure("test", "guild", paused=True)
    with pytest.raises(MintingPaused):
        await communities.check_may_mint("test", "guild", "chat", MEMBER, author_id="u1")
    await communities.configure("test", "guild", paused=False, curator_role_id="curators")
    await communities.check_may_mint("test", "guild", "chat", CURATOR, author_id="u9")
    with pytest.raises(NotAllowed, match="author or a curator"):
        await communities.check_may_mint("test", "guild", "chat", MEMBER, author_id="u9")


async def test_settings_checked_before_acknowledging_refuse_only_when_just_read(
    bot: tuple[Runtime, Inbox], monkeypatch: pytest.MonkeyPatch
):
    """Another process (here: a second Communities on the same database) changes the settings.
    Passing on old settings is safe (the full check after the acknowledgement reads them
    fresh); refusing on them is not: a refusal on settings older than the cache's limit is
    decided again on settings read now."""
    runtime, _ = bot
    here = runtime.service.communities
    elsewhere = Communities(runtime.sessions, user_mints_per_minute=0, community_mints_per_minute=0)
    await elsewhere.configure("test", "guild", paused=True)
    with pytest.raises(MintingPaused):  # never seen here: read now
        await here.check_may_mint("test", "guild", "chat", MEMBER, author_id="u1")

    await elsewhere.configure("test", "guild", paused=False)
    monkeypatch.setattr(communities_module, "CACHED_CONFIG_S", 0.0)  # what is cached is old
    await here.check_may_mint("test", "guild", "chat", MEMBER, author_id="u1")  # read again

    await elsewhere.configure("test", "guild", paused=True)
    monkeypatch.setattr(communities_module, "CACHED_CONFIG_S", 3600.0)  # ... and now recent
    await here.check_may_mint("test", "guild", "chat", MEMBER, author_id="u1")  # let through
    with pytest.raises(MintingPaused):  # and refused by the full check, which reads them now
        await here.check_mint("test", "guild", "chat", MEMBER, author_id="u1")


def test_mints_are_announced_only_here_or_where_the_admin_also_administers():
    here = AnnounceTarget("c1", "guild", asker_is_admin=False, bot_can_post=True)
    check_announce_target("guild", here)
    theirs = AnnounceTarget("c2", "another guild", asker_is_admin=False, bot_can_post=True)
    with pytest.raises(NotAllowed, match="not an administrator of that one"):
        check_announce_target("guild", theirs)
    check_announce_target("guild", replace(theirs, asker_is_admin=True))
    with pytest.raises(NotAllowed, match="I cannot post in that chat"):
        check_announce_target("guild", replace(here, bot_can_post=False))
