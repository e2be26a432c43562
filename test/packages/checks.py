"""checks.py: the little the package tests share: counting checks and
printing the "N passed, N failed" line test/run.sh adds up.

    from checks import Checks
    c = Checks("python package")
    c.eq("dims", got, 100)
    c.ok("file exists", os.path.exists(p))
    sys.exit(c.done())

and start_server()/stop() for the tests that run the HTTP server.
"""
from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
from typing import Any, List, Tuple


class Checks:
    def __init__(self, name: str) -> None:
        self.name = name
        self.passed = 0
        self.failed = 0

    def ok(self, what: str, cond: bool, detail: str = "") -> bool:
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL: {self.name}: {what}" + (f": {detail}" if detail else ""))
            sys.stdout.flush()
        return cond

    def eq(self, what: str, got: Any, want: Any) -> bool:
        return self.ok(what, got == want, f"got {got!r}, want {want!r}")

    def raises(self, what: str, exc: type, fn: Any, *args: Any,
               match: str = "") -> None:
        """fn(*args) raises exc, whose text contains match."""
        try:
            fn(*args)
        except exc as e:
            self.ok(what, match in str(e), f"message {str(e)!r} lacks {match!r}")
        except Exception as e:  # noqa: BLE001 - any other is the failure
            self.ok(what, False, f"raised {type(e).__name__}: {e}")
        else:
            self.ok(what, False, f"no {exc.__name__} raised")

    def done(self) -> int:
        print(f"{self.passed} passed, {self.failed} failed ({self.name})")
        return 1 if self.failed else 0


def start_server(python: str, args: List[str], log: str) -> Tuple[subprocess.Popen, int]:
    """Start `python -m sqlite_embed serve --port 0 ARGS` with its stderr in
    the file log; wait for its "serving on http://HOST:PORT/" line (30 s at
    most) and return (process, port).  The caller stops it with stop()."""
    err = open(log, "wb")
    proc = subprocess.Popen([python, "-m", "sqlite_embed", "serve", "--port", "0"] + args,
                            stdout=subprocess.PIPE, stderr=err)
    err.close()
    ready: List[bytes] = []
    reader = threading.Thread(target=lambda: ready.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(30)
    line = ready[0].decode() if ready else ""
    m = re.search(r"serving on http://[^:]+:(\d+)/", line)
    if not m:
        stop(proc)
        with open(log, encoding="utf-8", errors="replace") as f:
            raise RuntimeError(f"the server did not start: {line!r} {f.read()[-2000:]}")
    return proc, int(m.group(1))


def stop(proc: subprocess.Popen) -> None:
    """Stop a child process: SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout:
        proc.stdout.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
