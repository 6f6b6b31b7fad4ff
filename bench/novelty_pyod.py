"""PyOD's detectors on nadir's leave-attacks-out folds (bench/novelty_pyod.sh).

Reads the folds that `novelty_folds` wrote (row indices of the data file) and, per fold,
trains PyOD's AutoEncoder, IForest, KNN, ECOD and COPOD on the fold's normal training rows
only, then measures detection of the fold's held-out attacks at 0.5, 1 and 2 % false
positives on its held-out normal rows, with the rule nadir's `metrics::detection_at_fpr`
uses: the threshold is the normal rows' score of rank floor(fpr * n) + 1 from the top, rows
strictly above it are flagged (ties never split). Fit times on one thread.

Features as nadir encodes them for its autoencoder: log1p of the count features, z-scores
(fitted on the normal training rows, clipped at +-8), then one 0/1 column per category value
seen in the fold's training rows (an unseen value: all zeros).

The autoencoder and the isolation forest are fitted once per seed of SEEDS (comma-separated,
default 42; their `random_state`), the deterministic detectors (KNN, ECOD, COPOD) once.

usage: novelty_pyod.py DATA.csv OUT_DIR EPOCHS [SEEDS]
"""

import json
import sys
import time

import numpy as np
import pandas as pd
import torch
from pyod.models.auto_encoder import AutoEncoder
from pyod.models.copod import COPOD
from pyod.models.ecod import ECOD
from pyod.models.iforest import IForest
from pyod.models.knn import KNN

FPRS = [0.005, 0.01, 0.02]


def detection_at_fpr(normal, attacks, fpr):
    ordered = np.sort(normal)[::-1]
    allowed = min(int(np.floor(fpr * len(ordered))), len(ordered) - 1)
    threshold = ordered[allowed]
    return float(np.mean(attacks > threshold)), float(np.mean(normal > threshold))


def features(frame, folds, fold):
    train = np.array(fold["train"])
    normal = train[~np.array(fold["train_attack"])]
    test = np.array(fold["test"])
    numeric = frame[folds["numeric"]].to_numpy(dtype=np.float64)
    counts = np.array(folds["counts"])
    numeric[:, counts] = np.log1p(numeric[:, counts])
    mean = numeric[normal].mean(axis=0)
    scale = numeric[normal].std(axis=0)
    scale[scale <= 1e-12] = 1.0

    def rows(index):
        blocks = [np.clip((numeric[index] - mean) / scale, -8, 8)]
        for name in folds["categorical"]:
            values = frame[name].to_numpy()
            vocabulary = np.unique(values[train])
            blocks.append((values[index][:, None] == vocabulary[None, :]).astype(np.float64))
        return np.hstack(blocks)

    return rows(normal), rows(test)


def main():
    data, out, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    seeds = [int(s) for s in (sys.argv[4] if len(sys.argv) > 4 else "42").split(",")]
    torch.set_num_threads(1)
    with open(f"{out}/folds.json") as f:
        folds = json.load(f)
    frame = pd.read_csv(data, encoding="utf-8-sig")
    frame.columns = [c.strip() for c in frame.columns]
    assert len(frame) == folds["rows"], "the folds were written for another file"
    # name -> (make(seed), seeded): a seeded detector is fitted once per seed.
    detectors = {
        "pyod AutoEncoder": (lambda seed: AutoEncoder(
            hidden_neuron_list=[64, 16],
            epoch_num=epochs,
            batch_size=256,
            lr=1e-3,
            batch_norm=False,
            dropout_rate=0.0,
            optimizer_params={"weight_decay": 0.0},
            preprocessing=False,
            random_state=seed,
            verbose=0,
            device="cpu",
        ), True),
        "pyod IForest": (lambda seed: IForest(random_state=seed, n_jobs=1), True),
        "pyod KNN": (lambda seed: KNN(n_neighbors=1, n_jobs=1), False),
        "pyod ECOD": (lambda seed: ECOD(n_jobs=1), False),
        "pyod COPOD": (lambda seed: COPOD(n_jobs=1), False),
    }
    results = []
    for fold in folds["folds"]:
        x_train, x_test = features(frame, folds, fold)
        attack = np.array(fold["test_attack"])
        runs = [
            (name, make, seed)
            for name, (make, seeded) in detectors.items()
            for seed in (seeds if seeded else seeds[:1])
        ]
        for name, make, seed in runs:
            detector = make(seed)
            start = time.perf_counter()
            detector.fit(x_train)
            fit_seconds = time.perf_counter() - start
            scores = detector.decision_function(x_test)
            rates = [detection_at_fpr(scores[~attack], scores[attack], f) for f in FPRS]
            print(
                f"{fold['name']:<9} {name:<17} seed {seed:<3} fit {fit_seconds:7.2f} s  detection at "
                f"0.5/1/2 %: {' / '.join(f'{d:.3f}' for d, _ in rates)}",
                file=sys.stderr,
                flush=True,
            )
            results.append(
                {
                    "fold": fold["name"],
                    "model": name,
                    "seed": seed,
                    "fit_seconds": fit_seconds,
                    "detection_at_fpr": [
                        {"target_fpr": f, "detection_rate": d, "false_positive_rate": r}
                        for f, (d, r) in zip(FPRS, rates)
                    ],
                }
            )
    with open(f"{out}/pyod.json", "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
