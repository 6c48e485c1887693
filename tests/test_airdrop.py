"""`python -m bot airdrop FILE --drop ID`, as an admin runs it: every good row gets an edition,
bad rows are listed by line and stop nothing, and running the same file again mints nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from eth_account import Account

from bot.chain.contract import Collection
from tests.support import COLLECTOR, DEV_MINTER, balance, png, run_cli, sign_message

pytestmark = pytest.mark.db

FRIEND = Account.create().address


def summary(output: str) -> dict[str, list[str]]:
    """The summary table's rows by line number: recipient, status, edition, detail."""
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in output.splitlines()]
    return {cells[0]: cells[1:] for cells in rows if cells and cells[0].isdigit()}


@pytest.mark.slow
async def test_an_airdrop_gives_each_good_row_once(
    bot_env: dict[str, str], collection: Collection, tmp_path: Path
):
    from bot.app import open_runtime
    from bot.config import load_settings

    art = tmp_path / "art.png"
    art.write_bytes(png(7, (16, 16)))

    def cli(*args: str) -> object:
        return asyncio.to_thread(run_cli, *args, env=bot_env, timeout=180)

    created = await cli(
        "drop", "create", "--platform", "discord", "--community", "g1", "--name", "Gift",
        "--image", str(art), "--supply", "10", "--role", "vip",
    )  # fmt: skip
    assert created.returncode == 0, created.output  # type: ignore[attr-defined]
    async with open_runtime(load_settings(bot_env), start=False) as runtime:  # a linked member
        challenge = await runtime.wallets.challenge("discord", "42", COLLECTOR.address)
        await runtime.wallets.verify("discord", "42", "Ada", sign_message(challenge.message))
    letter = next(i for i, c in enumerate(FRIEND) if i > 1 and c.isalpha())
    bad_checksum = FRIEND[:letter] + FRIEND[letter].swapcase() + FRIEND[letter + 1 :]
    rows = tmp_path / "airdrop.csv"
    rows.write_text(
        "recipient\n"
        f"{FRIEND}\n"
        f"{bad_checksum}\n"
        "discord:42\n"
        "discord:999\n"
        "carrier pigeon\n"
        "\n"
        f"{FRIEND.lower()}\n"
    )
    first = await cli("airdrop", str(rows), "--drop", "1")
    out = first.stdout  # type: ignore[attr-defined]
    assert first.returncode == 1, first.output  # type: ignore[attr-defined]  # bad rows
    table = summary(out)
    assert table["2"][1:3] == ["minted", "#1 of 10"]
    assert table["3"][1] == "bad row" and "checksum" in table["3"][3]
    assert table["4"][1:3] == ["minted", "#2 of 10"]
    assert table["5"][1:] == ["bad row", "", "unknown user: never seen by the bot"]
    assert table["6"][1] == "bad row" and "neither an address nor" in table["6"][3]
    assert table["8"][1:3] == ["already given", "#1 of 10"]  # the same recipient as line 2
    assert out.splitlines()[-1] == "1 already given, 3 bad row, 2 minted"
    assert await balance(collection, FRIEND) == 1  # rows 2 and 8 are one recipient
    assert await balance(collection, COLLECTOR.address) == 1  # the member's linked wallet
    assert await balance(collection, DEV_MINTER.address) == 0

    again = await cli("airdrop", str(rows), "--drop", "1")
    assert again.stdout.splitlines()[-1] == "3 already given, 3 bad row"  # type: ignore[attr-defined]
    assert await balance(collection, FRIEND) == 1
    assert await balance(collection, COLLECTOR.address) == 1
    assert await balance(collection, DEV_MINTER.address) == 0
