"""The original project's serving design, for bench/compare_flask.sh: a Flask app around a
scikit-learn random forest, run under gunicorn with 2 sync workers.

The forest is scikit-learn's `RandomForestClassifier(n_estimators=100, random_state=42)` on
the encoding of sklearn_protocol.py (the 38 numeric columns as they are, then a one-hot of
protocoltype/service/flag fitted on the training part; an unseen category is the all-zero
block). Serving encodes with plain dictionaries and numpy rather than pandas, the fastest
honest Flask version; each worker predicts with n_jobs=1.

`POST /predict` takes the original contract, `{"features": [41 values in file order]}`, and
answers `{"prediction": 1 or 0, "message": "Anomaly" or "Normal"}` (predict_proba >= 0.5,
scikit-learn's `predict`). A list of such lists scores a batch: `{"predictions": [...]}`.

    python flask_app.py train TRAIN.csv MODEL.joblib
    NADIR_FLASK_MODEL=MODEL.joblib gunicorn -w 2 -b 127.0.0.1:8000 flask_app:app
"""

import os
import sys

import joblib
import numpy as np

CATEGORICAL = ["protocoltype", "service", "flag"]
NOT_FEATURES = {"attack", "lastflag"}
SEED = 42


def train(train_csv: str, out: str) -> None:
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier

    frame = pd.read_csv(train_csv)
    y = (frame["attack"] != "normal").to_numpy()
    features = frame.drop(columns=[c for c in NOT_FEATURES if c in frame.columns])
    columns = list(features.columns)
    if len(columns) != 41:
        sys.exit(f"{train_csv}: expected 41 feature columns, found {len(columns)}")
    vocabularies = {c: sorted(features[c].astype(str).unique()) for c in CATEGORICAL}
    encoder = Encoder(columns, vocabularies)
    x = encoder.encode(features.to_numpy(dtype=object).tolist())
    forest = RandomForestClassifier(n_estimators=100, random_state=SEED, n_jobs=2)
    forest.fit(x, y)
    forest.set_params(n_jobs=1)
    joblib.dump({"columns": columns, "vocabularies": vocabularies, "forest": forest}, out)
    print(f"trained on {x.shape[0]} rows, {x.shape[1]} encoded columns -> {out}")


class Encoder:
    """Numeric columns in file order, then one one-hot block per categorical column."""

    def __init__(self, columns, vocabularies):
        self.numeric = [i for i, c in enumerate(columns) if c not in CATEGORICAL]
        self.categorical = [columns.index(c) for c in CATEGORICAL]
        self.index = [{v: j for j, v in enumerate(vocabularies[c])} for c in CATEGORICAL]
        self.offsets = []
        offset = len(self.numeric)
        for c in CATEGORICAL:
            self.offsets.append(offset)
            offset += len(vocabularies[c])
        self.width = offset

    def encode(self, rows):
        x = np.zeros((len(rows), self.width))
        for r, values in enumerate(rows):
            x[r, : len(self.numeric)] = [float(values[i]) for i in self.numeric]
            for k, position in enumerate(self.categorical):
                j = self.index[k].get(str(values[position]))
                if j is not None:
                    x[r, self.offsets[k] + j] = 1.0
        return x


def create_app():
    from flask import Flask, jsonify, request

    saved = joblib.load(os.environ["NADIR_FLASK_MODEL"])
    encoder = Encoder(saved["columns"], saved["vocabularies"])
    forest = saved["forest"]
    app = Flask(__name__)

    @app.post("/predict")
    def predict():
        features = request.get_json()["features"]
        batch = bool(features) and isinstance(features[0], list)
        rows = features if batch else [features]
        attack = forest.predict_proba(encoder.encode(rows))[:, 1] >= 0.5
        if batch:
            return jsonify({"predictions": [int(a) for a in attack]})
        return jsonify({"prediction": int(attack[0]),
                        "message": "Anomaly" if attack[0] else "Normal"})

    return app


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "train":
        sys.exit(__doc__)
    train(sys.argv[2], sys.argv[3])
else:
    app = create_app() if "NADIR_FLASK_MODEL" in os.environ else None
