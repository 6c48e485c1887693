"""The Pinata emulator (tests/ipfs/pinata_emulator.mjs) as a process tests start and stop, and a
pytest fixture giving each test a fresh one on a free loopback port."""

from __future__ import annotations

import json
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

PROJECT = Path(__file__).resolve().parent.parent
SCRIPT = PROJECT / "tests" / "ipfs" / "pinata_emulator.mjs"


class PinataEmulator:
    """One emulator process on 127.0.0.1 accepting `jwt` as its only key."""

    def __init__(self, jwt: str | None = None) -> None:
        self.jwt = jwt or f"eyJ.test.{secrets.token_urlsafe(24)}"
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        # Lives as long as the process (closed in stop()), so no `with`.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PinataEmulator:
        self._process = subprocess.Popen(
            ["node", str(SCRIPT), "--jwt", self.jwt, "--port", "0"],
            cwd=PROJECT,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            self._stderr.seek(0)
            raise RuntimeError(f"the Pinata emulator did not start: {self._stderr.read()!r}")
        self.port = json.loads(line)["port"]
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            assert self._process.stdout is not None
            self._process.stdout.close()
            self._process = None
        self._stderr.close()

    async def _control(self, method: str, route: str, body: Any = None) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, f"{self.url}/__control/{route}", json=body) as response,
        ):
            response.raise_for_status()
            answer: dict[str, Any] = await response.json()
            return answer

    async def fail_next(self, status: int, count: int = 1, retry_after: int | None = None) -> None:
        """Answer the next `count` requests with `status` (and Retry-After, if given)."""
        await self._control(
            "POST", "fail", {"status": status, "count": count, "retry_after": retry_after}
        )

    async def state(self) -> dict[str, Any]:
        """{"files": [...], "blocks": [cid, ...], "requests": [...]} as the emulator holds them."""
        return await self._control("GET", "state")


@pytest.fixture
def pinata() -> Iterator[PinataEmulator]:
    emulator = PinataEmulator().start()
    try:
        yield emulator
    finally:
        emulator.stop()
