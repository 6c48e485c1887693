"""Hostile input for every surface a member or an admin controls, and what it may lead to.

Plain builders (deterministic, usable without Hypothesis: bench/poison.py draws from them with a
seeded `random.Random`) and Hypothesis strategies built on them, for tests/test_blast_radius.py.

Every hostile input comes with the outcomes it may have: `Expect.REFUSED` (it must be refused
with a reason) or `Expect.EITHER` (refused with a reason, or minted correctly: the right
recipient, a clean name, a decodable image without its EXIF).
"""

from __future__ import annotations

import dataclasses
import enum
import io
import random
import re
import struct
import unicodedata
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from eth_account import Account
from eth_utils.address import to_checksum_address
from hypothesis import strategies as st
from PIL import ExifTags, Image

from bot.content.metadata import DESCRIPTION_MAX, NAME_MAX

ZERO_ADDRESS = "0x" + "0" * 40
MINTABLE_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
# What a stored image may be: a mintable format or AVIF (accepted as it is where Pillow decodes
# it; a camera photo (MPO) is stored as its first picture, a JPEG).
STORED_FORMATS = (*MINTABLE_FORMATS, "AVIF")
# A GPS position no stored image may keep (its degrees as EXIF rationals).
GPS = {1: "N", 2: (51.0, 30.0, 12.5), 3: "E", 4: (0.0, 7.0, 39.25)}


class Expect(enum.Enum):
    REFUSED = "refused with a reason"
    EITHER = "refused with a reason, or minted correctly"


def _short_repr(ask: object) -> str:
    """The fields that are set, with bytes as their size and first bytes: a failing example
    stays readable (Hypothesis prints it)."""
    shown = []
    for key, value in vars(ask).items():
        if value in (None, "", ()):
            continue
        if isinstance(value, bytes):
            shown.append(f"{key}=<{len(value):,} bytes: {value[:16]!r}...>")
        elif isinstance(value, Expect):
            shown.append(f"{key}={value.name}")
        else:
            shown.append(f"{key}={value!r}")
    return f"{type(ask).__name__}({', '.join(shown)})"


# ----- images ------------------------------------------------------------------------------


def picture(
    fmt: str, seed: int, size: tuple[int, int] = (12, 12), orientation: int | None = None
) -> bytes:
    """A valid image of `fmt` (PNG, JPEG, GIF, WEBP, MPO, AVIF) whose pixels depend on `seed`;
    JPEG and MPO carry EXIF with a GPS position, as phone photos do, and `orientation` (the EXIF
    tag a phone sets when the picture was taken upright: 6 or 8 turn it a quarter)."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    for _ in range(4):
        xy = (rng.randrange(size[0]), rng.randrange(size[1]))
        image.putpixel(xy, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    out = io.BytesIO()
    if fmt in ("JPEG", "MPO"):
        exif = Image.Exif()
        exif[ExifTags.IFD.GPSInfo] = GPS
        if orientation is not None:
            exif[ExifTags.Base.Orientation] = orientation
        extra = {"save_all": True, "append_images": [image.resize((4, 4))]} if fmt == "MPO" else {}
        image.save(out, format=fmt, exif=exif, **extra)
    elif fmt == "GIF":
        second = Image.new("RGB", size, (rng.randrange(256), 0, 0))
        image.save(out, format="GIF", save_all=True, append_images=[second], duration=80)
    else:
        image.save(out, format=fmt)
    return out.getvalue()


# One 1x1 frame of a GIF: graphic control extension (disposal 1, 0.1 s), image descriptor, and
# the LZW stream of one pixel of colour 0 or 1 (clear code, the pixel, end code).
_GIF_FRAME = b"\x21\xf9\x04\x04\x0a\x00\x00\x00" + b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00"
_GIF_PIXEL = (b"\x02\x02\x44\x01\x00", b"\x02\x02\x4c\x01\x00")


def many_frames_gif(frames: int) -> bytes:
    """A GIF of `frames` 1x1 frames, 23 bytes each: cheap to send, costly to decode."""
    head = b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    body = b"".join(_GIF_FRAME + _GIF_PIXEL[i % 2] for i in range(frames))
    return head + loop + body + b"\x3b"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def declared_size(fmt: str, width: int, height: int) -> bytes:
    """A small, well-formed header declaring a `width` x `height` picture (a decompression bomb
    in the making): PNG up to 2^31-1, GIF and JPEG up to 65535, WEBP up to 2^24."""
    if fmt == "PNG":
        header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
        pixels = zlib.compress(b"\x00" * 64)
        return (
            b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", pixels)
            + _png_chunk(b"IEND", b"")
        )
    if fmt == "GIF":
        w, h = min(width, 65535), min(height, 65535)
        head = b"GIF89a" + struct.pack("<HH", w, h) + b"\x80\x00\x00" + b"\x00" * 3 + b"\xff" * 3
        frame = b"\x2c\x00\x00\x00\x00" + struct.pack("<HH", w, h) + b"\x00" + _GIF_PIXEL[0]
        return head + frame + b"\x3b"
    if fmt == "JPEG":
        data = bytearray(picture("JPEG", width ^ height))
        at = next(i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xC0)
        data[at + 5 : at + 9] = struct.pack(">HH", min(height, 65535), min(width, 65535))
        return bytes(data)
    if fmt == "WEBP":
        data = bytearray(picture("WEBP", width ^ height))
        if data[12:16] != b"VP8X":  # a simple lossy file: give it an extended header
            payload = bytes(data[12:])
            vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00" * 10
            data = bytearray(b"RIFF" + struct.pack("<I", 4 + len(vp8x) + len(payload)) + b"WEBP")
            data += vp8x + payload
        w, h = min(width, 1 << 24), min(height, 1 << 24)
        data[24:30] = (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
        return bytes(data)
    raise ValueError(fmt)


def fake_heic() -> bytes:
    """The opening boxes of a HEIC file (an iPhone photo) with nothing decodable after them."""
    ftyp = b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heicmiaf"
    return struct.pack(">I", 4 + len(ftyp)) + ftyp + b"\x00\x00\x00\x08mdat" + bytes(64)


def truncated(data: bytes, keep: float) -> bytes:
    """The first `keep` (0..1) of the file, at least one byte short of the whole."""
    return data[: max(0, min(len(data) - 1, int(len(data) * keep)))]


def mutated(data: bytes, edits: list[tuple[float, int]]) -> bytes:
    """`data` with the byte at each relative position replaced (position in 0..1, a value)."""
    out = bytearray(data)
    for where, value in edits:
        out[min(len(out) - 1, int(len(out) * where))] = value
    return bytes(out)


# ----- text --------------------------------------------------------------------------------

# Pieces chat clients, marketplaces, databases or encoders treat specially.
TEXT_TRAPS = (
    "@everyone",
    "@here",
    "@EVERYONE",
    "<@123456789012345678>",
    "<@!1>",
    "<@&2>",
    "<#3>",
    "</mint:4>",
    "**bold**",
    "__under__",
    "~~strike~~",
    "||spoiler||",
    "`code`",
    "[link](https://example.invalid)",
    "<b>html</b>",
    "<script>alert(1)</script>",
    "# heading",
    "> quote",
    "\x00",
    "\x07",
    "\x1b[31m",
    "\r\n",
    "\t",
    "\u200b",
    "\u202e",
    "\u2066",
    "\ufeff",
    "\ud800",
    "\udfff",
    "e\u0301",
    "\uff20everyone",
    "𝕏",
    "🧨",
    "'; DROP TABLE mint_request; --",
    "%s%n",
    "${jndi:ldap://x}",
    "=HYPERLINK(1)",
)
# Control characters (C0, C1), invisible direction marks and lone surrogates: refused in names.
_UNPRINTABLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_MENTION = re.compile(r"@(everyone|here)\b|<(@[!&]?|#|/[\w -]+:)\d+>", re.IGNORECASE)

# Any code point, lone surrogates and unassigned ones included.
any_character = st.characters(exclude_categories=())


@st.composite
def hostile_text(draw: st.DrawFn, max_length: int) -> str:
    """Text of any Unicode with traps spliced in, sometimes far over `max_length`."""
    parts = draw(
        st.lists(
            st.one_of(st.text(any_character, max_size=12), st.sampled_from(TEXT_TRAPS), st.text()),
            min_size=1,
            max_size=6,
        )
    )
    text = "".join(parts)
    if draw(st.booleans()):
        text += "x" * draw(st.integers(max_length - len(text), max_length * 12))
    return text


def expected_holder(
    ask: MintAsk, *, linked: str | None, custody: str, collection: str
) -> str | None:
    """Where a minted request's token must be: the address asked for, else the one the member
    linked, else custody. None if that is an address no token may go to."""
    if ask.recipient is not None:
        holder = checksummed(ask.recipient)
    elif linked is not None:
        holder = checksummed(linked)
    else:
        return custody
    return None if holder in (None, ZERO_ADDRESS, collection) else holder


def checksummed(text: str) -> str | None:
    try:
        return str(to_checksum_address(text.strip()))
    except ValueError:
        return None


def mint_problems(
    ask: MintAsk, metadata: dict[str, Any], image: bytes, *, link_refused: bool = False
) -> list[str]:
    """What is wrong with a minted request (empty if it was minted correctly): minted although
    it must be refused, an unclean name or description, a stored image that does not decode
    as a mintable format or keeps its GPS position."""
    problems = []
    # A refused `/wallet set` is the refusal; the member's mint then goes to custody.
    if ask.expect is Expect.REFUSED and not link_refused:
        problems.append("minted, but must be refused")
    if not minted_text_is_clean(ask.name, metadata["name"], NAME_MAX, line_breaks=False):
        problems.append(f"minted with the name {metadata['name']!r}")
    description = metadata["description"]
    if not minted_text_is_clean(ask.description, description, DESCRIPTION_MAX, line_breaks=True):
        problems.append(f"minted with the description {description!r}")
    try:
        with Image.open(io.BytesIO(image), formats=list(STORED_FORMATS)) as stored:
            stored.load()
            mime, size = Image.MIME[str(stored.format)], stored.size
            gps = stored.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    except Exception as err:
        return [*problems, f"the stored image does not decode ({err!r})"]
    if gps:
        problems.append(f"the stored image keeps its GPS position {gps}")
    recorded = metadata["properties"]["image"]
    shown = {"mime": mime, "width": size[0], "height": size[1]}
    if {k: recorded.get(k) for k in shown} != shown:
        problems.append(f"the stored image is {shown}; its metadata says {recorded}")
    return problems


def minted_text_is_clean(asked: str, minted: str, max_length: int, *, line_breaks: bool) -> bool:
    """A name or description that was minted: what was asked (NFC, trimmed), within its
    length, with no control characters and no mentions."""
    visible = minted.replace("\n", "").replace("\t", "") if line_breaks else minted
    return (
        minted == unicodedata.normalize("NFC", asked).strip()
        and len(minted) <= max_length
        and not _UNPRINTABLE.search(visible)
        and not _MENTION.search(minted)
    )


# ----- addresses ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HostileAddress:
    kind: str
    text: str
    expect: Expect


# Stand-ins for the collection's own address, which is known only once it is deployed:
# `placed` puts the real one in (strategies and explicit examples are built before that).
COLLECTION = "<the collection>"
COLLECTION_LOWER = "<the collection, lower case>"


def placed(text: str, collection: str) -> str:
    """`text` with the collection's address where a stand-in holds its place."""
    return text.replace(COLLECTION_LOWER, collection.lower()).replace(COLLECTION, collection)


def address_kinds(rng: random.Random) -> list[HostileAddress]:
    """One address of every hostile kind (the collection's as a stand-in, see `placed`)."""
    other = Account.from_key(rng.randbytes(32)).address
    flipped = _flip_checksum(other, rng)
    return [
        HostileAddress("zero address", ZERO_ADDRESS, Expect.REFUSED),
        HostileAddress("zero address, upper case", "0X" + "0" * 40, Expect.REFUSED),
        HostileAddress("the collection", COLLECTION, Expect.REFUSED),
        HostileAddress("the collection, lower case", COLLECTION_LOWER, Expect.REFUSED),
        HostileAddress("bad checksum", flipped, Expect.REFUSED),
        HostileAddress("short", other[: rng.randrange(3, 41)], Expect.REFUSED),
        HostileAddress("long", other + "ab", Expect.REFUSED),
        HostileAddress("not hex", "0x" + "g" * 40, Expect.REFUSED),
        HostileAddress("Arabic-Indic digits", "0x" + "\u0660" * 40, Expect.REFUSED),
        HostileAddress("an ENS name", "vitalik.eth", Expect.REFUSED),
        HostileAddress("NUL inside", other[:20] + "\x00" + other[21:], Expect.REFUSED),
        HostileAddress("10 KB", "0x" + "ab" * 5000, Expect.REFUSED),
        HostileAddress("lower case, valid", other.lower(), Expect.EITHER),
        HostileAddress("no 0x prefix", other[2:], Expect.EITHER),
        HostileAddress("padded with spaces", f"  {other}  ", Expect.EITHER),
        HostileAddress("a precompile", "0x" + "0" * 39 + "1", Expect.EITHER),
    ]


def _flip_checksum(address: str, rng: random.Random) -> str:
    letters = [i for i, c in enumerate(address) if i > 1 and c.isalpha()]
    at = rng.choice(letters)
    return address[:at] + address[at].swapcase() + address[at + 1 :]


def hostile_addresses() -> st.SearchStrategy[HostileAddress]:
    return st.builds(
        lambda seed, pick: address_kinds(random.Random(seed))[pick],
        st.integers(0, 2**32),
        st.integers(0, len(address_kinds(random.Random(0))) - 1),
    )


# ----- mint requests -----------------------------------------------------------------------


@dataclass(frozen=True)
class MintAsk:
    """A member's mint request, before it gets its message key. `link` is an address the member
    links without proof (`/wallet set`) before asking."""

    kind: str
    expect: Expect
    image: bytes
    name: str
    description: str = ""
    recipient: str | None = None
    requester_name: str = "Ada"
    link: str | None = None
    good: bool = False

    def __repr__(self) -> str:
        return _short_repr(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def placed(self, collection: str) -> MintAsk:
        """This request with the collection's address in place of its stand-in."""
        return dataclasses.replace(
            self,
            recipient=None if self.recipient is None else placed(self.recipient, collection),
            link=None if self.link is None else placed(self.link, collection),
        )


def good_ask(seed: int, fmt: str = "PNG") -> MintAsk:
    return MintAsk(
        "good", Expect.EITHER, picture(fmt, seed), f"Harbour {seed}", "at dawn", good=True
    )


@st.composite
def good_asks(draw: st.DrawFn) -> MintAsk:
    fmt = draw(st.sampled_from(MINTABLE_FORMATS))
    return good_ask(draw(st.integers(0, 2**32)), fmt)


def image_kinds(rng: random.Random) -> list[tuple[str, bytes, Expect]]:
    """One image of every hostile kind (bench/poison.py's mix; the strategies draw more)."""
    base = picture(rng.choice(("PNG", "JPEG", "GIF", "WEBP", "MPO")), rng.randrange(2**32))
    return [
        ("random bytes", rng.randbytes(rng.randrange(1, 2048)), Expect.EITHER),
        ("truncated", truncated(base, rng.random()), Expect.EITHER),
        ("mutated", mutated(base, [(rng.random(), rng.randrange(256))]), Expect.EITHER),
        ("camera photo (MPO)", picture("MPO", rng.randrange(2**32)), Expect.EITHER),
        ("phone photo, turned", picture("JPEG", rng.randrange(2**32), (12, 7), 6), Expect.EITHER),
        ("AVIF", picture("AVIF", rng.randrange(2**32)), Expect.EITHER),
        ("HEIC", fake_heic(), Expect.REFUSED),
        ("20,000 frames", many_frames_gif(20_000), Expect.EITHER),
        ("declares 2^31 x 2^31", declared_size("PNG", 2**31 - 1, 2**31 - 1), Expect.REFUSED),
        ("declares 65535 x 65535 GIF", declared_size("GIF", 65535, 65535), Expect.REFUSED),
        ("declares 65535 x 65535 JPEG", declared_size("JPEG", 65535, 65535), Expect.REFUSED),
        ("declares 2^24 x 2^24 WebP", declared_size("WEBP", 1 << 24, 1 << 24), Expect.REFUSED),
        ("empty", b"", Expect.REFUSED),
    ]


MAGIC = (b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBP")


@st.composite
def hostile_images(draw: st.DrawFn) -> tuple[str, bytes, Expect]:
    """(kind, bytes, expectation) for hostile image bytes."""
    fmt = draw(st.sampled_from((*MINTABLE_FORMATS, "MPO", "AVIF")))
    seed = draw(st.integers(0, 2**32))
    kind = draw(
        st.sampled_from(
            (
                "random",
                "truncated",
                "mutated",
                "mpo",
                "rotated",
                "avif",
                "heic",
                "frames",
                "declared",
                "empty",
            )
        )
    )
    if kind == "random":
        magic = draw(st.sampled_from(MAGIC))
        return "random bytes", magic + draw(st.binary(min_size=1, max_size=2048)), Expect.EITHER
    if kind == "truncated":
        keep = draw(st.floats(0, 1))
        return f"{fmt} truncated to {keep:.0%}", truncated(picture(fmt, seed), keep), Expect.EITHER
    if kind == "mutated":
        edits = draw(
            st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=8)
        )
        return (
            f"{fmt} with {len(edits)} bytes changed",
            mutated(picture(fmt, seed), edits),
            (Expect.EITHER),
        )
    if kind == "mpo":
        return "camera photo (MPO) with GPS", picture("MPO", seed), Expect.EITHER
    if kind == "rotated":
        turn = draw(st.sampled_from((3, 6, 8)))
        photo = picture(draw(st.sampled_from(("JPEG", "MPO"))), seed, (12, 7), turn)
        return f"phone photo, EXIF orientation {turn}", photo, Expect.EITHER
    if kind == "avif":
        return "AVIF", picture("AVIF", seed), Expect.EITHER
    if kind == "heic":
        return "HEIC", fake_heic(), Expect.REFUSED
    if kind == "frames":
        frames = draw(st.sampled_from((2_000, 20_000, 60_000)))
        return f"GIF of {frames:,} 1x1 frames", many_frames_gif(frames), Expect.EITHER
    if kind == "declared":
        big = draw(st.sampled_from(("PNG", "GIF", "JPEG", "WEBP")))
        side = draw(st.sampled_from((8_000, 20_000, 65_535, 2**24, 2**31 - 1)))
        return f"{big} declaring {side} x {side}", declared_size(big, side, side), Expect.REFUSED
    return "empty file", b"", Expect.REFUSED


@st.composite
def hostile_image_asks(draw: st.DrawFn) -> MintAsk:
    kind, image, expect = draw(hostile_images())
    return MintAsk(f"image: {kind}", expect, image, "Hostile picture")


@st.composite
def hostile_text_asks(draw: st.DrawFn) -> MintAsk:
    """A good picture with a hostile name, description or member display name."""
    image = picture("PNG", draw(st.integers(0, 2**32)))
    where = draw(st.sampled_from(("name", "description", "member name")))
    if where == "name":
        return MintAsk("name", Expect.EITHER, image, draw(hostile_text(100)))
    if where == "description":
        return MintAsk("description", Expect.EITHER, image, "Fine", draw(hostile_text(1000)))
    return MintAsk(
        "member name", Expect.EITHER, image, "Fine", requester_name=draw(hostile_text(256))
    )


@st.composite
def hostile_address_asks(draw: st.DrawFn) -> MintAsk:
    """A good picture sent to a hostile address (`/mint to:`), or by a member who linked one
    without proof (`/wallet set`)."""
    address = draw(hostile_addresses())
    image = picture("PNG", draw(st.integers(0, 2**32)))
    if draw(st.booleans()):
        return MintAsk(f"to: {address.kind}", address.expect, image, "Sent", recipient=address.text)
    return MintAsk(
        f"wallet set: {address.kind}", address.expect, image, "Linked", link=address.text
    )


# Names, descriptions and member display names, each a kind of its own in the benchmark's mix.
TEXT_KINDS = (
    ("name", "nul\x00"),
    ("name", "\ud800"),
    ("name", "x" * 20_000),
    ("name", "hi @everyone"),
    ("name", "**bold** [x](https://example.invalid)"),
    ("description", "bell\x07"),
    ("description", "d" * 20_000),
    ("member name", "nul\x00"),
    ("member name", "\udfff"),
    ("member name", "<@1> @here " * 30),
)


def hostile_mix(count: int, seed: int) -> list[MintAsk]:
    """`count` hostile requests cycling through every kind: image bytes, addresses sent to
    (`/mint to:`), names, descriptions and member names (bench/poison.py's mix)."""
    rng = random.Random(seed)
    asks: list[MintAsk] = []
    while len(asks) < count:
        image = picture("PNG", rng.randrange(2**32))
        asks += [MintAsk(f"image: {k}", e, data, "Hostile") for k, data, e in image_kinds(rng)]
        asks += [
            MintAsk(f"to: {a.kind}", a.expect, image, "Sent", recipient=a.text)
            for a in address_kinds(rng)
        ]
        for where, text in TEXT_KINDS:
            label = f"{where}: {text[:12]!r}"
            if where == "name":
                asks.append(MintAsk(label, Expect.EITHER, image, text))
            elif where == "description":
                asks.append(MintAsk(label, Expect.EITHER, image, "Fine", text))
            else:
                asks.append(MintAsk(label, Expect.EITHER, image, "Fine", requester_name=text))
    rng.shuffle(asks)
    return asks[:count]


def hostile_asks() -> st.SearchStrategy[MintAsk]:
    return st.one_of(hostile_image_asks(), hostile_text_asks(), hostile_address_asks())


@dataclass(frozen=True)
class MintCase:
    """Requests sent at once: hostile and good, in the drawn order."""

    asks: list[MintAsk]

    @property
    def good(self) -> list[MintAsk]:
        return [a for a in self.asks if a.good]


@st.composite
def mint_cases(draw: st.DrawFn, hostile: st.SearchStrategy[MintAsk]) -> MintCase:
    bad = draw(st.lists(hostile, min_size=1, max_size=4))
    good = draw(st.lists(good_asks(), min_size=1, max_size=4))
    return MintCase(draw(st.permutations([*bad, *good])))


def every_image_kind() -> MintCase:
    """One hostile image of every kind with two good requests: the example every run tries."""
    bad = [
        MintAsk(f"image: {k}", e, data, "Hostile") for k, data, e in image_kinds(random.Random(0))
    ]
    return MintCase([good_ask(1), *bad, good_ask(2, "JPEG")])


def every_text_kind() -> MintCase:
    """Every trap as a name, as a description and as a member name, with two good requests."""
    image = picture("PNG", 3)
    bad = [
        ask
        for trap in TEXT_TRAPS
        for ask in (
            MintAsk(f"name: {trap!r}", Expect.EITHER, image, f"Art {trap}"),
            MintAsk(f"description: {trap!r}", Expect.EITHER, image, "Art", f"About {trap}"),
            MintAsk(f"member name: {trap!r}", Expect.EITHER, image, "Art", requester_name=trap),
        )
    ]
    return MintCase([good_ask(4), *bad, good_ask(5, "GIF")])


def every_address_kind() -> MintCase:
    """Every hostile address sent to (`/mint to:`) and linked (`/wallet set`), with two good
    requests."""
    image = picture("PNG", 6)
    bad = [
        ask
        for a in address_kinds(random.Random(0))
        for ask in (
            MintAsk(f"to: {a.kind}", a.expect, image, "Sent", recipient=a.text),
            MintAsk(f"wallet set: {a.kind}", a.expect, image, "Linked", link=a.text),
        )
    ]
    return MintCase([good_ask(7), *bad, good_ask(8, "WEBP")])


# ----- airdrop rows ------------------------------------------------------------------------


@dataclass(frozen=True)
class AirdropLine:
    """One CSV record: its cell, and where a good one must end up (an address), if anywhere."""

    kind: str
    cell: str
    expect: Expect
    lands_at: str | None = None  # the holder a good row's token must have
    member: tuple[str, str] | None = None  # a known member's (platform, user ID) to register


@st.composite
def good_airdrop_lines(draw: st.DrawFn) -> AirdropLine:
    """A fresh address, or a member the bot knows (with a linked address of their own)."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    fresh = Account.from_key(rng.randbytes(32)).address
    if draw(st.booleans()):
        return AirdropLine("address", fresh, Expect.EITHER, lands_at=fresh)
    user = str(rng.randrange(10**17, 10**18))
    platform = rng.choice(("discord", "telegram"))
    return AirdropLine("member", f"{platform}:{user}", Expect.EITHER, fresh, (platform, user))


@st.composite
def bad_airdrop_lines(draw: st.DrawFn) -> AirdropLine:
    kind = draw(st.sampled_from(("address", "unknown member", "junk", "formula", "text")))
    if kind == "address":
        address = draw(hostile_addresses())
        return AirdropLine(f"address: {address.kind}", address.text, address.expect)
    if kind == "unknown member":
        cell = draw(st.sampled_from(("discord:", "telegram: ", "discord:0", "slack:1", "x:y")))
        return AirdropLine(f"member: {cell!r}", cell, Expect.REFUSED)
    if kind == "formula":
        return AirdropLine("formula", '=HYPERLINK("http://x","y")', Expect.REFUSED)
    if kind == "junk":
        return AirdropLine("junk", draw(st.text(any_character, min_size=1)), Expect.REFUSED)
    return AirdropLine("text", draw(hostile_text(200)), Expect.REFUSED)


def every_airdrop_kind() -> list[AirdropLine]:
    """Every hostile address and unknown member as a row, between good rows."""
    rng = random.Random(9)
    fresh = [Account.from_key(rng.randbytes(32)).address for _ in range(3)]
    return [
        AirdropLine("address", fresh[0], Expect.EITHER, lands_at=fresh[0]),
        *(AirdropLine(f"address: {a.kind}", a.text, a.expect) for a in address_kinds(rng)),
        AirdropLine(
            "member", "discord:123456789", Expect.EITHER, fresh[1], ("discord", "123456789")
        ),
        *(
            AirdropLine(f"member: {cell!r}", cell, Expect.REFUSED)
            for cell in ("discord:", "telegram: ", "slack:1", "x:y", "discord:404")
        ),
        AirdropLine("formula", '=HYPERLINK("http://x","y")', Expect.REFUSED),
        AirdropLine("text", "\x00\ud800 " + "x" * 300, Expect.REFUSED),
        AirdropLine("address", fresh[2], Expect.EITHER, lands_at=fresh[2]),
    ]


@st.composite
def airdrop_files(draw: st.DrawFn) -> list[AirdropLine]:
    good = draw(st.lists(good_airdrop_lines(), min_size=1, max_size=4))
    bad = draw(st.lists(bad_airdrop_lines(), min_size=1, max_size=5))
    return draw(st.permutations([*good, *bad]))


# ----- drop parameters ---------------------------------------------------------------------


@dataclass(frozen=True)
class DropAsk:
    """An admin's drop: every parameter as `Drops.create_drop` takes it."""

    name: str
    description: str
    image: bytes
    supply: int | None
    per_user_limit: int
    starts_in: timedelta | None
    lasts: timedelta | None
    naive: bool
    gate_roles: tuple[str, ...] = field(default=())
    gate_chat_member: bool = False
    require_linked_address: bool = False

    def __repr__(self) -> str:
        return _short_repr(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def times(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        starts = _shifted(now, self.starts_in)
        ends = _shifted(starts or now, self.lasts)
        if self.naive:
            starts = starts.replace(tzinfo=None) if starts else None
            ends = ends.replace(tzinfo=None) if ends else None
        return starts, ends


def _shifted(moment: datetime, by: timedelta | None) -> datetime | None:
    if by is None:
        return None
    try:
        return moment + by
    except OverflowError:
        return (
            datetime.max.replace(tzinfo=UTC)
            if by > timedelta(0)
            else datetime.min.replace(tzinfo=UTC)
        )


HUGE_NUMBERS = (-(2**63), -1, 0, 2**31, 2**63 - 1, 2**63, 2**64 + 1)
SPANS = (
    None,
    timedelta(0),
    timedelta(seconds=-1),
    timedelta(days=-3650),
    timedelta(seconds=1),
    timedelta(days=365 * 9000),
    timedelta.max,
    timedelta.min,
)


@st.composite
def hostile_drops(draw: st.DrawFn) -> DropAsk:
    _, image, _ = draw(st.one_of(hostile_images(), st.just(("good", picture("PNG", 1), None))))
    return DropAsk(
        name=draw(st.one_of(hostile_text(80), st.just("Fine drop"))),
        description=draw(st.one_of(hostile_text(1000), st.just(""))),
        image=image,
        supply=draw(st.one_of(st.none(), st.sampled_from(HUGE_NUMBERS), st.integers(1, 5))),
        per_user_limit=draw(st.one_of(st.sampled_from(HUGE_NUMBERS), st.integers(1, 3))),
        starts_in=draw(st.sampled_from(SPANS)),
        lasts=draw(st.sampled_from(SPANS)),
        naive=draw(st.booleans()),
        gate_roles=tuple(draw(st.lists(st.one_of(hostile_text(20), st.text()), max_size=3))),
        gate_chat_member=draw(st.booleans()),
        require_linked_address=draw(st.booleans()),
    )
