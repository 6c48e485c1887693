"""The committed contract artifacts are what the pinned solc makes of the committed sources."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.contracts.build import ARTIFACT_PATH, CONTRACT_NAMES, artifact_path, build_artifacts


def test_fresh_compile_reproduces_the_committed_artifacts():
    # One test for all: one compile of every contract (solc with viaIR takes tens of seconds
    # of CPU), where a test per contract would compile once per test worker.
    fresh = build_artifacts()
    for name in CONTRACT_NAMES:
        reproduces(name, fresh[name])


def reproduces(name: str, built: dict[str, Any]) -> None:
    committed = json.loads(artifact_path(name).read_text())
    assert committed["contractName"] == name
    assert built["compiler"] == committed["compiler"]
    assert built["abi"] == committed["abi"]
    assert built["bytecode"] == committed["bytecode"], (
        f"{name}.sol (or what it imports) changed without rebuilding: "
        "run `python -m bot contracts build`"
    )
    assert built["deployedBytecode"] == committed["deployedBytecode"]
    assert committed["compiler"]["settings"]["optimizer"]["enabled"] is True


def test_the_collection_artifact_keeps_its_path():
    assert artifact_path("MintbotCollection") == ARTIFACT_PATH
    with pytest.raises(KeyError):
        artifact_path("Unknown")
