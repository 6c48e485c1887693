"""Compile the collection contract with the pinned solc from npm.

The compiled artifact (ABI and bytecode) is committed next to the source, so the bot runs
without Node.js tooling at start. `python -m bot contracts build` rewrites it and a test checks
that a fresh compile reproduces it byte for byte.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import ToolMissing

CONTRACTS_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = CONTRACTS_DIR.parent.parent
ARTIFACT_PATH = CONTRACTS_DIR / "MintbotCollection.json"
SOURCE_NAME = "MintbotCollection.sol"
CONTRACT_NAME = "MintbotCollection"

# EVM target: Cancun runs on every chain in the explorer table; the optimizer favours cheap
# mints (many runs) over a cheap one-off deployment.
COMPILER_SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 10_000},
    "viaIR": True,
    "evmVersion": "cancun",
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}


@dataclass(frozen=True)
class CompiledContract:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str


DRIVER = CONTRACTS_DIR / "solc_standard_json.cjs"


def _solcjs(node_modules: Path) -> Path:
    solcjs = node_modules / "solc" / "solc.js"
    if not solcjs.exists():
        raise ToolMissing(f"solc is not installed at {solcjs}; run `npm ci` (make does this)")
    return solcjs


def solc_version(node_modules: Path | None = None) -> str:
    node_modules = node_modules or PROJECT_ROOT / "node_modules"
    out = subprocess.run(
        ["node", str(_solcjs(node_modules)), "--version"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def compile_solidity(
    sources: dict[str, Path], node_modules: Path | None = None
) -> dict[str, CompiledContract]:
    """Compile `sources` (unit name -> file) and return every contract they define, by name.

    Imports such as `@openzeppelin/...` resolve against `node_modules`.
    """
    node_modules = node_modules or PROJECT_ROOT / "node_modules"
    request = {
        "language": "Solidity",
        "sources": {name: {"content": path.read_text()} for name, path in sources.items()},
        "settings": COMPILER_SETTINGS,
    }
    _solcjs(node_modules)
    base = next(iter(sources.values())).parent
    proc = subprocess.run(
        ["node", str(DRIVER), str(base), str(node_modules)],
        input=json.dumps(request),
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "NODE_PATH": str(node_modules)},
    )
    output = json.loads(proc.stdout)
    errors = [e for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise RuntimeError("solc failed:\n" + "\n".join(e["formattedMessage"] for e in errors))
    compiled: dict[str, CompiledContract] = {}
    for unit in sources:
        for name, contract in output["contracts"][unit].items():
            compiled[name] = CompiledContract(
                name=name,
                abi=contract["abi"],
                bytecode="0x" + contract["evm"]["bytecode"]["object"],
                deployed_bytecode="0x" + contract["evm"]["deployedBytecode"]["object"],
            )
    return compiled


def build_artifact(node_modules: Path | None = None) -> dict[str, Any]:
    """Compile the collection contract and return the artifact as it is committed."""
    contract = compile_solidity({SOURCE_NAME: CONTRACTS_DIR / SOURCE_NAME}, node_modules)[
        CONTRACT_NAME
    ]
    return {
        "contractName": CONTRACT_NAME,
        "compiler": {"solc": solc_version(node_modules), "settings": COMPILER_SETTINGS},
        "abi": contract.abi,
        "bytecode": contract.bytecode,
        "deployedBytecode": contract.deployed_bytecode,
    }


def write_artifact(path: Path = ARTIFACT_PATH) -> Path:
    path.write_text(json.dumps(build_artifact(), indent=2, sort_keys=True) + "\n")
    return path
