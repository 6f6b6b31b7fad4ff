//! Record schemas as data: which columns are features and of what kind, which column holds
//! the label and which value of it is benign, which columns are never features, and how
//! attacks group into families.
//!
//! NSL-KDD's and UNSW-NB15's schemas ship inside nadir (`schemas/*.toml`, in the same format
//! a user writes for their own CSV). The reader recognises a built-in schema from a file's
//! header; a model file stores the schema it was trained on, and every later read is
//! checked against it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};
use thiserror::Error;

/// What values a feature may take; decides both validation and encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A non-negative quantity (bytes, seconds, connection counts); heavy-tailed, so the
    /// scaled models see its logarithm.
    Count,
    /// A documented 0/1 indicator. Validated as non-negative only: NSL-KDD's training data
    /// holds `suattempted = 2`, which exploration reports as suspicious rather than rejecting.
    Indicator,
    /// A fraction in [0, 1].
    Rate,
    /// Any finite number (a difference, a coordinate).
    Continuous,
    /// A symbolic value (protocol, service, TCP flag), one-hot encoded.
    Categorical,
}

impl Kind {
    /// Every kind, in the order schemas document them.
    pub const ALL: [Kind; 5] = [
        Kind::Count,
        Kind::Indicator,
        Kind::Rate,
        Kind::Continuous,
        Kind::Categorical,
    ];

    /// The kind's name as schemas and messages write it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Count => "count",
            Kind::Indicator => "indicator",
            Kind::Rate => "rate",
            Kind::Continuous => "continuous",
            Kind::Categorical => "categorical",
        }
    }
}

/// One feature column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feature {
    pub name: String,
    pub kind: Kind,
    /// Left out of training by the user (`--drop`): still declared, so files that hold the
    /// column (or headerless files, which place columns by position) still read.
    // Model files are postcard, which cannot skip fields: every field is always written.
    #[serde(default)]
    pub dropped: bool,
}

/// Where a row's label is and which value means benign traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelRule {
    /// The column naming the row's attack, or the benign value.
    pub column: String,
    /// The value of `column` for benign rows.
    pub normal: String,
    /// A 0/1 column (1 = attack) that, where the file has it, must agree with `column`.
    #[serde(default)]
    pub binary: Option<String>,
}

/// A schema as written in TOML, before its checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaSpec {
    name: String,
    #[serde(default)]
    description: String,
    /// Whether files may come without a header: features in declared order, then the label,
    /// then the `never_features` columns.
    #[serde(default)]
    headerless: bool,
    label: LabelRule,
    #[serde(default)]
    never_features: Vec<String>,
    /// Family name → attack names. Without it, an attack's name is its family.
    #[serde(default)]
    families: BTreeMap<String, Vec<String>>,
    #[serde(rename = "feature")]
    features: Vec<Feature>,
}

/// A checked schema. Built from TOML ([`Schema::from_toml`]) or taken from the built-ins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SchemaSpec", into = "SchemaSpec")]
pub struct Schema {
    spec: SchemaSpec,
    /// Positions in `spec.features` of the used (not dropped) numeric features.
    numeric: Vec<usize>,
    /// Positions in `spec.features` of the used categorical features.
    categorical: Vec<usize>,
    /// Every used feature's position in `spec.features`, in declared order.
    used: Vec<usize>,
    /// Attack name → family.
    family_of: BTreeMap<String, String>,
}

/// The family of an attack name that a schema's family table lacks.
pub const UNKNOWN_FAMILY: &str = "unknown";

/// Tree models address a column with a byte; a schema stays well inside that.
pub const MAX_FEATURES: usize = 250;

/// Why a schema is unusable.
#[derive(Debug, Error, PartialEq)]
pub enum SchemaError {
    #[error("{source_name}: {message}")]
    Toml {
        source_name: String,
        message: String,
    },
    #[error("schema `{schema}` declares no features")]
    NoFeatures { schema: String },
    #[error("schema `{schema}` declares {count} features; at most {MAX_FEATURES} are supported")]
    TooManyFeatures { schema: String, count: usize },
    #[error(
        "schema `{schema}`: column `{column}` is declared twice (names match ignoring case, `_` and spaces)"
    )]
    DuplicateColumn { schema: String, column: String },
    #[error("schema `{schema}`: attack `{attack}` is listed in two families")]
    DuplicateAttack { schema: String, attack: String },
    #[error("schema `{schema}` has no feature `{name}` to drop; its features: {known}")]
    UnknownDrop {
        schema: String,
        name: String,
        known: String,
    },
    #[error("schema `{schema}`: dropping {dropped} leaves no feature")]
    NothingLeft { schema: String, dropped: String },
}

impl TryFrom<SchemaSpec> for Schema {
    type Error = SchemaError;

    fn try_from(spec: SchemaSpec) -> Result<Schema, SchemaError> {
        let schema = || spec.name.clone();
        if spec.features.is_empty() {
            return Err(SchemaError::NoFeatures { schema: schema() });
        }
        if spec.features.len() > MAX_FEATURES {
            return Err(SchemaError::TooManyFeatures {
                schema: schema(),
                count: spec.features.len(),
            });
        }
        let mut seen = std::collections::HashSet::new();
        let columns = spec
            .features
            .iter()
            .map(|f| &f.name)
            .chain([&spec.label.column])
            .chain(&spec.label.binary)
            .chain(&spec.never_features);
        for column in columns {
            if !seen.insert(normalise_name(column)) {
                return Err(SchemaError::DuplicateColumn {
                    schema: schema(),
                    column: column.clone(),
                });
            }
        }
        let mut family_of = BTreeMap::new();
        for (family, attacks) in &spec.families {
            for attack in attacks {
                if family_of.insert(attack.clone(), family.clone()).is_some() {
                    return Err(SchemaError::DuplicateAttack {
                        schema: schema(),
                        attack: attack.clone(),
                    });
                }
            }
        }
        let used: Vec<usize> = (0..spec.features.len())
            .filter(|&i| !spec.features[i].dropped)
            .collect();
        if used.is_empty() {
            let dropped: Vec<&str> = spec.features.iter().map(|f| f.name.as_str()).collect();
            return Err(SchemaError::NothingLeft {
                schema: schema(),
                dropped: dropped.join(", "),
            });
        }
        let (categorical, numeric) = used
            .iter()
            .partition(|&&i| spec.features[i].kind == Kind::Categorical);
        Ok(Schema {
            spec,
            numeric,
            categorical,
            used,
            family_of,
        })
    }
}

impl From<Schema> for SchemaSpec {
    fn from(schema: Schema) -> SchemaSpec {
        schema.spec
    }
}

static NSL_KDD: LazyLock<Arc<Schema>> = LazyLock::new(|| {
    Arc::new(Schema::from_toml(include_str!("../schemas/nsl-kdd.toml"), "nsl-kdd.toml").unwrap())
});
static UNSW_NB15: LazyLock<Arc<Schema>> = LazyLock::new(|| {
    Arc::new(
        Schema::from_toml(include_str!("../schemas/unsw-nb15.toml"), "unsw-nb15.toml").unwrap(),
    )
});

impl Schema {
    /// Reads a schema written in TOML; `source_name` names it in messages.
    pub fn from_toml(text: &str, source_name: &str) -> Result<Schema, SchemaError> {
        let spec: SchemaSpec = toml::from_str(text).map_err(|e| SchemaError::Toml {
            source_name: source_name.to_string(),
            message: e.to_string(),
        })?;
        Schema::try_from(spec)
    }

    /// NSL-KDD's 41 features.
    pub fn nsl_kdd() -> Arc<Schema> {
        NSL_KDD.clone()
    }

    /// UNSW-NB15's 42 features.
    pub fn unsw_nb15() -> Arc<Schema> {
        UNSW_NB15.clone()
    }

    /// The schemas nadir recognises by their header, in the order they are tried.
    pub fn built_in() -> [Arc<Schema>; 2] {
        [Schema::nsl_kdd(), Schema::unsw_nb15()]
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    pub fn description(&self) -> &str {
        &self.spec.description
    }

    /// The name, and the features left out if any: `unsw-nb15 without sttl, dttl`.
    pub fn title(&self) -> String {
        let dropped: Vec<&str> = self.dropped().map(|f| f.name.as_str()).collect();
        if dropped.is_empty() {
            self.spec.name.clone()
        } else {
            format!("{} without {}", self.spec.name, dropped.join(", "))
        }
    }

    /// Whether files of this schema may lack a header.
    pub fn headerless(&self) -> bool {
        self.spec.headerless
    }

    /// The columns of a headerless file in order: the declared features, the label, then the
    /// columns that are never features (NSL-KDD's `lastflag`); joined by commas, the header
    /// row of such a file.
    pub fn headerless_columns(&self) -> Vec<&str> {
        let features = self.spec.features.iter().map(|f| f.name.as_str());
        let label = std::iter::once(self.spec.label.column.as_str());
        let never = self.spec.never_features.iter().map(String::as_str);
        features.chain(label).chain(never).collect()
    }

    pub fn label(&self) -> &LabelRule {
        &self.spec.label
    }

    /// Columns that are never features: ids, difficulty levels, the other targets.
    pub fn never_features(&self) -> &[String] {
        &self.spec.never_features
    }

    /// Whether a column of this name (in the canonical spelling, [`normalise_name`]) is one
    /// the schema declares: a feature (dropped or not), a label column, or a column that is
    /// never a feature. The others are a record's own (an identity, say).
    pub fn knows_column(&self, normalised: &str) -> bool {
        self.declared()
            .iter()
            .map(|f| &f.name)
            .chain([&self.label().column])
            .chain(&self.label().binary)
            .chain(self.never_features())
            .any(|column| is_named(column, normalised))
    }

    /// Every declared feature in file order, dropped ones included.
    pub fn declared(&self) -> &[Feature] {
        &self.spec.features
    }

    /// The features models use, in file order.
    pub fn features(&self) -> impl ExactSizeIterator<Item = &Feature> + Clone {
        self.used.iter().map(|&i| &self.spec.features[i])
    }

    /// The features left out with `--drop`.
    pub fn dropped(&self) -> impl Iterator<Item = &Feature> {
        self.spec.features.iter().filter(|f| f.dropped)
    }

    /// The used numeric features, in the order of [`crate::Record::numeric`].
    pub fn numeric(&self) -> impl ExactSizeIterator<Item = &Feature> + Clone {
        self.numeric.iter().map(|&i| &self.spec.features[i])
    }

    /// The used categorical features, in the order of [`crate::Record::categorical`].
    pub fn categorical(&self) -> impl ExactSizeIterator<Item = &Feature> + Clone {
        self.categorical.iter().map(|&i| &self.spec.features[i])
    }

    pub fn num_features(&self) -> usize {
        self.used.len()
    }

    pub fn num_numeric(&self) -> usize {
        self.numeric.len()
    }

    pub fn num_categorical(&self) -> usize {
        self.categorical.len()
    }

    /// The names of the numeric features, in the order of [`crate::Record::numeric`].
    pub fn numeric_names(&self) -> Vec<&str> {
        self.numeric().map(|f| f.name.as_str()).collect()
    }

    /// The names of the categorical features, in the order of [`crate::Record::categorical`].
    pub fn categorical_names(&self) -> Vec<&str> {
        self.categorical().map(|f| f.name.as_str()).collect()
    }

    /// The position among [`Schema::features`] of a feature, by name in any spelling
    /// (ignoring case, `_` and spaces: KDD's documents write `src_bytes`).
    pub fn feature_index(&self, name: &str) -> Option<usize> {
        let key = normalise_name(name);
        self.features().position(|f| is_named(&f.name, &key))
    }

    /// The position among [`Schema::numeric`] of a numeric feature, by name in any spelling.
    pub fn numeric_index(&self, name: &str) -> Option<usize> {
        let key = normalise_name(name);
        self.numeric().position(|f| is_named(&f.name, &key))
    }

    /// The families the schema's table declares, in its (name) order; `None` for a schema
    /// whose label already is a family.
    pub fn families(&self) -> Option<Vec<&str>> {
        (!self.spec.families.is_empty())
            .then(|| self.spec.families.keys().map(String::as_str).collect())
    }

    /// Whether an attack name (the label column's value) is benign traffic.
    pub fn is_normal(&self, attack: &str) -> bool {
        attack == self.spec.label.normal
    }

    /// The family of an attack name: its family from the schema's table (`unknown` when the
    /// table lacks it), or the name itself for schemas whose label already is a family.
    /// Benign traffic is its own family, named by the label's normal value.
    pub fn family_of<'a>(&'a self, attack: &'a str) -> &'a str {
        if self.is_normal(attack) || self.spec.families.is_empty() {
            return attack;
        }
        self.family_of
            .get(attack)
            .map_or(UNKNOWN_FAMILY, String::as_str)
    }

    /// This schema with `names` left out of the features (`--drop`).
    pub fn without(&self, names: &[String]) -> Result<Schema, SchemaError> {
        let mut spec = self.spec.clone();
        for name in names {
            let key = normalise_name(name);
            let feature = spec
                .features
                .iter_mut()
                .find(|f| is_named(&f.name, &key))
                .ok_or_else(|| SchemaError::UnknownDrop {
                    schema: self.spec.name.clone(),
                    name: name.clone(),
                    known: self
                        .features()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            feature.dropped = true;
        }
        Schema::try_from(spec)
    }

    /// Whether the schemas describe the same columns (dropped features aside): a file read
    /// as one can be scored by a model of the other once the same features are dropped.
    pub fn same_features(&self, other: &Schema) -> bool {
        self.features().eq(other.features())
    }
}

/// The canonical form of a column name: lower case without underscores or spaces.
pub fn normalise_name(name: &str) -> String {
    canonical_chars(name).collect()
}

/// [`normalise_name`]'s characters, without building the string.
fn canonical_chars(name: &str) -> impl Iterator<Item = char> + '_ {
    name.chars()
        .filter(|c| *c != '_' && !c.is_whitespace())
        .flat_map(char::to_lowercase)
}

/// Whether `name` is `normalised` in its canonical spelling ([`normalise_name`]), compared as
/// they go: the readers ask it of every schema column for every column or key they meet.
pub(crate) fn is_named(name: &str, normalised: &str) -> bool {
    canonical_chars(name).eq(normalised.chars())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_schemas_declare_their_features() {
        let nsl = Schema::nsl_kdd();
        assert_eq!((nsl.num_numeric(), nsl.num_categorical()), (38, 3));
        assert_eq!(nsl.categorical_names(), ["protocoltype", "service", "flag"]);
        assert!(nsl.headerless());
        let unsw = Schema::unsw_nb15();
        assert_eq!((unsw.num_numeric(), unsw.num_categorical()), (39, 3));
        assert_eq!(unsw.categorical_names(), ["proto", "service", "state"]);
        assert_eq!(unsw.label().binary.as_deref(), Some("label"));
        assert_eq!(unsw.never_features(), ["id"]);
    }

    /// `Kind::name` is the one name of a kind: the one schema files use (serde), messages,
    /// the server's listing and the OpenAPI document.
    #[test]
    fn kind_names_are_the_schema_files_names() {
        for kind in Kind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.name());
        }
    }

    #[test]
    fn names_match_in_any_spelling() {
        let nsl = Schema::nsl_kdd();
        assert_eq!(nsl.feature_index("src_bytes"), Some(4));
        assert_eq!(nsl.feature_index("SrcBytes"), Some(4));
        assert_eq!(nsl.feature_index("lastflag"), None);
        assert_eq!(nsl.numeric_index("srcbytes"), Some(1));
    }

    #[test]
    fn families_come_from_the_table_or_are_the_name() {
        let nsl = Schema::nsl_kdd();
        assert_eq!(nsl.family_of("neptune"), "DoS");
        assert_eq!(nsl.family_of("guess_passwd"), "R2L");
        assert_eq!(nsl.family_of("brand_new"), "unknown");
        assert_eq!(nsl.family_of("normal"), "normal");
        assert_eq!(nsl.families(), Some(vec!["DoS", "Probe", "R2L", "U2R"]));
        let unsw = Schema::unsw_nb15();
        assert_eq!(unsw.family_of("Exploits"), "Exploits");
        assert_eq!(unsw.families(), None);
        assert!(unsw.is_normal("Normal") && !unsw.is_normal("normal"));
    }

    #[test]
    fn dropping_features_keeps_them_declared_and_names_them() {
        let unsw = Schema::unsw_nb15();
        let without = unsw
            .without(&["sttl".into(), "ct_state_ttl".into(), "DTTL".into()])
            .unwrap();
        assert_eq!(without.num_numeric(), 36);
        assert_eq!(without.declared().len(), 42);
        assert_eq!(
            without.title(),
            "unsw-nb15 without sttl, dttl, ct_state_ttl"
        );
        assert!(without.feature_index("sttl").is_none());
        let error = unsw.without(&["ttl".into()]).unwrap_err().to_string();
        assert!(
            error.starts_with(
                "schema `unsw-nb15` has no feature `ttl` to drop; its features: dur, proto"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_schema_round_trips_through_serde_with_its_drops() {
        let without = Schema::nsl_kdd().without(&["land".into()]).unwrap();
        let text = toml::to_string(&without).unwrap();
        let back: Schema = toml::from_str(&text).unwrap();
        assert_eq!(back, without);
    }

    #[test]
    fn bad_schemas_are_refused_with_the_reason() {
        let base = "name = \"t\"\n[label]\ncolumn = \"y\"\nnormal = \"ok\"\n";
        let check = |extra: &str| Schema::from_toml(&format!("{base}{extra}"), "t.toml");
        let no_features = check("").unwrap_err().to_string();
        assert!(
            no_features.starts_with("t.toml: ") && no_features.contains("feature"),
            "{no_features}"
        );
        let feature =
            |name: &str, kind: &str| format!("[[feature]]\nname = \"{name}\"\nkind = \"{kind}\"\n");
        assert!(matches!(
            check(&(feature("a", "count") + &feature("A", "rate"))),
            Err(SchemaError::DuplicateColumn { column, .. }) if column == "A"
        ));
        assert!(matches!(
            check(&feature("y", "count")),
            Err(SchemaError::DuplicateColumn { column, .. }) if column == "y"
        ));
        let unknown_kind = check(&feature("a", "float")).unwrap_err().to_string();
        assert!(
            unknown_kind.contains("unknown variant `float`"),
            "{unknown_kind}"
        );
        let good = check(&(feature("a", "continuous") + &feature("b", "categorical"))).unwrap();
        assert_eq!((good.num_numeric(), good.num_categorical()), (1, 1));
        assert_eq!(good.family_of("x"), "x");
    }
}
