"""Preparing a group of requests' content: check each image, store it and its metadata.

This is the CPU-heavy part of the pipeline (image decoding, hashing, many small file writes), so
`ContentWorkers` runs it in separate processes: the bot's event loop keeps its core, and the
work does not wait for the GIL. Everything crossing the process boundary is plain data (a
refusal is a `Said`: the member's language is chosen where it is shown).

One request's upload can fail only that request: each job is checked under its own CPU budget
and every exception it raises becomes its reason; a job that takes a worker down with it is
found and refused by `IsolatingPool` (`bot.minting.workers`), and the rest are prepared.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path

from bot.content.cid import Block, unixfs_file
from bot.content.images import (
    DEFAULT_MAX_FRAMES,
    UNPROCESSABLE,
    CheckedImage,
    check_image,
    too_slow,
)
from bot.content.metadata import build_metadata, clean_description, clean_name
from bot.content.store import ContentStore
from bot.errors import RequestRejected
from bot.i18n.said import Said
from bot.minting.workers import CpuBudgetExceeded, Fault, IsolatingPool, job_budget

log = logging.getLogger(__name__)

Dag = tuple[str, list[Block]]  # a file's root CID and blocks, as `unixfs_file` gives them


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
    token_id: str  # 0x-hex: sha2-256 of the metadata block, so equal content, equal ID


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int
    max_pixels: int
    max_frames: int = DEFAULT_MAX_FRAMES
    cpu_seconds: float = 10.0  # CPU time one image may take in a worker


def prepare_contents(
    store_dir: Path, limits: ImageLimits, jobs: list[ContentJob]
) -> dict[int, Prepared | Said]:
    """Per request: what was stored, or why it was refused. Any exception while checking one
    request's image or building its metadata refuses that request alone; only the content
    store's own failures (a full or failing disk) are raised, since no request caused them.
    The CIDs are computed first, so images and metadata are stored together with one
    durability pass (`ContentStore.put_dags`): on a busy disk the passes cost the group more
    time than anything else it does."""
    store = _store(store_dir)
    outcome: dict[int, Prepared | Said] = {}
    checked: list[tuple[ContentJob, CheckedImage]] = []
    for job in jobs:
        with _refusing(job, limits, outcome):
            with job_budget(job.request_id, limits.cpu_seconds):
                image = check_image(
                    job.upload,
                    max_bytes=limits.max_bytes,
                    max_pixels=limits.max_pixels,
                    max_frames=limits.max_frames,
                )
            checked.append((job, image))
    described: list[tuple[ContentJob, Dag, bytes, Dag]] = []
    for job, image in checked:
        with _refusing(job, limits, outcome):
            image_dag = unixfs_file(image.data)
            metadata = metadata_block(job, image_dag[0], image)
            described.append((job, image_dag, metadata, unixfs_file(metadata)))
    store.put_dags(
        [dag for _, image_dag, _, metadata_dag in described for dag in (image_dag, metadata_dag)]
    )
    for job, (image_cid, _), metadata, (metadata_cid, _) in described:
        token_id = "0x" + hashlib.sha256(metadata).hexdigest()
        outcome[job.request_id] = Prepared(image_cid, metadata_cid, token_id)
    return outcome


@contextlib.contextmanager
def _refusing(
    job: ContentJob, limits: ImageLimits, outcome: dict[int, Prepared | Said]
) -> Iterator[None]:
    """Turn whatever goes wrong with one job into its reason, so the others go on."""
    try:
        yield
    except RequestRejected as err:
        outcome[job.request_id] = err.said
    except CpuBudgetExceeded:
        outcome[job.request_id] = too_slow(limits.cpu_seconds)
    except Exception:
        log.exception("request %s: its content could not be prepared", job.request_id)
        outcome[job.request_id] = Said(UNPROCESSABLE)


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


class ContentWorkers:
    """Worker processes for `prepare_contents`, started on first use, that no request can
    take down: see `bot.minting.workers`."""

    def __init__(self, store_dir: Path, limits: ImageLimits, processes: int) -> None:
        self.store_dir = store_dir
        self.limits = limits
        # A hung worker (no CPU used, so no CPU cap fires) is ended after this long on one job.
        self.pool = IsolatingPool(processes, job_wall_seconds=max(60.0, 6 * limits.cpu_seconds))

    async def start(self) -> None:
        """Start the workers now rather than on the first request (it takes about a second)."""
        await self.pool.start(_open_store, self.store_dir)

    async def prepare(self, jobs: list[ContentJob]) -> dict[int, Prepared | Said]:
        """Prepare a group: for EVERY job, what was stored or the member-facing reason it was
        refused (a bad image, an unexpected error, a worker it crashed twice, its CPU cap).

        Raises only for faults no request caused: `ContentWorkersFailed` when fresh worker
        processes cannot run at all, or the content store's error (such as `OSError` from a
        failing disk). The group can then be tried again later as it is.
        """
        found = await self.pool.isolate(
            partial(prepare_contents, self.store_dir, self.limits), jobs, _request_id
        )
        outcome: dict[int, Prepared | Said] = {}
        for job in jobs:
            result = found.get(job.request_id)
            if result is None:
                log.error("request %s: no preparation outcome; refused", job.request_id)
                outcome[job.request_id] = Said(UNPROCESSABLE)
            elif result is Fault.OVERRAN:
                outcome[job.request_id] = too_slow(self.limits.cpu_seconds)
            elif isinstance(result, Fault):
                outcome[job.request_id] = Said(UNPROCESSABLE)
            else:
                outcome[job.request_id] = result
        return outcome

    def close(self) -> None:
        self.pool.close()


def _request_id(job: ContentJob) -> int:
    return job.request_id
