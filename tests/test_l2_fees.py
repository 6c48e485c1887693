"""OP-stack chains charge an L1 data fee besides gas: the spending cap counts the
GasPriceOracle's estimate before signing, the recorded cost and the audit count what was paid.

anvil 1.7.1 starts in optimism mode (`--network optimism`) but has no GasPriceOracle predeploy
(no code at 0x420...000F), charges no L1 fee (a sender pays gas x price, no more) and puts no
`l1Fee` in its receipts. So these tests run it in that mode with a contract of the oracle's
interface installed at the predeploy address, computing the fee as OP-stack chains do since
Ecotone; a receipt with `l1Fee` is read from the JSON an OP-stack node returns.
"""

from __future__ import annotations

import csv
import io
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from web3 import AsyncWeb3

from bot.app import open_runtime
from bot.chain.devchain import Anvil
from bot.chain.l1fee import GAS_PRICE_ORACLE, detect_l1_fee
from bot.chain.receipts import parse_receipt
from bot.chain.spend import SpendCapReached, record_cost
from bot.chain.tx_engine import AuditInfo, TxEngine
from bot.config import load_settings
from bot.errors import ConfigError
from bot.runtime import Runtime
from db.models import ChainTx, TxAttempt, TxStatus
from tests.solc import compiled_contract
from tests.support import DEV_ADMIN, FEES, Inbox, answered, run_cli, running, submission
from tests.test_caps import waiting_reason

# The L1 base fee the oracle reads (wei): high, so the L1 fee is a visible part of each cost.
L1_BASE_FEE = 10**13


def ecotone_l1_fee(data: bytes, l1_base_fee: int = L1_BASE_FEE) -> int:
    """The Ecotone formula, written out independently of the oracle contract: calldata gas
    plus a signature's 68 bytes, priced at the scaled L1 base fee and blob base fee."""
    gas = sum(4 if byte == 0 else 16 for byte in data) + 68 * 16
    return gas * (1368 * 16 * l1_base_fee + 810949 * 1) // (16 * 10**6)


def rpc(url: str, method: str, params: list[Any]) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.load(response)
    assert "error" not in answer, answer
    return answer["result"]


@pytest.fixture(scope="module")
def anvil() -> Iterator[Anvil]:
    """anvil in optimism mode, with the oracle's interface at the predeploy address (this
    module's tests, and the conftest fixtures they use, run on it)."""
    oracle = compiled_contract("EcotoneGasPriceOracle")
    with Anvil(network="optimism") as node:
        rpc(node.url, "anvil_setCode", [GAS_PRICE_ORACLE, oracle.deployed_bytecode])
        set_l1_base_fee(node, L1_BASE_FEE)
        yield node


def set_l1_base_fee(node: Anvil, wei: int) -> None:
    """Set the L1 base fee the oracle reads (its storage slot 0)."""
    rpc(node.url, "anvil_setStorageAt", [GAS_PRICE_ORACLE, "0x0", "0x" + wei.to_bytes(32).hex()])


async def test_the_oracle_fixture_computes_the_ecotone_fee(w3: AsyncWeb3):
    """The installed oracle answers getL1Fee as the formula says (zero bytes cost less), and
    the bot finds it: L1_FEE=auto counts the fee here, on requires the oracle."""
    oracle = await detect_l1_fee(w3, "auto")
    assert oracle is not None and await detect_l1_fee(w3, "off") is None
    for data in (b"", b"\x00" * 100, b"\x01" * 100, bytes(range(256))):
        assert await oracle.estimate(data) == ecotone_l1_fee(data) > 0
    code = await w3.eth.get_code(GAS_PRICE_ORACLE)  # type: ignore[arg-type]
    await w3.provider.make_request("anvil_setCode", [GAS_PRICE_ORACLE, "0x"])  # type: ignore[arg-type]
    try:
        assert await detect_l1_fee(w3, "auto") is None
        with pytest.raises(ConfigError, match="L1_FEE"):
            await detect_l1_fee(w3, "on")
    finally:
        await w3.provider.make_request("anvil_setCode", [GAS_PRICE_ORACLE, code.to_0x_hex()])  # type: ignore[arg-type]


@pytest.mark.db
async def test_a_mint_records_gas_plus_its_l1_fee_and_the_audit_counts_it(
    bot: tuple[Runtime, Inbox], bot_env: dict[str, str], anvil: Anvil
):
    runtime, inbox = bot
    assert runtime.txs.l1_fee is not None  # L1_FEE=auto found the oracle
    asked = [submission("1"), submission("2", requester_id="u2")]
    for request in asked:
        await runtime.service.submit(request)
    for request in asked:
        assert (await answered(runtime, inbox, request.key)).minted

    async with runtime.sessions() as session:
        mined = list(await session.scalars(select(ChainTx).where(ChainTx.mined_hash.is_not(None))))
    assert mined
    paid: dict[str, tuple[int, int, int]] = {}  # hash: fee paid, L1 fee, L1 estimate
    for tx in mined:
        assert tx.mined_hash is not None
        raw = rpc(anvil.url, "eth_getTransactionReceipt", [tx.mined_hash])
        gas = int(raw["gasUsed"], 16) * int(raw["effectiveGasPrice"], 16)
        attempt = next(a for a in tx.attempts if a.tx_hash.lower() == tx.mined_hash.lower())
        estimate = ecotone_l1_fee(attempt.raw)
        assert attempt.l1_fee_wei == str(estimate)
        # The receipt's l1Fee where the node reports one; anvil's receipts have none, and
        # then the estimate made when the transaction was signed is the L1 fee counted.
        l1_fee = int(raw["l1Fee"], 16) if "l1Fee" in raw else estimate
        assert l1_fee > 0
        assert tx.l1_fee_wei == str(l1_fee)
        assert tx.fee_paid_wei == str(gas + l1_fee)
        paid[tx.mined_hash.lower()] = (gas + l1_fee, l1_fee, estimate)

    async with runtime.sessions() as session:
        assert await runtime.txs.spent_today(session) == sum(p[0] for p in paid.values())

    result = run_cli("audit", env=bot_env)
    assert result.returncode == 0, result.output
    rows = [r for r in csv.DictReader(io.StringIO(result.stdout)) if r["outcome"] == "confirmed"]
    assert {r["tx_hash"].lower() for r in rows} == set(paid)
    for row in rows:
        fee, l1_fee, estimate = paid[row["tx_hash"].lower()]
        assert (int(row["fee_paid_wei"]), int(row["l1_fee_wei"])) == (fee, l1_fee)
        assert int(row["l1_fee_estimate_wei"]) == estimate
    total_fee, total_l1 = (sum(p[i] for p in paid.values()) for i in (0, 1))
    assert f"fees paid: {total_fee} wei, L1 data fee {total_l1} wei of it" in result.stderr


async def _sign(engine: TxEngine, runtime: Runtime, data: bytes, gas_limit: int) -> ChainTx:
    async with runtime.sessions.begin() as session:
        return await engine.create(
            session,
            kind="test",
            to=DEV_ADMIN.address,
            data=data,
            gas_limit=gas_limit,
            fees=FEES,
            audit=AuditInfo("test", [], []),
        )


async def _signed_count(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(TxAttempt)) or 0)


@pytest.mark.db
async def test_the_spend_cap_refuses_what_the_l1_fee_pushes_over(bot_env: dict[str, str]):
    """Gas alone would fit under the cap; with the oracle's L1 fee estimate it would not, so
    nothing is signed. Counted in full, the same transaction is signed, and today's spend
    holds its gas at the max fee plus its L1 estimate. With L1_FEE=off, gas alone fits."""
    data, gas_limit = b"\x01" * 600, 100_000
    gas_worst = gas_limit * FEES.max_fee_per_gas
    async with open_runtime(load_settings(bot_env), start=False) as runtime:
        engine = runtime.txs
        await engine.reconcile()
        async with runtime.sessions() as session:
            spent = await engine.spent_today(session)
        engine.max_spend_per_day = spent + gas_worst + 1  # gas alone fits, with a wei to spare
        with pytest.raises(SpendCapReached):
            await _sign(engine, runtime, data, gas_limit)
        assert await _signed_count(runtime) == 0

        engine.max_spend_per_day = None
        tx = await _sign(engine, runtime, data, gas_limit)
        assert tx.status == TxStatus.SIGNED
        async with runtime.sessions() as session:
            attempt = (await session.scalars(select(TxAttempt))).one()
            estimate = ecotone_l1_fee(attempt.raw)
            assert attempt.l1_fee_wei == str(estimate) and estimate > 1
            assert await engine.spent_today(session) == spent + gas_worst + estimate

    async with open_runtime(load_settings({**bot_env, "L1_FEE": "off"}), start=False) as runtime:
        engine = runtime.txs
        assert engine.l1_fee is None
        await engine.reconcile()
        async with runtime.sessions() as session:
            spent = await engine.spent_today(session)
        engine.max_spend_per_day = spent + gas_worst + 1
        assert (await _sign(engine, runtime, data, gas_limit)).status == TxStatus.SIGNED


@pytest.mark.db
async def test_a_batch_waits_while_its_l1_fee_would_pass_the_cap(
    bot_env: dict[str, str], anvil: Anvil
):
    """L1 fees soar (the oracle's L1 base fee): a batch whose gas fits the day's cap but whose
    L1 fee does not waits with the cap's reason, unanswered; when L1 fees fall, it mints."""
    capped = load_settings({**bot_env, "MAX_SPEND_PER_DAY_ETH": "1"})
    sub = submission("80")
    set_l1_base_fee(anvil, 10**20)  # about 50 ETH of L1 fee for a batch of one
    try:
        async with running(capped) as (runtime, inbox):
            await runtime.service.submit(sub)
            reason = await waiting_reason(runtime)
            assert "spending cap (MAX_SPEND_PER_DAY_ETH) is reached" in reason
            assert not inbox.answers
            set_l1_base_fee(anvil, L1_BASE_FEE)
            result = await answered(runtime, inbox, sub.key)
    finally:
        set_l1_base_fee(anvil, L1_BASE_FEE)
    assert result.minted


def _op_receipt(tx_hash: str) -> dict[str, Any]:
    """A receipt as an OP-stack node returns it since Ecotone: the usual fields, and the L1
    data fee with what it was computed from: l1GasUsed x (16 x l1BaseFeeScalar x l1GasPrice
    + l1BlobBaseFeeScalar x l1BlobBaseFee) / 16e6."""
    return {
        "transactionHash": tx_hash,
        "blockNumber": "0x7b",
        "blockHash": "0x" + "ab" * 32,
        "status": "0x1",
        "gasUsed": "0x186a0",
        "effectiveGasPrice": "0xf4240",
        "logs": [],
        "l1GasUsed": "0x640",
        "l1GasPrice": "0x3b9aca00",
        "l1BaseFeeScalar": "0x558",
        "l1BlobBaseFee": "0x1",
        "l1BlobBaseFeeScalar": "0xc5fc5",
        "l1Fee": "0x82767051",
    }


def test_the_receipts_l1_fee_is_the_l1_fee_paid():
    """Where the receipt reports `l1Fee`, that is the L1 fee recorded, not the estimate."""
    tx_hash = "0x" + "cd" * 32
    receipt = parse_receipt(_op_receipt(tx_hash))
    assert receipt.l1_fee == 0x82767051
    assert receipt.gas_fee_wei == 100_000 * 1_000_000
    tx = ChainTx(gas_limit=150_000)
    tx.attempts = [TxAttempt(tx_hash=tx_hash, l1_fee_wei="1")]
    record_cost(tx, receipt, l1_charged=True)
    assert tx.fee_paid_wei == str(100_000 * 1_000_000 + 0x82767051)
    assert tx.l1_fee_wei == str(0x82767051)
    # A chain with no L1 fee, and a receipt without one: gas alone.
    plain = parse_receipt({k: v for k, v in _op_receipt(tx_hash).items() if k != "l1Fee"})
    tx = ChainTx(gas_limit=150_000)
    tx.attempts = [TxAttempt(tx_hash=tx_hash)]
    record_cost(tx, plain, l1_charged=False)
    assert (tx.fee_paid_wei, tx.l1_fee_wei) == (str(100_000 * 1_000_000), None)
