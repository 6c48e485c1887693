"""Reading an allowlist file: who may claim a drop, and how many editions each.

One entry a line: a member as `discord:ID` or `telegram:ID` (the platform's numeric user ID),
or an address (`0x` and 40 hex digits; the member who linked it qualifies). An optional second
column is the entry's allowance, how many editions it may claim (default 1). Commas separate
the columns (semicolons or tabs too, as spreadsheets in some languages save them); cells may be
quoted. Blank lines and lines starting with `#` are skipped, and so is a first line that is a
header (its first cell has neither a digit nor a colon, as in `address,allowance`).

The file is read whole or not at all: a single bad line refuses the upload, and every bad line
is reported by its number, so an admin fixes them all at once and nothing half-read is ever
stored. An entry given twice counts once, with the larger allowance (as a member matching
several entries does). Whatever the bytes, reading them ends in a `ParsedAllowlist`, never an
exception: a broken file fails its own upload and nothing else.

Reasons are worded in the admin's language as the file is read: it is read in the task of the
admin's own upload (`asyncio.to_thread` carries its locale), and answered there.

Entries are stored normalised: `discord:123` with the platform lower-cased and the ID without
leading zeros, addresses lower-cased (their checksum checked when they carry one).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field

from bot.i18n import _, ngettext

# The largest file read (4 MiB: 50,000 address lines with allowances fit with room to spare),
# the most entries, the longest line, and the largest allowance (an entry's, as /drop create's
# per-member limit). Beyond them the upload is refused, with the reason.
MAX_BYTES = 4 * 1024 * 1024
MAX_ENTRIES = 50_000
MAX_LINE = 256
MAX_ALLOWANCE = 1000
PLATFORMS = ("discord", "telegram")
# Bad lines listed in a refusal; the rest are counted.
SHOWN_PROBLEMS = 10
# User IDs are 64-bit on both platforms (Discord snowflakes, Telegram user IDs).
MAX_USER_ID = 2**64 - 1
ZERO_ADDRESS = "0x" + "0" * 40

_LINES = re.compile(rb"\r\n|\r|\n")
_BOM = "\ufeff".encode()
_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")
_DIGITS = re.compile(r"[0-9]+")
# What a reason may quote of a cell as written: printable ASCII without the characters chat
# markup (Markdown, HTML) or mentions give meaning to; anything else shows as "?".
_UNQUOTABLE = re.compile(r"[^A-Za-z0-9 .,:;+=/'-]")


@dataclass(frozen=True)
class ParsedAllowlist:
    """What a file holds: its entries (normalised entry -> allowance), or why it is refused
    (`problems`: "line 7: ..." per bad line, or one reason for the whole file)."""

    entries: dict[str, int] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    merged: int = 0  # entries given more than once, counted once
    bad_lines: int = 0  # problems that are lines (not one reason for the whole file)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def members(self) -> int:
        return sum(not e.startswith("0x") for e in self.entries)

    @property
    def addresses(self) -> int:
        return sum(e.startswith("0x") for e in self.entries)

    def summary(self) -> str:
        """What an accepted file gave, in one sentence."""
        count = len(self.entries)
        entries = ngettext("{count} entry ({kinds})", "{count} entries ({kinds})", count).format(
            count=f"{count:,}", kinds=entry_counts(self.members, self.addresses)
        )
        if not self.merged:
            return entries + "."
        merged = ngettext(
            "{count} repeated entry counted once, with the larger allowance",
            "{count} repeated entries counted once, with the larger allowance",
            self.merged,
        ).format(count=f"{self.merged:,}")
        return f"{entries}; {merged}."

    def refusal(self) -> str:
        """Why the file is refused, with its first bad lines."""
        shown = list(self.problems[:SHOWN_PROBLEMS])
        if (more := len(self.problems) - SHOWN_PROBLEMS) > 0:
            shown.append(
                ngettext(
                    "... and {count} more bad line.", "... and {count} more bad lines.", more
                ).format(count=f"{more:,}")
            )
        lines = self.bad_lines
        what = (
            ngettext("{count} bad line", "{count} bad lines", lines).format(count=f"{lines:,}")
            if lines
            else _("the file")
        )
        head = _(
            "The allowlist was refused ({what}); nothing was changed. "
            "Fix the file and upload all of it again."
        ).format(what=what)
        return "\n".join([head, *shown])


def entry_counts(members: int, addresses: int) -> str:
    """How many members and addresses a list has ("2 members, 1 address"), in the current
    locale."""
    counted = ngettext("{count} member", "{count} members", members).format(count=f"{members:,}")
    listed = ngettext("{count} address", "{count} addresses", addresses).format(
        count=f"{addresses:,}"
    )
    return f"{counted}, {listed}"


def parse_allowlist(data: bytes) -> ParsedAllowlist:
    """The allowlist in `data` (a CSV file's bytes), or why it is refused."""
    if len(data) > MAX_BYTES:
        return _refused(
            _("The file is {size} bytes; an allowlist may be at most {most}.").format(
                size=f"{len(data):,}", most=f"{MAX_BYTES:,}"
            )
        )
    entries: dict[str, int] = {}
    problems: list[str] = []
    merged = rows = 0
    header_possible = True
    # Line by line, so a line that is not UTF-8 is one bad line among the others.
    for number, raw in enumerate(_LINES.split(data.removeprefix(_BOM)), 1):
        line, problem = _decoded(raw)
        if problem is None and (not line or line.startswith("#")):
            continue
        cells: list[str] = []
        if problem is None:
            cells, problem = _split(line)
            if problem is None and not cells:
                continue  # only separators
            if problem is None and header_possible and _is_header(cells[0]):
                header_possible = False
                continue
        header_possible = False
        # Bad lines count too, so no file makes more than this many reasons.
        rows += 1
        if rows > MAX_ENTRIES:
            return _refused(
                _(
                    "More than {most} entries (line {number}): split the list, or ask the operator."
                ).format(most=f"{MAX_ENTRIES:,}", number=number)
            )
        if problem is None:
            try:
                entry, allowance = _row(cells)
            except ValueError as err:
                problem = str(err)
        if problem is not None:
            problems.append(_("line {number}: {problem}").format(number=number, problem=problem))
        elif entry in entries:
            merged += 1
            entries[entry] = max(entries[entry], allowance)
        else:
            entries[entry] = allowance
    if problems:
        return ParsedAllowlist(problems=tuple(problems), bad_lines=len(problems))
    if not entries:
        return _refused(
            _("The file has no entries: one member (discord:ID, telegram:ID) or address a line.")
        )
    return ParsedAllowlist(entries, merged=merged)


def normal_entry(cell: str) -> str:
    """A member or address as stored; `ValueError` says what is wrong with it."""
    cell = cell.strip()
    if cell[:2].lower() == "0x":
        return _address(cell)
    if not cell:
        raise ValueError(_("no entry in the first column"))
    platform, colon, user_id = cell.partition(":")
    platform, user_id = platform.strip().lower(), user_id.strip()
    if not colon:
        raise ValueError(
            _(
                "{cell} is neither an address (0x...) nor a member (discord:ID or telegram:ID)"
            ).format(cell=_quoted(cell))
        )
    if platform not in PLATFORMS:
        raise ValueError(
            _("{cell}: members are written discord:ID or telegram:ID").format(cell=_quoted(cell))
        )
    if not _DIGITS.fullmatch(user_id) or not 1 <= int(user_id) <= MAX_USER_ID:
        raise ValueError(
            _("{cell}: a {platform} member is named by their numeric user ID").format(
                cell=_quoted(cell), platform=platform
            )
        )
    return f"{platform}:{int(user_id)}"


def _address(cell: str) -> str:
    if not _ADDRESS.fullmatch(cell):
        raise ValueError(
            _("{cell} is not an address (0x and 40 hexadecimal digits)").format(cell=_quoted(cell))
        )
    digits = cell[2:]
    if digits != digits.lower() and digits != digits.upper():
        # Here, not at the top: eth_utils takes most of a second to import.
        from eth_utils.address import is_checksum_address

        if not is_checksum_address("0x" + digits):
            raise ValueError(
                _("{cell} has a wrong checksum: check it for typos").format(cell=_quoted(cell))
            )
    address = "0x" + digits.lower()
    if address == ZERO_ADDRESS:
        raise ValueError(_("the zero address: no member can link it"))
    return address


def _row(cells: list[str]) -> tuple[str, int]:
    if len(cells) > 2:
        raise ValueError(
            _("{count} columns; expected an entry and, optionally, its allowance").format(
                count=len(cells)
            )
        )
    entry = normal_entry(cells[0])
    if len(cells) == 1 or not cells[1]:
        return entry, 1
    allowance = cells[1]
    if not _DIGITS.fullmatch(allowance) or not 1 <= int(allowance) <= MAX_ALLOWANCE:
        raise ValueError(
            _("the allowance {cell} is not a whole number from 1 to {most}").format(
                cell=_quoted(allowance), most=MAX_ALLOWANCE
            )
        )
    return entry, int(allowance)


def _decoded(raw: bytes) -> tuple[str, str | None]:
    """The line as text, stripped, or why it cannot be read."""
    try:
        return raw.decode("utf-8").strip(), None
    except UnicodeDecodeError:
        return "", _("not UTF-8 text (save the file as UTF-8 CSV)")


def _split(line: str) -> tuple[list[str], str | None]:
    """The line's cells, stripped, without the empty ones a spreadsheet leaves at the end; or
    why it cannot be read."""
    if len(line) > MAX_LINE:
        return [], _("too long ({length} characters; at most {most})").format(
            length=f"{len(line):,}", most=MAX_LINE
        )
    delimiter = next((d for d in ",;\t" if d in line), ",")
    try:
        cells = [c.strip() for c in next(csv.reader([line], delimiter=delimiter), [])]
    except csv.Error as err:
        return [], _("not CSV ({error})").format(error=err)
    while cells and not cells[-1]:
        cells.pop()
    return cells, None


def _is_header(cell: str) -> bool:
    return any(c.isalpha() for c in cell) and not any(c.isdigit() or c == ":" for c in cell)


def _quoted(cell: str) -> str:
    shown = _UNQUOTABLE.sub("?", cell[:48]) + ("..." if len(cell) > 48 else "")
    return f"'{shown}'"


def _refused(reason: str) -> ParsedAllowlist:
    return ParsedAllowlist(problems=(reason,))
