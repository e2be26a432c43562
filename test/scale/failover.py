#!/usr/bin/python3
"""failover.py: embed_index replicated by dqlite, through the loss of its leader.

    /usr/bin/python3 test/scale/failover.py BUILD [MODEL.emb]

Three dqlite-demo nodes on loopback addresses, build/embed_auto.so preloaded
in each and the same model file as SQLITE_EMBED_MODEL (MODEL.emb, default
BUILD/test/mini.emb).  Skipped, saying why, where go-dqlite's dqlite-demo or
dqlite shell is absent.  Ends with "N passed, N failed, N skipped"; exits 1 on
any failure.  Bounded: every step has a deadline and the whole test stops
at 240 s; every process it starts is stopped, whatever happens.

HOW IT WORKS
Everything goes through the dqlite shell, which sends each statement to the
leader (cluster.py).  Two indexes hold the same rows, text and vectors:
docs (quant=none: exact) and bdocs (quant=binary, the default: re-ranked).
Beside the cluster, in this process, a plain SQLite database with
BUILD/embed.so and the same model keeps the reference: a table of the same
rows, vectors stored (text rows embedded by embed()), and an embed_index
bref made like bdocs.  A check compares
  rows      every row of docs and bdocs (rowid, the vector's bytes, the
            content's bytes) with the reference table: every committed row,
            nothing else, the text rows' vectors as this process embeds them
            (so the node's model is the same file);
  search    docs' top-k for text and vector queries, k = 1, 7, 25, with the
            brute force ORDER BY 1 - cosine(vector, query), id over the
            reference table: the same rowids and the same distances, to the
            last bit (the shell prints doubles in their shortest exact
            form); bdocs' with bref's (the same rows, options and code, so
            the same answer; re-ranking makes it no brute-force answer);
  cache     one shell kept open (one client connection to the leader, shown
            by a TEMP table that only it sees) searches, another client
            inserts a row equal to the query vector, the open one searches
            again and must see it, then its deletion: the index's cache
            follows other connections' commits (its generation counter is
            replicated with the rows; PRAGMA data_version is not consulted).
The steps: create and fill through the leader; rows, search, cache; SIGKILL
the leader; once another node leads, rows and search, then writes (insert,
update, delete) and rows and search again; restart the killed node on its
data directory, wait until it answers and is a voter; SIGKILL the second
leader, so that the cluster can only commit with the restarted node's vote
and acknowledgement; rows, search and a write on whichever of the two now
leads.
"""
import os
import random
import sqlite3
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = os.path.abspath(sys.argv[2] if len(sys.argv) > 2
                        else os.path.join(ROOT, BUILD, "test", "mini.emb"))
EXT = os.path.join(ROOT, BUILD, "embed")
AUTO = os.path.join(ROOT, BUILD, "embed_auto.so")

passed = failed = 0


def check(name, got, want):
    global passed, failed
    if got == want:
        passed += 1
    else:
        failed += 1
        print("FAIL %s\n  expected: %.600r\n  got:      %.600r" % (name, want, got))


WORDS = ("the cat sat on mat dog do not new york it is are will and of "
         "park market stocks music river bank money weather rain sun city car "
         "train food coffee tea book school kitten puppy garden house computer "
         "phone film game water tree bird fish night day road").split()


class Reference:
    """The rows as they should be, in a plain local database."""

    def __init__(self, dims):
        self.db = sqlite3.connect(":memory:")
        self.db.enable_load_extension(True)
        self.db.load_extension(EXT)
        self.db.execute("CREATE TABLE ref(id INTEGER PRIMARY KEY, content TEXT, vector BLOB)")
        self.db.execute("CREATE VIRTUAL TABLE bref USING embed_index()")
        self.dims = dims

    def put_text(self, rowid, text):
        self.db.execute("INSERT INTO ref VALUES (?, ?, embed(?))", (rowid, text, text))
        self.db.execute("INSERT INTO bref(rowid, content) VALUES (?, ?)", (rowid, text))

    def put_vector(self, rowid, vec):
        blob = struct.pack("<%df" % len(vec), *vec)
        self.db.execute("INSERT INTO ref VALUES (?, NULL, ?)", (rowid, blob))
        self.db.execute("INSERT INTO bref(rowid, vector) VALUES (?, ?)", (rowid, blob))

    def update_text(self, rowid, text):
        self.db.execute("UPDATE ref SET content = ?, vector = embed(?) WHERE id = ?",
                        (text, text, rowid))
        self.db.execute("UPDATE bref SET content = ? WHERE rowid = ?", (text, rowid))

    def delete(self, rowid):
        self.db.execute("DELETE FROM ref WHERE id = ?", (rowid,))
        self.db.execute("DELETE FROM bref WHERE rowid = ?", (rowid,))

    def rows(self):
        return [[str(r[0]), r[1], r[2]] for r in self.db.execute(
            "SELECT id, hex(vector), hex(content) FROM ref ORDER BY id")]

    def brute(self, q, k):
        """Exact top-k by brute force: q is text (embedded) or a JSON vector."""
        qv = "embed(?1)" if not q.startswith("[") else "?1"
        return [[str(i), d] for i, d in self.db.execute(
            "SELECT id, 1 - cosine(vector, %s) AS d FROM ref WHERE d IS NOT NULL "
            "ORDER BY d, id LIMIT ?2" % qv, (q, k))]

    def binary(self, q, k):
        return [[str(i), d] for i, d in self.db.execute(
            "SELECT rowid, distance FROM bref WHERE bref MATCH ?1 AND k = ?2", (q, k))]


def vec_json(v):
    return "[" + ",".join(repr(x) for x in v) + "]"


def make_rows(rng, ids, dims):
    """(rowid, 'text', str) or (rowid, 'vector', [floats]) for each id; the
    floats are multiples of 1/256, exact in float32 and in JSON."""
    out = []
    for i in ids:
        if i % 2:
            out.append((i, "text", " ".join(rng.choice(WORDS)
                                            for _ in range(rng.randint(2, 8)))))
        else:
            out.append((i, "vector", [rng.randint(-512, 512) / 256 for _ in range(dims)]))
    return out


def insert_statements(rows, table):
    """Multi-row INSERTs of at most 40 rows and about 50 kB each."""
    stmts = []
    for col, kind in (("content", "text"), ("vector", "vector")):
        values, size = [], 0
        for r in rows:
            if r[1] != kind:
                continue
            v = "(%d, %s)" % (r[0], cluster.sql_text(r[2]) if kind == "text"
                              else "'%s'" % vec_json(r[2]))
            values.append(v)
            size += len(v)
            if len(values) == 40 or size > 50000:
                stmts.append("INSERT INTO %s(rowid, %s) VALUES %s" % (table, col, ", ".join(values)))
                values, size = [], 0
        if values:
            stmts.append("INSERT INTO %s(rowid, %s) VALUES %s" % (table, col, ", ".join(values)))
    return stmts


def apply_rows(sh, ref, rows):
    sh.run(insert_statements(rows, "docs") + insert_statements(rows, "bdocs"))
    for r in rows:
        if r[1] == "text":
            ref.put_text(r[0], r[2])
        else:
            ref.put_vector(r[0], r[2])


def parse_hits(rows):
    return [[r[0], float(r[1])] for r in rows]


def queries(rng, dims):
    texts = ["the cat on the mat", "a dog in the park", "new york city",
             "money in the bank", "rain and sun", "coffee or tea", "it is not",
             "zzz qqq"]           # the last has no known word: no results
    vecs = [vec_json([rng.randint(-512, 512) / 256 for _ in range(dims)])
            for _ in range(6)]
    return texts + vecs


def search_selects(qs, ks):
    sel = []
    for q in qs:
        for k in ks:
            for t in ("docs", "bdocs"):
                sel.append("SELECT rowid, distance FROM %s WHERE %s MATCH %s AND k = %d"
                           % (t, t, cluster.sql_text(q), k))
    return sel


def check_search(tag, got, ref, qs, ks):
    i = 0
    bad = 0
    for q in qs:
        for k in ks:
            a, b = parse_hits(got[i]), parse_hits(got[i + 1])
            want_a, want_b = ref.brute(q, k), ref.binary(q, k)
            if a != want_a or b != want_b:
                bad += 1
            check("%s: docs top-%d of %.40s equals brute force" % (tag, k, q), a, want_a)
            check("%s: bdocs top-%d of %.40s equals bref's" % (tag, k, q), b, want_b)
            i += 2
    return bad


def check_rows(tag, sh, ref):
    got = sh.query(["SELECT rowid, hex(vector), hex(content) FROM docs ORDER BY rowid",
                    "SELECT rowid, hex(vector), hex(content) FROM bdocs ORDER BY rowid"],
                   timeout=60)
    want = ref.rows()
    check("%s: every committed row of docs, bytes equal (%d rows)" % (tag, len(want)),
          got[0], want)
    check("%s: every committed row of bdocs, bytes equal" % tag, got[1], want)


def leader_node(sh, nodes, exclude=()):
    def find():
        a = sh.leader(timeout=15)
        if a and a not in exclude:
            return a
        return None
    addr = cluster.wait_until(find, 60, "a leader other than %s" % ", ".join(exclude))
    for n in nodes:
        if n.addr == addr:
            return n
    raise RuntimeError("leader %s is none of our nodes" % addr)


def main():
    global failed
    why = cluster.available()
    if why:
        print("note: %s; the dqlite failover test is skipped" % why)
        print("0 passed, 0 failed, 1 skipped")
        return 0
    for p in (EXT + ".so", AUTO, MODEL):
        if not os.path.exists(p):
            print("FAIL: %s is missing (make builds it)" % p)
            print("0 passed, 1 failed")
            return 1
    os.environ["SQLITE_EMBED_MODEL"] = MODEL       # the reference's default
    rng = random.Random(20261201)
    probe = sqlite3.connect(":memory:")
    probe.enable_load_extension(True)
    probe.load_extension(EXT)
    dims = probe.execute("SELECT length(embed('the')) / 4").fetchone()[0]
    probe.close()
    ref = Reference(dims)
    qs, ks = queries(rng, dims), (1, 7, 25)
    t_start = time.monotonic()
    try:
        with cluster.Scope(240, os.path.join(ROOT, BUILD, "scale")) as scope:
            nodes = scope.cluster(3, preload=AUTO, env={"SQLITE_EMBED_MODEL": MODEL})
            sh = cluster.Shell(nodes, "embed", scope)
            cluster.wait_until(lambda: len([r for r in sh.cluster() if r[2] == "voter"]) == 3,
                               60, "three voters")
            passed_before = passed
            first = leader_node(sh, nodes)

            # Create and fill through the leader.
            sh.run(["CREATE VIRTUAL TABLE docs USING embed_index(quant=none)",
                    "CREATE VIRTUAL TABLE bdocs USING embed_index()"])
            apply_rows(sh, ref, make_rows(rng, range(1, 241), dims))
            check_rows("filled", sh, ref)
            check_search("filled", sh.query(search_selects(qs, ks)), ref, qs, ks)

            # A connection that stays open sees other clients' commits.
            sess = sh.session()
            sess_q = vec_json([rng.randint(-512, 512) / 256 for _ in range(dims)])
            sel = search_selects([sess_q], (3,))
            sess.query(["SELECT 1"])
            try:
                sess.query(["SELECT 'made'"])
                sess.proc.stdin.write("CREATE TEMP TABLE conn_mark(x)\n")
                sess.proc.stdin.flush()
                one_conn = sess.query(["SELECT count(*) FROM temp.conn_mark"])[0]
            except cluster.ShellError as e:
                one_conn = str(e)
            check("cache: the open shell keeps one connection (its TEMP table)",
                  one_conn, [["0"]])
            check_search("cache, before", sess.query(sel), ref, [sess_q], (3,))
            sh.run(["INSERT INTO docs(rowid, vector) VALUES (5000, '%s')" % sess_q,
                    "INSERT INTO bdocs(rowid, vector) VALUES (5000, '%s')" % sess_q])
            ref.put_vector(5000, [float(x) for x in sess_q[1:-1].split(",")])
            got = sess.query(sel)
            check("cache: the open connection finds the row another committed",
                  got[0][:1] and got[0][0][0], "5000")
            check_search("cache, after an insert", got, ref, [sess_q], (3,))
            sh.run(["DELETE FROM docs WHERE rowid = 5000",
                    "DELETE FROM bdocs WHERE rowid = 5000"])
            ref.delete(5000)
            check_search("cache, after a delete", sess.query(sel), ref, [sess_q], (3,))
            sess.close()

            # SIGKILL the leader; another node takes over with every row.
            t0 = time.monotonic()
            first.kill9()
            second = leader_node(sh, nodes, exclude=(first.addr,))
            t_failover = time.monotonic() - t0
            check_rows("after the leader's SIGKILL", sh, ref)
            check_search("after the leader's SIGKILL", sh.query(search_selects(qs, ks)),
                         ref, qs, ks)
            # Writes go on: insert, update, delete.
            apply_rows(sh, ref, make_rows(rng, range(241, 301), dims))
            upd = [(1, "the cat sat on the mat"), (3, "new york rain"), (5, "kitten")]
            sh.run(["UPDATE %s SET content = %s WHERE rowid = %d" % (t, cluster.sql_text(s), i)
                    for t in ("docs", "bdocs") for i, s in upd])
            for i, s in upd:
                ref.update_text(i, s)
            gone = list(range(10, 60, 5))
            sh.run(["DELETE FROM %s WHERE rowid IN (%s)" % (t, ",".join(map(str, gone)))
                    for t in ("docs", "bdocs")])
            for i in gone:
                ref.delete(i)
            check_rows("writes on the new leader", sh, ref)
            check_search("writes on the new leader", sh.query(search_selects(qs, ks)),
                         ref, qs, ks)

            # The killed node restarts on its data and rejoins as a voter.
            first.start()
            cluster.wait_until(lambda: sh.describe(first.addr), 60,
                               "the restarted node %s to answer" % first.addr)
            roles = dict((a, r) for _, a, r in sh.cluster())
            check("the restarted node is a voter", roles.get(first.addr), "voter")
            # Without the second leader, a commit needs the restarted node.
            third = [n for n in nodes if n not in (first, second)][0]
            second.kill9()
            last = leader_node(sh, nodes, exclude=(second.addr,))
            check("a leader among the restarted node and the third",
                  last.addr in (first.addr, third.addr), True)
            apply_rows(sh, ref, make_rows(rng, range(301, 331), dims))
            check_rows("with the restarted node as one of two voters", sh, ref)
            check_search("with the restarted node as one of two voters",
                         sh.query(search_selects(qs, ks)), ref, qs, ks)
            print("dqlite: %d checks; first failover %.1f s; last leader %s (%s); %.0f s in all"
                  % (passed - passed_before, t_failover, last.name,
                     "the restarted node" if last is first else "the third node",
                     time.monotonic() - t_start))
    except (cluster.Timeout, cluster.ShellError, RuntimeError) as e:
        failed += 1
        print("FAIL dqlite failover test: %s" % e)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
