//! Exploration of labelled records of any schema: data quality, class balance, per-feature
//! summaries by class, correlations, tests of which features separate attacks from normal
//! traffic, and plain-language hypotheses an analyst would ask, each tested. Everything but
//! the hypotheses follows the data set's schema; the hypotheses are written for NSL-KDD and
//! are tested only where the schema has what they name.
//!
//! One entry point, [`explore`], returns an [`Exploration`] that serialises to JSON and that
//! the CLI and the HTML report render. Every p-value carries its honest precision: with
//! 125,973 rows most of them underflow double precision, and they say so
//! ([`PValue::underflow`]).

pub mod balance;
pub mod correlation;
pub mod hypotheses;
pub mod quality;
pub mod separation;
pub mod stats;
pub mod summary;

pub use balance::{AttackCount, ClassBalance, FamilyCount};
pub use correlation::{CorrelatedPair, Correlations};
pub use hypotheses::{Hypothesis, Need, Verdict};
pub use quality::{ColumnIssues, DataQuality, Duplicates, NearConstant, SuspiciousValue};
pub use separation::{FeatureTest, TestResult};
pub use stats::Alternative;
pub use summary::{CategoryCount, CategorySummary, FeatureSummary, Summary};

use nadir_data::schema::normalise_name;
use nadir_data::{Dataset, Schema};
use serde::Serialize;
use std::fmt;
use thiserror::Error;

/// The significance level of every verdict (applied to Benjamini–Hochberg adjusted p-values).
pub const ALPHA: f64 = 0.05;

/// Below this a double-precision tail probability has lost its accuracy (and soon underflows
/// to 0), so such p-values are reported as a bound rather than a number.
pub const P_FLOOR: f64 = 1e-300;

/// Everything `nadir explore` finds in one labelled data set.
#[derive(Debug, Clone, Serialize)]
pub struct Exploration {
    /// The file the records came from.
    pub source: String,
    /// sha256 of the bytes read.
    pub sha256: String,
    /// The schema the records follow, by its title (`nsl-kdd`, `unsw-nb15 without sttl`).
    pub schema: String,
    /// Records read (valid rows).
    pub rows: usize,
    /// Significance level of the verdicts.
    pub alpha: f64,
    pub quality: DataQuality,
    pub balance: ClassBalance,
    /// The schema's numeric features summarised overall, for normal and for attack rows, in
    /// schema order.
    pub features: Vec<FeatureSummary>,
    /// The schema's categorical features: every value with its rows per class.
    pub categories: Vec<CategorySummary>,
    pub correlations: Correlations,
    /// Every feature's tests of normal against attack rows, best separating first.
    pub tests: Vec<FeatureTest>,
    /// The analyst's questions that apply to the schema, each with its test and verdict.
    pub hypotheses: Vec<Hypothesis>,
    /// Why hypotheses are left out, when some or all are: they are written for NSL-KDD and
    /// apply only where the schema has the features and families they name (`written for
    /// NSL-KDD; none apply to schema unsw-nb15`). `None` when every one applies.
    pub hypotheses_note: Option<String>,
}

/// Why a data set cannot be explored.
#[derive(Debug, Error)]
pub enum ExploreError {
    #[error("{path} has no `{column}` column; exploration compares normal and attack rows")]
    Unlabelled {
        path: String,
        /// The schema's label column.
        column: String,
    },
    #[error("{path} holds no valid records")]
    Empty { path: String },
    #[error(
        "{path} holds only {present} rows ({count}); exploration needs both normal and attack rows"
    )]
    OneClass {
        path: String,
        present: &'static str,
        count: usize,
    },
}

/// Explores a labelled data set of any schema. Pass one read with
/// `ReadOptions { skip_invalid: true, ..ReadOptions::default() }` to have invalid values
/// counted per column: they are taken from [`Dataset::skipped`] (a read that stops at the
/// first invalid row has none to report).
pub fn explore(data: &Dataset) -> Result<Exploration, ExploreError> {
    let attacks = data
        .attacks
        .as_ref()
        .ok_or_else(|| ExploreError::Unlabelled {
            path: data.source.clone(),
            column: data.schema.label().column.clone(),
        })?;
    if data.is_empty() {
        return Err(ExploreError::Empty {
            path: data.source.clone(),
        });
    }
    let table = Table::new(data, attacks);
    let normal_rows = table.is_attack.iter().filter(|a| !**a).count();
    if normal_rows == 0 || normal_rows == table.rows {
        return Err(ExploreError::OneClass {
            path: data.source.clone(),
            present: if normal_rows == 0 { "attack" } else { "normal" },
            count: table.rows,
        });
    }

    let (features, sorted) = summary::numeric_summaries(&table);
    let quality = quality::assess(data, &table, &features, &sorted);
    let correlations = correlation::correlate(&table, &quality.constant_columns);
    let categories = summary::category_summaries(&table);
    let tests = separation::rank_features(&table, &sorted, &categories);
    let (hypotheses, hypotheses_note) = hypotheses::test_all(&table);
    Ok(Exploration {
        source: data.source.clone(),
        sha256: data.sha256.clone(),
        schema: data.schema.title(),
        rows: table.rows,
        alpha: ALPHA,
        quality,
        balance: balance::count(&data.schema, attacks),
        features,
        categories,
        correlations,
        tests,
        hypotheses,
        hypotheses_note,
    })
}

/// A p-value with its honest precision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PValue {
    /// As computed in double precision (0 when it underflowed).
    pub value: f64,
    /// True when `value` is below [`P_FLOOR`]: the true p-value is tiny but not this number.
    pub underflow: bool,
    /// For people: `< 1e-300` when it underflowed, else three significant digits.
    pub text: String,
}

impl PValue {
    pub fn new(value: f64) -> PValue {
        let underflow = value < P_FLOOR;
        let text = if underflow {
            "< 1e-300".to_string()
        } else if value >= 0.001 {
            format!("{value:.3}")
        } else {
            format!("{value:.2e}")
        };
        PValue {
            value,
            underflow,
            text,
        }
    }

    /// Significant at [`ALPHA`].
    pub fn significant(&self) -> bool {
        self.value < ALPHA
    }
}

impl fmt::Display for PValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// How large an effect is, by the usual conventions of its measure (Cohen 1988 for Hedges' g
/// and Cramér's V / phi; Romano et al. 2006 for the rank-biserial correlation, i.e. Cliff's
/// delta). With this many rows nearly everything is significant; the magnitude says whether
/// it matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Magnitude {
    Negligible,
    Small,
    Medium,
    Large,
}

/// The effect size measures used, with their magnitude thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectMeasure {
    /// 2U / (n1 n2) − 1 of the Mann–Whitney test; thresholds 0.147, 0.33, 0.474.
    RankBiserial,
    /// Standardised mean difference; thresholds 0.2, 0.5, 0.8.
    HedgesG,
    /// √(χ² / (n (min(r, c) − 1))); thresholds 0.1, 0.3, 0.5.
    CramersV,
    /// The signed phi coefficient of a 2×2 table; thresholds as Cramér's V.
    Phi,
}

impl EffectMeasure {
    /// The magnitude of an effect of this size (its sign ignored).
    pub fn magnitude(self, effect: f64) -> Magnitude {
        let [small, medium, large] = match self {
            EffectMeasure::RankBiserial => [0.147, 0.33, 0.474],
            EffectMeasure::HedgesG => [0.2, 0.5, 0.8],
            EffectMeasure::CramersV | EffectMeasure::Phi => [0.1, 0.3, 0.5],
        };
        let size = effect.abs();
        if size >= large {
            Magnitude::Large
        } else if size >= medium {
            Magnitude::Medium
        } else if size >= small {
            Magnitude::Small
        } else {
            Magnitude::Negligible
        }
    }

    /// The measure's name for people.
    pub fn label(self) -> &'static str {
        match self {
            EffectMeasure::RankBiserial => "rank-biserial r",
            EffectMeasure::HedgesG => "Hedges' g",
            EffectMeasure::CramersV => "Cramér's V",
            EffectMeasure::Phi => "phi",
        }
    }
}

/// The records as columns, with the labels beside them: every analysis reads columns.
pub(crate) struct Table<'a> {
    pub rows: usize,
    /// The numeric columns in schema order ([`Schema::numeric`]).
    pub numeric: Vec<Vec<f64>>,
    pub data: &'a Dataset,
    pub attacks: &'a [String],
    pub is_attack: Vec<bool>,
}

impl<'a> Table<'a> {
    fn new(data: &'a Dataset, attacks: &'a [String]) -> Table<'a> {
        let mut numeric: Vec<Vec<f64>> = (0..data.schema.num_numeric())
            .map(|_| Vec::with_capacity(data.len()))
            .collect();
        for record in &data.records {
            for (column, value) in numeric.iter_mut().zip(&record.numeric) {
                column.push(*value);
            }
        }
        Table {
            rows: data.len(),
            numeric,
            data,
            attacks,
            is_attack: attacks.iter().map(|a| !data.schema.is_normal(a)).collect(),
        }
    }

    pub fn schema(&self) -> &'a Schema {
        &self.data.schema
    }

    /// Index of a numeric feature in [`Record::numeric`](nadir_data::Record::numeric), by
    /// name in any spelling.
    pub fn numeric_index(&self, name: &str) -> Option<usize> {
        self.schema().numeric_index(name)
    }

    /// Index of a categorical feature in
    /// [`Record::categorical`](nadir_data::Record::categorical), by name in any spelling.
    pub fn categorical_index(&self, name: &str) -> Option<usize> {
        let key = normalise_name(name);
        self.schema()
            .categorical()
            .position(|f| normalise_name(&f.name) == key)
    }
}
