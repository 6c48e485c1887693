"""A test that hangs on an await says which await, in its timeout report."""

import os
import subprocess
import sys
from pathlib import Path

from tests.support import PROJECT_ROOT

HANGING = """
import asyncio


async def wait_for_a_reply_that_never_comes():
    await asyncio.Event().wait()


async def test_hangs():
    await asyncio.gather(wait_for_a_reply_that_never_comes())
"""


def test_a_timeout_prints_where_each_asyncio_task_waits(tmp_path: Path):
    (tmp_path / "test_hanging.py").write_text(HANGING)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.hung_tasks",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=auto",
            "--timeout=2",
            "-c",
            os.devnull,
            "--rootdir",
            str(tmp_path),
            str(tmp_path / "test_hanging.py"),
        ],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "asyncio tasks at the timeout" in out, out
    # The task's chain of awaits, down to the one that never returns.
    assert "wait_for_a_reply_that_never_comes" in out and "await asyncio.Event().wait()" in out
    assert "Timeout (>2.0s) from pytest-timeout" in out
