"""The scikit-learn side of bench/compare_unsupervised.sh, and its table.

Subcommands (each writes one JSON file; run with OMP_NUM_THREADS=1):

    subsets DATA OUT_DIR --sizes 20000,50000 [--seed 42]
        seeded random subsets of DATA's rows, copied byte for byte with the header, in file
        order, to OUT_DIR/rows-N.csv
    pca DATA OUT.json --nadir-summary summary.json --nadir-points points.csv [--variance 0.95]
        nadir's PCA input rebuilt in numpy (log1p of counts, z-score, clip ±8, one-hot 0/1,
        every column centred), then PCA(n_components=0.95) with svd_solver "full" and "auto";
        compared with nadir's components, ratios and projected points
    dbscan POINTS.csv OUT.json --eps X --min-samples N [--nadir-labels labels.csv]
        DBSCAN(eps, min_samples) on nadir's principal-component coordinates; with
        --nadir-labels, the agreement with nadir's labelling. Exits 3 on MemoryError.
    iforest TRAIN.csv TEST.csv OUT.json --seeds 42,43 --n-jobs 1,2
        IsolationForest(100, max_samples=256, contamination="auto") on the raw numeric
        columns + one-hot (nadir's isolation-forest features), on all rows and on the
        normal rows only; fit seconds, score_samples seconds over TEST, ROC-AUC of -score
    report OUT_DIR OUT.md
        the tables, printed and written as Markdown; PASS/FAIL of the two targets
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

CATEGORICAL = ["protocoltype", "service", "flag"]
INDICATORS = {"land", "loggedin", "rootshell", "suattempted", "ishostlogin", "isguestlogin"}
NOT_FEATURES = {"attack", "lastflag"}
CLIP = 8.0


def rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dump(obj, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)


def read_json(path):
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError:
        return None


# --- subsets ------------------------------------------------------------------------------
def cmd_subsets(args):
    import numpy as np

    with open(args.data, newline="") as f:
        lines = f.read().splitlines(keepends=True)
    header, rows = lines[0], [line for line in lines[1:] if line.strip()]
    rng = np.random.default_rng(args.seed)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for size in (int(s) for s in args.sizes.split(",")):
        if size >= len(rows):
            continue
        idx = np.sort(rng.choice(len(rows), size=size, replace=False))
        path = args.out_dir / f"rows-{size}.csv"
        with open(path, "w", newline="") as f:
            f.write(header if header.endswith("\n") else header + "\n")
            for i in idx:
                f.write(rows[i] if rows[i].endswith("\n") else rows[i] + "\n")
        print(f"  {path.name}: {size} of {len(rows)} rows (seed {args.seed})")
    return 0


# --- features -----------------------------------------------------------------------------
def load_frame(path):
    import pandas as pd

    frame = pd.read_csv(path)
    y = (frame["attack"] != "normal").to_numpy()
    return frame.drop(columns=[c for c in NOT_FEATURES if c in frame.columns]), y


def is_count(column):
    return not column.endswith("rate") and column not in INDICATORS


def one_hot_matrix(train, test=None):
    """38 numeric columns as they are, then a one-hot of the categoricals fitted on `train`
    (unseen test categories: all-zero): nadir's one-hot row, unscaled."""
    import numpy as np
    from sklearn.preprocessing import OneHotEncoder

    numeric = [c for c in train.columns if c not in CATEGORICAL]
    enc = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    x_train = np.hstack([train[numeric].to_numpy(np.float64), enc.fit_transform(train[CATEGORICAL])])
    x_test = None
    if test is not None:
        x_test = np.hstack([test[numeric].to_numpy(np.float64), enc.transform(test[CATEGORICAL])])
    return numeric, np.ascontiguousarray(x_train), x_test


def pca_input(frame):
    """nadir's PCA input: log1p of counts, population z-score (a constant column maps to 0),
    clip to ±8; one-hot 0/1; then every column centred."""
    import numpy as np

    numeric, x, _ = one_hot_matrix(frame)
    k = len(numeric)
    num = x[:, :k]
    counts = np.array([is_count(c) for c in numeric])
    num[:, counts] = np.log1p(num[:, counts])
    mean = num.mean(axis=0)
    sd = num.std(axis=0)
    sd[sd <= 1e-12] = 1.0
    np.clip((num - mean) / sd, -CLIP, CLIP, out=num)
    x[:, :k] = num
    x -= x.mean(axis=0)
    return x, int(counts.sum()), k


# --- PCA ----------------------------------------------------------------------------------
def cmd_pca(args):
    import numpy as np
    import sklearn
    from sklearn.decomposition import PCA

    frame, _ = load_frame(args.data)
    nadir = read_json(args.nadir_summary)
    nadir_points = None
    if args.nadir_points and Path(args.nadir_points).is_file():
        import pandas as pd

        nadir_points = pd.read_csv(args.nadir_points).to_numpy()
    runs = []
    for solver in ("full", "auto"):
        best = None
        for _ in range(args.repeat):
            start = time.perf_counter()
            x, n_counts, n_numeric = pca_input(frame)
            prep = time.perf_counter() - start
            t = time.perf_counter()
            pca = PCA(n_components=args.variance, svd_solver=solver)
            points = pca.fit_transform(x)
            fit = time.perf_counter() - t
            total = time.perf_counter() - start
            if best is None or total < best["seconds"]:
                best = {"seconds": total, "prep_seconds": prep, "fit_transform_seconds": fit,
                        "pca": pca, "points": points, "x_shape": x.shape}
        pca, points = best["pca"], best["points"]
        run = {
            "svd_solver": solver,
            "solver_used": getattr(pca, "_fit_svd_solver", solver),
            "seconds": best["seconds"],
            "prep_seconds": best["prep_seconds"],
            "fit_transform_seconds": best["fit_transform_seconds"],
            "components": int(pca.n_components_),
            "explained_variance_ratio": pca.explained_variance_ratio_.tolist(),
            "cumulative_ratio": float(pca.explained_variance_ratio_.sum()),
            "columns": int(best["x_shape"][1]),
        }
        if nadir is not None:
            ours = np.array(nadir["pca"]["explained_variance_ratio"])
            k = min(len(ours), run["components"])
            run["max_abs_ratio_difference"] = float(np.max(np.abs(ours[:k] - pca.explained_variance_ratio_[:k])))
        if nadir_points is not None and nadir_points.shape[0] == points.shape[0]:
            k = min(nadir_points.shape[1], points.shape[1])
            corr = [abs(float(np.corrcoef(nadir_points[:, j], points[:, j])[0, 1])) for j in range(k)]
            run["abs_correlation_per_component"] = corr
            run["min_abs_correlation"] = min(corr)
            # Same subspace? Principal angles between the two projections' column spaces.
            qa, _ = np.linalg.qr(nadir_points[:, :k] - nadir_points[:, :k].mean(0))
            qb, _ = np.linalg.qr(points[:, :k] - points[:, :k].mean(0))
            run["min_subspace_cosine"] = float(np.linalg.svd(qa.T @ qb, compute_uv=False).min())
        print(f"  sklearn PCA(svd_solver={solver!r} -> {run['solver_used']}): {run['components']} components, "
              f"{run['cumulative_ratio']:.4f} of the variance, {run['seconds']:.2f} s "
              f"(scaling {run['prep_seconds']:.2f} s + fit_transform {run['fit_transform_seconds']:.2f} s)"
              + (f"; |corr| with nadir's components >= {run['min_abs_correlation']:.4f}"
                 if "min_abs_correlation" in run else ""), flush=True)
        runs.append(run)
    dump({"rows": len(frame), "count_columns": n_counts, "numeric_columns": n_numeric,
          "sklearn": sklearn.__version__, "runs": runs}, args.out)
    return 0


# --- DBSCAN -------------------------------------------------------------------------------
def cmd_dbscan(args):
    import numpy as np
    import pandas as pd
    from sklearn.cluster import DBSCAN

    out = {"eps": args.eps, "min_samples": args.min_samples, "n_jobs": args.n_jobs, "status": "running"}
    dump(out, args.out)
    start = time.perf_counter()
    x = pd.read_csv(args.points).to_numpy(np.float64)
    out.update(rows=int(x.shape[0]), dims=int(x.shape[1]), load_seconds=time.perf_counter() - start,
               rss_before_fit_mb=rss_mb())
    try:
        t = time.perf_counter()
        model = DBSCAN(eps=args.eps, min_samples=args.min_samples, n_jobs=args.n_jobs).fit(x)
        out["fit_seconds"] = time.perf_counter() - t
    except MemoryError:
        out.update(status="out of memory", rss_peak_mb=rss_mb())
        dump(out, args.out)
        print("  MemoryError", file=sys.stderr)
        return 3
    labels = model.labels_
    core = np.zeros(len(labels), dtype=bool)
    core[model.core_sample_indices_] = True
    out.update(status="ok", rss_peak_mb=rss_mb(), clusters=int(labels.max() + 1),
               noise=int((labels < 0).sum()), core=int(core.sum()),
               edge=int(((labels >= 0) & ~core).sum()))
    if args.nadir_labels and Path(args.nadir_labels).is_file():
        from sklearn.metrics import adjusted_rand_score

        nadir = pd.read_csv(args.nadir_labels, dtype={"cluster": str})
        if len(nadir) == len(labels):
            n_labels = np.where(nadir["cluster"] == "noise", -1,
                                pd.to_numeric(nadir["cluster"], errors="coerce").fillna(-1)).astype(int)
            n_core = (nadir["kind"] == "core").to_numpy()
            both = core & n_core
            out["agreement"] = {
                "ari_all": float(adjusted_rand_score(n_labels, labels)),
                "ari_core": float(adjusted_rand_score(n_labels[both], labels[both])) if both.any() else None,
                "core_mismatches": int((core != n_core).sum()),
                "noise_mismatches": int(((labels < 0) != (n_labels < 0)).sum()),
                "nadir_clusters": int(n_labels.max() + 1),
                "nadir_noise": int((n_labels < 0).sum()),
                "nadir_core": int(n_core.sum()),
            }
    dump(out, args.out)
    a = out.get("agreement", {})
    print(f"  sklearn DBSCAN: {out['clusters']} clusters, {out['core']} core, {out['noise']} noise, "
          f"fit {out['fit_seconds']:.2f} s" + (f"; ARI with nadir {a['ari_all']:.4f}, "
                                              f"core mismatches {a['core_mismatches']}" if a else ""),
          flush=True)
    return 0


# --- Isolation Forest ---------------------------------------------------------------------
def cmd_iforest(args):
    import numpy as np
    import sklearn
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import roc_auc_score

    train, y_train = load_frame(args.train)
    test, y_test = load_frame(args.test)
    _, x_train, x_test = one_hot_matrix(train, test)
    x_normal = np.ascontiguousarray(x_train[~y_train])
    # One untimed fit and score first: the first call pays for imports and allocator warm-up.
    IsolationForest(n_estimators=100, max_samples=256, random_state=0).fit(x_train).score_samples(x_test)
    runs = []
    for mode, x in (("all", x_train), ("normal_only", x_normal)):
        for n_jobs in (int(j) for j in args.n_jobs.split(",")):
            for seed in (int(s) for s in args.seeds.split(",")):
                model = IsolationForest(n_estimators=100, max_samples=256, contamination="auto",
                                        random_state=seed, n_jobs=n_jobs)
                t, c = time.perf_counter(), time.process_time()
                model.fit(x)
                fit, fit_cpu = time.perf_counter() - t, time.process_time() - c
                t = time.perf_counter()
                scores = -model.score_samples(x_test)
                score = time.perf_counter() - t
                auc = float(roc_auc_score(y_test, scores))
                runs.append({"mode": mode, "n_jobs": n_jobs, "seed": seed, "fit_seconds": fit,
                             "fit_cpu_seconds": fit_cpu, "score_seconds": score, "roc_auc": auc,
                             "fit_rows": int(x.shape[0])})
                print(f"  sklearn IsolationForest {mode:<11} n_jobs={n_jobs} seed {seed}: "
                      f"fit {fit:.3f} s, score {score:.3f} s, AUC {auc:.4f}", flush=True)
    dump({"sklearn": sklearn.__version__, "features": int(x_train.shape[1]),
          "train_rows": int(len(y_train)), "test_rows": int(len(y_test)), "runs": runs}, args.out)
    return 0


# --- the report ---------------------------------------------------------------------------
def mean_sd(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def fmt_s(v, digits=2):
    return "–" if v is None else f"{v:.{digits}f}"


def fmt_mb(kb):
    if kb is None:
        return "–"
    mib = kb / 1024
    return f"{mib / 1024:.2f} GiB" if mib >= 1024 else f"{mib:.0f} MiB"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def cmd_report(args):
    out = args.out_dir
    meta = read_json(out / "meta.json") or {}
    md = ["## Unsupervised models: nadir and scikit-learn side by side", ""]
    targets = []

    # PCA
    nadir_all = read_json(out / "cluster-all-t1" / "summary.json")
    nadir_all2 = read_json(out / "cluster-all-t2" / "summary.json")
    skp = read_json(out / "sklearn-pca.json")
    md += ["### PCA (all rows, 95 % of the variance)", ""]
    rows = []
    if nadir_all:
        p = nadir_all["pca"]
        k = p["components"]
        for label, s in (("nadir, 1 thread", nadir_all), ("nadir, 2 threads", nadir_all2)):
            if s:
                rows.append([label, k, f"{p['cumulative_ratio'][k - 1]:.4f}",
                             fmt_s(s["seconds"]["pca"]), "encode + scale + fit + project (Jacobi on the 122×122 covariance)", "–"])
    if skp:
        for r in skp["runs"]:
            rows.append([f"scikit-learn `svd_solver='{r['svd_solver']}'` ({r['solver_used']})", r["components"],
                         f"{r['cumulative_ratio']:.4f}", fmt_s(r["seconds"]),
                         f"scale {fmt_s(r['prep_seconds'])} + fit_transform {fmt_s(r['fit_transform_seconds'])}",
                         f"{r['min_abs_correlation']:.4f} / {r['min_subspace_cosine']:.4f}"
                         if "min_abs_correlation" in r else "–"])
    md += table(["", "components", "variance kept", "seconds", "what is timed", "min \\|corr\\| per component / min subspace cosine vs nadir"], rows)
    if skp and nadir_all:
        diffs = [r.get("max_abs_ratio_difference") for r in skp["runs"] if r.get("max_abs_ratio_difference") is not None]
        md += ["", f"Same input matrix ({skp['rows']} rows × {skp['runs'][0]['columns']} columns, "
               f"{skp['count_columns']} of the {skp['numeric_columns']} numeric columns through log1p). "
               f"Largest difference between the explained-variance ratios: "
               f"{max(diffs):.1e}." if diffs else ""]
    md += [""]

    # DBSCAN
    md += [f"### DBSCAN (eps {meta.get('eps', '?')}, min_samples {meta.get('min_samples', '?')}, on nadir's principal-component coordinates)", ""]
    rows = []
    all_rows_peak = None
    for size in meta.get("sizes", []):
        n1 = read_json(out / f"cluster-{size}-t1" / "summary.json")
        n2 = read_json(out / f"cluster-{size}-t2" / "summary.json")
        rss = [read_kb(out / f"cluster-{size}-t{t}.rss") for t in (1, 2)]
        wall = [read_float(out / f"cluster-{size}-t{t}.wall") for t in (1, 2)]
        sk = read_json(out / f"sklearn-dbscan-{size}.json")
        sk_rss = read_kb(out / f"sklearn-dbscan-{size}.rss")
        status = (out / f"sklearn-dbscan-{size}.status").read_text().strip() \
            if (out / f"sklearn-dbscan-{size}.status").is_file() else "not run"
        rows_n = (n1 or n2 or {}).get("rows", size)
        nd = lambda s: None if s is None else s["seconds"]["index"] + s["seconds"]["dbscan"]
        if size == "all" and any(r is not None for r in rss):
            all_rows_peak = max(r for r in rss if r is not None)
        if sk and status == "ok":
            sk_time = fmt_s(sk["fit_seconds"])
            sk_mem = fmt_mb(sk_rss)
            a = sk.get("agreement")
            agree = (f"{sk['clusters']} / {sk['noise']} / {sk['core']}; ARI {a['ari_all']:.4f} "
                     f"(core points {fmt_s(a['ari_core'], 4)}), {a['core_mismatches']} core and "
                     f"{a['noise_mismatches']} noise mismatches") if a else "–"
        else:
            sk_time, sk_mem, agree = status, (fmt_mb(sk_rss) + " at failure" if sk_rss else "–"), "–"
        n_counts = f"{n1['clusters']} / {n1['noise']} / {n1['core']}" if n1 else "–"
        rows.append([f"{rows_n:,}", f"{fmt_s(nd(n1))} / {fmt_s(nd(n2))}",
                     f"{fmt_s(wall[0], 1)} / {fmt_s(wall[1], 1)}",
                     f"{fmt_mb(rss[0])} / {fmt_mb(rss[1])}", n_counts,
                     sk_time, sk_mem,
                     f"{sk['fit_seconds'] / nd(n1):.0f}×" if (sk and status == "ok" and n1) else "–", agree])
    md += table(["rows", "nadir DBSCAN s (kd-tree + DBSCAN), 1 / 2 threads", "nadir whole run s, 1 / 2 threads",
                 "nadir peak RSS, 1 / 2 threads", "nadir clusters / noise / core", "scikit-learn DBSCAN s",
                 "scikit-learn peak RSS", "time ratio (1 thread)", "scikit-learn clusters / noise / core; agreement"], rows)
    md += ["", "20,000 and 50,000 rows: seeded random subsets of the file (seed 42), on which nadir refits its "
           "pipeline and PCA; scikit-learn clusters exactly the coordinates nadir wrote (`--points`). "
           "Agreement: adjusted Rand index over all rows (noise as one label) and over the rows both call core; "
           "mismatches count rows that one side calls core (or noise) and the other does not. "
           "nadir's whole run = read CSV + PCA + kd-tree + DBSCAN + k-distance curve + writing labels "
           "(and, at 1 thread, the points file); its peak RSS covers all of it. scikit-learn's seconds are "
           "`DBSCAN.fit` (its own ball/kd-tree included) at n_jobs=1, its peak RSS the whole Python process "
           "(interpreter, pandas and the points ≈ "
           f"{fmt_s(max_before(out, meta), 0)} MiB before the fit), under `ulimit -v` "
           f"{meta.get('sklearn_vmem_gb', '?')} GiB and a {meta.get('sklearn_timeout', '?')} s timeout."
           + (f" For reference, nadir's k-distance knee (k = {nadir_all['k_distance']['k']}) on all rows is at eps "
              f"{nadir_all['k_distance']['knee_eps']:.3f}." if nadir_all and nadir_all['k_distance'].get('knee_eps') else ""), ""]
    if all_rows_peak is not None:
        ok = all_rows_peak < 2 * 1024 * 1024
        targets.append(f"DBSCAN on all rows under 2 GiB: **{'PASS' if ok else 'FAIL'}** "
                       f"(nadir peak RSS {fmt_mb(all_rows_peak)}, whole `nadir cluster` process)")

    # Isolation Forest
    ski = read_json(out / "sklearn-iforest.json")
    md += ["### Isolation Forest (100 trees, 256 samples per tree, contamination auto; "
           f"train {ski['train_rows'] if ski else '?'} / test {ski['test_rows'] if ski else '?'} rows; "
           f"{len(meta.get('seeds', []))} seeds, mean ± sd)", ""]
    rows = []
    summary = {}
    for mode in ("all", "normal_only"):
        for threads in (1, 2):
            ns = [read_json(out / f"iforest-{mode}-t{threads}-s{s}" / "metrics.json") for s in meta.get("seeds", [])]
            ns = [m["models"][0] for m in ns if m]
            nf, nfs = mean_sd([m.get("fit_seconds") for m in ns])
            np_, _ = mean_sd([m.get("predict_seconds") for m in ns])
            na, nas = mean_sd([m["holdout"]["roc_auc"] for m in ns])
            ss = [r for r in (ski or {}).get("runs", []) if r["mode"] == mode and r["n_jobs"] == threads]
            sf, sfs = mean_sd([r["fit_seconds"] for r in ss])
            sp, _ = mean_sd([r["score_seconds"] for r in ss])
            sa, sas = mean_sd([r["roc_auc"] for r in ss])
            summary[(mode, threads)] = (nf, sf, na, sa)
            # Standard error of the difference of the two means (seeds independent).
            se = ((nas or 0) ** 2 / max(len(ns), 1) + (sas or 0) ** 2 / max(len(ss), 1)) ** 0.5
            rows.append([mode.replace("_", " "), f"{threads} / n_jobs={threads}",
                         f"{fmt_s(nf, 3)} ± {fmt_s(nfs, 3)}", f"{fmt_s(sf, 3)} ± {fmt_s(sfs, 3)}",
                         f"{sf / nf:.1f}×" if nf and sf else "–",
                         fmt_s(np_, 3), fmt_s(sp, 3), f"{sp / np_:.1f}×" if np_ and sp else "–",
                         f"{fmt_s(na, 4)} ± {fmt_s(nas, 4)}", f"{fmt_s(sa, 4)} ± {fmt_s(sas, 4)}",
                         f"{na - sa:+.4f} ± {se:.4f}" if na is not None and sa is not None else "–"])
    md += table(["fitted on", "nadir threads / sklearn n_jobs", "nadir fit s", "sklearn fit s", "fit ratio",
                 "nadir score s", "sklearn score s", "score ratio", "nadir ROC-AUC", "sklearn ROC-AUC",
                 "AUC difference ± s.e."], rows)
    md += ["", "Ratios are scikit-learn seconds ÷ nadir seconds (> 1× means nadir is faster). Fit is the "
           "forest alone on the encoded matrix (encoding outside the timing on both sides); score is "
           "scoring the whole test part in one call (`score_samples`; nadir: `predict_seconds`). "
           "ROC-AUC on the test part, anomalous = high score (−`score_samples`), mean ± sd over the seeds "
           "(`--seed` for nadir, `random_state` for scikit-learn); the AUC difference is of the means, ± its "
           "standard error. \"normal only\" fits on the normal training rows (nadir `--normal-only`).", ""]
    for mode in ("all", "normal_only"):
        for threads in (2, 1):
            nf, sf, na, sa = summary.get((mode, threads), (None,) * 4)
            if None in (nf, sf, na, sa):
                continue
            ok = sf / nf >= 3 and abs(na - sa) <= 0.01
            targets.append(f"Isolation Forest ({mode.replace('_', ' ')} rows, {threads} thread(s) / "
                           f"n_jobs={threads}) fits ≥ 3× faster at ROC-AUC within ±0.01: "
                           f"**{'PASS' if ok else 'FAIL'}** ({sf / nf:.1f}× faster, AUC {na:.4f} vs {sa:.4f}, "
                           f"difference {na - sa:+.4f})" + ("" if mode == "all" else " (extra: the issue's target is on all rows)"))
    md += ["### Targets", ""] + [f"- {t}" for t in targets] + [""]

    busy = meta.get("busy", [])
    md += ["### Machine", "",
           f"- {meta.get('nproc', '?')} cores, {meta.get('cpu', '?')}, {meta.get('memory', '?')}; "
           f"load average {meta.get('load_before', '?')} before, {meta.get('load_after', '?')} after",
           "- other processes at each phase start: " + (", ".join(f"{b['phase']} {b['pct']} %" for b in busy) or "–")
           + (" — **the machine was busy: times are inflated; rerun with BENCH_WAIT_QUIET=300 before quoting**"
              if any(int(b["pct"]) >= 25 for b in busy) else ""),
           f"- nadir {meta.get('git', '?')}, {meta.get('rustc', '?')}; {meta.get('py_versions', '?')}",
           f"- OMP_NUM_THREADS=1 (and OPENBLAS_NUM_THREADS=1) for scikit-learn; nadir RAYON_NUM_THREADS as stated",
           f"- `{meta.get('command', 'bench/compare_unsupervised.sh')}`, {meta.get('date', '?')}, "
           f"{meta.get('elapsed', '?')} s in all", ""]
    text = "\n".join(md)
    Path(args.md).write_text(text)
    print(text)
    return 0


def read_kb(path):
    try:
        return int(Path(path).read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        return None


def read_float(path):
    try:
        return float(Path(path).read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        return None


def max_before(out, meta):
    vals = [(read_json(out / f"sklearn-dbscan-{s}.json") or {}).get("rss_before_fit_mb") for s in meta.get("sizes", [])]
    vals = [v for v in vals if v is not None]
    return max(vals) if vals else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("subsets")
    p.add_argument("data", type=Path)
    p.add_argument("out_dir", type=Path)
    p.add_argument("--sizes", default="20000,50000")
    p.add_argument("--seed", type=int, default=42)
    p = sub.add_parser("pca")
    p.add_argument("data", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--nadir-summary", type=Path)
    p.add_argument("--nadir-points", type=Path)
    p.add_argument("--variance", type=float, default=0.95)
    p.add_argument("--repeat", type=int, default=3, help="best of this many timings")
    p = sub.add_parser("dbscan")
    p.add_argument("points", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--eps", type=float, required=True)
    p.add_argument("--min-samples", type=int, required=True)
    p.add_argument("--n-jobs", type=int, default=None)
    p.add_argument("--nadir-labels", type=Path)
    p = sub.add_parser("iforest")
    p.add_argument("train", type=Path)
    p.add_argument("test", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--seeds", default="42,43,44,45,46")
    p.add_argument("--n-jobs", default="1,2")
    p = sub.add_parser("report")
    p.add_argument("out_dir", type=Path)
    p.add_argument("md", type=Path)
    args = parser.parse_args()
    if args.cmd != "report" and os.environ.get("OMP_NUM_THREADS") != "1":
        sys.exit("unsupervised.py: run with OMP_NUM_THREADS=1")
    return {"subsets": cmd_subsets, "pca": cmd_pca, "dbscan": cmd_dbscan,
            "iforest": cmd_iforest, "report": cmd_report}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
