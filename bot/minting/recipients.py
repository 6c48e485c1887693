"""Which addresses a token may be minted to, decided once for every place a user gives one
(`/mint to:`, a linked wallet, an airdrop row).

A batch mints to many recipients in one transaction, so an address the contract refuses would
revert everyone's batch: such addresses are refused where they are accepted, with the reason.
"""

from __future__ import annotations

from eth_utils.address import is_hex_address

from bot.env_values import parse_address
from bot.errors import ConfigError, RequestRejected
from bot.i18n import N_

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def user_address(text: str, *, collection: str | None = None) -> str:
    """An address a user typed, checksummed; `RequestRejected` says what is wrong with it.

    Refused: anything that is not an address; the zero address (the contract refuses to mint
    to it, and tokens sent there are burnt); the collection contract itself, when given
    (a token held by the contract could never be moved again).

    The refusal keeps its message untranslated (`err.said`): it is shown with `err.text()`
    in the asker's language, or stored with a request and shown later in its member's.
    """
    try:
        address = parse_address("address", text)
    except ConfigError:
        shown = text[:60]
        if is_hex_address(text.strip()):
            raise RequestRejected(
                N_("{address} has a wrong checksum: check it for typos."), address=shown
            ) from None
        raise RequestRejected(
            N_("{address} is not a valid Ethereum address (0x and 40 hexadecimal digits)."),
            address=repr(shown),
        ) from None
    if address == ZERO_ADDRESS:
        raise RequestRejected(
            N_("That is the zero address: nothing can be minted to it. Give a wallet you control.")
        )
    if collection is not None and address.lower() == collection.lower():
        raise RequestRejected(
            N_(
                "That is the collection contract's own address: a token sent there could never "
                "be moved again. Give a wallet you control."
            )
        )
    return address
