# types_bad.py: misuses mypy --strict must report, one on each line marked
# "error" (test/packages/run.sh counts).
import sqlite3

import sqlite_embed

sqlite_embed.load("notes.db")                          # error: not a connection
sqlite_embed.load(sqlite3.connect(":memory:"), 7)      # error: a model is a path
n: int = sqlite_embed.loadable_path()                  # error: a str
sqlite_embed.default_model_path("x")                   # error: no argument
