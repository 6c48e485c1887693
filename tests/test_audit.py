"""`python -m bot audit`: every signature, who asked, why, the fee paid and the outcome, as CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from bot.runtime import Runtime
from db.models import utcnow
from tests.support import DEV_MINTER, Inbox, answered, run_cli, submission

pytestmark = pytest.mark.db


async def test_the_audit_lists_each_signature_with_who_why_fee_and_outcome(
    bot: tuple[Runtime, Inbox], bot_env: dict[str, str]
):
    runtime, inbox = bot
    asked = [submission("1"), submission("2", requester_id="u2")]
    for request in asked:
        await runtime.service.submit(request)
    for request in asked:
        assert (await answered(runtime, inbox, request.key)).minted

    result = run_cli("audit", env=bot_env)
    assert result.returncode == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows, result.output
    mined = [r for r in rows if r["outcome"] == "confirmed"]
    assert mined and all(int(r["fee_paid_wei"]) > 0 and int(r["gas_used"]) > 0 for r in mined)
    assert {r["wallet"] for r in rows} == {DEV_MINTER.address}
    everyone = " ".join(r["requesters"] for r in rows)
    assert "test:u1" in everyone and "test:u2" in everyone
    assert all(r["reason"] and r["tx_hash"].startswith("0x") for r in rows)
    keys = " ".join(r["request_keys"] for r in rows)
    assert all(request.key in keys for request in asked)
    assert f"{len(rows)} signature(s)" in result.stderr

    tomorrow = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%d")
    later = run_cli("audit", "--since", tomorrow, env=bot_env)
    assert later.returncode == 0 and list(csv.DictReader(io.StringIO(later.stdout))) == []
    assert "0 signature(s)" in later.stderr
    assert bot_env["HOT_WALLET_PRIVATE_KEY"].removeprefix("0x") not in result.output
