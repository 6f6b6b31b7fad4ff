"""The table of bench/compare_flask.sh, from the files it leaves in OUT_DIR: the wrk
summaries (*.json), the batch timings (*.times), the machine's load (busy.tsv) and one
answer of each server to the 1,000-record batch (to check they agree).

    python loadtest_report.py OUT_DIR --meta key=value ...
"""

import argparse
import json
import statistics
from pathlib import Path

TARGET_RATIO = 50.0
TARGET_P99_MS = 2.0
TARGET_BATCH_MS = 5.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--meta", nargs="*", default=[])
    args = parser.parse_args()
    out = args.out
    meta = dict(item.split("=", 1) for item in args.meta)
    busy = {}
    for line in (out / "busy.tsv").read_text().splitlines():
        phase, pct, load = line.split("\t")
        busy[phase] = f"{pct} % ({load})"

    runs = {name: json.loads((out / f"{name}.json").read_text())
            for name in ("flask-single", "nadir-single", "nadir-v1-single")}
    batches = {}
    for name in ("flask-batch", "nadir-batch-json", "nadir-batch-csv"):
        rows = [line.split() for line in (out / f"{name}.times").read_text().splitlines()]
        ok = [float(t) * 1000 for code, t in rows if code == "200"]
        batches[name] = {"median_ms": statistics.median(ok) if ok else float("nan"),
                         "min_ms": min(ok, default=float("nan")), "runs": len(ok),
                         "failed": len(rows) - len(ok)}

    flask_answer = json.loads((out / "flask-batch.answer").read_text())["predictions"]
    nadir_answer = json.loads((out / "nadir-batch-json.answer").read_text())["results"]
    agree = sum(int(r["prediction"] == "attack") == f for r, f in zip(nadir_answer, flask_answer))

    flask = runs["flask-single"]
    lines = [
        f"`{meta.get('command', 'bench/compare_flask.sh')}`, {meta.get('date', '')}, "
        f"{meta.get('nproc', '?')} cores ({meta.get('cpu', '?')}), shared with other work: "
        f"load average {meta.get('load_before', '?')} before, {meta.get('load_after', '?')} after. "
        f"{meta.get('versions', '')}; nadir {meta.get('git', '')}.",
        "",
        f"Single-record requests, {meta.get('connections', 32)} connections, "
        f"{meta.get('duration', 10)} s per run after a 2 s warm-up (wrk, 2 threads, on the same cores):",
        "",
        "| server | route | requests/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | socket errors | ratio (req/s vs gunicorn) | other processes' CPU at start |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    labels = {
        "flask-single": ("Flask + scikit-learn, gunicorn -w 2", "POST /predict {\"features\": [...]}"),
        "nadir-single": ("nadir serve", "POST /predict {\"features\": [...]}"),
        "nadir-v1-single": ("nadir serve", "POST /v1/predict (named fields)"),
    }
    for name, run in runs.items():
        server, route = labels[name]
        ratio = run["rps"] / flask["rps"] if flask["rps"] else float("nan")
        lines.append(
            f"| {server} | `{route}` | {run['rps']:,.0f} | {run['p50_ms']:.2f} | {run['p90_ms']:.2f} | "
            f"{run['p99_ms']:.2f} | {run['max_ms']:.1f} | {run['non_2xx']} | {run['socket_errors']} | "
            f"{ratio:.1f}× | {busy.get(name, '?')} |")
    lines += [
        "",
        f"One 1,000-record batch (curl, loopback, median of {meta.get('batch_runs', '?')} runs):",
        "",
        "| server | body | median ms | min ms | failed | ratio (time vs gunicorn) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    flask_batch = batches["flask-batch"]["median_ms"]
    batch_labels = {
        "flask-batch": ("Flask + scikit-learn", "{\"features\": [[...] × 1000]}"),
        "nadir-batch-json": ("nadir serve", "JSON array of 1,000 named records"),
        "nadir-batch-csv": ("nadir serve", "CSV, header + 1,000 rows"),
    }
    for name, b in batches.items():
        server, body = batch_labels[name]
        lines.append(f"| {server} | {body} | {b['median_ms']:.2f} | {b['min_ms']:.2f} | {b['failed']} | "
                     f"{flask_batch / b['median_ms']:.1f}× |")
    lines += [
        "",
        f"The two forests agree on {agree} of the {len(flask_answer)} batch records "
        f"(scikit-learn at 0.5; nadir at its cross-validated threshold).",
        "",
        "Targets:",
    ]
    nadir = runs["nadir-single"]
    ratio = nadir["rps"] / flask["rps"] if flask["rps"] else 0.0
    # Both single-record routes and both batch bodies must meet their targets.
    worst_p99 = max(runs["nadir-single"]["p99_ms"], runs["nadir-v1-single"]["p99_ms"])
    worst_batch = max(batches["nadir-batch-json"]["median_ms"], batches["nadir-batch-csv"]["median_ms"])
    checks = [
        (ratio >= TARGET_RATIO, f"nadir ≥ {TARGET_RATIO:.0f}× gunicorn's requests/s: {ratio:.1f}×"),
        (worst_p99 <= TARGET_P99_MS,
         f"nadir p99 ≤ {TARGET_P99_MS} ms: /predict {runs['nadir-single']['p99_ms']:.2f} ms, "
         f"/v1/predict {runs['nadir-v1-single']['p99_ms']:.2f} ms"),
        (worst_batch <= TARGET_BATCH_MS,
         f"1,000-record batch ≤ {TARGET_BATCH_MS} ms: JSON {batches['nadir-batch-json']['median_ms']:.2f} ms, "
         f"CSV {batches['nadir-batch-csv']['median_ms']:.2f} ms"),
    ]
    lines += [f"- {'PASS' if ok else 'FAIL'}: {text}" for ok, text in checks]
    text = "\n".join(lines) + "\n"
    print(text)
    (out / "comparison.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
