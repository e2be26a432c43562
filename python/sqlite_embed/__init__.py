"""sqlite_embed: the sqlite-embed extension and its default model, for
Python's sqlite3 module.

    import sqlite3, sqlite_embed

    db = sqlite3.connect(":memory:")
    sqlite_embed.load(db)
    db.execute("SELECT cosine(embed('a cat'), embed('a kitten'))").fetchone()

HOW IT WORKS
The package carries the extension built by the project's Makefile
(``embed.so``, compiled with no built-in model path) and a copy of the
project's ``models/default.emb``, both beside this file.  ``load()`` loads
the extension into a connection, then registers the packaged model as
``default`` with ``embed_load()``, unless ``$SQLITE_EMBED_MODEL`` names one
(the extension itself loads that one, as everywhere) or ``model=`` is
given.  Errors stay ``sqlite3`` exceptions.  Only the standard library is
used.
"""
from __future__ import annotations

import os
import sqlite3
from typing import Optional, Union

__all__ = ["load", "loadable_path", "default_model_path", "__version__"]
__version__ = "0.1.0"

_HERE = os.path.dirname(os.path.abspath(__file__))

PathLike = Union[str, "os.PathLike[str]"]


def loadable_path() -> str:
    """The extension's path without its ".so" suffix, as SQLite's
    load_extension() takes it (SQLite adds the suffix and derives the entry
    point, sqlite3_embed_init, from the name)."""
    return os.path.join(_HERE, "embed")


def default_model_path() -> str:
    """The path of the model file that travels in the package."""
    return os.path.join(_HERE, "default.emb")


def load(conn: sqlite3.Connection, model: Optional[PathLike] = None) -> None:
    """Load the extension into ``conn`` and give it a ``default`` model.

    The default model is ``model`` when given, else the file named by
    ``$SQLITE_EMBED_MODEL`` when that is set, else the packaged one
    (default_model_path()).  Loading extensions is enabled for the call and
    disabled again afterwards.

    Raises sqlite3.NotSupportedError when this Python's sqlite3 module was
    built without extension loading, and sqlite3.OperationalError when the
    extension or the model cannot be loaded (the message says why).
    """
    if not hasattr(conn, "enable_load_extension"):
        raise sqlite3.NotSupportedError(
            "sqlite_embed.load(): this Python's sqlite3 module cannot load "
            "extensions (built without SQLITE_ENABLE_LOAD_EXTENSION); use "
            "one that can, such as Debian's /usr/bin/python3")
    conn.enable_load_extension(True)
    try:
        conn.load_extension(loadable_path())
    finally:
        conn.enable_load_extension(False)
    if model is not None:
        path = os.fspath(model)
    elif os.environ.get("SQLITE_EMBED_MODEL"):
        return
    else:
        path = default_model_path()
    conn.execute("SELECT embed_load('default', ?)", (path,)).fetchone()
