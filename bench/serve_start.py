"""serve_start.py: how long `python3 -m sqlite_embed serve` takes from the
process's start to its first /embed answer.

    VENV/bin/python bench/serve_start.py RUNS [MODEL.emb ...]

Measures the packaged default model and each MODEL given (--model), and
prints one raw line per measurement and a summary line each:
    serve_start model M run I ready_ms R first_embed_ms F
    serve_start model M runs N best_ms B median_ms D ready_median_ms R
    python_start runs N best_ms B median_ms D

HOW IT WORKS
Each run starts the server as a child process (--port 0, --quiet) with the
clock (time.monotonic) read just before the fork, waits for its "serving
on" line (ready_ms), then sends one POST /embed of a short sentence at once
and reads the whole answer (first_embed_ms): so the figure holds Python's
own start, the imports, loading the extension and the model, binding the
socket, and one request.  The same Python starting and exiting with
nothing to do (python -c pass) is measured beside it, as the floor.  The
runs of each take turns (default, each model, the floor, again), so a
machine shared with other work slows them alike.
"""
from __future__ import annotations

import http.client
import json
import re
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional


def one_run(model: Optional[str]) -> tuple:
    args = [sys.executable, "-m", "sqlite_embed", "serve", "--port", "0", "--quiet"]
    if model:
        args += ["--model", model]
    t0 = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = proc.stdout.readline().decode()
        t_ready = time.monotonic()
        port = int(re.search(r"127\.0\.0\.1:(\d+)/", line).group(1))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/embed", body=json.dumps({"texts": ["the cat sat on the mat"]}))
        r = conn.getresponse()
        body = r.read()
        t_done = time.monotonic()
        conn.close()
        if r.status != 200 or not json.loads(body)["vectors"]:
            raise RuntimeError(f"bad answer {r.status} {body[:100]!r}")
    finally:
        proc.terminate()
        proc.wait()
        proc.stdout.close()
    return (t_ready - t0) * 1000, (t_done - t0) * 1000


def python_start() -> float:
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return (time.monotonic() - t0) * 1000


def main() -> int:
    runs = int(sys.argv[1])
    models: List[Optional[str]] = [None] + sys.argv[2:]
    ready: Dict[Optional[str], List[float]] = {m: [] for m in models}
    first: Dict[Optional[str], List[float]] = {m: [] for m in models}
    base: List[float] = []
    for m in models:
        one_run(m)                      # warm the page cache; not counted
    for i in range(runs):
        for m in models:
            r, f = one_run(m)
            ready[m].append(r)
            first[m].append(f)
            print(f"serve_start model {m or 'packaged-default'} run {i} "
                  f"ready_ms {r:.1f} first_embed_ms {f:.1f}")
        base.append(python_start())
    for m in models:
        print(f"serve_start model {m or 'packaged-default'} runs {runs} "
              f"best_ms {min(first[m]):.1f} median_ms {statistics.median(first[m]):.1f} "
              f"ready_median_ms {statistics.median(ready[m]):.1f}")
    print(f"python_start runs {runs} best_ms {min(base):.1f} median_ms {statistics.median(base):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
