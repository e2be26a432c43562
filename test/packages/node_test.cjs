/*
** node_test.cjs: the npm package sqlite-embed, installed from its packed
** tarball into a fresh project, used with better-sqlite3 from there.
**
**     cd PROJECT && node node_test.cjs REPO MINI.emb    # run.sh copies it there
**
** REPO is the source tree (its version, models/default.emb, build/embed.so
** for the shell's vectors); MINI.emb a second model.  Prints "N passed,
** N failed".
**
** HOW IT WORKS
** require('sqlite-embed') and require('better-sqlite3') resolve from the
** project's node_modules.  Checks the installed package.json (no
** dependencies of any kind, no install scripts), the exports, that the
** packaged model is the repository's models/default.emb byte for byte and
** is the default with SQLITE_EMBED_MODEL unset, that SQLITE_EMBED_MODEL and
** options.model take precedence, that vectors equal the sqlite3 shell's with
** the repository's build, an embed_index search, errors as better-sqlite3's
** SqliteError with the extension's text, and getLoadablePath() on a platform
** the package does not carry.
*/
'use strict';
const assert = require('assert');
const childProcess = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const [repo, mini] = process.argv.slice(2);
delete process.env.SQLITE_EMBED_MODEL;
let passed = 0, failed = 0;
function check(what, fn) {
  try { fn(); passed++; } catch (e) { failed++; console.log(`FAIL: node package: ${what}: ${e.message}`); }
}
function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

const proj = process.cwd();
const Database = require('better-sqlite3');
const sqliteEmbed = require('sqlite-embed');
const pkgDir = path.dirname(require.resolve('sqlite-embed/package.json'));
const header = fs.readFileSync(path.join(repo, 'include', 'sqlite-embed.h'), 'utf8');
const version = /SQLITE_EMBED_VERSION\s+"([^"]+)"/.exec(header)[1];

check('resolved from the project', () => assert.strictEqual(pkgDir, path.join(proj, 'node_modules', 'sqlite-embed')));
check('the project is outside the repository', () => assert.ok(!proj.startsWith(path.resolve(repo))));
check('exports load, getLoadablePath, getDefaultModelPath, version', () =>
  assert.deepStrictEqual(Object.keys(sqliteEmbed).sort(), ['getDefaultModelPath', 'getLoadablePath', 'load', 'version']));
check('version is the header\'s', () => assert.strictEqual(sqliteEmbed.version, version));
const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
check('no dependencies of its own', () => {
  for (const k of ['dependencies', 'peerDependencies', 'optionalDependencies', 'bundleDependencies', 'bundledDependencies']) {
    assert.ok(!pkg[k] || Object.keys(pkg[k]).length === 0, `${k}: ${JSON.stringify(pkg[k])}`);
  }
});
check('no install scripts', () => {
  for (const k of ['preinstall', 'install', 'postinstall']) assert.ok(!(pkg.scripts || {})[k], k);
});
check('types point at index.d.ts, which is installed', () => {
  assert.strictEqual(pkg.types, 'index.d.ts');
  assert.ok(fs.existsSync(path.join(pkgDir, 'index.d.ts')));
});

const so = sqliteEmbed.getLoadablePath();
const model = sqliteEmbed.getDefaultModelPath();
check('getLoadablePath() is the package\'s lib/linux-x64/embed.so', () => {
  assert.strictEqual(so, path.join(pkgDir, 'lib', 'linux-x64', 'embed.so'));
  assert.ok(fs.statSync(so).isFile());
});
check('getDefaultModelPath() is in the package', () => assert.strictEqual(model, path.join(pkgDir, 'default.emb')));
check('the packaged model is models/default.emb, byte for byte', () =>
  assert.strictEqual(sha256(model), sha256(path.join(repo, 'models', 'default.emb'))));
check('the packaged extension has no built-in model path', () =>
  assert.ok(!fs.readFileSync(so).includes(path.join(path.resolve(repo), 'models', 'default.emb'))));

function models(db) { return db.prepare('SELECT name, path FROM embed_models').all(); }

const sentences = ['the cat sat on the mat', 'Stock markets fell sharply today!', 'zzqx'];
let ours = [];
check('load(db): the packaged model is the default', () => {
  const db = new Database(':memory:');
  sqliteEmbed.load(db);
  assert.deepStrictEqual(models(db), [{ name: 'default', path: model }]);
  ours = sentences.map((s) => db.prepare('SELECT embed_json(embed(?))').pluck().get(s));
  db.close();
});
check('vectors equal the sqlite3 shell\'s with build/embed.so', () => {
  const out = childProcess.execFileSync('sqlite3', ['-batch', ':memory:', `.load ${path.join(repo, 'build', 'embed')}`,
    ...sentences.map((s) => `SELECT embed_json(embed('${s.replace(/'/g, "''")}'));`)],
  { env: { ...process.env, SQLITE_EMBED_MODEL: path.join(repo, 'models', 'default.emb') }, encoding: 'utf8' });
  assert.deepStrictEqual(out.split('\n').slice(0, 3), ours);
});
check('an embed_index search', () => {
  const db = new Database(':memory:');
  sqliteEmbed.load(db);
  db.exec('CREATE VIRTUAL TABLE notes USING embed_index()');
  const ins = db.prepare('INSERT INTO notes(rowid, content) VALUES (?, ?)');
  db.transaction(() => {
    ins.run(1, 'the cat sat on the mat');
    ins.run(2, 'stock markets fell sharply today');
    ins.run(3, 'a kitten is playing with yarn');
  })();
  const rows = db.prepare('SELECT rowid FROM notes WHERE notes MATCH ? AND k = ?').pluck().all('cats and kittens', 2n);
  const brute = db.prepare(`SELECT id FROM notes_data ORDER BY 1 - cosine(vector, embed('cats and kittens')), id LIMIT 2`).pluck().all();
  assert.deepStrictEqual(rows, brute);
  db.close();
});
check('SQLITE_EMBED_MODEL is the default when set', () => {
  process.env.SQLITE_EMBED_MODEL = mini;
  try {
    const db = new Database(':memory:');
    sqliteEmbed.load(db);
    assert.deepStrictEqual(models(db), [{ name: 'default', path: mini }]);
    db.close();
  } finally { delete process.env.SQLITE_EMBED_MODEL; }
});
check('options.model beats SQLITE_EMBED_MODEL', () => {
  process.env.SQLITE_EMBED_MODEL = mini;
  try {
    const db = new Database(':memory:');
    sqliteEmbed.load(db, { model });
    assert.deepStrictEqual(models(db), [{ name: 'default', path: model }]);
    db.close();
  } finally { delete process.env.SQLITE_EMBED_MODEL; }
});
check('a missing model is a SqliteError naming it', () => {
  const db = new Database(':memory:');
  assert.throws(() => sqliteEmbed.load(db, { model: '/nonexistent/y.emb' }),
    (e) => e.name === 'SqliteError' && e.message.startsWith('embed_load(): ') && e.message.includes('/nonexistent/y.emb'));
  db.close();
});
check('SQL errors are SqliteErrors with our text', () => {
  const db = new Database(':memory:');
  sqliteEmbed.load(db);
  assert.throws(() => db.prepare("SELECT cosine(embed('a'), '[1, 2]')").get(),
    (e) => e.name === 'SqliteError' && /^cosine\(\): vectors differ in length/.test(e.message));
  db.close();
});
check('getLoadablePath() elsewhere than linux-x64 says so', () => {
  const real = Object.getOwnPropertyDescriptor(process, 'platform');
  Object.defineProperty(process, 'platform', { value: 'darwin' });
  try {
    assert.throws(() => sqliteEmbed.getLoadablePath(), /no build of the extension for darwin-x64/);
  } finally { Object.defineProperty(process, 'platform', real); }
});

console.log(`${passed} passed, ${failed} failed (node package)`);
process.exitCode = failed ? 1 : 0;
