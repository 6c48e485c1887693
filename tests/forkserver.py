"""`python -m bot ARGS` for the suite, forked from a Python that has imported the bot already.

The suite starts a few hundred bot processes (end-to-end tests, crash tests, the command
line), and a fresh interpreter spends about two CPU-seconds importing the bot before it does
anything: on a 2-core machine, most of the suite's time. So each test process keeps one server
(`python -m tests.forkserver SOCKET`) that imports every module of `bot/` and `cogs/` once, then
forks a child for each start. The child runs `bot/__main__.py` as `python -m bot` does, with
exactly the arguments, environment, working directory and standard streams it is given. It is
a process of its own: it takes signals, dies by SIGKILL, exits with its code.

What a child cannot tell apart from a fresh interpreter is what is imported: tests about that
(tests/test_deferred_imports.py, tests/test_cli.py) start a fresh one themselves.

One Unix-socket connection per child: the client sends one JSON line {"args", "env", "cwd",
"own_session"} with three file descriptors (stdin, stdout, stderr); the server answers
{"pid": N} once forked and {"exit": CODE} when the child has ended (CODE as `subprocess`
reports it: minus the signal that ended it), then closes the connection.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib
import json
import os
import pkgutil
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
READY = b"ready\n"
START_TIMEOUT_S = 120.0  # importing everything on a loaded machine
MAX_REQUEST = 1 << 20


# ----- the server --------------------------------------------------------------------------


def _import_the_bot() -> None:
    import bot
    import cogs

    for package in (bot, cogs):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)
    # A fork copies only the thread that forks: a thread started by an import would be
    # missing, holding whatever lock it held, in every child.
    assert threading.active_count() == 1, threading.enumerate()


def serve(path: str) -> None:
    """Fork a child for each request on the socket at `path`, until stdin ends (the test
    process that started this one is gone)."""
    _import_the_bot()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "request")
    selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "parent")
    children: dict[int, tuple[int, socket.socket]] = {}  # pidfd: (pid, its client)
    sys.stdout.buffer.write(READY)
    sys.stdout.flush()
    while True:
        for key, _ in selector.select():
            if key.data == "parent":
                if not os.read(key.fd, 4096):
                    return
            elif key.data == "request":
                client, _ = listener.accept()
                try:
                    request, fds = _receive(client)
                except (OSError, ValueError) as err:
                    print(f"forkserver: bad request: {err}", file=sys.stderr)
                    client.close()
                    continue
                pid = os.fork()
                if pid == 0:
                    listener.close()
                    selector.close()
                    _child(request, fds)  # never returns
                for fd in fds:
                    os.close(fd)
                pidfd = os.pidfd_open(pid)
                children[pidfd] = (pid, client)
                selector.register(pidfd, selectors.EVENT_READ, "child")
                with contextlib.suppress(OSError):  # a client gone does not stop the server
                    _send(client, {"pid": pid})
            else:  # a child ended
                pid, client = children.pop(key.fd)
                selector.unregister(key.fd)
                os.close(key.fd)
                _, status = os.waitpid(pid, 0)
                with contextlib.suppress(OSError):  # the client may have gone
                    _send(client, {"exit": os.waitstatus_to_exitcode(status)})
                client.close()


def _receive(client: socket.socket) -> tuple[dict[str, Any], list[int]]:
    data, fds, _, _ = socket.recv_fds(client, MAX_REQUEST, 3)
    try:
        while not data.endswith(b"\n"):
            more = client.recv(MAX_REQUEST)
            if not more:
                raise ValueError("the request ended early")
            data += more
        if len(fds) != 3:
            raise ValueError(f"expected 3 file descriptors, got {len(fds)}")
        return json.loads(data), fds
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise


def _send(client: socket.socket, message: dict[str, Any]) -> None:
    client.sendall(json.dumps(message).encode() + b"\n")


def _child(request: dict[str, Any], fds: list[int]) -> None:
    """Become `python -m bot ARGS`, then exit as its interpreter would."""
    code: Any = 1
    try:
        if request.get("own_session"):
            # Without a controlling terminal a hidden prompt (getpass) reads its standard input,
            # as it does in a pipeline, rather than the terminal pytest was started from.
            os.setsid()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.argv = ["-m", *request["args"]]
        import runpy

        runpy.run_module("bot", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    except BaseException:
        traceback.print_exc()
    finally:
        # What the interpreter does at exit: wait for non-daemon threads, run the exit
        # handlers, flush the streams.
        with contextlib.suppress(BaseException):
            threading._shutdown()  # type: ignore[attr-defined]
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
        if code is None:
            code = 0
        elif not isinstance(code, int):
            with contextlib.suppress(BaseException):
                print(code, file=sys.stderr)
            code = 1
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(code)


# ----- the client --------------------------------------------------------------------------


class ForkServer:
    """This test process's server, started at its first use and ended with the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: subprocess.Popen[bytes] | None = None
        self._path = ""

    def _socket_path(self) -> str:
        with self._lock:
            if self._server is None or self._server.poll() is not None:
                self._path = str(Path(tempfile.mkdtemp(prefix="forkserver-")) / "socket")
                server = subprocess.Popen(
                    [sys.executable, "-m", "tests.forkserver", self._path],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    cwd=PROJECT_ROOT,
                )
                assert server.stdout is not None
                ready = server.stdout.readline()  # the server's imports; it prints nothing else
                if ready != READY:
                    server.kill()
                    raise RuntimeError(f"the fork server did not start: {ready!r}")
                self._server = server
                atexit.register(self.stop)
            return self._path

    def stop(self) -> None:
        if self._server is not None and self._server.stdin is not None:
            self._server.stdin.close()  # its end of stdin: it exits
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._server.wait(10)
            shutil.rmtree(Path(self._path).parent, ignore_errors=True)

    def start(
        self,
        args: list[str],
        env: dict[str, str],
        cwd: Path,
        streams: tuple[int, int, int],
        own_session: bool = False,
    ) -> tuple[int, _Reply]:
        """Fork `python -m bot ARGS`; its pid, and the connection that will tell its exit.
        `own_session`: the child starts a session of its own, without a terminal."""
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.settimeout(START_TIMEOUT_S)
            connection.connect(self._socket_path())
            request = {"args": args, "env": env, "cwd": str(cwd), "own_session": own_session}
            socket.send_fds(connection, [json.dumps(request).encode() + b"\n"], list(streams))
            reply = _Reply(connection)
            pid = int(reply.read_sync()["pid"])
        except BaseException:
            connection.close()
            raise
        return pid, reply


class _Reply:
    """The server's lines about one child, read blocking or from an event loop."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection
        self._buffer = b""

    def _line(self) -> dict[str, Any] | None:
        line, found, rest = self._buffer.partition(b"\n")
        if not found:
            return None
        self._buffer = rest
        return json.loads(line)  # type: ignore[no-any-return]

    def read_sync(self, timeout: float | None = START_TIMEOUT_S) -> dict[str, Any]:
        self.connection.settimeout(timeout)
        while (line := self._line()) is None:
            data = self.connection.recv(4096)
            if not data:
                raise ConnectionError("the fork server went away")
            self._buffer += data
        return line

    async def read(self) -> dict[str, Any]:
        self.connection.setblocking(False)
        loop = asyncio.get_running_loop()
        while (line := self._line()) is None:
            data = await loop.sock_recv(self.connection, 4096)
            if not data:
                raise ConnectionError("the fork server went away")
            self._buffer += data
        return line

    def close(self) -> None:
        self.connection.close()


SERVER = ForkServer()


class ForkedProcess:
    """A forked `python -m bot`, with the part of `asyncio.subprocess.Process` the tests use.
    `returncode` is set as soon as the child has ended, whether or not anyone waits."""

    def __init__(self, pid: int, reply: _Reply) -> None:
        self.pid = pid
        self.returncode: int | None = None
        # Signals through a pidfd reach this child even if its pid is reused; None: it has
        # ended already.
        self._pidfd: int | None = None
        with contextlib.suppress(ProcessLookupError):
            self._pidfd = os.pidfd_open(pid)
        self._ended = asyncio.create_task(self._watch(reply), name=f"forked-{pid}")

    async def _watch(self, reply: _Reply) -> int:
        try:
            self.returncode = int((await reply.read())["exit"])
        finally:
            reply.close()
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None
        return self.returncode

    async def wait(self) -> int:
        return await asyncio.shield(self._ended)

    def send_signal(self, number: int) -> None:
        if self.returncode is None and self._pidfd is not None:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, number)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


async def start_bot(args: list[str], env: dict[str, str], cwd: Path, stdout: int) -> ForkedProcess:
    """`python -m bot ARGS` as a child of the fork server; stdin empty, stdout and stderr to
    the file descriptor `stdout`."""

    def start() -> tuple[int, _Reply]:
        with open(os.devnull, "rb") as nothing:
            return SERVER.start(args, env, cwd, (nothing.fileno(), stdout, stdout))

    return ForkedProcess(*await asyncio.to_thread(start))


def run_bot(
    args: list[str],
    env: dict[str, str],
    cwd: Path,
    timeout: float,
    server: ForkServer = SERVER,
    stdin: str | None = None,
) -> tuple[int, str, str]:
    """`python -m bot ARGS` to its end: its exit code, stdout and stderr (as text). Raises
    `subprocess.TimeoutExpired` (having killed it) after `timeout` seconds. `stdin`: what is
    typed at its prompts (the child then has no terminal); else its input is empty."""
    with (
        tempfile.TemporaryFile() as typed,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        typed.write((stdin or "").encode())
        typed.seek(0)
        streams = (typed.fileno(), out.fileno(), err.fileno())
        pid, reply = server.start(args, env, cwd, streams, own_session=stdin is not None)
        try:
            code = int(reply.read_sync(timeout)["exit"])
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            reply.read_sync()
            raise subprocess.TimeoutExpired(["python", "-m", "bot", *args], timeout) from None
        finally:
            reply.close()
        out.seek(0)
        err.seek(0)
        return code, out.read().decode(), err.read().decode()


if __name__ == "__main__":
    serve(sys.argv[1])
