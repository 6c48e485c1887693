"""Content workers that no request can take down: a job that raises, crashes its worker, spins
in Python or in C, or hangs is refused alone, and the rest of its group is prepared."""

from __future__ import annotations

import asyncio
import io
import logging
import math
import os
import signal
from functools import partial
from pathlib import Path

import pytest
from PIL import Image

from bot.content.images import UNPROCESSABLE, too_slow
from bot.content.store import ContentStore
from bot.minting.content_workers import (
    ContentJob,
    ContentWorkers,
    ImageLimits,
    Prepared,
    prepare_contents,
)
from bot.minting.workers import Fault, IsolatingPool
from bot.runtime import Runtime
from tests.support import Inbox, answered, png, submission
from tests.worker_jobs import Task, run_tasks

LIMITS = ImageLimits(max_bytes=10_000_000, max_pixels=50_000_000, max_frames=100, cpu_seconds=10)


def task_id(task: Task) -> int:
    return task.id


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def small(fmt: str, shade: int) -> bytes:
    return encode(Image.new("RGB", (24, 16), (shade, 90, 160)), fmt)


def noisy_png(side: int) -> bytes:
    """A PNG that takes a while to decode and encode again (noise does not compress)."""
    return encode(Image.effect_noise((side, side), 80).convert("RGB"), "PNG", compress_level=1)


def gif_ending_in_a_cut_frame() -> bytes:
    """A GIF whose trailer became the start of another frame: Pillow raises `struct.error`
    reading it, an exception no image check expects."""
    frames = [Image.new("RGB", (16, 16), (60 * i, 20, 90)) for i in range(4)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert data.endswith(b";")
    return data[:-1] + b","


def job(request_id: int, upload: bytes) -> ContentJob:
    return ContentJob(
        request_id=request_id,
        upload=upload,
        name=f"Token {request_id}",
        description="",
        platform="discord",
        chat_id="1",
        message_id=str(request_id),
        requester_id="42",
        requester_name="member",
    )


@pytest.fixture
async def pool():
    pool = IsolatingPool(1, job_wall_seconds=60)
    yield pool
    pool.close()


@pytest.fixture
async def workers(tmp_path: Path):
    workers = ContentWorkers(tmp_path, LIMITS, 1)
    yield workers
    workers.close()


# ----- one request's fault stays its own (real content, real workers) --------------------------


def test_an_unexpected_exception_refuses_its_request_alone_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    jobs = [
        job(1, small("PNG", 10)),
        job(2, gif_ending_in_a_cut_frame()),
        job(3, small("JPEG", 20)),
    ]
    with caplog.at_level(logging.ERROR):
        outcome = prepare_contents(tmp_path, LIMITS, jobs)
    assert str(outcome[2]) == UNPROCESSABLE
    assert isinstance(outcome[1], Prepared) and isinstance(outcome[3], Prepared)
    assert any("request 2" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_the_workers_prepare_the_rest_of_a_group_around_an_unexpected_exception(
    workers: ContentWorkers, tmp_path: Path
):
    jobs = [job(7, small("WEBP", 30)), job(8, gif_ending_in_a_cut_frame()), job(9, small("GIF", 5))]
    outcome = await workers.prepare(jobs)
    assert str(outcome[8]) == UNPROCESSABLE
    store = ContentStore(tmp_path)
    for request_id in (7, 9):
        prepared = outcome[request_id]
        assert isinstance(prepared, Prepared)
        assert store.has(prepared.image_cid) and store.has(prepared.metadata_cid)


async def test_a_worker_killed_mid_group_loses_no_request(workers: ContentWorkers):
    """The test kills the real worker while it decodes one upload, as the OOM killer would."""
    jobs = [job(1, small("PNG", 1)), job(2, noisy_png(2000)), job(3, small("JPEG", 3))]
    preparing = asyncio.create_task(workers.prepare(jobs))
    while workers.pool.worker_in_flight[0] != 2:
        assert not preparing.done()
        await asyncio.sleep(0.005)
    os.kill(workers.pool.worker_in_flight[1], signal.SIGKILL)
    outcome = await preparing
    assert workers.pool.deaths == 1
    # Run again alone, the upload that was being decoded is fine: nobody is refused.
    assert all(isinstance(outcome[i], Prepared) for i in (1, 2, 3))


async def test_an_image_over_its_cpu_budget_is_refused_and_the_workers_go_on(tmp_path: Path):
    limits = ImageLimits(max_bytes=10_000_000, max_pixels=50_000_000, cpu_seconds=0.1)
    workers = ContentWorkers(tmp_path, limits, 1)
    try:
        outcome = await workers.prepare([job(1, noisy_png(2500)), job(2, small("PNG", 9))])
        assert outcome[1] == too_slow(0.1)
        assert "too long to process" in str(outcome[1])
        assert isinstance(outcome[2], Prepared)
        later = await workers.prepare([job(3, small("JPEG", 40))])
        assert isinstance(later[3], Prepared)
    finally:
        workers.close()


async def test_a_store_that_cannot_write_is_raised_not_blamed_on_a_request(tmp_path: Path):
    (tmp_path / "blocks").write_text("a file where the store needs a directory")
    workers = ContentWorkers(tmp_path, LIMITS, 1)
    try:
        with pytest.raises(OSError):
            await workers.prepare([job(1, small("PNG", 1)), job(2, small("GIF", 2))])
        assert workers.pool.deaths == 0
    finally:
        workers.close()


@pytest.mark.db
async def test_a_camera_photo_and_a_poisoned_file_do_not_hold_up_the_others(
    bot: tuple[Runtime, Inbox],
):
    """The reported jam: one camera JPEG (MPO) among PNGs stopped every mint, for good."""
    runtime, inbox = bot
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 0.0)})
    photo = Image.new("RGB", (40, 30), (200, 120, 40))
    preview = Image.new("RGB", (20, 15), (0, 0, 0))
    mpo = encode(photo, "MPO", save_all=True, append_images=[preview], exif=exif.tobytes())
    uploads = {"1": mpo, "2": png(2), "3": gif_ending_in_a_cut_frame(), "4": png(4), "5": png(5)}
    subs = [submission(key, image) for key, image in uploads.items()]
    await asyncio.gather(*(runtime.service.submit(s) for s in subs))
    results = {s.message_id: await answered(runtime, inbox, s.key) for s in subs}

    assert {k for k, r in results.items() if r.minted} == {"1", "2", "4", "5"}
    assert results["3"].failure_reason == UNPROCESSABLE
    stored = runtime.content.read_file(results["1"].image_cid or "")
    assert Image.open(io.BytesIO(stored)).format == "JPEG"
    assert not Image.open(io.BytesIO(stored)).getexif().get_ifd(0x8825)


# ----- crash isolation at the pool's level (test-only jobs in real worker processes) ----------


async def test_a_job_that_kills_its_worker_is_refused_and_the_rest_are_done(pool: IsolatingPool):
    tasks = [Task(i, "die" if i == 5 else "ok") for i in range(1, 9)]
    found = await pool.isolate(partial(run_tasks, 5.0), tasks, task_id)
    assert found == {**{i: f"done {i}" for i in range(1, 9) if i != 5}, 5: Fault.CRASHED}
    # The worker recorded which job it was on: the group, then that job alone twice.
    assert pool.deaths == 3


async def test_without_a_record_the_group_is_bisected_within_its_bound(pool: IsolatingPool):
    tasks = [Task(i, "die-after" if i in (11, 14) else "ok") for i in range(1, 17)]
    found = await pool.isolate(partial(run_tasks, 5.0), tasks, task_id)
    culprits = {11: Fault.CRASHED, 14: Fault.CRASHED}
    assert found == {**{i: f"done {i}" for i in range(1, 17) if i not in culprits}, **culprits}
    assert pool.deaths <= 2 * (2 * math.log2(16) + 3)


async def test_a_job_spinning_in_python_is_stopped_at_the_soft_cap(pool: IsolatingPool):
    tasks = [Task(1), Task(2, "spin"), Task(3)]
    found = await pool.isolate(partial(run_tasks, 0.2), tasks, task_id)
    assert found == {1: "done 1", 2: "too slow", 3: "done 3"}
    assert pool.deaths == 0


async def test_a_job_stuck_in_c_code_is_ended_at_the_hard_cap(pool: IsolatingPool):
    tasks = [Task(1), Task(2, "spin-in-c"), Task(3)]
    found = await pool.isolate(partial(run_tasks, 0.2), tasks, task_id)
    assert found == {1: "done 1", 2: Fault.OVERRAN, 3: "done 3"}
    assert pool.deaths == 1  # the worker said which job overran: no re-run of it
    assert await pool.isolate(partial(run_tasks, 0.2), [Task(4)], task_id) == {4: "done 4"}


async def test_a_job_holding_the_gil_in_c_code_is_ended_by_the_kernel(pool: IsolatingPool):
    tasks = [Task(1), Task(2, "hold-gil"), Task(3)]
    found = await pool.isolate(partial(run_tasks, 0.1), tasks, task_id)
    assert found == {1: "done 1", 2: Fault.CRASHED, 3: "done 3"}


async def test_a_hung_worker_is_ended_by_the_wall_clock_watchdog():
    pool = IsolatingPool(1, job_wall_seconds=1, tick=0.1)
    try:
        tasks = [Task(1), Task(2, "hang")]
        found = await pool.isolate(partial(run_tasks, 5.0), tasks, task_id)
        assert found == {1: "done 1", 2: Fault.CRASHED}
    finally:
        pool.close()
