"""The local content store keeps files whole and honest, and its CAR export reads back in JS."""

from __future__ import annotations

import functools
import json
import random
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot.content.car import export_store, write_car
from bot.content.cid import (
    CHUNK_SIZE,
    MAX_LINKS,
    Block,
    InvalidCidError,
    cid_of_bytes,
    cid_to_bytes,
    unixfs_file,
)
from bot.content.store import BlockNotFoundError, ContentStore, CorruptBlockError

PROJECT = Path(__file__).resolve().parent.parent
CAR_CHECK = PROJECT / "tests" / "js" / "car_check.mjs"

SIZES = {
    "empty": 0,
    "one-byte": 1,
    "one-chunk": CHUNK_SIZE,
    "one-chunk-and-a-byte": CHUNK_SIZE + 1,
    "3-MB": 3_000_000,
    "two-levels": MAX_LINKS * CHUNK_SIZE + 1,
}


@functools.cache
def payload(name: str) -> bytes:
    return random.Random(name).randbytes(SIZES[name])


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "ipfs")


def block_files(store: ContentStore) -> dict[Path, tuple[int, int]]:
    """Every file under the store with its inode and modification time."""
    return {
        path: (path.stat().st_ino, path.stat().st_mtime_ns)
        for path in store.directory.rglob("*")
        if path.is_file()
    }


def stored_block(store: ContentStore, cid: str) -> Path:
    """The file holding one block (the layout is documented in bot/content/store.py)."""
    return next((store.directory / "blocks").rglob(cid))


def car_check(path: Path) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        ["node", str(CAR_CHECK), str(path)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.mark.parametrize("name", SIZES)
def test_a_stored_file_reads_back_whole(name: str, store: ContentStore) -> None:
    data = payload(name)
    cid = store.put_file(data)
    assert cid == cid_of_bytes(data)
    assert store.has(cid)
    assert store.read_file(cid) == data
    assert list(store.iter_roots()) == [cid]
    assert {block.cid for block in store.iter_blocks()} == {
        block.cid for block in unixfs_file(data)[1]
    }


def test_a_stored_file_takes_one_inode_per_block(store: ContentStore) -> None:
    """The record that a file is stored whole (its root marker) is a second name for its
    root block, not a file of its own: a mint stores two files, and inodes are finite."""
    cid = store.put_file(payload("3-MB"))
    store.put_file(payload("3-MB"))  # a second put records nothing new
    (marker,) = (store.directory / "roots").rglob(cid)
    assert marker.stat().st_ino == stored_block(store, cid).stat().st_ino
    inodes = {ino for ino, _ in block_files(store).values()}
    assert len(inodes) == len(unixfs_file(payload("3-MB"))[1])


def test_without_hard_links_a_root_is_still_recorded(
    store: ContentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*_: object) -> None:
        raise PermissionError("this file system has no hard links")

    monkeypatch.setattr("bot.content.store.os.link", refused)
    cid = store.put_file(b"hello world")
    assert list(store.iter_roots()) == [cid]
    assert store.read_file(cid) == b"hello world"


def test_putting_the_same_file_again_writes_nothing(store: ContentStore) -> None:
    data = payload("3-MB")
    cid = store.put_file(data)
    before = block_files(store)
    assert store.put_file(data) == cid
    assert block_files(store) == before
    assert not any(path.name.endswith(".tmp") for path in before)


def test_a_damaged_block_is_detected_and_healed_by_the_next_put(store: ContentStore) -> None:
    data = payload("3-MB")
    cid = store.put_file(data)
    _, blocks = unixfs_file(data)
    leaf = blocks[3]
    leaf_path = stored_block(store, leaf.cid)
    damaged = bytearray(leaf.data)
    damaged[1000] ^= 0x01
    leaf_path.write_bytes(bytes(damaged))

    with pytest.raises(CorruptBlockError, match=leaf.cid):
        store.get_block(leaf.cid)
    with pytest.raises(CorruptBlockError):
        store.read_file(cid)
    with pytest.raises(CorruptBlockError):
        list(store.iter_blocks())

    assert store.put_file(data) == cid
    assert store.read_file(cid) == data


def test_a_truncated_block_is_detected(store: ContentStore) -> None:
    data = payload("one-chunk")
    cid = store.put_file(data)
    stored_block(store, cid).write_bytes(data[:100])
    with pytest.raises(CorruptBlockError):
        store.read_file(cid)


def test_a_missing_block_is_reported(store: ContentStore) -> None:
    data = payload("3-MB")
    cid = store.put_file(data)
    stored_block(store, unixfs_file(data)[1][0].cid).unlink()
    with pytest.raises(BlockNotFoundError):
        store.read_file(cid)


@pytest.mark.parametrize("text", ["../../etc/passwd", "", "bafy", "blocks"])
def test_text_that_is_not_a_cid_never_becomes_a_path(text: str, store: ContentStore) -> None:
    assert not store.has(text)
    with pytest.raises(InvalidCidError):
        store.get_block(text)
    with pytest.raises(InvalidCidError):
        store.read_file(text)
    with pytest.raises(InvalidCidError):
        store.put_dags([(text, [Block(text, b"")])])
    traversal = "b" + "a" * 55 + "/.."  # CID-sized, but a path
    with pytest.raises(InvalidCidError):
        store.put_dags([(traversal, [Block(traversal, b"")])])
    assert list(store.iter_blocks()) == []


def test_leftover_temp_files_are_not_blocks(store: ContentStore) -> None:
    cid = store.put_file(b"hello world")
    shard = stored_block(store, cid).parent
    (shard / ".interrupted.tmp").write_bytes(b"half a block")
    assert [block.cid for block in store.iter_blocks()] == [cid]


def test_car_export_reads_back_in_js(store: ContentStore, tmp_path: Path) -> None:
    roots = {store.put_file(payload(name)) for name in SIZES}
    store.put_file(payload("3-MB"))  # again: no second root, no second copy of any block
    expected_blocks = {block.cid for name in SIZES for block in unixfs_file(payload(name))[1]}

    car = tmp_path / "export.car"
    assert export_store(store, car) == (len(SIZES), len(expected_blocks))

    returncode, report = car_check(car)
    assert returncode == 0, report
    assert report["version"] == 1
    assert set(report["roots"]) == roots
    assert len(report["roots"]) == len(SIZES)
    assert report["blocks"] == len(expected_blocks)
    assert set(report["cids"]) == expected_blocks


def test_an_empty_store_exports_an_empty_car(store: ContentStore, tmp_path: Path) -> None:
    car = tmp_path / "empty.car"
    assert export_store(store, car) == (0, 0)
    returncode, report = car_check(car)
    assert (returncode, report["roots"], report["blocks"]) == (0, [], 0)


def test_car_header_is_canonical_dag_cbor(tmp_path: Path) -> None:
    _, blocks = unixfs_file(b"hello world")
    root = blocks[0].cid
    car = tmp_path / "one.car"
    with car.open("wb") as out:
        assert write_car(out, [root], blocks + blocks) == 1
    link = b"\xd8\x2a\x58\x25\x00" + cid_to_bytes(root)  # tag 42, 37 bytes: 0x00 + CID
    header = b"\xa2\x65roots\x81" + link + b"\x67version\x01"  # "roots" sorts first
    section = cid_to_bytes(root) + b"hello world"
    assert car.read_bytes() == bytes([len(header)]) + header + bytes([len(section)]) + section


def test_js_check_catches_a_block_that_does_not_match(tmp_path: Path) -> None:
    _, blocks = unixfs_file(b"hello world")
    car = tmp_path / "bad.car"
    with car.open("wb") as out:
        write_car(out, [blocks[0].cid], [Block(blocks[0].cid, b"hello there")])
    returncode, report = car_check(car)
    assert returncode == 1
    assert report["mismatched"] == [blocks[0].cid]
