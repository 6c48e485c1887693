"""Image checks: formats by decoding, caps before decoding, metadata gone, output stable."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, ImageCms

from bot.content.images import check_image
from bot.errors import ImageRejected

MB = 1_000_000
CAPS = {"max_bytes": 10 * MB, "max_pixels": 50_000_000}


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def gradient(size: tuple[int, int] = (64, 48)) -> Image.Image:
    image = Image.new("RGB", size)
    image.putdata(
        [(x * 4 % 256, y * 5 % 256, (x + y) % 256) for y in range(size[1]) for x in range(size[0])]
    )
    return image


def animation(fmt: str, frames: int = 3, size: tuple[int, int] = (16, 16)) -> bytes:
    images = [Image.new("RGB", size, (80 * i % 256, 40, 200)) for i in range(frames)]
    return encode(images[0], fmt, save_all=True, append_images=images[1:], duration=120, loop=0)


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_still_images_of_each_format_pass(fmt: str, mime: str):
    checked = check_image(encode(gradient(), fmt), **CAPS)
    assert (checked.mime, checked.format, checked.width, checked.height, checked.frames) == (
        mime,
        fmt,
        64,
        48,
        1,
    )
    assert Image.open(io.BytesIO(checked.data)).format == fmt


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animations_keep_their_frames_and_timing(fmt: str):
    checked = check_image(animation(fmt, frames=4), **CAPS)
    assert checked.frames == 4
    stored = Image.open(io.BytesIO(checked.data))
    assert getattr(stored, "n_frames", 1) == 4
    durations = []
    for index in range(4):
        stored.seek(index)
        stored.load()
        durations.append(stored.info.get("duration"))
    assert durations == [120] * 4


def test_gps_and_exif_are_removed_and_orientation_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    exif[0x010F] = "SpyCam Inc."  # camera make
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 0.0)})
    original = encode(gradient((60, 20)), "JPEG", exif=exif.tobytes(), quality=90)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)

    checked = check_image(original, **CAPS)
    stored = Image.open(io.BytesIO(checked.data))
    assert not stored.getexif()
    assert not stored.getexif().get_ifd(0x8825)
    assert b"SpyCam" not in checked.data
    assert stored.size == (20, 60)  # turned upright
    assert (checked.width, checked.height) == (20, 60)  # and the metadata says so


def test_png_text_chunks_are_removed_but_the_colour_profile_kept():
    from PIL import PngImagePlugin

    text = PngImagePlugin.PngInfo()
    text.add_text("Author", "Jane Doe, 12 Secret Street")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    checked = check_image(encode(gradient(), "PNG", pnginfo=text, icc_profile=icc), **CAPS)
    stored = Image.open(io.BytesIO(checked.data))
    assert b"Secret Street" not in checked.data
    assert stored.info.get("icc_profile") == icc


def test_output_is_deterministic():
    for data in (
        encode(gradient(), "JPEG"),
        encode(gradient(), "PNG"),
        animation("GIF"),
        encode(gradient(), "WEBP"),
    ):
        assert check_image(data, **CAPS).data == check_image(data, **CAPS).data


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares `width` x `height` but carries one tiny compressed row."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 100))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"just some text, not a picture", "not a picture"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "not a picture"),
        (bytes(range(256)) * 40, "not a picture"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not a picture"),
        (encode(gradient(), "BMP"), "not a picture"),
        (encode(gradient(), "TIFF"), "not a picture"),
        (encode(gradient((200, 200)), "PNG")[:400], "damaged"),
        (encode(gradient((200, 200)), "JPEG")[:1500], "damaged"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * (11 * MB), "11.0 MB; the limit is 10 MB"),
        (png_header_only(20_000, 20_000), "400,000,000 pixels"),
        (png_header_only(8_000, 8_000), "8,000 x 8,000 = 64,000,000 pixels"),
    ],
    ids=[
        "empty",
        "text",
        "pdf",
        "noise",
        "svg",
        "bmp",
        "tiff",
        "truncated png",
        "truncated jpeg",
        "11 MB",
        "20k x 20k, beyond Pillow's own limit",
        "over our cap",
    ],
)
def test_refusals_say_why(data: bytes, words: str):
    with pytest.raises(ImageRejected) as caught:
        check_image(data, **CAPS)
    assert words in str(caught.value)


def test_a_real_compressed_bomb_is_refused_from_its_header():
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, format="PNG")
    assert len(out.getvalue()) < 100_000  # small on disk, 400 megapixels in memory
    with pytest.raises(ImageRejected, match="400,000,000 pixels"):
        check_image(out.getvalue(), **CAPS)


def test_animation_frames_count_against_the_pixel_cap():
    data = animation("GIF", frames=30, size=(200, 200))  # 1.2 megapixels in all
    with pytest.raises(ImageRejected, match="30 frames"):
        check_image(data, max_bytes=10 * MB, max_pixels=1_000_000)
    assert check_image(data, max_bytes=10 * MB, max_pixels=2_000_000).frames == 30


def gps_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc."  # camera make
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 0.0)})
    return exif.tobytes()


def test_a_camera_jpeg_with_an_mpf_segment_mints_as_a_stripped_jpeg():
    picture = gradient((64, 48))
    preview = Image.new("RGB", (32, 24), (0, 200, 0))
    original = encode(picture, "MPO", save_all=True, append_images=[preview], exif=gps_exif())
    opened = Image.open(io.BytesIO(original))
    assert (opened.format, getattr(opened, "n_frames", 1)) == ("MPO", 2)
    assert opened.getexif().get_ifd(0x8825)

    checked = check_image(original, **CAPS)
    assert (checked.mime, checked.format, checked.width, checked.height, checked.frames) == (
        "image/jpeg",
        "JPEG",
        64,
        48,
        1,
    )
    stored = Image.open(io.BytesIO(checked.data))
    assert stored.format == "JPEG" and getattr(stored, "n_frames", 1) == 1
    assert not stored.getexif() and not stored.getexif().get_ifd(0x8825)
    assert b"SpyCam" not in checked.data and b"Exif" not in checked.data
    assert stored.size == (64, 48)
    # The first picture is kept, not the preview: its pixels still look like the gradient.
    assert stored.convert("RGB").getpixel((60, 40)) == pytest.approx((240, 200, 100), abs=12)


def test_an_avif_is_accepted_without_its_exif():
    original = encode(gradient(), "AVIF", exif=gps_exif())
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)
    checked = check_image(original, **CAPS)
    assert (checked.mime, checked.format, checked.frames) == ("image/avif", "AVIF", 1)
    stored = Image.open(io.BytesIO(checked.data))
    assert stored.format == "AVIF" and stored.size == (64, 48)
    assert not stored.getexif() and b"SpyCam" not in checked.data
    assert check_image(original, **CAPS).data == checked.data


def heif_file(major: bytes, *compatible: bytes) -> bytes:
    """The start of a HEIF file: its `ftyp` box, then a (meaningless) `mdat`."""
    body = major + b"\0\0\0\0" + b"".join(compatible)
    ftyp = struct.pack(">I", 8 + len(body)) + b"ftyp" + body
    return ftyp + struct.pack(">I", 24) + b"mdat" + bytes(range(16))


@pytest.mark.parametrize(
    "data",
    [
        heif_file(b"heic", b"mif1", b"heic"),
        heif_file(b"mif1", b"mif1", b"miaf", b"heic"),
        heif_file(b"heix", b"mif1", b"heix"),
    ],
    ids=["heic", "mif1 holding heic", "heix"],
)
def test_heic_photos_are_refused_by_their_bytes_with_a_way_out(data: bytes):
    with pytest.raises(ImageRejected, match="HEIC photos are not supported yet.*JPEG"):
        check_image(data, **CAPS)


def test_a_damaged_avif_is_not_taken_for_heic():
    with pytest.raises(ImageRejected, match="not a picture"):
        check_image(heif_file(b"mif1", b"mif1", b"avif"), **CAPS)


def gif_of_tiny_frames(frames: int, lzw: bytes = b"\x02\x02D\x01\x00") -> bytes:
    """A GIF of `frames` 1x1 frames, about 25 bytes each, as written by hand."""
    screen = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    loop = b"!\xff\x0bNETSCAPE2.0\x03\x01\0\0\0"
    frame = b"!\xf9\x04\x04\x02\0\0\0" + b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + lzw
    return screen + loop + frame * frames + b";"


def test_a_gif_frame_bomb_is_refused_from_its_blocks_without_decoding_a_frame():
    # Every frame's pixel data is garbage: decoding any of them would make it "damaged".
    garbage = b"\x02\x02\xff\xff\x00"
    with pytest.raises(ImageRejected, match="damaged"):
        check_image(gif_of_tiny_frames(5, lzw=garbage), **CAPS)
    bomb = gif_of_tiny_frames(20_000, lzw=garbage)
    assert len(bomb) < 500_000
    with pytest.raises(ImageRejected) as caught:
        check_image(bomb, **CAPS)
    assert str(caught.value) == "That animation has more than 1,000 frames; the limit is 1,000."


def test_the_frame_cap_is_a_setting_and_applies_to_every_animated_format():
    assert check_image(gif_of_tiny_frames(5), **CAPS, max_frames=5).frames == 5
    for data in (gif_of_tiny_frames(6), animation("PNG", frames=6), animation("WEBP", frames=6)):
        with pytest.raises(ImageRejected, match="more than 5 frames"):
            check_image(data, **CAPS, max_frames=5)


def test_gif_frames_beyond_the_declared_screen_count_at_the_canvas_they_grow():
    # The screen says 1x1; one frame is drawn at 6,000 x 6,000, which Pillow grows the canvas to.
    screen = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    small = b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02D\x01\x00"
    wide = b"," + struct.pack("<HHHHB", 5_999, 5_999, 1, 1, 0) + b"\x02\x02D\x01\x00"
    data = screen + small + wide + small + b";"
    with pytest.raises(ImageRejected, match="3 frames of 6,000 x 6,000 pixels"):
        check_image(data, **CAPS)
