//! Which features separate attack from normal rows: Mann–Whitney U and Welch's t for each
//! numeric feature, a chi-square test of independence for each categorical one,
//! Benjamini–Hochberg adjusted over all of them, ranked by effect size.

use crate::stats::{self, Alternative};
use crate::summary::{CategorySummary, SortedByClass};
use crate::{EffectMeasure, Magnitude, PValue, Table};
use nadir_data::Kind;
use rayon::prelude::*;
use serde::Serialize;

/// A statistical test's outcome, in one shape for every test so tables can list them alike.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestResult {
    pub test: TestKind,
    pub alternative: Alternative,
    /// U (of the first group), t, χ² or z, as `test` says.
    pub statistic: f64,
    /// The standardised statistic of the rank test (tie and continuity corrected).
    pub z: Option<f64>,
    /// Degrees of freedom (Welch–Satterthwaite for t; (r − 1)(c − 1) for χ²).
    pub df: Option<f64>,
    pub p_value: PValue,
    /// Benjamini–Hochberg adjusted over the family of tests this one belongs to (all feature
    /// tests together; all hypotheses together).
    pub p_adjusted: PValue,
    pub effect_measure: EffectMeasure,
    /// Signed where the measure has a direction (positive: the first group is higher).
    pub effect_size: f64,
    pub magnitude: Magnitude,
}

/// The tests used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TestKind {
    MannWhitneyU,
    WelchT,
    ChiSquare,
    TwoProportionZ,
}

impl TestKind {
    pub fn label(self) -> &'static str {
        match self {
            TestKind::MannWhitneyU => "Mann–Whitney U",
            TestKind::WelchT => "Welch's t",
            TestKind::ChiSquare => "chi-square",
            TestKind::TwoProportionZ => "two-proportion z",
        }
    }
}

impl TestResult {
    pub(crate) fn mann_whitney(m: stats::MannWhitney, alternative: Alternative) -> TestResult {
        TestResult {
            test: TestKind::MannWhitneyU,
            alternative,
            statistic: m.u,
            z: Some(m.z),
            df: None,
            p_value: PValue::new(m.p_value),
            p_adjusted: PValue::new(m.p_value),
            effect_measure: EffectMeasure::RankBiserial,
            effect_size: m.rank_biserial,
            magnitude: EffectMeasure::RankBiserial.magnitude(m.rank_biserial),
        }
    }

    pub(crate) fn welch(w: stats::Welch, alternative: Alternative) -> TestResult {
        TestResult {
            test: TestKind::WelchT,
            alternative,
            statistic: w.t,
            z: None,
            df: Some(w.df),
            p_value: PValue::new(w.p_value),
            p_adjusted: PValue::new(w.p_value),
            effect_measure: EffectMeasure::HedgesG,
            effect_size: w.hedges_g,
            magnitude: EffectMeasure::HedgesG.magnitude(w.hedges_g),
        }
    }

    pub(crate) fn chi_square(c: stats::ChiSquare) -> TestResult {
        TestResult {
            test: TestKind::ChiSquare,
            alternative: Alternative::TwoSided,
            statistic: c.statistic,
            z: None,
            df: Some(c.dof as f64),
            p_value: PValue::new(c.p_value),
            p_adjusted: PValue::new(c.p_value),
            effect_measure: EffectMeasure::CramersV,
            effect_size: c.cramers_v,
            magnitude: EffectMeasure::CramersV.magnitude(c.cramers_v),
        }
    }

    pub(crate) fn proportions(p: stats::Proportions, alternative: Alternative) -> TestResult {
        TestResult {
            test: TestKind::TwoProportionZ,
            alternative,
            statistic: p.z,
            z: Some(p.z),
            df: None,
            p_value: PValue::new(p.p_value),
            p_adjusted: PValue::new(p.p_value),
            effect_measure: EffectMeasure::Phi,
            effect_size: p.phi,
            magnitude: EffectMeasure::Phi.magnitude(p.phi),
        }
    }
}

/// Sets `p_adjusted` of every test to its Benjamini–Hochberg value within the family.
pub(crate) fn adjust<'a>(tests: impl IntoIterator<Item = &'a mut TestResult>) {
    let mut tests: Vec<&mut TestResult> = tests.into_iter().collect();
    let raw: Vec<f64> = tests.iter().map(|t| t.p_value.value).collect();
    for (test, adjusted) in tests.iter_mut().zip(stats::benjamini_hochberg(&raw)) {
        test.p_adjusted = PValue::new(adjusted);
    }
}

/// How one feature differs between attack and normal rows (attack rows are the first group).
#[derive(Debug, Clone, Serialize)]
pub struct FeatureTest {
    /// 1 = separates attacks from normal traffic best.
    pub rank: usize,
    pub feature: String,
    pub kind: &'static str,
    /// The ranking key: |rank-biserial r| for numeric features, Cramér's V for categorical
    /// ones; both run from 0 (no separation) to 1 (complete).
    pub separation: f64,
    pub magnitude: Magnitude,
    /// In words: `higher in attacks`, `lower in attacks`, or for a categorical feature the
    /// value with the largest excess of attack rows over independence.
    pub direction: String,
    /// Two-sided, attack against normal rows. `None` for a constant feature.
    pub mann_whitney: Option<TestResult>,
    /// Two-sided, attack against normal rows. `None` for a constant feature.
    pub welch: Option<TestResult>,
    /// Feature value × class. Categorical features only.
    pub chi_square: Option<TestResult>,
}

pub(crate) fn rank_features(
    table: &Table,
    sorted: &[SortedByClass],
    categories: &[CategorySummary],
) -> Vec<FeatureTest> {
    let numeric: Vec<_> = table.schema().numeric().collect();
    let mut tests: Vec<FeatureTest> = numeric
        .par_iter()
        .zip(sorted)
        .map(|(feature, column)| {
            let two = Alternative::TwoSided;
            let mann_whitney = stats::mann_whitney_sorted(&column.attack, &column.normal, two)
                .map(|m| TestResult::mann_whitney(m, two));
            let welch = stats::welch_t(&column.attack, &column.normal, two)
                .map(|w| TestResult::welch(w, two));
            let effect = mann_whitney.as_ref().map_or(0.0, |m| m.effect_size);
            FeatureTest {
                rank: 0,
                feature: feature.name.clone(),
                kind: feature.kind.name(),
                separation: effect.abs(),
                magnitude: EffectMeasure::RankBiserial.magnitude(effect),
                direction: if mann_whitney.is_none() {
                    "constant: nothing to test".to_string()
                } else if effect > 0.0 {
                    "higher in attacks".to_string()
                } else if effect < 0.0 {
                    "lower in attacks".to_string()
                } else {
                    "no difference".to_string()
                },
                mann_whitney,
                welch,
                chi_square: None,
            }
        })
        .collect();
    let attack_share = table.is_attack.iter().filter(|a| **a).count() as f64 / table.rows as f64;
    for category in categories {
        let contingency: Vec<Vec<u64>> = category
            .values
            .iter()
            .map(|v| vec![v.normal as u64, v.attack as u64])
            .collect();
        let chi_square = stats::chi_square_independence(&contingency).map(TestResult::chi_square);
        let excess = category.values.iter().max_by(|a, b| {
            let over = |v: &crate::CategoryCount| v.attack as f64 - v.rows as f64 * attack_share;
            over(a).total_cmp(&over(b))
        });
        let effect = chi_square.as_ref().map_or(0.0, |c| c.effect_size);
        tests.push(FeatureTest {
            rank: 0,
            feature: category.feature.clone(),
            kind: Kind::Categorical.name(),
            separation: effect,
            magnitude: EffectMeasure::CramersV.magnitude(effect),
            direction: match (&chi_square, excess) {
                (Some(_), Some(v)) => format!(
                    "most over-represented among attacks: {} ({:.1} % attacks of {} rows)",
                    v.value,
                    100.0 * v.attack_share,
                    v.rows
                ),
                _ => "constant: nothing to test".to_string(),
            },
            mann_whitney: None,
            welch: None,
            chi_square,
        });
    }
    adjust(tests.iter_mut().flat_map(|t| {
        [&mut t.mann_whitney, &mut t.welch, &mut t.chi_square]
            .into_iter()
            .flatten()
    }));
    tests.sort_by(|a, b| {
        b.separation
            .total_cmp(&a.separation)
            .then_with(|| a.feature.cmp(&b.feature))
    });
    for (i, test) in tests.iter_mut().enumerate() {
        test.rank = i + 1;
    }
    tests
}
