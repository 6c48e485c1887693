"""Our CIDs equal kubo's: checked against the JS UnixFS importer and published vectors."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot.content.cid import (
    CHUNK_SIZE,
    CODEC_DAG_PB,
    CODEC_RAW,
    MAX_LINKS,
    Block,
    InvalidCidError,
    MalformedNodeError,
    cid_digest,
    cid_of_bytes,
    dag_pb_cid,
    decode_file_node,
    is_cid,
    parse_cid,
    raw_cid,
    unixfs_file,
)

PROJECT = Path(__file__).resolve().parent.parent
IMPORTER = PROJECT / "tests" / "js" / "unixfs_cid.mjs"

HELLO_WORLD_CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
EMPTY_FILE_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"

# Random bytes (seeded) so that no two chunks repeat, except where repetition is the point.
PAYLOADS = {
    "empty": 0,
    "one-byte": 1,
    "one-chunk": CHUNK_SIZE,
    "one-chunk-and-a-byte": CHUNK_SIZE + 1,
    "3-MB": 3_000_000,
    "one-full-node": MAX_LINKS * CHUNK_SIZE,
    "two-levels": MAX_LINKS * CHUNK_SIZE + 1,
}


@functools.cache
def payload(name: str) -> bytes:
    if name == "zeros":
        return bytes(3 * CHUNK_SIZE + 5)
    return random.Random(name).randbytes(PAYLOADS[name])


@pytest.fixture(scope="module")
def js_importer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """What the JS importer, set up like kubo, makes of each payload (one node run for all)."""
    directory = tmp_path_factory.mktemp("unixfs")
    paths = []
    for name in [*PAYLOADS, "zeros"]:
        path = directory / name
        path.write_bytes(payload(name))
        paths.append(str(path))
    result = subprocess.run(
        ["node", str(IMPORTER), *paths],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return {Path(entry["path"]).name: entry for entry in json.loads(result.stdout)}


@pytest.mark.parametrize("name", [*PAYLOADS, "zeros"])
def test_cid_and_blocks_match_the_js_importer(
    name: str, js_importer: dict[str, dict[str, Any]]
) -> None:
    root, blocks = unixfs_file(payload(name))
    reference = js_importer[name]
    assert root == reference["cid"]
    block_cids = [block.cid for block in blocks]
    assert len(block_cids) == len(set(block_cids))
    assert set(block_cids) == set(reference["blocks"])
    assert blocks[-1].cid == root


def test_hello_world_vector() -> None:
    assert cid_of_bytes(b"hello world") == HELLO_WORLD_CID


def test_empty_file_is_the_raw_block_of_no_bytes() -> None:
    assert unixfs_file(b"") == (EMPTY_FILE_CID, [Block(EMPTY_FILE_CID, b"")])


def test_one_chunk_is_a_single_raw_block() -> None:
    data = payload("one-chunk")
    root, blocks = unixfs_file(data)
    assert blocks == [Block(root, data)]
    assert root == raw_cid(hashlib.sha256(data).digest())


def test_more_than_one_chunk_has_a_dag_pb_root() -> None:
    data = payload("two-levels")
    root, blocks = unixfs_file(data)
    assert parse_cid(root).codec == CODEC_DAG_PB
    by_cid = {block.cid: block.data for block in blocks}
    top = decode_file_node(by_cid[root])
    assert top.filesize == len(data)
    assert len(top.links) == 2
    full, rest = (decode_file_node(by_cid[cid]) for cid in top.links)
    assert (len(full.links), full.filesize) == (MAX_LINKS, MAX_LINKS * CHUNK_SIZE)
    assert (len(rest.links), rest.filesize) == (1, 1)
    assert len(blocks) == MAX_LINKS + 1 + 2 + 1


def test_repeated_chunks_are_one_block() -> None:
    _, blocks = unixfs_file(payload("zeros"))
    assert len(blocks) == 3
    assert decode_file_node(blocks[-1].data).links[:3] == (blocks[0].cid,) * 3


def test_raw_cid_and_cid_digest_round_trip() -> None:
    digest = hashlib.sha256(b"hello world").digest()
    assert raw_cid(digest) == HELLO_WORLD_CID
    assert cid_digest(HELLO_WORLD_CID) == digest
    for seed in range(20):
        digest = random.Random(seed).randbytes(32)
        cid = raw_cid(digest)
        assert is_cid(cid)
        assert cid_digest(cid) == digest
        assert parse_cid(dag_pb_cid(digest)) == (CODEC_DAG_PB, digest)
        assert parse_cid(cid) == (CODEC_RAW, digest)


def _base32_cid(binary: bytes) -> str:
    return "b" + base64.b32encode(binary).decode().rstrip("=").lower()


def _non_canonical(cid: str) -> str:
    """The same bytes with a spare bit set in the last base32 character."""
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return cid[:-1] + alphabet[alphabet.index(cid[-1]) ^ 1]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "b",
        "hello",
        HELLO_WORLD_CID.upper(),
        "B" + HELLO_WORLD_CID[1:].upper(),
        "z" + HELLO_WORLD_CID[1:],
        HELLO_WORLD_CID[:-1],
        HELLO_WORLD_CID + "a",
        HELLO_WORLD_CID + "=",
        _non_canonical(HELLO_WORLD_CID),
        "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o",  # CIDv0
        "bafkqaaa",  # identity multihash of no bytes
        _base32_cid(bytes([0x01, CODEC_RAW, 0x13, 0x40]) + bytes(64)),  # sha2-512
        _base32_cid(bytes([0x01, 0x71, 0x12, 0x20]) + bytes(32)),  # dag-cbor
        _base32_cid(bytes([0x01, CODEC_RAW, 0x12, 0x20]) + bytes(31)),  # short digest
        "../../etc/passwd",
        "b" + "a" * 58,
    ],
)
def test_malformed_cids_are_rejected(text: str) -> None:
    assert not is_cid(text)
    with pytest.raises(InvalidCidError):
        cid_digest(text)


def test_cid_digest_wants_a_raw_cid() -> None:
    dag_pb = dag_pb_cid(bytes(32))
    assert is_cid(dag_pb)
    with pytest.raises(InvalidCidError):
        cid_digest(dag_pb)


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_raw_cid_wants_a_sha2_256_digest(size: int) -> None:
    with pytest.raises(InvalidCidError):
        raw_cid(bytes(size))


@pytest.mark.parametrize("data", [b"\xff", b"\x0a\x05ab", b"\x12\x00", b"\x0a\x02\x08\x01"])
def test_decode_file_node_rejects_what_is_not_a_unixfs_file(data: bytes) -> None:
    with pytest.raises(MalformedNodeError):
        decode_file_node(data)
