//! Issue 18, F4: a model file whose checksum is right but whose contents are damaged (a bad
//! disk block copied with its checksum recomputed, a foreign writer, a hostile file) must
//! fail to load, or load as a model that scores records without panicking. A server loads
//! such a file at start and scores every request with it: a panic there is a failed batch,
//! and a stack overflow while decoding kills the process.
//!
//! Every model of the catalogue (and the hybrid's other novelty detectors and parts) is
//! trained on a small synthetic data set made here, so the test needs no data files. Each
//! model file's payload is then mutated, framed again with a correct checksum, and loaded:
//! as bytes (bits flipped, bytes overwritten, inserted or deleted, integers and floats
//! replaced by awkward values), and as values (the model seen as a tree of TOML values, whose
//! arrays lose, repeat or swap elements and whose numbers, strings and flags change), which
//! reach lengths and indices that random bytes seldom change alone. A panic while loading or
//! scoring fails the test, which names the model, the case and its edits, so that any failure
//! can be replayed. The cases are drawn from fixed seeds: the test is the same on every run.

use nadir_data::{Dataset, Kind, ReadOptions, Record, Rng, Schema, read_from};
use nadir_ml::Classifier;
use nadir_ml::file::{SavedModel, frame};
use nadir_ml::hybrid::NoveltyKind;
use nadir_ml::protocol::{TrainOptions, train};
use nadir_ml::registry::{ModelConfig, ModelKind};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

/// Mutated files per model, of each of the two kinds of mutation: enough that every part of
/// every model is hit many times, few enough that a debug build runs them in seconds.
const CASES_PER_MODEL: u64 = 600;

/// Payload bytes up to which a model gets all its cases; a larger one (the hybrid whose
/// novelty detector is a full-size isolation forest) gets proportionally fewer, at least
/// [`MIN_CASES_PER_MODEL`]: a case costs time in proportion to the file's size.
const FULL_CASES_BYTES: u64 = 16_000;
const MIN_CASES_PER_MODEL: u64 = 100;

/// Four numeric features of every kind but one, and two categorical ones: models small
/// enough that mutations often land on their structure rather than on long weight arrays.
const SCHEMA: &str = r#"
name = "mutation-test"
description = "synthetic flows for the model file mutation test"

[label]
column = "attack"
normal = "normal"

[[feature]]
name = "bytes"
kind = "count"

[[feature]]
name = "proto"
kind = "categorical"

[[feature]]
name = "error_rate"
kind = "rate"

[[feature]]
name = "skew"
kind = "continuous"

[[feature]]
name = "flag"
kind = "categorical"

[[feature]]
name = "urgent"
kind = "indicator"
"#;

/// Normal rows and two attacks, overlapping enough that trees grow a few levels.
fn synthetic_data() -> Dataset {
    let schema = Arc::new(Schema::from_toml(SCHEMA, "mutation-test").expect("the test schema"));
    let mut rng = Rng::new(18);
    let mut csv = String::from("bytes,proto,error_rate,skew,flag,urgent,attack\n");
    for i in 0..300 {
        let attack = match i % 5 {
            0 => "flood",
            1 if i % 2 == 1 => "scan",
            _ => "normal",
        };
        let (bytes, rate, skew) = match attack {
            "flood" => (
                10.0 + 5.0 * rng.next_f64(),
                0.6 + 0.4 * rng.next_f64(),
                rng.normal(),
            ),
            "scan" => (
                (200.0 * rng.next_f64()).round(),
                0.3 * rng.next_f64(),
                3.0 + rng.normal(),
            ),
            _ => (
                (50.0 + 5000.0 * rng.next_f64()).round(),
                0.4 * rng.next_f64(),
                rng.normal(),
            ),
        };
        let proto = ["tcp", "udp", "icmp"][rng.below(3)];
        let flag = if attack == "normal" || rng.below(3) == 0 {
            ["SF", "S0", "REJ", "RSTO"][rng.below(4)]
        } else {
            "S0"
        };
        let urgent = u8::from(rng.below(40) == 0);
        csv.push_str(&format!(
            "{bytes},{proto},{rate},{skew},{flag},{urgent},{attack}\n"
        ));
    }
    read_from(
        csv.as_bytes(),
        "synthetic.csv",
        ReadOptions::with_schema(schema),
    )
    .expect("the synthetic data reads")
}

/// Every model's defaults shrunk to a few trees, units and components.
fn small_config() -> ModelConfig {
    let mut config = ModelConfig::default();
    config.random_forest.trees = 4;
    config.bagging.trees = 3;
    config.gradient_boosting.max_iter = 6;
    config.gradient_boosting.min_samples_leaf = 5;
    config.mlp.hidden = vec![6, 3];
    config.mlp.epochs = 2;
    config
        .kernel_svm
        .feature_map
        .as_mut()
        .expect("the kernel SVM's feature map")
        .components = 12;
    config.isolation_forest.trees = 6;
    config.isolation_forest.max_samples = 32;
    config.voting.members = vec![
        ModelKind::LogisticRegression,
        ModelKind::DecisionTree,
        ModelKind::GradientBoosting,
    ];
    config.hybrid.classifier = ModelKind::DecisionTree;
    config.hybrid.max_reference = 60;
    config.autoencoder.layers = vec![4, 2, 4];
    config.autoencoder.epochs = 2;
    config
}

/// Named models: every kind of the catalogue, then the hybrid with its other novelty
/// detectors (the isolation forest; the k-NN distance without PCA) and with a voting
/// classifier, a model made of a model made of models.
fn trained_models(data: &Dataset) -> Vec<(String, SavedModel)> {
    let fit = |config: ModelConfig, kinds: Vec<ModelKind>| {
        let options = TrainOptions {
            kinds,
            config,
            folds: 2,
            ..TrainOptions::default()
        };
        train(data, None, &options, &|_| {})
            .expect("training on the synthetic data")
            .models
    };
    let mut models: Vec<(String, SavedModel)> = fit(small_config(), ModelKind::ALL.to_vec())
        .into_iter()
        .map(|m| (m.kind().to_string(), m))
        .collect();
    let (mut isolation, mut no_pca, mut voting) = (small_config(), small_config(), small_config());
    isolation.hybrid.novelty = NoveltyKind::IsolationForest;
    no_pca.hybrid.pca_variance = None;
    voting.hybrid.classifier = ModelKind::Voting;
    for (name, config) in [
        ("hybrid (isolation forest)", isolation),
        ("hybrid (k-NN without PCA)", no_pca),
        ("hybrid (voting classifier)", voting),
    ] {
        let model = fit(config, vec![ModelKind::Hybrid]).remove(0);
        models.push((name.to_string(), model));
    }
    models
}

/// Records of the loaded model's own schema (a damaged file may hold another one): a
/// typical row, zeros, the largest values each kind allows, the most negative ones, and
/// categories known and unseen; and NaN everywhere, which readers refuse but the library's
/// callers might pass.
fn odd_records(model: &SavedModel) -> Vec<Record> {
    let schema = model.pipeline.schema();
    let row = |pick: &dyn Fn(Kind) -> f64, category: &dyn Fn(usize) -> String| Record {
        numeric: schema.numeric().map(|f| pick(f.kind)).collect(),
        categorical: (0..schema.num_categorical()).map(category).collect(),
    };
    let known = |c: usize| {
        model
            .pipeline
            .vocabulary(c)
            .first()
            .cloned()
            .unwrap_or_default()
    };
    let unseen = |_| "never-seen".to_string();
    let largest = |kind| match kind {
        Kind::Rate => 1.0,
        _ => 1e300,
    };
    let most_negative = |kind| match kind {
        Kind::Continuous => -1e300,
        _ => 0.0,
    };
    let typical = |kind| match kind {
        Kind::Count => 120.0,
        Kind::Rate => 0.25,
        Kind::Continuous => 0.5,
        Kind::Indicator | Kind::Categorical => 0.0,
    };
    vec![
        row(&typical, &known),
        row(&|_| 0.0, &known),
        row(&largest, &unseen),
        row(&most_negative, &known),
        row(&|_| f64::MIN_POSITIVE, &unseen),
        row(&|_| f64::NAN, &known),
    ]
}

/// One edit of a payload's bytes.
#[derive(Debug, Clone)]
enum ByteEdit {
    FlipBit {
        at: usize,
        bit: u8,
    },
    SetByte {
        at: usize,
        value: u8,
    },
    Insert {
        at: usize,
        value: u8,
    },
    Delete {
        at: usize,
    },
    /// Overwrites the varint starting at `at` (postcard's integers) with `value`'s.
    SetVarint {
        at: usize,
        value: u64,
    },
    SetF64 {
        at: usize,
        value: f64,
    },
    SetF32 {
        at: usize,
        value: f32,
    },
}

/// Integers that break lengths, indices and counts: small ones, type boundaries, huge ones.
const AWKWARD_INTEGERS: [u64; 17] = [
    0,
    1,
    2,
    3,
    7,
    31,
    63,
    64,
    127,
    128,
    255,
    256,
    65_535,
    u32::MAX as u64 - 1,
    u32::MAX as u64,
    i64::MAX as u64,
    u64::MAX,
];

const AWKWARD_FLOATS: [f64; 10] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    0.0,
    -0.0,
    1e300,
    -1e300,
    f64::MIN_POSITIVE,
    2.0,
    -1.0,
];

fn pick<T: Clone>(rng: &mut Rng, values: &[T]) -> T {
    values[rng.below(values.len())].clone()
}

impl ByteEdit {
    fn draw(rng: &mut Rng, len: usize) -> ByteEdit {
        let at = rng.below(len.max(1));
        let byte = rng.below(256) as u8;
        match rng.below(7) {
            0 => ByteEdit::FlipBit {
                at,
                bit: rng.below(8) as u8,
            },
            1 => ByteEdit::SetByte {
                at,
                value: pick(rng, &[0, 1, 2, 0x7f, 0x80, 0xff, byte]),
            },
            2 => ByteEdit::Insert { at, value: byte },
            3 => ByteEdit::Delete { at },
            4 => ByteEdit::SetVarint {
                at,
                value: pick(rng, &AWKWARD_INTEGERS),
            },
            5 => ByteEdit::SetF64 {
                at,
                value: pick(rng, &AWKWARD_FLOATS),
            },
            _ => ByteEdit::SetF32 {
                at,
                value: pick(rng, &AWKWARD_FLOATS) as f32,
            },
        }
    }

    fn apply(&self, bytes: &mut Vec<u8>) {
        let overwrite = |bytes: &mut Vec<u8>, at: usize, new: &[u8]| {
            let end = (at + new.len()).min(bytes.len());
            bytes.splice(at..end, new.iter().copied());
        };
        match *self {
            ByteEdit::FlipBit { at, bit } => bytes[at] ^= 1 << bit,
            ByteEdit::SetByte { at, value } => bytes[at] = value,
            ByteEdit::Insert { at, value } => bytes.insert(at, value),
            ByteEdit::Delete { at } => {
                bytes.remove(at);
            }
            ByteEdit::SetVarint { at, value } => {
                let old = bytes[at..]
                    .iter()
                    .position(|b| b & 0x80 == 0)
                    .map_or(bytes.len() - at, |end| end + 1);
                bytes.splice(at..at + old, varint(value));
            }
            ByteEdit::SetF64 { at, value } => overwrite(bytes, at, &value.to_le_bytes()),
            ByteEdit::SetF32 { at, value } => overwrite(bytes, at, &value.to_le_bytes()),
        }
    }
}

/// postcard's unsigned varint: seven bits a byte, low first, the top bit set on all but the
/// last.
fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low);
            return out;
        }
        out.push(low | 0x80);
    }
}

/// One edit of a model's values, seen as a tree of TOML values: bytes edited at random
/// seldom change one length or index and nothing else, which is what these do.
#[derive(Debug, Clone)]
enum ValueEdit {
    SetInteger(i64),
    SetFloat(f64),
    Remove(usize),
    Duplicate(usize),
    Swap(usize, usize),
    Clear,
    /// A string of an array set to the array's first string (a vocabulary value twice).
    CopyFirst,
    Empty,
    Flip,
    RemoveKey(String),
}

/// A path to a value: indices into arrays, keys of tables.
type Path = Vec<String>;

/// The paths of every value in `value`, grouped by the kind of value (integers, floats,
/// arrays…), so that the few arrays and integers are drawn as often as the many floats.
fn paths_by_kind(value: &toml::Value) -> Vec<Vec<Path>> {
    fn walk(value: &toml::Value, path: &mut Path, out: &mut BTreeMap<&'static str, Vec<Path>>) {
        out.entry(value.type_str()).or_default().push(path.clone());
        let children: Vec<(String, &toml::Value)> = match value {
            toml::Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
            toml::Value::Table(table) => table.iter().map(|(k, v)| (k.clone(), v)).collect(),
            _ => Vec::new(),
        };
        for (key, child) in children {
            path.push(key);
            walk(child, path, out);
            path.pop();
        }
    }
    let mut out = BTreeMap::new();
    walk(value, &mut Vec::new(), &mut out);
    out.into_values().collect()
}

/// The value at `path`, if an earlier edit left it there.
fn at_path<'v>(value: &'v mut toml::Value, path: &[String]) -> Option<&'v mut toml::Value> {
    path.iter().try_fold(value, |v, key| match v {
        toml::Value::Array(items) => items.get_mut(key.parse::<usize>().ok()?),
        toml::Value::Table(table) => table.get_mut(key),
        _ => None,
    })
}

/// Draws a value of `paths` and an edit of it, and applies the edit; returns where and
/// what, or `None` when an earlier edit removed the value.
fn edit_value(
    value: &mut toml::Value,
    paths: &[Vec<Path>],
    rng: &mut Rng,
) -> Option<(String, ValueEdit)> {
    let candidates = &paths[rng.below(paths.len())];
    let path = &candidates[rng.below(candidates.len())];
    let first_string = match path.split_last() {
        Some((_, parent)) => match at_path(value, parent)? {
            toml::Value::Array(items) => items.first().and_then(|v| v.as_str()).map(String::from),
            _ => None,
        },
        None => None,
    };
    let target = at_path(value, path)?;
    let edit = match target {
        toml::Value::Integer(_) => ValueEdit::SetInteger(pick(rng, &AWKWARD_INTEGERS) as i64),
        toml::Value::Float(_) => ValueEdit::SetFloat(pick(rng, &AWKWARD_FLOATS)),
        toml::Value::Array(items) if !items.is_empty() => {
            let (i, j) = (rng.below(items.len()), rng.below(items.len()));
            pick(
                rng,
                &[
                    ValueEdit::Remove(i),
                    ValueEdit::Duplicate(i),
                    ValueEdit::Swap(i, j),
                    ValueEdit::Clear,
                ],
            )
        }
        toml::Value::String(_) if first_string.is_some() && rng.below(2) == 0 => {
            ValueEdit::CopyFirst
        }
        toml::Value::String(_) => ValueEdit::Empty,
        toml::Value::Boolean(_) => ValueEdit::Flip,
        toml::Value::Table(table) if !table.is_empty() => {
            let keys: Vec<&String> = table.keys().collect();
            ValueEdit::RemoveKey(keys[rng.below(keys.len())].clone())
        }
        _ => return None,
    };
    match (&edit, target) {
        (ValueEdit::SetInteger(n), v) => *v = toml::Value::Integer(*n),
        (ValueEdit::SetFloat(x), v) => *v = toml::Value::Float(*x),
        (ValueEdit::Remove(i), toml::Value::Array(items)) => {
            items.remove(*i);
        }
        (ValueEdit::Duplicate(i), toml::Value::Array(items)) => {
            let copy = items[*i].clone();
            items.insert(*i, copy);
        }
        (ValueEdit::Swap(i, j), toml::Value::Array(items)) => items.swap(*i, *j),
        (ValueEdit::Clear, toml::Value::Array(items)) => items.clear(),
        (ValueEdit::CopyFirst, v) => *v = toml::Value::String(first_string?),
        (ValueEdit::Empty, v) => *v = toml::Value::String(String::new()),
        (ValueEdit::Flip, toml::Value::Boolean(b)) => *b = !*b,
        (ValueEdit::RemoveKey(key), toml::Value::Table(table)) => {
            table.remove(key);
        }
        _ => unreachable!("each edit is drawn for its kind of value"),
    }
    Some((path.join("."), edit))
}

/// Panic messages (with their locations) of the current case, from any thread: rayon's
/// workers panic on their own threads and the panic is resumed on the caller's.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Runs `work`, returning the first panic message of any thread if it panicked.
fn without_panic<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    PANICS.lock().unwrap().clear();
    catch_unwind(AssertUnwindSafe(work)).map_err(|_| {
        PANICS
            .lock()
            .unwrap()
            .first()
            .cloned()
            .unwrap_or_else(|| "a panic without a message".into())
    })
}

/// Loads a model file's `bytes` and, when they load, scores odd records with the model and
/// reads what front ends show of it: whether it loaded, or the panic and the stage it
/// happened in.
fn load_and_score(bytes: &[u8]) -> Result<bool, (&'static str, String)> {
    let loaded = without_panic(|| SavedModel::from_bytes(bytes, "mutated.nadir"))
        .map_err(|panic| ("loading", panic))?;
    let Ok(model) = loaded else {
        return Ok(false);
    };
    let records = odd_records(&model);
    without_panic(|| {
        let predictions = model.predict(&records, None);
        assert_eq!(predictions.len(), records.len());
        let _ = (model.model.describe(), model.model.feature_importances());
    })
    .map(|()| true)
    .map_err(|panic| ("scoring", panic))
}

/// A case that panicked.
struct Failure {
    model: String,
    case: String,
    stage: &'static str,
    panic: String,
}

/// What the cases came to.
#[derive(Default)]
struct Outcome {
    cases: u64,
    /// Cases that loaded (and so were scored).
    loaded: u64,
    failures: Vec<Failure>,
}

/// Mutates every model's file up to `CASES_PER_MODEL` times at the byte level and as many
/// times at the level of its values.
fn mutate(models: &[(String, SavedModel)]) -> Outcome {
    let mut outcome = Outcome::default();
    for (index, (name, model)) in models.iter().enumerate() {
        let original = model.payload();
        // The unmutated file loads, as itself, and scores: the cases start from a model
        // that works.
        let loaded = SavedModel::from_bytes(&frame(&original), name).expect("the file loads");
        assert_eq!(&loaded, model, "{name}");
        load_and_score(&frame(&original)).expect("the unmutated model scores");
        let values = toml::Value::try_from(model).expect("a model is a tree of values");
        let paths = paths_by_kind(&values);
        let cases = (CASES_PER_MODEL * FULL_CASES_BYTES / original.len() as u64)
            .clamp(MIN_CASES_PER_MODEL, CASES_PER_MODEL);
        outcome.cases += 2 * cases;
        for case in 0..cases {
            let mut rng = Rng::fork(index as u64, case);
            let mut bytes = original.clone();
            let edits: Vec<ByteEdit> = (0..1 + rng.below(3))
                .map(|_| {
                    let edit = ByteEdit::draw(&mut rng, bytes.len());
                    edit.apply(&mut bytes);
                    edit
                })
                .collect();
            let case_name = format!("bytes {case}: {edits:?}");
            outcome.note(name, case_name, load_and_score(&frame(&bytes)));

            let mut rng = Rng::fork(!(index as u64), case);
            let mut edited = values.clone();
            let edits: Vec<(String, ValueEdit)> = (0..1 + rng.below(2))
                .filter_map(|_| edit_value(&mut edited, &paths, &mut rng))
                .collect();
            let case_name = format!("values {case}: {edits:?}");
            let result = match without_panic(|| edited.try_into::<SavedModel>()) {
                Err(panic) => Err(("decoding", panic)),
                Ok(Err(_refused)) => Ok(false),
                Ok(Ok(decoded)) => load_and_score(&frame(&decoded.payload())),
            };
            outcome.note(name, case_name, result);
        }
    }
    outcome
}

impl Outcome {
    fn note(&mut self, model: &str, case: String, result: Result<bool, (&'static str, String)>) {
        match result {
            Ok(loaded) => self.loaded += u64::from(loaded),
            Err((stage, panic)) => self.failures.push(Failure {
                model: model.to_string(),
                case,
                stage,
                panic,
            }),
        }
    }
}

#[test]
fn mutated_model_files_fail_to_load_or_score_without_panicking() {
    let data = synthetic_data();
    let models = trained_models(&data);
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        PANICS.lock().unwrap().push(info.to_string())
    }));
    let outcome = mutate(&models);
    std::panic::set_hook(default_hook);
    let failures = &outcome.failures;
    let mut by_place: BTreeMap<(&str, &str, &str), Vec<&Failure>> = BTreeMap::new();
    for failure in failures {
        let place = failure.panic.lines().next().unwrap_or_default();
        by_place
            .entry((&failure.model, failure.stage, place))
            .or_default()
            .push(failure);
    }
    let report: Vec<String> = by_place
        .iter()
        .map(|((model, stage, place), cases)| {
            format!(
                "{model}: {} case(s) panicked while {stage}: {place}\n    first: {}",
                cases.len(),
                cases[0].case
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} mutated model files panicked:\n{}",
        failures.len(),
        outcome.cases,
        report.join("\n")
    );
    // Not every edit is refused: many damaged files load and score, which is what scoring
    // odd records tests (three in ten here).
    assert!(
        outcome.loaded * 10 >= outcome.cases,
        "only {} of {} mutated files loaded",
        outcome.loaded,
        outcome.cases
    );
}
