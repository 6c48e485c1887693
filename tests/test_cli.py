"""The command line as a user runs it: real subprocesses against a real anvil."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eth_account import Account
from web3 import AsyncWeb3

from bot.chain.contract import MINTER_ROLE, Collection
from bot.chain.devchain import Anvil, free_port, rpc_chain_id
from bot.chain.wallet import HotWallet
from bot.env_values import Secret
from bot.hot_wallet_keys import ANVIL_DEV_KEYS
from tests.support import CANARY, CANARY_KEY, DEV_ADMIN, FEES, PROJECT_ROOT, run_cli

GOOD_DOCTOR = [
    "settings",
    "rpc",
    "chain id",
    "hot wallet balance",
    "contract",
    "minter role",
    "admin role",
    "factory",
    "pinning",  # none configured: content stays local, said plainly
]


def doctor_lines(output: str) -> dict[str, bool]:
    marks = {}
    for line in output.splitlines():
        if line[:2] in ("✓ ", "✗ "):
            marks[line[2:].split(":")[0]] = line.startswith("✓")
    return marks


def printed(output: str, setting: str) -> str:
    """The value of a `SETTING=value` line the command printed."""
    (value,) = [line.split("=", 1)[1] for line in output.splitlines() if line.startswith(setting)]
    return value


def assert_one_clear_line(result, expected: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {expected}"), result.output


def test_deploy_through_the_cli_then_doctor_passes(cli_env: dict[str, str]):
    deployed = run_cli("deploy", env=cli_env)
    assert deployed.returncode == 0, deployed.output
    address = printed(deployed.stdout, "CONTRACT_ADDRESS")
    record = json.loads((Path(cli_env["DATA_DIR"]) / "deployments" / "31337.json").read_text())
    assert record["address"] == address
    assert record["factory"] == printed(deployed.stdout, "FACTORY_ADDRESS")

    doctor = run_cli("doctor", env=cli_env)  # finds the recorded deployment
    assert doctor.returncode == 0, doctor.output
    assert doctor_lines(doctor.stdout) == dict.fromkeys(GOOD_DOCTOR, True)
    assert f"    endpoint {cli_env['RPC_URL']}: reachable, chain 31337, block " in doctor.stdout

    doctor = run_cli(
        "doctor", env={**cli_env, "CONTRACT_ADDRESS": address, "DATA_DIR": "/nonexistent"}
    )
    assert doctor.returncode == 0, doctor.output


async def test_a_pool_deploys_with_each_key_a_minter_and_doctor_checks_each(
    cli_env: dict[str, str], tmp_path: Path, w3: AsyncWeb3
):
    keys = (ANVIL_DEV_KEYS[0], ANVIL_DEV_KEYS[4])
    env = {k: v for k, v in cli_env.items() if k != "HOT_WALLET_PRIVATE_KEY"}
    env["HOT_WALLET_KEYS"] = ",".join(keys)
    deployed = run_cli("deploy", env=env)  # the local chain's admin grants the other key
    assert deployed.returncode == 0, deployed.output
    doctor = run_cli("doctor", env=env)
    assert doctor.returncode == 0, doctor.output
    for key in keys:
        address = Account.from_key(key).address
        assert f"✓ minter role: {address} holds MINTER_ROLE" in doctor.stdout
        assert f" at {address}" in doctor.stdout  # its own balance line
    admin_key = tmp_path / "admin.key"
    admin_key.write_text("0x" + DEV_ADMIN.key.hex().removeprefix("0x"))
    again = run_cli("wallet", "grant-pool", "--admin-key-file", str(admin_key), env=env)
    assert again.returncode == 0, again.output
    assert "0 grant(s) made." in again.stdout and "holds MINTER_ROLE" in again.stdout
    # A rotation of the first key grants the pool's other keys where they lack the role.
    second = Account.from_key(keys[1]).address
    collection = Collection(w3, printed(deployed.stdout, "CONTRACT_ADDRESS"))
    admin = HotWallet(Secret(ANVIL_DEV_KEYS[1]))
    await collection.transact(admin, "revokeRole", MINTER_ROLE, second, fees=FEES)
    new_address = Account.from_key(ANVIL_DEV_KEYS[5]).address
    rotate = ("wallet", "rotate", "--to", new_address, "--admin-key-file", str(admin_key))
    rotated = run_cli(*rotate, env=env)
    assert rotated.returncode == 0, rotated.output
    assert f"pool: granted MINTER_ROLE on {collection.address} to {second}" in rotated.stdout
    assert await collection.is_minter(second) and await collection.is_minter(new_address)
    assert keys[1][2:] not in again.output + doctor.output + deployed.output + rotated.output


async def test_deploy_with_the_admin_key_grants_the_pool_at_once(
    cli_env: dict[str, str], tmp_path: Path, w3: AsyncWeb3
):
    """Off the local chain the admin is the operator's key, not one the bot holds: given to
    `deploy`, it grants the pool's other keys their role with the deployment."""
    keys, admin = (ANVIL_DEV_KEYS[0], ANVIL_DEV_KEYS[4]), Account.from_key(ANVIL_DEV_KEYS[6])
    env = {k: v for k, v in cli_env.items() if k != "HOT_WALLET_PRIVATE_KEY"}
    env["HOT_WALLET_KEYS"] = ",".join(keys)
    key_file = tmp_path / "admin.key"
    key_file.write_text(ANVIL_DEV_KEYS[7])  # another account's key: refused before deploying
    deploy = ("deploy", "--admin", admin.address, "--admin-key-file", str(key_file))
    refused = run_cli(*deploy, env=env)
    assert refused.returncode != 0 and "CONTRACT_ADDRESS=" not in refused.stdout
    assert f"not the contract admin {admin.address}'s: nothing was deployed" in refused.output
    key_file.write_text(ANVIL_DEV_KEYS[6])
    deployed = run_cli(*deploy, env=env)
    assert deployed.returncode == 0, deployed.output
    collection = Collection(w3, printed(deployed.stdout, "CONTRACT_ADDRESS"))
    for key in keys:
        assert await collection.is_minter(Account.from_key(key).address)
    assert ANVIL_DEV_KEYS[6][2:] not in deployed.output + refused.output


def test_deploy_refuses_the_hot_wallet_as_admin(cli_env: dict[str, str]):
    hot = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    result = run_cli("deploy", "--admin", hot, env=cli_env)
    assert_one_clear_line(result, "ADMIN_ADDRESS: the contract admin must not be the hot wallet")


def test_doctor_on_a_broken_configuration(cli_env: dict[str, str], anvil: Anvil):
    # A contract address without code.
    result = run_cli("doctor", env={**cli_env, "CONTRACT_ADDRESS": DEV_ADMIN.address})
    assert result.returncode == 1
    assert doctor_lines(result.stdout)["contract"] is False
    assert "hint: check CONTRACT_ADDRESS" in result.stdout

    # A hot wallet with no funds and no role on a collection whose admin it is.
    deployed = run_cli("deploy", env=cli_env)
    address = printed(deployed.stdout, "CONTRACT_ADDRESS")
    # The admin (dev key 1) as the hot wallet: it holds the admin role and not the minter role.
    admin_env = {
        **cli_env,
        "HOT_WALLET_PRIVATE_KEY": "0x" + DEV_ADMIN.key.hex().removeprefix("0x"),
        "CONTRACT_ADDRESS": address,
    }
    result = run_cli("doctor", env=admin_env)
    marks = doctor_lines(result.stdout)
    assert result.returncode == 1
    assert marks["minter role"] is False and marks["admin role"] is False
    assert f"grantRole(MINTER_ROLE, {DEV_ADMIN.address})" in result.stdout

    empty = run_cli(
        "doctor", env={**cli_env, "HOT_WALLET_PRIVATE_KEY": CANARY_KEY, "CONTRACT_ADDRESS": address}
    )
    assert doctor_lines(empty.stdout)["hot wallet balance"] is False
    assert f"send some of the chain's native currency to {CANARY.address}" in empty.stdout

    # The wrong chain, and no chain at all.
    wrong = run_cli(
        "doctor", env={**cli_env, "CHAIN_ID": "8453", "HOT_WALLET_PRIVATE_KEY": CANARY_KEY}
    )
    assert doctor_lines(wrong.stdout)["chain id"] is False
    assert "is chain 31337, but CHAIN_ID is 8453" in wrong.stdout
    down = run_cli("doctor", env={**cli_env, "RPC_URL": f"http://127.0.0.1:{free_port()}"})
    assert doctor_lines(down.stdout)["rpc"] is False
    assert down.returncode == 1

    # A setting that does not parse.
    bad = run_cli("doctor", env={**cli_env, "ROYALTY_BPS": "lots"})
    assert bad.stdout.startswith("✗ settings: ROYALTY_BPS: not a whole number")
    assert bad.returncode == 1 and "Traceback" not in bad.output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"HOT_WALLET_PRIVATE_KEY": "0xnot-a-key"},
            "HOT_WALLET_PRIVATE_KEY: not a 32-byte hex key",
        ),
        ({"RPC_URL": "http://127.0.0.1:9"}, "RPC_URL: no answer from http://127.0.0.1:9"),
        (
            {"CHAIN_ID": "1", "HOT_WALLET_PRIVATE_KEY": CANARY_KEY},
            "CHAIN_ID: the RPC at http://127.0.0.1",
        ),
        ({"CHAIN_ID": ""}, "CHAIN_ID: required with RPC_URL"),
        ({"CHAIN_ID": "8453"}, "HOT_WALLET_PRIVATE_KEY: holds one of anvil's published"),
    ],
)
def test_bad_input_stops_with_one_line_and_writes_nothing(
    cli_env: dict[str, str], change: dict[str, str], message: str
):
    for command in ("deploy", "run"):
        result = run_cli(command, env={**cli_env, **change})
        assert_one_clear_line(result, message)
        assert not Path(cli_env["DATA_DIR"]).exists()
    expected_code = 2 if message.startswith(("HOT_WALLET", "CHAIN_ID: required")) else 1
    assert result.returncode == expected_code


def test_run_refuses_a_contract_address_without_code(cli_env: dict[str, str]):
    result = run_cli("run", env={**cli_env, "CONTRACT_ADDRESS": DEV_ADMIN.address})
    assert_one_clear_line(
        result, f"CONTRACT_ADDRESS: no contract code at {DEV_ADMIN.address} on chain 31337"
    )
    assert not Path(cli_env["DATA_DIR"]).exists()


def test_an_unknown_chain_kind_stops_with_one_line(cli_env: dict[str, str]):
    for command in ("deploy", "run"):
        result = run_cli(command, env={**cli_env, "CHAIN_KIND": "solana"})
        assert_one_clear_line(result, "CHAIN_KIND: no chain kind named 'solana'; one of evm")
        assert result.returncode == 2
    assert not Path(cli_env["DATA_DIR"]).exists()


def test_a_wrong_setting_exits_2_without_traceback(tmp_path: Path):
    result = run_cli("run", env={"DATA_DIR": str(tmp_path / "d"), "LOG_LEVEL": "loud"})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'"
    )


def start_bot(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env={"PATH": os.environ["PATH"], "ENV_FILE": "/nonexistent/.env", **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=PROJECT_ROOT,
    )


def wait_for(log: Path, text: str, process: subprocess.Popen[bytes], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text()
        if text in content:
            return content
        assert process.poll() is None, content
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not seen in:\n{log.read_text()}")


def test_local_mode_starts_anvil_deploys_once_and_reuses_it(tmp_path: Path):
    port = free_port()
    env = {
        "DATA_DIR": str(tmp_path / "data"),
        "ANVIL_PORT": str(port),
        "LOG_LEVEL": "INFO",
        "HTTP_PORT": "0",
    }
    log = tmp_path / "bot.log"

    first = start_bot(env, log)
    content = wait_for(log, "ready on chain 31337", first)
    assert "LOCAL MODE: the hot wallet is anvil's PUBLISHED development key" in content
    assert "deployed the collection" in content
    address = content.split("ready on chain 31337: collection ")[1].split(",")[0]
    first.send_signal(signal.SIGINT)
    assert first.wait(30) == 0
    assert rpc_chain_id(f"http://127.0.0.1:{port}") is None, "anvil outlived the bot"

    log.write_text("")
    second = start_bot(env, log)
    content = wait_for(log, "ready on chain 31337", second)
    assert "deployed the collection" not in content
    assert f"collection {address}," in content
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0
    assert rpc_chain_id(f"http://127.0.0.1:{port}") is None


def test_devchain_serves_until_stopped_and_run_reuses_it(tmp_path: Path):
    port = free_port()
    env = {"DATA_DIR": str(tmp_path / "data"), "ANVIL_PORT": str(port)}
    log = tmp_path / "devchain.log"
    devchain = subprocess.Popen(
        [sys.executable, "-m", "bot", "devchain"],
        env={"PATH": os.environ["PATH"], "ENV_FILE": "/nonexistent/.env", **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=PROJECT_ROOT,
    )
    try:
        wait_for(log, f"on http://127.0.0.1:{port}", devchain)
        doctor = run_cli("doctor", env=env)  # uses the running devchain
        assert doctor_lines(doctor.stdout)["rpc"] is True
    finally:
        devchain.send_signal(signal.SIGINT)
        assert devchain.wait(30) == 0
    assert rpc_chain_id(f"http://127.0.0.1:{port}") is None


def test_canary_key_never_appears_anywhere(cli_env: dict[str, str], anvil: Anvil, tmp_path: Path):
    import urllib.request

    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "anvil_setBalance",
        "params": [CANARY.address, hex(10**20)],
    }
    urllib.request.urlopen(
        urllib.request.Request(
            anvil.url, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
    )
    env = {**cli_env, "HOT_WALLET_PRIVATE_KEY": CANARY_KEY, "LOG_LEVEL": "DEBUG"}
    outputs = [
        run_cli("deploy", env=env),
        run_cli("doctor", env=env),
        run_cli("doctor", env={**env, "CHAIN_ID": "5"}),
        run_cli("deploy", "--admin", CANARY.address, env=env),
    ]
    bare = CANARY_KEY.removeprefix("0x")
    assert outputs[0].returncode == 0 and outputs[1].returncode == 0
    for result in outputs:
        assert bare not in result.output.lower()
    for path in Path(cli_env["DATA_DIR"]).rglob("*"):
        if path.is_file():
            assert bare.encode() not in path.read_bytes().lower()


# Runs the command line's own entry point in a fresh interpreter, then names the libraries
# it loaded (of those that make a start slow: the chain stack and the chat libraries).
LOADED_BY = """
import sys
from bot.cli import main
try:
    main()
except SystemExit as end:
    code = end.code
else:
    code = 0
heavy = ("web3", "eth_account", "py_ecc", "discord", "telegram")
print(sorted({m.split(".")[0] for m in sys.modules} & set(heavy)))
sys.exit(code)
"""


@pytest.mark.parametrize("command", [["--help"], ["status"], ["status", "k1"], ["audit"]])
def test_reading_commands_load_no_chain_or_chat_library(tmp_path: Path, command: list[str]):
    # Local mode, no node running: these commands read the records alone.
    proc = subprocess.run(
        [sys.executable, "-c", LOADED_BY, *command],
        env={
            "PATH": os.environ["PATH"],
            "ENV_FILE": "/nonexistent/.env",
            "DATA_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
        check=False,
    )
    loaded = proc.stdout.strip().splitlines()[-1]
    assert loaded == "[]", proc.stdout + proc.stderr
    if command == ["status", "k1"]:
        assert proc.returncode == 1 and "no request cli:cli:k1" in proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr
