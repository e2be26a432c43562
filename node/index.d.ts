// sqlite-embed: TypeScript declarations of index.js.

/** Any SQLite client with better-sqlite3's loadExtension() and prepare().get(). */
export interface ExtensionHost {
  loadExtension(path: string, entryPoint?: string): unknown;
  prepare(source: string): { get(...params: unknown[]): unknown };
}

export interface LoadOptions {
  /** A model file to register as 'default' instead of the packaged one. */
  model?: string;
}

/**
 * Load the extension into db and give it a 'default' model: options.model
 * when given, else $SQLITE_EMBED_MODEL when set, else the packaged one.
 * Throws the client's own error (better-sqlite3's SqliteError) on failure.
 */
export declare function load(db: ExtensionHost, options?: LoadOptions): void;

/** The path of the extension's file for this platform (linux-x64 only). */
export declare function getLoadablePath(): string;

/** The path of the model file that travels in the package. */
export declare function getDefaultModelPath(): string;

/** The package's version (the extension's SQLITE_EMBED_VERSION). */
export declare const version: string;
