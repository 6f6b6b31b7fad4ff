"""Times `nadir extract` and its peers on the same capture files, side by side.

For every file and tool: REPEAT runs, the median wall time of one whole process (start-up
included: that is what a user waits for), peak RSS (/usr/bin/time), and the connections or
flows it reported. nfstream also reports its own in-process time (the streaming loop alone,
without Python's start-up and imports), so that its start-up does not count against it.
Prints a Markdown table of packets/s and the ratios nadir/peer; writes results.json.

    python extract_peers.py OUT_DIR NADIR FILE...
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
# cicflowmeter reads about 2,000 packets a second here: it runs once, on the files up to
# this many packets (the shared captures, not the multiplied ones).
CIC_MAX_PACKETS = int(os.environ.get("BENCH_CIC_MAX_PACKETS", "100000"))
VENV_PY = sys.executable
NFSTREAM = """
import sys, time
from nfstream import NFStreamer
start = time.perf_counter()
flows = sum(1 for _ in NFStreamer(source=sys.argv[1], n_meters=int(sys.argv[2]),
                                  statistical_analysis=False, splt_analysis=0))
print(flows, time.perf_counter() - start)
"""


def timed(command, env=None):
    """Runs `command` under /usr/bin/time: (wall seconds, peak RSS MiB, stdout)."""
    with tempfile.NamedTemporaryFile("r") as rss:
        start = time.perf_counter()
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", rss.name, *command],
            capture_output=True, text=True, errors="replace", env={**os.environ, **(env or {})},
        )
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr[-2000:]}")
        return wall, int(rss.read().strip() or 0) / 1024, done.stdout, done.stderr


def packets_of(path):
    out = subprocess.run(["capinfos", "-c", "-M", "-T", "-r", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return int(out.split("\t")[-1])


def measure(label, command, parse=None, env=None, repeat=None):
    walls, rss, inner, count = [], 0.0, [], None
    for _ in range(repeat or REPEAT):
        wall, peak, out, err = timed(command, env)
        walls.append(wall)
        rss = max(rss, peak)
        if parse:
            count, seconds = parse(out, err)
            if seconds is not None:
                inner.append(seconds)
    return {
        "tool": label,
        "seconds": statistics.median(walls),
        "inner_seconds": statistics.median(inner) if inner else None,
        "rss_mib": rss,
        "connections": count,
    }


def nadir_count(_out, err):
    # `nadir extract` says on standard error how many connections it wrote, after any
    # progress lines (`[   0.4 s] FILE: 1 connections`, shown when a run is slow).
    for line in err.splitlines():
        if "connections" in line and not line.startswith("["):
            for word in line.replace(",", "").split():
                if word.isdigit():
                    return int(word), None
    return None, None


def nfstream_count(out, _err):
    # The last line is the snippet's; nfstream may print warnings before it.
    flows, seconds = out.strip().splitlines()[-1].split()
    return int(flows), float(seconds)


def main():
    out_dir, nadir, files = Path(sys.argv[1]), sys.argv[2], [Path(f) for f in sys.argv[3:]]
    results = []
    for path in files:
        packets = packets_of(path)
        row = {"file": path.name, "bytes": path.stat().st_size, "packets": packets, "runs": []}
        print(f"== {path.name}: {packets} packets", file=sys.stderr)
        row["runs"].append(measure("cat (floor)", ["sh", "-c", 'cat "$0" > /dev/null', str(path)]))
        for threads in (1, 2):
            row["runs"].append(measure(
                f"nadir t{threads}", [nadir, "extract", str(path), "--out", "/dev/null",
                                      "--threads", str(threads)],
                nadir_count))
            row["runs"].append(measure(
                f"nfstream t{threads}", [VENV_PY, "-c", NFSTREAM, str(path), str(threads)],
                nfstream_count))
        row["runs"].append(measure(
            "tshark conv,tcp+udp", ["tshark", "-n", "-q", "-r", str(path),
                                    "-z", "conv,tcp", "-z", "conv,udp"]))
        if packets <= CIC_MAX_PACKETS:
            with tempfile.TemporaryDirectory() as tmp:
                flows = Path(tmp) / "flows.csv"
                cic = str(Path(VENV_PY).with_name("cicflowmeter"))
                row["runs"].append(measure(
                    "cicflowmeter (1 run)", [cic, "-f", str(path), "-c", str(flows)],
                    lambda _o, _e: (max(sum(1 for _ in open(flows)) - 1, 0), None), repeat=1))
        results.append(row)
    (out_dir / "results.json").write_text(json.dumps(results, indent=1) + "\n")

    print("| file | packets | tool | connections | median s | packets/s | nadir t1 is × faster | peak RSS MiB |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for row in results:
        nadir_t1 = next(r for r in row["runs"] if r["tool"] == "nadir t1")["seconds"]
        for r in row["runs"]:
            pps = row["packets"] / r["seconds"]
            ratio = r["seconds"] / nadir_t1
            extra = ""
            if r["inner_seconds"] is not None:
                extra = f" (in-process {r['inner_seconds']:.3f} s: {row['packets'] / r['inner_seconds']:,.0f}/s, {r['inner_seconds'] / nadir_t1:.1f}×)"
            print(f"| {row['file']} | {row['packets']:,} | {r['tool']} | {r['connections'] if r['connections'] is not None else '–'} | "
                  f"{r['seconds']:.3f} | {pps:,.0f}{extra} | {ratio:.1f}× | {r['rss_mib']:.0f} |")


if __name__ == "__main__":
    main()
