//! One connection record and the per-value validation rules of the schema.

use crate::rejects::ErrorKind;
use crate::schema::{Kind, Schema};
use serde::Serialize;
use std::fmt;

/// The features of one record, split by type, each in its schema's order
/// ([`Schema::numeric`], [`Schema::categorical`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub numeric: Vec<f64>,
    pub categorical: Vec<String>,
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
    /// A typed value (JSON) of a type the feature cannot take, e.g. a number for `service`.
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    /// The same feature given twice under different spellings (`src_bytes` and `srcbytes`).
    Duplicate,
    /// A 0/1 label column holding something else.
    NotBinary,
    /// A 0/1 label column saying the opposite of the attack-name column.
    LabelDisagrees {
        column: String,
        value: String,
    },
    /// A list of values of the wrong length (the legacy body's `features`); `expected` says
    /// what it should hold.
    WrongLength {
        expected: String,
    },
}

impl Problem {
    /// The kind of problem, as counts group them.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Problem::Missing => ErrorKind::Missing,
            Problem::NotANumber => ErrorKind::NotANumber,
            Problem::NotFinite => ErrorKind::NotFinite,
            Problem::Negative => ErrorKind::Negative,
            Problem::RateOutOfRange => ErrorKind::RateOutOfRange,
            Problem::WrongType { .. } => ErrorKind::WrongType,
            Problem::Duplicate => ErrorKind::Duplicate,
            Problem::NotBinary => ErrorKind::NotBinary,
            Problem::LabelDisagrees { .. } => ErrorKind::LabelDisagrees,
            Problem::WrongLength { .. } => ErrorKind::WrongLength,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Problem::Missing => "value is missing",
            Problem::NotANumber => "not a number",
            Problem::NotFinite => {
                "NaN or infinity is not allowed (numbers must lie within ±1.8e308)"
            }
            Problem::Negative => "a count cannot be negative",
            Problem::RateOutOfRange => "a rate must lie in [0, 1]",
            Problem::WrongType { expected, found } => {
                return write!(f, "expected {expected}, found {found}");
            }
            Problem::Duplicate => "the feature is given more than once",
            Problem::NotBinary => "expected 0 (normal) or 1 (attack)",
            Problem::LabelDisagrees { column, value } => {
                return write!(f, "disagrees with `{column}` = `{value}`");
            }
            Problem::WrongLength { expected } => return write!(f, "expected {expected}"),
        })
    }
}

/// A rejected value: which feature, what was given and why it is wrong.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldError {
    pub field: String,
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

/// Where validation reports each bad value: a list of [`FieldError`]s, or a bounded
/// collector ([`crate::Rejects`]) that keeps the first records' errors and counts the rest.
/// The value's text comes as a closure, so a collector that only counts never builds it.
pub trait BadFields {
    fn bad(&mut self, field: &str, problem: Problem, value: impl FnOnce() -> String);
}

/// Every bad value, in full.
impl BadFields for Vec<FieldError> {
    fn bad(&mut self, field: &str, problem: Problem, value: impl FnOnce() -> String) {
        self.push(FieldError {
            field: field.to_string(),
            value: value(),
            problem,
        });
    }
}

/// The most characters of a value that an error shows. Values are echoed so that the user can
/// find them; a megabyte-long one would make every message, and the server's answer, as long.
pub const SHOWN_CHARS: usize = 64;

/// `text` as an error shows it: at most [`SHOWN_CHARS`] characters, then `…`.
pub fn shown(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
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
        Kind::Count | Kind::Indicator | Kind::Rate | Kind::Continuous | Kind::Categorical => {
            Ok(value)
        }
    }
}

/// Parses one numeric field as text and checks it.
pub fn parse_numeric(kind: Kind, text: &str) -> Result<f64, Problem> {
    let text = trim(text);
    if text.is_empty() {
        return Err(Problem::Missing);
    }
    let value = match plain_decimal(text.as_bytes()) {
        Some(value) => value,
        None => text.parse().map_err(|_| Problem::NotANumber)?,
    };
    check_numeric(kind, value)
}

/// `text` without the whitespace around it, as `str::trim` (Unicode whitespace): a value
/// that starts and ends with a visible ASCII character, as nearly every one does, is returned
/// as is without the character-by-character scan, which was a tenth of reading a record.
fn trim(text: &str) -> &str {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// Powers of ten exact in an `f64`.
const EXACT_POWERS_OF_TEN: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The value of a plain decimal (`491`, `0.05`, `-3`: digits with at most one inner point)
/// of at most 15 digits; `None` for anything else, which `str::parse` then reads. Nearly
/// every value in the data is such a number, and reading them here is several times faster
/// than the general parser, which was a third of the time of reading a record. The result
/// is the same bit for bit: the digits form an integer below 2^53 and the power of ten is
/// exact, so one correctly rounded division gives the correctly rounded value (Clinger's
/// fast path).
fn plain_decimal(text: &[u8]) -> Option<f64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut count = 0;
    let mut point = None;
    for (i, &b) in digits.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                count += 1;
            }
            b'.' if point.is_none() && i > 0 && i + 1 < digits.len() => point = Some(i),
            _ => return None,
        }
    }
    if count > 15 {
        return None;
    }
    let fraction_digits = point.map_or(0, |p| digits.len() - p - 1);
    let magnitude = mantissa as f64 / EXACT_POWERS_OF_TEN[fraction_digits];
    Some(if negative { -magnitude } else { magnitude })
}

/// A feature value as a typed format (JSON) carries it: unlike a CSV field, its type is known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TypedValue<'a> {
    Number(f64),
    /// A number beyond the range of `f64` (`1e400`), as written: a bad value of its field
    /// (not finite, as the same text in a CSV field), shown as the client wrote it.
    OutOfRange(&'a str),
    Text(&'a str),
    /// A value of no usable type (`null`, a boolean, an array, an object), named for messages.
    Other(&'static str),
}

impl TypedValue<'_> {
    /// The value as a message shows it ([`shown`]).
    pub(crate) fn shown(&self) -> String {
        match self {
            TypedValue::Number(v) => v.to_string(),
            TypedValue::OutOfRange(t) | TypedValue::Text(t) => shown(t),
            TypedValue::Other(name) => name.to_string(),
        }
    }

    /// The value's type, as a message names it (`a number`, `text`, `null`, …).
    pub(crate) fn type_name(&self) -> &'static str {
        type_name(self)
    }
}

impl Record {
    /// Builds a record from the feature values as text, by position in
    /// [`Schema::features`]; `None` when a value is bad. Every bad value is reported to `bad`
    /// rather than stopping at the first (an API client wants them all). Values are trimmed
    /// first, so an error shows the value without its padding.
    pub fn from_text<'a>(
        schema: &Schema,
        mut value_of: impl FnMut(usize) -> &'a str,
        bad: &mut impl BadFields,
    ) -> Option<Record> {
        Record::from_typed(schema, |i| Some(TypedValue::Text(trim(value_of(i)))), bad)
    }

    /// Builds a record from typed values by position in [`Schema::features`] (`None`: the
    /// field is absent); `None` when a value is bad, each reported to `bad`. Numbers written
    /// as text (`"491"`) are read like CSV fields, since many clients stringify everything;
    /// `null` counts as missing.
    pub fn from_typed<'a>(
        schema: &Schema,
        mut value_of: impl FnMut(usize) -> Option<TypedValue<'a>>,
        bad: &mut impl BadFields,
    ) -> Option<Record> {
        let mut numeric = Vec::with_capacity(schema.num_numeric());
        let mut categorical = Vec::with_capacity(schema.num_categorical());
        let mut valid = true;
        for (i, feature) in schema.features().enumerate() {
            let value = value_of(i);
            let shown = || value.map_or_else(String::new, |v| v.shown());
            let problem = if feature.kind == Kind::Categorical {
                match value {
                    Some(TypedValue::Text(text)) if !trim(text).is_empty() => {
                        categorical.push(trim(text).to_string());
                        continue;
                    }
                    None | Some(TypedValue::Other("null")) | Some(TypedValue::Text(_)) => {
                        Problem::Missing
                    }
                    Some(other) => Problem::WrongType {
                        expected: "a text value",
                        found: type_name(&other),
                    },
                }
            } else {
                let checked = match value {
                    Some(TypedValue::Number(v)) => check_numeric(feature.kind, v),
                    Some(TypedValue::OutOfRange(_)) => Err(Problem::NotFinite),
                    Some(TypedValue::Text(text)) => parse_numeric(feature.kind, text),
                    None | Some(TypedValue::Other("null")) => Err(Problem::Missing),
                    Some(other) => Err(Problem::WrongType {
                        expected: "a number",
                        found: type_name(&other),
                    }),
                };
                match checked {
                    Ok(v) => {
                        numeric.push(v);
                        continue;
                    }
                    Err(problem) => problem,
                }
            };
            valid = false;
            bad.bad(&feature.name, problem, shown);
        }
        valid.then_some(Record {
            numeric,
            categorical,
        })
    }
}

fn type_name(value: &TypedValue<'_>) -> &'static str {
    match value {
        TypedValue::Number(_) | TypedValue::OutOfRange(_) => "a number",
        TypedValue::Text(_) => "text",
        TypedValue::Other(name) => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00";

    fn parse(line: &str) -> Result<Record, Vec<FieldError>> {
        let fields: Vec<&str> = line.split(',').collect();
        let mut errors = Vec::new();
        Record::from_text(&Schema::nsl_kdd(), |i| fields[i], &mut errors).ok_or(errors)
    }

    #[test]
    fn parses_a_good_row() {
        let r = parse(GOOD).unwrap();
        assert_eq!(r.categorical, ["tcp", "ftp_data", "SF"].map(String::from));
        assert_eq!(r.numeric[1], 491.0);
        assert_eq!(r.numeric[r.numeric.len() - 2], 0.05);
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
            .map(|e| (e.field.as_str(), e.problem.clone()))
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
    fn typed_values_report_every_bad_field_by_name() {
        let fields: Vec<&str> = GOOD.split(',').collect();
        let schema = Schema::nsl_kdd();
        let features = schema.declared();
        let typed = |i: usize| match features[i].kind {
            Kind::Categorical => TypedValue::Text(fields[i]),
            _ => TypedValue::Number(fields[i].parse().unwrap()),
        };
        let mut none = Vec::new();
        let good = Record::from_typed(&schema, |i| Some(typed(i)), &mut none).unwrap();
        assert!(none.is_empty());
        assert_eq!(good, parse(GOOD).unwrap());
        let mut bad = Vec::new();
        let record = Record::from_typed(
            &schema,
            |i| match features[i].name.as_str() {
                "duration" => None,
                "service" => Some(TypedValue::Number(3.0)),
                "srcbytes" => Some(TypedValue::Number(-1.0)),
                "dstbytes" => Some(TypedValue::Text("12")),
                "land" => Some(TypedValue::Other("a boolean")),
                "hot" => Some(TypedValue::Text("NaN")),
                "serrorrate" => Some(TypedValue::Number(1.5)),
                "count" => Some(TypedValue::OutOfRange("1e400")),
                _ => Some(typed(i)),
            },
            &mut bad,
        );
        assert_eq!(record, None);
        let got: Vec<_> = bad
            .iter()
            .map(|e| (e.field.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("duration", ""),
                ("service", "3"),
                ("srcbytes", "-1"),
                ("land", "a boolean"),
                ("hot", "NaN"),
                ("count", "1e400"),
                ("serrorrate", "1.5"),
            ]
        );
        assert_eq!(bad[5].problem, Problem::NotFinite);
        assert_eq!(bad[0].problem, Problem::Missing);
        assert_eq!(bad[4].problem, Problem::NotFinite);
        assert_eq!(
            bad[1].to_string(),
            "column `service`, value `3`: expected a text value, found a number"
        );
    }

    #[test]
    fn plain_decimals_read_exactly_as_the_general_parser_reads_them() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut texts: Vec<String> = [
            "0",
            "-0",
            "0.00",
            "-0.0",
            "491",
            "0.05",
            "1.00",
            "999999999999999",
            "0.1",
            "0.000000000000001",
            "123456789012345",
            "1234567890123456",
            "9007199254740993",
            "5.",
            ".5",
            "1e3",
            "+5",
            "00012",
            "1..2",
            "-",
            "",
            "0x10",
            "1,5",
        ]
        .map(String::from)
        .to_vec();
        for _ in 0..20_000 {
            let digits = 1 + (next() % 17) as usize;
            let mut text: String = (0..digits)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect();
            if next() % 2 == 0 {
                text.insert((next() % (digits as u64 + 1)) as usize, '.');
            }
            if next() % 4 == 0 {
                text.insert(0, '-');
            }
            texts.push(text);
        }
        let mut fast = 0;
        for text in &texts {
            let general = text.parse::<f64>().ok();
            if let Some(value) = plain_decimal(text.as_bytes()) {
                fast += 1;
                assert_eq!(Some(value.to_bits()), general.map(f64::to_bits), "{text}");
            }
        }
        assert!(fast > texts.len() / 2, "{fast} of {}", texts.len());
    }

    #[test]
    fn errors_show_long_values_shortened() {
        let long = "é".repeat(SHOWN_CHARS + 1);
        let shortened = shown(&long);
        assert_eq!(shortened.chars().count(), SHOWN_CHARS + 1);
        assert!(shortened.ends_with("é…"));
        let exact = "x".repeat(SHOWN_CHARS);
        assert_eq!(shown(&exact), exact);
        let fields: Vec<String> = GOOD.split(',').map(String::from).collect();
        let mut bad = Vec::new();
        let record = Record::from_text(
            &Schema::nsl_kdd(),
            |i| if i == 4 { &long } else { &fields[i] },
            &mut bad,
        );
        assert_eq!(record, None);
        assert_eq!(bad[0].value, shortened);
    }

    #[test]
    fn trimming_matches_str_trim() {
        for text in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\ta b\r",
            "\u{a0}x\u{a0}",
            "x\u{3000}",
            "é",
            " é ",
        ] {
            assert_eq!(trim(text), text.trim(), "{text:?}");
        }
    }

    #[test]
    fn rejects_nan_infinity_and_missing() {
        assert_eq!(parse_numeric(Kind::Count, "NaN"), Err(Problem::NotFinite));
        assert_eq!(parse_numeric(Kind::Rate, "inf"), Err(Problem::NotFinite));
        assert_eq!(parse_numeric(Kind::Count, " "), Err(Problem::Missing));
        assert_eq!(parse_numeric(Kind::Rate, "1"), Ok(1.0));
    }
}
