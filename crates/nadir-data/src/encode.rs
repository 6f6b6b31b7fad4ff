//! The fitted feature pipeline: category vocabularies learnt from training data, and the
//! encoded form every model consumes.
//!
//! Categories are kept as integer codes ([`Encoded::codes`]) rather than expanded here, so
//! tree models can split on `service == http` directly (one histogram per categorical
//! column instead of seventy), while linear models and the MLP ask for the one-hot row.
//! Both views encode an unseen category the same way: it matches no known value, which is
//! the all-zeros one-hot row.

use crate::record::Record;
use crate::schema::{self, NUM_CATEGORICAL, NUM_NUMERIC};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The code of a category value not seen in training.
pub const UNSEEN: u32 = u32::MAX;

/// Category vocabularies fitted on training records. Saved inside every model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeaturePipeline {
    /// For each categorical feature, its known values; a value's code is its position.
    vocabularies: [Vec<String>; NUM_CATEGORICAL],
}

/// A category value the pipeline has never seen, met while encoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnseenCategory {
    /// Row within the encoded batch.
    pub row: usize,
    pub feature: &'static str,
    pub value: String,
}

/// Records in model-ready form.
#[derive(Debug, Clone, Default)]
pub struct Encoded {
    pub numeric: Vec<[f64; NUM_NUMERIC]>,
    /// Category codes per row ([`UNSEEN`] for values not in the vocabulary).
    pub codes: Vec<[u32; NUM_CATEGORICAL]>,
    /// Vocabulary size of each categorical feature.
    pub cardinalities: [usize; NUM_CATEGORICAL],
    /// Every unseen category value met, in row order.
    pub unseen: Vec<UnseenCategory>,
}

impl FeaturePipeline {
    /// Learns the vocabularies. Values are ordered by falling frequency, ties by name, so the
    /// codes are deterministic and the commonest values get the smallest codes.
    pub fn fit(records: &[Record]) -> FeaturePipeline {
        let vocabularies = std::array::from_fn(|c| {
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for r in records {
                *counts.entry(r.categorical[c].as_str()).or_default() += 1;
            }
            let mut values: Vec<(&str, usize)> = counts.into_iter().collect();
            values.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            values.into_iter().map(|(v, _)| v.to_string()).collect()
        });
        FeaturePipeline { vocabularies }
    }

    pub fn vocabulary(&self, feature: usize) -> &[String] {
        &self.vocabularies[feature]
    }

    pub fn cardinalities(&self) -> [usize; NUM_CATEGORICAL] {
        std::array::from_fn(|c| self.vocabularies[c].len())
    }

    /// Width of the one-hot row: numeric features, then one column per known category value.
    pub fn one_hot_width(&self) -> usize {
        NUM_NUMERIC + self.vocabularies.iter().map(Vec::len).sum::<usize>()
    }

    /// Column names of the one-hot row, e.g. `srcbytes`, `service=http`.
    pub fn one_hot_names(&self) -> Vec<String> {
        let mut names: Vec<String> = schema::numeric_names()
            .into_iter()
            .map(String::from)
            .collect();
        for (feature, vocabulary) in schema::categorical_names().iter().zip(&self.vocabularies) {
            names.extend(vocabulary.iter().map(|v| format!("{feature}={v}")));
        }
        names
    }

    pub fn encode(&self, records: &[Record]) -> Encoded {
        // An index pays for itself on a batch; a few records (a server's single request) are
        // faster looked up in place, the vocabularies being short and sorted by frequency.
        let index: Option<[HashMap<&str, u32>; NUM_CATEGORICAL]> =
            (records.len() > 64).then(|| {
                std::array::from_fn(|c| {
                    self.vocabularies[c]
                        .iter()
                        .enumerate()
                        .map(|(code, v)| (v.as_str(), code as u32))
                        .collect()
                })
            });
        let code_of = |c: usize, value: &str| match &index {
            Some(index) => index[c].get(value).copied(),
            None => self.vocabularies[c]
                .iter()
                .position(|v| v == value)
                .map(|code| code as u32),
        };
        let names = schema::categorical_names();
        let mut unseen = Vec::new();
        let codes = records
            .iter()
            .enumerate()
            .map(|(row, r)| {
                std::array::from_fn(|c| {
                    code_of(c, r.categorical[c].as_str()).unwrap_or_else(|| {
                        unseen.push(UnseenCategory {
                            row,
                            feature: names[c],
                            value: r.categorical[c].clone(),
                        });
                        UNSEEN
                    })
                })
            })
            .collect();
        Encoded {
            numeric: records.iter().map(|r| r.numeric).collect(),
            codes,
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

    pub fn one_hot_width(&self) -> usize {
        NUM_NUMERIC + self.cardinalities.iter().sum::<usize>()
    }

    /// Writes row `i` one-hot encoded into `out` (length [`Self::one_hot_width`]).
    pub fn one_hot_row(&self, i: usize, out: &mut [f64]) {
        out[..NUM_NUMERIC].copy_from_slice(&self.numeric[i]);
        out[NUM_NUMERIC..].fill(0.0);
        let mut offset = NUM_NUMERIC;
        for (c, &cardinality) in self.cardinalities.iter().enumerate() {
            let code = self.codes[i][c];
            if code != UNSEEN {
                out[offset + code as usize] = 1.0;
            }
            offset += cardinality;
        }
    }

    /// The rows at `indices`, in that order (unseen-category notes are not carried over).
    pub fn select(&self, indices: &[usize]) -> Encoded {
        Encoded {
            numeric: indices.iter().map(|&i| self.numeric[i]).collect(),
            codes: indices.iter().map(|&i| self.codes[i]).collect(),
            cardinalities: self.cardinalities,
            unseen: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(protocol: &str, service: &str, flag: &str, bytes: f64) -> Record {
        let mut numeric = [0.0; NUM_NUMERIC];
        numeric[1] = bytes;
        Record {
            numeric,
            categorical: [protocol, service, flag].map(String::from),
        }
    }

    #[test]
    fn vocabulary_is_ordered_by_frequency_then_name() {
        let pipeline = FeaturePipeline::fit(&[
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
        let pipeline = FeaturePipeline::fit(&[
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
        let pipeline = FeaturePipeline::fit(&[record("tcp", "http", "SF", 1.0)]);
        let encoded = pipeline.encode(&[record("tcp", "gopher", "SF", 1.0)]);
        assert_eq!(encoded.codes[0][1], UNSEEN);
        assert_eq!(
            encoded.unseen,
            vec![UnseenCategory {
                row: 0,
                feature: "service",
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
        let pipeline = FeaturePipeline::fit(
            &records[..150]
                .iter()
                .filter(|r| r.categorical[1] != "gopher")
                .cloned()
                .collect::<Vec<_>>(),
        );
        let batch = pipeline.encode(&records);
        for (row, r) in records.iter().enumerate() {
            let single = pipeline.encode(std::slice::from_ref(r));
            assert_eq!(single.codes[0], batch.codes[row], "row {row}");
        }
        assert_eq!(batch.unseen.len(), 40);
    }
}
