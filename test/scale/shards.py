#!/usr/bin/python3
"""shards.py: sharded top-k equals one database's top-k.

    /usr/bin/python3 test/scale/shards.py BUILD [MODEL.emb]

Ends with "N passed, N failed, N skipped"; exits 1 on any failure.  The
dqlite half is skipped, saying why, where go-dqlite is absent; it is bounded
(120 s) and stops every process it starts.

HOW IT WORKS
The same rows, text and vectors, among them groups of equal vectors (ties,
broken by rowid everywhere), go into one database and, routed by rowid mod
N, into N shards; every index is quant=none (exact), with the model
MODEL.emb (default BUILD/test/mini.emb) as SQLITE_EMBED_MODEL.  For text and
vector queries and k = 1, 10, 50 (more than some shards hold), and with a
distance bound, the merged answer must equal the single database's, rowids
and distances to the last bit.
  attached  N = 3 database files ATTACHed to one connection (Python's sqlite3
            and BUILD/embed.so): the merge is the plain SQL of README's
            "Beyond one machine": each shard's MATCH ... AND k = ?2, UNION
            ALL, ORDER BY distance, id LIMIT ?2.  Also N = 1 (the query
            over a single shard is the shard's own answer).
  dqlite    N = 2 single-node dqlite-demo clusters with embed_auto.so
            preloaded; rows go in and searches come out through
            tools/embed-shards (insert, search, route); each cluster must
            hold exactly the rows rowid mod 2 sends it.
"""
import json
import os
import random
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = os.path.abspath(sys.argv[2] if len(sys.argv) > 2
                        else os.path.join(ROOT, BUILD, "test", "mini.emb"))
EXT = os.path.join(ROOT, BUILD, "embed")
AUTO = os.path.join(ROOT, BUILD, "embed_auto.so")
TOOL = os.path.join(ROOT, "tools", "embed-shards")
SCRATCH = os.path.join(ROOT, BUILD, "scale")

passed = failed = skipped = 0

WORDS = ("the cat sat on mat dog do not new york it is are will and of park "
         "market stocks music river bank money weather rain sun city car train "
         "food coffee tea book school kitten garden house phone water tree").split()


def check(name, got, want):
    global passed, failed
    if got == want:
        passed += 1
    else:
        failed += 1
        print("FAIL %s\n  expected: %.500r\n  got:      %.500r" % (name, want, got))


def connect(path=":memory:"):
    db = sqlite3.connect(path, isolation_level=None)
    db.enable_load_extension(True)
    db.load_extension(EXT)
    return db


def make_rows(rng, dims):
    """600 rows: odd rowids text, even ones vectors; rowids 2000..2011 share
    one vector, 2100..2105 another (ties across shards)."""
    rows = []
    for i in range(1, 601):
        if i % 2:
            rows.append({"rowid": i, "content": " ".join(
                rng.choice(WORDS) for _ in range(rng.randint(1, 6)))})
        else:
            rows.append({"rowid": i, "vector": [rng.randint(-512, 512) / 256
                                                for _ in range(dims)]})
    for base, n in ((2000, 12), (2100, 6)):
        v = [rng.randint(-512, 512) / 256 for _ in range(dims)]
        rows += [{"rowid": base + j, "vector": v} for j in range(n)]
    return rows


def queries(rng, dims, rows):
    qs = ["the cat on the mat", "new york", "coffee and tea", "zzz qqq"]
    qs += [json.dumps([rng.randint(-512, 512) / 256 for _ in range(dims)]) for _ in range(5)]
    qs.append(json.dumps(rows[-1]["vector"]))          # a tie group's own vector
    qs.append(json.dumps(rows[-7]["vector"]))
    return qs


def insert(db, schema, rows):
    for r in rows:
        if "content" in r:
            db.execute('INSERT INTO "%s".docs(rowid, content) VALUES (?, ?)' % schema,
                       (r["rowid"], r["content"]))
        else:
            db.execute('INSERT INTO "%s".docs(rowid, vector) VALUES (?, ?)' % schema,
                       (r["rowid"], json.dumps(r["vector"])))


def merged_sql(n, bound=False):
    """The README's query over shards s0..s(n-1): ?1 the query, ?2 k."""
    extra = " AND distance < ?3" if bound else ""
    arms = ["SELECT rowid AS id, distance FROM s%d.docs WHERE docs MATCH ?1 AND k = ?2%s"
            % (i, extra) for i in range(n)]
    return ("SELECT id, distance FROM (\n  %s\n) ORDER BY distance, id LIMIT ?2"
            % "\n  UNION ALL ".join(arms))


def single_sql(bound=False):
    return ("SELECT rowid, distance FROM one.docs WHERE docs MATCH ?1 AND k = ?2"
            + (" AND distance < ?3" if bound else ""))


def test_attached(rng, dims, rows, qs):
    os.makedirs(SCRATCH, exist_ok=True)
    paths = []
    db = connect()
    try:
        for name in ["one"] + ["s%d" % i for i in range(3)]:
            path = os.path.join(SCRATCH, "shard-%d-%s.db" % (os.getpid(), name))
            if os.path.exists(path):
                os.unlink(path)
            paths.append(path)
            db.execute("ATTACH ? AS %s" % name, (path,))
            db.execute("CREATE VIRTUAL TABLE %s.docs USING embed_index(quant=none)" % name)
        db.execute("BEGIN")
        insert(db, "one", rows)
        for i in range(3):
            insert(db, "s%d" % i, [r for r in rows if r["rowid"] % 3 == i])
        db.execute("COMMIT")
        counts = [db.execute("SELECT count(*) FROM s%d.docs" % i).fetchone()[0]
                  for i in range(3)]
        check("attached: the shards hold all the rows, routed by rowid mod 3",
              counts, [len([r for r in rows if r["rowid"] % 3 == i]) for i in range(3)])
        nonempty = 0
        for q in qs:
            for k in (1, 10, 50, 400):
                want = db.execute(single_sql(), (q, k)).fetchall()
                nonempty += bool(want)
                check("attached, 3 shards: top-%d of %.40s" % (k, q),
                      db.execute(merged_sql(3), (q, k)).fetchall(), want)
            for bound in (0.3, 0.9):
                want = db.execute(single_sql(True), (q, 10, bound)).fetchall()
                check("attached, 3 shards: top-10 of %.40s with distance < %g" % (q, bound),
                      db.execute(merged_sql(3, True), (q, 10, bound)).fetchall(), want)
        check("attached: most queries have answers", nonempty >= 4 * (len(qs) - 1), True)
        # One shard holding every row: the same query over it alone.
        db.execute("DETACH s1")
        db.execute("DETACH s2")
        db.execute("DELETE FROM s0.docs")
        db.execute("INSERT INTO s0.docs(rowid, vector) SELECT rowid, vector FROM one.docs")
        for q in qs[:6]:
            check("attached, 1 shard: top-10 of %.40s" % q,
                  db.execute(merged_sql(1), (q, 10)).fetchall(),
                  db.execute(single_sql(), (q, 10)).fetchall())
    finally:
        db.close()
        for p in paths:
            if os.path.exists(p):
                os.unlink(p)


def tool(args, stdin=None, servers=()):
    cmd = [sys.executable, TOOL]
    for s in servers:
        cmd += ["-c", s]
    p = subprocess.run(cmd + args, input=stdin, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise cluster.ShellError("embed-shards %s: %s" % (args[0], p.stderr.strip()))
    return p.stdout


def test_dqlite(rng, dims, rows, qs):
    global skipped, failed
    why = cluster.available()
    if why:
        print("note: %s; the sharded dqlite test is skipped" % why)
        skipped += 1
        return
    ref = connect()
    ref.execute("CREATE VIRTUAL TABLE docs USING embed_index(quant=none)")
    insert(ref, "main", rows)
    try:
        with cluster.Scope(120, SCRATCH) as scope:
            shards = [scope.cluster(1, preload=AUTO, env={"SQLITE_EMBED_MODEL": MODEL},
                                    name="shard%d-" % i) for i in range(2)]
            servers = [",".join(n.addr for n in c) for c in shards]
            shells = [cluster.Shell(c, "embed", scope) for c in shards]
            for sh in shells:
                cluster.wait_until(lambda: sh.leader(), 30, "a leader")
                sh.run(["CREATE VIRTUAL TABLE docs USING embed_index(quant=none)"])
            out = tool(["insert", "docs"], "".join(json.dumps(r) + "\n" for r in rows), servers)
            want_counts = [len([r for r in rows if r["rowid"] % 2 == i]) for i in range(2)]
            check("dqlite: insert reports the rows per shard", out.strip(),
                  "inserted %d + %d rows" % tuple(want_counts))
            for i, sh in enumerate(shells):
                got = sh.query(["SELECT rowid FROM docs ORDER BY rowid"])[0]
                check("dqlite: shard %d holds exactly the rows rowid mod 2 = %d" % (i, i),
                      [int(r[0]) for r in got],
                      sorted(r["rowid"] for r in rows if r["rowid"] % 2 == i))
            for q in qs:
                for k in (1, 10, 50):
                    got = [(int(a), float(b)) for a, b in
                           (l.split("|") for l in tool(["search", "docs", str(k), q],
                                                       servers=servers).splitlines())]
                    want = ref.execute("SELECT rowid, distance FROM docs WHERE docs MATCH ?1 "
                                       "AND k = ?2", (q, k)).fetchall()
                    check("dqlite, 2 clusters: top-%d of %.40s" % (k, q), got, want)
            check("dqlite: route names the shard of a rowid",
                  [tool(["route", str(r)], servers=servers).strip() for r in (7, 8, -3)],
                  [servers[1], servers[0], servers[1]])
            # A deletion routed by the tool, then searched again.
            victim = int(tool(["search", "docs", "1", qs[4]], servers=servers).split("|")[0])
            sh = cluster.Shell([tool(["route", str(victim)], servers=servers).strip()], "embed")
            sh.run(["DELETE FROM docs WHERE rowid = %d" % victim])
            ref.execute("DELETE FROM docs WHERE rowid = ?", (victim,))
            got = [(int(a), float(b)) for a, b in
                   (l.split("|") for l in tool(["search", "docs", "10", qs[4]],
                                               servers=servers).splitlines())]
            check("dqlite, 2 clusters: top-10 after a routed delete", got, ref.execute(
                "SELECT rowid, distance FROM docs WHERE docs MATCH ?1 AND k = 10",
                (qs[4],)).fetchall())
    except (cluster.Timeout, cluster.ShellError, RuntimeError) as e:
        failed += 1
        print("FAIL sharded dqlite test: %s" % e)
    finally:
        ref.close()


def main():
    for p in (EXT + ".so", AUTO, MODEL):
        if not os.path.exists(p):
            print("FAIL: %s is missing (make builds it)" % p)
            print("0 passed, 1 failed")
            return 1
    os.environ["SQLITE_EMBED_MODEL"] = MODEL
    rng = random.Random(7)
    probe = connect()
    dims = probe.execute("SELECT length(embed('the')) / 4").fetchone()[0]
    probe.close()
    rows = make_rows(rng, dims)
    qs = queries(rng, dims, rows)
    test_attached(rng, dims, rows, qs)
    test_dqlite(rng, dims, rows, qs)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
