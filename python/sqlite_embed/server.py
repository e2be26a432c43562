"""sqlite_embed.server: a small HTTP server over the extension, on the
standard library: embeddings, top-k search of an embed_index, and
embed_metrics() for Prometheus.

    python3 -m sqlite_embed serve --db notes.db --port 8000
    curl -s localhost:8000/embed -d '{"texts": ["a cat", "a dog"]}'
    #   {"vectors": [[0.0123, ...], [...]]}
    curl -s 'localhost:8000/search?index=notes&q=kitten&k=3'
    #   {"rows": [{"rowid": 3, "distance": 0.39, "content": "..."}, ...]}
    curl -s localhost:8000/metrics      # Prometheus text format 0.0.4

HOW IT WORKS
A ThreadingHTTPServer runs each client connection on a thread of its own,
and each such thread opens its own SQLite connection (the database read-only,
or an empty in-memory one without --db) with the extension and the model
loaded, used by that thread only and closed with the client connection.
The model file is mapped once per process, and embed_metrics()' counters
are per process, so every connection's work shows in /metrics.

Every input is checked before it reaches SQL: the body's size and JSON
shape, the query string's parameters, k's range.  The index name is looked
up in sqlite_schema by value and then quoted as an identifier, never
formatted into SQL as it came.  A bad request gets a 4xx status with
{"error": "..."}; anything unexpected gets a 500 with the same shape and
its traceback goes to the server's log, never to the client.
"""
from __future__ import annotations

import json
import pathlib
import re
import sqlite3
import sys
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Optional, Set, Tuple

from . import __version__, load

MAX_BODY = 4 << 20        # bytes of a POST /embed body
MAX_TEXTS = 10000         # texts in one POST /embed
MAX_K = 10000             # embed_index's own limit on k
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_USING_EMBED_INDEX = re.compile(r"\busing\s+embed_index\b", re.IGNORECASE)


class RequestError(Exception):
    """A request the server refuses: an HTTP status and a message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def quote_identifier(name: str) -> str:
    """name as an SQL identifier: in double quotes, inner quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


class EmbedServer(ThreadingHTTPServer):
    """The server: where the database and the model are, and how to open a
    connection to them (open_connection(), called once per thread)."""

    daemon_threads = True

    def __init__(self, address: Tuple[str, int], db: Optional[str] = None,
                 model: Optional[str] = None, quiet: bool = False) -> None:
        self.db_path = db
        self.model = model
        self.quiet = quiet
        # Fail now, not at the first request, when the database or the
        # model cannot be opened: OSError or sqlite3.Error, with the reason.
        # The connection stays open while the server runs, so the model stays
        # mapped between clients (each thread's connection finds it in the
        # process's registry).
        self.keeper = self.open_connection()
        try:
            # a --db that is not a database fails here ("file is not a database")
            self.keeper.execute("SELECT count(*) FROM sqlite_schema").fetchone()
            row = self.keeper.execute(
                "SELECT dims FROM embed_models WHERE name = 'default'").fetchone()
            if row is None:
                # embed() says why there is none (SQLITE_EMBED_MODEL broken...)
                self.keeper.execute("SELECT embed('')").fetchone()
                raise sqlite3.OperationalError("no default model (give --model PATH)")
            try:
                super().__init__(address, Handler)
            except OSError as e:
                raise OSError(f"cannot listen on {address[0]}:{address[1]}: "
                              f"{e.strerror or e}") from None
        except BaseException:
            self.keeper.close()
            raise

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up or went silent is not the server's fault:
        # one line, not a traceback.  Anything else: socketserver's report.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            if not self.quiet:
                sys.stderr.write(f"{client_address[0]} - - client gone: {exc}\n")
            return
        super().handle_error(request, client_address)

    def server_close(self) -> None:
        super().server_close()
        self.keeper.close()

    def open_connection(self) -> sqlite3.Connection:
        """A new connection with the extension and the model loaded; the
        caller closes it.  Raises OSError for a --db that is not a file,
        sqlite3.Error when SQLite or the extension refuses."""
        if self.db_path is None:
            conn = sqlite3.connect(":memory:")
        else:
            path = pathlib.Path(self.db_path).resolve()
            if not path.is_file():
                raise OSError(f"--db '{self.db_path}': no such database file")
            conn = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True)
        try:
            load(conn, self.model)
        except BaseException:
            conn.close()
            raise
        return conn


class Handler(BaseHTTPRequestHandler):
    """One client connection (and so one thread): its requests, in turn."""

    server: EmbedServer
    protocol_version = "HTTP/1.1"          # keep-alive: one connection, many requests
    server_version = "sqlite-embed/" + __version__
    timeout = 60                           # seconds a silent client may hold its thread

    def setup(self) -> None:
        super().setup()
        self.conn: Optional[sqlite3.Connection] = None

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self.conn is not None:
                self.conn.close()
                self.conn = None

    def db(self) -> sqlite3.Connection:
        """This thread's connection, opened at its first request."""
        if self.conn is None:
            try:
                self.conn = self.server.open_connection()
            except (OSError, sqlite3.Error) as e:
                raise RequestError(503, f"cannot open the database: {e}") from None
        return self.conn

    # --- routing ---------------------------------------------------------

    def do_GET(self) -> None:
        self.dispatch({"/search": self.get_search, "/metrics": self.get_metrics,
                       "/": self.get_root}, "GET")

    def do_POST(self) -> None:
        self.dispatch({"/embed": self.post_embed}, "POST")

    def __getattr__(self, name: str) -> Callable[[], None]:
        # Any other method (do_PUT, do_HEAD, do_FOO...): 405, not http.server's 501.
        if name.startswith("do_"):
            return self.method_not_allowed
        raise AttributeError(name)

    def method_not_allowed(self) -> None:
        self.dispatch({}, self.command)

    ROUTES = {"/embed": "POST", "/search": "GET", "/metrics": "GET", "/": "GET"}

    def dispatch(self, routes: Dict[str, Callable[[], None]], method: str) -> None:
        path = urllib.parse.urlsplit(self.path).path
        try:
            if path in routes:
                routes[path]()
            else:
                if self.has_body():
                    self.close_connection = True      # a body we will not read
                if path in self.ROUTES:
                    raise RequestError(405, f"{method} {path}: use {self.ROUTES[path]}")
                raise RequestError(404, f"no such path '{path}' (try /embed, /search, /metrics)")
        except RequestError as e:
            self.send_json(e.status, {"error": e.message})
        except Exception:
            self.log_error("internal error on %s %s:\n%s", method, self.path,
                           traceback.format_exc())
            self.close_connection = True
            self.send_json(500, {"error": "internal error (see the server's log)"})

    # --- endpoints -------------------------------------------------------

    def get_root(self) -> None:
        self.query_params(set())
        self.send_json(200, {"name": "sqlite-embed", "version": __version__,
                             "endpoints": ["POST /embed", "GET /search", "GET /metrics"]})

    def post_embed(self) -> None:
        """POST /embed {"texts": [TEXT, ...]} -> {"vectors": [[...], ...]},
        each vector embed(TEXT) with the default model, as embed_json()
        writes it (the shortest decimal form of each float32)."""
        self.query_params(set())
        body = self.read_body()
        try:
            req = json.loads(body)
        except RecursionError:
            raise RequestError(400, "the body is nested too deeply") from None
        except ValueError as e:
            raise RequestError(400, f"the body is not JSON: {e}") from None
        if not isinstance(req, dict):
            raise RequestError(400, 'the body must be a JSON object: {"texts": [...]}')
        extra = sorted(set(req) - {"texts"})
        if extra:
            raise RequestError(400, f"unknown key '{extra[0]}' (only \"texts\")")
        texts = req.get("texts")
        if not isinstance(texts, list):
            raise RequestError(400, '"texts" must be a list of strings')
        if len(texts) > MAX_TEXTS:
            raise RequestError(413, f'"texts" has {len(texts)} items (at most {MAX_TEXTS})')
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise RequestError(400, f'"texts"[{i}] is {json_type(t)}, not a string')
            try:
                t.encode("utf-8")
            except UnicodeEncodeError:
                raise RequestError(400, f'"texts"[{i}] is not valid Unicode '
                                   '(a lone surrogate escape)') from None
        db = self.db()
        rows = [db.execute("SELECT embed_json(embed(?))", (t,)).fetchone()[0]
                for t in texts]
        self.send_raw(200, "application/json",
                      ('{"vectors": [' + ", ".join(rows) + "]}").encode())

    def get_search(self) -> None:
        """GET /search?index=NAME&q=TEXT[&k=N] -> {"rows": [{"rowid",
        "distance", "content"}, ...]}: the k (default 10) rows of the
        embed_index NAME nearest to q, nearest first.  q is text, or a
        vector as JSON text starting with '['."""
        params = self.query_params({"index", "q", "k"})
        name = params.get("index")
        q = params.get("q")
        if not name:
            raise RequestError(400, "search: give index=NAME")
        if q is None or q == "":
            raise RequestError(400, "search: give q=TEXT")
        k = parse_k(params.get("k", "10"))
        db = self.db()
        # The name is looked up as a value; the SQL gets the stored name, quoted.
        row = db.execute("SELECT name, sql FROM sqlite_schema WHERE type = 'table' "
                         "AND name = ? COLLATE NOCASE", (name,)).fetchone()
        if row is None or not row[1] or not _USING_EMBED_INDEX.search(row[1]):
            raise RequestError(404, f"search: no embed_index named '{name}'")
        sql = (f"SELECT rowid, distance, content FROM {quote_identifier(row[0])} "
               "WHERE content MATCH ? AND k = ?")
        try:
            found = db.execute(sql, (q, k)).fetchall()
        except sqlite3.Error as e:
            raise RequestError(400, f"search: {e}") from None
        self.send_json(200, {"rows": [{"rowid": r, "distance": d, "content": c}
                                      for r, d, c in found]})

    def get_metrics(self) -> None:
        """GET /metrics: embed_metrics(), Prometheus' text format."""
        self.query_params(set())
        text = self.db().execute("SELECT embed_metrics()").fetchone()[0]
        self.send_raw(200, METRICS_TYPE, text.encode())

    # --- reading requests ------------------------------------------------

    def has_body(self) -> bool:
        return bool(self.headers.get("Transfer-Encoding")) or \
            self.headers.get("Content-Length", "0") not in ("", "0")

    def query_params(self, allowed: Set[str]) -> Dict[str, str]:
        """The query string as a dict, each of `allowed` at most once and
        nothing else; RequestError otherwise."""
        query = urllib.parse.urlsplit(self.path).query
        try:
            pairs = urllib.parse.parse_qsl(query, keep_blank_values=True,
                                           strict_parsing=bool(query), errors="strict",
                                           max_num_fields=len(allowed) + 1)
        except (ValueError, UnicodeDecodeError) as e:
            raise RequestError(400, f"bad query string: {e}") from None
        out: Dict[str, str] = {}
        for key, value in pairs:
            if key not in allowed:
                raise RequestError(400, f"unknown parameter '{key}'")
            if key in out:
                raise RequestError(400, f"parameter '{key}' given twice")
            out[key] = value
        return out

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise RequestError(411, "send a Content-Length, not Transfer-Encoding")
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            raise RequestError(411, "a Content-Length is required")
        if not length.isdigit():
            self.close_connection = True
            raise RequestError(400, f"bad Content-Length '{length}'")
        n = int(length)
        if n > MAX_BODY:
            self.close_connection = True
            raise RequestError(413, f"the body is {n} bytes (at most {MAX_BODY})")
        body = self.rfile.read(n)
        if len(body) != n:
            self.close_connection = True
            raise RequestError(400, f"the body ended after {len(body)} of {n} bytes")
        return body

    # --- writing answers -------------------------------------------------

    def send_json(self, status: int, obj: Any) -> None:
        self.send_raw(status, "application/json", json.dumps(obj).encode())

    def send_raw(self, status: int, ctype: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def send_error(self, code: int, message: Optional[str] = None,
                   explain: Optional[str] = None) -> None:
        # http.server's own refusals (bad request line, headers too long...),
        # as JSON like ours.  Refused before its version was read, a request
        # still gets a status line and headers (not HTTP/0.9's bare body).
        if self.request_version == "HTTP/0.9":
            self.request_version = "HTTP/1.0"
        self.close_connection = True
        text = message or self.responses.get(code, ("error",))[0]
        self.send_json(code, {"error": text})

    def log_message(self, format: str, *args: Any) -> None:
        # One line a request on stderr, unless --quiet.
        if not self.server.quiet:
            super().log_message(format, *args)

    def log_error(self, format: str, *args: Any) -> None:
        # Errors are logged even with --quiet.
        sys.stderr.write("%s - - [%s] %s\n" % (self.address_string(),
                         self.log_date_time_string(), format % args))


def parse_k(text: str) -> int:
    """k as an integer from 1 to MAX_K; RequestError otherwise."""
    if not re.fullmatch(r"[0-9]{1,6}", text) or not 1 <= int(text) <= MAX_K:
        raise RequestError(400, f"search: k must be a whole number from 1 to {MAX_K}, not '{text}'")
    return int(text)


def json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def serve(db: Optional[str] = None, host: str = "127.0.0.1", port: int = 8000,
          model: Optional[str] = None, quiet: bool = False,
          ready: Optional[Callable[[EmbedServer], None]] = None) -> None:
    """Serve until interrupted.  ready(server), when given, is called once
    the socket listens (server.server_address has the port, also when
    port 0 asked the system for a free one)."""
    server = EmbedServer((host, port), db=db, model=model, quiet=quiet)
    try:
        if ready is not None:
            ready(server)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
