"""The table of bench/compare_unsw.sh: every nadir model beside its peers (scikit-learn, and
LightGBM for gradient boosting) on one split, per feature set, at 1 and 2 threads, with peak
memory, and the issue's targets as met / not met. Always exits 0 once the table is written.

    python compare_peers.py OUT_DIR --models a,b --variants all,drop --drop sttl,... \
        --out OUT_DIR/comparison.md [--command ... --date ... --machine ... --versions ...]

OUT_DIR/VARIANT holds peer-MODEL-LIB.json/.time (sklearn_protocol.py under /usr/bin/time -v),
nadir-tN-MODEL/metrics.json and nadir-tN-MODEL.time (nadir train), nadir-eval-MODEL.json
(nadir evaluate --threshold 0.5), nadir-predict-MODEL.json (benches/score_saved.rs).

Predict times are medians over repeated runs on both sides: the peers' predict_runs, and the
runs of nadir-predict-MODEL.json per thread count; a file without them (an older run) gives
its single timing.

Gradient boosting's fit times, where OUT_DIR/VARIANT holds fit-nadir-rN.json
(benches/gbdt_fit.rs) and fit-lightgbm-rN.json (sklearn_protocol.py) from the interleaved fit
rounds, are the medians of those rounds on both sides (scikit-learn's HistGradientBoosting,
fitted once, is set against the same nadir median); the other models' are their one fit.
Each round also scores the test part once per side, and the targets judge gradient boosting's
predict against LightGBM's on those side-by-side runs, not on the two phases' (which run
minutes apart, long enough for a shared machine's speed to change in between).
"""

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

from compare import fmt_s, table

PEER_NAME = {
    ("scikit-learn", "logistic_regression"): "sklearn LogisticRegression",
    ("scikit-learn", "linear_svm"): "sklearn LinearSVC",
    ("scikit-learn", "kernel_svm"): "sklearn RBFSampler+LinearSVC",
    ("scikit-learn", "decision_tree"): "sklearn DecisionTree",
    ("scikit-learn", "random_forest"): "sklearn RandomForest",
    ("scikit-learn", "gradient_boosting"): "sklearn HistGradientBoosting",
    ("scikit-learn", "mlp"): "sklearn MLP",
    ("scikit-learn", "bagging"): "sklearn Bagging",
    ("scikit-learn", "voting"): "sklearn Voting",
    ("lightgbm", "gradient_boosting"): "LightGBM LGBMClassifier",
}

# (model, peer library, fit goal, predict goal or None, accuracy tolerance or None)
TARGETS = [
    ("gradient_boosting", "lightgbm", 1.5, 2.0, 0.2),
    ("random_forest", "scikit-learn", 5.0, None, None),
]
ACCURACY_TOLERANCE = 0.3  # every model vs its best peer, points


def read_json(path):
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def max_rss_mib(path):
    path = Path(path)
    if not path.is_file():
        return None
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", path.read_text())
    return int(m.group(1)) / 1024 if m else None


def peer_predict(run):
    """A peer's predict seconds: the median of its repeated runs."""
    runs = run.get("predict_runs") or [run["predict_seconds"]]
    return statistics.median(runs)


def nadir_predict(timing, threads, metrics_model):
    """nadir's predict seconds at `threads`: the median of score_saved's runs, else the one
    timing of its training run's hold-out."""
    by = (timing or {}).get("threads", {}).get(str(threads))
    if by:
        return statistics.median(by["runs"])
    return metrics_model and metrics_model["predict_seconds"]


def ratio(peer, nadir):
    return None if peer is None or nadir is None or nadir <= 0 else peer / nadir


def cell(peer, nadir):
    r = ratio(peer, nadir)
    if r is None:
        return "–"
    return f"{r:.1f}× ({fmt_s(peer)} / {fmt_s(nadir)})"


def fit_rounds(dir_):
    """Gradient boosting's fit rounds in dir_: ({"nadir" | "lightgbm": {threads: {"wall": [...],
    "cpu": [...], "predict": [...]}}}, nadir's rounds' reports), or None without rounds. Each
    round also scores the test part once per side with the model it fitted ("predict")."""
    sides = {"nadir": {}, "lightgbm": {}}
    nadir_reports = []
    new_side = lambda: {"wall": [], "cpu": [], "predict": []}
    for path in sorted(dir_.glob("fit-nadir-r*.json")):
        report = read_json(path)
        nadir_reports.append(report)
        for threads, runs in report["threads"].items():
            by = sides["nadir"].setdefault(int(threads), new_side())
            by["wall"] += runs["fit_runs"]
            by["cpu"] += runs["fit_cpu_runs"]
            by["predict"] += runs.get("predict_runs", [])
    for path in sorted(dir_.glob("fit-lightgbm-r*.json")):
        for run in read_json(path)["models"]:
            by = sides["lightgbm"].setdefault(run["n_jobs"], new_side())
            by["wall"] += run.get("fit_runs") or [run["fit_seconds"]]
            by["cpu"] += run.get("fit_cpu_runs") or [run["fit_cpu_seconds"]]
            by["predict"] += run.get("predict_runs", [])
    if not nadir_reports or not sides["lightgbm"]:
        return None
    return sides, nadir_reports


def fit_rounds_lines(rounds, eval_accuracy):
    """The table of the fit rounds (median, fastest, CPU per side and thread count) and what
    nadir's rounds fitted."""
    sides, reports = rounds
    header = ["Threads", "Fits per side", "LightGBM median (fastest)", "nadir median (fastest)",
              "Ratio of medians", "Ratio of fastest", "CPU median LightGBM / nadir",
              "Ratio of CPU medians", "Predict median LightGBM / nadir", "Predict ratio"]
    rows = []
    for t in sorted(sides["nadir"]):
        peer, nadir = sides["lightgbm"].get(t), sides["nadir"][t]
        if peer is None:
            continue
        pm, nm = statistics.median(peer["wall"]), statistics.median(nadir["wall"])
        pf, nf = min(peer["wall"]), min(nadir["wall"])
        pc, nc = statistics.median(peer["cpu"]), statistics.median(nadir["cpu"])
        pp, np_ = round_predict(peer), round_predict(nadir)
        rows.append([
            str(t), f"{len(peer['wall'])} / {len(nadir['wall'])}",
            f"{fmt_s(pm)} ({fmt_s(pf)})", f"{fmt_s(nm)} ({fmt_s(nf)})",
            f"{ratio(pm, nm):.2f}×", f"{ratio(pf, nf):.2f}×",
            f"{fmt_s(pc)} / {fmt_s(nc)}", f"{ratio(pc, nc):.2f}×",
            "–" if pp is None or np_ is None else f"{fmt_s(pp)} / {fmt_s(np_)}",
            "–" if pp is None or np_ is None else f"{ratio(pp, np_):.2f}×",
        ])
    checksums = {r["test_scores_checksum"] for r in reports}
    accuracies = {round(100 * r["test_accuracy_at_half"], 2) for r in reports}
    same = (f"All {len(reports)} of nadir's rounds fitted the same model ({reports[0]['trees']} "
            f"trees, test scores checksum {reports[0]['test_scores_checksum']}"
            if len(checksums) == 1 else
            f"**nadir's rounds fitted {len(checksums)} different models**")
    if len(checksums) == 1:
        acc = accuracies.pop()
        same += f", accuracy at 0.5 {acc:.2f} %"
        if eval_accuracy is not None:
            ev = round(100 * eval_accuracy, 2)
            same += (", as `nadir evaluate --threshold 0.5` of the model `nadir train` saved)"
                     if ev == acc else f"; **`nadir train`'s model: {ev:.2f} %**)")
        else:
            same += ")"
    return [
        "Gradient boosting's fit, timed apart in interleaved rounds: in each round both sides "
        "fit the training part once per thread count, each in a fresh process, the side that "
        "goes first alternating (nadir: `Fit::fit` on the encoded rows, benches/gbdt_fit.rs, "
        "what `nadir train` times as the fit; LightGBM: `LGBMClassifier.fit` on the data "
        "frame), then scores the test part once with the model it fitted (nadir: "
        "`Classifier::score` on the encoded rows; LightGBM: `predict_proba`). Wall seconds, "
        "and CPU seconds of the fitting process's threads; ratios are LightGBM ÷ nadir. "
        "These predict times, taken side by side, are the ones the targets judge. " + same + ".",
        "",
        table(header, rows),
        "",
    ]


def round_predict(side):
    """The median of a side's predict runs in the fit rounds, or None (rounds without them)."""
    return statistics.median(side["predict"]) if side["predict"] else None


def pct(x):
    return "–" if x is None else f"{100 * x:.2f}"


def variant_tables(dir_, models, title):
    """Markdown lines for one feature set and the facts the targets need."""
    rounds = fit_rounds(dir_) if "gradient_boosting" in models else None
    fit_what = " (GB: median of rounds; others: one fit)" if rounds else " (one fit)"
    header = ["Model", "Peer", "Acc % peer", "Acc % nadir", "Δ pt", "nadir @0.5", "F1 peer",
              "F1 nadir", "AUC peer", "AUC nadir", "Fit 1 thread: peer/nadir" + fit_what,
              "Fit 2 threads", "Predict 1 thread: peer/nadir (median of repeats"
              + ("; GB: of rounds)" if rounds else ")"),
              "Predict 2 threads", "Peak RSS MiB peer / nadir t1 / t2"]
    rows, facts, versions = [], {}, {}
    extra_lines = []
    for m in models:
        n1 = read_json(dir_ / f"nadir-t1-{m}" / "metrics.json")
        n2 = read_json(dir_ / f"nadir-t2-{m}" / "metrics.json")
        a = next((x for x in (n1 or {}).get("models", []) if x["name"] == m), None)
        b = next((x for x in (n2 or {}).get("models", []) if x["name"] == m), None)
        nd = a or b
        ev = read_json(dir_ / f"nadir-eval-{m}.json")
        timing = read_json(dir_ / f"nadir-predict-{m}.json")
        predict = {t: nadir_predict(timing, t, x) for t, x in ((1, a), (2, b))}
        nadir_fit = {t: x and x["fit_seconds"] for t, x in ((1, a), (2, b))}
        rounds_here = rounds if m == "gradient_boosting" else None
        if rounds_here:
            for t, runs in rounds_here[0]["nadir"].items():
                nadir_fit[t] = statistics.median(runs["wall"])
                predict[t] = round_predict(runs) or predict[t]
            extra_lines = fit_rounds_lines(rounds_here, ev and ev["accuracy"])
        rss1 = max_rss_mib(dir_ / f"nadir-t1-{m}.time")
        rss2 = max_rss_mib(dir_ / f"nadir-t2-{m}.time")
        peers = []
        for lib_file in ("sklearn", "lightgbm"):
            rep = read_json(dir_ / f"peer-{m}-{lib_file}.json")
            if rep is None:
                continue
            runs = [r for r in rep["models"] if r["name"] == m]
            if not runs:
                continue
            by = {}
            for r in runs:
                if r["n_jobs"] is None:
                    by[1] = by[2] = r
                else:
                    by[r["n_jobs"]] = r
            peers.append((runs[0]["library"], by, max_rss_mib(dir_ / f"peer-{m}-{lib_file}.time"),
                          rep.get("versions", {})))
        if not peers:
            continue
        for p in peers:
            versions.update(p[3])
        best = max(peers, key=lambda p: p[1][1]["accuracy"])
        for lib, by, rss, _ in peers:
            peer_fit = {t: by[t]["fit_seconds"] for t in (1, 2)}
            peer_rounds = rounds_here and rounds_here[0].get(lib)
            fit_detail = {}
            peer_predicts = {t: peer_predict(by[t]) for t in (1, 2)}
            predict_in_rounds = set()
            for t, runs in (peer_rounds or {}).items():
                peer_fit[t] = statistics.median(runs["wall"])
                nadir_runs = rounds_here[0]["nadir"].get(t)
                if nadir_runs:
                    fit_detail[t] = (ratio(min(runs["wall"]), min(nadir_runs["wall"])),
                                     ratio(statistics.median(runs["cpu"]),
                                           statistics.median(nadir_runs["cpu"])),
                                     len(runs["wall"]))
                    if round_predict(runs) and round_predict(nadir_runs):
                        peer_predicts[t] = round_predict(runs)
                        predict_in_rounds.add(t)
            s1, s2 = by.get(1), by.get(2)
            nd_acc = nd["holdout"]["accuracy"] if nd else None
            delta = None if nd_acc is None else 100 * (nd_acc - s1["accuracy"])
            star = " ★" if (lib, by) == (best[0], best[1]) and len(peers) > 1 else ""
            thr = f" (t={nd['threshold']:.2f})" if nd and "threshold" in nd else ""
            rows.append([
                m, PEER_NAME.get((lib, m), lib) + star,
                pct(s1["accuracy"]), pct(nd_acc) + thr,
                "–" if delta is None else f"{delta:+.2f}",
                pct(ev["accuracy"]) if ev else "–",
                f"{s1['f1']:.4f}", f"{nd['holdout']['f1']:.4f}" if nd else "–",
                f"{s1['roc_auc']:.5f}", f"{nd['holdout']['roc_auc']:.5f}" if nd else "–",
                cell(peer_fit[1], nadir_fit[1]),
                cell(peer_fit[2], nadir_fit[2]),
                cell(peer_predicts[1], predict[1]),
                cell(peer_predicts[2], predict[2]),
                " / ".join("–" if v is None else f"{v:.0f}" for v in (rss, rss1, rss2)),
            ])
            facts[(m, lib)] = {
                "delta": delta,
                "delta_half": None if ev is None else 100 * (ev["accuracy"] - s1["accuracy"]),
                "best": lib == best[0],
                "fit": {t: ratio(peer_fit[t], nadir_fit[t]) for t in (1, 2)},
                "fit_detail": fit_detail,
                "predict": {t: ratio(peer_predicts[t], predict[t]) for t in (1, 2)},
                "predict_in_rounds": predict_in_rounds,
            }
    lines = [f"#### {title}", "", table(header, rows), ""] + extra_lines
    return lines, facts, versions


def verdicts(facts, models):
    out = []
    met = lambda ok: "**met**" if ok else "**not met**"
    for m, lib, fit_goal, predict_goal, tol in TARGETS:
        f = facts.get((m, lib))
        if f is None:
            continue
        for t in (1, 2):
            parts, oks = [], []
            fit = f["fit"][t]
            if fit is not None:
                detail = f["fit_detail"].get(t)
                how = (f", median of {detail[2]}; fastest {detail[0]:.2f}×, CPU {detail[1]:.2f}×"
                       if detail else "")
                parts.append(f"fit {fit:.2f}× (goal ≥ {fit_goal:g}×{how})")
                oks.append(fit >= fit_goal)
            if predict_goal is not None and f["predict"][t] is not None:
                where = ", median of the fit rounds" if t in f["predict_in_rounds"] else ""
                parts.append(f"predict {f['predict'][t]:.2f}× (goal ≥ {predict_goal:g}×{where})")
                oks.append(f["predict"][t] >= predict_goal)
            if tol is not None and f["delta"] is not None:
                parts.append(f"accuracy {f['delta']:+.2f} pt (goal ±{tol:g}; at 0.5: "
                             f"{f['delta_half']:+.2f} pt)" if f["delta_half"] is not None
                             else f"accuracy {f['delta']:+.2f} pt (goal ±{tol:g})")
                oks.append(abs(f["delta"]) <= tol)
            peer = PEER_NAME[(lib, m)]
            out.append(f"- {m} vs {peer}, {t} thread{'s' if t > 1 else ''}: "
                       f"{met(all(oks))} — " + "; ".join(parts))
    worst = []
    for m in models:
        best = [f for (mm, lib), f in facts.items() if mm == m and f["best"]]
        if best and best[0]["delta"] is not None:
            worst.append((m, best[0]["delta"], best[0]["delta_half"]))
    if worst:
        behind = [w for w in worst if w[1] < -ACCURACY_TOLERANCE]
        out.append(f"- every model within {ACCURACY_TOLERANCE:g} pt of the best peer's accuracy: "
                   f"{met(not behind)} — " + ", ".join(
                       f"{m} {d:+.2f}" + (f" (@0.5 {h:+.2f})" if h is not None else "")
                       for m, d, h in worst))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out_dir", type=Path)
    p.add_argument("--models", required=True)
    p.add_argument("--variants", default="all")
    p.add_argument("--drop", default="")
    p.add_argument("--fit-repeats", default="", help="the fit rounds' count, for the notes")
    p.add_argument("--out", required=True, type=Path)
    for extra in ("command", "date", "machine", "versions", "elapsed"):
        p.add_argument(f"--{extra}", default="")
    args = p.parse_args()
    models = [m for m in args.models.split(",") if m]
    split = read_json(args.out_dir / "split.json") or {}
    busy = {}
    busy_file = args.out_dir / "busy.tsv"
    if busy_file.is_file():
        for line in busy_file.read_text().splitlines():
            phase, pct_, _ = line.split("\t")
            busy[phase] = int(pct_)

    lines = [f"### nadir vs scikit-learn and LightGBM on {split.get('schema', '?')} "
             "(binary: attack vs normal)", ""]
    if split:
        lines += [f"One stratified 70/30 split (seed {split['seed']}): "
                  f"{split['train']['rows']} training rows, {split['test']['rows']} test rows, "
                  "the same files for every tool.", ""]
    versions = {}
    all_verdicts = []
    for variant in args.variants.split(","):
        title = ("All features" if variant == "all"
                 else f"Without {args.drop} (`--drop {args.drop}` on both sides)")
        vl, facts, vers = variant_tables(args.out_dir / variant, models, title)
        versions.update(vers)
        lines += vl
        lines += [f"Targets, {title.split(' (')[0].lower()}:", ""] + verdicts(facts, models) + [""]
    lines += [
        "Accuracy, F1 and ROC-AUC are on the test part. The peers' accuracy and F1 are at "
        "their default `predict` (probability 0.5); nadir's at the threshold t it chose by "
        "2-fold cross-validation on the training part (best out-of-fold F1), and \"nadir "
        "@0.5\" is its saved model re-scored at 0.5 (`nadir evaluate --threshold 0.5`). "
        "Δ = nadir − peer, in points. ★ marks the best peer (highest accuracy) where a model "
        "has two. Speed cells are peer seconds ÷ nadir seconds (> 1× means nadir is faster), "
        "then both times: fit = the final fit on the training part (gradient boosting: the median "
        "of the fit rounds, BENCH_FIT_REPEATS per side, " + (args.fit_repeats or "5") + " here; "
        "the other models: the one fit of the training run), predict = scoring the "
        "whole test part in one batch, the median of repeated runs on each side (peers: "
        "`predict_proba` after the fit; nadir: its saved model's `score` on the encoded test "
        "part, benches/score_saved.rs, BENCH_PREDICT_REPEATS runs, 5 by default; gradient "
        "boosting: nadir's and LightGBM's medians over the fit rounds, one run per round "
        "each). \"1 thread\": nadir "
        "RAYON_NUM_THREADS=1, peers n_jobs=1 / 1 OpenMP thread; \"2 threads\": nadir "
        "RAYON_NUM_THREADS=2, random forest and LightGBM n_jobs=2, HistGradientBoosting 2 "
        "OpenMP threads (threadpoolctl), the single-threaded peers' one run. Peers run with "
        "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1. The scikit-learn models get the one-hot "
        "encoding (outside the timings); LightGBM gets the categoricals as pandas `category` "
        "columns. Peak RSS (`/usr/bin/time -v`): one process per model and tool; the peer's "
        "holds the Python interpreter, pandas, the data frames and both thread counts' runs, "
        "nadir's its 2-fold cross-validation and final fit.",
        "",
    ]
    if busy:
        lines += ["Other processes' share of the cores at the start of each phase: "
                  + ", ".join(f"{k} {v} %" for k, v in busy.items()) + ".", ""]
    if args.machine:
        lines += [f"Machine: {args.machine}", ""]
    vs = [args.versions] if args.versions else []
    if "lightgbm" in versions:
        vs.append(f"lightgbm {versions['lightgbm']}")
    if vs:
        lines += ["Versions: " + ", ".join(vs), ""]
    if args.command:
        lines += [f"Command: `{args.command}`" + (f" ({args.date})" if args.date else ""), ""]
    if args.elapsed:
        lines += [f"Whole run: {args.elapsed} s", ""]
    text = "\n".join(lines)
    args.out.write_text(text)
    print(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
