"""cluster.py: dqlite-demo nodes and the dqlite shell, for the tests in test/scale.

    import cluster
    with cluster.Scope(240, "build/scale") as scope:   # everything stops at exit
        nodes = scope.cluster(3, preload="build/embed_auto.so",
                              env={"SQLITE_EMBED_MODEL": model})
        sh = cluster.Shell(nodes, "embed")
        sh.run(["CREATE VIRTUAL TABLE docs USING embed_index()"])
        rows = sh.query("SELECT rowid, distance FROM docs WHERE docs MATCH 'x' AND k = 3")

Standard library only; run with /usr/bin/python3 (whose sqlite3 module loads
extensions, for the references the tests compute beside the cluster).

HOW IT WORKS
A node is a dqlite-demo process (go-dqlite's demo application: a dqlite node
plus a small HTTP API we do not use) on a loopback address, 127.0.0.N where
the kernel lets us bind it, else 127.0.0.1, with ports the kernel picked as
free (bound to port 0, read back, released just before the node starts).
Each runs in a session (process group) of its own, with the extension
preloaded (LD_PRELOAD, build/embed_auto.so) and the parent-death signal set
to SIGKILL, so a node never outlives the test, even one killed by timeout(1).
Scope stops every node it started when it exits, normally or not: SIGTERM,
then SIGKILL after 3 s, and removes its scratch directory (under `parent`,
say build/scale, so that even a test killed outright leaves nothing outside
the build folder); an alarm raises Timeout after `timeout` seconds, so a
hung step fails the test rather than hanging it.

The dqlite shell (`dqlite -s ADDRS DB "SQL; SQL"`) finds the leader itself
and runs each statement in a transaction of its own (2 s timeout each); it
splits its argument at every ';', so sql_text() spells a ';' inside a
string literal as char(59).  It prints rows as fields joined by '|' (Go's
%v: integers in decimal, reals in the shortest form that reads back to the
same double).  Shell.query() separates the results of several SELECTs with
marker rows.  Shell.session() keeps one shell (one client connection to the
leader) open and feeds it statements on stdin, for tests that need a
connection that lives across other clients' commits.
"""
import ctypes
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

DEMO = shutil.which("dqlite-demo")
ARG_MAX = 100000       # bytes of SQL per shell argument; Linux allows 128 KiB
SHELL = shutil.which("dqlite")


class Timeout(Exception):
    pass


def available():
    """None when dqlite-demo and the dqlite shell are both on PATH, else
    why not (for the skip message)."""
    missing = [n for n, p in (("dqlite-demo", DEMO), ("dqlite", SHELL)) if not p]
    if missing:
        return ("%s not found (Debian package go-dqlite)" % " and ".join(missing))
    return None


def sql_text(s):
    """s as an SQL string literal the dqlite shell passes through intact."""
    return "'" + s.replace("'", "''").replace(";", "' || char(59) || '") + "'"


def _set_pdeathsig():
    # PR_SET_PDEATHSIG = 1: the kernel sends SIGKILL when the parent dies.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _hosts(n):
    """n loopback addresses: 127.0.0.1..n where they can be bound."""
    hosts = []
    for i in range(1, n + 1):
        h = "127.0.0.%d" % i
        try:
            with socket.socket() as s:
                s.bind((h, 0))
        except OSError:
            h = "127.0.0.1"
        hosts.append(h)
    return hosts


def _free_ports(hosts):
    """Two free ports on each host (api, db), held until all are chosen so
    that no two are the same."""
    socks, out = [], []
    try:
        for h in hosts:
            pair = []
            for _ in range(2):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((h, 0))
                socks.append(s)
                pair.append(s.getsockname()[1])
            out.append(pair)
    finally:
        for s in socks:
            s.close()
    return out


class Node:
    """One dqlite-demo process.  addr is its database (raft) address."""

    def __init__(self, scope, name, host, api_port, db_port, join, preload, env):
        self.scope, self.name = scope, name
        self.api = "%s:%d" % (host, api_port)
        self.addr = "%s:%d" % (host, db_port)
        self.join = join
        self.dir = os.path.join(scope.dir, name)
        self.log = os.path.join(scope.dir, name + ".log")
        self.env = dict(os.environ)
        self.env.update(env or {})
        if preload:
            self.env["LD_PRELOAD"] = preload
        self.proc = None

    def start(self):
        """Start (or restart, with the same data directory) the node."""
        args = [DEMO, "--api", self.api, "--db", self.addr, "-D", self.dir]
        if self.join:
            args += ["--join", ",".join(self.join)]
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logf,
                                     stderr=subprocess.STDOUT, env=self.env,
                                     start_new_session=True,
                                     preexec_fn=_set_pdeathsig)
        logf.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        """SIGKILL the node's process group and reap it."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def stop(self):
        """SIGTERM, then SIGKILL after 3 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=3)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            self.kill9()

    def log_tail(self, n=15):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


class Scope:
    """Owns the nodes, shells and scratch directory of one test; stops and
    removes them all on exit, and raises Timeout after `timeout` s."""

    def __init__(self, timeout, parent=None):
        self.timeout, self.parent = timeout, parent
        self.nodes, self.procs = [], []

    def __enter__(self):
        if self.parent:
            os.makedirs(self.parent, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="embed-scale-", dir=self.parent)
        def on_alarm(signum, frame):
            raise Timeout("the test ran past its %d s limit" % self.timeout)
        self._old = signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(self.timeout)
        return self

    def __exit__(self, *exc):
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self._old)
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for n in self.nodes:
            n.stop()
        if exc[0] is not None and not isinstance(exc[1], KeyboardInterrupt):
            for n in self.nodes:
                tail = n.log_tail()
                if tail:
                    print("--- last lines of %s (%s):\n%s" % (n.name, n.addr, tail))
        shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def cluster(self, n, preload=None, env=None, name="n"):
        """Start an n-node cluster: the first node bootstraps it, the others
        join it.  Returns the nodes once the first one has started."""
        hosts = _hosts(n)
        ports = _free_ports(hosts)
        nodes = []
        for i in range(n):
            join = [nodes[0].addr] if i else None
            node = Node(self, "%s%d" % (name, i + 1), hosts[i], ports[i][0],
                        ports[i][1], join, preload, env)
            self.nodes.append(node)
            nodes.append(node)
            node.start()
            if i == 0:
                wait_until(lambda: _serving(node), 30, "node %s to start" % node.addr)
        return nodes


def _serving(node):
    if not node.alive():
        raise RuntimeError("node %s exited:\n%s" % (node.addr, node.log_tail()))
    try:
        with socket.create_connection(tuple(node.addr.rsplit(":", 1)), 0.5):
            return True
    except OSError:
        return False


def wait_until(pred, seconds, what, pause=0.2):
    """Call pred() until it returns true; RuntimeError after `seconds`."""
    end = time.monotonic() + seconds
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise RuntimeError("timed out after %g s waiting for %s" % (seconds, what))
        time.sleep(pause)


class ShellError(Exception):
    pass


class Shell:
    """The dqlite shell on database `db` of the cluster made of `nodes`
    (addresses, or Node objects); it finds the leader itself."""

    def __init__(self, nodes, db, scope=None):
        self.servers = ",".join(n if isinstance(n, str) else n.addr for n in nodes)
        self.db, self.scope = db, scope

    def _run(self, arg, timeout=30):
        try:
            p = subprocess.run([SHELL, "-s", self.servers, self.db, arg],
                               capture_output=True, text=True, timeout=timeout,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ShellError("dqlite shell timed out on %.200s" % arg)
        except OSError as e:
            raise ShellError("dqlite shell: %s (a statement of %d bytes)" % (e, len(arg)))
        if p.returncode != 0:
            err = (p.stderr or p.stdout).strip().splitlines()
            raise ShellError(err[0] if err else "dqlite shell exited %d" % p.returncode)
        return p.stdout

    def run(self, statements, timeout=30):
        """Run statements (no ';' of their own outside sql_text literals),
        each committed on its own, in as few shells as the kernel's limit
        on one argument (128 KiB) allows; returns the shells' output."""
        out, batch, size = "", [], 0
        for st in statements:
            if batch and size + len(st) > ARG_MAX:
                out += self._run("; ".join(batch), timeout)
                batch, size = [], 0
            batch.append(st)
            size += len(st) + 2
        if batch:
            out += self._run("; ".join(batch), timeout)
        return out

    def query(self, selects, timeout=30):
        """Run SELECTs; returns one list of rows (lists of field strings) for
        each, in order."""
        parts = []
        for i, s in enumerate(selects):
            parts += ["SELECT '#mark %d'" % i, s]
        parts.append("SELECT '#mark end'")
        out = self._run("; ".join(parts), timeout)
        return _split_marked(out.splitlines(), len(selects))

    def leader(self, timeout=30):
        """The leader's address, or None while there is none."""
        try:
            out = self._run(".leader", timeout).strip()
        except ShellError:
            return None
        return out or None

    def cluster(self):
        """[(id, address, role)] of the cluster's configuration."""
        out = self._run(".cluster")
        return [tuple(l.split("|")) for l in out.splitlines() if l.count("|") == 2]

    def describe(self, addr):
        """True when the node at addr answers a Describe request itself."""
        try:
            self._run(".describe " + addr, timeout=10)
            return True
        except ShellError:
            return False

    def session(self):
        s = Session(self)
        if self.scope is not None:
            self.scope.procs.append(s.proc)
        return s


def _split_marked(lines, n):
    out, cur, idx = [[] for _ in range(n)], None, 0
    for line in lines:
        if line.startswith("dqlite> "):
            line = line[len("dqlite> "):]
        if line.startswith("#mark "):
            tag = line[6:]
            cur = None if tag == "end" else int(tag)
            continue
        if cur is not None and line != "":
            out[cur].append(line.split("|"))
    return out


class Session:
    """One interactive dqlite shell fed through a pipe: its statements run
    over one client connection to the leader while it lives."""

    def __init__(self, shell):
        self.proc = subprocess.Popen([SHELL, "-s", shell.servers, shell.db],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1,
                                     start_new_session=True, preexec_fn=_set_pdeathsig)
        self.n = 0
        self.buf = ""

    def query(self, selects, timeout=30):
        """Like Shell.query(); an error line from the shell raises ShellError."""
        self.n += 1
        tag = "s%d" % self.n
        parts = []
        for i, s in enumerate(selects):
            parts += ["SELECT '#mark %d'" % i, s]
        parts.append("SELECT '#mark end%s'" % tag)
        self.proc.stdin.write("\n".join(parts) + "\n")
        self.proc.stdin.flush()
        lines, end = [], time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            while "\n" in self.buf:
                line, self.buf = self.buf.split("\n", 1)
                line = line.replace("dqlite> ", "")
                if line.startswith("Error:"):
                    raise ShellError(line)
                if line == "#mark end" + tag:
                    return _split_marked(lines, len(selects))
                lines.append(line)
            left = end - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise ShellError("dqlite session: no answer (%d lines so far)" % len(lines))
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 65536).decode(errors="replace")
                if chunk == "":
                    raise ShellError("dqlite session ended")
                self.buf += chunk

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
