"""Several bot processes on one PostgreSQL database and one chain, for the scale tests and
benchmarks: anvil with a block time, a collection with a pool of hot wallets, the Telegram
emulator behind one webhook URL, `python -m bot run --role ROLE` processes started, killed with
SIGKILL and started again, and what they did read back from the chain, the database and the
emulator.

Telegram posts every update to one URL (`TELEGRAM_WEBHOOK_URL`), which a load balancer spreads
over the chat processes; `WebhookFront` (tests/cluster_processes.py) is that balancer: each
update goes to the chat process the caller chose for it, and one that does not answer (killed,
starting) is passed over for the next, as a balancer's health checks would.
`Cluster.deliver_again` posts an update a second time straight to a chosen process, as Telegram
does when it did not hear a 2xx. Processes are forked from the test process's fork server
(tests/forkserver.py), each with a log file of its own under the cluster's directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from eth_account import Account
from sqlalchemy import func, select
from web3 import AsyncWeb3

from bot.chain import client
from bot.chain.contract import MINTER_ROLE, Collection, CollectionParams, deploy_collection
from bot.chain.devchain import Anvil, free_port
from bot.chain.wallet import HotWallet
from bot.env_values import Secret
from bot.hot_wallet_keys import ANVIL_DEV_KEYS
from db.engine import create_db_engine, upgrade
from db.models import FINAL, ChainTx, MintRequest, NonceState, TxStatus
from tests.cluster_processes import BotProcess, WebhookFront
from tests.emulators.telegram import TelegramServer
from tests.support import DEV_ADMIN, FEES, png
from tests.test_telegram import answers_of, pending, readable

# The pool's keys: anvil accounts no other part of local mode signs with (0 is local mode's
# hot wallet, 1 its contract admin). The first is custody, as HOT_WALLET_KEYS says.
HOT_KEYS = (ANVIL_DEV_KEYS[2], ANVIL_DEV_KEYS[3])
# Deploys the collection, so the hot wallets' first nonce is the bot's own.
DEPLOYER_KEY = ANVIL_DEV_KEYS[4]
WEBHOOK_SECRET = "cluster-webhook-secret"
TRANSFER = "0x" + bytes(AsyncWeb3.keccak(text="Transfer(address,address,uint256)")).hex()
ZERO_TOPIC = "0x" + "00" * 32
DELIVERY_TRIES = 150  # Telegram's: posted again until 2xx, waiting up to a second between


@dataclass
class Mint:
    """One `/mint` photo a member sent: the message, its update, the chat process it was
    delivered to first and every one it was delivered to again."""

    n: int
    name: str
    message: dict[str, Any]
    update: dict[str, Any]
    chat_process: int
    again: list[int] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"telegram:{self.message['chat']['id']}:{self.message['message_id']}"


@dataclass
class Seen:
    """What a member reads about one mint: the answers on their message or their line of a
    status message (`answers_of`), and whether its "Minted" shows on another message only."""

    answers: list[str]
    elsewhere: bool

    @property
    def minted(self) -> list[str]:
        return [a for a in self.answers if "Minted" in a]

    @property
    def still_minting(self) -> list[str]:
        return [a for a in self.answers if pending(a)]


@dataclass
class Lane:
    """One hot wallet's nonces, on chain and in the database."""

    wallet: str
    chain_nonce: int  # transactions of this wallet mined
    next_nonce: int | None  # what the allocator hands out next
    mined: list[int]  # nonces of mined or confirmed chain_tx rows
    open: list[tuple[int, str]]  # (nonce, status) of rows not mined yet
    dropped: int

    @property
    def gaps(self) -> list[str]:
        """What is wrong with the lane; empty when every nonce below the chain's is ours and
        mined once, nothing waits, and the allocator is where the chain is."""
        wrong = []
        if sorted(self.mined) != list(range(self.chain_nonce)):
            wrong.append(f"mined nonces {sorted(self.mined)} are not 0..{self.chain_nonce - 1}")
        if self.open:
            wrong.append(f"{len(self.open)} transactions still open: {self.open[:10]}")
        if self.next_nonce is not None and self.next_nonce != self.chain_nonce:
            wrong.append(f"next nonce {self.next_nonce}, chain nonce {self.chain_nonce}")
        return wrong


class Cluster:
    """The chain, the database, the emulator, the front and the bot processes of one run.
    Use as an async context manager; add processes with `add`, then `start`."""

    def __init__(
        self,
        root: Path,
        database_url: str,
        *,
        block_time: float = 1.0,
        hot_keys: tuple[str, ...] = HOT_KEYS,
        env: dict[str, str] | None = None,
        chats: int = 50,
        members: int = 40,
    ) -> None:
        """`root`: a directory for the data, logs and chain; `database_url`: an empty
        PostgreSQL database (migrated here); `env`: settings added to every process's; `chats`
        and `members`: the Telegram groups and users mints are spread over."""
        self.root = root
        self.database_url = database_url
        self.block_time = block_time
        self.hot_keys = hot_keys
        self.extra_env = env or {}
        self.telegram = TelegramServer()
        self.processes: list[BotProcess] = []
        self.chat_processes: list[BotProcess] = []
        self.front = WebhookFront([])
        self.mints: list[Mint] = []
        self.groups: list[dict[str, Any]] = []
        self.members: list[dict[str, Any]] = []
        self._chats, self._members = chats, members
        self._anvil: Anvil | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        self.w3: AsyncWeb3[Any] | None = None
        self.collection: Collection | None = None
        self.env: dict[str, str] = {}
        self.db = create_db_engine(database_url)

    @property
    def wallets(self) -> list[str]:
        return [Account.from_key(key).address for key in self.hot_keys]

    async def __aenter__(self) -> Cluster:
        try:
            await self._set_up()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _set_up(self) -> None:
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        anvil = Anvil(block_time=self.block_time, log_file=self.root / "logs" / "anvil.log")
        self._anvil = await asyncio.to_thread(anvil.start)
        await upgrade(self.db)
        self.w3 = await client.connect(anvil.url, 31337)
        self.collection = await self._deploy(self.w3)
        await self.telegram.start()
        await self.front.start()
        self.groups = [self.telegram.group(f"Club {i}") for i in range(self._chats)]
        self.members = [self.telegram.user(f"Member {i}") for i in range(self._members)]
        keys = (
            {"HOT_WALLET_KEYS": ",".join(self.hot_keys)}
            if len(self.hot_keys) > 1
            else {"HOT_WALLET_PRIVATE_KEY": self.hot_keys[0]}
        )
        self.env = {
            "ENV_FILE": "/nonexistent/.env",
            "DATA_DIR": str(self.root / "data"),  # one shared volume, as the README says
            "DATABASE_URL": self.database_url,
            "RPC_URL": anvil.url,
            "CHAIN_ID": "31337",
            "CONFIRMATIONS": "1",
            "ADMIN_ADDRESS": DEV_ADMIN.address,
            "CONTRACT_ADDRESS": self.collection.address,
            **keys,
            **self.telegram.env(),
            "TELEGRAM_WEBHOOK_URL": self.front.url,
            "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "USER_MINTS_PER_MINUTE": "0",
            "COMMUNITY_MINTS_PER_MINUTE": "0",
            "BATCH_MAX_WAIT_S": "0.5",
            "POLL_INTERVAL_S": "0.2",
            "WEB_SERVER": "inline",
            **self.extra_env,
        }

    async def _deploy(self, w3: AsyncWeb3[Any]) -> Collection:
        """The collection, minted into by every hot key (MINTER_ROLE granted by the admin)."""
        first, *others = self.wallets
        admin = DEV_ADMIN.address
        params = CollectionParams("Chaos", "CHAOS", admin, admin, first, admin, 0, "")
        deployer = HotWallet(Secret(DEPLOYER_KEY))
        collection = Collection(w3, (await deploy_collection(w3, deployer, params, FEES)).address)
        admin_wallet = HotWallet(Secret(ANVIL_DEV_KEYS[1]))
        for wallet in others:
            await collection.transact(admin_wallet, "grantRole", MINTER_ROLE, wallet, fees=FEES)
        return collection

    async def close(self) -> None:
        for task in self._deliveries:
            task.cancel()
        await asyncio.gather(*self._deliveries, return_exceptions=True)
        await asyncio.gather(*(p.stop() for p in self.processes))
        await self.front.stop()
        await self.telegram.stop()
        if self.w3 is not None:
            await client.close(self.w3)
        await self.db.dispose()
        if self._anvil is not None:
            await asyncio.to_thread(self._anvil.stop)

    # ----- processes ---------------------------------------------------------------------------

    def add(self, name: str, role: str, env: dict[str, str] | None = None) -> BotProcess:
        """A process of `role` (not started), with the cluster's settings plus `env`."""
        port = free_port()  # its own, the same at every start (the front knows it)
        process_env = {**self.env, "HTTP_PORT": str(port), **(env or {})}
        process = BotProcess(name, role, process_env, self.root / "logs" / f"{name}.log")
        self.processes.append(process)
        if role in ("chat", "all"):
            self.chat_processes.append(process)
            self.front.targets.append(f"http://127.0.0.1:{port}/telegram/webhook")
        return process

    async def start(self, timeout: float = 120) -> None:
        """Start every process not running and wait until each takes work."""
        for process in self.processes:
            if not process.alive:
                await process.start()
        await asyncio.gather(*(p.ready(timeout) for p in self.processes))

    async def restart(self, process: BotProcess) -> None:
        """SIGKILL `process` and start it again at once (not waiting for it to be ready)."""
        await process.kill()
        await process.start()

    @property
    def kills(self) -> int:
        return sum(p.kills for p in self.processes)

    # ----- members mint ------------------------------------------------------------------------

    def send_mint(self, n: int, chat_process: int = 0) -> Mint:
        """Member n % members posts photo n with `/mint Piece n` in group n % chats; Telegram
        posts it to the webhook URL, and the front hands it to `chat_process` first."""
        name = f"Piece {n}"
        group = self.groups[n % len(self.groups)]
        member = self.members[n % len(self.members)]
        message = self.telegram.send_photo(group, member, [png(n)], f"/mint {name}")
        update = self.telegram.delivered[-1]  # the one send_photo pushed, not posted yet
        assert update.get("message") is message
        self.front.route[update["update_id"]] = chat_process
        mint = Mint(n, name, message, update, chat_process)
        self.mints.append(mint)
        return mint

    def deliver_again(self, mint: Mint, chat_process: int, delay: float = 0.0) -> None:
        """Post `mint`'s update once more, after `delay` seconds, straight to `chat_process`,
        again until it answers 2xx (it may be down for a while)."""
        mint.again.append(chat_process)
        url = self.front.targets[chat_process]
        task = asyncio.create_task(self._post(url, mint.update, delay))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _post(self, url: str, update: dict[str, Any], delay: float) -> None:
        await asyncio.sleep(delay)
        wait = 0.05
        for _ in range(DELIVERY_TRIES):
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                if await self.front.post(url, json.dumps(update).encode(), WEBHOOK_SECRET) < 300:
                    return
            await asyncio.sleep(wait)
            wait = min(wait * 2, 1.0)
        raise AssertionError(f"update {update['update_id']} was never taken at {url}")

    async def deliveries_done(self) -> None:
        """Every delivery made with `deliver_again` ended (raises its error if one failed)."""
        await asyncio.gather(*self._deliveries)

    # ----- what happened -----------------------------------------------------------------------

    async def tokens(self) -> list[int]:
        """The collection's token IDs minted so far, one per Transfer log from the zero
        address (a token minted twice would be listed twice)."""
        assert self.w3 is not None and self.collection is not None
        logs = await self.w3.eth.get_logs(
            {
                "address": self.collection.contract.address,
                "fromBlock": 0,
                "toBlock": "latest",
                "topics": [TRANSFER, ZERO_TOPIC],  # type: ignore[list-item]
            }
        )
        return [int.from_bytes(bytes(entry["topics"][3]), "big") for entry in logs]

    async def lanes(self) -> list[Lane]:
        """Each hot wallet's nonces on chain and in the database."""
        assert self.w3 is not None
        found = []
        async with self.db.connect() as db:
            for wallet in self.wallets:
                mine = func.lower(ChainTx.wallet) == wallet.lower()
                rows = (await db.execute(select(ChainTx.nonce, ChainTx.status).where(mine))).all()
                next_nonce = await db.scalar(
                    select(NonceState.next_nonce).where(
                        func.lower(NonceState.wallet) == wallet.lower()
                    )
                )
                mined = [n for n, s in rows if s in (TxStatus.MINED, TxStatus.CONFIRMED)]
                waiting = [(n, s) for n, s in rows if s in (TxStatus.SIGNED, TxStatus.SENT)]
                dropped = sum(1 for _, s in rows if s == TxStatus.DROPPED)
                count = await self.w3.eth.get_transaction_count(wallet)  # type: ignore[arg-type]
                found.append(Lane(wallet, count, next_nonce, mined, waiting, dropped))
        return found

    async def requests(self) -> dict[str, tuple[str, bool]]:
        """Every mint request by key: its phase, and whether its answer is recorded."""
        request = MintRequest
        async with self.db.connect() as db:
            rows = await db.execute(
                select(
                    request.platform,
                    request.chat_id,
                    request.message_id,
                    request.phase,
                    request.answered_at.is_not(None),
                )
            )
            return {f"{p}:{c}:{m}": (phase, bool(a)) for p, c, m, phase, a in rows}

    def seen(self) -> dict[str, Seen]:
        """What each mint's member reads, by key."""
        posts = {group["id"]: self.telegram.in_chat(group) for group in self.groups}
        found = {}
        for mint in self.mints:
            chat = posts[mint.message["chat"]["id"]]
            answers = answers_of(self.telegram, mint.message, chat)
            elsewhere = any(
                "text" in post
                and readable(post).split("\n", 1)[0].endswith(f"Minted {mint.name}")
                and (post.get("reply_to_message") or {}).get("message_id")
                != mint.message["message_id"]
                for post in chat
            )
            found[mint.key] = Seen(answers, elsewhere)
        return found

    def answers(self) -> dict[str, list[str]]:
        """What each mint's member reads as its answers, by key, oldest first."""
        return {key: seen.answers for key, seen in self.seen().items()}

    async def settled(self, timeout: float, stall: float = 90) -> None:
        """Wait until every mint is on chain, decided and read as minted by its member. Fail
        saying what is missing after `timeout` seconds, or once nothing moved for `stall`."""
        start = moved = time.monotonic()
        last = (-1, -1, -1)
        while (progress := await self.progress()) != (len(self.mints),) * 3:
            now = time.monotonic()
            if progress != last:
                last, moved = progress, now
            if now - moved > stall or now - start > timeout:
                late = f"nothing moved for {stall:g} s" if now - start <= timeout else "too late"
                raise AssertionError(f"not settled ({late}):\n{await self.report()}")
            await asyncio.sleep(1)

    async def progress(self) -> tuple[int, int, int]:
        """Tokens on chain, requests decided with their answer recorded, and mints whose
        member reads "Minted"."""
        requests = await self.requests()
        done = sum(phase in FINAL and answered for phase, answered in requests.values())
        seen = sum(bool(seen.minted) for seen in self.seen().values())
        return len(await self.tokens()), done, seen

    async def report(self) -> str:
        """What the run left: tokens, phases, answers, lanes and each process's starts."""
        requests = await self.requests()
        phases = Counter(phase for phase, _ in requests.values())
        unanswered = [k for k, (_, answered) in requests.items() if not answered]
        seen = self.seen()
        silent = [k for k, s in seen.items() if not s.minted]
        elsewhere = [k for k in silent if seen[k].elsewhere]
        twice = Counter(len(s.minted) for s in seen.values())
        over_limits = Counter(v.limit for v in self.telegram.limit_violations)
        lines = [
            f"tokens {len(await self.tokens())} of {len(self.mints)} mints",
            f"requests {len(requests)} by phase {dict(phases)}",
            f"unrecorded answers {len(unanswered)}: {unanswered[:10]}",
            f"members reading no 'Minted' answer {len(silent)}: {silent[:10]}",
            f"  of which shown under another member's message {len(elsewhere)}: {elsewhere[:5]}",
            f"  of which left 'minting…' {sum(bool(seen[k].still_minting) for k in silent)}",
            f"'Minted' answers per mint: {dict(sorted(twice.items()))}",
            f"calls over Telegram's flood limits {dict(over_limits)}",
            *(f"lane {lane.wallet}: {lane}" for lane in await self.lanes()),
            *(f"{p.name}: {p.starts} starts, {p.kills} kills" for p in self.processes),
            f"front: {dict(self.front.forwarded)}, passed over {self.front.passed_over}",
        ]
        return "\n".join(lines)


@contextlib.asynccontextmanager
async def postgres_cluster(root: Path, **options: Any) -> AsyncIterator[Cluster]:
    """A `Cluster` on a fresh PostgreSQL database of the server MINTBOT_TEST_POSTGRES_URL names
    (dropped at the end)."""
    from tests.support import scratch_database

    async with scratch_database(root, "cluster") as url, Cluster(root, url, **options) as cluster:
        yield cluster
