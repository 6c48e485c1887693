"""An in-process pinning service for the publisher's tests: it reads each CAR it is given with
a reader of its own (not the bot's), hashes every block itself, and keeps what it pinned. The
tests script its faults: down, refusing a root, or handing back wrong bytes. (The backends
themselves are tested against real IPFS implementations: tests/test_pinning_*.py.)"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.ports import BackendCheck, PinRefused

SHA2_256 = 0x12


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, offset
        shift += 7


def _base32(data: bytes) -> str:
    import base64

    return "b" + base64.b32encode(data).decode().lower().rstrip("=")


def read_car(car: bytes) -> tuple[list[str], dict[str, bytes]]:
    """The roots and blocks of a CARv1, each block checked against its CIDv1 (sha2-256); the
    roots are read from the header's CBOR as the 37-byte CIDs it tags."""
    length, offset = _varint(car, 0)
    header, offset = car[offset : offset + length], offset + length
    roots = []
    marker = b"\xd8\x2a\x58\x25\x00"  # tag 42, bytes(37), the multibase identity prefix
    start = header.find(marker)
    while start >= 0:
        roots.append(_base32(header[start + len(marker) : start + len(marker) + 36]))
        start = header.find(marker, start + 1)
    blocks: dict[str, bytes] = {}
    while offset < len(car):
        length, offset = _varint(car, offset)
        section, offset = car[offset : offset + length], offset + length
        version, at = _varint(section, 0)
        codec, at = _varint(section, at)
        code, at = _varint(section, at)
        size, at = _varint(section, at)
        digest, data = section[at : at + size], section[at + size :]
        if version != 1 or code != SHA2_256 or hashlib.sha256(data).digest() != digest:
            raise PinRefused(f"block {section[: at + size].hex()} does not match its CID")
        blocks[_base32(section[: at + size])] = data
        del codec
    return roots, blocks


class Unavailable(ConnectionError):
    """Down, and saying when to come back (as a 429's Retry-After does)."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class PinningService:
    """A pinning backend whose faults a test turns on and off."""

    name: str = "scripted"
    down: bool = False
    retry_after: float | None = None  # what it says when down
    down_message: str = "the pinning service is down"
    hold: asyncio.Event | None = None  # set: pin_car waits for it (the process dies meanwhile)
    refuse: set[str] = field(default_factory=set)  # roots it will never pin
    wrong_bytes: int = 0  # how many read-backs to answer with wrong bytes
    blocks: dict[str, bytes] = field(default_factory=dict)
    pins: set[str] = field(default_factory=set)
    cars: list[list[str]] = field(default_factory=list)  # the roots of each CAR taken

    async def pin_car(self, car: bytes, roots: Sequence[str]) -> None:
        if self.down:
            raise Unavailable(self.down_message, self.retry_after)
        if self.hold is not None:
            await self.hold.wait()
        car_roots, blocks = read_car(car)
        if sorted(car_roots) != sorted(roots):
            raise PinRefused(f"the CAR's roots {car_roots} are not {list(roots)}")
        if refused := self.refuse & set(roots):
            raise PinRefused(f"content policy: {sorted(refused)[0]}")
        missing = [root for root in roots if root not in blocks]
        if missing:
            raise PinRefused(f"root {missing[0]} is not in the CAR")
        self.blocks.update(blocks)
        self.pins.update(roots)
        self.cars.append(list(roots))

    async def fetch_block(self, cid: str) -> bytes:
        if self.down:
            raise ConnectionError("the pinning service is down")
        if self.wrong_bytes:
            self.wrong_bytes -= 1
            return b"not the block"
        return self.blocks[cid]

    async def pinned(self, cids: Sequence[str]) -> set[str]:
        return self.pins & set(cids)

    async def check(self) -> list[BackendCheck]:
        return [BackendCheck("reachable", not self.down)]

    async def close(self) -> None:
        pass
