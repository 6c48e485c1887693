"""The hot wallet's keys from the settings: one key, or a pool of them.

One key comes from HOT_WALLET_PRIVATE_KEY or HOT_WALLET_KEYSTORE; a pool from HOT_WALLET_KEYS
(comma-separated keys) or HOT_WALLET_KEYSTORES (comma-separated keystore files sharing
HOT_WALLET_KEYSTORE_PASSWORD). Each key of a pool is its own nonce lane; the first is the
custody key. Every form also reads from a file (`NAME_FILE`), and no message ever shows a key.
"""

from __future__ import annotations

from pathlib import Path

from bot.env_values import Env, Secret, decrypt_keystore, keystore_key, validate_private_key
from bot.errors import ConfigError

# The published development accounts of anvil (and hardhat), all ten derived from the
# mnemonic "test test ... junk" (m/44'/60'/0'/0/i; tests/test_config.py derives them again).
# They are public knowledge: refused as the hot wallet on any chain but the local one.
ANVIL_DEV_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
)
LOCAL_CHAIN_ID = 31337
# More lanes than this would only spread the same batches thinner.
MAX_POOL_KEYS = 16

_SINGLE = ("HOT_WALLET_PRIVATE_KEY", "HOT_WALLET_KEYSTORE")
_POOL = ("HOT_WALLET_KEYS", "HOT_WALLET_KEYSTORES")


def hot_wallet_keys(env: Env, local_mode: bool, chain_id: int) -> tuple[tuple[Secret, ...], bool]:
    """The configured keys (the custody key first) and whether they are anvil's first
    development key, used because nothing was configured in local mode."""
    given = [(name, keys) for name, keys in _configured(env) if keys]
    if len(given) > 1:
        names = " and ".join(name for name, _ in given)
        raise ConfigError(given[1][0], f"set only one of {names}")
    if not given:
        if local_mode:
            return (Secret(ANVIL_DEV_KEYS[0]),), True
        raise ConfigError(
            "HOT_WALLET_PRIVATE_KEY",
            "required when RPC_URL is set (or HOT_WALLET_KEYSTORE with its password, "
            "or a pool in HOT_WALLET_KEYS)",
        )
    name, keys = given[0]
    if len(keys) > MAX_POOL_KEYS:
        raise ConfigError(name, f"at most {MAX_POOL_KEYS} keys, got {len(keys)}")
    if len({key.reveal() for key in keys}) != len(keys):
        raise ConfigError(name, "names one key twice")
    if chain_id != LOCAL_CHAIN_ID and any(key.reveal() in ANVIL_DEV_KEYS for key in keys):
        raise ConfigError(
            name,
            "holds one of anvil's published development keys, which anyone can spend "
            f"from; it is refused on any chain but the local one ({LOCAL_CHAIN_ID})",
        )
    return tuple(keys), False


def _configured(env: Env) -> list[tuple[str, list[Secret]]]:
    raw = env.secret("HOT_WALLET_PRIVATE_KEY")
    single = keystore_key(env)
    pool = env.secret("HOT_WALLET_KEYS")
    files = env.get("HOT_WALLET_KEYSTORES")
    return [
        (_SINGLE[0], [validate_private_key(_SINGLE[0], raw)] if raw is not None else []),
        (_SINGLE[1], [single] if single is not None else []),
        (_POOL[0], _listed_keys(pool) if pool is not None else []),
        (_POOL[1], _listed_keystores(env, files) if files is not None else []),
    ]


def _listed_keys(pool: Secret) -> list[Secret]:
    parts = [part.strip() for part in pool.reveal().split(",")]
    if not all(parts):
        raise ConfigError("HOT_WALLET_KEYS", "an empty entry in the comma-separated list")
    return [
        validate_private_key(f"HOT_WALLET_KEYS (entry {n})", Secret(part))
        for n, part in enumerate(parts, start=1)
    ]


def _listed_keystores(env: Env, files: str) -> list[Secret]:
    paths = [part.strip() for part in files.split(",")]
    if not all(paths):
        raise ConfigError("HOT_WALLET_KEYSTORES", "an empty entry in the comma-separated list")
    return [decrypt_keystore(env, "HOT_WALLET_KEYSTORES", Path(path)) for path in paths]
