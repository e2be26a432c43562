#!/usr/bin/python3
"""python_test.py: sqlite-embed from Python's own sqlite3 module.

    /usr/bin/python3 test/clients/python_test.py build/embed build/test/mini.emb

Needs a Python whose sqlite3 module can load extensions (Debian's
/usr/bin/python3 can; builds without SQLITE_ENABLE_LOAD_EXTENSION, such as
pyenv's default, cannot).  Prints a FAIL line per failing check and ends
with "N passed, N failed"; exits 1 on any failure.

HOW IT WORKS
Each check runs SQL through the module the way an application would: the
extension loaded with enable_load_extension() + load_extension(), values
bound as Python bytes/str/int, blobs read back as bytes and decoded with
struct, errors caught as sqlite3.OperationalError and compared with the
extension's exact message text.  The test model (build/test/mini.emb: 4
dims, 28 words, unweighted) is loaded under the name 'mini', so the
results do not depend on whether models/default.emb exists.  Reference
answers are computed here in Python (cosine, brute-force top-k) from the
blobs the extension returns, never copied from its output.
"""
import math
import os
import sqlite3
import struct
import sys
import tempfile
import threading

EXT, MINI = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(name, got, want):
    global passed, failed
    if got == want:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}\n  expected: {want!r}\n  got:      {got!r}")


def check_error(name, conn, sql, params, want):
    """sql must fail with sqlite3.OperationalError whose text is want."""
    try:
        conn.execute(sql, params).fetchall()
        got = "no error"
    except sqlite3.OperationalError as e:
        got = str(e)
    except Exception as e:          # the wrong exception class is a failure
        got = f"{type(e).__name__}: {e}"
    check(name, got, want)


def connect(path=":memory:"):
    conn = sqlite3.connect(path)
    conn.enable_load_extension(True)
    conn.load_extension(EXT)
    conn.enable_load_extension(False)
    conn.execute("SELECT embed_load('mini', ?)", (MINI,))
    return conn


def floats(blob):
    return struct.unpack(f"<{len(blob) // 4}f", blob)


def py_cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else None


def close(a, b, eps=1e-6):
    return a is not None and b is not None and abs(a - b) < eps


NOTES = [(10, "the cat sat on the mat"), (20, "a dog"), (30, "new york"),
         (40, "the cat and the dog"), (50, "café"), (60, "it is not"),
         (70, "the dog sat on the cat"), (80, "u.s. e-mail")]

conn = connect()

# --- loading and embed() ---------------------------------------------------
check("embed_load returns the name",
      conn.execute("SELECT embed_load('mini2', ?)", (MINI,)).fetchone()[0],
      "mini2")
check("embed_models lists the model",
      conn.execute("SELECT dims, vocab_size, tokenizer FROM embed_models "
                   "WHERE name = 'mini'").fetchone(), (4, 28, "word"))

v = conn.execute("SELECT embed('the cat sat', NULL, 'mini')").fetchone()[0]
check("embed() is a bytes blob", type(v), bytes)
check("embed() blob length = 4 dims x 4 bytes", len(v), 16)
check("embed() is unit length", close(math.sqrt(sum(x * x for x in floats(v))), 1.0), True)
v2 = conn.execute("SELECT embed('the cat sat', 2, 'mini')").fetchone()[0]
check("embed(text, 2) blob length", len(v2), 8)
check("embed() of NULL", conn.execute("SELECT embed(NULL, NULL, 'mini')").fetchone()[0], None)
check("embed_tokens()", conn.execute("SELECT embed_tokens('The cat sat.', 'mini')").fetchone()[0],
      "[0,5,6,2]")

# cosine() of two embeddings against the cosine of their floats in Python
a, b = conn.execute("SELECT embed('the cat', NULL, 'mini'), "
                    "embed('a dog sat on the mat', NULL, 'mini')").fetchone()
sql_cos = conn.execute("SELECT cosine(?, ?)", (a, b)).fetchone()[0]
check("cosine() equals Python's cosine of the blobs",
      close(sql_cos, py_cosine(floats(a), floats(b))), True)
check("cosine() is a float", type(sql_cos), float)

# vectors made in Python go in as bytes or JSON text
p = struct.pack("<4f", 1.0, -2.0, 0.5, 3.0)
q = struct.pack("<4f", -1.0, 1.0, 2.0, 0.25)
check("cosine() of Python-packed blobs",
      close(conn.execute("SELECT cosine(?, ?)", (p, q)).fetchone()[0],
            py_cosine(floats(p), floats(q))), True)
check("bquant() of a Python blob",
      conn.execute("SELECT bquant(?)", (p,)).fetchone()[0], bytes([0b1101]))
check("hamming()",
      conn.execute("SELECT hamming(bquant(?), bquant(?))", (p, q)).fetchone()[0], 2)
check("embed_json() reads back",
      conn.execute("SELECT embed_json(?)", (p,)).fetchone()[0], "[1,-2,0.5,3]")
check("JSON text in", conn.execute("SELECT bquant(?)", ("[1, -2, 0.5, 3]",)).fetchone()[0],
      bytes([0b1101]))

# --- errors, with the extension's exact text --------------------------------
check_error("cosine() length mismatch", conn, "SELECT cosine(?, ?)", ("[1,2]", "[1]"),
            "cosine(): vectors differ in length (2 vs 1 dims)")
check_error("bquant() odd blob", conn, "SELECT bquant(?)", (b"abc",),
            "bquant(): vector blob of 3 bytes is not float32 (length not a multiple of 4)")
check_error("embed() unknown model", conn, "SELECT embed('cat', NULL, ?)", ("nope",),
            "embed(): no model named 'nope' (load one with embed_load('nope', 'PATH.emb'))")
check_error("embed() dims out of range", conn, "SELECT embed('cat', 9, 'mini')", (),
            "embed(): dims must be an integer from 1 to 4, not 9")
check_error("embed_load() missing file", conn, "SELECT embed_load('x', ?)",
            ("/nonexistent/x.emb",),
            "embed_load(): cannot open model '/nonexistent/x.emb': No such file or directory")

# --- embed_index: insert, search, against a brute-force reference ---------
conn.execute("CREATE VIRTUAL TABLE notes USING embed_index(model=mini)")
conn.executemany("INSERT INTO notes(rowid, content) VALUES (?, ?)", NOTES)
conn.execute("INSERT INTO notes(rowid, vector) VALUES (?, ?)", (90, p))
conn.commit()
check("rows inserted", conn.execute("SELECT count(*) FROM notes").fetchone()[0], 9)
check("content kept", conn.execute("SELECT content FROM notes WHERE rowid = 30").fetchone()[0],
      "new york")

vecs = dict(conn.execute("SELECT rowid, vector FROM notes").fetchall())


def reference(query_vec, k, rows=None):
    """The k nearest (distance, rowid) of rows (default: vecs, a dict of
    rowid -> vector blob) by 1 - cosine, ties by rowid, zero norms out."""
    scored = []
    for rowid, blob in (rows or vecs).items():
        c = py_cosine(floats(query_vec), floats(blob))
        if c is not None:
            scored.append((1.0 - c, rowid))
    scored.sort()
    return scored[:k]


for text in ["cat", "the dog", "new york", "sat on the mat"]:
    qv = conn.execute("SELECT embed(?, NULL, 'mini')", (text,)).fetchone()[0]
    got = conn.execute("SELECT rowid, distance FROM notes WHERE notes MATCH ? AND k = ?",
                       (text, 4)).fetchall()
    want = reference(qv, 4)
    check(f"top-4 for {text!r}: rowids", [r for r, _ in got], [r for _, r in want])
    check(f"top-4 for {text!r}: distances",
          all(close(d, w, 1e-6) for (_, d), (w, _) in zip(got, want)), True)

got = conn.execute("SELECT rowid FROM notes WHERE notes MATCH ? AND k = 3",
                   (q,)).fetchall()
check("MATCH a bytes vector", [r for r, in got], [r for _, r in reference(q, 3)])
got = conn.execute("SELECT rowid FROM notes WHERE notes MATCH 'cat' AND k = 10 "
                   "AND rowid IN (20, 40, 60)").fetchall()
check("rowid IN filter", sorted(r for r, in got), [20, 40, 60])

check_error("embed_index: k = 0", conn,
            "SELECT rowid FROM notes WHERE notes MATCH 'cat' AND k = ?", (0,),
            "embed_index: k must be from 1 to 10000, not 0")
check_error("embed_index: no k", conn,
            "SELECT rowid FROM notes WHERE notes MATCH 'cat'", (),
            "embed_index: a MATCH on 'notes' needs k, as in WHERE notes MATCH ... AND k = 10")
check_error("embed_index: wrong dims", conn,
            "SELECT rowid FROM notes WHERE notes MATCH ? AND k = 1", ("[1,2,3]",),
            "embed_index: query vector has 3 dims, but 'notes' takes 4")

# the module's implicit transaction: rolled back rows leave the index
conn.execute("INSERT INTO notes(rowid, content) VALUES (100, 'cat')")
check("uncommitted row found",
      conn.execute("SELECT rowid FROM notes WHERE notes MATCH 'cat' AND k = 1").fetchone()[0], 100)
conn.rollback()
check("rolled-back row gone",
      conn.execute("SELECT count(*) FROM notes WHERE rowid = 100").fetchone()[0], 0)
check("search after rollback",
      [r for r, in conn.execute("SELECT rowid FROM notes WHERE notes MATCH 'cat' AND k = 2")],
      [r for _, r in reference(conn.execute("SELECT embed('cat', NULL, 'mini')").fetchone()[0], 2)])
conn.close()

# --- several connections: one file, and one connection per thread --------
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "notes.db")
    w, r = connect(path), connect(path)
    w.execute("PRAGMA journal_mode=WAL")
    w.execute("CREATE VIRTUAL TABLE idx USING embed_index(model=mini)")
    w.executemany("INSERT INTO idx(rowid, content) VALUES (?, ?)", NOTES[:4])
    w.commit()
    near = "SELECT group_concat(rowid) FROM (SELECT rowid FROM idx WHERE idx MATCH 'cat' AND k = 10)"
    cat = w.execute("SELECT embed('cat', NULL, 'mini')").fetchone()[0]
    rows = {i: w.execute("SELECT embed(?, NULL, 'mini')", (t,)).fetchone()[0] for i, t in NOTES[:4]}
    want4 = ",".join(str(i) for _, i in reference(cat, 10, rows))
    rows[5] = cat
    want5 = ",".join(str(i) for _, i in reference(cat, 10, rows))
    check("reader sees the writer's commit", r.execute(near).fetchone()[0], want4)
    w.execute("INSERT INTO idx(rowid, content) VALUES (5, 'cat')")
    check("reader does not see an uncommitted row", r.execute(near).fetchone()[0], want4)
    w.commit()
    check("reader sees it once committed", r.execute(near).fetchone()[0], want5)
    w.close()
    r.close()

    texts = [f"{t} {u}" for _, t in NOTES for _, u in NOTES]
    ref = connect()
    want = [ref.execute("SELECT embed(?, NULL, 'mini')", (t,)).fetchone()[0] for t in texts]
    ref.close()
    results = {}

    def worker(n):
        c = connect(path)   # each thread its own connection to the file
        got = [c.execute("SELECT embed(?, NULL, 'mini')", (t,)).fetchone()[0] for t in texts]
        top = c.execute(near).fetchone()[0]
        c.close()
        results[n] = (got == want, top)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check("4 threads, one connection each: same embeddings and search",
          [results.get(n) for n in range(4)], [(True, want5)] * 4)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
