"""The local chain: anvil from the npm package `@foundry-rs/anvil`, on 127.0.0.1.

The npm package installs the real binary through a platform package; we start that binary
directly (not through the npm wrapper) so that its PID is anvil's own and stopping it stops it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from bot.errors import ChainError, ToolMissing

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_PLATFORM_PACKAGES = {
    ("Linux", "x86_64"): "anvil-linux-amd64",
    ("Linux", "aarch64"): "anvil-linux-arm64",
    ("Darwin", "x86_64"): "anvil-darwin-amd64",
    ("Darwin", "arm64"): "anvil-darwin-arm64",
}


def anvil_binary(node_modules: Path | None = None) -> Path:
    """Path of the anvil binary that `npm ci` installed for this platform."""
    node_modules = node_modules or PROJECT_ROOT / "node_modules"
    package = _PLATFORM_PACKAGES.get((platform.system(), platform.machine()))
    if package is None:
        raise ToolMissing(f"no anvil package for {platform.system()} {platform.machine()}")
    binary = node_modules / "@foundry-rs" / package / "bin" / "anvil"
    if not binary.exists():
        raise ToolMissing(f"anvil is not installed at {binary}; run `npm ci` (make does this)")
    return binary


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rpc_chain_id(url: str, timeout: float = 1.0) -> int | None:
    """The chain ID a JSON-RPC endpoint reports, or None if nothing answers there."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    if not url.startswith(("http://", "https://")):
        return None
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(json.load(response)["result"], 16)
    except (OSError, ValueError, KeyError, urllib.error.URLError):
        return None


class Anvil:
    """One anvil process on 127.0.0.1. Use as a context manager, or call start() and stop()."""

    def __init__(
        self,
        port: int | None = None,
        *,
        state_file: Path | None = None,
        block_time: float = 0,
        chain_id: int = 31337,
        network: str = "ethereum",
        extra_args: tuple[str, ...] = (),
        log_file: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.state_file = state_file
        self.block_time = block_time
        self.chain_id = chain_id
        # anvil's network family: "ethereum", or "optimism" for OP-stack transaction types.
        self.network = network
        self.extra_args = extra_args
        self.log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def command(self) -> list[str]:
        args = [
            str(anvil_binary()),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
            "--silent",
        ]
        if self.network != "ethereum":
            args += ["--network", self.network]
        if self.block_time:
            args += ["--block-time", f"{self.block_time:g}"]
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            # Load the state if present, dump it on exit and every few seconds, so a crash
            # loses at most that much of the local chain.
            args += ["--state", str(self.state_file), "--state-interval", "5"]
        return args + list(self.extra_args)

    def start(self, timeout: float = 30.0) -> Anvil:
        if rpc_chain_id(self.url, timeout=0.5) is not None:
            raise ChainError(f"port {self.port} is taken by another JSON-RPC node")
        # Popen duplicates the descriptor, so ours is closed right after.
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,  # Ctrl-C in the terminal goes to us; we stop anvil
            )
        finally:
            if self.log_file:
                out.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout
        while rpc_chain_id(self.url, timeout=0.5) != self.chain_id:
            if self._process.poll() is not None:
                raise ChainError(
                    f"anvil exited with code {self._process.returncode} at start (port {self.port})"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise ChainError(f"anvil did not answer on {self.url} within {timeout:g} s")
            time.sleep(0.05)
        log.debug("anvil %s started on %s", self._process.pid, self.url)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop anvil with SIGTERM (it dumps its state then), or SIGKILL if it hangs."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
