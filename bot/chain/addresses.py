"""Ethereum addresses in EIP-55 form, for the web role, which does without eth-utils:
importing it costs that process more CPU than aiohttp does."""

from __future__ import annotations

import re

from eth_hash.auto import keccak

_HEX_ADDRESS = re.compile(r"(?:0[xX])?([0-9a-fA-F]{40})")


def checksum_address(raw: bytes) -> str:
    """The 20-byte address in EIP-55 form: a hex letter is upper case where the keccak-256 of
    the lower-case hex has a nibble of 8 or more at its place."""
    lower = raw.hex()
    digest = keccak(lower.encode()).hex()
    return "0x" + "".join(
        c.upper() if d >= "8" else c for c, d in zip(lower, digest[:40], strict=True)
    )


def parse_hex_address(text: str) -> str | None:
    """`text` (40 hex digits, 0x or not, any case) as a checksummed address; None if it is not
    one. The case is not checked: a page address is looked up, never sent to."""
    match = _HEX_ADDRESS.fullmatch(text)
    return checksum_address(bytes.fromhex(match[1])) if match else None
