# types_ok.py: uses of the Python package's type hints that must pass
# mypy --strict (test/packages/run.sh).
import sqlite3

import sqlite_embed

db = sqlite3.connect(":memory:")
sqlite_embed.load(db)
sqlite_embed.load(db, "/models/other.emb")
paths: list[str] = [sqlite_embed.loadable_path(), sqlite_embed.default_model_path(),
                    sqlite_embed.__version__]
