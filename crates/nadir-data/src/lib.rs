//! Connection records in the NSL-KDD schema: the schema itself, validated reading of the
//! project's CSV and of the headerless distribution files, and the fitted feature pipeline
//! that turns records into model input.

pub mod encode;
pub mod reader;
pub mod record;
pub mod rng;
pub mod schema;

pub use encode::{Encoded, FeaturePipeline, UNSEEN, UnseenCategory};
pub use reader::{
    DataError, Dataset, InvalidRow, ReadOptions, RowProblem, default_data_path, read_from,
    read_path,
};
pub use record::{FieldError, Problem, Record};
pub use rng::Rng;
