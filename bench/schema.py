"""The data set's schema for the Python side of the benchmarks, read from nadir's own built-in
schema files (crates/nadir-data/schemas/*.toml), so that both tools see the same features.

    schema = load_schema(columns)            # the built-in schema whose columns the header holds
    schema = load_schema(columns, "unsw-nb15")

A schema gives: the features in file order with their kinds (count, rate, indicator,
continuous, categorical), the label column and its normal value, and the columns that are never
features (the schema's `never_features`, its label and binary label columns). `--drop` removes
features on both sides (nadir train --drop).
"""

import tomllib
from dataclasses import dataclass
from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "crates" / "nadir-data" / "schemas"


@dataclass
class Schema:
    name: str
    features: list[str]          # in the schema's order, after --drop
    kinds: dict[str, str]        # feature -> kind
    label: str                   # e.g. attack / attack_cat
    normal: str                  # e.g. normal / Normal
    binary: str | None           # e.g. label (0/1), or None
    never: list[str]             # columns that are never features
    dropped: list[str]

    @property
    def categorical(self) -> list[str]:
        return [f for f in self.features if self.kinds[f] == "categorical"]

    @property
    def numeric(self) -> list[str]:
        return [f for f in self.features if self.kinds[f] != "categorical"]

    def is_count(self, column: str) -> bool:
        """nadir's Standardizer takes log1p of the `count` columns only."""
        return self.kinds[column] == "count"


def clean_columns(columns) -> list[str]:
    """Header names without a UTF-8 byte-order mark or surrounding spaces."""
    return [c.lstrip("\ufeff").strip() for c in columns]


def _read(path: Path, drop: list[str]) -> Schema:
    raw = tomllib.loads(path.read_text())
    features = [f["name"] for f in raw["feature"]]
    kinds = {f["name"]: f["kind"] for f in raw["feature"]}
    unknown = [d for d in drop if d not in kinds]
    if unknown:
        raise SystemExit(f"--drop: {', '.join(unknown)} not features of {raw['name']}")
    label = raw["label"]
    binary = label.get("binary")
    never = list(raw.get("never_features", [])) + [label["column"]] + ([binary] if binary else [])
    return Schema(
        name=raw["name"],
        features=[f for f in features if f not in drop],
        kinds=kinds,
        label=label["column"],
        normal=label["normal"],
        binary=binary,
        never=never,
        dropped=list(drop),
    )


def load_schema(columns, name: str | None = None, drop: list[str] | None = None) -> Schema:
    """The named built-in schema, or the one whose features and label the header holds."""
    drop = [d for d in (drop or []) if d]
    columns = set(clean_columns(columns))
    files = sorted(SCHEMA_DIR.glob("*.toml"))
    if name:
        for path in files:
            if tomllib.loads(path.read_text())["name"] == name or path.stem == name:
                return _read(path, drop)
        raise SystemExit(f"no built-in schema {name!r} in {SCHEMA_DIR}")
    for path in files:
        schema = _read(path, [])
        if set(schema.features) | {schema.label} <= columns:
            return _read(path, drop)
    raise SystemExit(f"the header matches no built-in schema in {SCHEMA_DIR}")
