"""A real IPFS node for tests: tests/ipfs/kubo_rpc.mjs, kubo's RPC API on a Helia node, run as
a subprocess on a free loopback port.

`ipfs_node()` starts one for a `with` block; the `kubo_rpc` fixture yields one per test module.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

PROJECT = Path(__file__).resolve().parent.parent
SERVER = PROJECT / "tests" / "ipfs" / "kubo_rpc.mjs"
# Loading Helia takes a second or two on an idle machine; a shared, busy one needs more.
READY_TIMEOUT_S = 60.0


@dataclass
class IpfsNode:
    """A running kubo_rpc.mjs: its base URL, and its test controls."""

    url: str
    process: subprocess.Popen[bytes]

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        retry_after: int | None = None,
        path: str | None = None,
    ) -> None:
        """The next `count` requests (whose path starts with `path`, if given) are answered
        with `status`, and a Retry-After header when `retry_after` is given."""
        fault: dict[str, Any] = {"status": status, "count": count}
        if retry_after is not None:
            fault["retry_after"] = retry_after
        if path is not None:
            fault["path"] = path
        self._control("POST", "/_control/faults", fault)

    def hang_next(self, count: int = 1, *, path: str | None = None) -> None:
        """The next `count` requests (whose path starts with `path`) are never answered."""
        self.fail_next(0, count, path=path)

    def requests(self) -> list[dict[str, Any]]:
        """Every request the node has had: method, path and the status it answered."""
        answer: list[dict[str, Any]] = self._control("GET", "/_control/log")
        return answer

    def _control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


@contextlib.contextmanager
def ipfs_node(*, auth: str | None = None) -> Iterator[IpfsNode]:
    """Start kubo_rpc.mjs on a free port of 127.0.0.1 (requiring `Authorization: <auth>` when
    given) and stop it afterwards."""
    command = ["node", str(SERVER), "0"]
    if auth is not None:
        command += ["--auth", auth]
    # Its stderr goes to a file: a pipe nobody reads could fill and stall the server.
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, cwd=PROJECT, stdout=subprocess.PIPE, stderr=errors)
        try:
            port = _ready_port(process, errors)
            yield IpfsNode(f"http://127.0.0.1:{port}", process)
        finally:
            process.kill()
            process.wait(timeout=10)
            assert process.stdout is not None
            process.stdout.close()


def _ready_port(process: subprocess.Popen[bytes], errors: IO[bytes]) -> int:
    """The port the server prints once it listens; raises with its stderr if it never does."""
    stdout = process.stdout
    assert stdout is not None
    line: list[bytes] = []

    def read_line() -> None:
        line.append(stdout.readline())

    reader = threading.Thread(target=read_line, daemon=True)
    reader.start()
    reader.join(READY_TIMEOUT_S)
    if not line or not line[0]:
        process.kill()
        process.wait(timeout=10)
        errors.seek(0)
        said = errors.read().decode(errors="replace")
        raise RuntimeError(f"kubo_rpc.mjs did not start: {said}")
    port: int = json.loads(line[0])["port"]
    return port


@pytest.fixture(scope="module")
def kubo_rpc() -> Iterator[IpfsNode]:
    """One node for a test module (content-addressed: tests that pin different bytes do not
    see each other)."""
    with ipfs_node() as node:
        yield node
