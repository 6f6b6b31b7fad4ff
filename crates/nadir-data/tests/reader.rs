//! Reading both file formats, in any column order, and rejecting each kind of bad value with
//! its file, line, column and value.

use nadir_data::{DataError, Dataset, ReadOptions, read_from, read_path};
use std::path::PathBuf;

fn shared(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(file)
}

fn sample_text() -> String {
    std::fs::read_to_string(shared("Network_anomaly_sample.csv")).unwrap()
}

fn read_str(text: &str, options: ReadOptions) -> Result<Dataset, DataError> {
    read_from(text.as_bytes(), "test.csv", options)
}

fn strict(text: &str) -> Result<Dataset, DataError> {
    read_str(text, ReadOptions::default())
}

/// The sample with one data line (1-based line `line` of the file) altered.
fn with_line(line: usize, edit: impl Fn(&str) -> String) -> String {
    sample_text()
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i + 1 == line {
                edit(l)
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Replaces field `index` (0-based, file order) of a CSV line.
fn set_field(line: &str, index: usize, value: &str) -> String {
    let mut fields: Vec<&str> = line.split(',').collect();
    fields[index] = value;
    fields.join(",")
}

#[test]
fn header_csv_reads_every_row_with_labels() {
    let data = read_path(
        &shared("Network_anomaly_sample.csv"),
        ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(data.len(), 2000);
    let attacks = data.attacks.as_ref().unwrap();
    assert_eq!(
        attacks
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        23
    );
    assert_eq!(data.lines[0], 2);
    assert_eq!(data.records[0].categorical[1], "ftp_data");
}

#[test]
fn full_file_checksum_matches_the_documented_one() {
    let data = read_path(&shared("Network_anomaly_data.csv"), ReadOptions::default()).unwrap();
    assert_eq!(data.len(), 125_973);
    assert_eq!(
        data.sha256,
        "7f559a16d81d19b59cee30d9e22087e19e5fea127e4b184b92eda3cdfe8f6566"
    );
}

#[test]
fn headerless_file_reads_the_same_records() {
    let text = sample_text();
    let with_header = strict(&text).unwrap();
    let body = text.split_once('\n').unwrap().1;
    let headerless = strict(body).unwrap();
    assert_eq!(headerless.records, with_header.records);
    assert_eq!(headerless.attacks, with_header.attacks);
    assert_eq!(headerless.lines[0], 1);
}

#[test]
fn columns_are_matched_by_name_in_any_order() {
    let text = sample_text();
    let reversed: String = text
        .lines()
        .map(|l| l.split(',').rev().collect::<Vec<_>>().join(","))
        .collect::<Vec<_>>()
        .join("\n");
    let original = strict(&text).unwrap();
    let data = strict(&reversed).unwrap();
    assert_eq!(data.records, original.records);
    assert_eq!(data.attacks, original.attacks);
}

#[test]
fn files_with_only_the_41_features_are_unlabelled_input() {
    let trimmed: String = sample_text()
        .lines()
        .map(|l| l.rsplitn(3, ',').nth(2).unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let data = strict(&trimmed).unwrap();
    assert_eq!(data.len(), 2000);
    assert!(data.attacks.is_none() && data.is_attack().is_none());
    let body = trimmed.split_once('\n').unwrap().1;
    assert!(strict(body).unwrap().attacks.is_none());
}

fn error_text(text: &str) -> String {
    strict(text).unwrap_err().to_string()
}

#[test]
fn each_bad_value_is_named_with_line_column_and_value() {
    let cases = [
        (5, 4, "12x", "column `srcbytes`, value `12x`: not a number"),
        (
            6,
            0,
            "NaN",
            "column `duration`, value `NaN`: NaN or infinity",
        ),
        (
            7,
            5,
            "inf",
            "column `dstbytes`, value `inf`: NaN or infinity",
        ),
        (
            8,
            22,
            "-1",
            "column `count`, value `-1`: a count cannot be negative",
        ),
        (
            9,
            24,
            "1.5",
            "column `serrorrate`, value `1.5`: a rate must lie in [0, 1]",
        ),
        (10, 2, "", "column `service`, value ``: value is missing"),
    ];
    for (line, field, value, expected) in cases {
        let message = error_text(&with_line(line, |l| set_field(l, field, value)));
        assert!(
            message.starts_with(&format!("test.csv: line {line}: ")) && message.contains(expected),
            "{message}"
        );
    }
}

#[test]
fn wrong_number_of_columns_is_an_error_naming_the_line() {
    let message = error_text(&with_line(3, |l| format!("{l},extra")));
    assert_eq!(message, "test.csv: line 3: expected 43 columns, found 44");
}

#[test]
fn header_missing_features_lists_them() {
    let text = sample_text().replacen("srcbytes", "source_bytes", 1);
    let message = error_text(&text);
    assert!(
        message.contains("lacks the column(s) srcbytes"),
        "{message}"
    );
}

#[test]
fn headerless_file_of_unknown_width_is_rejected() {
    let message = error_text("1,2,3\n4,5,6\n");
    assert!(
        message.contains("line 1 has 3 columns and no header"),
        "{message}"
    );
}

#[test]
fn empty_input_is_an_error() {
    assert!(matches!(strict(""), Err(DataError::Empty { .. })));
}

#[test]
fn skip_invalid_keeps_good_rows_and_lists_the_bad_lines() {
    let text = with_line(4, |l| set_field(l, 4, "-5"));
    let text = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i + 1 == 9 {
                set_field(l, 30, "2")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let data = read_str(
        &text,
        ReadOptions {
            skip_invalid: true,
            ..ReadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(data.len(), 1998);
    let lines: Vec<Option<u64>> = data.skipped.listed().iter().map(|s| s.line).collect();
    assert_eq!(lines, [Some(4), Some(9)]);
    assert!(!data.lines.contains(&4) && data.lines.contains(&5));
}

#[test]
fn missing_file_names_the_path() {
    let error = read_path(&shared("no_such_file.csv"), ReadOptions::default()).unwrap_err();
    assert!(error.to_string().contains("no_such_file.csv"), "{error}");
}

#[test]
fn lines_are_numbered_as_an_editor_shows_them_with_crlf_and_blank_lines() {
    let text = sample_text();
    let mut lines: Vec<String> = text.lines().take(8).map(str::to_string).collect();
    lines[4] = set_field(&lines[4], 4, "-1");
    // Line 1 is the header; a blank line 3, then lines 2, 4, 5 … of the sample.
    lines.insert(2, String::new());
    for ending in ["\n", "\r\n"] {
        let text = lines.join(ending) + ending;
        let data = read_str(
            &text,
            ReadOptions {
                skip_invalid: true,
                ..ReadOptions::default()
            },
        )
        .unwrap();
        assert_eq!(data.lines, [2, 4, 5, 7, 8, 9], "{ending:?}");
        assert_eq!(data.skipped.len(), 1);
        assert_eq!(data.skipped.listed()[0].line, Some(6), "{ending:?}");
        let error = strict(&text).unwrap_err().to_string();
        assert!(error.starts_with("test.csv: line 6: "), "{error}");
    }
}

/// A byte-order mark moves no line: a bad row after it and blank lines is named on its own
/// line, read in one piece or a byte at a time, and the checksum covers the mark.
#[test]
fn a_byte_order_mark_moves_no_line() {
    let sample = sample_text();
    let mut lines: Vec<&str> = sample.lines().take(3).collect();
    let bad_row = set_field(lines[2], 0, "-5");
    lines[2] = &bad_row;
    for prefix in ["", "\n\n", "\r\n"] {
        let plain = format!("{prefix}{}\n", lines.join("\n"));
        let marked = format!("\u{feff}{plain}");
        let expected = 3 + prefix.matches('\n').count();
        for text in [&plain, &marked] {
            let error = strict(text).unwrap_err().to_string();
            assert!(
                error.contains(&format!("line {expected}:")),
                "{prefix:?}: {error}"
            );
            // The same bytes a byte at a time (a slow pipe): the mark may arrive in pieces.
            let slow = read_from(OneByte(text.as_bytes()), "slow", ReadOptions::default())
                .unwrap_err()
                .to_string();
            assert!(
                slow.contains(&format!("line {expected}:")),
                "{prefix:?}: {slow}"
            );
        }
        let skipped = |text: &str| {
            read_str(
                text,
                ReadOptions {
                    skip_invalid: true,
                    ..ReadOptions::default()
                },
            )
            .unwrap()
        };
        let (plain, marked) = (skipped(&plain), skipped(&marked));
        assert_eq!(plain.records, marked.records);
        assert_eq!(plain.lines, marked.lines);
        assert_ne!(
            plain.sha256, marked.sha256,
            "the mark is part of the bytes read"
        );
    }
}

/// A reader that hands on one byte per read.
struct OneByte<'a>(&'a [u8]);

impl std::io::Read for OneByte<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((&byte, rest)), Some(slot)) => {
                *slot = byte;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}
