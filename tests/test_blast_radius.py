"""A blast radius of one: whatever a member (or an admin) sends fails only their own request.

Property-based: Hypothesis draws hostile input for each surface (image bytes, names and
descriptions, addresses, airdrop rows, drop parameters) and sends it at once with good
requests through the real pipeline on the session's anvil. For every example:

- every good request is minted exactly once (on chain: one mint event, owned by the right
  holder, its metadata naming its message) and answered once;
- every hostile one is refused with a reason a member can read, or minted correctly;
- a new request sent afterwards is minted and answered.

The bot keeps running across a test's examples (each uses fresh message keys); after an
example that failed it is started afresh on a new database, so the next example's verdict is
its own and Hypothesis shrinks to the input that is really at fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import dataclasses
import io
import itertools
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import select
from web3 import AsyncWeb3, Web3

from bot.airdrop import HEADERS, read_rows, run_airdrop
from bot.chain.contract import Collection
from bot.config import load_settings
from bot.drops import ClaimResult, gates_for
from bot.errors import RequestRejected
from bot.minting.types import MintHandle, MintResult, MintSubmission
from bot.ports import Claimant
from bot.runtime import Runtime
from db.models import MintRequest, Phase, PlatformUser, utcnow
from tests import hostile
from tests.hostile import Expect, MintAsk
from tests.platform_stub import RecordingPlatform
from tests.support import DEV_MINTER, Inbox, running, scratch_database

pytestmark = [pytest.mark.db, pytest.mark.timeout(900)]

# Without progress for this long (no request of the example changed phase or counted a
# retry), the pipeline is stuck: the example fails rather than waiting for ever. Well above the
# CPU time one image may take, since a slow image alone may hold its group that long.
STALL_S = 30.0
MINT_TOPIC = "0x" + Web3.keccak(text="Transfer(address,address,uint256)").hex().removeprefix("0x")
ZERO_TOPIC = "0x" + "00" * 32
# What an internal fault looks like when it leaks into a member's answer.
_INTERNAL = re.compile(r"Traceback|\b\w*(Error|Exception)\b|^\W*\w+\W*$")
# A reason must fit in a chat message beside the rest of the answer.
REASON_MAX = 1000
_keys = itertools.count()


def is_a_reason(text: object) -> bool:
    """Words a member can read: not empty, not a bare exception, short enough to be sent."""
    return (
        isinstance(text, str)
        and 10 <= len(text) <= REASON_MAX
        and " " in text
        and not _INTERNAL.search(text)
    )


# ----- the bot under test ------------------------------------------------------------------


class Blast:
    """One running bot shared by a test's examples, started afresh after a failed one."""

    def __init__(self, env: dict[str, str], directory: Path, collection: Collection) -> None:
        self.env = env
        self.directory = directory
        self.collection = collection
        self.runs = 0
        self._stack: contextlib.AsyncExitStack | None = None
        self._bot: tuple[Runtime, Inbox] | None = None

    async def _start(self) -> tuple[Runtime, Inbox]:
        await self.close()
        stack = contextlib.AsyncExitStack()
        self._stack = stack
        env = dict(self.env)
        if self.runs:  # a failed example may have left poisoned rows: a new database
            env["DATABASE_URL"] = await stack.enter_async_context(
                scratch_database(self.directory, f"restart{self.runs}")
            )
        self.runs += 1
        runtime, inbox = await stack.enter_async_context(running(load_settings(env)))
        runtime.platforms.add(RecordingPlatform("test", inbox))
        self._bot = runtime, inbox
        return self._bot

    async def close(self) -> None:
        stack, self._stack, self._bot = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    @contextlib.asynccontextmanager
    async def example(self) -> AsyncIterator[Example]:
        """A running bot for one example; if the example fails, the next one gets a new bot."""
        runtime, inbox = self._bot or await self._start()
        example = Example(runtime, inbox, self.collection, f"blast{next(_keys)}")
        example.first_block = await self.collection.w3.eth.block_number + 1
        try:
            yield example
        except BaseException:
            self._bot = None
            raise


@dataclass
class Sent:
    """One request of an example and what became of it."""

    ask: MintAsk
    submission: MintSubmission
    linked: str | None = None  # the address `/wallet set` linked, if it did
    link_refusal: str | None = None
    refusal: str | None = None  # submit refused it with this reason
    fault: BaseException | None = None  # submit raised something that is not a reason
    handle: MintHandle | None = None


@dataclass
class Example:
    runtime: Runtime
    inbox: Inbox
    collection: Collection
    chat: str
    first_block: int = 0
    problems: list[str] = field(default_factory=list)
    _n: itertools.count[int] = field(default_factory=itertools.count)

    def fail_if_problems(self) -> None:
        assert not self.problems, "\n".join(self.problems)

    def submission(self, ask: MintAsk, member: str) -> MintSubmission:
        return MintSubmission(
            platform="test",
            chat_id=self.chat,
            message_id=str(next(self._n)),
            requester_id=member,
            requester_name=ask.requester_name,
            image=ask.image,
            name=ask.name,
            description=ask.description,
            recipient=ask.recipient,
        )

    async def send(self, ask: MintAsk) -> Sent:
        """Link the member's address if the ask says so, then submit, as an adapter would."""
        member = f"{self.chat}-member{next(self._n)}"
        ask = ask.placed(self.collection.address)
        sent = Sent(ask, self.submission(ask, member))
        try:
            if ask.link is not None:
                try:
                    sent.linked = await self.runtime.wallets.set_unverified(
                        "test", member, ask.requester_name, ask.link
                    )
                except RequestRejected as err:
                    sent.link_refusal = str(err)
            sent.handle = await self.runtime.service.submit(sent.submission)
        except RequestRejected as err:
            sent.refusal = str(err)
        except Exception as err:
            sent.fault = err
        return sent

    async def settle(self, keys: dict[str, int], what: Callable[[str], str]) -> None:
        """Wait until every request (key -> request ID) is recorded as answered; fail if the
        pipeline makes no progress on them (no phase changed, no retry counted) for STALL_S
        seconds."""
        last: dict[int, str] = {}
        still = asyncio.get_running_loop().time()
        while True:
            async with self.runtime.sessions() as session:
                # A retry counted against a request is progress too: isolating a culprit
                # takes a few bounded rounds.
                now = {
                    row.id: f"{row.phase} after {row.attempts} tries, answered {row.answered_at}"
                    for row in await session.execute(
                        select(
                            MintRequest.id,
                            MintRequest.phase,
                            MintRequest.attempts,
                            MintRequest.answered_at,
                        ).where(MintRequest.id.in_(list(keys.values())))
                    )
                }
            if all(not state.endswith("None") for state in now.values()):
                return
            clock = asyncio.get_running_loop().time()
            if now != last:
                last, still = now, clock
            elif clock - still > STALL_S:
                raise AssertionError(
                    f"no answer after {STALL_S:.0f} s without progress for:\n"
                    + "\n".join(
                        f"  {what(k)}: {now.get(i)}"
                        for k, i in keys.items()
                        if now.get(i, "None").endswith("None")
                    )
                )
            await asyncio.sleep(0.1)

    async def minted_keys(self) -> Counter[str]:
        """The message key of every token minted since the example began, from the chain:
        mint events, each token's URI, its metadata's source."""
        w3: AsyncWeb3[Any] = self.collection.w3
        logs = await w3.eth.get_logs(
            {
                "address": self.collection.address,  # type: ignore[typeddict-item]
                "fromBlock": self.first_block,
                "toBlock": "latest",
                "topics": [MINT_TOPIC, ZERO_TOPIC],  # type: ignore[list-item]
            }
        )
        keys: Counter[str] = Counter()
        for log in logs:
            token_id = int.from_bytes(log["topics"][3], "big")
            uri = await self.collection.token_uri(token_id)
            metadata = json.loads(self.runtime.content.read_file(uri.removeprefix("ipfs://")))
            source = metadata["properties"]["source"]
            keys[f"{source['platform']}:{source['chat_id']}:{source['message_id']}"] += 1
        return keys

    async def check_token(self, result: MintResult, holder: str, label: str) -> dict[str, Any]:
        """The answer's token is on chain, held by `holder`, pointing at its metadata; returns
        the metadata."""
        if result.token_id is None or not await self.collection.exists(result.token_id):
            self.problems.append(f"{label}: answered as minted, but its token is not on chain")
            return {}
        owner = await self.collection.owner_of(result.token_id)
        if owner != holder:
            self.problems.append(f"{label}: token held by {owner}, expected {holder}")
        uri = await self.collection.token_uri(result.token_id)
        if uri != f"ipfs://{result.metadata_cid}":
            self.problems.append(f"{label}: token URI {uri} is not its metadata")
        document: dict[str, Any] = json.loads(
            self.runtime.content.read_file(result.metadata_cid or "")
        )
        return document

    async def probe(self) -> None:
        """The pipeline still takes a new request and mints it."""
        sent = await self.send(hostile.good_ask(next(_keys) + 10**9))
        assert sent.handle is not None, f"a new request afterwards: {sent.refusal or sent.fault}"
        await self.settle({sent.submission.key: sent.handle.request_id}, lambda _: "probe")
        result = self.inbox.for_key(sent.submission.key)[0]
        assert result.minted, f"a new request afterwards was not minted: {result.failure_reason}"


# ----- mint requests -----------------------------------------------------------------------


async def check_mint_case(blast: Blast, case: hostile.MintCase) -> None:
    async with blast.example() as ex:
        sent = await asyncio.gather(*(ex.send(ask) for ask in case.asks))
        labels = {s.submission.key: f"{s.ask.kind} ({s.submission.key})" for s in sent}
        for s in sent:
            label = labels[s.submission.key]
            if s.fault is not None:
                ex.problems.append(f"{label}: submit raised {s.fault!r}")
            elif s.refusal is not None and (s.ask.good or not is_a_reason(s.refusal)):
                ex.problems.append(f"{label}: refused at submit: {s.refusal!r}")
            if s.link_refusal is not None and not is_a_reason(s.link_refusal):
                ex.problems.append(f"{label}: /wallet set refused with {s.link_refusal!r}")
        ex.fail_if_problems()
        waiting = {s.submission.key: s.handle.request_id for s in sent if s.handle is not None}
        await ex.settle(waiting, labels.__getitem__)
        for s in sent:
            if s.handle is not None:
                await check_outcome(ex, s, labels[s.submission.key])
        await ex.probe()
        minted = await ex.minted_keys()
        for key, times in minted.items():
            if times > 1:
                ex.problems.append(f"{labels.get(key, key)}: minted {times} times")
        for s in sent:
            if s.ask.good and minted[s.submission.key] != 1:
                ex.problems.append(f"{labels[s.submission.key]}: not minted on chain")
            answers = len(ex.inbox.for_key(s.submission.key))
            if s.handle is not None and answers != 1:
                ex.problems.append(f"{labels[s.submission.key]}: answered {answers} times")
        ex.fail_if_problems()


async def check_outcome(ex: Example, s: Sent, label: str) -> None:
    """A good request is minted to custody; a hostile one is refused with a reason or minted
    correctly."""
    answers = ex.inbox.for_key(s.submission.key)
    if not answers:
        ex.problems.append(f"{label}: recorded as answered, but no answer reached the member")
        return
    result, ask = answers[0], s.ask
    if not result.minted:
        if ask.good:
            ex.problems.append(f"{label}: not minted: {result.phase} {result.failure_reason!r}")
        elif result.phase not in (Phase.REJECTED, Phase.FAILED):
            ex.problems.append(f"{label}: answered in phase {result.phase}")
        elif not is_a_reason(result.failure_reason):
            ex.problems.append(f"{label}: refused without a reason: {result.failure_reason!r}")
        return
    holder = hostile.expected_holder(
        ask, linked=s.linked, custody=DEV_MINTER.address, collection=ex.collection.address
    )
    if holder is None:
        ex.problems.append(f"{label}: minted to {result.recipient}, which nobody may receive")
        return
    metadata = await ex.check_token(result, holder, label)
    if metadata:
        image = ex.runtime.content.read_file(metadata["image"].removeprefix("ipfs://"))
        problems = hostile.mint_problems(
            ask, metadata, image, link_refused=s.link_refusal is not None
        )
        ex.problems += [f"{label}: {problem}" for problem in problems]


# Every run tries one example holding every kind of its surface first (Hypothesis's explicit
# phase), then draws more.


@pytest.mark.slow
@example(case=hostile.every_image_kind())
@given(case=hostile.mint_cases(hostile.hostile_image_asks()))
async def test_hostile_image_bytes_fail_only_their_own_request(
    blast: Blast, case: hostile.MintCase
) -> None:
    await check_mint_case(blast, case)


@pytest.mark.slow
@example(case=hostile.every_text_kind())
@given(case=hostile.mint_cases(hostile.hostile_text_asks()))
async def test_hostile_names_and_descriptions_fail_only_their_own_request(
    blast: Blast, case: hostile.MintCase
) -> None:
    await check_mint_case(blast, case)


@pytest.mark.slow
@example(case=hostile.every_address_kind())
@given(case=hostile.mint_cases(hostile.hostile_address_asks()))
async def test_hostile_addresses_fail_only_their_own_request(
    blast: Blast, case: hostile.MintCase
) -> None:
    await check_mint_case(blast, case)


@given(case=hostile.mint_cases(hostile.hostile_asks()))
async def test_a_mix_of_everything_hostile_fails_only_its_own_requests(
    blast: Blast, case: hostile.MintCase
) -> None:
    await check_mint_case(blast, case)


# ----- airdrop rows ------------------------------------------------------------------------


@pytest.mark.slow
@example(lines=hostile.every_airdrop_kind())
@given(lines=hostile.airdrop_files())
async def test_hostile_airdrop_rows_fail_only_themselves(
    blast: Blast, lines: list[hostile.AirdropLine]
) -> None:
    """Good rows of an airdrop file are minted once to their holder whatever other rows hold;
    a bad row is reported with its reason."""
    lines = [
        dataclasses.replace(line, cell=hostile.placed(line.cell, blast.collection.address))
        for line in lines
    ]
    async with blast.example() as ex:
        runtime = ex.runtime
        members = [line for line in lines if line.member is not None]
        async with runtime.sessions.begin() as session:
            for line in members:
                assert line.member is not None
                platform, user = line.member
                known = await session.get(PlatformUser, (platform, user))
                if known is None:
                    session.add(
                        PlatformUser(platform=platform, user_id=user, address=line.lands_at)
                    )
        for platform in ("discord", "telegram"):
            runtime.platforms.add(RecordingPlatform(platform, ex.inbox))
        drop = await runtime.drops.create_drop(
            platform="test",
            community_id=ex.chat,
            created_by="admin",
            name="Airdrop",
            image=hostile.picture("PNG", next(_keys)),
        )
        # A file, read as `python -m bot airdrop FILE` reads it (a file holds no lone
        # surrogates: they become "?").
        path = blast.directory / f"{ex.chat}.csv"
        path.write_bytes(
            "".join(_csv_record(line.cell) for line in lines).encode("utf-8", "replace")
        )
        text = path.read_text(encoding="utf-8-sig")
        rows, bad = read_rows(text, collection=blast.collection.address)
        async with asyncio.timeout(120):
            outcomes = await run_airdrop(runtime.drops, runtime.service, drop.id, rows)
        by_line = {o.line: o for o in [*bad, *outcomes]}
        for number, line in enumerate(lines, 1):
            label = f"row {number} ({line.kind}: {line.cell[:60]!r})"
            outcome = by_line.get(number)
            if outcome is None:
                # Blank rows, comments and a header row are skipped, as the file format says.
                cell = line.cell.strip()
                skipped = (
                    not cell or cell.startswith("#") or (number == 1 and cell.lower() in HEADERS)
                )
                if line.expect is not Expect.REFUSED or not skipped:
                    ex.problems.append(f"{label}: no outcome reported")
                continue
            if outcome.ok:
                if line.expect is Expect.REFUSED:
                    ex.problems.append(f"{label}: {outcome.status}, but must be refused")
                elif outcome.request_id is not None:
                    result = await runtime.service.result(outcome.request_id)
                    holder = line.lands_at or hostile.checksummed(line.cell)
                    if holder in (None, hostile.ZERO_ADDRESS, blast.collection.address):
                        ex.problems.append(f"{label}: minted to {result.recipient}")
                    else:
                        await ex.check_token(result, holder, label)
            elif line.lands_at is not None:
                ex.problems.append(f"{label}: {outcome.status}: {outcome.detail!r}")
            elif not is_a_reason(outcome.detail):
                ex.problems.append(
                    f"{label}: {outcome.status} without a reason: {outcome.detail!r}"
                )
        ex.fail_if_problems()
        # Every edition given is answered, even one with nobody to tell (an address).
        given_ids = {o.request_id: o.line for o in outcomes if o.request_id is not None}
        await ex.settle({str(i): i for i in given_ids}, lambda i: f"row {given_ids[int(i)]}")
        await ex.probe()
        minted = await ex.minted_keys()
        for key, times in minted.items():
            if times > 1:
                ex.problems.append(f"{key}: minted {times} times")
        ex.fail_if_problems()


def _csv_record(cell: str) -> str:
    """`cell` as the first column of one CSV record (quoted when it must be)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL).writerow([cell, "note"])
    return out.getvalue()


# ----- drop parameters and claimers --------------------------------------------------------


@given(
    drop=hostile.hostile_drops(),
    claimers=st.lists(hostile.hostile_text(256), max_size=3),
    forged=st.lists(st.sampled_from((*hostile.HUGE_NUMBERS, 10**30, 10**9)), max_size=2),
)
async def test_hostile_drop_parameters_and_claimers_fail_only_themselves(
    blast: Blast, drop: hostile.DropAsk, claimers: list[str], forged: list[int]
) -> None:
    """An admin's hostile drop, claimers with hostile display names and claims of drops that
    do not exist (a forged button) fail alone: good members' claims of a good drop, recorded
    in the same group commit, are minted."""
    async with blast.example() as ex:
        drops = ex.runtime.drops
        starts, ends = drop.times(utcnow())
        made: Any
        try:
            made = await drops.create_drop(
                platform="test",
                community_id=ex.chat,
                created_by="admin",
                name=drop.name,
                image=drop.image,
                description=drop.description,
                supply=drop.supply,
                per_user_limit=drop.per_user_limit,
                starts_at=starts,
                ends_at=ends,
                gates=gates_for(
                    drop.gate_roles,
                    chat_member=drop.gate_chat_member,
                    linked_wallet=drop.require_linked_address,
                ),
            )
        except RequestRejected as err:
            made = err
            if not is_a_reason(str(err)):
                ex.problems.append(f"the hostile drop was refused with {str(err)!r}")
        except Exception as err:
            made = err
            ex.problems.append(f"creating the hostile drop raised {err!r}")
        good = await drops.create_drop(
            platform="test",
            community_id=ex.chat,
            created_by="admin",
            name="Good drop",
            image=hostile.picture("PNG", next(_keys)),
            supply=10,
        )
        # Claims recorded together: good members on the good drop, hostile display names on
        # both drops.
        asks: list[tuple[str, int, str, bool]] = [
            *((f"{ex.chat}-good{i}", good.id, f"Good {i}", True) for i in range(3)),
            *((f"{ex.chat}-odd{i}", good.id, name, False) for i, name in enumerate(claimers)),
        ]
        asks += [(f"{ex.chat}-f{i}", drop_id, "Forger", False) for i, drop_id in enumerate(forged)]
        if not isinstance(made, Exception):
            asks += [
                (f"{ex.chat}-h{i}", made.id, n, False) for i, n in enumerate(["Fine", *claimers])
            ]
        outcomes = await asyncio.gather(
            *(
                drops.claim(
                    drop_id,
                    Claimant("test", user, frozenset(drop.gate_roles), is_member=True),
                    name,
                )
                for user, drop_id, name, _ in asks
            ),
            return_exceptions=True,
        )
        waiting: dict[str, int] = {}
        for (_, drop_id, name, is_good), outcome in zip(asks, outcomes, strict=True):
            label = f"claim of drop {drop_id} by {name[:40]!r}"
            if isinstance(outcome, ClaimResult):
                waiting[outcome.key] = outcome.request_id
            elif is_good:
                ex.problems.append(f"{label} (good): {outcome!r}")
            elif not isinstance(outcome, RequestRejected) or not is_a_reason(str(outcome)):
                ex.problems.append(f"{label}: {outcome!r}")
        ex.fail_if_problems()
        await ex.settle(waiting, lambda key: f"claim {key}")
        for key in waiting:
            result = ex.inbox.for_key(key)[0]
            if not result.minted:
                ex.problems.append(f"claim {key}: {result.phase} {result.failure_reason!r}")
            else:
                await ex.check_token(result, DEV_MINTER.address, f"claim {key}")
        await ex.probe()
        for key, times in (await ex.minted_keys()).items():
            if times > 1:
                ex.problems.append(f"{key}: minted {times} times")
        ex.fail_if_problems()


# ----- fixtures ----------------------------------------------------------------------------


@pytest.fixture
async def blast(
    bot_env: dict[str, str], tmp_path: Path, collection: Collection
) -> AsyncIterator[Blast]:
    env = {
        **bot_env,
        "ALLOW_UNVERIFIED_WALLETS": "true",
        "USER_MINTS_PER_MINUTE": "0",
        "COMMUNITY_MINTS_PER_MINUTE": "0",
    }
    harness = Blast(env, tmp_path, collection)
    yield harness
    await harness.close()
