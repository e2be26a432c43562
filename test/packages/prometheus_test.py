"""prometheus_test.py: a real Prometheus scrapes `python3 -m sqlite_embed
serve`'s /metrics, and what it stored is what this test did.

    VENV/bin/python test/packages/prometheus_test.py SCRATCH PROMETHEUS DASHBOARD.json

PROMETHEUS is the prometheus binary (Debian's, /usr/bin/prometheus).
Prints "N passed, N failed".

HOW IT WORKS
Starts the server (a fresh process, so its counters start at zero) on a
database with an embed_index, then Prometheus on 127.0.0.1 (a free port,
storage in SCRATCH) scraping it every second.  Once Prometheus reports the
target up, the test sends known work: POST /embed requests with texts whose
token and byte counts it computes itself, then top-k searches.  After each
phase it waits for a scrape that started after the work ended (the sample's
timestamp()) and reads back through Prometheus' HTTP API
(/api/v1/query): embed_calls_total, embed_tokens_total, embed_bytes_total,
embed_errors_total and the embed_latency_seconds histogram (count, +Inf
bucket, cumulative buckets, a sum above zero and below the requests' own
wall time), and embed_index_queries_total.  Last, every query of the
Grafana dashboard runs in this Prometheus and must give a result.  Both
processes are stopped at the end, also on failure.
"""
from __future__ import annotations

import http.client
import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checks, free_port, start_server, stop  # noqa: E402

import sqlite_embed  # noqa: E402

scratch, prometheus, dashboard = sys.argv[1], sys.argv[2], sys.argv[3]
c = Checks("prometheus")

db_path = os.path.join(scratch, "prom.db")
db = sqlite3.connect(db_path)
sqlite_embed.load(db)
db.execute("CREATE VIRTUAL TABLE docs USING embed_index()")
db.executemany("INSERT INTO docs(rowid, content) VALUES (?, ?)",
               enumerate(["the cat sat on the mat", "markets fell", "rain tomorrow",
                          "a kitten plays", "rates rose"], 1))
db.commit()


def tokens(text: str) -> int:
    return db.execute("SELECT json_array_length(embed_tokens(?))", (text,)).fetchone()[0]


procs: List[subprocess.Popen] = []
prom_port = 0


def query(expr: str) -> Dict[str, Any]:
    url = f"http://127.0.0.1:{prom_port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def value(expr: str) -> Optional[float]:
    """The one sample expr gives, or None."""
    res = query(expr)["data"]["result"]
    return float(res[0]["value"][1]) if len(res) == 1 else None


def wait_scraped_after(t: float, timeout: float = 30) -> bool:
    """Wait for a sample of embed_calls_total scraped after time t."""
    end = time.time() + timeout
    while time.time() < end:
        ts = value('timestamp(embed_calls_total{model="default"})')
        if ts is not None and ts > t:
            return True
        time.sleep(0.2)
    return False


try:
    proc, port = start_server(sys.executable, ["--db", db_path, "--quiet"],
                              os.path.join(scratch, "serve.log"))
    procs.append(proc)
    cfg = os.path.join(scratch, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                "scrape_configs:\n  - job_name: sqlite-embed\n    scrape_interval: 1s\n"
                f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
    for attempt in range(3):          # the free port may be taken meanwhile
        prom_port = free_port()
        plog = open(os.path.join(scratch, f"prometheus{attempt}.log"), "wb")
        prom = subprocess.Popen([prometheus, f"--config.file={cfg}",
                                 f"--storage.tsdb.path={os.path.join(scratch, f'tsdb{attempt}')}",
                                 f"--web.listen-address=127.0.0.1:{prom_port}",
                                 "--log.level=warn"], stdout=plog, stderr=plog)
        plog.close()
        procs.append(prom)
        ready = False
        for _ in range(300):
            if prom.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/-/ready", timeout=2) as r:
                    ready = r.status == 200
            except OSError:
                pass
            if ready:
                break
            time.sleep(0.1)
        if ready:
            break
    c.ok("Prometheus starts and is ready", ready)
    if not ready:
        raise RuntimeError("Prometheus did not start")

    up = None
    for _ in range(150):
        up = value('up{job="sqlite-embed"}')
        if up == 1:
            break
        time.sleep(0.2)
    c.eq("Prometheus scrapes the server (up == 1)", up, 1)
    with urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/api/v1/targets", timeout=10) as r:
        targets = json.load(r)["data"]["activeTargets"]
    c.eq("its scrape has no error", [(t["health"], t["lastError"]) for t in targets], [("up", "")])

    # --- phase 1: embeddings ------------------------------------------------
    batches = [["the cat sat on the mat"], ["Don't panic!", "stock markets fell", ""],
               ["a kitten is playing with yarn"] * 4, [f"sentence number {i}" for i in range(25)],
               ["ünïcödé text, 東京 and more"]]
    texts = [t for b in batches for t in b]
    wall = 0.0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for b in batches:
        t0 = time.monotonic()
        conn.request("POST", "/embed", body=json.dumps({"texts": b}).encode())
        r = conn.getresponse()
        body = json.loads(r.read())
        wall += time.monotonic() - t0
        c.ok("POST /embed answers", r.status == 200 and len(body["vectors"]) == len(b))
    conn.close()
    done = time.time()
    c.ok("a scrape after the work", wait_scraped_after(done))
    n = len(texts)
    c.eq("embed_calls_total is the texts sent", value('embed_calls_total{model="default"}'), n)
    c.eq("embed_tokens_total is their tokens", value('embed_tokens_total{model="default"}'),
         sum(tokens(t) for t in texts))
    c.eq("embed_bytes_total is their UTF-8 bytes", value('embed_bytes_total{model="default"}'),
         sum(len(t.encode()) for t in texts))
    c.eq("embed_errors_total is 0", value('embed_errors_total{model="default"}'), 0)
    c.eq("embed_latency_seconds_count is the calls",
         value('embed_latency_seconds_count{model="default"}'), n)
    c.eq("embed_latency_seconds_bucket{le=\"+Inf\"} is the calls",
         value('embed_latency_seconds_bucket{model="default",le="+Inf"}'), n)
    lat_sum = value('embed_latency_seconds_sum{model="default"}')
    c.ok("embed_latency_seconds_sum is above 0 and below the requests' wall time",
         lat_sum is not None and 0 < lat_sum < wall, f"{lat_sum} vs {wall}")
    buckets = query('embed_latency_seconds_bucket{model="default"}')["data"]["result"]
    by_le = sorted((float(b["metric"]["le"]), float(b["value"][1])) for b in buckets)
    c.ok("buckets are cumulative, ending at the count",
         len(by_le) >= 10 and all(a[1] <= b[1] for a, b in zip(by_le, by_le[1:]))
         and by_le[-1] == (float("inf"), n), repr(by_le))
    c.ok("embed_model_load_seconds is there", (value('embed_model_load_seconds{model="default"}')
                                               or -1) >= 0)

    # --- phase 2: more embeddings and searches -----------------------------
    more = ["one more", "and another"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/embed", body=json.dumps({"texts": more}).encode())
    conn.getresponse().read()
    searches = ["kitten", "money", "weather", "cats and dogs"]
    for q in searches:
        conn.request("GET", "/search?" + urllib.parse.urlencode({"index": "docs", "q": q, "k": 2}))
        r = conn.getresponse()
        c.ok(f"search {q!r} answers", r.status == 200 and len(json.loads(r.read())["rows"]) == 2)
    conn.close()
    done = time.time()
    c.ok("a scrape after the second phase", wait_scraped_after(done))
    c.eq("embed_calls_total counted on", value('embed_calls_total{model="default"}'), n + len(more))
    c.eq("embed_index_queries_total is the searches",
         value('embed_index_queries_total{index="main.docs"}'), len(searches))
    c.eq("embed_index_query_seconds_count too",
         value('embed_index_query_seconds_count{index="main.docs"}'), len(searches))
    c.ok("rate(embed_calls_total[1m]) is above 0",
         (value('rate(embed_calls_total{model="default"}[1m])') or 0) > 0)

    # --- the dashboard's queries, in this Prometheus ------------------------
    # rate() needs two samples of a series; the index's began with phase 2.
    for _ in range(150):
        if (value('count_over_time(embed_index_queries_total{index="main.docs"}[1m])') or 0) >= 2:
            break
        time.sleep(0.2)
    with open(dashboard, encoding="utf-8") as f:
        dash = json.load(f)
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    c.ok("the dashboard has queries", len(exprs) >= 8)
    for e in exprs:
        q = (e.replace("$__rate_interval", "1m").replace("$model", "default")
             .replace("$index", "main.docs"))
        try:
            res = query(q)
            ok = res["status"] == "success" and len(res["data"]["result"]) > 0
            detail = json.dumps(res)[:300]
        except Exception as ex:  # noqa: BLE001 - a 400 from Prometheus is a bad query
            ok, detail = False, repr(ex)
        c.ok(f"dashboard query gives a result: {e}", ok, detail)
finally:
    for p in reversed(procs):
        stop(p)
sys.exit(c.done())
