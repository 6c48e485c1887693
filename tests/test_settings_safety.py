"""Settings that cannot go wrong quietly: CHAIN_ID with every RPC URL, anvil's published keys
only on the local chain, RPC_URLS, and URL credentials kept out of reprs, errors and logs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from eth_account import Account

from bot.config import LOCAL_CHAIN_ID, load_settings, load_web_settings
from bot.errors import ConfigError
from bot.hot_wallet_keys import ANVIL_DEV_KEYS
from bot.logs import RedactingFormatter
from tests.support import CANARY_KEY

API_KEY = "c4n4ry" + "0123456789abcdef" * 2  # a canary API key, in path and query below
RPC = f"https://u:{API_KEY}@rpc.example/v3/{API_KEY}?apikey={API_KEY}"
DB = f"postgresql+asyncpg://mintbot:{API_KEY}@db.example/mintbot"


def load(env: dict[str, str]):
    return load_settings(env, env_file=Path("/nonexistent/.env"))


def test_the_listed_dev_keys_are_the_ten_of_the_published_mnemonic():
    Account.enable_unaudited_hdwallet_features()
    mnemonic = "test test test test test test test test test test test junk"
    derived = tuple(
        "0x" + bytes(Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}").key).hex()
        for i in range(10)
    )
    assert derived == ANVIL_DEV_KEYS


@pytest.mark.parametrize(
    "env", [{"RPC_URL": "https://rpc.example"}, {"RPC_URLS": "http://a,http://b"}]
)
def test_chain_id_is_required_with_any_rpc_url(env: dict[str, str]):
    for loader in (load, lambda e: load_web_settings(e, Path("/nonexistent/.env"))):
        with pytest.raises(ConfigError, match="^CHAIN_ID: required with RPC_URL"):
            loader({**env, "HOT_WALLET_PRIVATE_KEY": CANARY_KEY})


@pytest.mark.parametrize("index", range(10))
def test_every_dev_key_is_refused_off_the_local_chain(index: int, tmp_path: Path):
    key = ANVIL_DEV_KEYS[index]
    remote = {"RPC_URL": "https://rpc.example", "CHAIN_ID": "8453"}
    for form in (key, key.removeprefix("0x").upper()):
        with pytest.raises(ConfigError) as caught:
            load({**remote, "HOT_WALLET_PRIVATE_KEY": form})
        assert str(caught.value).startswith("HOT_WALLET_PRIVATE_KEY: holds one of anvil's")
        assert key.removeprefix("0x") not in str(caught.value).lower()
    keystore = tmp_path / "ks.json"
    keystore.write_text(json.dumps(Account.encrypt(key, "pw", iterations=2)))
    with pytest.raises(ConfigError, match="^HOT_WALLET_KEYSTORE: holds one of anvil's"):
        load({**remote, "HOT_WALLET_KEYSTORE": str(keystore), "HOT_WALLET_KEYSTORE_PASSWORD": "pw"})
    # On the local chain (an anvil behind RPC_URL, or local mode) they are what they are for.
    local = {**remote, "CHAIN_ID": str(LOCAL_CHAIN_ID), "HOT_WALLET_PRIVATE_KEY": key}
    assert load(local).hot_wallet_key.reveal() == key


def test_rpc_urls_are_a_list_of_one_chain_s_endpoints():
    base = {"CHAIN_ID": "8453", "HOT_WALLET_PRIVATE_KEY": CANARY_KEY}
    settings = load({**base, "RPC_URLS": " https://a.example/rpc , https://b.example/ "})
    assert settings.rpc_urls == ("https://a.example/rpc", "https://b.example")
    assert settings.rpc_url == "https://a.example/rpc" and not settings.local_mode
    assert load({**base, "RPC_URL": "https://a.example"}).effective_rpc_urls == (
        "https://a.example",
    )
    for env, message in [
        ({"RPC_URL": "https://a", "RPC_URLS": "https://b"}, "RPC_URLS: set either RPC_URL"),
        ({"RPC_URLS": "https://a,https://a"}, "RPC_URLS: names an endpoint twice"),
        ({"RPC_URLS": "wss://a,https://b"}, "RPC_URLS: fail-over is between http(s)"),
        ({"RPC_URLS": "https://a,rpc.example"}, "RPC_URLS: not a http or https or ws or wss URL"),
    ]:
        with pytest.raises(ConfigError) as caught:
            load({**base, **env})
        assert str(caught.value).startswith(message)


def test_url_credentials_stay_out_of_reprs_errors_and_logs(caplog: pytest.LogCaptureFixture):
    settings = load(
        {"RPC_URLS": f"{RPC},https://backup.example", "CHAIN_ID": "8453", "DATABASE_URL": DB}
        | {"HOT_WALLET_PRIVATE_KEY": CANARY_KEY}
    )
    assert API_KEY not in repr(settings)
    assert "rpc.example" in repr(settings) and "db.example" in repr(settings)
    web = load_web_settings({"RPC_URL": RPC, "CHAIN_ID": "1", "DATABASE_URL": DB})
    assert API_KEY not in repr(web) and API_KEY in {s.reveal() for s in web.secrets()}
    assert API_KEY in {s.reveal() for s in settings.secrets()}

    for name in ("RPC_URL", "EXPLORER_URL", "RPC_URLS"):
        bad = f"htp://rpc.example/v3/{API_KEY}?key={API_KEY}"
        with pytest.raises(ConfigError) as caught:
            load({name: bad, "CHAIN_ID": "1", "HOT_WALLET_PRIVATE_KEY": CANARY_KEY})
        assert API_KEY not in str(caught.value) and "rpc.example" in str(caught.value)

    # The bare value, wherever it turns up in a record, and the URL by its shape.
    formatter = RedactingFormatter("%(message)s", settings.secrets())
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "%s / %s", (API_KEY, RPC), None)
    assert API_KEY not in formatter.format(record)


def test_an_uncaught_error_leaves_the_command_line_redacted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    import click

    from bot.cli import cli, main

    @click.command("explode")
    def explode() -> None:
        raise RuntimeError(f"400, message='Bad Request', url='{RPC}'")

    monkeypatch.setattr(cli, "commands", {**cli.commands, "explode": explode})
    monkeypatch.setattr("sys.argv", ["mintbot", "explode"])
    with pytest.raises(SystemExit) as ended:
        main()
    stderr = capsys.readouterr().err
    assert ended.value.code == 1
    assert "RuntimeError" in stderr and "rpc.example/v3/[REDACTED]" in stderr
    assert API_KEY not in stderr
