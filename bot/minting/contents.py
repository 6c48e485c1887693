"""Preparing a group of requests' content: check each image, store it and its metadata.

This is the CPU-heavy part of the pipeline (image decoding, hashing, many small file writes), so
`ContentWorkers` runs it in a separate process: the bot's event loop keeps its core, and the
work does not wait for the GIL. Everything crossing the process boundary is plain data.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar

from bot.content.images import CheckedImage, check_image
from bot.content.metadata import build_metadata, clean_description, clean_name
from bot.content.store import ContentStore
from bot.errors import ImageRejected

T = TypeVar("T")


@dataclass(frozen=True)
class ContentJob:
    """One request's upload and the fields its metadata records."""

    request_id: int
    upload: bytes
    name: str
    description: str
    platform: str
    chat_id: str
    message_id: str
    requester_id: str
    requester_name: str


@dataclass(frozen=True)
class Prepared:
    image_cid: str
    metadata_cid: str
    token_id: str  # 0x-hex: the sha2-256 digest of the metadata block (promise 2)


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int
    max_pixels: int


def prepare_contents(
    store_dir: Path, limits: ImageLimits, jobs: list[ContentJob]
) -> dict[int, Prepared | str]:
    """Per request: what was stored, or why its image was refused. Stores with one durability
    pass per kind of block (images, then metadata), see `ContentStore.put_files`."""
    store = _store(store_dir)
    outcome: dict[int, Prepared | str] = {}
    checked: list[tuple[ContentJob, CheckedImage]] = []
    for job in jobs:
        try:
            image = check_image(
                job.upload, max_bytes=limits.max_bytes, max_pixels=limits.max_pixels
            )
        except ImageRejected as err:
            outcome[job.request_id] = str(err)
        else:
            checked.append((job, image))
    image_cids = store.put_files([image.data for _, image in checked])
    blocks = [
        metadata_block(job, cid, image)
        for (job, image), cid in zip(checked, image_cids, strict=True)
    ]
    metadata_cids = store.put_files(blocks)
    for (job, _), image_cid, metadata_cid, block in zip(
        checked, image_cids, metadata_cids, blocks, strict=True
    ):
        token_id = "0x" + hashlib.sha256(block).hexdigest()
        outcome[job.request_id] = Prepared(image_cid, metadata_cid, token_id)
    return outcome


def metadata_block(job: ContentJob, image_cid: str, image: CheckedImage) -> bytes:
    """The token's metadata; it records the creator and the source message, so every request
    gets its own block, hence its own token ID."""
    return build_metadata(
        name=clean_name(job.name),
        description=clean_description(job.description),
        image_cid=image_cid,
        creator={
            "platform": job.platform,
            "user_id": job.requester_id,
            "name": job.requester_name,
        },
        source={"platform": job.platform, "chat_id": job.chat_id, "message_id": job.message_id},
        mime=image.mime,
        width=image.width,
        height=image.height,
    )


@cache
def _store(directory: Path) -> ContentStore:
    return ContentStore(directory)


def _open_store(directory: Path) -> None:
    _store(directory)


def _exit_with_parent() -> None:
    """Worker start-up: exit as soon as the bot process is gone, even if it was killed. An
    orphaned worker would otherwise wait for work forever, holding the bot's output open."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class ContentWorkers:
    """A pool of worker processes for `prepare_contents`, started on first use."""

    def __init__(self, store_dir: Path, limits: ImageLimits, processes: int) -> None:
        self.store_dir = store_dir
        self.limits = limits
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None

    async def start(self) -> None:
        """Start the workers now rather than on the first request (it takes about a second)."""
        await self._run(_open_store, self.store_dir)

    async def prepare(self, jobs: list[ContentJob]) -> dict[int, Prepared | str]:
        return await self._run(prepare_contents, self.store_dir, self.limits, jobs)

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        if self._pool is None:
            # spawn, not fork: forking a process that runs threads and an event loop is unsafe.
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_exit_with_parent,
            )
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)
        except BrokenProcessPool:
            self.close()  # a worker died (killed, out of memory): the next call starts afresh
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
