// node_test.mjs: sqlite-embed from Node.js through better-sqlite3.
//
//     BETTER_SQLITE3=build/clients/node_modules/better-sqlite3 \
//       node test/clients/node_test.mjs build/embed build/test/mini.emb
//
// BETTER_SQLITE3 is the package folder (test/clients/fetch-better-sqlite3.sh
// installs it into build/clients and prints it).  Prints a FAIL line per
// failing check and ends with "N passed, N failed"; exits 1 on any failure.
//
// HOW IT WORKS
// The same checks as python_test.py, the way a Node application would run
// them: db.loadExtension(), values bound as Buffer/string/number, blobs
// read back as Buffer and decoded with readFloatLE, errors caught as
// better-sqlite3's SqliteError and compared with the extension's exact
// message text.  better-sqlite3 brings its own SQLite (newer than
// Debian's), so this also checks the extension against another SQLite.
// The test model is loaded as 'mini'; references (cosine, brute-force
// top-k) are computed here in JavaScript from the returned blobs.  The
// last checks run one connection per worker thread, each loading the
// extension, as a server with a worker pool would.
import { createRequire } from 'node:module';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const Database = require(path.resolve(process.env.BETTER_SQLITE3));
const [EXT, MINI] = isMainThread ? process.argv.slice(2, 4) : workerData.args;

function connect(file = ':memory:') {
  const db = new Database(file);
  db.loadExtension(EXT);
  db.prepare("SELECT embed_load('mini', ?)").get(MINI);
  return db;
}
const one = (db, sql, ...params) => db.prepare(sql).pluck().get(...params);

const NOTES = [[10, 'the cat sat on the mat'], [20, 'a dog'], [30, 'new york'],
  [40, 'the cat and the dog'], [50, 'café'], [60, 'it is not'],
  [70, 'the dog sat on the cat'], [80, 'u.s. e-mail']];
const TEXTS = NOTES.flatMap(([, t]) => NOTES.map(([, u]) => `${t} ${u}`));
const NEAR = "SELECT group_concat(rowid) FROM (SELECT rowid FROM idx WHERE idx MATCH 'cat' AND k = 10)";

if (!isMainThread) {
  // A worker: its own connection to the file; embeddings as hex, the search.
  const db = connect(workerData.file);
  const hex = TEXTS.map((t) => one(db, "SELECT embed(?, NULL, 'mini')", t).toString('hex'));
  parentPort.postMessage({ hex, top: one(db, NEAR) });
  db.close();
} else {
  main().then((bad) => process.exit(bad ? 1 : 0));
}

async function main() {
  let passed = 0, failed = 0;
  const check = (name, got, want) => {
    if (JSON.stringify(got) === JSON.stringify(want)) passed++;
    else {
      failed++;
      console.log(`FAIL ${name}\n  expected: ${JSON.stringify(want)}\n  got:      ${JSON.stringify(got)}`);
    }
  };
  const checkError = (name, db, sql, params, want) => {
    let got = 'no error';
    try { db.prepare(sql).all(...params); }
    catch (e) { got = e instanceof Database.SqliteError ? e.message : `${e.name}: ${e.message}`; }
    check(name, got, want);
  };
  const floats = (b) => Array.from({ length: b.length / 4 }, (_, i) => b.readFloatLE(4 * i));
  const jsCosine = (a, b) => {
    let d = 0, na = 0, nb = 0;
    for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
    return na && nb ? d / Math.sqrt(na * nb) : null;
  };
  const close = (a, b, eps = 1e-6) => a !== null && b !== null && Math.abs(a - b) < eps;
  const f32 = (...xs) => { const b = Buffer.alloc(4 * xs.length); xs.forEach((x, i) => b.writeFloatLE(x, 4 * i)); return b; };
  // The k nearest [distance, rowid] of rows (Map rowid -> blob), ties by rowid.
  const reference = (q, k, rows) => [...rows]
    .map(([id, v]) => [jsCosine(floats(q), floats(v)), id])
    .filter(([c]) => c !== null).map(([c, id]) => [1 - c, id])
    .sort((x, y) => x[0] - y[0] || x[1] - y[1]).slice(0, k);

  const db = connect();

  // --- loading and embed() -------------------------------------------------
  check('embed_load returns the name', one(db, "SELECT embed_load('mini2', ?)", MINI), 'mini2');
  check('embed_models lists the model',
    db.prepare("SELECT dims, vocab_size, tokenizer FROM embed_models WHERE name = 'mini'").raw().get(),
    [4, 28, 'word']);
  const v = one(db, "SELECT embed('the cat sat', NULL, 'mini')");
  check('embed() is a Buffer', Buffer.isBuffer(v), true);
  check('embed() blob length = 4 dims x 4 bytes', v.length, 16);
  check('embed() is unit length', close(Math.hypot(...floats(v)), 1), true);
  check('embed(text, 2) blob length', one(db, "SELECT embed('the cat sat', 2, 'mini')").length, 8);
  check('embed() of NULL', one(db, "SELECT embed(NULL, NULL, 'mini')"), null);
  check('embed_tokens()', one(db, "SELECT embed_tokens('The cat sat.', 'mini')"), '[0,5,6,2]');

  const [a, b] = db.prepare("SELECT embed('the cat', NULL, 'mini'), embed('a dog sat on the mat', NULL, 'mini')").raw().get();
  const sqlCos = one(db, 'SELECT cosine(?, ?)', a, b);
  check("cosine() equals JavaScript's cosine of the blobs", close(sqlCos, jsCosine(floats(a), floats(b))), true);
  check('cosine() is a number', typeof sqlCos, 'number');

  const p = f32(1, -2, 0.5, 3), q = f32(-1, 1, 2, 0.25);
  check('cosine() of Buffers made in JS', close(one(db, 'SELECT cosine(?, ?)', p, q), jsCosine(floats(p), floats(q))), true);
  check('bquant() of a Buffer', one(db, 'SELECT bquant(?)', p), Buffer.from([0b1101]));
  check('hamming()', one(db, 'SELECT hamming(bquant(?), bquant(?))', p, q), 2);
  check('embed_json() reads back', one(db, 'SELECT embed_json(?)', p), '[1,-2,0.5,3]');
  check('JSON text in', one(db, 'SELECT bquant(?)', '[1, -2, 0.5, 3]'), Buffer.from([0b1101]));

  // --- errors, with the extension's exact text ------------------------------
  checkError('cosine() length mismatch', db, 'SELECT cosine(?, ?)', ['[1,2]', '[1]'],
    'cosine(): vectors differ in length (2 vs 1 dims)');
  checkError('bquant() odd blob', db, 'SELECT bquant(?)', [Buffer.from('abc')],
    'bquant(): vector blob of 3 bytes is not float32 (length not a multiple of 4)');
  checkError('embed() unknown model', db, "SELECT embed('cat', NULL, ?)", ['nope'],
    "embed(): no model named 'nope' (load one with embed_load('nope', 'PATH.emb'))");
  checkError('embed() dims out of range', db, "SELECT embed('cat', 9, 'mini')", [],
    "embed(): dims must be an integer from 1 to 4, not 9");
  checkError('embed_load() missing file', db, "SELECT embed_load('x', ?)", ['/nonexistent/x.emb'],
    "embed_load(): cannot open model '/nonexistent/x.emb': No such file or directory");
  let code = null;
  try { one(db, "SELECT cosine('[1]', '[1,2]')"); } catch (e) { code = e.code; }
  check('SqliteError code', code, 'SQLITE_ERROR');

  // --- embed_index: insert, search, against a brute-force reference -------
  db.exec('CREATE VIRTUAL TABLE notes USING embed_index(model=mini)');
  const ins = db.prepare('INSERT INTO notes(rowid, content) VALUES (?, ?)');
  db.transaction(() => { for (const [id, t] of NOTES) ins.run(id, t); })();
  db.prepare('INSERT INTO notes(rowid, vector) VALUES (?, ?)').run(90, p);
  check('rows inserted', one(db, 'SELECT count(*) FROM notes'), 9);
  check('content kept', one(db, 'SELECT content FROM notes WHERE rowid = 30'), 'new york');
  const vecs = new Map(db.prepare('SELECT rowid, vector FROM notes').raw().all());

  for (const text of ['cat', 'the dog', 'new york', 'sat on the mat']) {
    const qv = one(db, "SELECT embed(?, NULL, 'mini')", text);
    const got = db.prepare('SELECT rowid, distance FROM notes WHERE notes MATCH ? AND k = ?').raw().all(text, 4);
    const want = reference(qv, 4, vecs);
    check(`top-4 for '${text}': rowids`, got.map((r) => r[0]), want.map((r) => r[1]));
    check(`top-4 for '${text}': distances`, got.every((r, i) => close(r[1], want[i][0])), true);
  }
  check('MATCH a Buffer vector',
    db.prepare('SELECT rowid FROM notes WHERE notes MATCH ? AND k = 3').pluck().all(q),
    reference(q, 3, vecs).map((r) => r[1]));
  check('rowid IN filter',
    db.prepare("SELECT rowid FROM notes WHERE notes MATCH 'cat' AND k = 10 AND rowid IN (20, 40, 60)").pluck().all()
      .sort((x, y) => x - y), [20, 40, 60]);
  // a BigInt k, as safeIntegers() code binds it
  check('k as a BigInt', db.prepare("SELECT rowid FROM notes WHERE notes MATCH 'cat' AND k = ?").pluck().all(2n).length, 2);

  // a JS number binds as a REAL (better-sqlite3 binds BigInt as INTEGER)
  checkError('embed_index: k = 0', db, "SELECT rowid FROM notes WHERE notes MATCH 'cat' AND k = ?", [0],
    'embed_index: k must be from 1 to 10000, not 0.0');
  checkError('embed_index: k = 0n', db, "SELECT rowid FROM notes WHERE notes MATCH 'cat' AND k = ?", [0n],
    'embed_index: k must be from 1 to 10000, not 0');
  checkError('embed_index: no k', db, "SELECT rowid FROM notes WHERE notes MATCH 'cat'", [],
    "embed_index: a MATCH on 'notes' needs k, as in WHERE notes MATCH ... AND k = 10");
  checkError('embed_index: wrong dims', db, 'SELECT rowid FROM notes WHERE notes MATCH ? AND k = 1', ['[1,2,3]'],
    "embed_index: query vector has 3 dims, but 'notes' takes 4");

  // a transaction that throws rolls back the index's rows too
  try {
    db.transaction(() => { ins.run(100, 'cat'); throw new Error('abort'); })();
  } catch { /* expected */ }
  check('rolled-back row gone', one(db, 'SELECT count(*) FROM notes WHERE rowid = 100'), 0);
  check('search after rollback',
    db.prepare("SELECT rowid FROM notes WHERE notes MATCH 'cat' AND k = 2").pluck().all(),
    reference(one(db, "SELECT embed('cat', NULL, 'mini')"), 2, vecs).map((r) => r[1]));
  db.close();

  // --- several connections: one file, and one connection per worker -------
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'embed-node-'));
  try {
    const file = path.join(tmp, 'notes.db');
    const w = connect(file), r = connect(file);
    w.pragma('journal_mode = WAL');
    w.exec('CREATE VIRTUAL TABLE idx USING embed_index(model=mini)');
    const wins = w.prepare('INSERT INTO idx(rowid, content) VALUES (?, ?)');
    w.transaction(() => { for (const [id, t] of NOTES.slice(0, 4)) wins.run(id, t); })();
    const cat = one(w, "SELECT embed('cat', NULL, 'mini')");
    const rows = new Map(NOTES.slice(0, 4).map(([id, t]) => [id, one(w, "SELECT embed(?, NULL, 'mini')", t)]));
    const want4 = reference(cat, 10, rows).map((x) => x[1]).join(',');
    rows.set(5, cat);
    const want5 = reference(cat, 10, rows).map((x) => x[1]).join(',');
    check("reader sees the writer's commit", one(r, NEAR), want4);
    w.exec('BEGIN');
    wins.run(5, 'cat');
    check('reader does not see an uncommitted row', one(r, NEAR), want4);
    w.exec('COMMIT');
    check('reader sees it once committed', one(r, NEAR), want5);
    w.close(); r.close();

    const ref = connect();
    const want = TEXTS.map((t) => one(ref, "SELECT embed(?, NULL, 'mini')", t).toString('hex'));
    ref.close();
    const results = await Promise.all([0, 1, 2, 3].map(() => new Promise((resolve, reject) => {
      const wk = new Worker(new URL(import.meta.url), { workerData: { args: [EXT, MINI], file } });
      wk.once('message', resolve);
      wk.once('error', reject);
    })));
    check('4 worker threads, one connection each: same embeddings and search',
      results.map((x) => [JSON.stringify(x.hex) === JSON.stringify(want), x.top]),
      [0, 1, 2, 3].map(() => [true, want5]));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }

  console.log(`${passed} passed, ${failed} failed`);
  return failed;
}
