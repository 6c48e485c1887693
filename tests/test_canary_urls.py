"""Canaries in URLs and tokens, end to end: an RPC URL carrying a random API key (in its path
and its query) whose endpoint answers 401 and then 429 for a while, and a Telegram token the
emulator refuses. `run`, `doctor` and `status` go through it all; neither canary shows up in
their output, the log, the database or any other file the bot writes."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from bot.chain.devchain import Anvil
from tests.emulators.discord import DiscordServer
from tests.emulators.telegram import TelegramServer
from tests.rpc_proxy import RpcProxy
from tests.support import run_cli
from tests.test_telegram import polling_bot

API_KEY = os.urandom(16).hex()  # 32 hex digits, as Infura's keys are
BOT_TOKEN = f"7{os.urandom(4).hex()}:{os.urandom(12).hex()}"  # a token Telegram never issued


def assert_no_canary(where: str, text: str | bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    for canary in (API_KEY, BOT_TOKEN, BOT_TOKEN.split(":")[1]):
        for form in (canary, canary.upper()):
            assert form.encode() not in data, f"a canary is in {where}"


async def calls_grow(proxy: RpcProxy, by: int) -> None:
    target = len(proxy.calls) + by
    async with asyncio.timeout(60):
        while len(proxy.calls) < target:
            await asyncio.sleep(0.05)


async def test_an_rpc_api_key_and_a_refused_token_never_appear(
    telegram: TelegramServer, bot_env: dict[str, str], anvil: Anvil, tmp_path: Path
):
    proxy = RpcProxy(anvil.url)
    await proxy.start()
    url = f"{proxy.url}/v3/{API_KEY}?apikey={API_KEY}&chain=base"
    env = {
        **bot_env,
        "RPC_URL": url,
        "LOG_LEVEL": "DEBUG",
        # The balance alert checks often and always finds the balance low: a failed check is
        # logged with its exception, as it was when the key showed up in the log.
        "BALANCE_CHECK_S": "0.1",
        "LOW_BALANCE_ETH": "1000000",
    }
    log = tmp_path / "bot.log"
    outputs: list[str] = []
    try:
        async with polling_bot(telegram, env, log) as proc:
            for status in (401, 429):
                proxy.mode, proxy.status = "status", status
                await calls_grow(proxy, 20)
            proxy.mode = "pass"
            assert proc.returncode is None
        text = await asyncio.to_thread(log.read_text)
        assert "balance alert check failed" in text and "HTTP 401" in text and "HTTP 429" in text
        assert "/v3/[REDACTED]?apikey=[REDACTED]&chain=base" in text  # said, without the key

        proxy.mode, proxy.status = "status", 401
        cli_env = {**env, **telegram.env()}
        for command in (("doctor",), ("status",), ("run",)):
            result = await asyncio.to_thread(run_cli, *command, env=cli_env)
            outputs.append(result.output)
        assert "no answer (HTTP 401)" in outputs[0] and outputs[0].count("[REDACTED]") >= 2
        assert "RPC_URL: no answer from" in outputs[2]

        proxy.mode = "pass"
        refused = await asyncio.to_thread(
            run_cli, "run", env={**cli_env, "TELEGRAM_TOKEN": BOT_TOKEN}
        )
        outputs.append(refused.output)
        assert refused.returncode == 2, refused.output
        assert "error: TELEGRAM_TOKEN: Telegram refused the token" in refused.stderr
    finally:
        await proxy.stop()

    await asyncio.to_thread(no_canary_in_files, log, outputs, bot_env)


def no_canary_in_files(log: Path, outputs: list[str], bot_env: dict[str, str]) -> None:
    assert_no_canary("the log", log.read_bytes())
    for i, output in enumerate(outputs):
        assert_no_canary(f"output {i}", output)
    files = [p for p in Path(bot_env["DATA_DIR"]).rglob("*") if p.is_file()]
    if bot_env["DATABASE_URL"].startswith("sqlite"):
        files.append(Path(bot_env["DATABASE_URL"].split("///", 1)[1]))
    assert files
    for path in files:
        assert_no_canary(str(path), path.read_bytes())


async def test_a_refused_discord_token_stops_the_bot_in_one_line(
    discord: DiscordServer, bot_env: dict[str, str]
):
    token = f"MT{os.urandom(12).hex()}.{os.urandom(3).hex()}.{os.urandom(16).hex()}"
    env = {**bot_env, **discord.env(), "DISCORD_TOKEN": token, "LOG_LEVEL": "DEBUG"}
    refused = await asyncio.to_thread(run_cli, "run", env=env)
    assert refused.returncode == 2, refused.output
    assert "error: DISCORD_TOKEN: Discord refused the token" in refused.stderr
    for part in token.split("."):
        assert part not in refused.output
