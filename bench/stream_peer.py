"""The Python peer of `nadir stream` for bench/compare_stream.sh: a Redis Streams consumer around
scikit-learn's random forest, written the way a careful Python shop would write it.

The forest and its encoding are flask_app.py's (`RandomForestClassifier(n_estimators=100,
random_state=42)`, the 38 numeric columns as they are, then a one-hot of protocoltype/service/
flag fitted on the training part; an unseen category is the all-zero block), trained on the same
training part as the nadir model. Run it with OMP_NUM_THREADS=1; the forest predicts with
n_jobs=1.

The consumer follows `nadir stream`'s contract where the bench can see it: it creates the group
(`XGROUP CREATE input group 0 MKSTREAM`), re-reads its own pending entries (ID 0) before new ones
(`>`), reads batches with `XREADGROUP COUNT batch BLOCK block_ms` (redis-py with the hiredis
parser), scores each batch with one `predict_proba`, and writes the results with one pipelined
round trip: an `XADD` per result (fields `id`, `prediction`, `probability`, `model`, `consumer`,
`scored_at_us`) and then one `XACK` of the batch, so an entry is acknowledged only with its
result. It reads CSV records (the `record` field, with the optional `header` field naming its
columns; without it the line holds the training columns in order), which is all the bench
publishes. SIGTERM/SIGINT finish the batch in flight; a summary line goes to stderr.

    python stream_peer.py train TRAIN.csv MODEL.joblib
    python stream_peer.py consume --redis redis://127.0.0.1:6379 --input IN --group G \
        --consumer NAME --output OUT --model MODEL.joblib [--batch 256] [--block-ms 1000]
"""

import argparse
import csv
import signal
import sys
import time

import joblib
import redis

from flask_app import Encoder, train


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("train")
    fit.add_argument("train_csv")
    fit.add_argument("model")
    run = commands.add_parser("consume")
    run.add_argument("--redis", required=True)
    run.add_argument("--input", required=True)
    run.add_argument("--group", required=True)
    run.add_argument("--consumer", required=True)
    run.add_argument("--output", required=True)
    run.add_argument("--model", required=True)
    run.add_argument("--batch", type=int, default=256)
    run.add_argument("--block-ms", type=int, default=1000)
    args = parser.parse_args()
    if args.command == "train":
        train(args.train_csv, args.model)
        return 0
    return consume(args)


class BatchScorer:
    """Turns a batch of stream entries into result fields, one `predict_proba` per batch."""

    def __init__(self, model_path: str, consumer: str):
        saved = joblib.load(model_path)
        self.columns = saved["columns"]
        self.encoder = Encoder(self.columns, saved["vocabularies"])
        self.forest = saved["forest"]
        self.consumer = consumer.encode()
        # A header line maps to the positions of the training columns in its lines; the same
        # few headers come back on every entry, so their mappings are kept.
        self.positions: dict[bytes, list[int]] = {}

    def rows(self, entries):
        """The feature rows of the entries that carry a record, with their entry IDs."""
        ids, rows = [], []
        for entry_id, fields in entries:
            line = fields.get(b"record") if fields else None
            if line is None:
                continue
            values = next(csv.reader([line.decode()]))
            header = fields.get(b"header")
            if header is not None:
                values = [values[i] for i in self.header_positions(header)]
            ids.append(entry_id)
            rows.append(values)
        return ids, rows

    def header_positions(self, header: bytes) -> list[int]:
        known = self.positions.get(header)
        if known is None:
            names = [n.strip() for n in next(csv.reader([header.decode()]))]
            known = [names.index(c) for c in self.columns]
            self.positions[header] = known
        return known

    def results(self, ids, rows):
        probabilities = self.forest.predict_proba(self.encoder.encode(rows))[:, 1]
        scored_at_us = str(time.time_ns() // 1000).encode()
        for entry_id, p in zip(ids, probabilities):
            yield {
                b"id": entry_id,
                b"prediction": b"attack" if p >= 0.5 else b"normal",
                b"probability": repr(float(p)).encode(),
                b"model": b"random_forest",
                b"consumer": self.consumer,
                b"scored_at_us": scored_at_us,
            }


def consume(args) -> int:
    client = redis.Redis.from_url(args.redis)
    try:
        client.xgroup_create(args.input, args.group, id="0", mkstream=True)
    except redis.ResponseError as err:
        if "BUSYGROUP" not in str(err):
            raise
    scorer = BatchScorer(args.model, args.consumer)
    stopping = False

    def stop(_signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    read = scored = 0
    cursor = "0"
    while not stopping:
        reply = client.xreadgroup(args.group, args.consumer, {args.input: cursor},
                                  count=args.batch,
                                  block=args.block_ms if cursor == ">" else None)
        entries = reply[0][1] if reply else []
        if not entries:
            cursor = ">"
            continue
        read += len(entries)
        ids, rows = scorer.rows(entries)
        pipe = client.pipeline(transaction=False)
        if rows:
            for fields in scorer.results(ids, rows):
                pipe.xadd(args.output, fields)
        pipe.xack(args.input, args.group, *[entry_id for entry_id, _ in entries])
        pipe.execute()
        scored += len(rows)
    print(f"peer {args.consumer}: read {read}, scored {scored}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
