"""The local content-addressed store: IPFS blocks as files, served by the bot's own gateway.

Layout under the store's directory:

    blocks/<shard>/<cid>   the exact bytes of one block
    roots/<shard>/<cid>    a marker: <cid> is the root of a file stored whole (a hard link to
                           the root's block where the file system has them, else empty;
                           only its name is read)

A shard is the next-to-last two characters of the CID. The leading characters are the same for
every CID ("bafkrei", "bafybei") and the last one carries only 3 bits, so these two spread blocks
evenly over 1024 directories (kubo's flatfs uses the same rule).

The methods are synchronous: they do small amounts of local disk I/O. Async code calls them via
`asyncio.to_thread` when a file is large enough for that to matter.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.atomic_files import make_durable, write_files_atomically
from bot.content.cid import (
    CODEC_RAW,
    Block,
    InvalidCidError,
    MalformedNodeError,
    block_matches,
    decode_file_node,
    is_cid,
    parse_cid,
    unixfs_file,
)
from bot.errors import MintbotError


class BlockNotFoundError(MintbotError):
    """The store holds no block with this CID."""


class CorruptBlockError(MintbotError):
    """A stored block's bytes no longer hash to its CID: the file was damaged on disk."""


@dataclass(frozen=True)
class FileLayout:
    """Where a stored file's bytes lie, in order: block files (raw leaves, to be sent as they
    are) and the bytes that tree nodes hold themselves; its size, and its first bytes (enough
    to tell its type)."""

    parts: tuple[Path | bytes, ...]
    size: int
    head: bytes


class ContentStore:
    """IPFS blocks on the local disk, one file per block, with a record of which are file roots.

    Writes are atomic (temp file, fsync, rename) and idempotent, so several processes may share
    one directory; reads verify every block against its CID.
    """

    def __init__(self, directory: Path) -> None:
        """Open (creating if needed) the store under `directory`, e.g. `DATA_DIR / "ipfs"`."""
        self.directory = directory
        self._blocks = directory / "blocks"
        self._roots = directory / "roots"
        self._blocks.mkdir(parents=True, exist_ok=True)
        self._roots.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"ContentStore({str(self.directory)!r})"

    def put_file(self, data: bytes) -> str:
        """Store `data` as a UnixFS file and return its root CID (as `ipfs add --cid-version=1`).

        Storing the same bytes again writes nothing new. The file is recorded as a root only
        after all of its blocks are durably on disk, so a listed root is always complete.
        """
        return self.put_files([data])[0]

    def put_files(self, files: Sequence[bytes]) -> list[str]:
        """`put_file` for several files at once: their root CIDs, in order. One durability pass
        covers them all, which costs far less per file than storing them one at a time."""
        dags = [unixfs_file(data) for data in files]
        self.put_dags(dags)
        return [root for root, _ in dags]

    def put_dags(self, dags: Sequence[tuple[str, Sequence[Block]]]) -> None:
        """`put_files` for files whose DAGs are built already, each as `unixfs_file` returns
        it (its root CID and blocks), for a caller that needed the CIDs first."""
        missing: dict[Path, bytes] = {}
        for _, blocks in dags:
            for block in blocks:
                path = _in_shard(self._blocks, _file_name(block.cid))
                # A damaged copy is replaced too: since puts skip intact blocks, this is how
                # it heals.
                if path not in missing and not self._intact(block.cid, path):
                    missing[path] = block.data
        # New shard directories become durable in the same pass as the files in them: each
        # durability pass is a journal commit, the dearest step on a busy disk.
        write_files_atomically(missing, self._new_shards(missing, self._blocks))
        roots = {_in_shard(self._roots, _file_name(root)): root for root, _ in dags}
        markers = {path: root for path, root in roots.items() if not path.exists()}
        new_shards = self._new_shards(markers, self._roots)
        for marker, root in markers.items():
            _mark(marker, _in_shard(self._blocks, root))
        make_durable([*new_shards, *(marker.parent for marker in markers)])

    @staticmethod
    def _new_shards(paths: Iterable[Path], top: Path) -> list[Path]:
        """Create the missing shard directories of `paths`; returns the directories whose
        entries changed (`top`, if any were missing), for the caller to make durable."""
        new = {path.parent for path in paths if not path.parent.is_dir()}
        for shard in new:
            shard.mkdir(exist_ok=True)
        return [top] if new else []

    def has(self, cid: str) -> bool:
        """Whether a block with this CID is stored (without reading it; `get_block` verifies).

        Text that is not a CID is simply not stored.
        """
        return is_cid(cid) and self._block_path(cid).is_file()

    def get_block(self, cid: str) -> bytes:
        """The bytes of one block, checked against its CID.

        Raises `InvalidCidError` for a malformed CID, `BlockNotFoundError` if it is not stored
        and `CorruptBlockError` if the stored bytes do not hash to the CID.
        """
        path = self._block_path(cid)
        try:
            data = path.read_bytes()
        except FileNotFoundError as err:
            raise BlockNotFoundError(f"block {cid} is not in the content store") from err
        if not block_matches(cid, data):
            raise CorruptBlockError(
                f"block {cid} in the content store is damaged ({path} no longer matches its CID)"
            )
        return data

    def read_file(self, cid: str) -> bytes:
        """Reassemble the file whose root is `cid`: a raw block, or a dag-pb UnixFS tree.

        Raises like `get_block` for any block of the file, and `MalformedNodeError` if the tree
        is not a UnixFS file or its sizes do not add up.
        """
        out = bytearray()
        self._read_into(cid, out)
        return bytes(out)

    def file_layout(self, cid: str, head: int = 16) -> FileLayout:
        """Where the bytes of the file whose root is `cid` lie, for sending it as it lies on
        disk, again and again: tree nodes are read and checked, leaves only measured (never
        read or hashed here; `put_files` checked them when they were written).

        Raises like `read_file`.
        """
        parts: list[Path | bytes] = []
        size = self._layout_into(cid, parts)
        first = b""
        for part in parts:
            if isinstance(part, bytes):
                first += part[: head - len(first)]
            else:
                with part.open("rb") as leaf:
                    first += leaf.read(head - len(first))
            if len(first) >= head:
                break
        return FileLayout(tuple(parts), size, first)

    def iter_blocks(self) -> Iterator[Block]:
        """Every stored block, verified, in CID order within each shard (a stable order).

        Raises `CorruptBlockError` on the first damaged block rather than passing it on.
        """
        for shard in sorted(self._blocks.iterdir()):
            for path in sorted(shard.iterdir()):
                # Skips the temp files an interrupted write leaves behind.
                if is_cid(path.name):
                    yield Block(path.name, self.get_block(path.name))

    def iter_roots(self) -> Iterator[str]:
        """The root CID of every file stored with `put_file`, in a stable order."""
        for shard in sorted(self._roots.iterdir()):
            for path in sorted(shard.iterdir()):
                if is_cid(path.name):
                    yield path.name

    def _read_into(self, cid: str, out: bytearray) -> None:
        data = self.get_block(cid)
        if parse_cid(cid).codec == CODEC_RAW:
            out += data
            return
        node = decode_file_node(data)
        start = len(out)
        out += node.data
        for child in node.links:
            self._read_into(child, out)
        if len(out) - start != node.filesize:
            raise MalformedNodeError(
                f"file node {cid} declares {node.filesize} bytes but its blocks hold "
                f"{len(out) - start}"
            )

    def _layout_into(self, cid: str, parts: list[Path | bytes]) -> int:
        if parse_cid(cid).codec == CODEC_RAW:
            path = self._block_path(cid)
            try:
                size = path.stat().st_size
            except FileNotFoundError as err:
                raise BlockNotFoundError(f"block {cid} is not in the content store") from err
            parts.append(path)
            return size
        node = decode_file_node(self.get_block(cid))
        if node.data:
            parts.append(node.data)
        size = len(node.data) + sum(self._layout_into(child, parts) for child in node.links)
        if size != node.filesize:
            raise MalformedNodeError(
                f"file node {cid} declares {node.filesize} bytes but its blocks hold {size}"
            )
        return size

    @staticmethod
    def _intact(cid: str, path: Path) -> bool:
        try:
            return block_matches(cid, path.read_bytes())
        except FileNotFoundError:
            return False

    def _block_path(self, cid: str) -> Path:
        # parse_cid validates first: a CID is used as a file name, so it must never be a path.
        parse_cid(cid)
        return _in_shard(self._blocks, cid)

    def _root_path(self, cid: str) -> Path:
        parse_cid(cid)
        return _in_shard(self._roots, cid)


def _mark(marker: Path, block: Path) -> None:
    """Record a root: a hard link to its block, which allocates no inode (a new file does,
    and on some file systems that costs a millisecond each: two per mint), or else, where
    the file system has no hard links, an empty file."""
    try:
        os.link(block, marker)
    except FileExistsError:
        pass  # another process recorded it meanwhile
    except OSError:
        os.close(os.open(marker, os.O_WRONLY | os.O_CREAT, 0o644))


def _in_shard(top: Path, cid: str) -> Path:
    """Where `cid` lies under `top`; `cid` must be valid (see `_block_path`)."""
    return top / cid[-3:-1] / cid


# The text form of every CID this store holds: multibase 'b', then 58 characters of
# lower-case base32 (36 bytes). Safe as a file name; `parse_cid` checks the rest.
_CID_TEXT = re.compile(r"b[a-z2-7]{58}")


def _file_name(cid: str) -> str:
    """`cid`, checked to be a file name and not a path: a cheaper check than `parse_cid`, for
    CIDs `unixfs_file` computed (whose blocks the reads verify anyway)."""
    if not _CID_TEXT.fullmatch(cid):
        raise InvalidCidError(f"{cid[:80]!r} is not a base32 CIDv1 of a sha2-256 block")
    return cid
