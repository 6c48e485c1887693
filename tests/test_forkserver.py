"""The fork server the suite starts bot processes from behaves as `python -m bot` would: exit
codes, output streams, the environment it is given, signals."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

import pytest

from tests import forkserver
from tests.support import PROJECT_ROOT, bot_process, poll_until, run_cli


def test_exit_codes_and_streams_are_those_of_the_command():
    helped = run_cli("--help", env={})
    assert helped.returncode == 0
    assert helped.stdout.startswith("Usage: mintbot [OPTIONS] COMMAND") and not helped.stderr
    wrong = run_cli("no-such-command", env={})
    assert wrong.returncode == 2  # click's usage error
    assert "No such command 'no-such-command'" in wrong.stderr and not wrong.stdout


def test_the_child_sees_exactly_the_environment_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # A bad setting is refused by name...
    refused = run_cli("status", env={"DATA_DIR": str(tmp_path), "CHAIN_ID": "not-a-number"})
    assert refused.returncode != 0
    assert "CHAIN_ID" in refused.output
    # ...and one in the server's own environment is not passed on.
    monkeypatch.setenv("CHAIN_ID", "not-a-number")
    server = forkserver.ForkServer()
    try:
        _, out, err = forkserver.run_bot(
            ["status"], {"DATA_DIR": str(tmp_path)}, PROJECT_ROOT, 60, server=server
        )
    finally:
        server.stop()
    assert "CHAIN_ID" not in out + err, out + err


def test_a_command_past_its_timeout_is_killed():
    with pytest.raises(subprocess.TimeoutExpired):
        forkserver.run_bot(["devchain"], {"PATH": "/usr/bin:/bin"}, PROJECT_ROOT, timeout=0.5)


async def test_a_killed_bot_reports_the_signal_without_anyone_waiting(
    bot_env: dict[str, str], tmp_path: Path
):
    log = tmp_path / "bot.log"
    async with bot_process(bot_env, log) as proc:
        await poll_until(lambda: "ready on chain" in log.read_text(), 60, log.read_text)
        proc.kill()
        await poll_until(lambda: proc.returncode is not None, 10, lambda: "still running")
        assert proc.returncode == -signal.SIGKILL
    assert await asyncio.wait_for(proc.wait(), 1) == -signal.SIGKILL
