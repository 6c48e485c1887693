"""CIDs and UnixFS file DAGs, the same as `ipfs add --cid-version=1` with kubo's defaults.

Kubo's defaults for a CIDv1 add: fixed-size 256 KiB chunks, each chunk a raw block (codec 0x55);
more than one chunk becomes a balanced tree of dag-pb nodes (codec 0x70) with at most 174 links
each. Every hash is sha2-256 and every CID is written in lower-case base32 (multibase 'b').
Matching kubo byte for byte is the point: content pinned by any IPFS node then resolves to the
CID we put in token metadata.

Only the CID forms this module produces are understood (CIDv1, base32, raw or dag-pb, sha2-256);
anything else is rejected as invalid rather than half-supported.

References: the CID, multihash and multibase specs (multiformats), the dag-pb spec (ipld) and
the UnixFS spec (ipfs/specs).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from bot.errors import MintbotError

CHUNK_SIZE = 262_144
"""Bytes per leaf: kubo's default `size-262144` chunker."""

MAX_LINKS = 174
"""Links per dag-pb node in kubo's balanced layout."""

CODEC_RAW = 0x55
CODEC_DAG_PB = 0x70

_CID_VERSION = 0x01
_SHA2_256 = 0x12
_DIGEST_SIZE = 32
# Every CID we accept is these four bytes (version, codec, hash function, digest length) and a
# 32-byte digest; all four values are below 0x80, so each varint is one byte.
_PREFIXES = {
    CODEC_RAW: bytes([_CID_VERSION, CODEC_RAW, _SHA2_256, _DIGEST_SIZE]),
    CODEC_DAG_PB: bytes([_CID_VERSION, CODEC_DAG_PB, _SHA2_256, _DIGEST_SIZE]),
}
_CID_SIZE = 4 + _DIGEST_SIZE
_BASE32_MULTIBASE = "b"
_CID_TEXT_LENGTH = 1 + (_CID_SIZE * 8 + 4) // 5  # the multibase prefix and unpadded base32

_UNIXFS_FILE = 2
_UNIXFS_RAW = 0


class InvalidCidError(MintbotError):
    """Text or bytes that are not a CID of the form this bot produces."""


class MalformedNodeError(MintbotError):
    """A dag-pb block that is not a well-formed UnixFS file node."""


class ParsedCid(NamedTuple):
    """The two parts of a CID that vary: its codec and its sha2-256 digest."""

    codec: int
    digest: bytes


@dataclass(frozen=True)
class Block:
    """One IPFS block: its CID and the exact bytes that hash to it."""

    cid: str
    data: bytes


@dataclass(frozen=True)
class FileNode:
    """A decoded UnixFS file node: bytes held inline, then the children that follow in order."""

    filesize: int
    data: bytes
    links: tuple[str, ...]


def _encode_cid(codec: int, digest: bytes) -> str:
    if len(digest) != _DIGEST_SIZE:
        raise InvalidCidError(f"a sha2-256 digest is {_DIGEST_SIZE} bytes, not {len(digest)}")
    return cid_from_bytes(_PREFIXES[codec] + digest)


def raw_cid(digest: bytes) -> str:
    """The CIDv1 of a raw block whose sha2-256 digest is `digest` (32 bytes)."""
    return _encode_cid(CODEC_RAW, digest)


def dag_pb_cid(digest: bytes) -> str:
    """The CIDv1 of a dag-pb block whose sha2-256 digest is `digest` (32 bytes)."""
    return _encode_cid(CODEC_DAG_PB, digest)


def cid_from_bytes(data: bytes) -> str:
    """The base32 text form of a binary CID (as found in dag-pb links and CAR files)."""
    if len(data) != _CID_SIZE or data[:4] not in _PREFIXES.values():
        raise InvalidCidError("not a CIDv1 of a raw or dag-pb block with a sha2-256 digest")
    return _BASE32_MULTIBASE + base64.b32encode(data).decode("ascii").rstrip("=").lower()


def cid_to_bytes(cid: str) -> bytes:
    """The binary form of a CID: what dag-pb links and CAR files hold."""
    if len(cid) != _CID_TEXT_LENGTH or not cid.startswith(_BASE32_MULTIBASE):
        raise InvalidCidError(f"{cid[:80]!r} is not a base32 CIDv1 of a sha2-256 block")
    body = cid[1:]
    # b32decode would also take upper case and stray padding; the canonical form is neither.
    if body != body.lower() or "=" in body:
        raise InvalidCidError(f"{cid[:80]!r} is not lower-case unpadded base32")
    try:
        data = base64.b32decode(body.upper() + "=" * (-len(body) % 8))
    except ValueError as err:
        raise InvalidCidError(f"{cid[:80]!r} is not valid base32") from err
    # Re-encoding catches non-canonical spellings (non-zero spare bits in the last character).
    if cid_from_bytes(data) != cid:
        raise InvalidCidError(f"{cid[:80]!r} is not the canonical spelling of its CID")
    return data


def parse_cid(cid: str) -> ParsedCid:
    """Split a CID into its codec (`CODEC_RAW` or `CODEC_DAG_PB`) and sha2-256 digest."""
    data = cid_to_bytes(cid)
    return ParsedCid(codec=data[1], digest=data[4:])


def cid_digest(cid: str) -> bytes:
    """The sha2-256 digest inside a raw-block CID: the inverse of `raw_cid`.

    Raises `InvalidCidError` for anything that `raw_cid` could not have produced, including
    dag-pb CIDs (use `parse_cid` to accept both).
    """
    parsed = parse_cid(cid)
    if parsed.codec != CODEC_RAW:
        raise InvalidCidError(f"{cid} is a dag-pb CID, not the CID of a raw block")
    return parsed.digest


def is_cid(text: str) -> bool:
    """Whether `text` is a CID in the form this module produces (CIDv1, base32, raw or dag-pb)."""
    try:
        cid_to_bytes(text)
    except InvalidCidError:
        return False
    return True


def block_matches(cid: str, data: bytes) -> bool:
    """Whether `data` hashes to the digest in `cid` (the check that makes content addressing)."""
    return hashlib.sha256(data).digest() == parse_cid(cid).digest


def cid_of_bytes(data: bytes) -> str:
    """The root CID `ipfs add --cid-version=1` gives a file holding `data`."""
    root, _ = unixfs_file(data)
    return root


@dataclass(frozen=True)
class _Subtree:
    """What a parent needs to know about a child: its CID and its two sizes."""

    cid: str
    filesize: int  # file bytes under this child (the parent's `blocksizes` entry)
    tsize: int  # encoded bytes of every block under this child, itself included (link Tsize)


def unixfs_file(data: bytes) -> tuple[str, list[Block]]:
    """Build the UnixFS DAG of a file; return its root CID and every block needed to serve it.

    Blocks come leaves first and the root last, each distinct block once (a file of repeated
    chunks, such as zeros, reuses one leaf, as any IPFS blockstore would).
    """
    blocks: dict[str, Block] = {}
    # An empty file is one empty chunk, so it gets the raw CID of zero bytes as kubo does.
    chunks = [data[start : start + CHUNK_SIZE] for start in range(0, len(data), CHUNK_SIZE)]
    level = [_leaf(chunk, blocks) for chunk in chunks or [b""]]
    # Balanced layout: group each level into parents of MAX_LINKS until one node remains. A
    # single chunk is its own root; it is never wrapped in a dag-pb node.
    while len(level) > 1:
        level = [
            _parent(level[start : start + MAX_LINKS], blocks)
            for start in range(0, len(level), MAX_LINKS)
        ]
    return level[0].cid, list(blocks.values())


def _leaf(chunk: bytes, blocks: dict[str, Block]) -> _Subtree:
    cid = raw_cid(hashlib.sha256(chunk).digest())
    blocks.setdefault(cid, Block(cid, chunk))
    return _Subtree(cid=cid, filesize=len(chunk), tsize=len(chunk))


def _parent(children: list[_Subtree], blocks: dict[str, Block]) -> _Subtree:
    unixfs = _field_varint(1, _UNIXFS_FILE) + _field_varint(3, sum(c.filesize for c in children))
    unixfs += b"".join(_field_varint(4, child.filesize) for child in children)
    # dag-pb canonical form: every Links entry (field 2) before Data (field 1), and inside a link
    # Hash, Name, Tsize. Kubo writes the empty Name explicitly, so it is part of the hash.
    node = b"".join(
        _field_bytes(
            2,
            _field_bytes(1, cid_to_bytes(child.cid))
            + _field_bytes(2, b"")
            + _field_varint(3, child.tsize),
        )
        for child in children
    )
    node += _field_bytes(1, unixfs)
    cid = dag_pb_cid(hashlib.sha256(node).digest())
    blocks.setdefault(cid, Block(cid, node))
    return _Subtree(
        cid=cid,
        filesize=sum(child.filesize for child in children),
        tsize=len(node) + sum(child.tsize for child in children),
    )


def decode_file_node(data: bytes) -> FileNode:
    """Decode a dag-pb block holding a UnixFS file node (as `unixfs_file` writes, or kubo).

    Raises `MalformedNodeError` if the bytes are not dag-pb, or not a UnixFS file.
    """
    links: list[str] = []
    unixfs: bytes | None = None
    for field, value in _protobuf_fields(data):
        if field == 2 and isinstance(value, bytes):
            links.append(_decode_link_hash(value))
        elif field == 1 and isinstance(value, bytes) and unixfs is None:
            unixfs = value
        else:
            raise MalformedNodeError(f"unexpected dag-pb field {field}")
    if unixfs is None:
        raise MalformedNodeError("the dag-pb node has no UnixFS data")

    kind: int | None = None
    filesize: int | None = None
    inline = b""
    for field, value in _protobuf_fields(unixfs):
        if field == 1 and isinstance(value, int):
            kind = value
        elif field == 2 and isinstance(value, bytes):
            inline = value
        elif field == 3 and isinstance(value, int):
            filesize = value
        # blocksizes (4) repeat what the children hold, and mode/mtime (7, 8) do not change the
        # bytes, so reading the file needs neither.
    if kind not in (_UNIXFS_FILE, _UNIXFS_RAW):
        raise MalformedNodeError(f"the UnixFS node is of type {kind}, not a file")
    if filesize is None:
        filesize = len(inline)
    return FileNode(filesize=filesize, data=inline, links=tuple(links))


def _decode_link_hash(link: bytes) -> str:
    for field, value in _protobuf_fields(link):
        if field == 1 and isinstance(value, bytes):
            try:
                return cid_from_bytes(value)
            except InvalidCidError as err:
                raise MalformedNodeError(f"a dag-pb link holds an unsupported CID: {err}") from err
    raise MalformedNodeError("a dag-pb link has no Hash")


def encode_varint(value: int) -> bytes:
    """Encode an unsigned varint (LEB128), as protobuf, multiformats and CAR files use."""
    if value < 0:
        raise ValueError("varints are unsigned")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field_varint(field: int, value: int) -> bytes:
    return encode_varint(field << 3) + encode_varint(value)


def _field_bytes(field: int, value: bytes) -> bytes:
    return encode_varint(field << 3 | 2) + encode_varint(len(value)) + value


def read_varint(data: bytes, offset: int) -> tuple[int, int]:
    """The unsigned LEB128 varint at `offset`, and the offset after it; `MalformedNodeError`
    if it is cut off or longer than 64 bits."""
    value = 0
    for shift in range(0, 64, 7):
        if offset >= len(data):
            raise MalformedNodeError("truncated varint")
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, offset
    raise MalformedNodeError("varint longer than 64 bits")


def _protobuf_fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """Yield (field number, value) of a protobuf message using only varint and bytes fields."""
    offset = 0
    while offset < len(data):
        key, offset = read_varint(data, offset)
        field, wire_type = key >> 3, key & 0x07
        if wire_type == 0:
            number, offset = read_varint(data, offset)
            yield field, number
        elif wire_type == 2:
            length, offset = read_varint(data, offset)
            if offset + length > len(data):
                raise MalformedNodeError("a protobuf field runs past the end of the block")
            yield field, data[offset : offset + length]
            offset += length
        else:
            raise MalformedNodeError(f"protobuf wire type {wire_type} has no place in dag-pb")
