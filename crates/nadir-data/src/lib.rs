//! Network records of any declared schema: the schemas (NSL-KDD's and UNSW-NB15's built in,
//! a user's from TOML), validated reading of CSV and JSON/NDJSON files and of the headerless NSL-KDD
//! distribution files, and the fitted feature pipeline that turns records into model input.

pub mod encode;
pub mod json;
pub mod reader;
pub mod record;
pub mod rejects;
pub mod rng;
pub mod schema;

pub use encode::{Encoded, FeaturePipeline, Rows, RowsIter, UNSEEN, UnseenCategory, UnseenRows};
pub use json::{DataFormat, read_json_dataset};
pub use reader::{
    DATA_ENV, DEFAULT_DATA_DIR, DEFAULT_DATA_FILE, DataError, Dataset, InvalidRow, ReadOptions,
    RowProblem, default_data_path, read_csv_records, read_from, read_path,
};
pub use record::{BadFields, FieldError, Problem, Record};
pub use rejects::{ErrorKind, Rejects};
pub use rng::Rng;
pub use schema::{Kind, Schema, SchemaError};
