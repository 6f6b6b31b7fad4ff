//! Bad records, reported within bounds: the first ones in full, every one counted.
//!
//! A body or file may hold millions of bad records: a 16 MiB body of `{}` lines is 5.6 million
//! records, each missing every feature. Listing each bad field of each record made a 376 MB
//! answer out of 300 KB of `{}` lines, and held gigabytes while it was built (issue 18, F1).
//! [`Rejects`] lists the first bad records whole (every bad field of each, with the record's
//! index and line) until [`LISTED_PROBLEMS`] problems are listed, and counts every bad record
//! by field and kind of problem, in memory that does not grow with the number of bad records:
//! past the listing, a record's problems are counted and nothing of them is built.
//!
//! One collector for every reader: the server's answers (`errors` and `error_counts`),
//! [`crate::Dataset::skipped`] (the `nadir` command's messages, the exploration's invalid
//! values per column) and anything else that reads records and must say which were bad.

use crate::reader::{InvalidRow, RowProblem};
use crate::record::{BadFields, FieldError, Problem};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use std::fmt;

/// How many problems [`Rejects::default`] lists: enough to show what is wrong with a body or
/// file, few enough that an answer listing them stays small (some tens of kilobytes at most).
pub const LISTED_PROBLEMS: usize = 100;

/// The kinds of problem a record can have, as counts group them: one per [`Problem`] (a bad
/// value), then one per way a record is unusable as a whole ([`RowProblem`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Missing,
    NotANumber,
    NotFinite,
    Negative,
    RateOutOfRange,
    WrongType,
    Duplicate,
    NotBinary,
    LabelDisagrees,
    WrongLength,
    /// A row with the wrong number of columns.
    FieldCount,
    /// A JSON record that is not an object.
    NotAnObject,
    /// A row that is not well-formed CSV (invalid UTF-8).
    Malformed,
}

const KINDS: usize = ErrorKind::ALL.len();

impl ErrorKind {
    pub const ALL: [ErrorKind; 13] = [
        ErrorKind::Missing,
        ErrorKind::NotANumber,
        ErrorKind::NotFinite,
        ErrorKind::Negative,
        ErrorKind::RateOutOfRange,
        ErrorKind::WrongType,
        ErrorKind::Duplicate,
        ErrorKind::NotBinary,
        ErrorKind::LabelDisagrees,
        ErrorKind::WrongLength,
        ErrorKind::FieldCount,
        ErrorKind::NotAnObject,
        ErrorKind::Malformed,
    ];

    /// The kind's name in answers and messages.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Missing => "missing",
            ErrorKind::NotANumber => "not_a_number",
            ErrorKind::NotFinite => "not_finite",
            ErrorKind::Negative => "negative",
            ErrorKind::RateOutOfRange => "rate_out_of_range",
            ErrorKind::WrongType => "wrong_type",
            ErrorKind::Duplicate => "duplicate",
            ErrorKind::NotBinary => "not_binary",
            ErrorKind::LabelDisagrees => "label_disagrees",
            ErrorKind::WrongLength => "wrong_length",
            ErrorKind::FieldCount => "field_count",
            ErrorKind::NotAnObject => "not_an_object",
            ErrorKind::Malformed => "malformed",
        }
    }

    /// Whether the kind is about a record as a whole rather than one of its values.
    pub fn whole_record(self) -> bool {
        matches!(
            self,
            ErrorKind::FieldCount | ErrorKind::NotAnObject | ErrorKind::Malformed
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for ErrorKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// The bad records of one body or file: the first ones listed whole, all of them counted.
///
/// Records are listed in the order of their index, whole, while the problems listed stay
/// within the limit ([`Rejects::new`]); the first bad record is always listed, however many
/// problems it has (one per field of the schema at most, and one per field given twice). Once
/// a record does not fit, none after it is listed: the list is always the first bad records.
#[derive(Debug, Clone)]
pub struct Rejects {
    limit: usize,
    listed: Vec<InvalidRow>,
    listed_problems: usize,
    /// A bad record was left out of `listed`; every record left out comes after every listed one.
    closed: bool,
    records: usize,
    problems: usize,
    kinds: [usize; KINDS],
    /// Per field, in the order first met, its problems by [`ErrorKind`]. Fields are the
    /// schema's (features and label columns), so this holds a few dozen entries at most.
    fields: Vec<(String, [usize; KINDS])>,
    /// The entry of `fields` counted last: records report their fields in the same order,
    /// so the next problem is nearly always the next entry's.
    last_field: usize,
}

impl Default for Rejects {
    /// Lists [`LISTED_PROBLEMS`] problems.
    fn default() -> Rejects {
        Rejects::new(LISTED_PROBLEMS)
    }
}

/// Equal when they list the same records and hold the same counts.
impl PartialEq for Rejects {
    fn eq(&self, other: &Rejects) -> bool {
        let fields = |r: &Rejects| {
            let mut fields = r.fields.clone();
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            fields
        };
        (self.limit, &self.listed, self.closed, self.records)
            == (other.limit, &other.listed, other.closed, other.records)
            && (self.problems, self.kinds) == (other.problems, other.kinds)
            && fields(self) == fields(other)
    }
}

impl Rejects {
    /// Lists the first bad records while at most `limit` problems are listed.
    pub fn new(limit: usize) -> Rejects {
        Rejects {
            limit,
            listed: Vec::new(),
            listed_problems: 0,
            closed: false,
            records: 0,
            problems: 0,
            kinds: [0; KINDS],
            fields: Vec::new(),
            last_field: 0,
        }
    }

    /// Starts checking the record at `index` (0-based, among the records read, valid or not)
    /// on `line` (1-based, where known): its bad values go to the [`RecordCheck`], which
    /// counts the record as bad, if any was, when it is dropped.
    pub fn check(&mut self, index: usize, line: Option<u64>) -> RecordCheck<'_> {
        RecordCheck {
            rejects: self,
            index,
            line,
            problems: 0,
            listing: false,
        }
    }

    /// Adds a bad record: unusable as a whole, or with its bad values already known (a
    /// [`RowProblem::Fields`] without any adds nothing).
    pub fn reject(&mut self, index: usize, line: Option<u64>, problem: RowProblem) {
        match problem {
            RowProblem::Fields(errors) => {
                let mut check = self.check(index, line);
                for FieldError {
                    field,
                    value,
                    problem,
                } in errors
                {
                    check.bad(&field, problem, || value);
                }
            }
            whole => {
                self.count(None, whole.kind().expect("a problem of the whole row"));
                self.records += 1;
                if !self.closed {
                    self.listed.push(InvalidRow {
                        index,
                        line,
                        problem: whole,
                    });
                    self.admit_last(1);
                }
            }
        }
    }

    /// Bad records, listed or not.
    pub fn len(&self) -> usize {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Problems of all the bad records: bad values, and records unusable as a whole.
    pub fn problems(&self) -> usize {
        self.problems
    }

    /// The first bad records, each with every one of its problems, in index order.
    pub fn listed(&self) -> &[InvalidRow] {
        &self.listed
    }

    /// Bad records not listed.
    pub fn unlisted(&self) -> usize {
        self.records - self.listed.len()
    }

    /// Problems of the bad records not listed.
    pub fn unlisted_problems(&self) -> usize {
        self.problems - self.listed_problems
    }

    /// The first bad record, whole (the one a read that stops at the first reports).
    pub fn into_first(self) -> Option<InvalidRow> {
        self.listed.into_iter().next()
    }

    /// Problems of `kind` among all the bad records.
    pub fn count_of(&self, kind: ErrorKind) -> usize {
        self.kinds[kind as usize]
    }

    /// Per kind, the problems of all the bad records (kinds without any left out).
    pub fn by_kind(&self) -> impl Iterator<Item = (ErrorKind, usize)> + '_ {
        ErrorKind::ALL
            .into_iter()
            .map(|kind| (kind, self.count_of(kind)))
            .filter(|(_, n)| *n > 0)
    }

    /// Per field, the problems of its values among all the bad records, in the order the
    /// fields were first met.
    pub fn by_field(&self) -> impl Iterator<Item = (&str, usize)> + '_ {
        self.fields
            .iter()
            .map(|(field, counts)| (field.as_str(), counts.iter().sum()))
    }

    /// Per field and kind, the problems of its values among all the bad records (pairs
    /// without any left out).
    pub fn by_field_and_kind(&self) -> impl Iterator<Item = (&str, ErrorKind, usize)> + '_ {
        self.fields.iter().flat_map(|(field, counts)| {
            ErrorKind::ALL
                .into_iter()
                .zip(counts)
                .filter(|(_, n)| **n > 0)
                .map(move |(kind, n)| (field.as_str(), kind, *n))
        })
    }

    /// The listed records' problems, one entry per bad value or record unusable as a whole:
    /// the `errors` of the server's answers.
    pub fn errors(&self) -> impl Iterator<Item = RecordError> + '_ {
        self.listed.iter().flat_map(InvalidRow::errors)
    }

    /// The counts, as the server's answers write them (`error_counts`).
    pub fn counts(&self) -> ErrorCounts<'_> {
        ErrorCounts(self)
    }

    /// Moves every listed record to the index and line `place` gives (it must keep their
    /// order): for records read as a piece of a larger text, or numbered by line afterwards.
    pub fn relocate(&mut self, place: impl Fn(usize, Option<u64>) -> (usize, Option<u64>)) {
        for row in &mut self.listed {
            (row.index, row.line) = place(row.index, row.line);
        }
    }

    /// Adds the bad records of `other`, read from the same text or file (indices counted
    /// alike, none in both). The listing stays the first bad records of the two together:
    /// the listed records of both in index order, up to the first a side left out may
    /// precede, while they fit within the limit.
    pub fn merge(&mut self, other: Rejects) {
        self.records += other.records;
        self.problems += other.problems;
        for (total, n) in self.kinds.iter_mut().zip(other.kinds) {
            *total += n;
        }
        for (field, counts) in &other.fields {
            let at = self.field_slot(field);
            for (total, n) in self.fields[at].1.iter_mut().zip(counts) {
                *total += n;
            }
        }
        // A side that left records out lists none beyond its last listed one; they may come
        // before anything the other side lists after that.
        let bound = [&*self, &other]
            .into_iter()
            .filter(|side| side.closed)
            .filter_map(|side| side.listed.last().map(|row| row.index))
            .min();
        let mut closed = self.closed || other.closed;
        let mut rows = std::mem::take(&mut self.listed);
        rows.extend(other.listed);
        rows.sort_by_key(|row| row.index);
        if let Some(bound) = bound {
            rows.retain(|row| row.index <= bound);
        }
        self.listed_problems = 0;
        self.closed = false;
        for row in rows {
            if self.closed {
                closed = true;
                break;
            }
            let problems = row.problem.problems();
            self.listed.push(row);
            self.admit_last(problems);
        }
        self.closed |= closed;
    }

    /// Counts one problem of `kind`, of `field`'s value or (`None`) of a record as a whole.
    fn count(&mut self, field: Option<&str>, kind: ErrorKind) {
        self.problems += 1;
        self.kinds[kind as usize] += 1;
        if let Some(field) = field {
            let at = self.field_slot(field);
            self.fields[at].1[kind as usize] += 1;
        }
    }

    /// The entry of `fields` for `field`, added if new.
    fn field_slot(&mut self, field: &str) -> usize {
        let next = if self.last_field + 1 < self.fields.len() {
            self.last_field + 1
        } else {
            0
        };
        let at = if self.fields.get(next).is_some_and(|(f, _)| f == field) {
            next
        } else if let Some(at) = self.fields.iter().position(|(f, _)| f == field) {
            at
        } else {
            self.fields.push((field.to_string(), [0; KINDS]));
            self.fields.len() - 1
        };
        self.last_field = at;
        at
    }

    /// Keeps the record just listed, of `problems` problems, if it is the first or fits
    /// within the limit, and closes the listing if it did not fit or the limit is reached.
    fn admit_last(&mut self, problems: usize) {
        if self.listed.len() > 1 && self.listed_problems + problems > self.limit {
            self.listed.pop();
            self.closed = true;
            return;
        }
        self.listed_problems += problems;
        if self.listed_problems >= self.limit {
            self.closed = true;
        }
    }
}

/// The check of one record's values ([`Rejects::check`]): a [`BadFields`] that lists the
/// record's problems while the listing is open and counts them always; the record is counted
/// as bad, if it is, when the check is dropped.
pub struct RecordCheck<'r> {
    rejects: &'r mut Rejects,
    index: usize,
    line: Option<u64>,
    problems: usize,
    /// The record is being listed: it is the last of `rejects.listed`.
    listing: bool,
}

impl RecordCheck<'_> {
    /// Whether a bad value has been reported.
    pub fn rejected(&self) -> bool {
        self.problems > 0
    }
}

impl BadFields for RecordCheck<'_> {
    fn bad(&mut self, field: &str, problem: Problem, value: impl FnOnce() -> String) {
        self.rejects.count(Some(field), problem.kind());
        if self.problems == 0 && !self.rejects.closed {
            self.rejects.listed.push(InvalidRow {
                index: self.index,
                line: self.line,
                problem: RowProblem::Fields(Vec::new()),
            });
            self.listing = true;
        }
        self.problems += 1;
        if self.listing
            && let Some(InvalidRow {
                problem: RowProblem::Fields(errors),
                ..
            }) = self.rejects.listed.last_mut()
        {
            errors.push(FieldError {
                field: field.to_string(),
                value: value(),
                problem,
            });
        }
    }
}

impl Drop for RecordCheck<'_> {
    fn drop(&mut self) {
        if self.problems == 0 {
            return;
        }
        self.rejects.records += 1;
        if self.listing {
            self.rejects.admit_last(self.problems);
        }
    }
}

/// One problem of a listed record as the server's answers write it: which record (0-based),
/// on which line (CSV and NDJSON; JSON arrays read as a data file), which field, the value
/// given and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordError {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Absent when the record as a whole is wrong (not an object, wrong column count).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub message: String,
}

impl InvalidRow {
    /// The row's problems as [`RecordError`]s: one per bad value, or one for the whole row.
    pub fn errors(&self) -> Vec<RecordError> {
        let (index, line) = (self.index, self.line);
        match &self.problem {
            RowProblem::Fields(errors) => errors
                .iter()
                .map(|e| RecordError {
                    index,
                    line,
                    field: Some(e.field.clone()),
                    value: Some(e.value.clone()),
                    message: e.problem.to_string(),
                })
                .collect(),
            whole => vec![RecordError {
                index,
                line,
                field: None,
                value: None,
                message: whole.to_string(),
            }],
        }
    }
}

/// [`Rejects`]' counts as the server writes them: bad records and problems in all, those not
/// listed, and the problems per field and per kind.
pub struct ErrorCounts<'a>(&'a Rejects);

impl Serialize for ErrorCounts<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// Pairs written as a JSON object.
        struct Pairs<K>(Vec<(K, usize)>);
        impl<K: Serialize> Serialize for Pairs<K> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_map(self.0.iter().map(|(key, n)| (key, n)))
            }
        }
        let rejects = self.0;
        let mut map = serializer.serialize_map(Some(6))?;
        map.serialize_entry("records", &rejects.len())?;
        map.serialize_entry("problems", &rejects.problems())?;
        map.serialize_entry("unlisted_records", &rejects.unlisted())?;
        map.serialize_entry("unlisted_problems", &rejects.unlisted_problems())?;
        map.serialize_entry("by_field", &Pairs(rejects.by_field().collect()))?;
        map.serialize_entry("by_problem", &Pairs(rejects.by_kind().collect()))?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing(field: &str) -> FieldError {
        FieldError {
            field: field.to_string(),
            value: String::new(),
            problem: Problem::Missing,
        }
    }

    /// A record at `index` with one missing value per field of `fields`.
    fn reject_fields(rejects: &mut Rejects, index: usize, fields: &[&str]) {
        let mut check = rejects.check(index, Some(index as u64 + 1));
        for field in fields {
            check.bad(field, Problem::Missing, String::new);
        }
    }

    #[test]
    fn lists_whole_records_within_the_limit_and_counts_every_one() {
        let mut rejects = Rejects::new(10);
        let fields = ["a", "b", "c", "d"];
        for index in 0..1000 {
            reject_fields(&mut rejects, index, &fields);
        }
        // Two records of four fit in ten; the third would not.
        assert_eq!(rejects.len(), 1000);
        assert_eq!(rejects.problems(), 4000);
        let listed: Vec<usize> = rejects.listed().iter().map(|r| r.index).collect();
        assert_eq!(listed, [0, 1]);
        assert!(rejects.listed().iter().all(|r| r.problem.problems() == 4));
        assert_eq!(rejects.errors().count(), 8);
        assert_eq!(
            (rejects.unlisted(), rejects.unlisted_problems()),
            (998, 3992)
        );
        assert_eq!(
            rejects.by_field().collect::<Vec<_>>(),
            fields.map(|f| (f, 1000))
        );
        assert_eq!(
            rejects.by_kind().collect::<Vec<_>>(),
            [(ErrorKind::Missing, 4000)]
        );
    }

    #[test]
    fn the_first_record_is_listed_whole_however_many_problems_it_has() {
        let mut rejects = Rejects::new(3);
        reject_fields(&mut rejects, 0, &["a", "b", "c", "d", "e"]);
        reject_fields(&mut rejects, 1, &["a"]);
        assert_eq!(rejects.listed().len(), 1);
        assert_eq!(rejects.listed()[0].problem.problems(), 5);
        assert_eq!(rejects.len(), 2);
        assert_eq!(
            rejects.clone().into_first(),
            Some(rejects.listed()[0].clone())
        );
    }

    #[test]
    fn a_record_that_does_not_fit_ends_the_listing() {
        let mut rejects = Rejects::new(10);
        reject_fields(&mut rejects, 0, &["a"; 6]);
        reject_fields(&mut rejects, 1, &["b"; 6]);
        // Small enough to fit, but after one that did not: the list stays a prefix.
        reject_fields(&mut rejects, 2, &["c"]);
        let whole = RowProblem::FieldCount {
            expected: 3,
            found: 1,
        };
        rejects.reject(3, Some(4), whole);
        assert_eq!(rejects.listed().len(), 1);
        assert_eq!(rejects.len(), 4);
        assert_eq!(rejects.count_of(ErrorKind::FieldCount), 1);
        assert_eq!(rejects.problems(), 14);
    }

    #[test]
    fn records_without_problems_are_not_counted() {
        let mut rejects = Rejects::default();
        drop(rejects.check(0, None));
        rejects.reject(1, None, RowProblem::Fields(Vec::new()));
        assert!(rejects.is_empty());
        let check = rejects.check(2, None);
        assert!(!check.rejected());
    }

    #[test]
    fn values_are_built_only_for_listed_records() {
        let mut rejects = Rejects::new(2);
        let mut built = 0;
        for index in 0..100 {
            let mut check = rejects.check(index, None);
            check.bad("a", Problem::Negative, || {
                built += 1;
                "-1".to_string()
            });
        }
        assert_eq!(built, 2);
        assert_eq!(rejects.count_of(ErrorKind::Negative), 100);
    }

    /// Rejects of `indices` (one problem each, on field `field`), listing at most `limit`.
    fn of(indices: &[usize], field: &str, limit: usize) -> Rejects {
        let mut rejects = Rejects::new(limit);
        for &index in indices {
            rejects.reject(index, None, RowProblem::Fields(vec![missing(field)]));
        }
        rejects
    }

    #[test]
    fn merging_keeps_the_first_records_of_both() {
        // Read in one pass, the records 0..20 list 0..5; read in two interleaved sets and
        // merged, the same.
        let one = of(&(0..20).collect::<Vec<_>>(), "a", 5);
        let mut evens = of(&[0, 2, 4, 6, 8, 10, 12, 14, 16, 18], "a", 5);
        evens.merge(of(&[1, 3, 5, 7, 9, 11, 13, 15, 17, 19], "a", 5));
        assert_eq!(evens, one);
        // A side that left records out bounds what the other may list: after 2, the odd side
        // lists nothing, since its unlisted records might precede.
        let mut evens = of(&[0, 2, 4, 6, 8], "a", 100);
        evens.merge(of(&[1, 3, 5, 7, 9], "a", 2));
        let listed: Vec<usize> = evens.listed().iter().map(|r| r.index).collect();
        assert_eq!(listed, [0, 1, 2, 3]);
        assert_eq!((evens.len(), evens.unlisted()), (10, 6));
        // Pieces read one after the other, the later ones relocated.
        let mut first = of(&[0, 1], "a", 3);
        let mut second = of(&[0, 1, 2], "b", 3);
        second.relocate(|index, line| (index + 10, line));
        first.merge(second);
        let listed: Vec<usize> = first.listed().iter().map(|r| r.index).collect();
        assert_eq!(listed, [0, 1, 10]);
        assert_eq!(first.by_field().collect::<Vec<_>>(), [("a", 2), ("b", 3)]);
    }

    #[test]
    fn counts_serialise_as_the_server_writes_them() {
        let mut rejects = Rejects::new(1);
        reject_fields(&mut rejects, 0, &["duration"]);
        reject_fields(&mut rejects, 1, &["duration", "service"]);
        rejects.reject(2, Some(3), RowProblem::Syntax("bad".into()));
        assert_eq!(
            serde_json::to_value(rejects.counts()).unwrap(),
            serde_json::json!({
                "records": 3, "problems": 4, "unlisted_records": 2, "unlisted_problems": 3,
                "by_field": {"duration": 2, "service": 1},
                "by_problem": {"missing": 3, "malformed": 1},
            })
        );
        assert_eq!(
            serde_json::to_value(rejects.errors().collect::<Vec<_>>()).unwrap(),
            serde_json::json!([{"index": 0, "line": 1, "field": "duration", "value": "",
                "message": "value is missing"}])
        );
    }
}
