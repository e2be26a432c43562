/*
** sqlite-embed for Node: the extension (linux-x64) and its default model,
** loaded into a better-sqlite3 database.
**
**     const Database = require('better-sqlite3');
**     const sqliteEmbed = require('sqlite-embed');
**     const db = new Database(':memory:');
**     sqliteEmbed.load(db);
**     db.prepare("SELECT cosine(embed('a cat'), embed('a kitten'))").pluck().get();
**
** HOW IT WORKS
** The package carries lib/linux-x64/embed.so (the project's Makefile build,
** with no built-in model path) and default.emb (a copy of the project's
** models/default.emb), put there by `make npm-files` when it is packed.
** load(db) calls db.loadExtension() with the extension's path, then
** registers the packaged model as 'default' with embed_load(), unless
** $SQLITE_EMBED_MODEL names one (the extension loads that one itself).
** No dependencies: the SQLite client is the caller's; anything with
** better-sqlite3's loadExtension() and prepare().get() will do.  Errors are
** the client's own (better-sqlite3's SqliteError, with our message).
*/
'use strict';

const fs = require('fs');
const path = require('path');

const version = require('./package.json').version;

/* The extension's file for this platform; throws where there is none. */
function getLoadablePath() {
  const platform = `${process.platform}-${process.arch}`;
  const file = path.join(__dirname, 'lib', platform, 'embed.so');
  if (!fs.existsSync(file)) {
    throw new Error(`sqlite-embed: no build of the extension for ${platform} ` +
                    '(this package carries linux-x64 only)');
  }
  return file;
}

/* The model file that travels in the package. */
function getDefaultModelPath() {
  return path.join(__dirname, 'default.emb');
}

/*
** Load the extension into db and give it a 'default' model: options.model
** when given, else $SQLITE_EMBED_MODEL when set, else the packaged one.
*/
function load(db, options) {
  const model = options && options.model;
  db.loadExtension(getLoadablePath());
  if (model == null && process.env.SQLITE_EMBED_MODEL) return;
  db.prepare("SELECT embed_load('default', ?)").get(model == null ? getDefaultModelPath() : String(model));
}

module.exports = { load, getLoadablePath, getDefaultModelPath, version };
