"""What a drop's code is: how codes are made, how what a member types is read, and the keyed
digests the database keeps in their place.

Codes use Crockford's base 32 (digits and letters without I, L, O and U: 32 symbols), read
back forgivingly: case, spaces and dashes do not matter, and O, I and L read as 0, 1 and 1.
A drop's first `SHORT_CODES` codes have 6 characters (2^30 possibilities); any beyond have 8,
so a guess never has better odds than 1,000 in 2^30 of hitting a 6-character code, whatever
the number issued. The secret word is read with case, accents' forms (NFKC), spaces and
punctuation ignored.

A code or word is stored only as HMAC-SHA256 under a key kept outside the database, bound to
its drop and to what it is (a code or a word): a copy of the database alone cannot be
searched for them, nor a code of one drop tried on another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from pathlib import Path

from bot.atomic_files import kept_key
from bot.env_values import Secret

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SHORT_LENGTH, LONG_LENGTH = 6, 8
# A drop's codes beyond this many have LONG_LENGTH characters.
SHORT_CODES = 1_000
# The most codes one drop may have, and one request may make.
MAX_CODES = 100_000
MAX_BATCH = 10_000
# What a member types is read up to this many characters; more is no code of ours.
MAX_INPUT = 64
# A secret word has at least this many letters or digits (once read).
MIN_WORD = 4
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
KEY_FILE = "codeword.key"


def new_code(length: int) -> str:
    """A random code (from the operating system's CSPRNG)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def code_length(issued_before: int) -> int:
    """The length of a drop's next code, given how many it has."""
    return SHORT_LENGTH if issued_before < SHORT_CODES else LONG_LENGTH


def shown(code: str) -> str:
    """A code as handed out: 8-character ones split in two for reading aloud."""
    return code if len(code) <= SHORT_LENGTH else f"{code[:4]}-{code[4:]}"


def read_code(text: str) -> str:
    """What a member typed, read as a code: "" if it cannot be one."""
    if len(text) > MAX_INPUT:
        return ""
    kept = "".join(c for c in unicodedata.normalize("NFKC", text).upper() if c.isalnum())
    read = kept.translate(_READ_AS)
    return read if all(c in ALPHABET for c in read) else ""


def read_word(text: str) -> str:
    """What a member (or an admin) typed, read as a secret word: "" if nothing is left."""
    if len(text) > MAX_INPUT:
        return ""
    return "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalnum())


class CodeKey:
    """The key the digests are made with. Only its fingerprint (`key_id`) is stored."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self.key_id = hmac.new(key, b"mintbot codeword key id", hashlib.sha256).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"CodeKey({self.key_id})"

    def digest(self, drop_id: int, what: str, read: str) -> str:
        """The stored form of a code or word (`what`: "code" or "word") of a drop."""
        message = f"{drop_id}\x00{what}\x00{read}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    @staticmethod
    def matches(stored: str, digest: str) -> bool:
        """Compare digests in constant time."""
        return hmac.compare_digest(stored.encode(), digest.encode())


def code_key(secret: Secret | None, data_dir: Path) -> CodeKey:
    """CODEWORD_SECRET where set; else a random key kept in the data directory (made on first
    use), which suits one machine: processes on several set CODEWORD_SECRET alike."""
    if secret is not None:
        return CodeKey(secret.reveal().encode())
    return CodeKey(kept_key(data_dir, KEY_FILE))
