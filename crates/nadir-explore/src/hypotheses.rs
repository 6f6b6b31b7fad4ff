//! Plain-language hypotheses a security analyst would ask of the data, each tested in the
//! direction it claims and given an honest verdict: a hypothesis can be supported,
//! contradicted (the data shows the opposite) or left unsupported.
//!
//! The hypotheses are written for NSL-KDD: they name its features, values and attack
//! families. Each declares what it needs ([`Need`]), and one whose needs the schema does not
//! meet is left out rather than reported as untestable; `test_all` says which and why.

use crate::separation::{self, TestResult};
use crate::stats::{self, Alternative};
use crate::summary::{Summary, quantile};
use crate::{ALPHA, Magnitude, Table};
use nadir_data::Kind;
use serde::Serialize;
use std::fmt;

/// One analyst's question and what the data says.
#[derive(Debug, Clone, Serialize)]
pub struct Hypothesis {
    /// A stable identifier (`s0_flag_attacks`, …).
    pub id: &'static str,
    /// The claim, in plain language.
    pub statement: &'static str,
    /// The direction the claim expects of the first group against the second.
    pub expected: Alternative,
    /// What is compared with what, with row counts.
    pub groups: String,
    /// The descriptive numbers behind the test.
    pub observed: String,
    /// The test in the claimed direction; its `p_adjusted` is Benjamini–Hochberg over all
    /// hypotheses. `None` when a group is empty or constant.
    pub test: Option<TestResult>,
    pub verdict: Verdict,
    /// The verdict in a sentence: direction, size and significance.
    pub conclusion: String,
}

/// What the data says about a hypothesis at [`ALPHA`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Significant in the claimed direction.
    Supported,
    /// Significant in the opposite direction.
    Contradicted,
    /// Neither.
    NotSignificant,
    /// The data lacks a group the claim needs (the schema has what the claim names, but no
    /// rows of it, or the groups are constant).
    NotTestable,
}

/// What a hypothesis needs of the schema to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A numeric feature.
    Numeric(&'static str),
    /// A numeric feature of kind `indicator` (0/1).
    Indicator(&'static str),
    /// A categorical feature and the value the claim is about. Schemas declare no values, so
    /// only the feature decides whether the claim applies; data without the value leaves it
    /// [`Verdict::NotTestable`].
    Category {
        feature: &'static str,
        value: &'static str,
    },
    /// An attack family: declared in the schema's family table, or, for a schema without
    /// one (its attack names are its families), a label value of the data.
    Family(&'static str),
}

impl fmt::Display for Need {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Need::Numeric(name) => write!(f, "numeric feature `{name}`"),
            Need::Indicator(name) => write!(f, "0/1 indicator feature `{name}`"),
            Need::Category { feature, value } => {
                write!(f, "categorical feature `{feature}` (value `{value}`)")
            }
            Need::Family(family) => write!(f, "attack family `{family}`"),
        }
    }
}

/// Rows a comparison takes as its first group.
#[derive(Clone, Copy)]
enum Group {
    Attacks,
    Family(&'static str),
}

/// A row condition for the share-of-attacks hypotheses.
#[derive(Clone, Copy)]
enum Condition {
    CategoryIs(&'static str, &'static str),
    IndicatorSet(&'static str),
}

#[derive(Clone, Copy)]
enum Design {
    /// A numeric feature in `group` against normal rows, by Mann–Whitney U.
    Compare { feature: &'static str, group: Group },
    /// The share of attacks among rows meeting `condition` against the other rows, by the
    /// two-proportion z-test.
    AttackShare { condition: Condition },
}

struct Claim {
    id: &'static str,
    statement: &'static str,
    design: Design,
    expected: Alternative,
}

impl Claim {
    /// What the claim needs of the schema: the features, values and family its design names.
    fn needs(&self) -> Vec<Need> {
        match self.design {
            Design::Compare { feature, group } => {
                let mut needs = vec![Need::Numeric(feature)];
                if let Group::Family(family) = group {
                    needs.push(Need::Family(family));
                }
                needs
            }
            Design::AttackShare {
                condition: Condition::CategoryIs(feature, value),
            } => vec![Need::Category { feature, value }],
            Design::AttackShare {
                condition: Condition::IndicatorSet(feature),
            } => vec![Need::Indicator(feature)],
        }
    }
}

/// Whether the explored data's schema meets a need.
fn met(table: &Table, families: Option<&[&str]>, need: Need) -> bool {
    let schema = table.schema();
    match need {
        Need::Numeric(name) => table.numeric_index(name).is_some(),
        Need::Indicator(name) => table
            .numeric_index(name)
            .and_then(|i| schema.numeric().nth(i))
            .is_some_and(|f| f.kind == Kind::Indicator),
        Need::Category { feature, .. } => table.categorical_index(feature).is_some(),
        Need::Family(family) => match families {
            Some(declared) => declared.contains(&family),
            None => table.attacks.iter().any(|a| a == family),
        },
    }
}

const CLAIMS: [Claim; 11] = [
    Claim {
        id: "s0_flag_attacks",
        statement: "Connections with flag S0 (SYN sent, never answered) are more often attacks",
        design: Design::AttackShare {
            condition: Condition::CategoryIs("flag", "S0"),
        },
        expected: Alternative::Greater,
    },
    Claim {
        id: "dos_serrorrate",
        statement: "DoS attacks raise serrorrate (the share of SYN errors to the same host)",
        design: Design::Compare {
            feature: "serrorrate",
            group: Group::Family("DoS"),
        },
        expected: Alternative::Greater,
    },
    Claim {
        id: "r2l_failed_logins",
        statement: "R2L attacks have more failed logins",
        design: Design::Compare {
            feature: "numfailedlogins",
            group: Group::Family("R2L"),
        },
        expected: Alternative::Greater,
    },
    Claim {
        id: "attacks_fewer_bytes",
        statement: "Attacks send fewer bytes (srcbytes) than normal connections",
        design: Design::Compare {
            feature: "srcbytes",
            group: Group::Attacks,
        },
        expected: Alternative::Less,
    },
    Claim {
        id: "guest_logins_attacks",
        statement: "Guest logins are more often attacks",
        design: Design::AttackShare {
            condition: Condition::IndicatorSet("isguestlogin"),
        },
        expected: Alternative::Greater,
    },
    Claim {
        id: "logged_in_fewer_attacks",
        statement: "Connections that log in successfully are less often attacks",
        design: Design::AttackShare {
            condition: Condition::IndicatorSet("loggedin"),
        },
        expected: Alternative::Less,
    },
    Claim {
        id: "icmp_attacks",
        statement: "ICMP connections are more often attacks",
        design: Design::AttackShare {
            condition: Condition::CategoryIs("protocoltype", "icmp"),
        },
        expected: Alternative::Greater,
    },
    Claim {
        id: "dos_count",
        statement: "DoS attacks come in floods: more connections to the same host in the past 2 s (count)",
        design: Design::Compare {
            feature: "count",
            group: Group::Family("DoS"),
        },
        expected: Alternative::Greater,
    },
    Claim {
        id: "probe_diffsrvrate",
        statement: "Probe attacks spread over many services (diffsrvrate)",
        design: Design::Compare {
            feature: "diffsrvrate",
            group: Group::Family("Probe"),
        },
        expected: Alternative::Greater,
    },
    Claim {
        id: "u2r_rootshell",
        statement: "U2R attacks obtain a root shell more often (rootshell)",
        design: Design::Compare {
            feature: "rootshell",
            group: Group::Family("U2R"),
        },
        expected: Alternative::Greater,
    },
    Claim {
        id: "attacks_shorter",
        statement: "Attacks are shorter connections (duration)",
        design: Design::Compare {
            feature: "duration",
            group: Group::Attacks,
        },
        expected: Alternative::Less,
    },
];

/// The outcome of one claim before the family-wide adjustment.
struct Tested {
    groups: String,
    observed: String,
    /// The test in the claimed direction and in the opposite one.
    tests: Option<(TestResult, TestResult)>,
    /// How the first group differs, in words for the conclusion.
    higher: String,
    lower: String,
}

/// The hypotheses that apply to the schema, tested, their p-values adjusted together; and,
/// when some are left out, a note saying which and what they lack.
pub(crate) fn test_all(table: &Table) -> (Vec<Hypothesis>, Option<String>) {
    let families = table.schema().families();
    let mut applicable: Vec<&Claim> = Vec::new();
    let mut left_out: Vec<String> = Vec::new();
    for claim in &CLAIMS {
        let lacking: Vec<String> = claim
            .needs()
            .into_iter()
            .filter(|need| !met(table, families.as_deref(), *need))
            .map(|need| need.to_string())
            .collect();
        if lacking.is_empty() {
            applicable.push(claim);
        } else {
            left_out.push(format!("{} (lacks {})", claim.id, lacking.join(", ")));
        }
    }
    let schema = table.schema().title();
    let note = if applicable.is_empty() {
        Some(format!(
            "written for NSL-KDD; none apply to schema {schema}"
        ))
    } else if !left_out.is_empty() {
        Some(format!(
            "written for NSL-KDD; {} of {} apply to schema {schema}; left out: {}",
            applicable.len(),
            CLAIMS.len(),
            left_out.join("; ")
        ))
    } else {
        None
    };
    (test_claims(table, &applicable), note)
}

fn test_claims(table: &Table, claims: &[&Claim]) -> Vec<Hypothesis> {
    let tested: Vec<Tested> = claims
        .iter()
        .map(|claim| match claim.design {
            Design::Compare { feature, group } => compare(table, feature, group, claim.expected),
            Design::AttackShare { condition } => attack_share(table, condition, claim.expected),
        })
        .collect();
    let mut claimed: Vec<Option<TestResult>> = tested
        .iter()
        .map(|t| t.tests.as_ref().map(|(c, _)| c.clone()))
        .collect();
    separation::adjust(claimed.iter_mut().flatten());
    // The opposite directions are a family of their own: a claim is called contradicted on
    // an adjusted p-value too.
    let mut reversed: Vec<Option<TestResult>> = tested
        .iter()
        .map(|t| t.tests.as_ref().map(|(_, r)| r.clone()))
        .collect();
    separation::adjust(reversed.iter_mut().flatten());
    claims
        .iter()
        .zip(tested)
        .zip(claimed.into_iter().zip(reversed))
        .map(|((claim, tested), (test, reverse))| {
            let (verdict, conclusion) = judge(claim, &tested, test.as_ref(), reverse.as_ref());
            Hypothesis {
                id: claim.id,
                statement: claim.statement,
                expected: claim.expected,
                groups: tested.groups,
                observed: tested.observed,
                test,
                verdict,
                conclusion,
            }
        })
        .collect()
}

fn opposite(alternative: Alternative) -> Alternative {
    match alternative {
        Alternative::Greater => Alternative::Less,
        Alternative::Less => Alternative::Greater,
        Alternative::TwoSided => Alternative::TwoSided,
    }
}

fn judge(
    claim: &Claim,
    tested: &Tested,
    test: Option<&TestResult>,
    reverse: Option<&TestResult>,
) -> (Verdict, String) {
    let (Some(test), Some(reverse)) = (test, reverse) else {
        return (
            Verdict::NotTestable,
            format!("Not testable: {}.", tested.groups),
        );
    };
    let size = format!(
        "{} = {:.3}, {:?} effect",
        test.effect_measure.label(),
        test.effect_size,
        test.magnitude
    )
    .to_lowercase();
    let (claimed, other) = if claim.expected == Alternative::Less {
        (&tested.lower, &tested.higher)
    } else {
        (&tested.higher, &tested.lower)
    };
    if test.p_adjusted.value < ALPHA {
        let caveat = if test.magnitude == Magnitude::Negligible {
            " Statistically supported, but the difference is too small to matter in practice."
        } else {
            ""
        };
        (
            Verdict::Supported,
            format!(
                "Supported: {claimed} ({size}); one-sided p {}, BH-adjusted {} < {ALPHA}.{caveat}",
                test.p_value, test.p_adjusted
            ),
        )
    } else if reverse.p_adjusted.value < ALPHA {
        (
            Verdict::Contradicted,
            format!(
                "Rejected, the data shows the opposite: {other} ({size}); one-sided p for the \
                 claimed direction {}, for the opposite direction {} (BH-adjusted {}).",
                test.p_value, reverse.p_value, reverse.p_adjusted
            ),
        )
    } else {
        (
            Verdict::NotSignificant,
            format!(
                "Not supported: no significant difference in the claimed direction at α = {ALPHA} \
                 ({size}; one-sided p {}, BH-adjusted {}).",
                test.p_value, test.p_adjusted
            ),
        )
    }
}

fn compare(table: &Table, feature: &str, group: Group, expected: Alternative) -> Tested {
    let column = &table.numeric[table
        .numeric_index(feature)
        .expect("the claim applies to the schema")];
    let schema = table.schema();
    let in_group = |row: usize| match group {
        Group::Attacks => table.is_attack[row],
        Group::Family(family) => {
            table.is_attack[row] && schema.family_of(&table.attacks[row]) == family
        }
    };
    let mut first = Vec::new();
    let mut normal = Vec::new();
    for (row, value) in column.iter().enumerate() {
        if in_group(row) {
            first.push(*value);
        } else if !table.is_attack[row] {
            normal.push(*value);
        }
    }
    first.sort_unstable_by(f64::total_cmp);
    normal.sort_unstable_by(f64::total_cmp);
    let name = match group {
        Group::Attacks => "attack".to_string(),
        Group::Family(family) => family.to_string(),
    };
    let groups = format!(
        "{feature} of {name} rows (n = {}) against normal rows (n = {})",
        first.len(),
        normal.len()
    );
    let observed = match (Summary::of_sorted(&first), Summary::of_sorted(&normal)) {
        (Some(a), Some(b)) => format!(
            "{name}: median {}, mean {}, upper quartile {}, zeros {:.1} %; normal: median {}, \
             mean {}, upper quartile {}, zeros {:.1} %",
            short(a.median),
            short(a.mean),
            short(quantile(&first, 0.75)),
            100.0 * a.zero_share,
            short(b.median),
            short(b.mean),
            short(quantile(&normal, 0.75)),
            100.0 * b.zero_share
        ),
        _ => format!("no {name} rows"),
    };
    let tests = stats::mann_whitney_sorted(&first, &normal, expected).zip(
        stats::mann_whitney_sorted(&first, &normal, opposite(expected)),
    );
    Tested {
        groups,
        observed,
        tests: tests.map(|(claimed, reverse)| {
            (
                TestResult::mann_whitney(claimed, expected),
                TestResult::mann_whitney(reverse, opposite(expected)),
            )
        }),
        higher: format!("{name} rows tend to have higher {feature}"),
        lower: format!("{name} rows tend to have lower {feature}"),
    }
}

fn attack_share(table: &Table, condition: Condition, expected: Alternative) -> Tested {
    let (label, holds): (String, Box<dyn Fn(usize) -> bool>) = match condition {
        Condition::CategoryIs(feature, value) => {
            let c = table
                .categorical_index(feature)
                .expect("the claim applies to the schema");
            (
                format!("{feature} = {value}"),
                Box::new(move |row| table.data.records[row].categorical[c] == value),
            )
        }
        Condition::IndicatorSet(feature) => {
            let c = table
                .numeric_index(feature)
                .expect("the claim applies to the schema");
            (
                format!("{feature} = 1"),
                Box::new(move |row| table.numeric[c][row] == 1.0),
            )
        }
    };
    let (mut with, mut without) = ((0u64, 0u64), (0u64, 0u64));
    for row in 0..table.rows {
        let side = if holds(row) { &mut with } else { &mut without };
        side.1 += 1;
        side.0 += u64::from(table.is_attack[row]);
    }
    let groups = format!(
        "share of attacks among rows with {label} (n = {}) against the other rows (n = {})",
        with.1, without.1
    );
    let share = |(s, n): (u64, u64)| {
        if n == 0 {
            "–".to_string()
        } else {
            format!("{:.1} %", 100.0 * s as f64 / n as f64)
        }
    };
    let observed = format!(
        "attacks are {} of rows with {label} and {} of the other rows",
        share(with),
        share(without)
    );
    let tests = stats::two_proportions(with, without, expected).zip(stats::two_proportions(
        with,
        without,
        opposite(expected),
    ));
    Tested {
        groups,
        observed,
        tests: tests.map(|(claimed, reverse)| {
            (
                TestResult::proportions(claimed, expected),
                TestResult::proportions(reverse, opposite(expected)),
            )
        }),
        higher: format!("rows with {label} are more often attacks"),
        lower: format!("rows with {label} are less often attacks"),
    }
}

fn short(value: f64) -> String {
    if value == value.round() && value.abs() < 1e12 {
        format!("{value:.0}")
    } else {
        format!("{value:.3}")
    }
}
