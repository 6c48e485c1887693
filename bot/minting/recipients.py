"""Which addresses a token may be minted to, decided once for every place a user gives one
(`/mint to:`, a linked wallet, an airdrop row).

A batch mints to many recipients in one transaction, so an address the contract refuses would
revert everyone's batch: such addresses are refused where they are accepted, with the reason.
"""

from __future__ import annotations

from eth_utils.address import is_hex_address

from bot.env_values import parse_address
from bot.errors import ConfigError, RequestRejected
from bot.i18n import _

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def user_address(text: str, *, collection: str | None = None) -> str:
    """An address a user typed, checksummed; `RequestRejected` says what is wrong with it.

    Refused: anything that is not an address; the zero address (the contract refuses to mint
    to it, and tokens sent there are burnt); the collection contract itself, when given
    (a token held by the contract could never be moved again).

    The refusal's text is translated where it is raised (`_()`): in the task handling the
    asker's request, whose locale the platform set.
    """
    try:
        address = parse_address("address", text)
    except ConfigError:
        shown = text[:60]
        if is_hex_address(text.strip()):
            raise RequestRejected(
                _("{address} has a wrong checksum: check it for typos.").format(address=shown)
            ) from None
        raise RequestRejected(
            _("{address} is not a valid Ethereum address (0x and 40 hexadecimal digits).").format(
                address=repr(shown)
            )
        ) from None
    if address == ZERO_ADDRESS:
        raise RequestRejected(
            _("That is the zero address: nothing can be minted to it. Give a wallet you control.")
        )
    if collection is not None and address.lower() == collection.lower():
        raise RequestRejected(
            _(
                "That is the collection contract's own address: a token sent there could never "
                "be moved again. Give a wallet you control."
            )
        )
    return address
