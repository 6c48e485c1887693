"""A member's original upload (GPS position and all) leaves no readable trace in the database.

The test reads the database's own files as a thief with the disk would: SQLite's database,
write-ahead log and shared-memory files; on PostgreSQL every file of the test's database under
the cluster's directory, after a CHECKPOINT has written everything out.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import random
import sqlite3
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import open_runtime
from bot.config import load_settings
from bot.minting.uploads import SealedUpload, unseal
from bot.runtime import Runtime
from db.engine import create_db_engine, upgrade
from db.models import MintUpload, Phase, UploadKey, utcnow
from tests.support import Inbox, answered, poll_until, submission

pytestmark = pytest.mark.db

# The revision just before the migration that seals uploads, and its request table.
BEFORE_SEALING = "0008"
_REQUESTS_BEFORE_SEALING = sa.table(
    "mint_request",
    *(
        sa.column(name)
        for name in (
            "id",
            "platform",
            "chat_id",
            "message_id",
            "fingerprint",
            "requester_id",
            "requester_name",
            "name",
            "description",
            "upload_digest",
            "custodial",
            "phase",
            "created_at",
            "updated_at",
        )
    ),
)


class Photo:
    """A phone photo stand-in: a JPEG of random pixels with an EXIF GPS position, and byte
    strings that occur only in it (its GPS block, its pixels, its compressed image data)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        pixels = rng.randbytes(96 * 96 * 3)
        exif = Image.Exif()
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps[ExifTags.GPS.GPSLatitudeRef] = "N"
        gps[ExifTags.GPS.GPSLatitude] = (IFDRational(48), IFDRational(51), self._seconds(seed))
        gps[ExifTags.GPS.GPSLongitudeRef] = "E"
        gps[ExifTags.GPS.GPSLongitude] = (IFDRational(2), IFDRational(17), IFDRational(40))
        marker = f"GPS-CANARY-{os.urandom(8).hex()}"
        gps[ExifTags.GPS.GPSMapDatum] = marker
        out = io.BytesIO()
        Image.frombytes("RGB", (96, 96), pixels).save(out, format="JPEG", quality=95, exif=exif)
        self.data = out.getvalue()
        seconds = self._seconds(seed)
        rational = [
            struct.pack(order + "2L", seconds.numerator, seconds.denominator)
            for order in "<>"
            if struct.pack(order + "2L", seconds.numerator, seconds.denominator) in self.data
        ]
        assert len(rational) == 1, "the GPS latitude is not where EXIF puts it"
        self.gps = {"GPS marker": marker.encode(), "GPS latitude": rational[0]}
        scan = self.data.index(b"\xff\xda") + 200  # into the entropy-coded image data
        self.pixels = {
            "raw pixels": pixels[4096:4128],
            **{f"image data @{i}": self.data[i : i + 24] for i in range(scan, scan + 8000, 2000)},
        }
        assert all(needle in self.data for needle in self.gps.values())

    @staticmethod
    def _seconds(seed: int) -> IFDRational:
        return IFDRational(290_000_001 + 10 * seed, 10_000_000)  # in lowest terms

    @property
    def needles(self) -> dict[str, bytes]:
        return {**self.gps, **self.pixels}


def traces(files: list[Path], needles: dict[str, bytes]) -> set[tuple[str, str]]:
    """(what, file name) for every needle found in the raw bytes of these files."""
    found = set()
    for path in files:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:  # removed since it was listed (PostgreSQL's caches)
            continue
        found |= {(label, path.name) for label, needle in needles.items() if needle in raw}
    return found


async def database_files(engine: AsyncEngine) -> list[Path]:
    """Every file holding this database's data, with all of it written out to them."""
    if engine.dialect.name == "sqlite":
        database = Path(str(engine.url.database))
        return sorted(database.parent.glob(f"{database.name}*"))
    async with engine.connect() as connection:
        await connection.execute(text("CHECKPOINT"))
        relation = await connection.scalar(
            text(
                "SELECT current_setting('data_directory') || '/' "
                "|| pg_relation_filepath('mint_request')"
            )
        )
    return sorted(path for path in Path(str(relation)).parent.iterdir() if path.is_file())


async def gone_from_disk(engine: AsyncEngine, needles: dict[str, bytes]) -> None:
    """Wait (30 s at most) until no needle is left in the database files: a scrub that another
    connection holds up is done later, by the bot's own retries."""
    deadline = asyncio.get_running_loop().time() + 30
    while found := traces(await database_files(engine), needles):
        if asyncio.get_running_loop().time() >= deadline:
            raise AssertionError(f"still on disk: {await relations_of(engine, found)}")
        await asyncio.sleep(0.5)


async def relations_of(engine: AsyncEngine, found: set[tuple[str, str]]) -> list[str]:
    """Each trace with the relation whose file holds it (PostgreSQL), for the failure."""
    if engine.dialect.name == "sqlite":
        return sorted(f"{what} in {name}" for what, name in found)
    named = []
    async with engine.connect() as connection:
        for what, name in sorted(found):
            node = name.split(".")[0].split("_")[0]  # 1234, 1234.1, 1234_fsm: relation 1234
            relation = None
            if node.isdigit():
                relation = await connection.scalar(
                    text("SELECT pg_filenode_relation(0, CAST(:node AS oid))::regclass::text"),
                    {"node": int(node)},
                )
            named.append(f"{what} in {name} ({relation or 'no relation now'})")
    return named


async def sealed_uploads(runtime: Runtime) -> dict[int, SealedUpload]:
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(MintUpload.request_id, MintUpload.data, UploadKey.key).join(
                UploadKey, UploadKey.request_id == MintUpload.request_id
            )
        )
        return {i: SealedUpload(data, key) for i, data, key in rows}


async def count(runtime: Runtime, model: type) -> int:
    async with runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_minted_photo_leaves_no_readable_original_in_the_database_files(
    bot_env: dict[str, str],
):
    photo = Photo(1)
    sent = submission("1", image=photo.data)
    others = [submission(str(i)) for i in range(2, 6)]
    async with open_runtime(load_settings(bot_env), start=False) as runtime:
        inbox = Inbox()
        runtime.service.answer_through("test", inbox)
        for sub in (sent, *others):
            await runtime.service.submit(sub)

        # Waiting to be prepared: what the database holds opens to the original, GPS and all...
        sealed = await sealed_uploads(runtime)
        handle = await runtime.service.find(sent.platform, sent.chat_id, sent.message_id)
        assert handle is not None
        request = (sent.platform, sent.chat_id, sent.message_id)
        assert unseal(request, sealed[handle.request_id]) == photo.data
        # ...and the scan reads it off the disk: every key is there, the original never is.
        if runtime.db.dialect.name == "postgresql":
            async with runtime.db.connect() as connection:
                await connection.execute(text("ANALYZE"))  # samples would land in statistics
        keys = {f"key of request {i}": s.key for i, s in sealed.items()}
        before = traces(await database_files(runtime.db), {**photo.needles, **keys})
        assert {label for label, _ in before} == set(keys), before

        await runtime.start()
        results = [await answered(runtime, inbox, sub.key) for sub in (sent, *others)]
        assert all(r.minted for r in results), [r.failure_reason for r in results]
        stored = runtime.content.read_file(results[0].image_cid or "")
        assert not [label for label, needle in photo.gps.items() if needle in stored]

        # Prepared: no key, no GPS, no pixel of the original anywhere in the files.
        assert await count(runtime, UploadKey) == await count(runtime, MintUpload) == 0
        await gone_from_disk(runtime.db, {**photo.needles, **keys})


@contextlib.asynccontextmanager
async def scrub_blocked(database_url: str) -> AsyncIterator[None]:
    """Another connection in the way of a scrub: a SQLite reader pinning the write-ahead log,
    or a PostgreSQL transaction holding a lock on the key table."""
    if database_url.startswith("sqlite"):
        reader = sqlite3.connect(database_url.split("///", 1)[1], isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM upload_key").fetchall()
        try:
            yield
        finally:
            reader.close()
        return
    holder = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    await holder.execute("BEGIN; LOCK TABLE upload_key IN ACCESS SHARE MODE")
    try:
        yield
    finally:
        await holder.close()


async def test_keys_a_busy_database_kept_on_disk_are_scrubbed_by_the_next_mint(
    bot_env: dict[str, str], database_url: str
):
    first, second = submission("1"), submission("2")
    async with open_runtime(load_settings(bot_env), start=False) as runtime:
        inbox = Inbox()
        runtime.service.answer_through("test", inbox)
        await runtime.service.submit(first)
        keys = {f"key of request {i}": s.key for i, s in (await sealed_uploads(runtime)).items()}
        async with scrub_blocked(database_url):
            await runtime.start()
            assert (await answered(runtime, inbox, first.key)).minted
            assert await count(runtime, UploadKey) == 0
            # Deleted, but the scrub could not run: the key is still readable on disk.
            assert {label for label, _ in traces(await database_files(runtime.db), keys)} == set(
                keys
            )
        await runtime.service.submit(second)
        assert (await answered(runtime, inbox, second.key)).minted
        await gone_from_disk(runtime.db, keys)


@contextlib.asynccontextmanager
async def keys_still_seen(database_url: str) -> AsyncIterator[None]:
    """Another connection whose snapshot, taken before the keys are deleted, still sees them
    without touching their table: a SQLite read transaction, or a PostgreSQL REPEATABLE READ
    one. PostgreSQL's VACUUM FULL must copy rows such a snapshot can see into the new file."""
    if database_url.startswith("sqlite"):
        reader = sqlite3.connect(database_url.split("///", 1)[1], isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM mint_request").fetchall()
        try:
            yield
        finally:
            reader.close()
        return
    holder = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    await holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    await holder.fetch("SELECT count(*) FROM mint_request")
    try:
        yield
    finally:
        await holder.close()


async def test_keys_an_older_snapshot_still_sees_are_scrubbed_once_it_ends(
    bot_env: dict[str, str], database_url: str, caplog: pytest.LogCaptureFixture
):
    sent = submission("1")
    async with open_runtime(load_settings(bot_env), start=False) as runtime:
        inbox = Inbox()
        runtime.service.answer_through("test", inbox)
        await runtime.service.submit(sent)
        keys = {f"key of request {i}": s.key for i, s in (await sealed_uploads(runtime)).items()}
        async with keys_still_seen(database_url):
            with caplog.at_level(logging.WARNING, logger="bot.minting.uploads"):
                await runtime.start()
                assert (await answered(runtime, inbox, sent.key)).minted
                assert await count(runtime, UploadKey) == 0
            # Deleted, but still on disk for the older snapshot, and the bot says so.
            assert any("stay on disk" in r.getMessage() for r in caplog.records), caplog.text
            found = traces(await database_files(runtime.db), keys)
            assert {label for label, _ in found} == set(keys)
        # Nothing more is minted: the bot scrubs again by itself once the snapshot is gone.
        await gone_from_disk(runtime.db, keys)


async def test_an_upload_whose_key_is_lost_is_asked_again_and_its_group_mints(
    bot_env: dict[str, str],
):
    """One key deleted, and one request handed another's sealed upload with its key: neither
    opens, each is answered "send it again", and the rest of the group mints. Sent again, the
    first mints."""
    subs = [submission(str(i)) for i in range(1, 6)]
    async with open_runtime(load_settings(bot_env), start=False) as runtime:
        inbox = Inbox()
        runtime.service.answer_through("test", inbox)
        handles = [await runtime.service.submit(sub) for sub in subs]
        lost, moved, source = (h.request_id for h in handles[:3])
        sealed = await sealed_uploads(runtime)
        async with runtime.sessions.begin() as session:
            await session.execute(delete(UploadKey).where(UploadKey.request_id == lost))
            await session.execute(
                update(MintUpload)
                .where(MintUpload.request_id == moved)
                .values(data=sealed[source].data)
            )
            await session.execute(
                update(UploadKey)
                .where(UploadKey.request_id == moved)
                .values(key=sealed[source].key)
            )
        await runtime.start()
        results = [await answered(runtime, inbox, sub.key) for sub in subs]
        for result in results[:2]:
            assert result.phase == Phase.FAILED
            assert result.failure_reason and "send it again" in result.failure_reason
        assert all(r.minted for r in results[2:])
        assert await count(runtime, UploadKey) == await count(runtime, MintUpload) == 0

        # Sent again, as the answer asks, the same message mints.
        again = await runtime.service.submit(subs[0])
        assert again.reopened and again.request_id == lost
        await poll_until(
            lambda: len(inbox.for_key(subs[0].key)) == 2, 30, lambda: str(inbox.answers)
        )
        assert inbox.for_key(subs[0].key)[1].minted


@pytest.mark.empty_database
async def test_an_upload_waiting_at_the_upgrade_is_sealed_and_still_mints(
    bot_env: dict[str, str], database_url: str
):
    photo = Photo(2)
    sent = submission("1", image=photo.data)
    engine = create_db_engine(database_url)
    try:
        await upgrade(engine, BEFORE_SEALING)
        async with engine.begin() as connection:
            request_id = await connection.scalar(
                sa.insert(_REQUESTS_BEFORE_SEALING)
                .values(
                    platform=sent.platform,
                    chat_id=sent.chat_id,
                    message_id=sent.message_id,
                    fingerprint=sent.fingerprint(),
                    requester_id=sent.requester_id,
                    requester_name=sent.requester_name,
                    name=sent.name,
                    description=sent.description,
                    upload_digest="0" * 64,
                    custodial=False,
                    phase=Phase.RECEIVED,
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
                .returning(_REQUESTS_BEFORE_SEALING.c.id)
            )
            await connection.execute(
                sa.insert(sa.table("mint_upload", sa.column("request_id"), sa.column("data"))),
                {"request_id": request_id, "data": photo.data},
            )
        # Unsealed, the original is there in plain, and the scan finds it.
        found = {label for label, _ in traces(await database_files(engine), photo.needles)}
        assert "GPS marker" in found, found
        assert any(label.startswith("image data") for label in found), found
    finally:
        await engine.dispose()
    async with open_runtime(load_settings(bot_env), start=False) as runtime:
        assert await count(runtime, UploadKey) == 1
        inbox = Inbox()
        runtime.service.answer_through("test", inbox)
        await runtime.start()
        result = await answered(runtime, inbox, sent.key)
        assert result.minted, result.failure_reason
        await gone_from_disk(runtime.db, photo.needles)
