"""Image checks: decode with Pillow, refuse what we cannot or should not mint, strip metadata.

The format is decided by decoding, never by a file name or MIME header. The pixel and frame
caps are checked from the headers before any pixel is decoded, so a decompression bomb (a tiny
file declaring a huge picture) or a frame bomb (a GIF of thousands of 1x1 frames) is refused
without the work. What we store is re-encoded from the decoded pixels, which drops EXIF (GPS
location included), XMP, comments and text chunks; colour profiles are kept because dropping
them changes how the picture looks.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, ImageSequence, JpegImagePlugin, UnidentifiedImageError

from bot.errors import ImageRejected
from bot.i18n import N_
from bot.i18n.said import Said, said

MIME_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "AVIF": "image/avif",
}
# Pillow names a JPEG that carries an MPF segment (most phone and camera photos: a preview or
# a second view follows the picture) "MPO". It is a JPEG: we keep its first picture, as one.
_STORED_AS = {"MPO": "JPEG"}
# Frame timing and palette details an animation needs; everything else in `info` is dropped.
_ANIMATION_INFO = ("duration", "loop", "disposal", "transparency", "background", "blend")
# HEIF brands whose pictures are HEVC-coded (HEIC): Pillow cannot decode them without a plugin.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
DEFAULT_MAX_FRAMES = 1000
# Speed 8 encodes a 12-megapixel photo in about half a second (the default, 6, takes three
# times as long for a file of the same size); the output is the same for the same input.
_AVIF_OPTIONS: dict[str, Any] = {"quality": 90, "speed": 8}

# What the member is told, in one place: English msgids, translated where they are shown
# (the refusals carry them as a `Said`: they are decided in worker processes, far from the
# member's request).
NOT_AN_IMAGE = N_(
    "That file is not a picture I can mint. Send a PNG, JPEG, GIF, WebP or AVIF image."
)
EMPTY = N_("That file is empty.")
DAMAGED = N_(
    "That image is damaged or incomplete, so it cannot be read to the end. Try sending it again."
)
HEIC_UNSUPPORTED = N_(
    "HEIC photos are not supported yet. Send it as a JPEG instead (on an iPhone: Settings > "
    "Camera > Formats > Most Compatible, or share the photo as JPEG)."
)
UNPROCESSABLE = N_(
    "This file could not be processed, so it was not minted. Save it as a PNG or JPEG and "
    "send that instead."
)


def too_big(size: int | None, max_bytes: int) -> Said:
    """An upload over the size cap; `size` None when a download was stopped at the cap."""
    limit = f"{max_bytes / 1e6:g}"
    if size is None:
        return said(N_("That file is over the limit of {limit} MB."), limit=limit)
    return said(
        N_("That file is {size} MB; the limit is {limit} MB."),
        size=f"{size / 1e6:.1f}",
        limit=limit,
    )


def too_many_frames(max_frames: int) -> Said:
    return said(
        N_("That animation has more than {most} frames; the limit is {most}."),
        most=f"{max_frames:,}",
    )


def too_slow(cpu_seconds: float) -> Said:
    return said(
        N_(
            "That picture takes too long to process (over {seconds} s of CPU time). "
            "Send a smaller or simpler version."
        ),
        seconds=f"{cpu_seconds:g}",
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


def _too_many_pixels(detail: Said, max_pixels: int) -> ImageRejected:
    return ImageRejected(
        N_("{detail}; the limit is {most} pixels."), detail=detail, most=f"{max_pixels:,}"
    )


def check_image(
    data: bytes, *, max_bytes: int, max_pixels: int, max_frames: int = DEFAULT_MAX_FRAMES
) -> CheckedImage:
    """Accept a PNG, JPEG (MPO included), GIF, WebP or AVIF within the caps, or raise
    `ImageRejected` saying why."""
    if not data:
        raise ImageRejected(EMPTY)
    if len(data) > max_bytes:
        raise ImageRejected(too_big(len(data), max_bytes))
    if is_heic(data):
        raise ImageRejected(HEIC_UNSUPPORTED)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our cap decides
            image = Image.open(io.BytesIO(data), formats=list(MIME_TYPES))
    except Image.DecompressionBombError as err:
        # Pillow refuses beyond its own hard limit before we see the size; it names the count.
        declared = re.search(r"\((\d+) pixels\)", str(err))
        bomb = (
            said(
                N_("That picture is {pixels} pixels (a possible decompression bomb)"),
                pixels=f"{int(declared.group(1)):,}",
            )
            if declared
            else said(N_("That picture is far too many pixels (a possible decompression bomb)"))
        )
        raise _too_many_pixels(bomb, max_pixels) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ImageRejected(NOT_AN_IMAGE) from None
    with image:
        fmt = _STORED_AS.get(str(image.format), str(image.format))
        width, height = image.size
        if width * height > max_pixels:
            raise _too_many_pixels(
                said(
                    N_("That picture is {width} x {height} = {pixels} pixels"),
                    width=f"{width:,}",
                    height=f"{height:,}",
                    pixels=f"{width * height:,}",
                ),
                max_pixels,
            )
        frames, canvas = _frames_and_canvas(image, data, max_frames)
        if frames > max_frames:
            raise ImageRejected(too_many_frames(max_frames))
        if canvas[0] * canvas[1] * frames > max_pixels:
            raise _too_many_pixels(
                said(
                    N_("That animation has {frames} frames of {width} x {height} pixels"),
                    frames=f"{frames:,}",
                    width=f"{canvas[0]:,}",
                    height=f"{canvas[1]:,}",
                ),
                max_pixels,
            )
        try:
            stored = _reencode(image, fmt, frames)
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
            raise ImageRejected(DAMAGED) from None
    if frames == 1 and fmt == "JPEG":
        # A photo is stored turned upright (EXIF orientation): record the size it has now.
        with Image.open(io.BytesIO(stored)) as upright:
            width, height = upright.size
    return CheckedImage(stored, MIME_TYPES[fmt], fmt, width, height, frames)


def is_heic(data: bytes) -> bool:
    """Whether `data` is a HEIF file holding HEVC pictures, told by the brands of its `ftyp`
    box (the first box of every HEIF file), whatever the file is called."""
    if data[4:8] != b"ftyp":
        return False
    end = min(int.from_bytes(data[:4], "big"), len(data), 1024)
    brands = {data[8:12]} | {data[i : i + 4] for i in range(16, end - 3, 4)}
    return bool(brands & _HEIC_BRANDS) and not brands & _AVIF_BRANDS


def _frames_and_canvas(
    image: Image.Image, data: bytes, max_frames: int
) -> tuple[int, tuple[int, int]]:
    """How many frames we would store (counted no further than one past `max_frames`) and the
    size of the canvas they are drawn on, without decoding or seeking through the frames."""
    if image.format == "MPO":
        return 1, image.size  # only the first picture is kept
    if image.format == "GIF":
        # Pillow counts GIF frames by walking every block of the file, with no way to stop
        # early; its frames may also reach beyond the declared screen, which grows the canvas.
        return gif_frames(data, stop_after=max_frames)
    # APNG, WebP and AVIF declare their frame count in a header Pillow has already read.
    return int(getattr(image, "n_frames", 1)), image.size


def gif_frames(data: bytes, *, stop_after: int) -> tuple[int, tuple[int, int]]:
    """Count a GIF's frames, stopping once there are more than `stop_after`, and the canvas
    (width, height) its frames cover. Reads the block structure only, as Pillow parses it
    (unknown bytes between blocks are skipped one at a time), and no pixel data."""
    if len(data) < 13:
        return 0, (0, 0)
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    position = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    end, frames = len(data), 0
    while position < end and frames <= stop_after:
        tag = data[position]
        position += 1
        if tag == 0x3B:  # trailer
            break
        if tag == 0x21:  # extension: a label, then data sub-blocks
            position = _after_sub_blocks(data, position + 1)
        elif tag == 0x2C:  # image descriptor, optional local palette, LZW code size, sub-blocks
            if position + 9 > end:
                break
            left, top, frame_width, frame_height, frame_flags = struct.unpack_from(
                "<HHHHB", data, position
            )
            width = max(width, left + frame_width)
            height = max(height, top + frame_height)
            position += 9
            if frame_flags & 0x80:
                position += 3 << ((frame_flags & 7) + 1)
            position = _after_sub_blocks(data, position + 1)
            frames += 1
    return frames, (width, height)


def _after_sub_blocks(data: bytes, position: int) -> int:
    """The position after a chain of GIF data sub-blocks (each a length byte and that many
    bytes), ended by a zero length or the end of the data."""
    end = len(data)
    while position < end:
        size = data[position]
        position += size + 1
        if not size:
            break
    return position


def _reencode(image: Image.Image, fmt: str, frames: int) -> bytes:
    """Decode every frame we keep (which also proves the file is complete) and encode it
    again without metadata. Same input, same bytes out: the digest feeds idempotency
    fingerprints."""
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
        elif fmt == "AVIF":
            options.update(_AVIF_OPTIONS)
        decoded[0].info = {}
        decoded[0].save(out, format=fmt, save_all=True, append_images=decoded[1:], **options)
        return out.getvalue()
    image.load()
    if fmt == "JPEG":
        upright = ImageOps.exif_transpose(image) or image
        if upright is image:
            # Untouched pixels: reuse the original quantisation instead of losing quality
            # (spelled out, since Pillow's "keep" refuses an MPO's first picture).
            options.update(
                qtables=getattr(image, "quantization", None),
                subsampling=JpegImagePlugin.get_sampling(image),
            )
        else:
            options.update(quality=95)
        upright.save(out, format="JPEG", **options)
    elif fmt in ("PNG", "GIF"):
        if "transparency" in image.info:
            options["transparency"] = image.info["transparency"]
        image.save(out, format=fmt, **options)
    elif fmt == "AVIF":
        image.save(out, format="AVIF", **options, **_AVIF_OPTIONS)
    else:
        lossless = image.info.get("lossless", False) or image.mode in ("P", "1")
        options.update(lossless=True) if lossless else options.update(quality=90)
        image.save(out, format="WEBP", method=4, **options)
    return out.getvalue()
