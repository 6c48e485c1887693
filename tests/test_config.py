"""Settings: every wrong value gives one clear line naming the setting; secrets stay hidden."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from eth_account import Account

from bot.config import load_settings
from bot.env_values import Secret
from bot.errors import ConfigError
from bot.hot_wallet_keys import ANVIL_DEV_KEYS
from bot.logs import RedactingFormatter
from tests.support import CANARY, CANARY_KEY, PROJECT_ROOT, run_cli

REMOTE = {
    "RPC_URL": "https://rpc.example",
    "CHAIN_ID": "8453",
    "HOT_WALLET_PRIVATE_KEY": CANARY_KEY,
}


def load(env: dict[str, str], tmp_path: Path | None = None):
    return load_settings(env, env_file=Path("/nonexistent/.env"))


def test_defaults_give_local_mode_with_the_dev_key():
    settings = load({})
    assert settings.local_mode
    assert settings.hot_wallet_key_is_dev
    assert settings.hot_wallet_key.reveal() == ANVIL_DEV_KEYS[0]
    assert settings.chain_id == 31337
    assert settings.effective_rpc_url == "http://127.0.0.1:8545"
    assert settings.confirmations == 1


def test_remote_settings_are_parsed():
    settings = load(
        {
            **REMOTE,
            "CHAIN_ID": "8453",
            "MAX_FEE_PER_GAS_GWEI": "2.5",
            "PRIORITY_FEE_GWEI": "0.1",
            "ADMIN_ADDRESS": "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
            "ROYALTY_BPS": "750",
        }
    )
    assert not settings.local_mode
    assert settings.chain_id == 8453
    assert settings.max_fee_per_gas_wei == 2_500_000_000
    assert settings.priority_fee_wei == 100_000_000
    assert settings.admin_address == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # checksummed
    assert settings.royalty_bps == 750
    assert settings.confirmations == 3
    assert settings.hot_wallet_key.reveal() == CANARY_KEY


def test_environment_wins_over_the_env_file(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text("LOG_LEVEL=debug\nROYALTY_BPS=100\n")
    settings = load_settings({"ROYALTY_BPS": "200"}, env_file=env_file)
    assert settings.log_level == "DEBUG"
    assert settings.royalty_bps == 200


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {**REMOTE, "HOT_WALLET_PRIVATE_KEY": "0x1234"},
            "HOT_WALLET_PRIVATE_KEY: not a 32-byte hex key",
        ),
        (
            {**REMOTE, "HOT_WALLET_PRIVATE_KEY": "zz" * 32},
            "HOT_WALLET_PRIVATE_KEY: not a 32-byte hex key",
        ),
        (
            {**REMOTE, "HOT_WALLET_PRIVATE_KEY": "0x" + "00" * 32},
            "HOT_WALLET_PRIVATE_KEY: not a valid secp256k1",
        ),
        (
            {**REMOTE, "HOT_WALLET_PRIVATE_KEY": "0x" + "ff" * 32},
            "HOT_WALLET_PRIVATE_KEY: not a valid secp256k1",
        ),
        (
            {"RPC_URL": "https://rpc.example", "CHAIN_ID": "8453"},
            "HOT_WALLET_PRIVATE_KEY: required when RPC_URL is set",
        ),
        ({**REMOTE, "HOT_WALLET_PRIVATE_KEY_FILE": "/x"}, "HOT_WALLET_PRIVATE_KEY: set either"),
        (
            {
                **REMOTE,
                "HOT_WALLET_PRIVATE_KEY": "",
                "HOT_WALLET_PRIVATE_KEY_FILE": "/nonexistent/k",
            },
            "HOT_WALLET_PRIVATE_KEY_FILE: cannot read /nonexistent/k",
        ),
        ({"RPC_URL": "localhost:8545"}, "RPC_URL: not a http or https or ws or wss URL"),
        (
            {"RPC_URL": "ftp://rpc.example", **{k: v for k, v in REMOTE.items() if k != "RPC_URL"}},
            "RPC_URL: not a http or https or ws or wss URL",
        ),
        ({**REMOTE, "CHAIN_ID": "base"}, "CHAIN_ID: not a whole number: 'base'"),
        ({**REMOTE, "CHAIN_ID": "0"}, "CHAIN_ID: must be at least 1, got 0"),
        ({"CHAIN_ID": "1"}, "CHAIN_ID: the local chain is 31337"),
        ({**REMOTE, "CONTRACT_ADDRESS": "0x1234"}, "CONTRACT_ADDRESS: not an Ethereum address"),
        (
            {**REMOTE, "CONTRACT_ADDRESS": "0x70997970C51812dc3A010C7d01b50e0d17dc79c8"},
            "CONTRACT_ADDRESS: the address has a wrong EIP-55 checksum",
        ),
        ({**REMOTE, "ADMIN_ADDRESS": "admin"}, "ADMIN_ADDRESS: not an Ethereum address"),
        ({**REMOTE, "ROYALTY_RECEIVER": "0xZZ"}, "ROYALTY_RECEIVER: not an Ethereum address"),
        ({**REMOTE, "ROYALTY_BPS": "10001"}, "ROYALTY_BPS: must be between 0 and 10000, got 10001"),
        ({**REMOTE, "ROYALTY_BPS": "5%"}, "ROYALTY_BPS: not a whole number"),
        ({**REMOTE, "MAX_FEE_PER_GAS_GWEI": "-1"}, "MAX_FEE_PER_GAS_GWEI: must be at least 0"),
        ({**REMOTE, "MAX_FEE_PER_GAS_GWEI": "cheap"}, "MAX_FEE_PER_GAS_GWEI: not a number"),
        ({**REMOTE, "MAX_FEE_PER_GAS_GWEI": "nan"}, "MAX_FEE_PER_GAS_GWEI: must be at least 0"),
        (
            {**REMOTE, "MAX_FEE_PER_GAS_GWEI": "1", "PRIORITY_FEE_GWEI": "2"},
            "PRIORITY_FEE_GWEI: must not exceed MAX_FEE_PER_GAS_GWEI",
        ),
        ({**REMOTE, "CONFIRMATIONS": "0"}, "CONFIRMATIONS: must be between 1 and 1000"),
        ({**REMOTE, "LOG_LEVEL": "chatty"}, "LOG_LEVEL: must be one of DEBUG, INFO"),
        ({**REMOTE, "EXPLORER_URL": "etherscan.io"}, "EXPLORER_URL: not a http or https URL"),
        ({**REMOTE, "PUBLIC_BASE_URL": "ws://x"}, "PUBLIC_BASE_URL: not a http or https URL"),
        ({"ANVIL_PORT": "70000"}, "ANVIL_PORT: must be between 1 and 65535"),
        ({"ANVIL_BLOCK_TIME": "soon"}, "ANVIL_BLOCK_TIME: not a number"),
        (
            {**REMOTE, "HOT_WALLET_KEYSTORE": "/nonexistent/ks.json"},
            "HOT_WALLET_KEYSTORE: file not found",
        ),
    ],
)
def test_each_wrong_setting_names_itself(env: dict[str, str], message: str):
    with pytest.raises(ConfigError) as caught:
        load(env)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_the_key_is_never_quoted_in_an_error():
    almost = CANARY_KEY[:-1] + "g"  # one wrong digit: the message must not echo the rest
    with pytest.raises(ConfigError) as caught:
        load({**REMOTE, "HOT_WALLET_PRIVATE_KEY": almost})
    assert CANARY_KEY[4:-1] not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_secret_never_shows_its_value():
    settings = load(REMOTE)
    bare = CANARY_KEY.removeprefix("0x")
    for text in (
        repr(settings),
        str(settings),
        f"{settings.hot_wallet_key}",
        repr(settings.hot_wallet_key),
        "%s" % settings.hot_wallet_key,  # noqa: UP031 (the old formatting path too)
    ):
        assert bare not in text.lower()
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(settings.hot_wallet_key)


def test_log_records_are_redacted_in_any_form(caplog: pytest.LogCaptureFixture):
    formatter = RedactingFormatter("%(message)s", [Secret(CANARY_KEY)])
    bare = CANARY_KEY.removeprefix("0x")
    for message, args in (
        ("key %s", (CANARY_KEY,)),
        ("KEY %s", (bare.upper(),)),
        ("embedded:" + bare + ":end", ()),
    ):
        record = logging.LogRecord("t", logging.INFO, __file__, 1, message, args, None)
        assert bare not in formatter.format(record).lower()
    try:
        raise ValueError(f"boom {CANARY_KEY}")
    except ValueError:
        import sys

        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    assert bare not in formatter.format(record).lower()


def test_keystore_with_password_from_env_or_file(tmp_path: Path):
    keystore = tmp_path / "ks.json"
    keystore.write_text(json.dumps(Account.encrypt(CANARY_KEY, "s3cret", iterations=2)))
    env = {"RPC_URL": "https://rpc.example", "CHAIN_ID": "1", "HOT_WALLET_KEYSTORE": str(keystore)}

    settings = load({**env, "HOT_WALLET_KEYSTORE_PASSWORD": "s3cret"})
    assert settings.hot_wallet_key.reveal() == CANARY_KEY

    password_file = tmp_path / "password"
    password_file.write_text("s3cret\n")
    settings = load({**env, "HOT_WALLET_KEYSTORE_PASSWORD_FILE": str(password_file)})
    assert Account.from_key(settings.hot_wallet_key.reveal()).address == CANARY.address

    with pytest.raises(ConfigError, match="^HOT_WALLET_KEYSTORE_PASSWORD: wrong password"):
        load({**env, "HOT_WALLET_KEYSTORE_PASSWORD": "guess"})
    with pytest.raises(ConfigError, match="^HOT_WALLET_KEYSTORE_PASSWORD: required"):
        load(env)
    with pytest.raises(
        ConfigError, match="^HOT_WALLET_KEYSTORE: set only one of HOT_WALLET_PRIVATE_KEY and HOT_"
    ):
        load(
            {**env, "HOT_WALLET_KEYSTORE_PASSWORD": "s3cret", "HOT_WALLET_PRIVATE_KEY": CANARY_KEY}
        )

    not_v3 = tmp_path / "other.json"
    not_v3.write_text('{"version": 1}')
    with pytest.raises(ConfigError, match="^HOT_WALLET_KEYSTORE: not an Ethereum V3 keystore"):
        load({**env, "HOT_WALLET_KEYSTORE": str(not_v3), "HOT_WALLET_KEYSTORE_PASSWORD": "x"})
    garbage = tmp_path / "garbage.json"
    garbage.write_text("not json")
    with pytest.raises(ConfigError, match="^HOT_WALLET_KEYSTORE: not a JSON keystore file"):
        load({**env, "HOT_WALLET_KEYSTORE": str(garbage), "HOT_WALLET_KEYSTORE_PASSWORD": "x"})


def test_key_from_a_file(tmp_path: Path):
    key_file = tmp_path / "key"
    key_file.write_text(CANARY_KEY + "\n")
    settings = load(
        {
            "RPC_URL": "https://rpc.example",
            "CHAIN_ID": "1",
            "HOT_WALLET_PRIVATE_KEY_FILE": str(key_file),
        }
    )
    assert settings.hot_wallet_key.reveal() == CANARY_KEY


def test_env_example_documents_every_setting() -> None:
    """Every name bot/config.py reads from the environment has a line in .env.example."""
    source = (PROJECT_ROOT / "bot" / "config.py").read_text()
    read = set(re.findall(r'env(?:, |\.get\(|\.secret\(|\[)"([A-Z][A-Z0-9_]+)"', source))
    documented = set(
        re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (PROJECT_ROOT / ".env.example").read_text(), re.M)
    )
    assert len(read) > 30  # the pattern still finds the settings
    assert read - documented == set()


def test_an_env_file_others_can_read_gets_a_warning_at_start(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text("ROYALTY_BPS=300\n")
    env_file.chmod(0o644)
    settings = load_settings({}, env_file=env_file)
    assert settings.warnings == (
        f"{env_file} can be read or changed by other users (mode 0644) and holds secrets: "
        f"run chmod 600 {env_file}",
    )
    doctor = run_cli("doctor", env={"ENV_FILE": str(env_file), "ANVIL_PORT": "1"})
    assert f"chmod 600 {env_file}" in doctor.stderr  # said at start, whatever comes next
    env_file.chmod(0o600)
    assert load_settings({}, env_file=env_file).warnings == ()


def test_a_pool_of_keys_from_a_list_a_file_or_keystores(tmp_path: Path):
    other = "0x" + "22" * 32
    remote = {"RPC_URL": "https://rpc.example", "CHAIN_ID": "1"}
    settings = load({**remote, "HOT_WALLET_KEYS": f" {CANARY_KEY} , {other.upper()[2:]}"})
    assert settings.hot_wallet_key.reveal() == CANARY_KEY  # the first is the custody key
    assert [k.reveal() for k in settings.more_hot_wallet_keys] == [other]
    assert other[2:] not in repr(settings) and settings.lane_takeover_s == 10
    keys_file = tmp_path / "keys"
    keys_file.write_text(f"{CANARY_KEY},{other}\n")
    from_file = load({**remote, "HOT_WALLET_KEYS_FILE": str(keys_file), "LANE_TAKEOVER_S": "3"})
    assert len(from_file.more_hot_wallet_keys) == 1 and from_file.lane_takeover_s == 3
    stores = []
    for n, key in enumerate((CANARY_KEY, other)):
        path = tmp_path / f"ks{n}.json"
        path.write_text(json.dumps(Account.encrypt(key, "pw", iterations=2)))
        stores.append(str(path))
    pooled = load(
        {**remote, "HOT_WALLET_KEYSTORES": ",".join(stores), "HOT_WALLET_KEYSTORE_PASSWORD": "pw"}
    )
    assert [k.reveal() for k in (pooled.hot_wallet_key, *pooled.more_hot_wallet_keys)] == [
        CANARY_KEY,
        other,
    ]
    assert {s.reveal() for s in pooled.secrets()} >= {CANARY_KEY, other}  # redacted in logs


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HOT_WALLET_KEYS": f"{CANARY_KEY},{CANARY_KEY}"}, "HOT_WALLET_KEYS: names one key twice"),
        ({"HOT_WALLET_KEYS": f"{CANARY_KEY},"}, "HOT_WALLET_KEYS: an empty entry"),
        ({"HOT_WALLET_KEYS": f"{CANARY_KEY},0x12"}, r"HOT_WALLET_KEYS \(entry 2\): not a 32-byte"),
        (
            {"HOT_WALLET_KEYS": f"{CANARY_KEY},{ANVIL_DEV_KEYS[3]}"},
            "HOT_WALLET_KEYS: holds one of anvil's published development keys",
        ),
        (
            {"HOT_WALLET_KEYS": CANARY_KEY, "HOT_WALLET_PRIVATE_KEY": CANARY_KEY},
            "HOT_WALLET_KEYS: set only one of HOT_WALLET_PRIVATE_KEY and HOT_WALLET_KEYS",
        ),
        (
            {"HOT_WALLET_KEYS": ",".join(["0x" + f"{n:064x}" for n in range(1, 18)])},
            "HOT_WALLET_KEYS: at most 16",
        ),
        ({"HOT_WALLET_KEYS": CANARY_KEY, "LANE_TAKEOVER_S": "0"}, "LANE_TAKEOVER_S: must be"),
    ],
)
def test_a_wrong_pool_is_refused_by_name(env: dict[str, str], message: str):
    with pytest.raises(ConfigError, match=f"^{message}") as refused:
        load({"RPC_URL": "https://rpc.example", "CHAIN_ID": "1", **env})
    assert CANARY_KEY[2:] not in str(refused.value)
