"""Typed values read from the environment: secrets that never show themselves, and the
parsers that turn a raw setting into a number, flag, address, URL or key, or raise
`ConfigError` naming the setting and what is wrong with it."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from bot.errors import ConfigError
from bot.redact import redact_url

# Order of the secp256k1 group: a private key is an integer in [1, n - 1].
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HEX_KEY = re.compile(r"(0x)?[0-9a-fA-F]{64}")


class Secret:
    """A secret string that never shows itself; `reveal()` is the one way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not picklable")


class Env:
    """Reads raw values: the process environment wins over `.env`; `NAME_FILE` holds secrets."""

    def __init__(self, values: Mapping[str, str | None]) -> None:
        self._values = values

    def get(self, name: str) -> str | None:
        value = self._values.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def secret(self, name: str) -> Secret | None:
        direct = self.get(name)
        path = self.get(f"{name}_FILE")
        if direct is not None and path is not None:
            raise ConfigError(name, f"set either {name} or {name}_FILE, not both")
        if path is not None:
            try:
                return Secret(Path(path).read_text().strip())
            except OSError as err:
                raise ConfigError(f"{name}_FILE", f"cannot read {path}: {err.strerror}") from None
        return Secret(direct) if direct is not None else None


def env_int(env: Env, name: str, default: int, *, low: int, high: int | None = None) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ConfigError(name, f"not a whole number: {raw!r}") from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(name, f"must be {bounds}, got {value}")
    return value


def env_number(env: Env, name: str, default: float, *, low: float) -> float:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"not a number: {raw!r}") from None
    if not value >= low:  # also refuses NaN
        raise ConfigError(name, f"must be at least {low}, got {raw}")
    return value


def exposed_file(env_file: Path) -> list[str]:
    """A settings file that other users may read (or change) gives its secrets away."""
    try:
        mode = env_file.stat().st_mode
    except OSError:
        return []
    if not stat.S_ISREG(mode) or not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return []
    return [
        f"{env_file} can be read or changed by other users (mode {stat.S_IMODE(mode):04o}) "
        f"and holds secrets: run chmod 600 {env_file}"
    ]


def env_chat_id(env: Env, name: str) -> int | None:
    """A Telegram chat ID: negative for groups and channels."""
    raw = env.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(name, f"not a chat ID (a whole number): {raw!r}") from None


def env_flag(env: Env, name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value not in ("1", "true", "yes", "0", "false", "no"):
        raise ConfigError(name, f"say true or false, not {raw!r}")
    return value in ("1", "true", "yes")


def env_gwei(env: Env, name: str, default_gwei: float) -> int:
    return int(env_number(env, name, default_gwei, low=0) * 10**9)


def env_address(env: Env, name: str) -> str | None:
    raw = env.get(name)
    return None if raw is None else parse_address(name, raw)


def parse_address(name: str, raw: str) -> str:
    """`raw` as a checksummed address; all-lowercase input is accepted, a wrong checksum not."""
    # Here, not at the top: eth_utils (pydantic and all) takes most of a second to import, and
    # every content worker process imports this module (through bot.logs) without needing it.
    from eth_utils.address import is_checksum_address, is_hex_address, to_checksum_address

    if not is_hex_address(raw):
        raise ConfigError(name, f"not an Ethereum address: {raw!r}")
    if raw != raw.lower() and not is_checksum_address(raw):
        raise ConfigError(name, "the address has a wrong EIP-55 checksum (check for a typo)")
    return to_checksum_address(raw)


def env_url(env: Env, name: str, schemes: tuple[str, ...]) -> str | None:
    raw = env.get(name)
    if raw is None:
        return None
    return parse_url(name, raw, schemes)


def parse_url(name: str, raw: str, schemes: tuple[str, ...]) -> str:
    """`raw` without a trailing slash if it is a URL of one of `schemes`; the message of the
    error shows the value with its credentials redacted (`bot.redact`)."""
    try:
        parts = urlsplit(raw)
        valid = parts.scheme in schemes and bool(parts.netloc)
    except ValueError:  # an unbalanced IPv6 bracket, say
        valid = False
    if not valid:
        raise ConfigError(name, f"not a {' or '.join(schemes)} URL: {redact_url(raw)!r}")
    return raw.rstrip("/")


def env_names(env: Env, name: str, what: str) -> tuple[str, ...]:
    """A comma-separated list of names (of a `what`), lowercased, each once."""
    names = tuple(n.strip().lower() for n in (env.get(name) or "").split(",") if n.strip())
    if len(set(names)) != len(names):
        raise ConfigError(name, f"names a {what} twice")
    return names


def env_url_list(env: Env, name: str, schemes: tuple[str, ...]) -> tuple[str, ...]:
    """A comma-separated list of URLs, each once."""
    raw = (u.strip() for u in (env.get(name) or "").split(","))
    urls = tuple(parse_url(name, u, schemes) for u in raw if u)
    if len(set(urls)) != len(urls):
        raise ConfigError(name, "names an endpoint twice")
    return urls


def validate_private_key(name: str, secret: Secret) -> Secret:
    """Check that `secret` is a usable secp256k1 key; the message never contains the value."""
    value = secret.reveal()
    if not HEX_KEY.fullmatch(value):
        raise ConfigError(name, "not a 32-byte hex key")
    number = int(value.removeprefix("0x"), 16)
    if not 0 < number < SECP256K1_N:
        raise ConfigError(name, "not a valid secp256k1 private key (out of range)")
    return Secret("0x" + value.removeprefix("0x").lower())


def keystore_key(env: Env) -> Secret | None:
    """The key in HOT_WALLET_KEYSTORE, decrypted with HOT_WALLET_KEYSTORE_PASSWORD."""
    path_raw = env.get("HOT_WALLET_KEYSTORE")
    if path_raw is None:
        return None
    return decrypt_keystore(env, "HOT_WALLET_KEYSTORE", Path(path_raw))


def decrypt_keystore(env: Env, name: str, path: Path) -> Secret:
    """The key in the V3 keystore at `path` (setting `name`), decrypted with
    HOT_WALLET_KEYSTORE_PASSWORD; every message names the file, never the password."""
    try:
        keystore = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(name, f"file not found: {path}") from None
    except (OSError, ValueError):
        raise ConfigError(name, f"not a JSON keystore file: {path}") from None
    if not isinstance(keystore, dict) or keystore.get("version") != 3 or "crypto" not in keystore:
        raise ConfigError(name, f"not an Ethereum V3 keystore: {path}")
    password = env.secret("HOT_WALLET_KEYSTORE_PASSWORD")
    if password is None:
        raise ConfigError(
            "HOT_WALLET_KEYSTORE_PASSWORD",
            f"required with {name} (or HOT_WALLET_KEYSTORE_PASSWORD_FILE)",
        )
    from eth_account import Account

    try:
        key = Account.decrypt(keystore, password.reveal())
    except ValueError:
        raise ConfigError(
            "HOT_WALLET_KEYSTORE_PASSWORD", f"wrong password for the keystore {path}"
        ) from None
    except Exception:  # malformed crypto parameters inside a file that looked like V3
        raise ConfigError(name, f"cannot decrypt the keystore {path}") from None
    return Secret("0x" + bytes(key).hex())


def read_env(environ: Mapping[str, str] | None, env_file: Path | None) -> tuple[Env, Path]:
    environ = os.environ if environ is None else environ
    if env_file is None:
        env_file = Path(environ.get("ENV_FILE") or ".env")
    file_values = dotenv_values(env_file) if env_file.is_file() else {}
    return Env({**file_values, **environ}), env_file


def env_choice(env: Env, name: str, choices: tuple[str, ...]) -> str:
    raw = (env.get(name) or choices[0]).lower()
    if raw not in choices:
        raise ConfigError(name, f"must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def env_rpc_urls(env: Env) -> tuple[str, ...]:
    """RPC_URLS (comma-separated, tried in order) or RPC_URL (one endpoint); a WebSocket
    endpoint only alone: fail-over is between HTTP endpoints."""
    single = env_url(env, "RPC_URL", ("http", "https", "ws", "wss"))
    several = env_url_list(env, "RPC_URLS", ("http", "https", "ws", "wss"))
    if single is not None and several:
        raise ConfigError("RPC_URLS", "set either RPC_URL or RPC_URLS, not both")
    if len(several) > 1 and any(u.startswith(("ws://", "wss://")) for u in several):
        raise ConfigError("RPC_URLS", "fail-over is between http(s) endpoints: no ws:// here")
    return several or ((single,) if single is not None else ())
