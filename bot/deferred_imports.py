"""Keep keystore code off the start of every process that imports web3.

eth-account imports eth-keyfile, and eth-keyfile imports py_ecc's BLS12-381 code, which builds
its pairing tables while being imported: about 0.9 s of CPU, more than the rest of web3's
import, in every bot, worker and command-line process. The bot never reads or writes a
keystore file (its keys come from the settings), so `defer_keystore()` puts a stand-in for
`eth_keyfile.keyfile` in `sys.modules` before anything imports eth-account. The stand-in has
the names that are imported from it at import time; the first call of one of its functions,
or the first look-up of any other name, loads the real module and hands over to it.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Any, Literal

_KEYFILE = "eth_keyfile.keyfile"
# What eth-keyfile's own __init__ and eth-account import from the module when imported.
_FUNCTIONS = (
    "create_keyfile_json",
    "decode_keyfile_json",
    "extract_key_from_keyfile",
    "load_keyfile",
)


class _StandIn(ModuleType):
    """`eth_keyfile.keyfile` until something needs more than its names."""

    def __init__(self, spec: importlib.machinery.ModuleSpec) -> None:
        super().__init__(_KEYFILE)
        self._spec = spec
        self._real: ModuleType | None = None
        # A type alias, the same in the real module; eth-account uses it at import.
        self.KDFType = Literal["pbkdf2", "scrypt"]
        for name in _FUNCTIONS:
            setattr(self, name, self._forward(name))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # the import system probes for __path__ and the like
            raise AttributeError(name)
        return getattr(self.load(), name)

    def load(self) -> ModuleType:
        """The real module, loaded on first use and put in the stand-in's place."""
        if self._real is None:
            real = importlib.util.module_from_spec(self._spec)
            assert self._spec.loader is not None
            self._spec.loader.exec_module(real)
            self._real = real
            sys.modules[_KEYFILE] = real
            package = sys.modules.get("eth_keyfile")
            if package is not None:
                package.keyfile = real  # type: ignore[attr-defined]
        return self._real

    def _forward(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            return getattr(self.load(), name)(*args, **kwargs)

        call.__name__ = call.__qualname__ = name
        return call


def defer_keystore() -> None:
    """Put the stand-in in place, unless eth-keyfile is imported already (then it is too late
    to save anything) or cannot be found."""
    if _KEYFILE in sys.modules or "eth_keyfile" in sys.modules:
        return
    package = importlib.util.find_spec("eth_keyfile")  # finds it without importing it
    if package is None or not package.submodule_search_locations:
        return
    spec = importlib.machinery.PathFinder.find_spec(_KEYFILE, package.submodule_search_locations)
    if spec is None or spec.loader is None:
        return
    sys.modules[_KEYFILE] = _StandIn(spec)
