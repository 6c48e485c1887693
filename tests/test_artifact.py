"""The committed contract artifact is what the pinned solc makes of the committed source."""

from __future__ import annotations

import json

from bot.contracts.build import ARTIFACT_PATH, build_artifact


def test_fresh_compile_reproduces_the_committed_artifact():
    committed = json.loads(ARTIFACT_PATH.read_text())
    fresh = build_artifact()
    assert fresh["compiler"] == committed["compiler"]
    assert fresh["abi"] == committed["abi"]
    assert fresh["bytecode"] == committed["bytecode"], (
        "MintbotCollection.sol changed without rebuilding: run `python -m bot contracts build`"
    )
    assert fresh["deployedBytecode"] == committed["deployedBytecode"]
    assert committed["compiler"]["settings"]["optimizer"]["enabled"] is True
