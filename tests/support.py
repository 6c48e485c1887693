"""Constants and helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import re
import shutil
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from sqlalchemy import select
from web3 import AsyncWeb3

from bot.app import open_runtime, serve
from bot.chain.contract import Collection
from bot.chain.fees import Fees
from bot.config import Settings, load_settings
from bot.hot_wallet_keys import ANVIL_DEV_KEYS
from bot.minting.types import MintResult, MintSubmission
from bot.runtime import Runtime
from db.engine import create_db_engine, upgrade
from db.models import MintRequest, Phase
from tests import forkserver

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# A fresh key made for each run; tests check it never shows up anywhere.
CANARY_KEY = "0x" + os.urandom(32).hex()
CANARY = Account.from_key(CANARY_KEY)

DEV_MINTER = Account.from_key(ANVIL_DEV_KEYS[0])
DEV_ADMIN = Account.from_key(ANVIL_DEV_KEYS[1])
COLLECTOR = Account.create()  # a member's own wallet: it signs Sign-In with Ethereum messages
SIWE = re.compile(
    r"\S+ wants you to sign in with your Ethereum account:\n.*?Expiration Time: \S+Z", re.S
)


async def poll_until(
    check: Callable[[], object], timeout: float, explain: Callable[[], str]
) -> None:
    """Poll `check` every 50 ms; after `timeout` seconds, fail with `explain()`."""
    try:
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out; {explain()}") from None


def sign_message(message: str, account: Any = COLLECTOR) -> str:
    """`message` signed as a wallet's "Sign message" (personal_sign) does, as 0x hex."""
    signature = account.sign_message(encode_defunct(text=message)).signature
    return "0x" + bytes(signature).hex()


def signed_siwe(reply: str, account: Any = COLLECTOR) -> str:
    """Sign the Sign-In with Ethereum message quoted in a bot's reply."""
    found = SIWE.search(reply)
    assert found is not None, reply
    return sign_message(found.group(0), account)


FEES = Fees(max_fee_per_gas=50 * 10**9, max_priority_fee_per_gas=10**9)


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 60, stdin: str | None = None
) -> CliResult:
    """Run `python -m bot ARGS` as a user would, with exactly `env` as its settings (forked
    from this test process's fork server: see tests/forkserver.py); `stdin`: what the user
    types at its prompts."""
    code, stdout, stderr = forkserver.run_bot(
        list(args),
        {"PATH": os.environ["PATH"], "ENV_FILE": "/nonexistent/.env", **env},
        PROJECT_ROOT,
        timeout,
        stdin=stdin,
    )
    return CliResult(code, stdout, stderr)


def png(seed: int = 0, size: tuple[int, int] = (8, 8)) -> bytes:
    """A small PNG whose pixels depend on `seed`, so each seed is a different image."""
    import io

    from PIL import Image

    image = Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, (seed // 256) % 256))
    image.putpixel((0, 0), (seed % 256, 0, 0))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def submission(message_id: str, image: bytes | None = None, **changes: str) -> MintSubmission:
    fields = {
        "platform": "test",
        "chat_id": "chat",
        "message_id": message_id,
        "requester_id": "u1",
        "requester_name": "Ada",
        "image": image or png(int(message_id)),
        "name": f"Art {message_id}",
        "description": "made for the test",
    }
    fields.update(changes)
    return MintSubmission(**fields)  # type: ignore[arg-type]


def _postgres_admin_dsn() -> str | None:
    base = os.environ.get("MINTBOT_TEST_POSTGRES_URL")
    return base.replace("postgresql+asyncpg://", "postgresql://") if base else None


def _postgres_url(database: str) -> str:
    return os.environ["MINTBOT_TEST_POSTGRES_URL"].rsplit("/", 1)[0] + "/" + database


async def _postgres_admin(statement: str, *, copying: bool = False) -> None:
    """Run `statement` as the tests' PostgreSQL superuser. `copying`: it is a CREATE DATABASE
    from a template, which PostgreSQL 15 and later copy file by file when told (STRATEGY
    FILE_COPY, a third faster here than writing the copy through the WAL, their default)."""
    import asyncpg

    admin = await asyncpg.connect(_postgres_admin_dsn())
    try:
        if copying and admin.get_server_version().major >= 15:
            statement += " STRATEGY FILE_COPY"
        await admin.execute(statement)
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def scratch_database(
    directory: Path, name: str = "mintbot", template: str | None = None
) -> AsyncIterator[str]:
    """SQLite at `directory`/NAME.sqlite3, or a fresh PostgreSQL database (dropped at the end)
    when MINTBOT_TEST_POSTGRES_URL is set (CI runs the `db` tests a second time that way).
    Empty, or a copy of `template` (a database from `database_template`)."""
    if not _postgres_admin_dsn():
        path = directory / f"{name}.sqlite3"
        if template is not None:
            shutil.copyfile(template.split("///", 1)[1], path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    database = f"mintbot_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template is not None else ""
    await _postgres_admin(f'CREATE DATABASE "{database}"{copy}', copying=bool(copy))
    try:
        yield _postgres_url(database)
    finally:
        await _postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def _migrated(url: str) -> None:
    engine = create_db_engine(url)
    try:
        await upgrade(engine)
        if engine.dialect.name == "sqlite":  # all of it in the one file that is copied
            async with engine.connect() as connection:
                await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        await engine.dispose()


def _run_apart(work: Callable[[], Awaitable[None]]) -> None:
    """Run `work` to the end on an event loop of its own, in a thread of its own: a sync
    fixture must not replace the event loop pytest-asyncio set for the test thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        thread.submit(lambda: asyncio.run(work())).result()  # type: ignore[arg-type]


@contextlib.contextmanager
def database_template(directory: Path) -> Iterator[str]:
    """A database migrated to the head revision, for `scratch_database` to copy: the
    migrations run once per test process rather than once per test. No connection to it may
    stay open (PostgreSQL copies only a database nobody is connected to)."""
    if not _postgres_admin_dsn():
        url = f"sqlite+aiosqlite:///{directory / 'template.sqlite3'}"
        _run_apart(lambda: _migrated(url))
        yield url
        return
    database = f"mintbot_template_{uuid.uuid4().hex[:12]}"
    _run_apart(lambda: _postgres_admin(f'CREATE DATABASE "{database}"'))
    try:
        _run_apart(lambda: _migrated(_postgres_url(database)))
        yield _postgres_url(database)
    finally:
        _run_apart(lambda: _postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


@contextlib.asynccontextmanager
async def serving(env: dict[str, str]) -> AsyncIterator[None]:
    """The whole bot (`bot.app.serve`) in this process, on the platforms `env` configures,
    stopped when the block ends."""
    task = asyncio.ensure_future(serve(load_settings(env), console=False))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[Runtime, Inbox]]:
    """A started bot whose "test" platform answers land in an Inbox."""
    async with open_runtime(settings) as runtime:
        inbox = Inbox()
        runtime.service.answer_through("test", inbox)
        yield runtime, inbox


@contextlib.asynccontextmanager
async def observed(env: dict[str, str]) -> AsyncIterator[Runtime]:
    """A runtime on the bot's database and chain that starts nothing: what the test reads the
    bot's records through while `python -m bot run` does the work."""
    async with open_runtime(load_settings(env), start=False) as runtime:
        yield runtime


async def edition_token(runtime: Runtime) -> int:
    """The one token ID of the editions the bot recorded (a test's one edition drop)."""
    async with runtime.sessions() as session:
        ids = set(
            await session.scalars(
                select(MintRequest.token_id).where(MintRequest.edition.is_not(None))
            )
        )
    (token_id,) = ids
    assert token_id is not None
    return int(token_id, 16)


class Answering:
    """An answerer of one origin that hands every answer to `deliver`."""

    def __init__(self, deliver: Callable[[MintResult], Awaitable[None]]) -> None:
        self.deliver = deliver


class Inbox:
    """A platform adapter stand-in at the edge: records every final answer it is given."""

    def __init__(self) -> None:
        self.answers: list[MintResult] = []

    async def deliver(self, result: MintResult) -> None:
        self.answers.append(result)

    async def __call__(self, result: MintResult) -> None:
        await self.deliver(result)

    def for_key(self, key: str) -> list[MintResult]:
        return [a for a in self.answers if a.key == key]


async def answered(runtime: Runtime, inbox: Inbox, key: str, timeout: float = 30) -> MintResult:
    async with asyncio.timeout(timeout):
        while not inbox.for_key(key):
            await asyncio.sleep(0.05)
    return inbox.for_key(key)[0]


async def replied(runtime: Runtime, request_id: int, timeout: float = 30) -> None:
    """Wait until the request's answer is recorded: an answer is given before it is
    recorded, so a test that reads phases right after `answered` must wait for this."""
    async with asyncio.timeout(timeout):
        while (await runtime.service.result(request_id)).phase != Phase.REPLIED:
            await asyncio.sleep(0.05)


async def rpc(w3: AsyncWeb3, method: str, *params: object) -> object:
    response = await w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    return response.get("result")


async def balance(collection: Collection, owner: str) -> int:
    return int(await collection.contract.functions.balanceOf(owner).call())


@contextlib.asynccontextmanager
async def bot_process(
    env: dict[str, str], log: Path, args: Sequence[str] = ("run",)
) -> AsyncIterator[forkserver.ForkedProcess]:
    """`python -m bot run` (or ARGS) with exactly `env` as its settings, its output appended
    to `log` (forked from this test process's fork server: see tests/forkserver.py); stopped
    with SIGTERM (then SIGKILL) at the end unless it already ended."""
    with log.open("ab") as out:
        proc = await forkserver.start_bot(
            list(args), {"PATH": os.environ["PATH"], **env}, PROJECT_ROOT, out.fileno()
        )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def hand_over_by_cli(
    env: dict[str, str],
    platform: str,
    community: str,
    w3: AsyncWeb3,
    owner: str,
    first: str,
    second: str,
) -> None:
    """`collection handover` for one community, the operator admin's key typed at its prompt;
    then the community's clone `first` is administered by its `owner` alone, with the 5 %
    royalty asked for in chat, and the other community's clone `second` is untouched."""
    handover = await asyncio.to_thread(
        run_cli,
        *("collection", "handover", "--platform", platform, "--community", community),
        env=env,
        stdin=ANVIL_DEV_KEYS[1] + "\n",
    )
    assert handover.returncode == 0, handover.output
    assert "handed its admin role over" in handover.stdout
    clone = Collection(w3, first)
    assert not await clone.is_admin(DEV_ADMIN.address)
    assert await clone.is_admin(owner)
    assert await clone.contract.functions.owner().call() == owner
    royalty = await clone.contract.functions.royaltyInfo(1, 10_000).call()
    assert tuple(royalty) == (owner, 500)
    assert await Collection(w3, second).is_admin(DEV_ADMIN.address)
