"""The kubo pinning backend against a real IPFS implementation: Helia, behind kubo's RPC API
(tests/ipfs/kubo_rpc.mjs), which recomputes every block's CID from its bytes as kubo does."""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import aiohttp
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot import registry  # noqa: F401  (fills PINNERS)
from bot.config import Settings
from bot.content.car import write_car
from bot.content.cid import (
    CHUNK_SIZE,
    CODEC_DAG_PB,
    cid_to_bytes,
    decode_file_node,
    encode_varint,
    parse_cid,
    raw_cid,
)
from bot.content.pinning.kubo import (
    CREDENTIALS_REFUSED,
    PIN_LS_BATCH,
    KuboBackend,
    KuboCredentialsRefused,
    KuboUnavailable,
)
from bot.content.store import ContentStore
from bot.env_values import Secret
from bot.errors import ConfigError
from bot.ports import PINNERS, PinningBackend, PinRefused
from tests.ipfs_node import IpfsNode, ipfs_node
from tests.pinning_content import car_bytes, stored_mint

# A call that hangs is given up after this long (the default is a minute).
QUICK = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=2)


@pytest.fixture
async def kubo(kubo_rpc: IpfsNode) -> AsyncIterator[KuboBackend]:
    backend = KuboBackend(kubo_rpc.url, timeout=QUICK)
    yield backend
    await backend.close()


def car_with(roots: list[str], sections: list[tuple[str, bytes]]) -> bytes:
    """A CAR written section by section, for CARs `write_car` would never write."""
    head = io.BytesIO()
    write_car(head, roots, [])
    out = bytearray(head.getvalue())
    for cid, data in sections:
        binary = cid_to_bytes(cid)
        out += encode_varint(len(binary) + len(data)) + binary + data
    return bytes(out)


async def read_file_back(backend: PinningBackend, cid: str) -> bytes:
    """A whole UnixFS file, each of its blocks fetched from the backend and checked."""
    data = await backend.fetch_block(cid)
    if parse_cid(cid).codec != CODEC_DAG_PB:
        return data
    node = decode_file_node(data)
    parts = [node.data]
    for child in node.links:
        parts.append(await read_file_back(backend, child))
    return b"".join(parts)


async def test_an_image_and_its_metadata_are_pinned_and_read_back(
    kubo: KuboBackend, kubo_rpc: IpfsNode, tmp_path: Path
) -> None:
    store, image, metadata = stored_mint(tmp_path, 1)
    blocks = list(store.iter_blocks())
    assert parse_cid(image).codec == CODEC_DAG_PB  # a tree of several chunks
    assert len(blocks) >= 4

    await kubo.pin_car(car_bytes([image, metadata], blocks), [image, metadata])

    assert await kubo.pinned([image, metadata]) == {image, metadata}
    for block in blocks:
        assert await kubo.fetch_block(block.cid) == block.data
    assert await read_file_back(kubo, image) == store.read_file(image)
    through_gateway = KuboBackend(kubo_rpc.url, gateway_url=kubo_rpc.url, timeout=QUICK)
    try:
        assert await read_file_back(through_gateway, metadata) == store.read_file(metadata)
    finally:
        await through_gateway.close()


async def test_pinning_the_same_car_again_is_fine(kubo: KuboBackend, tmp_path: Path) -> None:
    store, image, metadata = stored_mint(tmp_path, 2)
    car = car_bytes([image, metadata], store.iter_blocks())
    await kubo.pin_car(car, [image, metadata])
    await kubo.pin_car(car, [image, metadata])
    assert await kubo.pinned([image, metadata]) == {image, metadata}


async def test_pinned_names_only_what_is_pinned(kubo: KuboBackend, tmp_path: Path) -> None:
    store, image, metadata = stored_mint(tmp_path, 3)
    await kubo.pin_car(car_bytes([metadata], store.iter_blocks()), [metadata])
    assert await kubo.pinned([image, metadata]) == {metadata}
    assert await kubo.pinned([image]) == set()
    assert await kubo.pinned([]) == set()


async def test_a_url_given_with_its_api_path_is_the_same_api(kubo_rpc: IpfsNode) -> None:
    backend = KuboBackend(kubo_rpc.url + "/api/v0/", timeout=QUICK)
    try:
        assert [c.ok for c in await backend.check()] == [True, True, True, True]
    finally:
        await backend.close()


async def test_pinned_answers_for_many_cids_at_once(kubo: KuboBackend, tmp_path: Path) -> None:
    store, image, metadata = stored_mint(tmp_path, 9)
    await kubo.pin_car(car_bytes([image, metadata], store.iter_blocks()), [image, metadata])
    others = [raw_cid(hashlib.sha256(bytes([n])).digest()) for n in range(PIN_LS_BATCH + 10)]
    assert await kubo.pinned([*others[:30], image, *others[30:], metadata]) == {image, metadata}


async def test_a_car_with_a_tampered_block_is_refused(kubo: KuboBackend, tmp_path: Path) -> None:
    store, image, metadata = stored_mint(tmp_path, 4)
    sections = [(b.cid, b.data) for b in store.iter_blocks()]
    leaf = next(i for i, (cid, _) in enumerate(sections) if cid not in (image, metadata))
    cid, data = sections[leaf]
    sections[leaf] = (cid, data[:-1] + bytes([data[-1] ^ 1]))

    with pytest.raises(PinRefused, match="mismatch in content integrity"):
        await kubo.pin_car(car_with([image, metadata], sections), [image, metadata])
    assert await kubo.pinned([image, metadata]) == set()
    with pytest.raises(KuboUnavailable, match="does not hold"):
        await kubo.fetch_block(cid)


async def test_a_car_missing_its_root_block_is_refused(kubo: KuboBackend, tmp_path: Path) -> None:
    store, image, _ = stored_mint(tmp_path, 5)
    children = [b for b in store.iter_blocks() if b.cid != image]
    with pytest.raises(PinRefused, match="lacks blocks"):
        await kubo.pin_car(car_bytes([image], children), [image])
    assert await kubo.pinned([image]) == set()


async def test_a_root_the_car_does_not_name_is_refused(kubo: KuboBackend, tmp_path: Path) -> None:
    store, image, metadata = stored_mint(tmp_path, 6)
    car = car_bytes([metadata], store.iter_blocks())
    with pytest.raises(PinRefused, match="does not list"):
        await kubo.pin_car(car, [image, metadata])


async def test_a_car_that_is_not_a_car_is_refused(kubo: KuboBackend) -> None:
    with pytest.raises(PinRefused, match="invalid car"):
        await kubo.pin_car(
            b"this is not a CAR", ["bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"]
        )


async def test_refused_credentials_say_so_and_are_not_a_refusal(tmp_path: Path) -> None:
    store, image, metadata = stored_mint(tmp_path, 7)
    car = car_bytes([image, metadata], store.iter_blocks())
    with ipfs_node(auth="Bearer right-token") as node:
        for auth in (Secret("Bearer wrong-token"), None):
            backend = KuboBackend(node.url, auth, timeout=QUICK)
            try:
                with pytest.raises(KuboCredentialsRefused) as refused:
                    await backend.pin_car(car, [image, metadata])
                assert str(refused.value) == CREDENTIALS_REFUSED
                assert not isinstance(refused.value, PinRefused)
                checks = await backend.check()
            finally:
                await backend.close()
            assert [c.ok for c in checks] == [True, False]
            assert CREDENTIALS_REFUSED in checks[1].detail
            for text in (str(refused.value), repr(backend), *(c.detail for c in checks)):
                assert "token" not in text

        backend = KuboBackend(node.url, Secret("Bearer right-token"), timeout=QUICK)
        try:
            await backend.pin_car(car, [image, metadata])
            assert await backend.pinned([image, metadata]) == {image, metadata}
        finally:
            await backend.close()


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_a_busy_or_failing_api_is_a_transient_fault(
    status: int, kubo: KuboBackend, kubo_rpc: IpfsNode, tmp_path: Path
) -> None:
    store, image, metadata = stored_mint(tmp_path, 100 + status)
    car = car_bytes([image, metadata], store.iter_blocks())
    kubo_rpc.fail_next(status, 2, retry_after=3, path="/api/v0/dag/import")

    for _ in range(2):
        with pytest.raises(KuboUnavailable) as busy:
            await kubo.pin_car(car, [image, metadata])
        assert not isinstance(busy.value, PinRefused)
        assert f"HTTP {status}" in str(busy.value)
        assert busy.value.retry_after == 3

    await kubo.pin_car(car, [image, metadata])  # the caller's next try
    assert await kubo.pinned([image, metadata]) == {image, metadata}


async def test_a_confirmation_that_fails_is_transient(
    kubo: KuboBackend, kubo_rpc: IpfsNode, tmp_path: Path
) -> None:
    store, image, metadata = stored_mint(tmp_path, 8)
    car = car_bytes([image, metadata], store.iter_blocks())
    kubo_rpc.fail_next(503, path="/api/v0/pin/ls")
    with pytest.raises(KuboUnavailable, match="pin/ls answered HTTP 503"):
        await kubo.pin_car(car, [image, metadata])
    await kubo.pin_car(car, [image, metadata])


async def test_a_call_that_hangs_is_given_up_as_transient(
    kubo: KuboBackend, kubo_rpc: IpfsNode
) -> None:
    kubo_rpc.hang_next(path="/api/v0/pin/ls")
    with pytest.raises(KuboUnavailable, match="timed out"):
        await kubo.pinned(["bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"])


async def test_an_api_nobody_answers_at_is_transient(unused_tcp_port: int) -> None:
    backend = KuboBackend(f"http://me:secret-pass@127.0.0.1:{unused_tcp_port}", timeout=QUICK)
    try:
        with pytest.raises(KuboUnavailable) as unreachable:
            await backend.pinned(["bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"])
        checks = await backend.check()
    finally:
        await backend.close()
    assert [c.ok for c in checks] == [False]
    for text in (str(unreachable.value), repr(backend), checks[0].detail):
        assert "secret-pass" not in text
        assert f"127.0.0.1:{unused_tcp_port}" in text


async def test_check_passes_and_removes_its_test_pin(kubo: KuboBackend, kubo_rpc: IpfsNode) -> None:
    checks = await kubo.check()
    assert [(c.what, c.ok) for c in checks] == [
        ("kubo API reachable", True),
        ("credentials accepted", True),
        ("test pin of a tiny block", True),
        ("test pin removed", True),
    ]
    test_block = checks[2].detail
    assert await kubo.pinned([test_block]) == set()
    calls = [(r["path"], r["status"]) for r in kubo_rpc.requests()]
    assert ("/api/v0/block/put", 200) in calls
    assert ("/api/v0/pin/rm", 200) in calls


async def test_a_check_whose_test_pin_fails_says_so(kubo: KuboBackend, kubo_rpc: IpfsNode) -> None:
    kubo_rpc.fail_next(500, path="/api/v0/block/put")
    checks = await kubo.check()
    assert [c.ok for c in checks] == [True, True, False, True]
    assert "block/put answered HTTP 500" in checks[2].detail


def test_the_registry_opens_kubo_from_the_settings() -> None:
    def settings(**values: object) -> Settings:
        fields = {"kubo_api_url": None, "kubo_api_auth": None, "ipfs_gateway_url": None}
        return cast(Settings, SimpleNamespace(**{**fields, **values}))

    kind = PINNERS.get("kubo")
    backend = kind.open(settings(kubo_api_url="http://127.0.0.1:5001"))
    assert isinstance(backend, PinningBackend)
    assert backend.name == "kubo"
    with pytest.raises(ConfigError, match="KUBO_API_URL"):
        kind.open(settings())
    with pytest.raises(ConfigError, match="give one"):
        kind.open(settings(kubo_api_url="https://a:b@ipfs.example", kubo_api_auth=Secret("x")))


# Sizes around the chunk boundaries, where the DAG's shape changes.
@example(size=0, seed=0)
@example(size=CHUNK_SIZE, seed=1)
@example(size=CHUNK_SIZE + 1, seed=2)
@given(size=st.integers(0, 3 * CHUNK_SIZE + 7), seed=st.integers(0, 2**32))
async def test_any_bytes_pinned_read_back_byte_for_byte(
    kubo_rpc: IpfsNode, tmp_path_factory: pytest.TempPathFactory, size: int, seed: int
) -> None:
    data = random.Random(seed).randbytes(size)
    store = ContentStore(tmp_path_factory.mktemp("ipfs"))
    root = store.put_file(data)
    backend = KuboBackend(kubo_rpc.url, timeout=QUICK)
    try:
        await backend.pin_car(car_bytes([root], store.iter_blocks()), [root])
        assert await backend.pinned([root]) == {root}
        assert await read_file_back(backend, root) == data
    finally:
        await backend.close()
