"""Constants and helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account

from bot.chain.fees import Fees
from bot.config import ANVIL_DEV_KEYS

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# A fresh key made for each run; tests check it never shows up anywhere.
CANARY_KEY = "0x" + os.urandom(32).hex()
CANARY = Account.from_key(CANARY_KEY)

DEV_MINTER = Account.from_key(ANVIL_DEV_KEYS[0])
DEV_ADMIN = Account.from_key(ANVIL_DEV_KEYS[1])
FEES = Fees(max_fee_per_gas=50 * 10**9, max_priority_fee_per_gas=10**9)


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(*args: str, env: dict[str, str], timeout: float = 60) -> CliResult:
    """Run `python -m bot ARGS` as a user would, with exactly `env` as its settings."""
    proc = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={"PATH": os.environ["PATH"], "ENV_FILE": "/nonexistent/.env", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PROJECT_ROOT,
        check=False,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def png(seed: int = 0, size: tuple[int, int] = (8, 8)) -> bytes:
    """A small PNG whose pixels depend on `seed`, so each seed is a different image."""
    import io

    from PIL import Image

    image = Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, (seed // 256) % 256))
    image.putpixel((0, 0), (seed % 256, 0, 0))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
