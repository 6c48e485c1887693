"""CAR (content-addressed archive, CARv1) export: our blocks in the form pinning services take,
and splitting such an archive into one per root for services that pin one root per upload.

A CARv1 file is a varint-length-prefixed DAG-CBOR header `{"roots": [CID, ...], "version": 1}`
followed by one section per block: a varint length, the binary CID, then the block's bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, NamedTuple, TypeAlias

from bot.atomic_files import write_atomically
from bot.content.cid import (
    CODEC_DAG_PB,
    Block,
    InvalidCidError,
    MalformedNodeError,
    cid_from_bytes,
    cid_to_bytes,
    decode_file_node,
    encode_varint,
    parse_cid,
    read_varint,
)
from bot.content.store import ContentStore
from bot.errors import MintbotError

_CID_TAG = 42
"""The CBOR tag DAG-CBOR gives a CID (a link)."""


class _Link(NamedTuple):
    """A CID as a DAG-CBOR value, to tell it apart from a plain string."""

    cid: str


_DagCbor: TypeAlias = "int | str | bytes | _Link | list[_DagCbor] | dict[str, _DagCbor]"

# Every CID this bot writes is 36 bytes: version, codec, hash function and length (one byte
# each, all below 0x80) and a sha2-256 digest (see bot.content.cid).
_CID_BYTES = 36


class CarFormatError(MintbotError):
    """Bytes that are not a CARv1 archive of the blocks this bot makes."""


def write_car(out: BinaryIO, roots: Sequence[str], blocks: Iterable[Block]) -> int:
    """Write a CARv1 archive of `blocks` with the given root CIDs; return the blocks written.

    A block that comes twice is written once. Blocks are written as given, not re-hashed:
    `ContentStore.iter_blocks` has verified them already.
    """
    header = _encode_dag_cbor({"roots": [_Link(root) for root in roots], "version": 1})
    out.write(encode_varint(len(header)) + header)
    written: set[str] = set()
    for block in blocks:
        if block.cid in written:
            continue
        cid = cid_to_bytes(block.cid)
        out.write(encode_varint(len(cid) + len(block.data)) + cid)
        out.write(block.data)
        written.add(block.cid)
    return len(written)


def read_car(data: bytes) -> Iterator[Block]:
    """The blocks of a CARv1 archive in file order, as written (not re-hashed: whoever takes
    them checks). The header is skipped: callers know their roots. Raises `CarFormatError`."""
    length, offset = _read_varint(data, 0)
    offset += length
    while offset < len(data):
        length, offset = _read_varint(data, offset)
        end = offset + length
        if length < _CID_BYTES or end > len(data):
            raise CarFormatError("a CAR section runs past the end of the archive")
        try:
            cid = cid_from_bytes(data[offset : offset + _CID_BYTES])
        except InvalidCidError as err:
            raise CarFormatError(
                f"a CAR section holds a CID this bot does not make: {err}"
            ) from err
        yield Block(cid, data[offset + _CID_BYTES : end])
        offset = end


def walk_dag(root: str, get: Callable[[str], bytes | None]) -> list[Block]:
    """The blocks of the file rooted at `root`, root first, then depth first, each once. A
    block `get` does not have (None) is left out. Raises `CarFormatError` for a dag-pb block
    that is not a UnixFS file node."""
    dag: list[Block] = []
    seen: set[str] = set()
    work = [root]
    while work:
        cid = work.pop()
        if cid in seen:
            continue
        data = get(cid)
        if data is None:
            continue
        seen.add(cid)
        dag.append(Block(cid, data))
        if parse_cid(cid).codec == CODEC_DAG_PB:
            try:
                links = decode_file_node(data).links
            except MalformedNodeError as err:
                raise CarFormatError(f"block {cid} is not a UnixFS file node: {err}") from err
            work.extend(reversed(links))
    return dag


def car_of_root(root: str, blocks: dict[str, Block]) -> bytes:
    """A CARv1 archive with `root` as its one root and the blocks of `blocks` under it (see
    `walk_dag`). A block missing from `blocks` is left out, for the receiver to refuse."""
    found = walk_dag(root, lambda cid: blocks[cid].data if cid in blocks else None)
    out = io.BytesIO()
    write_car(out, [root], found)
    return out.getvalue()


def _read_varint(data: bytes, offset: int) -> tuple[int, int]:
    try:
        return read_varint(data, offset)
    except MalformedNodeError as err:
        raise CarFormatError(f"a CAR length is malformed: {err}") from None


def export_store(store: ContentStore, path: Path) -> tuple[int, int]:
    """Write every block of `store` to a CAR file at `path`, with its file roots as the roots.

    Returns (roots, blocks) counts. The file appears whole or not at all (temp file, rename).
    """
    # Roots first: a root is listed only once all its blocks are stored, so each root listed
    # here is complete among the blocks read next, even while other puts are under way.
    roots = list(store.iter_roots())
    blocks = write_atomically(path, lambda out: write_car(out, roots, store.iter_blocks()))
    return len(roots), blocks


def _encode_dag_cbor(value: _DagCbor) -> bytes:
    """The DAG-CBOR encoding of the few kinds of values a CAR header holds.

    DAG-CBOR is strict CBOR: shortest-form lengths, map keys sorted by encoded length and then
    bytewise (so "roots" comes before "version"), and CIDs as tag 42 over 0x00 + binary CID.
    """
    if isinstance(value, _Link):
        return _cbor_head(6, _CID_TAG) + _encode_dag_cbor(b"\x00" + cid_to_bytes(value.cid))
    if isinstance(value, bool):
        raise TypeError("booleans are not needed in a CAR header")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("negative integers are not needed in a CAR header")
        return _cbor_head(0, value)
    if isinstance(value, bytes):
        return _cbor_head(2, len(value)) + value
    if isinstance(value, str):
        text = value.encode("utf-8")
        return _cbor_head(3, len(text)) + text
    if isinstance(value, list):
        return _cbor_head(4, len(value)) + b"".join(_encode_dag_cbor(item) for item in value)
    keys = sorted(value, key=lambda key: (len(key.encode("utf-8")), key.encode("utf-8")))
    return _cbor_head(5, len(keys)) + b"".join(
        _encode_dag_cbor(key) + _encode_dag_cbor(value[key]) for key in keys
    )


def _cbor_head(major: int, argument: int) -> bytes:
    """A CBOR item head in its shortest form, as DAG-CBOR requires."""
    if argument < 24:
        return bytes([major << 5 | argument])
    for additional, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if argument < 1 << (8 * width):
            return bytes([major << 5 | additional]) + argument.to_bytes(width, "big")
    raise ValueError("CBOR arguments stop at 64 bits")
