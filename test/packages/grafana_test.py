"""grafana_test.py: grafana/sqlite-embed.json, the Grafana dashboard, against
the metrics the extension really prints.

    python3 test/packages/grafana_test.py grafana/sqlite-embed.json METRICS.txt

METRICS.txt is embed_metrics()' output after some work (test/packages/run.sh
makes it with the sqlite3 shell and build/embed.so).  Prints "N passed, N
failed".

HOW IT WORKS
Reads the families from the exposition's "# TYPE" lines, with the sample
names each has (a histogram's _bucket, _sum and _count) and the labels its
samples carry.  Then lexes every PromQL query of the dashboard (each
panel's targets and each variable's label_values()) with a small lexer:
strings, numbers, durations, operators, {label matchers} and identifiers.
An identifier followed by "(" must be a PromQL function or aggregation; one
inside by (...)/without (...) or a matcher must be a label of the metric
queried; any other must be a sample name the extension prints.  So a
misspelt metric, a label the metric lacks or an unknown function fails, and
every family must appear in some panel.  The dashboard's shape is checked
too: unique panel ids, a grid position each, every query on the
${datasource} variable.  (test/packages/prometheus_test.py runs the same
queries in a real Prometheus.)
"""
from __future__ import annotations

import json
import os
import re
import sys
from typing import Dict, List, Set, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checks  # noqa: E402

FUNCTIONS = {
    "abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes", "clamp",
    "clamp_max", "clamp_min", "count_over_time", "delta", "deriv", "exp", "floor",
    "histogram_quantile", "idelta", "increase", "irate", "label_replace", "last_over_time",
    "ln", "log2", "log10", "max_over_time", "min_over_time", "quantile_over_time", "rate",
    "resets", "round", "scalar", "sort", "sort_desc", "sqrt", "sum_over_time", "time",
    "timestamp", "vector",
    # aggregations
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group",
    # Grafana's variable queries
    "label_values",
}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
            "and", "or", "unless", "offset"}
TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<range>\[[^\]]*\])
  | (?P<number>[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=(){},])
""", re.VERBOSE)


def exposition(path: str) -> Tuple[Dict[str, str], Dict[str, str], Dict[str, Set[str]]]:
    """(family -> type, sample name -> family, family -> label names)."""
    types: Dict[str, str] = {}
    samples: Dict[str, str] = {}
    labels: Dict[str, Set[str]] = {}
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for fam, typ in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        types[fam] = typ
        labels[fam] = set()
        for suffix in (("_bucket", "_sum", "_count") if typ == "histogram" else ("",)):
            samples[fam + suffix] = fam
    for name, body in re.findall(r"^([A-Za-z_:][A-Za-z0-9_:]*)\{([^}]*)\}", text, re.M):
        fam = samples.get(name)
        if fam:
            labels[fam] |= set(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="', body))
    return types, samples, labels


def lex(expr: str) -> List[Tuple[str, str]]:
    out, pos = [], 0
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"cannot lex at {expr[pos:pos + 20]!r}")
        pos = m.end()
        if m.lastgroup != "space":
            out.append((m.lastgroup, m.group()))
    return out


def names(expr: str, samples: Dict[str, str], labels: Dict[str, Set[str]]) -> Tuple[Set[str], List[str]]:
    """The sample names expr queries, and what is wrong in it."""
    toks = lex(expr)
    metrics: Set[str] = set()
    problems: List[str] = []
    used_labels: List[str] = []
    depth_group = None          # paren depth of an open by(...)/without(...)
    in_braces = False
    depth = 0
    for i, (kind, text) in enumerate(toks):
        nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
        if kind == "op":
            if text == "(":
                depth += 1
            elif text == ")":
                depth -= 1
                if depth_group is not None and depth < depth_group:
                    depth_group = None
            elif text == "{":
                in_braces = True
            elif text == "}":
                in_braces = False
            continue
        if kind != "ident":
            continue
        if in_braces or depth_group is not None:
            used_labels.append(text)
        elif text in ("by", "without"):
            depth_group = depth + 1
        elif nxt in ("(", "by", "without"):     # sum by (x) (...) is a call too
            if text not in FUNCTIONS:
                problems.append(f"unknown function '{text}'")
        elif text in KEYWORDS:
            pass
        elif text in samples:
            metrics.add(text)
        elif re.fullmatch(r"[a-z]+", text) and toks[i - 1][1] == "," and "label_values" in expr:
            used_labels.append(text)   # label_values(metric, LABEL)
        else:
            problems.append(f"'{text}' is not a metric embed_metrics() prints")
    have: Set[str] = set()
    for m in metrics:
        have |= labels[samples[m]]
    for lab in used_labels:
        if lab not in have:
            problems.append(f"label '{lab}' is not one of {sorted(have)}")
    if not metrics:
        problems.append("queries no metric")
    return metrics, problems


def main() -> int:
    dash_path, metrics_path = sys.argv[1], sys.argv[2]
    c = Checks("grafana dashboard")
    types, samples, labels = exposition(metrics_path)
    c.ok("the exposition has families", len(types) >= 8, repr(types))
    c.ok("every family has samples with labels (the test did some work)",
         all(labels[f] for f in types), repr(labels))
    with open(dash_path, encoding="utf-8") as f:
        dash = json.load(f)
    for key in ("uid", "title", "panels", "templating", "schemaVersion"):
        c.ok(f"dashboard has '{key}'", key in dash)
    panels = dash.get("panels", [])
    ids = [p.get("id") for p in panels]
    c.eq("panel ids are unique", len(ids), len(set(ids)))
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    c.ok("a datasource variable for Prometheus",
         variables.get("datasource", {}).get("type") == "datasource"
         and variables["datasource"].get("query") == "prometheus")
    queried: Set[str] = set()
    nqueries = 0
    for p in panels:
        c.ok(f"panel {p.get('id')} has a grid position", "gridPos" in p)
        if p.get("type") == "row":
            continue
        c.ok(f"panel '{p.get('title')}' has queries", bool(p.get("targets")))
        c.eq(f"panel '{p.get('title')}' uses ${{datasource}}", p.get("datasource", {}).get("uid"),
             "${datasource}")
        refs = [t.get("refId") for t in p.get("targets", [])]
        c.eq(f"panel '{p.get('title')}' refIds unique", len(refs), len(set(refs)))
        for t in p.get("targets", []):
            nqueries += 1
            got, problems = names(t.get("expr", ""), samples, labels)
            queried |= {samples[m] for m in got}
            c.ok(f"query {t.get('expr')!r}", not problems, "; ".join(problems))
    for name, v in variables.items():
        if v.get("type") != "query":
            continue
        q = v.get("query", {})
        q = q.get("query", "") if isinstance(q, dict) else q
        got, problems = names(q, samples, labels)
        c.ok(f"variable {name}: {q!r}", not problems, "; ".join(problems))
    c.ok("the dashboard has queries", nqueries >= 8, str(nqueries))
    c.eq("every family embed_metrics() prints is on the dashboard", sorted(set(types) - queried), [])
    # The lexer itself must catch what it is there for.
    for bad, why in (("rate(embed_call_total[1m])", "a misspelt metric"),
                     ('sum by (modle) (embed_calls_total)', "a label the metric lacks"),
                     ('embed_calls_total{index="x"}', "a label of another family"),
                     ("rated(embed_calls_total[1m])", "an unknown function"),
                     ("sum(up)", "a metric not ours")):
        c.ok(f"the check refuses {why}", bool(names(bad, samples, labels)[1]))
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
