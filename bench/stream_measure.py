"""The measuring side of bench/compare_stream.sh: waits on a run's streams, reads them back and
computes its numbers, and prints the table. Every wait is bounded.

    python stream_measure.py ready --redis URL --stream IN --group G --consumers N --pids PID...
    python stream_measure.py wait --redis URL --output OUT --dead DEAD --count N
    python stream_measure.py entry --redis URL --stream IN          # first entry, one line a value
    python stream_measure.py redis-cpu --redis URL                  # seconds of CPU Redis used
    python stream_measure.py procs PID...                           # JSON: peak RSS, CPU seconds
    python stream_measure.py measure --redis URL --input IN --output OUT --dead DEAD --json FILE ...
    python stream_measure.py report OUT_DIR --meta key=value ...

Times come from the Redis clock. An entry ID's first part is the Unix time in whole
milliseconds at which Redis appended it, so:
- records/s of a run = records scored ÷ (last result's ID time − first input's ID time);
- end-to-end latency of a record = its result's ID time − its input entry's ID time, in whole
  milliseconds (each side truncated: a value is within 1 ms of the true one, either way);
- scoring latency = the result's `scored_at_us` (the consumer's clock, µs, same machine) − the
  input entry's ID time; the ID's truncation makes it read 0 to 1 ms long, so it is an upper
  bound that misses the result's own XADD.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import redis

TARGET_PYTHON_RATIO = 50.0
TARGET_CEILING_SHARE = 0.5
TARGET_P99_MS = 10.0
CHUNK = 10_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    ready = commands.add_parser("ready")
    ready.add_argument("--redis", required=True)
    ready.add_argument("--stream", required=True)
    ready.add_argument("--group", required=True)
    ready.add_argument("--consumers", type=int, required=True)
    ready.add_argument("--pids", type=int, nargs="+", required=True)
    ready.add_argument("--timeout", type=float, default=60)
    wait = commands.add_parser("wait")
    wait.add_argument("--redis", required=True)
    wait.add_argument("--output", required=True)
    wait.add_argument("--dead", required=True)
    wait.add_argument("--count", type=int, required=True)
    wait.add_argument("--timeout", type=float, default=600)
    wait.add_argument("--stall", type=float, default=30,
                      help="give up when nothing new arrived for this many seconds")
    entry = commands.add_parser("entry")
    entry.add_argument("--redis", required=True)
    entry.add_argument("--stream", required=True)
    cpu = commands.add_parser("redis-cpu")
    cpu.add_argument("--redis", required=True)
    procs = commands.add_parser("procs")
    procs.add_argument("pids", type=int, nargs="+")
    measure = commands.add_parser("measure")
    measure.add_argument("--redis", required=True)
    measure.add_argument("--input", required=True)
    measure.add_argument("--output", required=True)
    measure.add_argument("--dead", required=True)
    measure.add_argument("--json", type=Path, required=True)
    measure.add_argument("--predictions", type=Path,
                         help="write the predictions, one a line, in input order")
    measure.add_argument("--redis-cpu-before", type=float, default=0.0)
    measure.add_argument("--procs", type=Path, help="the consumers' `procs` JSON at the end")
    measure.add_argument("--procs-start", type=Path,
                         help="their `procs` JSON when they were ready: CPU is counted from there")
    measure.add_argument("--meta", nargs="*", default=[])
    report = commands.add_parser("report")
    report.add_argument("out", type=Path)
    report.add_argument("--meta", nargs="*", default=[])
    args = parser.parse_args()
    return {"ready": cmd_ready, "wait": cmd_wait, "entry": cmd_entry, "redis-cpu": cmd_redis_cpu,
            "procs": cmd_procs, "measure": cmd_measure, "report": cmd_report}[args.command](args)


def cmd_ready(args) -> int:
    """Waits until N consumers wait on the group: N clients blocked in XREADGROUP (on an empty
    stream Redis 7.0 lists no consumer in XINFO CONSUMERS until one has read an entry)."""
    client = redis.Redis.from_url(args.redis)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        for pid in args.pids:
            if not alive(pid):
                print(f"error: consumer process {pid} exited before it was ready", file=sys.stderr)
                return 1
        blocked = sum(1 for c in client.client_list()
                      if c.get("cmd") == "xreadgroup" and "b" in c.get("flags", ""))
        if blocked >= args.consumers:
            return 0
        time.sleep(0.05)
    print(f"error: {args.consumers} consumer(s) not waiting on {args.stream}/{args.group} "
          f"after {args.timeout:.0f} s", file=sys.stderr)
    return 1


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def cmd_wait(args) -> int:
    """Waits until results plus dead letters reach COUNT; fails on timeout or on a stall."""
    client = redis.Redis.from_url(args.redis)
    start = last_change = time.monotonic()
    seen = -1
    while True:
        done = client.xlen(args.output) + client.xlen(args.dead)
        now = time.monotonic()
        if done >= args.count:
            return 0
        if done != seen:
            seen, last_change = done, now
        if now - last_change > args.stall or now - start > args.timeout:
            print(f"error: {done} of {args.count} records came out of the consumers "
                  f"({now - start:.0f} s, nothing new for {now - last_change:.0f} s)",
                  file=sys.stderr)
            return 1
        time.sleep(0.05)


def cmd_entry(args) -> int:
    client = redis.Redis.from_url(args.redis, decode_responses=True)
    entries = client.xrange(args.stream, count=1)
    if not entries:
        print(f"error: {args.stream} is empty", file=sys.stderr)
        return 1
    for name, value in entries[0][1].items():
        print(name)
        print(value)
    return 0


def redis_cpu(client) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def cmd_redis_cpu(args) -> int:
    print(f"{redis_cpu(redis.Redis.from_url(args.redis)):.6f}")
    return 0


def cmd_procs(args) -> int:
    """Peak resident memory (VmHWM) and CPU seconds (user + system) of each live process."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats = []
    for pid in args.pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            stats.append({"pid": pid, "gone": True})
            continue
        hwm_kb = next(int(line.split()[1]) for line in status.splitlines()
                      if line.startswith("VmHWM:"))
        # Fields after the command name: state is [0], utime [11], stime [12].
        cpu_s = (int(fields[11]) + int(fields[12])) / ticks
        stats.append({"pid": pid, "peak_rss_kb": hwm_kb, "cpu_s": cpu_s})
    print(json.dumps(stats))
    return 0


def id_ms(entry_id: bytes) -> int:
    return int(entry_id.split(b"-", 1)[0])


def read_stream(client, stream: str):
    """All entries of a stream, in chunks."""
    start = b"-"
    while True:
        chunk = client.xrange(stream, min=start, count=CHUNK)
        yield from chunk
        if len(chunk) < CHUNK:
            return
        last = chunk[-1][0]
        ms, seq = last.split(b"-")
        start = f"{int(ms)}-{int(seq) + 1}".encode()


def percentile(sorted_values, share: float):
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, int(-(-share * len(sorted_values) // 1)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def cmd_measure(args) -> int:
    client = redis.Redis.from_url(args.redis)
    redis_cpu_s = redis_cpu(client) - args.redis_cpu_before
    inputs = [entry_id for entry_id, _ in read_stream(client, args.input)]
    position = {entry_id: i for i, entry_id in enumerate(inputs)}
    predictions = [""] * len(inputs)
    end_to_end_ms, scoring_ms = [], []
    per_consumer: dict[str, int] = {}
    duplicates = unknown = 0
    first_result_ms = last_result_ms = None
    for out_id, fields in read_stream(client, args.output):
        input_id = fields[b"id"]
        i = position.get(input_id)
        if i is None:
            unknown += 1
            continue
        if predictions[i]:
            duplicates += 1
            continue
        predictions[i] = fields[b"prediction"].decode()
        sent_ms = id_ms(input_id)
        end_to_end_ms.append(id_ms(out_id) - sent_ms)
        scoring_ms.append(int(fields[b"scored_at_us"]) / 1000 - sent_ms)
        consumer = fields[b"consumer"].decode()
        per_consumer[consumer] = per_consumer.get(consumer, 0) + 1
        last_result_ms = id_ms(out_id)
        if first_result_ms is None:
            first_result_ms = last_result_ms
    scored = sum(1 for p in predictions if p)
    dead = client.xlen(args.dead)
    seconds = (last_result_ms - id_ms(inputs[0])) / 1000 if inputs and last_result_ms else None
    drain_seconds = (last_result_ms - first_result_ms) / 1000 if last_result_ms else None
    publish_seconds = (id_ms(inputs[-1]) - id_ms(inputs[0])) / 1000 if inputs else None
    end_to_end_ms.sort()
    scoring_ms.sort()
    consumers = json.loads(args.procs.read_text()) if args.procs else []
    live = [c for c in consumers if not c.get("gone")]
    consumer_cpu_s = None
    if args.procs_start and live:
        start_cpu = {c["pid"]: c["cpu_s"] for c in json.loads(args.procs_start.read_text())
                     if not c.get("gone")}
        consumer_cpu_s = sum(c["cpu_s"] - start_cpu.get(c["pid"], 0.0) for c in live)
    result = {
        **dict(item.split("=", 1) for item in args.meta),
        "published": len(inputs),
        "scored": scored,
        "dead_lettered": dead,
        "duplicates": duplicates,
        "unknown_ids": unknown,
        "per_consumer": per_consumer,
        "seconds": seconds,
        "records_per_s": scored / seconds if seconds else None,
        "drain_seconds": drain_seconds,
        "drain_records_per_s": scored / drain_seconds if drain_seconds else None,
        "publish_seconds": publish_seconds,
        "publish_records_per_s": len(inputs) / publish_seconds if publish_seconds else None,
        "e2e_ms": {"p50": percentile(end_to_end_ms, 0.50), "p99": percentile(end_to_end_ms, 0.99),
                   "max": end_to_end_ms[-1] if end_to_end_ms else None},
        "scoring_ms": {"p50": percentile(scoring_ms, 0.50), "p99": percentile(scoring_ms, 0.99),
                       "max": scoring_ms[-1] if scoring_ms else None},
        "redis_cpu_s": redis_cpu_s,
        "consumers": consumers,
        "consumer_cpu_s": consumer_cpu_s,
        "peak_rss_kb": max((c["peak_rss_kb"] for c in live), default=None),
    }
    args.json.write_text(json.dumps(result, indent=2))
    if args.predictions:
        args.predictions.write_text("\n".join(predictions) + "\n")
    rate = result["records_per_s"]
    print(f"  {scored} of {len(inputs)} scored ({dead} dead-lettered, {duplicates} duplicates) "
          f"in {seconds if seconds is not None else float('nan'):.3f} s: "
          f"{rate or 0:,.0f} records/s; end-to-end p50 {result['e2e_ms']['p50']} ms, "
          f"p99 {result['e2e_ms']['p99']} ms; per consumer {per_consumer}")
    return 0


def load_runs(out: Path):
    return {p.stem.removeprefix("run-"): json.loads(p.read_text())
            for p in sorted(out.glob("run-*.json"))}


def fmt_rate(value) -> str:
    return "–" if value is None else f"{value:,.0f}"


def fmt_ms(value) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def fmt_ratio(value) -> str:
    return "–" if value is None else f"{value:.1f}×" if value >= 10 else f"{value:.2f}×"


def runs_of(runs, prefix: str):
    """(tool, consumers, run) of the runs named PREFIX-TOOL-N: nadir first, then by N."""
    found = []
    for name, run in runs.items():
        rest = name.removeprefix(prefix)
        if prefix and rest == name or rest.count("-") != 1:
            continue
        tool, consumers = rest.split("-")
        found.append((tool, int(consumers), run))
    return sorted(found, key=lambda t: (t[0] != "nadir", t[1]))


def cmd_report(args) -> int:
    out = args.out
    meta = dict(item.split("=", 1) for item in args.meta)
    runs = load_runs(out)
    ceiling_file = out / "ceiling.json"
    ceiling = json.loads(ceiling_file.read_text()) if ceiling_file.exists() else {}
    ceiling_rate = ceiling.get("records_per_s")
    busy = {}
    if (out / "busy.tsv").exists():
        for line in (out / "busy.tsv").read_text().splitlines():
            phase, pct, _load = line.split("\t")
            busy[phase] = pct

    def rate(name, key="records_per_s"):
        return runs.get(name, {}).get(key)

    python_rate = rate("python-1")
    python_drain = rate("drain-python-1", "drain_records_per_s")
    lines = [
        f"`{meta.get('command', 'bench/compare_stream.sh')}`, {meta.get('date', '')}, "
        f"{meta.get('nproc', '?')} cores ({meta.get('cpu', '?')}), shared with other work: "
        f"load average {meta.get('load_before', '?')} before, {meta.get('load_after', '?')} after. "
        f"Redis {meta.get('redis', '?')} on loopback, a fresh server per run. "
        f"{meta.get('versions', '')}; nadir {meta.get('git', '')}. "
        f"{meta.get('records', '?')} records per run (the test part of the split, repeated), "
        f"published by `nadir publish` with their header; redis-benchmark's XADDs carry the fields "
        f"of a median-length published record ({meta.get('record_bytes', '?')} bytes of names and "
        f"values). \"busy\": the share of the cores other processes used just before the run.",
        "",
        "**Live, at full speed**: the consumers wait on the empty stream, then `nadir publish` "
        "sends every record as fast as it can. Records/s = records scored ÷ (last result's "
        "entry-ID time − first input's entry-ID time). Latency: e2e = result entry ID − input "
        "entry ID (Redis clock, whole ms, ±1 ms); scored = the result's `scored_at_us` − input "
        "entry ID (µs on one side; the ID's truncation adds 0–1 ms). At full speed the latency is "
        "mostly queueing behind the producer. CPU µs/rec: the consumers' user + system CPU from "
        "when they were ready to the last result, ÷ records (grows far less than wall time with "
        "other processes' load); Redis CPU likewise, over the whole run including the producer's "
        "XADDs. Peak RSS: the largest consumer's VmHWM.",
        "",
        "| run | consumers | scored | records/s | vs Python ×1 | vs XADD ceiling | "
        "e2e p50 / p99 ms | scored p50 / p99 ms | consumer CPU µs/rec | Redis CPU µs/rec | "
        "peak RSS MiB | busy |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    if ceiling_rate:
        runs_text = ", ".join(fmt_rate(float(r)) for r in str(ceiling.get("runs", "")).split())
        lines.append(f"| redis-benchmark XADD (-P {ceiling.get('pipeline')}, -c "
                     f"{ceiling.get('clients')}; median of {runs_text}) | – | "
                     f"{ceiling.get('requests', 0):,} | {fmt_rate(ceiling_rate)} | – | 100 % | – | – | "
                     f"– | – | – | {busy.get('ceiling', '?')} % |")
    if "publish" in runs:
        publish = runs["publish"]
        publish_rate = publish.get("publish_records_per_s")
        lines.append(f"| nadir publish alone | 0 | {publish['published']:,} | "
                     f"{fmt_rate(publish_rate)} | – | {share(publish_rate, ceiling_rate)} | – | – | – | "
                     f"{per_record_us(publish.get('redis_cpu_s'), publish['published'])} | – | "
                     f"{busy.get('publish', '?')} % |")
    for tool, consumers, run in runs_of(runs, ""):
        run_rate = run.get("records_per_s")
        lines.append(
            f"| {tool} stream | {consumers} | {run['scored']:,} | {fmt_rate(run_rate)} | "
            f"{fmt_ratio(run_rate / python_rate) if run_rate and python_rate else '–'} | "
            f"{share(run_rate, ceiling_rate)} | "
            f"{fmt_ms(run['e2e_ms']['p50'])} / {fmt_ms(run['e2e_ms']['p99'])} | "
            f"{fmt_ms(run['scoring_ms']['p50'])} / {fmt_ms(run['scoring_ms']['p99'])} | "
            f"{per_record_us(run.get('consumer_cpu_s'), run['scored'])} | "
            f"{per_record_us(run.get('redis_cpu_s'), run['scored'])} | "
            f"{mib(run.get('peak_rss_kb'))} | {busy.get(f'{tool}-{consumers}', '?')} % |")
    drained = runs_of(runs, "drain-")
    if drained:
        lines += [
            "",
            "**Drain**: the records are published first, then the consumers start; records/s = "
            "records scored ÷ (last result's ID time − first result's ID time). No producer "
            "shares the cores, so this is the consumers' and Redis's own rate.",
            "",
            "| run | consumers | scored | records/s | vs Python ×1 | vs XADD ceiling | "
            "Redis CPU µs/rec | peak RSS MiB | busy |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for tool, consumers, run in drained:
            run_rate = run.get("drain_records_per_s")
            lines.append(
                f"| {tool} stream | {consumers} | {run['scored']:,} | {fmt_rate(run_rate)} | "
                f"{fmt_ratio(run_rate / python_drain) if run_rate and python_drain else '–'} | "
                f"{share(run_rate, ceiling_rate)} | "
                f"{per_record_us(run.get('redis_cpu_s'), run['scored'])} | "
                f"{mib(run.get('peak_rss_kb'))} | {busy.get(f'drain-{tool}-{consumers}', '?')} % |")
    paced = runs_of(runs, "paced-")
    if paced:
        lines += [
            "",
            "**Half the maximum rate**: live again, `nadir publish --rate R` with R = half the "
            f"records/s of the same configuration at full speed, for up to {meta.get('paced_seconds', '?')} s.",
            "",
            "| run | consumers | rate asked / published | scored | e2e p50 / p99 / max ms | "
            "scored p50 / p99 ms | p99 ≤ 10 ms | busy |",
            "| --- | ---: | ---: | ---: | ---: | ---: | :---: | ---: |",
        ]
        for tool, consumers, run in paced:
            p99 = run["e2e_ms"]["p99"]
            verdict = "–" if p99 is None else "PASS" if p99 <= TARGET_P99_MS else "FAIL"
            lines.append(
                f"| {tool} stream | {consumers} | {fmt_rate(float(run.get('rate', 0)))} / "
                f"{fmt_rate(run.get('publish_records_per_s'))} | {run['scored']:,} | "
                f"{fmt_ms(run['e2e_ms']['p50'])} / {fmt_ms(p99)} / {fmt_ms(run['e2e_ms']['max'])} | "
                f"{fmt_ms(run['scoring_ms']['p50'])} / {fmt_ms(run['scoring_ms']['p99'])} | "
                f"{verdict} | {busy.get(f'paced-{tool}-{consumers}', '?')} % |")
    lines += ["", "Targets:", ""]
    nadir_1, nadir_2, python_2 = rate("nadir-1"), rate("nadir-2"), rate("python-2")
    if nadir_1 and python_rate:
        ratio = nadir_1 / python_rate
        also = []
        if nadir_2 and python_2:
            also.append(f"2 consumers each: {nadir_2 / python_2:.1f}×")
        nadir_drain = rate("drain-nadir-1", "drain_records_per_s")
        if nadir_drain and python_drain:
            also.append(f"drained, 1 each: {nadir_drain / python_drain:.1f}×")
        lines.append(f"- nadir ≥ {TARGET_PYTHON_RATIO:.0f}× the Python consumer's records/s "
                     f"(1 consumer each, live): {ratio:.1f}× — "
                     f"{'PASS' if ratio >= TARGET_PYTHON_RATIO else 'FAIL'}"
                     + (f" ({'; '.join(also)})" if also else ""))
    if nadir_2 and ceiling_rate:
        part = nadir_2 / ceiling_rate
        lines.append(f"- nadir with 2 consumers ≥ {100 * TARGET_CEILING_SHARE:.0f} % of the XADD ceiling "
                     f"(live): {100 * part:.0f} % — "
                     f"{'PASS' if part >= TARGET_CEILING_SHARE else 'FAIL'}")
    for tool, consumers, run in paced:
        p99 = run["e2e_ms"]["p99"]
        if tool == "nadir" and p99 is not None:
            lines.append(f"- p99 ≤ {TARGET_P99_MS:.0f} ms at half the maximum rate, {consumers} "
                         f"consumer{'s' if consumers > 1 else ''}: {fmt_ms(p99)} ms — "
                         f"{'PASS' if p99 <= TARGET_P99_MS else 'FAIL'}")
    agreement = agreement_line(out)
    if agreement:
        lines += ["", agreement]
    problems = [f"{name}: {run['scored']} of {run['published']} scored, "
                f"{run['dead_lettered']} dead-lettered, {run['duplicates']} scored twice"
                for name, run in runs.items()
                if name != "publish"
                and (run["scored"] != run["published"] or run["duplicates"] or run["dead_lettered"])]
    if problems:
        lines += ["", "Incomplete runs: " + "; ".join(problems)]
    text = "\n".join(lines) + "\n"
    (out / "stream.md").write_text(text)
    print(text)
    return 0


def agreement_line(out: Path) -> str | None:
    """How often nadir's forest and scikit-learn's agree on the same published records."""
    nadir, python = out / "pred-nadir-1.txt", out / "pred-python-1.txt"
    if not (nadir.exists() and python.exists()):
        return None
    pairs = [(a, b) for a, b in zip(nadir.read_text().splitlines(), python.read_text().splitlines())
             if a and b]
    if not pairs:
        return None
    same = sum(a == b for a, b in pairs)
    attacks = sum(a == "attack" for a, _ in pairs)
    return (f"Predictions (1 consumer each, the same {len(pairs):,} published records): nadir and "
            f"scikit-learn agree on {same:,} ({same / len(pairs):.2%}); nadir flags {attacks:,} "
            f"as attacks.")


def share(rate, ceiling) -> str:
    return "–" if not rate or not ceiling else f"{100 * rate / ceiling:.0f} %"


def per_record_us(cpu_s, records) -> str:
    return "–" if cpu_s is None or not records else f"{cpu_s * 1e6 / records:.1f}"


def mib(kb) -> str:
    return "–" if kb is None else f"{kb / 1024:.0f}"


if __name__ == "__main__":
    sys.exit(main())
