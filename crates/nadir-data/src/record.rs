//! One connection record and the per-value validation rules of the schema.

use crate::schema::{FEATURES, Kind, NUM_CATEGORICAL, NUM_NUMERIC};
use serde::Serialize;
use std::fmt;

/// The 41 features of one connection, split by type. Numeric values are in schema order
/// (see [`crate::schema::numeric_names`]), categorical ones are protocol, service, flag.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub numeric: [f64; NUM_NUMERIC],
    pub categorical: [String; NUM_CATEGORICAL],
}

/// Why a value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    Missing,
    NotANumber,
    NotFinite,
    Negative,
    RateOutOfRange,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Problem::Missing => "value is missing",
            Problem::NotANumber => "not a number",
            Problem::NotFinite => "NaN or infinity is not allowed",
            Problem::Negative => "a count cannot be negative",
            Problem::RateOutOfRange => "a rate must lie in [0, 1]",
        })
    }
}

/// A rejected value: which feature, what was given and why it is wrong.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub value: String,
    pub problem: Problem,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "column `{}`, value `{}`: {}",
            self.field, self.value, self.problem
        )
    }
}

/// Checks one numeric value against its feature's rule.
pub fn check_numeric(kind: Kind, value: f64) -> Result<f64, Problem> {
    if !value.is_finite() {
        return Err(Problem::NotFinite);
    }
    match kind {
        Kind::Count | Kind::Indicator if value < 0.0 => Err(Problem::Negative),
        Kind::Rate if !(0.0..=1.0).contains(&value) => Err(Problem::RateOutOfRange),
        _ => Ok(value),
    }
}

/// Parses one numeric field as text and checks it.
pub fn parse_numeric(kind: Kind, text: &str) -> Result<f64, Problem> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Problem::Missing);
    }
    let value: f64 = text.parse().map_err(|_| Problem::NotANumber)?;
    check_numeric(kind, value)
}

impl Record {
    /// Builds a record from the 41 feature values as text, in [`FEATURES`] order, collecting
    /// every bad value rather than stopping at the first (an API client wants them all).
    pub fn from_text<'a>(
        mut value_of: impl FnMut(usize) -> &'a str,
    ) -> Result<Record, Vec<FieldError>> {
        let mut numeric = [0.0; NUM_NUMERIC];
        let mut categorical: [String; NUM_CATEGORICAL] = Default::default();
        let mut errors = Vec::new();
        let (mut n, mut c) = (0, 0);
        for (i, feature) in FEATURES.iter().enumerate() {
            let text = value_of(i);
            if feature.kind == Kind::Categorical {
                let value = text.trim();
                if value.is_empty() {
                    errors.push(FieldError {
                        field: feature.name,
                        value: text.to_string(),
                        problem: Problem::Missing,
                    });
                }
                categorical[c] = value.to_string();
                c += 1;
            } else {
                match parse_numeric(feature.kind, text) {
                    Ok(v) => numeric[n] = v,
                    Err(problem) => errors.push(FieldError {
                        field: feature.name,
                        value: text.to_string(),
                        problem,
                    }),
                }
                n += 1;
            }
        }
        if errors.is_empty() {
            Ok(Record {
                numeric,
                categorical,
            })
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00";

    fn parse(line: &str) -> Result<Record, Vec<FieldError>> {
        let fields: Vec<&str> = line.split(',').collect();
        Record::from_text(|i| fields[i])
    }

    #[test]
    fn parses_a_good_row() {
        let r = parse(GOOD).unwrap();
        assert_eq!(r.categorical, ["tcp", "ftp_data", "SF"].map(String::from));
        assert_eq!(r.numeric[1], 491.0);
        assert_eq!(r.numeric[NUM_NUMERIC - 2], 0.05);
    }

    #[test]
    fn reports_every_bad_value() {
        let bad = GOOD
            .replacen("491", "-3", 1)
            .replacen("0.17", "1.5", 1)
            .replacen("150", "abc", 1);
        let errors = parse(&bad).unwrap_err();
        let got: Vec<_> = errors
            .iter()
            .map(|e| (e.field, e.problem.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("srcbytes", Problem::Negative),
                ("dsthostcount", Problem::NotANumber),
                ("dsthostsamesrvrate", Problem::RateOutOfRange),
            ]
        );
    }

    #[test]
    fn rejects_nan_infinity_and_missing() {
        assert_eq!(parse_numeric(Kind::Count, "NaN"), Err(Problem::NotFinite));
        assert_eq!(parse_numeric(Kind::Rate, "inf"), Err(Problem::NotFinite));
        assert_eq!(parse_numeric(Kind::Count, " "), Err(Problem::Missing));
        assert_eq!(parse_numeric(Kind::Rate, "1"), Ok(1.0));
    }
}
