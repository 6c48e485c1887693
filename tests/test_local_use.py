"""What a newcomer and an operator touch: the mint/status/export-car/db commands, the web
server (gateway, health, explorer pages) and the local console."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from bot.app import open_runtime
from bot.chain.devchain import free_port
from bot.config import load_settings
from bot.runtime import Runtime
from bot.web_wiring import web_server
from db.engine import MIGRATIONS_DIR, create_db_engine, upgrade
from db.models import Base
from tests.support import PROJECT_ROOT, Inbox, answered, png, run_cli, submission
from tests.test_content_store import car_check

pytestmark = pytest.mark.db


async def cli(*args: str, env: dict[str, str]):  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(run_cli, *args, env=env, timeout=120)


@pytest.mark.empty_database
async def test_db_upgrade_creates_the_schema(bot_env: dict[str, str]):
    result = await cli("db", "upgrade", env=bot_env)
    assert result.returncode == 0, result.output
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert result.stdout.strip() == f"database at revision {head}"


@pytest.mark.empty_database
async def test_the_migrations_build_exactly_the_models(database_url: str):
    """A model change without its migration (or the reverse) shows up here, on both backends."""
    engine = create_db_engine(database_url)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            differences = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert differences == []


@pytest.mark.slow
async def test_mint_status_and_export_car_from_the_command_line(
    bot_env: dict[str, str], tmp_path: Path
):
    image = tmp_path / "art.png"
    image.write_bytes(png(5))
    minted = await cli("mint", str(image), "--name", "CLI art", "--key", "cli-1", env=bot_env)
    assert minted.returncode == 0, minted.output
    assert minted.stdout.startswith("✓ minted 'CLI art'")
    assert "transaction: http://127.0.0.1:8080/explorer/tx/0x" in minted.stdout

    again = await cli(
        "mint", str(image), "--name", "CLI art", "--key", "cli-1", "--json", env=bot_env
    )
    first_token = minted.stdout.split("(token ")[1].split(")")[0]
    assert json.loads(again.stdout)["token_id"] == first_token

    edited = await cli("mint", str(image), "--name", "Other name", "--key", "cli-1", env=bot_env)
    assert edited.returncode == 1
    assert "changed after it was sent for minting" in edited.stderr

    status = await cli("status", "cli-1", env=bot_env)
    assert status.returncode == 0 and first_token in status.stdout
    unknown = await cli("status", "no-such-key", env=bot_env)
    assert unknown.returncode == 1 and "no request cli:cli:no-such-key" in unknown.stderr

    car = tmp_path / "export.car"
    exported = await cli("export-car", str(car), env=bot_env)
    assert exported.returncode == 0, exported.output
    code, report = car_check(car)
    result = json.loads(again.stdout)
    assert code == 0
    assert {result["image_cid"], result["metadata_cid"]} <= set(report["roots"])


@pytest.mark.slow
async def test_mint_refuses_bad_input_with_its_reason(bot_env: dict[str, str], tmp_path: Path):
    text = tmp_path / "notes.png"
    text.write_text("not really a picture")
    result = await cli("mint", str(text), "--name", "Notes", env=bot_env)
    assert result.returncode == 1
    assert "✗" in result.stdout and "not a picture" in result.stdout


@pytest.fixture
async def served(bot_env: dict[str, str]) -> AsyncIterator[tuple[Runtime, Inbox, str]]:
    async with open_runtime(load_settings(bot_env)) as runtime:
        inbox = Inbox()
        runtime.service.answer_through("test", inbox)
        web = web_server(runtime, host="127.0.0.1", port=0)
        base = await web.start()
        try:
            yield runtime, inbox, base
        finally:
            await web.stop()


async def test_gateway_health_and_explorer_pages(served: tuple[Runtime, Inbox, str]):
    runtime, inbox, base = served
    sub = submission("60", description="<script>alert('x')</script> & more")
    await runtime.service.submit(sub)
    result = await answered(runtime, inbox, sub.key)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/health") as response:
            health = await response.json()
        # What it always said; the role, lanes and queues beside it are tests/test_metrics.py's.
        assert {key: health[key] for key in health if key not in ("role", "lanes", "queues")} == {
            "ok": True,
            "chain_id": 31337,
            "in_flight": 0,
            "waiting_reason": None,
            "unpinned_cids": None,  # PINNING names no backend
        }

        async with http.get(f"{base}/ipfs/{result.image_cid}") as response:
            assert response.status == 200
            assert response.content_type == "image/png"
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert response.headers["ETag"] == f'"{result.image_cid}"'
            body = await response.read()
        assert body == runtime.content.read_file(result.image_cid or "")
        async with http.get(
            f"{base}/ipfs/{result.image_cid}", headers={"If-None-Match": f'"{result.image_cid}"'}
        ) as response:
            assert response.status == 304
        async with http.get(f"{base}/ipfs/{result.metadata_cid}") as response:
            assert response.content_type == "application/json"
            assert (await response.json())["name"] == "Art 60"
        for missing in ("bafkreiaaaa", "../../etc/passwd", "b" + "a" * 58):
            async with http.get(f"{base}/ipfs/{missing}") as response:
                assert response.status == 404

        tx_path = (result.tx_url or "").removeprefix("http://127.0.0.1:8080")
        async with http.get(base + tx_path) as response:
            page = await response.text()
        assert response.status == 200 and "Art 60" in page
        token_path = (result.token_url or "").removeprefix("http://127.0.0.1:8080")
        async with http.get(base + token_path) as response:
            page = await response.text()
        assert response.status == 200
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in page
        assert "<script>" not in page
        assert f"/ipfs/{result.image_cid}" in page


class Output:
    """The bot's stdout, read line by line by a thread, so a test can wait for text."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(target=lambda: [self.lines.put(x) for x in stream], daemon=True).start()
        self.seen = ""

    def until(self, text: str, timeout: float = 60) -> str:
        start = len(self.seen)
        deadline = time.monotonic() + timeout
        while text not in self.seen[start:]:
            try:
                self.seen += self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{text!r} not seen in:\n{self.seen}") from None
        return self.seen[start:]


@pytest.mark.slow
def test_the_local_console_mints_with_no_accounts(tmp_path: Path):
    image = tmp_path / "console.png"
    image.write_bytes(png(9))
    env = {
        "PATH": os.environ["PATH"],
        "ENV_FILE": "/nonexistent/.env",
        "DATA_DIR": str(tmp_path / "data"),
        "ANVIL_PORT": str(free_port()),
        "HTTP_PORT": "0",
    }
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=PROJECT_ROOT,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert bot.stdin is not None
    output = Output(bot)

    def say(line: str) -> None:
        assert bot.stdin is not None
        bot.stdin.write(line + "\n")
        bot.stdin.flush()

    try:
        output.until("local console ready")
        say("/help")
        output.until("/mint PATH Name")
        say(f"/mint {image} Harbour at dawn | taken from the pier")
        minted = output.until("owner: held in custody by the bot")
        assert "✓ minted 'Harbour at dawn'" in minted
        assert "transaction: http://127.0.0.1:8080/explorer/tx/0x" in minted
        say("/status")
        output.until("✓ minted")
        say("/mint /nonexistent.png Ghost")
        assert "cannot read /nonexistent.png" in output.until("cannot read")
    finally:
        bot.send_signal(signal.SIGINT)
        assert bot.wait(30) == 0
