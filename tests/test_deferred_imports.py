"""The keystore code is loaded when a keystore is used, not when web3 is imported."""

import subprocess
import sys

from tests.support import PROJECT_ROOT


def run_fresh(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_the_chain_stack_starts_without_the_bls_code():
    loaded = run_fresh(
        "import sys\n"
        "import bot.chain.client, web3, eth_account\n"
        "print(sorted(m for m in ('py_ecc', 'eth_keyfile.keyfile') if m in sys.modules))\n"
        "print(type(sys.modules['eth_keyfile.keyfile']).__name__)"
    )
    # The stand-in is in place and py_ecc was never imported.
    assert loaded.splitlines() == ["['eth_keyfile.keyfile']", "_StandIn"]


def test_a_keystore_still_encrypts_and_decrypts_through_eth_account():
    out = run_fresh(
        "import sys\n"
        "import bot, eth_keyfile\n"
        "from eth_account import Account\n"
        "account = Account.create()\n"
        "sealed = Account.encrypt(account.key, 'pw', kdf='pbkdf2', iterations=2)\n"
        "assert Account.decrypt(sealed, 'pw') == account.key\n"
        "from eth_keyfile.keyfile import MAX_V4_PRIVATE_KEY, KDFType\n"
        "assert sys.modules['eth_keyfile.keyfile'] is eth_keyfile.keyfile\n"
        "assert 'py_ecc' in sys.modules and MAX_V4_PRIVATE_KEY > 0\n"
        "print(KDFType)"
    )
    assert out == "typing.Literal['pbkdf2', 'scrypt']"
