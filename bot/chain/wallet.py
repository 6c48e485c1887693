"""The custodial hot wallet: signs transactions with the key from the settings.

eth-account signs through eth-keys, which uses the `coincurve` (libsecp256k1) backend when it is
installed; it is a declared dependency, so signing takes the fast path.
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.datastructures import SignedTransaction
from eth_account.signers.local import LocalAccount
from eth_keys.backends import get_backend

from bot.env_values import Secret


class HotWallet:
    """Signs for one address. The key stays inside; repr and str show only the address."""

    __slots__ = ("_account",)

    def __init__(self, key: Secret) -> None:
        self._account: LocalAccount = Account.from_key(key.reveal())

    @property
    def address(self) -> str:
        return str(self._account.address)

    def sign_transaction(self, tx: dict[str, Any]) -> SignedTransaction:
        return self._account.sign_transaction(tx)

    @staticmethod
    def signing_backend() -> str:
        return type(get_backend()).__name__

    def __repr__(self) -> str:
        return f"HotWallet({self.address})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a HotWallet is not picklable")
