"""Image checks: decode with Pillow, refuse what we cannot or should not mint, strip metadata.

The format is decided by decoding, never by a file name or MIME header. The pixel cap is checked
from the header before any pixel is decoded, so a decompression bomb (a tiny file declaring a
huge picture) is refused without allocating it. What we store is re-encoded from the decoded
pixels, which drops EXIF (GPS location included), XMP, comments and text chunks; colour profiles
are kept because dropping them changes how the picture looks.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from bot.errors import ImageRejected

MIME_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
# Frame timing and palette details an animation needs; everything else in `info` is dropped.
_ANIMATION_INFO = ("duration", "loop", "disposal", "transparency", "background", "blend")

NOT_AN_IMAGE = "That file is not a picture I can mint. Send a PNG, JPEG, GIF or WebP image."
DAMAGED = (
    "That image is damaged or incomplete, so it cannot be read to the end. Try sending it again."
)


@dataclass(frozen=True)
class CheckedImage:
    """An accepted image: `data` is what gets stored (re-encoded, without metadata)."""

    data: bytes
    mime: str
    format: str
    width: int
    height: int
    frames: int


def image_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _too_many_pixels(detail: str, max_pixels: int) -> ImageRejected:
    return ImageRejected(f"{detail}; the limit is {max_pixels:,} pixels.")


def check_image(data: bytes, *, max_bytes: int, max_pixels: int) -> CheckedImage:
    """Accept a PNG, JPEG, GIF or WebP within the caps, or raise `ImageRejected` saying why."""
    if not data:
        raise ImageRejected("That file is empty.")
    if len(data) > max_bytes:
        raise ImageRejected(
            f"That file is {len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:g} MB."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our cap decides
            image = Image.open(io.BytesIO(data), formats=list(MIME_TYPES))
    except Image.DecompressionBombError as err:
        # Pillow refuses beyond its own hard limit before we see the size; it names the count.
        declared = re.search(r"\((\d+) pixels\)", str(err))
        size = f"{int(declared.group(1)):,} pixels" if declared else "far too many pixels"
        raise _too_many_pixels(
            f"That picture is {size} (a possible decompression bomb)", max_pixels
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ImageRejected(NOT_AN_IMAGE) from None
    with image:
        fmt = str(image.format)
        width, height = image.size
        if width * height > max_pixels:
            raise _too_many_pixels(
                f"That picture is {width:,} x {height:,} = {width * height:,} pixels", max_pixels
            )
        try:
            frames = int(getattr(image, "n_frames", 1))
        except (OSError, SyntaxError, ValueError, EOFError):
            raise ImageRejected(DAMAGED) from None
        if width * height * frames > max_pixels:
            raise _too_many_pixels(
                f"That animation has {frames:,} frames of {width:,} x {height:,} pixels", max_pixels
            )
        try:
            stored = _reencode(image, fmt, frames)
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
            raise ImageRejected(DAMAGED) from None
    return CheckedImage(stored, MIME_TYPES[fmt], fmt, width, height, frames)


def _reencode(image: Image.Image, fmt: str, frames: int) -> bytes:
    """Decode every frame (which also proves the file is complete) and encode it again
    without metadata. Same input, same bytes out: the digest feeds idempotency fingerprints."""
    icc = image.info.get("icc_profile")
    out = io.BytesIO()
    options: dict[str, Any] = {"icc_profile": icc} if icc else {}
    if frames > 1:
        decoded, durations = [], []
        for frame in ImageSequence.Iterator(image):
            decoded.append(frame.copy())
            durations.append(int(frame.info.get("duration", 0)))
        options.update({str(k): v for k, v in image.info.items() if k in _ANIMATION_INFO})
        options["duration"] = durations
        if fmt == "WEBP":
            options.update(lossless=True, quality=80, method=4)
        decoded[0].info = {}
        decoded[0].save(out, format=fmt, save_all=True, append_images=decoded[1:], **options)
        return out.getvalue()
    image.load()
    if fmt == "JPEG":
        upright = ImageOps.exif_transpose(image) or image
        if upright is image:
            # Untouched pixels: reuse the original quantisation instead of losing quality.
            options.update(quality="keep", subsampling="keep")
        else:
            options.update(quality=95)
        upright.save(out, format="JPEG", **options)
    elif fmt == "PNG":
        if "transparency" in image.info:
            options["transparency"] = image.info["transparency"]
        image.save(out, format="PNG", **options)
    elif fmt == "GIF":
        if "transparency" in image.info:
            options["transparency"] = image.info["transparency"]
        image.save(out, format="GIF", **options)
    else:
        lossless = image.info.get("lossless", False) or image.mode in ("P", "1")
        options.update(lossless=True) if lossless else options.update(quality=90)
        image.save(out, format="WEBP", method=4, **options)
    return out.getvalue()
