"""Reading allowlist files (bot/drops/allowlist_csv.py): what is accepted and how it is stored,
every bad line reported by its number, the limits, and arbitrary bytes failing only their own
upload."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.drops.allowlist_csv import (
    MAX_ALLOWANCE,
    MAX_BYTES,
    MAX_ENTRIES,
    SHOWN_PROBLEMS,
    normal_entry,
    parse_allowlist,
)

HOLDER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


def test_members_and_addresses_with_their_allowances() -> None:
    parsed = parse_allowlist(
        "\ufeffMember,Allowance\r\n"  # a spreadsheet's UTF-8 export: BOM, header, CRLF
        "discord:0123,2\r\n"
        "\r\n"
        "# the moderators\r\n"
        f"{HOLDER}\r\n"
        '"Telegram:5";3\r\n'  # quoted, semicolons, the platform's case
        f"{HOLDER.lower()},,\r\n"  # the same address again; empty trailing cells
        "discord:123\t4\r\n".encode()
    )
    assert parsed.ok, parsed.problems
    assert parsed.entries == {
        "discord:123": 4,  # repeated: the larger allowance counts
        HOLDER.lower(): 1,
        "telegram:5": 3,
    }
    assert (parsed.members, parsed.addresses, parsed.merged) == (2, 1, 2)
    assert parsed.summary() == (
        "3 entries (2 members, 1 address); 2 repeated entries counted once, with the "
        "larger allowance."
    )


def test_every_bad_line_is_reported_by_number_and_refuses_the_whole_file() -> None:
    lines = [
        "discord:1",
        "42",  # no platform
        "slack:5",
        "discord:ada",
        "telegram:-100200",  # a chat, not a member
        "0x90F79bf6EB2c4f870365E785982E1f101E93b907",  # one digit off: checksum
        "0x1234",
        "0x0000000000000000000000000000000000000000",
        "discord:2,0",
        "discord:3,1001",
        "discord:4,two",
        "discord:5,1,extra",
        ",3",
        "telegram:18446744073709551616",  # past 64 bits
    ]
    parsed = parse_allowlist("\n".join(lines).encode() + b"\ndiscord:6\n\xff\xfe\n")
    assert not parsed.ok and parsed.entries == {}
    numbers = [int(p.split(":")[0].removeprefix("line ")) for p in parsed.problems]
    assert numbers == [*range(2, 15), 16]
    text = "\n".join(parsed.problems)
    for expected in (
        "line 2: '42' is neither an address (0x...) nor a member (discord:ID or telegram:ID)",
        "line 3: 'slack:5': members are written discord:ID or telegram:ID",
        "line 4: 'discord:ada': a discord member is named by their numeric user ID",
        "line 6: '0x90F79bf6EB2c4f870365E785982E1f101E93b907' has a wrong checksum",
        "line 8: the zero address: no member can link it",
        "line 9: the allowance '0' is not a whole number from 1 to 1000",
        "line 12: 3 columns; expected an entry and, optionally, its allowance",
        "line 13: no entry in the first column",
        "line 16: not UTF-8 text",
    ):
        assert expected in text
    refusal = parsed.refusal()
    assert refusal.startswith(
        "The allowlist was refused (14 bad lines); nothing was changed. Fix the file and "
        "upload all of it again.\nline 2: "
    )
    assert refusal.count("\n") == SHOWN_PROBLEMS + 1
    assert refusal.endswith("... and 4 more bad lines.")


def test_the_limits_on_size_rows_and_lines() -> None:
    too_big = parse_allowlist(b"discord:1\n" * (MAX_BYTES // 10) + b"discord:2\n" * 2)
    size = MAX_BYTES // 10 * 10 + 20
    assert too_big.problems == (
        f"The file is {size:,} bytes; an allowlist may be at most {MAX_BYTES:,}.",
    )
    assert too_big.refusal().startswith("The allowlist was refused (the file)")
    rows = "".join(f"telegram:{i}\n" for i in range(1, MAX_ENTRIES + 2)).encode()
    assert parse_allowlist(rows).problems == (
        f"More than {MAX_ENTRIES:,} entries (line {MAX_ENTRIES + 1}): split the list, or ask "
        "the operator.",
    )
    # Bad lines count: no file holds more reasons than that.
    assert parse_allowlist(b"\xff\n" * (MAX_ENTRIES + 1)).problems == (
        f"More than {MAX_ENTRIES:,} entries (line {MAX_ENTRIES + 1}): split the list, or ask "
        "the operator.",
    )
    full = parse_allowlist(rows[: rows.index(f"telegram:{MAX_ENTRIES + 1}".encode())])
    assert full.ok and len(full.entries) == MAX_ENTRIES
    assert parse_allowlist(b"discord:1," + b" " * 300 + b"2\n").problems == (
        "line 1: too long (311 characters; at most 256)",
    )
    for empty in (b"", b"\n\n", b"address,allowance\n# nobody yet\n"):
        assert parse_allowlist(empty).problems[0].startswith("The file has no entries")


def test_a_first_line_with_a_digit_or_colon_is_an_entry_not_a_header() -> None:
    assert parse_allowlist(b"wallet\n" + HOLDER.encode()).ok
    assert parse_allowlist(b"12345\ndiscord:1\n").problems[0].startswith("line 1: '12345'")
    assert parse_allowlist(b"discord:1\naddress\n").problems[0].startswith("line 2: 'address'")


def test_what_a_reason_quotes_cannot_mark_up_or_mention() -> None:
    parsed = parse_allowlist(b"discord:1\n<b>@everyone</b> **x** `y`\n")
    assert parsed.problems == (
        "line 2: '?b??everyone?/b? ??x?? ?y?' is neither an address (0x...) nor a member "
        "(discord:ID or telegram:ID)",
    )


# ----- properties ------------------------------------------------------------------------------

entries = st.one_of(
    st.builds(
        lambda p, n: f"{p}:{n}",
        st.sampled_from(["discord", "telegram"]),
        st.integers(1, 2**64 - 1),
    ),
    st.binary(min_size=20, max_size=20)
    .map(lambda b: "0x" + b.hex())
    .filter(lambda a: int(a, 16) != 0),
)


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes_never_crash_the_reader(data: bytes) -> None:
    parsed = parse_allowlist(data)
    assert parsed.ok == (not parsed.problems)
    assert parsed.ok == bool(parsed.entries)
    assert all(1 <= a <= MAX_ALLOWANCE for a in parsed.entries.values())
    assert all(normal_entry(e) == e for e in parsed.entries)
    assert isinstance(parsed.refusal(), str) and isinstance(parsed.summary(), str)


@settings(max_examples=80, deadline=None)
@given(
    lines=st.lists(
        st.one_of(
            st.text(max_size=80),
            entries,
            st.tuples(entries, st.integers(-5, MAX_ALLOWANCE + 5)).map(lambda t: f"{t[0]},{t[1]}"),
        ),
        max_size=40,
    )
)
def test_arbitrary_text_lines_are_each_taken_or_reported(lines: list[str]) -> None:
    text = "\n".join(line.replace("\r", " ").replace("\n", " ") for line in lines)
    parsed = parse_allowlist(text.encode("utf-8", "surrogatepass"))
    for problem in parsed.problems:
        if problem.startswith("line "):
            assert 1 <= int(problem.split(":")[0].removeprefix("line ")) <= max(len(lines), 1)


@given(listed=st.dictionaries(entries, st.integers(1, MAX_ALLOWANCE), min_size=1, max_size=60))
@settings(max_examples=100, deadline=None)
def test_a_written_list_reads_back_as_written(listed: dict[str, int]) -> None:
    text = "entry,allowance\n" + "".join(f"{e},{a}\n" for e, a in listed.items())
    parsed = parse_allowlist(text.encode())
    assert parsed.ok, parsed.problems
    assert parsed.entries == {normal_entry(e): a for e, a in listed.items()}


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("DISCORD:007", "discord:7"),
        (" telegram : 42 ", "telegram:42"),
        (HOLDER, HOLDER.lower()),
        (HOLDER.upper().replace("0X", "0x"), HOLDER.lower()),  # all caps: no checksum to check
    ],
)
def test_entries_are_stored_one_way(written: str, stored: str) -> None:
    assert normal_entry(written) == stored
