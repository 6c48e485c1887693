"""Content for the pinning backends' tests: a token's image and metadata stored as the bot
stores them, and CARs written from them."""

from __future__ import annotations

import io
import random
from collections.abc import Iterable
from pathlib import Path

from PIL import Image

from bot.content.car import write_car
from bot.content.cid import Block
from bot.content.images import check_image
from bot.content.metadata import build_metadata
from bot.content.store import ContentStore


def noise_png(seed: int, side: int = 480) -> bytes:
    """A PNG of random pixels: it does not compress, so it spans several 256 KiB chunks."""
    pixels = random.Random(seed).randbytes(side * side * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(out, format="PNG")
    return out.getvalue()


def stored_mint(tmp_path: Path, seed: int) -> tuple[ContentStore, str, str]:
    """An image and its metadata, stored as the bot stores them: (store, image, metadata)."""
    store = ContentStore(tmp_path / f"ipfs-{seed}")
    image = check_image(noise_png(seed), max_bytes=10_000_000, max_pixels=10_000_000)
    image_cid = store.put_file(image.data)
    document = build_metadata(
        name=f"Noise {seed}",
        description="random pixels",
        image_cid=image_cid,
        creator={"platform": "discord", "user_id": "42", "name": "Ada"},
        source={"platform": "discord", "chat_id": "7", "message_id": str(seed)},
        mime=image.mime,
        width=image.width,
        height=image.height,
    )
    return store, image_cid, store.put_file(document)


def car_bytes(roots: list[str], blocks: Iterable[Block]) -> bytes:
    out = io.BytesIO()
    write_car(out, roots, blocks)
    return out.getvalue()
