"""The committed contract artifacts are what the pinned solc makes of the committed sources."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.contracts.build import ARTIFACT_PATH, CONTRACT_NAMES, artifact_path, build_artifacts


@pytest.fixture(scope="module")
def fresh() -> dict[str, dict[str, Any]]:
    """One compile of every contract (solc takes seconds)."""
    return build_artifacts()


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_fresh_compile_reproduces_the_committed_artifact(
    name: str, fresh: dict[str, dict[str, Any]]
):
    committed = json.loads(artifact_path(name).read_text())
    built = fresh[name]
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
