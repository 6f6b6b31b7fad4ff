//! The fitted feature pipeline: category vocabularies learnt from training data, and the
//! encoded form every model consumes.
//!
//! Categories are kept as integer codes ([`Encoded::codes`]) rather than expanded here, so
//! tree models can split on `service == http` directly (one histogram per categorical
//! column instead of seventy), while linear models and the MLP ask for the one-hot row.
//! Both views encode an unseen category the same way: it matches no known value, which is
//! the all-zeros one-hot row.

use crate::record::Record;
use crate::schema::{Kind, Schema};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// The code of a category value not seen in training.
pub const UNSEEN: u32 = u32::MAX;

/// The schema and the category vocabularies fitted on training records. Saved inside every
/// model file, so that a model reads and checks new records as it read its training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeaturePipeline {
    schema: Arc<Schema>,
    /// For each categorical feature, its known values; a value's code is its position.
    vocabularies: Vec<Vec<String>>,
}

/// A category value the pipeline has never seen, met while encoding.
///
/// Its [`Display`](fmt::Display) is the warning every front end gives for it (the CLI's
/// `warning` column, the HTTP API's `warnings`, the web page):
/// ``service value `gopher_v2` was not seen in training (encoded as none of the known values)``.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnseenCategory {
    /// Row within the encoded batch.
    pub row: usize,
    pub feature: String,
    pub value: String,
}

impl fmt::Display for UnseenCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} value `{}` was not seen in training (encoded as none of the known values)",
            self.feature, self.value
        )
    }
}

/// How many rows of a file held category values never seen in training: the summary line
/// every front end gives after [`UnseenCategory`]'s per-record warnings, e.g.
/// `3 row(s) hold category values not seen in training (encoded as none of the known values)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnseenRows(pub usize);

impl fmt::Display for UnseenRows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} row(s) hold category values not seen in training (encoded as none of the known values)",
            self.0
        )
    }
}

/// Rows of equal width stored end to end: one allocation per batch rather than one per row,
/// and rows that sit next to each other in memory for the models that walk them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows<T> {
    values: Vec<T>,
    width: usize,
    len: usize,
}

impl<T: Copy> Rows<T> {
    pub fn new(width: usize) -> Rows<T> {
        Rows {
            values: Vec::new(),
            width,
            len: 0,
        }
    }

    pub fn with_capacity(width: usize, rows: usize) -> Rows<T> {
        Rows {
            values: Vec::with_capacity(width * rows),
            width,
            len: 0,
        }
    }

    /// Values per row.
    pub fn width(&self) -> usize {
        self.width
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a row of exactly [`Rows::width`] values.
    pub fn push(&mut self, row: &[T]) {
        assert_eq!(row.len(), self.width, "a row of the wrong width");
        self.values.extend_from_slice(row);
        self.len += 1;
    }

    pub fn iter(&self) -> RowsIter<'_, T> {
        RowsIter {
            values: &self.values,
            width: self.width,
            remaining: self.len,
        }
    }
}

/// The rows of [`Rows`] in order. Slices the values as it goes rather than indexing row by
/// row: a column pass over every row (binning, scaling) is a third of the time.
#[derive(Debug, Clone)]
pub struct RowsIter<'a, T> {
    values: &'a [T],
    width: usize,
    remaining: usize,
}

impl<'a, T> Iterator for RowsIter<'a, T> {
    type Item = &'a [T];

    fn next(&mut self) -> Option<&'a [T]> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let (row, rest) = self.values.split_at(self.width);
        self.values = rest;
        Some(row)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<T> ExactSizeIterator for RowsIter<'_, T> {}

impl<T> std::ops::Index<usize> for Rows<T> {
    type Output = [T];

    fn index(&self, row: usize) -> &[T] {
        &self.values[row * self.width..(row + 1) * self.width]
    }
}

impl<T> std::ops::IndexMut<usize> for Rows<T> {
    fn index_mut(&mut self, row: usize) -> &mut [T] {
        &mut self.values[row * self.width..(row + 1) * self.width]
    }
}

/// Records in model-ready form.
#[derive(Debug, Clone, Default)]
pub struct Encoded {
    /// Numeric features per row, in [`Schema::numeric`] order.
    pub numeric: Rows<f64>,
    /// Category codes per row ([`UNSEEN`] for values not in the vocabulary).
    pub codes: Rows<u32>,
    /// The kind of each numeric feature: the scaled models take the logarithm of counts.
    pub numeric_kinds: Vec<Kind>,
    /// Vocabulary size of each categorical feature.
    pub cardinalities: Vec<usize>,
    /// Every unseen category value met, in row order.
    pub unseen: Vec<UnseenCategory>,
}

impl FeaturePipeline {
    /// Learns the vocabularies. Values are ordered by falling frequency, ties by name, so the
    /// codes are deterministic and the commonest values get the smallest codes.
    pub fn fit(schema: &Arc<Schema>, records: &[Record]) -> FeaturePipeline {
        let vocabularies = (0..schema.num_categorical())
            .map(|c| {
                let mut counts: HashMap<&str, usize> = HashMap::new();
                for r in records {
                    *counts.entry(r.categorical[c].as_str()).or_default() += 1;
                }
                let mut values: Vec<(&str, usize)> = counts.into_iter().collect();
                values.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                values.into_iter().map(|(v, _)| v.to_string()).collect()
            })
            .collect();
        FeaturePipeline {
            schema: schema.clone(),
            vocabularies,
        }
    }

    /// The schema records must follow.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// Whether the pipeline is whole: one vocabulary per categorical feature of its schema,
    /// with no value twice (a model file could be damaged).
    pub fn is_consistent(&self) -> bool {
        self.vocabularies.len() == self.schema.num_categorical()
            && self.vocabularies.iter().all(|v| {
                let mut sorted: Vec<&String> = v.iter().collect();
                sorted.sort();
                sorted.windows(2).all(|w| w[0] != w[1])
            })
    }

    pub fn vocabulary(&self, feature: usize) -> &[String] {
        &self.vocabularies[feature]
    }

    pub fn cardinalities(&self) -> Vec<usize> {
        self.vocabularies.iter().map(Vec::len).collect()
    }

    /// Width of the one-hot row: numeric features, then one column per known category value.
    pub fn one_hot_width(&self) -> usize {
        self.schema.num_numeric() + self.vocabularies.iter().map(Vec::len).sum::<usize>()
    }

    /// Column names of the one-hot row, e.g. `srcbytes`, `service=http`.
    pub fn one_hot_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .schema
            .numeric_names()
            .into_iter()
            .map(String::from)
            .collect();
        for (feature, vocabulary) in self.schema.categorical().zip(&self.vocabularies) {
            names.extend(vocabulary.iter().map(|v| format!("{}={v}", feature.name)));
        }
        names
    }

    /// Encodes records of this pipeline's schema (as read against it: one value per feature).
    pub fn encode(&self, records: &[Record]) -> Encoded {
        let n_categorical = self.schema.num_categorical();
        // An index pays for itself on a batch; a few records (a server's single request) are
        // faster looked up in place, the vocabularies being short and sorted by frequency.
        let index: Option<Vec<HashMap<&str, u32>>> = (records.len() > 64).then(|| {
            self.vocabularies
                .iter()
                .map(|vocabulary| {
                    vocabulary
                        .iter()
                        .enumerate()
                        .map(|(code, v)| (v.as_str(), code as u32))
                        .collect()
                })
                .collect()
        });
        let code_of = |c: usize, value: &str| match &index {
            Some(index) => index[c].get(value).copied(),
            None => self.vocabularies[c]
                .iter()
                .position(|v| v == value)
                .map(|code| code as u32),
        };
        let mut unseen = Vec::new();
        let mut codes = Rows::with_capacity(n_categorical, records.len());
        let mut numeric = Rows::with_capacity(self.schema.num_numeric(), records.len());
        let mut row_codes = vec![UNSEEN; n_categorical];
        for (row, r) in records.iter().enumerate() {
            for (c, (code, feature)) in row_codes
                .iter_mut()
                .zip(self.schema.categorical())
                .enumerate()
            {
                *code = code_of(c, r.categorical[c].as_str()).unwrap_or_else(|| {
                    unseen.push(UnseenCategory {
                        row,
                        feature: feature.name.clone(),
                        value: r.categorical[c].clone(),
                    });
                    UNSEEN
                });
            }
            codes.push(&row_codes);
            numeric.push(&r.numeric);
        }
        Encoded {
            numeric,
            codes,
            numeric_kinds: self.schema.numeric().map(|f| f.kind).collect(),
            cardinalities: self.cardinalities(),
            unseen,
        }
    }
}

impl Encoded {
    pub fn len(&self) -> usize {
        self.numeric.len()
    }

    pub fn is_empty(&self) -> bool {
        self.numeric.is_empty()
    }

    /// Numeric features per row.
    pub fn num_numeric(&self) -> usize {
        self.numeric.width()
    }

    /// Categorical features per row.
    pub fn num_categorical(&self) -> usize {
        self.codes.width()
    }

    pub fn one_hot_width(&self) -> usize {
        self.num_numeric() + self.cardinalities.iter().sum::<usize>()
    }

    /// Writes row `i` one-hot encoded into `out` (length [`Self::one_hot_width`]).
    pub fn one_hot_row(&self, i: usize, out: &mut [f64]) {
        let n = self.num_numeric();
        out[..n].copy_from_slice(&self.numeric[i]);
        out[n..].fill(0.0);
        let mut offset = n;
        for (&cardinality, &code) in self.cardinalities.iter().zip(&self.codes[i]) {
            if code != UNSEEN {
                out[offset + code as usize] = 1.0;
            }
            offset += cardinality;
        }
    }

    /// The rows at `indices`, in that order (unseen-category notes are not carried over).
    pub fn select(&self, indices: &[usize]) -> Encoded {
        let mut numeric = Rows::with_capacity(self.num_numeric(), indices.len());
        let mut codes = Rows::with_capacity(self.num_categorical(), indices.len());
        for &i in indices {
            numeric.push(&self.numeric[i]);
            codes.push(&self.codes[i]);
        }
        Encoded {
            numeric,
            codes,
            numeric_kinds: self.numeric_kinds.clone(),
            cardinalities: self.cardinalities.clone(),
            unseen: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NUM_NUMERIC: usize = 38;

    fn record(protocol: &str, service: &str, flag: &str, bytes: f64) -> Record {
        let mut numeric = vec![0.0; NUM_NUMERIC];
        numeric[1] = bytes;
        Record {
            numeric,
            categorical: [protocol, service, flag].map(String::from).to_vec(),
        }
    }

    fn fit(records: &[Record]) -> FeaturePipeline {
        FeaturePipeline::fit(&Schema::nsl_kdd(), records)
    }

    #[test]
    fn vocabulary_is_ordered_by_frequency_then_name() {
        let pipeline = fit(&[
            record("udp", "dns", "SF", 1.0),
            record("tcp", "http", "SF", 2.0),
            record("tcp", "ftp", "S0", 3.0),
        ]);
        assert_eq!(pipeline.vocabulary(0), ["tcp", "udp"]);
        assert_eq!(pipeline.vocabulary(1), ["dns", "ftp", "http"]);
        assert_eq!(pipeline.one_hot_width(), NUM_NUMERIC + 2 + 3 + 2);
    }

    #[test]
    fn one_hot_sets_one_column_per_known_category() {
        let pipeline = fit(&[
            record("tcp", "http", "SF", 1.0),
            record("udp", "dns", "S0", 2.0),
        ]);
        let encoded = pipeline.encode(&[record("udp", "http", "S0", 7.0)]);
        let mut row = vec![f64::NAN; encoded.one_hot_width()];
        encoded.one_hot_row(0, &mut row);
        assert_eq!(row[1], 7.0);
        // tcp, udp | dns, http | S0, SF (ties broken by name)
        assert_eq!(&row[NUM_NUMERIC..], &[0.0, 1.0, 0.0, 1.0, 1.0, 0.0]);
    }

    #[test]
    fn unseen_category_encodes_as_zeros_and_is_reported() {
        let pipeline = fit(&[record("tcp", "http", "SF", 1.0)]);
        let encoded = pipeline.encode(&[record("tcp", "gopher", "SF", 1.0)]);
        assert_eq!(encoded.codes[0][1], UNSEEN);
        assert_eq!(
            encoded.unseen,
            vec![UnseenCategory {
                row: 0,
                feature: "service".into(),
                value: "gopher".into()
            }]
        );
        let mut row = vec![0.0; encoded.one_hot_width()];
        encoded.one_hot_row(0, &mut row);
        assert_eq!(&row[NUM_NUMERIC..], &[1.0, 0.0, 1.0]);
    }

    #[test]
    fn a_batch_encodes_as_its_records_one_by_one() {
        let services = ["http", "dns", "smtp", "ftp", "gopher"];
        let records: Vec<Record> = (0..200)
            .map(|i| record("tcp", services[i % services.len()], "SF", i as f64))
            .collect();
        let pipeline = fit(&records[..150]
            .iter()
            .filter(|r| r.categorical[1] != "gopher")
            .cloned()
            .collect::<Vec<_>>());
        let batch = pipeline.encode(&records);
        for (row, r) in records.iter().enumerate() {
            let single = pipeline.encode(std::slice::from_ref(r));
            assert_eq!(single.codes[0], batch.codes[row], "row {row}");
            assert_eq!(single.numeric[0], batch.numeric[row], "row {row}");
        }
        assert_eq!(batch.unseen.len(), 40);
    }
}
