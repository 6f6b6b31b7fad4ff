//! Class balance: normal against attack rows, per attack name and per attack family.

use nadir_data::schema;
use serde::Serialize;
use std::collections::HashMap;

/// The order families are listed in; `unknown` holds names outside the NSL-KDD grouping.
const FAMILIES: [&str; 5] = ["DoS", "Probe", "R2L", "U2R", "unknown"];

/// How the rows divide between classes.
#[derive(Debug, Clone, Serialize)]
pub struct ClassBalance {
    pub rows: usize,
    pub normal: usize,
    pub attack: usize,
    pub normal_share: f64,
    pub attack_share: f64,
    /// Every attack name (not `normal`), most frequent first.
    pub attacks: Vec<AttackCount>,
    /// The attack families in the order DoS, Probe, R2L, U2R (then `unknown` if present);
    /// families with no rows are listed with 0.
    pub families: Vec<FamilyCount>,
}

/// Rows of one attack name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackCount {
    pub name: String,
    pub family: &'static str,
    pub rows: usize,
    /// Share of all rows.
    pub share: f64,
}

/// Rows of one attack family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FamilyCount {
    pub family: &'static str,
    pub rows: usize,
    /// Share of all rows.
    pub share: f64,
    /// Share of the attack rows.
    pub attack_share: f64,
    /// The attack names of this family present in the data, most frequent first.
    pub attacks: Vec<String>,
}

pub(crate) fn count(labels: &[String]) -> ClassBalance {
    let rows = labels.len();
    let mut per_name: HashMap<&str, usize> = HashMap::new();
    for label in labels {
        *per_name.entry(label).or_default() += 1;
    }
    let normal = per_name.remove(schema::NORMAL).unwrap_or(0);
    let attack = rows - normal;
    let share = |n: usize| n as f64 / rows as f64;
    let mut attacks: Vec<AttackCount> = per_name
        .into_iter()
        .map(|(name, n)| AttackCount {
            name: name.to_string(),
            family: schema::attack_family(name),
            rows: n,
            share: share(n),
        })
        .collect();
    attacks.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| a.name.cmp(&b.name)));
    let families = FAMILIES
        .iter()
        .filter_map(|&family| {
            let members: Vec<&AttackCount> =
                attacks.iter().filter(|a| a.family == family).collect();
            if family == "unknown" && members.is_empty() {
                return None;
            }
            let n: usize = members.iter().map(|a| a.rows).sum();
            Some(FamilyCount {
                family,
                rows: n,
                share: share(n),
                attack_share: if attack > 0 {
                    n as f64 / attack as f64
                } else {
                    0.0
                },
                attacks: members.iter().map(|a| a.name.clone()).collect(),
            })
        })
        .collect();
    ClassBalance {
        rows,
        normal,
        attack,
        normal_share: share(normal),
        attack_share: share(attack),
        attacks,
        families,
    }
}
