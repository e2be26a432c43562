#!/usr/bin/python3
"""vec_neighbours.py: embed_index and sqlite-vec's vec0 find the same
neighbours for vectors that embed() and bquant() make.

    /usr/bin/python3 test/clients/vec_neighbours.py build/embed VEC0.so \\
        models/default.emb ../shared/data/stsb_sentences.txt

Prints a FAIL line per failing check, a note on how many float top-10
lists came out in the very same order, and "N passed, N failed"; exits 1
on any failure.

HOW IT WORKS
One connection loads both extensions and the default model
(potion-base-4M-int8, 128 dims) as 'm'.  400 STS-B sentences become
rows; embed(text, 96) truncates
them to 96 dims, a multiple of 8 as vec0's bit[] columns need.  The same
vectors go into
  ix  embed_index(model=m, dims=96, quant=none)   (embedded from content)
  vf  vec0(v float[96] distance_metric=cosine)         (the embed() blobs)
  vb  vec0(c bit[96])                                  (vec_bit(bquant(v)))
and 50 other sentences are the queries.  For each:
  - ix's top-10 must equal plain SQL's ORDER BY 1 - cosine(v, q), rowid;
  - vf's top-10 must have the same distances (within 1e-5; the two compute
    in different orders) and the same ids in the same order, except where
    two rows' exact distances tie within 1e-5 (then either order is right);
  - vb's hamming top-10 must have exactly the distances of a brute-force
    ORDER BY hamming(bquant(v), bquant(q)) and, within each distance, the
    same ids (where the 10th distance is shared past the 10th row, any of
    the rows at that distance).
Rows whose vector has zero norm (no known word) are left out: they have no
direction and embed_index never returns them.
"""
import sqlite3
import sys

EXT, VEC0, MODEL, SENTENCES = sys.argv[1:5]
DIMS, NROWS, NQUERIES, K, EPS = 96, 400, 50, 10, 1e-5
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}" + (f"\n  {detail}" if detail else ""))


with open(SENTENCES, encoding="utf-8") as f:
    lines = [s.strip() for s in f if s.strip()]
rows, queries = lines[:NROWS], lines[NROWS:NROWS + NQUERIES]

db = sqlite3.connect(":memory:")
db.enable_load_extension(True)
db.load_extension(EXT)
db.load_extension(VEC0)
db.execute("SELECT embed_load('m', ?)", (MODEL,))

db.execute("CREATE TABLE s(id INTEGER PRIMARY KEY, t TEXT, v BLOB)")
db.executemany("INSERT INTO s(id, t, v) VALUES (?, ?, embed(?2, ?3, 'm'))",
               [(i + 1, t, DIMS) for i, t in enumerate(rows)])
db.execute("DELETE FROM s WHERE cosine(v, v) IS NULL")
n = db.execute("SELECT count(*) FROM s").fetchone()[0]
check("a few hundred rows with a direction", n > 300, f"{n} rows")

db.execute(f"CREATE VIRTUAL TABLE ix USING embed_index(model=m, dims={DIMS}, quant=none)")
db.execute("INSERT INTO ix(rowid, content) SELECT id, t FROM s")
db.execute(f"CREATE VIRTUAL TABLE vf USING vec0(v float[{DIMS}] distance_metric=cosine)")
db.execute("INSERT INTO vf(rowid, v) SELECT id, v FROM s")
db.execute(f"CREATE VIRTUAL TABLE vb USING vec0(c bit[{DIMS}])")
db.execute("INSERT INTO vb(rowid, c) SELECT id, vec_bit(bquant(v)) FROM s")
check("embed_index embeds content as embed(text, 96) does",
      db.execute("SELECT count(*) FROM s JOIN ix ON ix.rowid = s.id "
                 "WHERE ix.vector IS NOT s.v").fetchone()[0] == 0)
check("vec0 holds the embed() blobs unchanged",
      db.execute("SELECT count(*) FROM s JOIN vf ON vf.rowid = s.id "
                 "WHERE vf.v IS NOT s.v").fetchone()[0] == 0)

same_order = 0
for qi, text in enumerate(queries):
    qv = db.execute("SELECT embed(?, ?, 'm')", (text, DIMS)).fetchone()[0]
    truth = db.execute("SELECT id, 1 - cosine(v, ?) AS d FROM s ORDER BY d, id", (qv,)).fetchall()
    true_d = dict(truth)
    ours = db.execute("SELECT rowid, distance FROM ix WHERE ix MATCH ? AND k = ?",
                      (qv, K)).fetchall()
    check(f"query {qi}: embed_index = ORDER BY 1 - cosine()", ours == truth[:K],
          f"{ours} vs {truth[:K]}")

    theirs = db.execute("SELECT rowid, distance FROM vf WHERE v MATCH ? AND k = ?",
                        (qv, K)).fetchall()
    bad = [i for i in range(K)
           if i >= len(theirs)
           or abs(theirs[i][1] - ours[i][1]) >= EPS
           or (theirs[i][0] != ours[i][0]
               and abs(true_d[theirs[i][0]] - ours[i][1]) >= EPS)]
    check(f"query {qi} ({text!r}): vec0 float top-10 = embed_index top-10, ties aside",
          not bad and len({r for r, _ in theirs}) == K,
          f"positions {bad}: vec0 {theirs} vs embed_index {ours}")
    same_order += [r for r, _ in theirs] == [r for r, _ in ours]

    qb = db.execute("SELECT bquant(?)", (qv,)).fetchone()[0]
    brute = db.execute("SELECT id, hamming(bquant(v), ?) AS d FROM s ORDER BY d, id",
                       (qb,)).fetchall()
    got = db.execute("SELECT rowid, distance FROM vb WHERE c MATCH vec_bit(?) AND k = ?",
                     (qb, K)).fetchall()
    ok = [int(d) for _, d in got] == [d for _, d in brute[:K]]
    for d in {d for _, d in got}:
        mine = {r for r, e in got if e == d}
        want = {r for r, e in brute if e == d}
        if d == brute[K - 1][1]:
            ok = ok and mine <= want       # the boundary: any rows at d
        else:
            ok = ok and mine == want
    check(f"query {qi}: vec0 bit[96] hamming top-10 = hamming(bquant()) brute force",
          ok, f"vec0 {got} vs brute force {brute[:K]}")

print(f"note: {same_order} of {len(queries)} vec0 float top-10 lists in exactly embed_index's order")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
