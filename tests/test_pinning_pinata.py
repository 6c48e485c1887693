"""The Pinata backend against an emulator of Pinata's files API that reads every uploaded CAR
with @ipld/car and hashes every block again: our content goes up under our own CIDs, reads back
byte for byte, a damaged CAR is refused for good, and a bad key or a rate limit is a clear,
transient error that never shows the key."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.config import Settings, load_settings
from bot.content.car import car_of_root, read_car, write_car
from bot.content.cid import CODEC_RAW, Block, cid_to_bytes, parse_cid, unixfs_file
from bot.content.pinning import open_backends
from bot.content.pinning.pinata import PinataBackend, PinataUnavailable
from bot.content.store import ContentStore
from bot.env_values import Secret
from bot.errors import ConfigError
from bot.ports import PinningBackend, PinRefused
from tests.pinata_emulator import PinataEmulator, pinata
from tests.pinning_content import car_bytes, noise_png, stored_mint
from tests.test_content_store import car_check

__all__ = ["pinata"]  # the fixture, imported for the tests below


def settings_for(emulator: PinataEmulator, **extra: str) -> Settings:
    env = {
        "PINNING": "pinata",
        "PINATA_JWT": emulator.jwt,
        "PINATA_API_URL": emulator.url,
        "PINATA_UPLOAD_URL": emulator.url,
        "PINATA_GATEWAY_URL": emulator.url,
        **extra,
    }
    return load_settings(env, env_file=Path("/nonexistent/.env"))


@contextlib.asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[PinningBackend]:
    [backend] = open_backends(settings)
    try:
        yield backend
    finally:
        await backend.close()


@pytest.fixture
async def backend(pinata: PinataEmulator) -> AsyncIterator[PinningBackend]:
    async with opened(settings_for(pinata)) as backend:
        yield backend


def test_a_car_splits_into_one_complete_car_per_root(tmp_path: Path) -> None:
    store, image, metadata = stored_mint(tmp_path, 1)
    blocks = {
        block.cid: block for block in read_car(car_bytes([image, metadata], store.iter_blocks()))
    }
    assert blocks == {block.cid: block for block in store.iter_blocks()}
    image_blocks = {block.cid for block in unixfs_file(store.read_file(image))[1]}
    for root, expected in ((image, image_blocks), (metadata, {metadata})):
        path = tmp_path / f"{root}.car"
        path.write_bytes(car_of_root(root, blocks))
        code, report = car_check(path)  # read by @ipld/car, every block hashed again
        assert code == 0, report
        assert (report["roots"], set(report["cids"])) == ([root], expected)


async def test_an_image_and_its_metadata_pin_under_our_own_cids(
    backend: PinningBackend, pinata: PinataEmulator, tmp_path: Path
) -> None:
    store, image, metadata = stored_mint(tmp_path, 1)
    blocks = {block.cid for block in store.iter_blocks()}
    assert parse_cid(image).codec != CODEC_RAW and len(blocks) > 2  # a multi-block image
    assert parse_cid(metadata).codec == CODEC_RAW  # and a one-block metadata file

    await backend.pin_car(car_bytes([image, metadata], store.iter_blocks()), [image, metadata])

    _, other, _ = stored_mint(tmp_path, 2)
    assert await backend.pinned([image, metadata, other]) == {image, metadata}
    state = await pinata.state()
    assert sorted(file["cid"] for file in state["files"]) == sorted([image, metadata])
    assert {file["network"] for file in state["files"]} == {"public"}
    assert set(state["blocks"]) == blocks


async def test_pinned_blocks_read_back_byte_for_byte(
    backend: PinningBackend, tmp_path: Path
) -> None:
    store, image, metadata = stored_mint(tmp_path, 1)
    await backend.pin_car(car_bytes([image, metadata], store.iter_blocks()), [image, metadata])
    for block in store.iter_blocks():
        assert await backend.fetch_block(block.cid) == block.data


async def test_pinning_the_same_content_again_changes_nothing(
    backend: PinningBackend, pinata: PinataEmulator, tmp_path: Path
) -> None:
    store, image, _ = stored_mint(tmp_path, 1)
    car = car_bytes([image], store.iter_blocks())
    await backend.pin_car(car, [image])
    await backend.pin_car(car, [image])
    assert [file["cid"] for file in (await pinata.state())["files"]] == [image]


async def test_ipfs_gateway_url_is_where_blocks_are_read_back(
    pinata: PinataEmulator, tmp_path: Path
) -> None:
    other = PinataEmulator().start()  # a gateway that holds nothing
    try:
        async with opened(settings_for(pinata, IPFS_GATEWAY_URL=other.url)) as backend:
            store, image, _ = stored_mint(tmp_path, 1)
            await backend.pin_car(car_bytes([image], store.iter_blocks()), [image])
            with pytest.raises(aiohttp.ClientResponseError) as caught:
                await backend.fetch_block(image)
            checks = await backend.check()
        assert caught.value.status == 404
        assert f"/ipfs/{image}" in [r["path"] for r in (await other.state())["requests"]]
        assert not any(r["path"].startswith("/ipfs/") for r in (await pinata.state())["requests"])
        # doctor says which step failed, and still removes its test pin
        assert [(check.what, check.ok) for check in checks] == [
            ("Pinata API reachable and PINATA_JWT accepted", True),
            ("test pin of a tiny block", True),
            (f"read back through {other.url}", False),
            ("test pin removed", True),
        ]
    finally:
        other.stop()


def tampered(car: bytes, block: Block) -> bytes:
    """`car` with one byte of `block`'s data changed (its CID left as it was)."""
    at = car.index(cid_to_bytes(block.cid) + block.data) + len(cid_to_bytes(block.cid))
    return car[:at] + bytes([car[at] ^ 0xFF]) + car[at + 1 :]


async def test_a_tampered_car_is_refused_for_good(
    backend: PinningBackend, pinata: PinataEmulator, tmp_path: Path
) -> None:
    store, image, metadata = stored_mint(tmp_path, 1)
    leaf = next(b for b in store.iter_blocks() if b.cid not in (image, metadata))
    for roots in ([image], [image, metadata]):
        with pytest.raises(PinRefused, match="does not match its CID"):
            await backend.pin_car(tampered(car_bytes(roots, store.iter_blocks()), leaf), roots)
    assert await backend.pinned([image]) == set()
    assert (await pinata.state())["files"] == []


async def test_a_car_missing_a_block_is_refused(
    backend: PinningBackend, pinata: PinataEmulator, tmp_path: Path
) -> None:
    store = ContentStore(tmp_path / "ipfs")
    image = store.put_file(noise_png(3))
    blocks = list(store.iter_blocks())
    leaf = next(block for block in blocks if block.cid != image)
    out = io.BytesIO()
    write_car(out, [image], [block for block in blocks if block != leaf])
    with pytest.raises(PinRefused, match="is not in the CAR"):
        await backend.pin_car(out.getvalue(), [image])
    assert (await pinata.state())["files"] == []


async def test_a_wrong_key_is_a_clear_error_that_never_shows_a_key(
    pinata: PinataEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "eyJ.wrong.c2VjcmV0LXRoYXQtbXVzdC1ub3Qtc2hvdw"
    settings = settings_for(pinata, PINATA_JWT=wrong)
    store, image, _ = stored_mint(tmp_path, 1)
    async with opened(settings) as backend:
        with pytest.raises(PinataUnavailable) as caught:
            await backend.pin_car(car_bytes([image], store.iter_blocks()), [image])
        checks = await backend.check()
    assert not isinstance(caught.value, PinRefused)  # a key can be fixed: try again later
    assert caught.value.status == 401
    assert "PINATA_JWT" in str(caught.value)
    assert [check.ok for check in checks] == [False]
    assert "PINATA_JWT" in checks[0].detail

    requests = (await pinata.state())["requests"]
    shown = [
        str(caught.value),
        repr(caught.value),
        repr(settings),
        repr(backend),
        caplog.text,
        *(check.detail for check in checks),
        *(r["path"] + r["query"] for r in requests),
    ]
    assert requests and caplog.text
    for key in (wrong, pinata.jwt):
        assert not any(key in text for text in shown)


async def test_a_rate_limit_is_a_transient_error_with_its_wait(
    backend: PinningBackend, pinata: PinataEmulator, tmp_path: Path
) -> None:
    store, image, _ = stored_mint(tmp_path, 1)
    car = car_bytes([image], store.iter_blocks())
    await pinata.fail_next(429, retry_after=7)
    with pytest.raises(PinataUnavailable) as caught:
        await backend.pin_car(car, [image])
    assert not isinstance(caught.value, PinRefused)
    assert (caught.value.status, caught.value.retry_after) == (429, 7)
    await backend.pin_car(car, [image])  # the next try goes through
    assert await backend.pinned([image]) == {image}


async def test_a_server_error_is_transient(
    backend: PinningBackend, pinata: PinataEmulator, tmp_path: Path
) -> None:
    store, image, _ = stored_mint(tmp_path, 1)
    await pinata.fail_next(503, count=2)
    with pytest.raises(PinataUnavailable, match="HTTP 503"):
        await backend.pin_car(car_bytes([image], store.iter_blocks()), [image])
    with pytest.raises(PinataUnavailable, match="HTTP 503"):
        await backend.pinned([image])
    assert await backend.pinned([image]) == set()


async def test_doctor_check_passes_and_leaves_no_test_pin(
    backend: PinningBackend, pinata: PinataEmulator
) -> None:
    checks = await backend.check()
    assert [check.what for check in checks if not check.ok] == []
    assert len(checks) == 4  # key accepted, test pin, read back, removed
    state = await pinata.state()
    assert (state["files"], state["blocks"]) == ([], [])
    assert any(r["method"] == "DELETE" for r in state["requests"])


def test_pinning_on_pinata_needs_a_key_and_keeps_it_secret() -> None:
    with pytest.raises(ConfigError, match="PINATA_JWT"):
        load_settings({"PINNING": "pinata"}, env_file=Path("/nonexistent/.env"))
    settings = load_settings(
        {"PINNING": "pinata", "PINATA_JWT": "eyJ.key.only"}, env_file=Path("/nonexistent/.env")
    )
    assert Secret("eyJ.key.only") in settings.secrets()
    assert "eyJ.key.only" not in repr(settings)
    [backend] = open_backends(settings)
    assert isinstance(backend, PinataBackend)
    assert (backend.api_url, backend.upload_url, backend.gateway_url) == (
        "https://api.pinata.cloud",
        "https://uploads.pinata.cloud",
        "https://gateway.pinata.cloud",
    )
