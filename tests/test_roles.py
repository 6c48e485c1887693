"""Several bot processes: `run --role chat` beside `run --role pipeline` on PostgreSQL mint a
Telegram message and answer it once; SQLite keeps to one process (a second `run` is refused
while the first runs, and the split roles always), and Telegram long polling keeps to one
process on PostgreSQL too."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.chain.contract import Collection
from db.engine import create_db_engine
from db.models import MintRequest, Phase
from tests.emulators.telegram import TelegramServer
from tests.forkserver import ForkedProcess
from tests.support import DEV_MINTER, balance, bot_process, png
from tests.test_telegram import final_reply, free_port, minted, readable

READY = "ready on chain"


async def until_logged(log: Path, text: str, proc: ForkedProcess, timeout: float = 90) -> None:
    """Wait for `text` in the process's log; fail with the log if it ends first."""
    async with asyncio.timeout(timeout):
        while text not in (content := await asyncio.to_thread(log.read_text)):
            assert proc.returncode is None, content
            await asyncio.sleep(0.1)


async def refused(proc: ForkedProcess, log: Path) -> str:
    """The one error line of a process that refused to start (exit code 2, a config error)."""
    async with asyncio.timeout(90):
        code = await proc.wait()
    content = await asyncio.to_thread(log.read_text)
    assert code == 2, content
    (line,) = [line for line in content.splitlines() if line.startswith("error: ")]
    return line


async def health_of(log: Path) -> dict[str, Any]:
    """`/health` of the process whose ready line is in `log` (it names where it serves)."""
    found = re.search(r"web (http://\S+)", await asyncio.to_thread(log.read_text))
    assert found is not None
    async with aiohttp.ClientSession() as http, http.get(f"{found[1]}/health") as response:
        assert response.status == 200
        return dict(await response.json())


def on_postgres(url: str) -> bool:
    return url.startswith("postgresql")


async def answer_recorded(database_url: str, message_id: int) -> MintRequest:
    """The request of `message_id` once it is recorded answered."""
    db = create_db_engine(database_url)
    try:
        async with asyncio.timeout(60):
            while True:
                async with db.connect() as connection:
                    row = (
                        await connection.execute(
                            select(MintRequest).where(MintRequest.message_id == str(message_id))
                        )
                    ).one_or_none()
                if row is not None and row.answered_at is not None:
                    return row  # type: ignore[return-value]
                await asyncio.sleep(0.1)
    finally:
        await db.dispose()


@pytest.mark.db
async def test_a_chat_and_a_pipeline_process_mint_a_message_and_answer_it_once(
    telegram: TelegramServer,
    world: dict[str, Any],
    bot_env: dict[str, str],
    collection: Collection,
    tmp_path: Path,
):
    env = {**bot_env, **telegram.env()}  # one set of settings for both, as one .env gives
    chat_log, pipeline_log = tmp_path / "chat.log", tmp_path / "pipeline.log"
    if not on_postgres(env["DATABASE_URL"]):
        async with bot_process(env, chat_log, ["run", "--role", "chat"]) as chat:
            line = await refused(chat, chat_log)
        assert "SQLite does not allow" in line and "--role all" in line
        assert not telegram.sent("getUpdates")
        return
    async with (
        bot_process(env, chat_log, ["run", "--role", "chat"]) as chat,
        bot_process(env, pipeline_log, ["run", "--role", "pipeline"]) as pipeline,
    ):
        await until_logged(chat_log, "(role chat)", chat)
        await until_logged(pipeline_log, "(role pipeline)", pipeline)
        await telegram.wait_for(lambda: bool(telegram.sent("getUpdates")), 90)
        for log, role in ((chat_log, "chat"), (pipeline_log, "pipeline")):
            assert (await health_of(log))["role"] == role
        photo = telegram.send_photo(world["group"], world["Ada"], [png(70)], "/mint Split")
        assert minted(await final_reply(telegram, photo), "Split")
        request = await answer_recorded(env["DATABASE_URL"], photo["message_id"])
        assert request.phase == Phase.REPLIED
        assert chat.returncode is None and pipeline.returncode is None
    # One reply ("minting…"), edited once into the answer: given once, by one process.
    assert len(telegram.replies_to(photo)) == 1
    edits = telegram.sent("editMessageText")
    answers = [e for e in edits if minted(readable(e.params), "Split")]
    assert len(answers) == 1
    assert await balance(collection, DEV_MINTER.address) == 1
    # The pipeline ran no chat platform: it never polled Telegram (the chat process did).
    assert "telegram:" not in pipeline_log.read_text()


async def test_a_second_run_on_one_sqlite_database_is_refused_until_the_first_stops(
    bot_env: dict[str, str], tmp_path: Path
):
    env = {**bot_env, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'one.sqlite3'}"}
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    async with bot_process(env, first_log) as first:
        await until_logged(first_log, READY, first)
        async with bot_process(env, second_log) as second:
            line = await refused(second, second_log)
        assert f"another bot process (PID {first.pid})" in line
        assert "SQLite allows one process" in line
        assert first.returncode is None
    assert first.returncode is not None  # stopped: now the next one starts
    again_log = tmp_path / "again.log"
    async with bot_process(env, again_log) as again:
        await until_logged(again_log, READY, again)


@pytest.mark.db
async def test_a_second_process_polling_telegram_is_refused(
    telegram: TelegramServer, bot_env: dict[str, str], tmp_path: Path
):
    env = {**bot_env, **telegram.env()}
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    async with bot_process(env, first_log) as first:
        await until_logged(first_log, READY, first)
        await telegram.wait_for(lambda: bool(telegram.sent("getUpdates")), 90)
        async with bot_process(env, second_log) as second:
            line = await refused(second, second_log)
        if on_postgres(env["DATABASE_URL"]):  # the database lets it run, polling does not
            assert "already polling Telegram" in line and "TELEGRAM_WEBHOOK_URL" in line
        else:  # SQLite refuses any second process first
            assert "SQLite allows one process" in line
        assert first.returncode is None
        first.kill()  # dies without a word: what it held goes with it
        await first.wait()
    third_log = tmp_path / "third.log"
    async with bot_process(env, third_log) as third:
        await until_logged(third_log, "(long polling)", third)


@pytest.mark.db
async def test_the_web_role_serves_the_pages_and_its_health_alone(
    bot_env: dict[str, str], collection: Collection, tmp_path: Path
):
    port = free_port()
    env = {**bot_env, "HTTP_PORT": str(port)}
    log = tmp_path / "web.log"
    async with bot_process(env, log, ["run", "--role", "web"]) as web:
        if not on_postgres(env["DATABASE_URL"]):
            assert "SQLite does not allow" in await refused(web, log)
            return
        await until_logged(log, "web server ready on", web)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/health") as response:
                assert response.status == 200
                assert (await response.json())["chain_id"] == 31337
            async with http.get(f"http://127.0.0.1:{port}/token/1") as response:
                assert response.status == 404  # the gallery's answer: no such token yet
        assert web.returncode is None
    assert "hot wallet" not in log.read_text()  # it opened no key
