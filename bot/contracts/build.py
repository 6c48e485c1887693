"""Compile the contracts with the pinned solc from npm.

The compiled artifacts (ABI and bytecode, one JSON file per contract) are committed next to the
sources, so the bot runs without Node.js tooling at start. `python -m bot contracts build`
rewrites them and a test checks that a fresh compile reproduces each byte for byte.
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
# The contracts the bot deploys (MintbotSignatureCheck it only runs, in an eth_call), each
# compiled from `<name>.sol` into a committed `<name>.json`.
CONTRACT_NAMES = (
    "MintbotCollection",
    "MintbotEditions",
    "MintbotFactory",
    "MintbotSignatureCheck",
)
CONTRACT_NAME = "MintbotCollection"
ARTIFACT_PATH = CONTRACTS_DIR / f"{CONTRACT_NAME}.json"

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


def artifact_path(contract_name: str) -> Path:
    """Where the committed artifact of `contract_name` (one of CONTRACT_NAMES) lives."""
    if contract_name not in CONTRACT_NAMES:
        raise KeyError(f"not one of our contracts: {contract_name}")
    return CONTRACTS_DIR / f"{contract_name}.json"


def build_artifacts(node_modules: Path | None = None) -> dict[str, dict[str, Any]]:
    """Compile every contract in one solc run and return each artifact as it is committed."""
    compiled = compile_solidity(
        {f"{name}.sol": CONTRACTS_DIR / f"{name}.sol" for name in CONTRACT_NAMES}, node_modules
    )
    version = solc_version(node_modules)
    return {
        name: {
            "contractName": name,
            "compiler": {"solc": version, "settings": COMPILER_SETTINGS},
            "abi": compiled[name].abi,
            "bytecode": compiled[name].bytecode,
            "deployedBytecode": compiled[name].deployed_bytecode,
        }
        for name in CONTRACT_NAMES
    }


def build_artifact(
    node_modules: Path | None = None, contract_name: str = CONTRACT_NAME
) -> dict[str, Any]:
    """Compile the contracts and return `contract_name`'s artifact as it is committed."""
    return build_artifacts(node_modules)[contract_name]


def write_artifact() -> list[Path]:
    """Rewrite every committed artifact from a fresh compile."""
    paths = []
    for name, built in build_artifacts().items():
        path = artifact_path(name)
        path.write_text(json.dumps(built, indent=2, sort_keys=True) + "\n")
        paths.append(path)
    return paths
