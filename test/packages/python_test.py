"""python_test.py: the installed Python package sqlite_embed, used from a
folder outside the repository, as a user would after `pip install .`.

    VENV/bin/python test/packages/python_test.py REPO MINI.emb   # from a scratch folder

REPO is the source tree (for the version in include/sqlite-embed.h, the
models/default.emb the package must carry, and build/embed.so to compare
with); MINI.emb a second, small model.  Prints "N passed, N failed".

HOW IT WORKS
Checks, in this process: where the package was imported from (the venv,
not the repository), its three functions and their type hints, that the
packaged model is the repository's models/default.emb byte for byte and is
the default with SQLITE_EMBED_MODEL unset, that SQLITE_EMBED_MODEL and
model= each take precedence, that every failure is a sqlite3 exception with
the extension's text, that extension loading is switched off again, that
the vectors equal the sqlite3 shell's with the repository's build, and that
embed_metrics() counts every thread's connection and keeps counting after
all of them close.  Then the command line, in child processes.
"""
from __future__ import annotations

import filecmp
import os
import re
import sqlite3
import subprocess
import sys
import threading
import typing

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checks  # noqa: E402

REPO, MINI = sys.argv[1], sys.argv[2]
os.environ.pop("SQLITE_EMBED_MODEL", None)

import sqlite_embed  # noqa: E402  (after the environment is set)

c = Checks("python package")

# --- where it comes from --------------------------------------------------
pkg_dir = os.path.dirname(sqlite_embed.__file__)
c.ok("runs in a venv", sys.prefix != sys.base_prefix, sys.prefix)
c.ok("imported from the venv", pkg_dir.startswith(sys.prefix + os.sep), pkg_dir)
c.ok("not from the repository", not os.path.abspath(pkg_dir).startswith(os.path.abspath(REPO)))
c.ok("cwd is not the repository", not os.getcwd().startswith(os.path.abspath(REPO)))

with open(os.path.join(REPO, "include", "sqlite-embed.h"), encoding="utf-8") as f:
    version = re.search(r'SQLITE_EMBED_VERSION\s+"([^"]+)"', f.read()).group(1)
c.eq("__version__ is the header's", sqlite_embed.__version__, version)
try:
    from importlib.metadata import version as dist_version
    c.eq("installed distribution's version", dist_version("sqlite-embed"), version)
except ImportError:
    pass

# --- the functions --------------------------------------------------------
lp = sqlite_embed.loadable_path()
c.eq("loadable_path() is in the package", os.path.dirname(lp), pkg_dir)
c.eq("loadable_path() has no suffix", os.path.basename(lp), "embed")
c.ok("loadable_path().so exists", os.path.isfile(lp + ".so"), lp)
mp = sqlite_embed.default_model_path()
c.eq("default_model_path() is in the package", os.path.dirname(mp), pkg_dir)
c.ok("the packaged model is models/default.emb, byte for byte",
     os.path.isfile(mp) and filecmp.cmp(mp, os.path.join(REPO, "models", "default.emb"),
                                        shallow=False))
c.ok("py.typed is installed", os.path.isfile(os.path.join(pkg_dir, "py.typed")))
hints = typing.get_type_hints(sqlite_embed.load)
c.eq("load(conn) is typed", hints.get("conn"), sqlite3.Connection)
c.eq("load() returns None", hints.get("return"), type(None))
c.ok("load(model=) is typed", "model" in hints, repr(hints))
c.eq("loadable_path() -> str", typing.get_type_hints(sqlite_embed.loadable_path), {"return": str})
c.eq("default_model_path() -> str",
     typing.get_type_hints(sqlite_embed.default_model_path), {"return": str})
with open(lp + ".so", "rb") as f:
    so = f.read()
c.ok("the packaged extension has no built-in model path (build/embed.so has one)",
     os.path.join(os.path.abspath(REPO), "models", "default.emb").encode() not in so)


def models(db: sqlite3.Connection):
    return db.execute("SELECT name, path FROM embed_models").fetchall()


# The packaged model is the default, with SQLITE_EMBED_MODEL unset.
db = sqlite3.connect(":memory:")
sqlite_embed.load(db)
c.eq("default model is the packaged one", models(db), [("default", mp)])
dims = db.execute("SELECT dims FROM embed_models").fetchone()[0]
c.eq("embed() works after load()", db.execute("SELECT length(embed('a cat'))").fetchone()[0],
     4 * dims)
c.raises("extension loading is off again", sqlite3.OperationalError,
         lambda: db.execute("SELECT load_extension('x')").fetchone(), match="not authorized")
c.raises("an SQL error is sqlite3.OperationalError with our text", sqlite3.OperationalError,
         lambda: db.execute("SELECT embed('a', 0)").fetchone(), match="embed(): dims must be")
sentences = ["the cat sat on the mat", "Stock markets fell sharply today!", "zzqx"]
ours = [db.execute("SELECT embed_json(embed(?))", (s,)).fetchone()[0] for s in sentences]
db.close()

# The same vectors as the repository's build in the sqlite3 shell.
shell = subprocess.run(
    ["sqlite3", "-batch", ":memory:", ".load " + os.path.join(REPO, "build", "embed")]
    + [f"SELECT embed_json(embed('{s.replace(chr(39), chr(39) * 2)}'));" for s in sentences],
    capture_output=True, text=True,
    env=dict(os.environ, SQLITE_EMBED_MODEL=os.path.join(REPO, "models", "default.emb")))
c.eq("vectors equal the sqlite3 shell's with build/embed.so", shell.stdout.split("\n")[:3], ours)

# SQLITE_EMBED_MODEL, when set, is the default; model= beats both.
os.environ["SQLITE_EMBED_MODEL"] = MINI
db = sqlite3.connect(":memory:")
sqlite_embed.load(db)
c.eq("SQLITE_EMBED_MODEL is the default when set", models(db), [("default", MINI)])
db.close()
db = sqlite3.connect(":memory:")
sqlite_embed.load(db, model=mp)
c.eq("model= beats SQLITE_EMBED_MODEL", models(db), [("default", mp)])
db.close()
os.environ["SQLITE_EMBED_MODEL"] = "/nonexistent/x.emb"
db = sqlite3.connect(":memory:")
sqlite_embed.load(db)
c.raises("a broken SQLITE_EMBED_MODEL is reported by embed()", sqlite3.OperationalError,
         lambda: db.execute("SELECT embed('a')").fetchone(), match="/nonexistent/x.emb")
db.close()
del os.environ["SQLITE_EMBED_MODEL"]
db = sqlite3.connect(":memory:")
c.raises("load(model=missing) is sqlite3.OperationalError naming it", sqlite3.OperationalError,
         sqlite_embed.load, db, "/nonexistent/y.emb", match="embed_load(): ")
c.raises("... and it names the file", sqlite3.OperationalError,
         sqlite_embed.load, db, "/nonexistent/y.emb", match="/nonexistent/y.emb")
db.close()


class NoExtensions:
    """A connection from a sqlite3 module built without extension loading."""


c.raises("no enable_load_extension: sqlite3.NotSupportedError", sqlite3.NotSupportedError,
         sqlite_embed.load, NoExtensions(), match="cannot load extensions")


# --- embed_metrics() across threads and closed connections -----------------
def calls() -> int:
    db = sqlite3.connect(":memory:")
    sqlite_embed.load(db)
    text = db.execute("SELECT embed_metrics()").fetchone()[0]
    db.close()
    m = re.search(r'^embed_calls_total\{model="default"\} (\d+)$', text, re.M)
    return int(m.group(1)) if m else 0


before = calls()
errors = []


def work(n: int) -> None:
    try:
        db = sqlite3.connect(":memory:")
        sqlite_embed.load(db)
        for i in range(n):
            db.execute("SELECT embed(?)", (f"thread text {i}",)).fetchone()
        db.close()
    except Exception as e:  # noqa: BLE001
        errors.append(e)


threads = [threading.Thread(target=work, args=(n,)) for n in (5, 7, 11, 13)]
for t in threads:
    t.start()
for t in threads:
    t.join()
c.eq("threads' connections load and embed", errors, [])
c.eq("embed_calls_total adds up every thread's calls, after all closed", calls() - before, 36)

# --- the command line -------------------------------------------------------
py = sys.executable
r = subprocess.run([py, "-m", "sqlite_embed", "paths"], capture_output=True, text=True)
c.eq("python -m sqlite_embed paths", r.stdout.split(), [lp, mp])
script = os.path.join(os.path.dirname(py), "sqlite-embed")
c.ok("the sqlite-embed console script is installed", os.access(script, os.X_OK), script)
not_db = os.path.join(os.getcwd(), "not-a-database.db")
with open(not_db, "w") as f:
    f.write("this is not an SQLite database, just some text long enough " * 20)
for args, want in ((["--model", "/nonexistent/z.emb"], "/nonexistent/z.emb"),
                   (["--db", "/nonexistent/n.db"], "/nonexistent/n.db"),
                   (["--db", not_db], "file is not a database"),
                   (["--host", "no-such-host.invalid"], "no-such-host.invalid"),
                   (["--port", "99999"], "'99999' is not a port number")):
    r = subprocess.run([py, "-m", "sqlite_embed", "serve", "--port", "0"] + args,
                       capture_output=True, text=True, timeout=30)
    c.eq(f"serve {' '.join(args)} exits 2", r.returncode, 2)
    # one line (argparse: its usage, then one line)
    last = r.stderr.rstrip("\n").split("\n")[-1]
    c.ok(f"serve {' '.join(args)}: a line saying why, no traceback",
         want in last and "Traceback" not in r.stderr
         and (args[0] == "--port" or r.stderr.count("\n") == 1), r.stderr)

sys.exit(c.done())
