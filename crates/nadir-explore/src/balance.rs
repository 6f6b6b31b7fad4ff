//! Class balance: normal against attack rows, per attack name and per attack family, the
//! families as the schema groups attacks ([`Schema::family_of`]).

use nadir_data::Schema;
use serde::Serialize;
use std::collections::HashMap;

/// How the rows divide between classes.
#[derive(Debug, Clone, Serialize)]
pub struct ClassBalance {
    pub rows: usize,
    /// The label value of benign rows in this schema (`normal`, `Normal`).
    pub normal_label: String,
    pub normal: usize,
    pub attack: usize,
    pub normal_share: f64,
    pub attack_share: f64,
    /// Every attack name (every label value but [`ClassBalance::normal_label`]), most
    /// frequent first.
    pub attacks: Vec<AttackCount>,
    /// The attack families: first those the schema's family table declares, in its order
    /// (NSL-KDD: DoS, Probe, R2L, U2R), listed with 0 rows when none are present; then the
    /// others found in the data (`unknown` for names outside the table; every attack name
    /// when the schema has no table, as UNSW-NB15's categories are its families), most rows
    /// first.
    pub families: Vec<FamilyCount>,
}

/// Rows of one attack name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackCount {
    pub name: String,
    pub family: String,
    pub rows: usize,
    /// Share of all rows.
    pub share: f64,
}

/// Rows of one attack family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FamilyCount {
    pub family: String,
    pub rows: usize,
    /// Share of all rows.
    pub share: f64,
    /// Share of the attack rows.
    pub attack_share: f64,
    /// The attack names of this family present in the data, most frequent first.
    pub attacks: Vec<String>,
}

pub(crate) fn count(schema: &Schema, labels: &[String]) -> ClassBalance {
    let rows = labels.len();
    let mut per_name: HashMap<&str, usize> = HashMap::new();
    for label in labels {
        *per_name.entry(label).or_default() += 1;
    }
    let normal_label = schema.label().normal.clone();
    let normal = per_name.remove(normal_label.as_str()).unwrap_or(0);
    let attack = rows - normal;
    let share = |n: usize| n as f64 / rows as f64;
    let mut attacks: Vec<AttackCount> = per_name
        .into_iter()
        .map(|(name, n)| AttackCount {
            name: name.to_string(),
            family: schema.family_of(name).to_string(),
            rows: n,
            share: share(n),
        })
        .collect();
    attacks.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| a.name.cmp(&b.name)));
    let family_count = |family: String| {
        let members: Vec<&AttackCount> = attacks.iter().filter(|a| a.family == family).collect();
        let n: usize = members.iter().map(|a| a.rows).sum();
        FamilyCount {
            family,
            rows: n,
            share: share(n),
            attack_share: if attack > 0 {
                n as f64 / attack as f64
            } else {
                0.0
            },
            attacks: members.iter().map(|a| a.name.clone()).collect(),
        }
    };
    let declared = schema.families().unwrap_or_default();
    let mut families: Vec<FamilyCount> = declared
        .iter()
        .map(|f| family_count(f.to_string()))
        .collect();
    let mut others: Vec<FamilyCount> = Vec::new();
    for a in &attacks {
        if !declared.contains(&a.family.as_str()) && !others.iter().any(|f| f.family == a.family) {
            others.push(family_count(a.family.clone()));
        }
    }
    others.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| a.family.cmp(&b.family)));
    families.extend(others);
    ClassBalance {
        rows,
        normal_label,
        normal,
        attack,
        normal_share: share(normal),
        attack_share: share(attack),
        attacks,
        families,
    }
}
