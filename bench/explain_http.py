"""Latency of single-record requests to `nadir serve`, with and without `?explain=5`.

For each model named, posts the first --rows records of the test file one at a time (one
JSON object per request, each request on the same kept-alive connection, one after the
other), --requests requests in all (cycling over the rows), first without `explain` and then
with `explain=5`, and prints the client-side latency percentiles (p50, p90, p99, max) as a
Markdown table; writes them as JSON too. Standard library only. Run by bench/explain.sh.

    python explain_http.py URL TEST.csv OUT.json --models random_forest,gradient_boosting
        [--rows 200] [--requests 2000] [--warmup 100]
"""

import argparse
import csv
import http.client
import json
import time
from pathlib import Path
from urllib.parse import urlparse


def records(path: Path, rows: int) -> list[bytes]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        out = []
        for row in reader:
            out.append(json.dumps(row).encode())
            if len(out) == rows:
                break
    return out


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def measure(conn, path: str, bodies: list[bytes], requests: int, warmup: int) -> list[float]:
    headers = {"content-type": "application/json"}
    seconds = []
    for i in range(warmup + requests):
        body = bodies[i % len(bodies)]
        start = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        answer = conn.getresponse()
        data = answer.read()
        elapsed = time.perf_counter() - start
        if answer.status != 200:
            raise SystemExit(f"{path}: HTTP {answer.status}: {data[:300]!r}")
        if "explain=" in path and b'"explanation"' not in data:
            raise SystemExit(f"{path}: no explanation in {data[:300]!r}")
        if i >= warmup:
            seconds.append(elapsed)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("test", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--models", default="random_forest,gradient_boosting")
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args()
    bodies = records(args.test, args.rows)
    url = urlparse(args.url)
    report = {}
    print("| model | query | requests | p50 | p90 | p99 | max |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for model in args.models.split(","):
        for query in ("", "?explain=5"):
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
            path = f"/v1/models/{model}/predict{query}"
            seconds = sorted(measure(conn, path, bodies, args.requests, args.warmup))
            conn.close()
            ms = {f"p{p}": percentile(seconds, p) * 1e3 for p in (50, 90, 99)}
            ms["max"] = seconds[-1] * 1e3
            report[f"{model}{query}"] = {"requests": len(seconds), **ms}
            print(f"| {model} | `{query or '(none)'}` | {len(seconds):,} | {ms['p50']:.3f} ms "
                  f"| {ms['p90']:.3f} ms | {ms['p99']:.3f} ms | {ms['max']:.3f} ms |")
    args.out.write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
