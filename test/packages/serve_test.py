"""serve_test.py: `python3 -m sqlite_embed serve` over real HTTP, from the
installed package: answers checked against the same SQL run in this
process, and every kind of bad request.

    VENV/bin/python test/packages/serve_test.py SCRATCH_DIR

Prints "N passed, N failed".

HOW IT WORKS
Makes a database in SCRATCH_DIR with embed_index tables (one with a quote
in its name) and an ordinary table, starts the server on it (port 0) as a
child process, and checks: /embed's vectors equal embed_json(embed(text))
computed here, one by one and from 8 threads at once over kept-alive
connections; /search's rows equal the same top-k query run here; /metrics'
content type, and that its embed_calls_total is the number of texts this
test had embedded; then some 40 malformed or hostile requests (bad JSON,
wrong shapes, lone surrogates, deep nesting, sizes, methods, paths, query
strings, k out of range, identifiers with quotes, garbage request lines),
each of which must get its 4xx (505 for an HTTP/2.0 request line) with a
JSON {"error": ...} and no traceback, changing nothing.  The server is
stopped at the end, also on failure.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import sqlite3
import sys
import threading
import urllib.parse
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checks, start_server, stop  # noqa: E402

import sqlite_embed  # noqa: E402

scratch = sys.argv[1]
c = Checks("serve")
db_path = os.path.join(scratch, "notes.db")
NOTES = ["the cat sat on the mat", "stock markets fell sharply today",
         "a kitten is playing with yarn", "rain is expected tomorrow",
         "the dog chased the cat", "interest rates rose again"]
WEIRD = 'my "odd" notes'

db = sqlite3.connect(db_path)
sqlite_embed.load(db)
db.execute("CREATE VIRTUAL TABLE notes USING embed_index()")
db.execute(f'CREATE VIRTUAL TABLE "{WEIRD.replace(chr(34), chr(34) * 2)}" USING embed_index()')
db.execute("CREATE TABLE plain(x)")
for i, text in enumerate(NOTES, 1):
    db.execute("INSERT INTO notes(rowid, content) VALUES (?, ?)", (i, text))
    db.execute(f'INSERT INTO "{WEIRD.replace(chr(34), chr(34) * 2)}"(rowid, content) '
               "VALUES (?, ?)", (i * 10, text))
db.commit()
db.close()
# This process's own connection, for the answers the server's must equal;
# used by the client threads too, one at a time.
local = sqlite3.connect(db_path, check_same_thread=False)
sqlite_embed.load(local)
local_lock = threading.Lock()


def embed_local(text: str) -> List[float]:
    with local_lock:
        return json.loads(local.execute("SELECT embed_json(embed(?))", (text,)).fetchone()[0])


def search_local(index: str, q: str, k: int) -> List[Dict[str, Any]]:
    name = '"' + index.replace('"', '""') + '"'
    rows = local.execute(f"SELECT rowid, distance, content FROM {name} "
                         "WHERE content MATCH ? AND k = ?", (q, k)).fetchall()
    return [{"rowid": r, "distance": d, "content": t} for r, d, t in rows]


def schema() -> List[Tuple[str, str]]:
    return local.execute("SELECT name, sql FROM sqlite_schema ORDER BY name").fetchall()


schema_before = schema()
log = os.path.join(scratch, "serve.log")
proc, port = start_server(sys.executable, ["--db", db_path, "--quiet"], log)
embedded = 0      # texts this test had the server embed


def request(method: str, path: str, body: Optional[bytes] = None,
            headers: Optional[Dict[str, str]] = None,
            conn: Optional[http.client.HTTPConnection] = None) -> Tuple[int, str, bytes]:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.getheader("Content-Type", ""), r.read()
    finally:
        if own:
            conn.close()


def raw(data: bytes, shut: bool = False) -> Tuple[int, bytes]:
    """Send bytes as they are; return the status and the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head.startswith(b"HTTP/") else 0
    return status, body


def post_embed(texts: List[str], conn=None) -> Tuple[int, Any]:
    status, ctype, body = request("POST", "/embed", json.dumps({"texts": texts}).encode(),
                                  {"Content-Type": "application/json"}, conn)
    return status, json.loads(body)


try:
    # --- answers ------------------------------------------------------------
    status, ctype, body = request("GET", "/")
    c.eq("GET / is 200 JSON", (status, ctype), (200, "application/json"))

    texts = NOTES[:3] + ["Don't panic!", "", "zzqx unknown words", "ünïcödé 東京"]
    status, got = post_embed(texts)
    embedded += len(texts)
    c.eq("POST /embed is 200", status, 200)
    c.eq("POST /embed: one vector a text", len(got.get("vectors", [])), len(texts))
    c.ok("POST /embed: each vector is embed_json(embed(text)) here",
         got.get("vectors") == [embed_local(t) for t in texts])
    status, got = post_embed([])
    c.eq("POST /embed with no texts", (status, got), (200, {"vectors": []}))

    # kept alive: one connection, many requests; and many threads at once
    keep = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    answers = [post_embed([f"keep {i}"], keep) for i in range(5)]
    embedded += 5
    keep.close()
    c.ok("five requests on one kept-alive connection",
         answers == [(200, {"vectors": [embed_local(f"keep {i}")]}) for i in range(5)])
    bad: List[str] = []

    def client(t: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            for i in range(10):
                text = f"{NOTES[(t + i) % len(NOTES)]} {t} {i}"
                if post_embed([text, text.upper()], conn) != \
                        (200, {"vectors": [embed_local(text), embed_local(text.upper())]}):
                    bad.append(text)
        except Exception as e:  # noqa: BLE001
            bad.append(repr(e))
        finally:
            conn.close()

    lock_free = [threading.Thread(target=client, args=(t,)) for t in range(8)]
    for t in lock_free:
        t.start()
    for t in lock_free:
        t.join()
    embedded += 8 * 10 * 2
    c.eq("8 threads x 10 requests at once, every vector right", bad, [])

    for index, q, k in (("notes", "kitten", 3), ("notes", "money and markets", 6),
                        ("NOTES", "weather", 1), (WEIRD, "a cat", 2)):
        path = "/search?" + urllib.parse.urlencode({"index": index, "q": q, "k": k})
        status, ctype, body = request("GET", path)
        want = search_local(index, q, k)
        c.eq(f"search {index!r} {q!r} k={k}: 200 JSON", (status, ctype), (200, "application/json"))
        c.eq(f"search {index!r} {q!r} k={k}: the rows of the same query here",
             json.loads(body), {"rows": want})
    vec = local.execute("SELECT embed_json(embed('kitten'))").fetchone()[0]
    status, _, body = request("GET", "/search?" + urllib.parse.urlencode({"index": "notes", "q": vec}))
    c.eq("search by a JSON vector, k defaults to 10", json.loads(body),
         {"rows": search_local("notes", vec, 10)})

    status, ctype, body = request("GET", "/metrics")
    c.eq("GET /metrics: Prometheus' content type", (status, ctype),
         (200, "text/plain; version=0.0.4; charset=utf-8"))
    text = body.decode()
    c.ok("GET /metrics is embed_metrics()", text.startswith("# HELP embed_calls_total "))
    c.ok("embed_calls_total is the number of texts embedded",
         f'embed_calls_total{{model="default"}} {embedded}\n' in text,
         [l for l in text.splitlines() if l.startswith("embed_calls_total")])
    c.ok("embed_index_queries_total counts the searches",
         'embed_index_queries_total{index="main.notes"} 4\n' in text)

    # --- bad requests -------------------------------------------------------
    big = 5 << 20
    cases: List[Tuple[str, str, str, Optional[bytes], Dict[str, str], int]] = [
        ("not JSON", "POST", "/embed", b"not json", {}, 400),
        ("JSON not an object", "POST", "/embed", b"[1]", {}, 400),
        ("texts missing", "POST", "/embed", b"{}", {}, 400),
        ("texts a string", "POST", "/embed", b'{"texts": "a"}', {}, 400),
        ("texts with a number", "POST", "/embed", b'{"texts": ["a", 1]}', {}, 400),
        ("texts with null", "POST", "/embed", b'{"texts": [null]}', {}, 400),
        ("an unknown key", "POST", "/embed", b'{"texts": ["a"], "model": "x"}', {}, 400),
        ("a lone surrogate", "POST", "/embed", b'{"texts": ["\\ud800"]}', {}, 400),
        ("nested 100,000 deep", "POST", "/embed", b"[" * 100000, {}, 400),
        ("invalid UTF-8", "POST", "/embed", b'{"texts": ["\xff\xfe"]}', {}, 400),
        ("NaN in JSON", "POST", "/embed", b'{"texts": NaN}', {}, 400),
        ("too many texts", "POST", "/embed",
         json.dumps({"texts": ["a"] * 10001}).encode(), {}, 413),
        ("Content-Length over the limit", "POST", "/embed", None,
         {"Content-Length": str(big)}, 413),
        ("Content-Length not a number", "POST", "/embed", None, {"Content-Length": "12x"}, 400),
        ("a query string on /embed", "POST", "/embed?x=1", b'{"texts": []}', {}, 400),
        ("GET /embed", "GET", "/embed", None, {}, 405),
        ("POST /search", "POST", "/search?index=notes&q=a", b"{}", {}, 405),
        ("PUT /metrics", "PUT", "/metrics", b"x", {}, 405),
        ("DELETE /", "DELETE", "/", None, {}, 405),
        ("HEAD /metrics", "HEAD", "/metrics", None, {}, 405),
        ("method FOO", "FOO", "/", None, {}, 405),
        ("unknown path", "GET", "/nope", None, {}, 404),
        ("a path with ..", "GET", "/../etc/passwd", None, {}, 404),
        ("search without parameters", "GET", "/search", None, {}, 400),
        ("search without q", "GET", "/search?index=notes", None, {}, 400),
        ("search with empty q", "GET", "/search?index=notes&q=", None, {}, 400),
        ("search without index", "GET", "/search?q=cat", None, {}, 400),
        ("k=0", "GET", "/search?index=notes&q=cat&k=0", None, {}, 400),
        ("k=-1", "GET", "/search?index=notes&q=cat&k=-1", None, {}, 400),
        ("k=abc", "GET", "/search?index=notes&q=cat&k=abc", None, {}, 400),
        ("k=1.5", "GET", "/search?index=notes&q=cat&k=1.5", None, {}, 400),
        ("k=10001", "GET", "/search?index=notes&q=cat&k=10001", None, {}, 400),
        ("k=99999999999999999999", "GET", "/search?index=notes&q=cat&k=99999999999999999999",
         None, {}, 400),
        ("an unknown parameter", "GET", "/search?index=notes&q=cat&limit=3", None, {}, 400),
        ("a parameter twice", "GET", "/search?index=notes&q=cat&q=dog", None, {}, 400),
        ("bad percent-encoding", "GET", "/search?index=notes&q=%ff%fe", None, {}, 400),
        ("a malformed query string", "GET", "/search?index", None, {}, 400),
        ("an ordinary table", "GET", "/search?index=plain&q=cat", None, {}, 404),
        ("a shadow table", "GET", "/search?index=notes_data&q=cat", None, {}, 404),
        ("no such index", "GET", "/search?index=nosuch&q=cat", None, {}, 404),
        ("an injection in index", "GET", "/search?" + urllib.parse.urlencode(
            {"index": 'notes" WHERE 1; DROP TABLE plain; --', "q": "cat"}), None, {}, 404),
        ("the weird name half-quoted", "GET", "/search?" + urllib.parse.urlencode(
            {"index": 'my "odd', "q": "cat"}), None, {}, 404),
        ("a vector of the wrong dims", "GET", "/search?index=notes&q=%5B1%2C2%5D", None, {}, 400),
        ("a query string on /metrics", "GET", "/metrics?x=1", None, {}, 400),
    ]
    for what, method, path, body, headers, want in cases:
        try:
            if "Content-Length" in headers and body is None:
                # headers only: the server must refuse before reading a body
                hdr = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                status, rbody = raw(f"{method} {path} HTTP/1.1\r\nHost: x\r\n{hdr}\r\n".encode())
                ctype = "application/json" if rbody.startswith(b"{") else "?"
            else:
                status, ctype, rbody = request(method, path, body, headers)
        except Exception as e:  # noqa: BLE001
            c.ok(f"{what}: answered", False, repr(e))
            continue
        if method == "HEAD":
            c.eq(f"{what}: {want}", status, want)
            continue
        try:
            err = json.loads(rbody)
        except ValueError:
            err = None
        c.ok(f"{what}: {want} with a JSON error",
             status == want and ctype == "application/json" and isinstance(err, dict)
             and isinstance(err.get("error"), str) and b"Traceback" not in rbody,
             f"{status} {ctype} {rbody[:200]!r}")

    # raw requests http.client will not send
    raws = [("a garbage request line", b"GARBAGE\r\n\r\n", False, 400),
            ("a bad HTTP version", b"GET / HTTP/x.y\r\n\r\n", False, 400),
            ("an HTTP/2.0 request line", b"GET / HTTP/2.0\r\n\r\n", False, 505),
            ("a request line over 64 KiB", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
             False, 414),
            ("over 100 headers", b"GET / HTTP/1.1\r\n" + b"".join(
                b"X-%d: 1\r\n" % i for i in range(120)) + b"\r\n", False, 431),
            ("POST /embed without Content-Length", b"POST /embed HTTP/1.1\r\nHost: x\r\n\r\n",
             False, 411),
            ("chunked POST /embed",
             b"POST /embed HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
             False, 411),
            ("a body shorter than its Content-Length",
             b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"texts\"", True, 400)]
    for what, data, shut, want in raws:
        status, rbody = raw(data, shut)
        try:
            err = json.loads(rbody)
        except ValueError:
            err = None
        c.ok(f"{what}: {want} with a JSON error",
             status == want and isinstance(err, dict) and isinstance(err.get("error"), str),
             f"{status} {rbody[:200]!r}")

    # still serving, nothing changed, nothing logged as a crash
    status, got = post_embed(["still here"])
    embedded += 1
    c.ok("the server still answers after the bad requests",
         (status, got) == (200, {"vectors": [embed_local("still here")]}))
    c.eq("the database is unchanged", schema(), schema_before)
    status, ctype, body = request("GET", "/metrics")
    c.ok("embed_calls_total counted no bad request",
         f'embed_calls_total{{model="default"}} {embedded}\n' in body.decode())
finally:
    stop(proc)
with open(log, encoding="utf-8", errors="replace") as f:
    server_log = f.read()
c.ok("the server logged no traceback", "Traceback" not in server_log, server_log[-2000:])
c.eq("the server exits 0 on SIGTERM", proc.returncode, 0)
sys.exit(c.done())
