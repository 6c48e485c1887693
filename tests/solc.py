"""The test contracts under tests/contracts, compiled once for every test process.

One run of the pinned solc compiles them all (most of a run is loading the compiler). The
output is kept in the system's temporary directory under a name made of everything that decides
it: the sources, the settings and the solc package's version. So the test processes of a run
share one compile, a later run reuses it, and any change compiles afresh. A file lock makes the
processes that ask at once wait for the first one's compile instead of repeating it.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from bot.atomic_files import write_atomically
from bot.contracts.build import COMPILER_SETTINGS, PROJECT_ROOT, CompiledContract, compile_solidity

CONTRACTS = Path(__file__).resolve().parent / "contracts"


def compiled_contract(name: str) -> CompiledContract:
    """The compiled contract `name`, from any of the test sources."""
    return _all_compiled()[name]


@functools.cache
def _all_compiled() -> dict[str, CompiledContract]:
    sources = {path.name: path for path in sorted(CONTRACTS.glob("*.sol"))}
    cache = Path(tempfile.gettempdir()) / f"mintbot-test-contracts-{_fingerprint(sources)}.json"
    with _locked(cache.with_suffix(".lock")):
        if not cache.exists():
            compiled = compile_solidity(sources)
            data = json.dumps({n: asdict(c) for n, c in compiled.items()}).encode()
            write_atomically(cache, lambda file: file.write(data))
        return {n: CompiledContract(**c) for n, c in json.loads(cache.read_text()).items()}


def _fingerprint(sources: dict[str, Path]) -> str:
    solc = json.loads((PROJECT_ROOT / "node_modules" / "solc" / "package.json").read_text())
    digest = hashlib.sha256(json.dumps([solc["version"], COMPILER_SETTINGS]).encode())
    for name, path in sources.items():
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the file lets go of the lock
