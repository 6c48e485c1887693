"""ENS names (`ada.eth`) to addresses, asked of Ethereum mainnet through `ENS_RPC_URL`: one
`eth_call` of ENS's Universal Resolver, `resolve(dnsName, addr(node))`, which finds the name's
resolver (wildcard ones too, ENSIP-10) and asks it.

Names are taken in their plain form only: labels of a-z, 0-9 and hyphens (any case typed).
For those, ENSIP-15 normalization is lowercasing, so the name hashed is the name every ENS app
shows; anything else (emoji, other scripts, look-alike letters) is refused in words rather
than normalized here. (web3's own normalizer fails on the pyunormalize this project installs.)

A look-up that fails or takes longer than `timeout` seconds, or a name that points nowhere,
raises `NameUnresolved` in words: the one `/wallet link` that asked is refused, nothing else.
Its words are translated where it is raised (`_()`), in the task handling that member's
request, whose locale their platform set.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator

from eth_hash.auto import keccak

from bot.chain.addresses import checksum_address
from bot.chain.reads import JsonRpc, RpcCall, RpcRefused, connect_json_rpc
from bot.i18n import _

# ENS's Universal Resolver on Ethereum mainnet (the address web3's ENS client asks).
UNIVERSAL_RESOLVER = "0xeEeEEEeE14D718C2B47D9923Deab1335E144EeEe"
RESOLVE = keccak(b"resolve(bytes,bytes)")[:4]
ADDR = keccak(b"addr(bytes32)")[:4]
# What a member typed that is meant as a name, not an address: labels joined by dots.
NAME = re.compile(r"^[^\s.]+(\.[^\s.]+)+$")
PLAIN_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


class NameUnresolved(Exception):
    """A name that did not give an address; the message says why, for the member."""


def looks_like_name(text: str) -> bool:
    text = text.strip()
    return bool(NAME.match(text)) and not text.lower().startswith("0x")


def plain_name(text: str) -> str:
    """`text` as ENS normalizes it, for names of plain labels; NameUnresolved otherwise."""
    name = text.strip().lower()
    labels = name.split(".")
    # ENSIP-15 refuses "--" in the third and fourth places (punycode's mark).
    if len(name) > 255 or not all(PLAIN_LABEL.match(x) and x[2:4] != "--" for x in labels):
        raise NameUnresolved(
            _(
                "{name}: I take ENS names of letters a-z, digits and hyphens only; give the 0x… "
                "address instead."
            ).format(name=repr(text[:60]))
        )
    return name


def namehash(name: str) -> bytes:
    """EIP-137's hash of a normalized name."""
    node = b"\x00" * 32
    for label in reversed(name.split(".")):
        node = keccak(node + keccak(label.encode()))
    return node


def _word(number: int) -> bytes:
    return number.to_bytes(32, "big")


def _bytes_tail(data: bytes) -> bytes:
    return _word(len(data)) + data + b"\x00" * (-len(data) % 32)


def resolve_call(name: str) -> bytes:
    """The calldata of `resolve(dnsEncode(name), addr(namehash(name)))`."""
    dns = b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\x00"
    inner = ADDR + namehash(name)
    head = _word(64) + _word(64 + len(_bytes_tail(dns)))
    return RESOLVE + head + _bytes_tail(dns) + _bytes_tail(inner)


def resolved_address(answer: object) -> str | None:
    """The address in `resolve`'s answer `(bytes result, address resolver)`, where `result` is
    `addr`'s own answer; None for the zero address or an answer of another shape."""
    try:
        raw = bytes.fromhex(answer.removeprefix("0x")) if isinstance(answer, str) else b""
        start = int.from_bytes(raw[:32], "big")
        length = int.from_bytes(raw[start : start + 32], "big")
        result = raw[start + 32 : start + 32 + length]
    except (ValueError, OverflowError):
        return None
    if len(result) != 32 or any(result[:12]) or not any(result[12:]):
        return None
    return checksum_address(result[12:])


class EnsNames:
    """Addresses of ENS names over `rpc` (a mainnet node), each look-up bounded by `timeout`
    seconds."""

    def __init__(self, rpc: RpcCall, *, timeout: float) -> None:
        self.rpc = rpc
        self.timeout = timeout

    async def address(self, text: str) -> tuple[str, str]:
        """The normalized name and the checksummed address it points to."""
        name = plain_name(text)
        call = {"to": UNIVERSAL_RESOLVER, "data": "0x" + resolve_call(name).hex()}
        try:
            async with asyncio.timeout(self.timeout):
                answer = await self.rpc("eth_call", [call, "latest"])
        except RpcRefused as err:
            if not err.reverted:
                raise NameUnresolved(
                    _("ENS gave no answer for {name}; try again soon.").format(name=name)
                ) from None
            answer = None  # no resolver, or one only answering offchain (not followed)
        except TimeoutError:
            raise NameUnresolved(
                _("ENS did not answer for {name} in {seconds} s; try again soon.").format(
                    name=name, seconds=f"{self.timeout:g}"
                )
            ) from None
        except Exception as err:  # a failing node means the same as a slow one: no answer now
            raise NameUnresolved(
                _("ENS gave no answer for {name} ({error}); try again soon.").format(
                    name=name, error=type(err).__name__
                )
            ) from None
        address = resolved_address(answer)
        if address is None:
            raise NameUnresolved(_("{name} does not point to an address on ENS.").format(name=name))
        return name, address


@contextlib.asynccontextmanager
async def open_ens_names(url: str | None, timeout: float) -> AsyncIterator[EnsNames | None]:
    """EnsNames over `url` (ENS_RPC_URL) while the block runs; None without one. The node's
    chain is not checked: ENS lives on Ethereum mainnet, and the operator names its node."""
    if url is None:
        yield None
        return
    rpc: JsonRpc = await connect_json_rpc(url, None, timeout)
    try:
        yield EnsNames(rpc.call, timeout=timeout)
    finally:
        await rpc.close()
