//! A connection and its window features as an NSL-KDD record: the 41 features under the
//! names of nadir's built-in schema ([`nadir_data::Schema::nsl_kdd`], the one place they are
//! written down), then the identity columns ([`IDENTITY_COLUMNS`]) that say which connection
//! the record describes and are never features (a reader of the schema lists them in
//! `Dataset::ignored_columns`).
//!
//! Features first, in the data set's order, so that the first 41 columns are a record as
//! NSL-KDD's own files hold it. Values: `duration` in fractional seconds (NSL-KDD's are whole
//! seconds; the fraction is kept rather than thrown away), `flag` NSL-KDD's
//! ([`ConnState::nsl_kdd_flag`]), indicators 0 or 1, rates as computed (unrounded: the data
//! set rounds to two decimals). Numbers are written in Rust's shortest form that reads back to
//! the same `f64`.
//!
//! [`ConnState::nsl_kdd_flag`]: crate::ConnState::nsl_kdd_flag

use crate::connection::Connection;
use crate::service::Service;
use crate::window::WindowFeatures;
use nadir_data::{Kind, Record, Schema};
use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::Write;
use thiserror::Error;

/// The identity columns after the features, in order: the connection's first packet
/// (seconds since the Unix epoch), originator and responder address and port (for ICMP the
/// message type and code), transport (`tcp`, `udp`, `icmp`), packets each way, Zeek's
/// `conn_state` (which tells RSTRH and SHR apart, both NSL-KDD's `OTH`), and the 802.1Q
/// VLAN ids, outermost first, joined by `/` (empty when untagged).
pub const IDENTITY_COLUMNS: [&str; 10] = [
    "start_time",
    "orig_addr",
    "orig_port",
    "resp_addr",
    "resp_port",
    "transport",
    "orig_packets",
    "resp_packets",
    "conn_state",
    "vlan",
];

/// NSL-KDD's feature count: the record's values before the identity columns.
pub const FEATURES: usize = 41;

/// Between the VLAN ids of a QinQ connection in the `vlan` column.
pub const VLAN_SEPARATOR: char = '/';

/// Why a record cannot be built or written.
#[derive(Debug, Error)]
pub enum RecordError {
    /// The schema is not NSL-KDD's: its declared features are not the built-in schema's.
    #[error("schema `{0}` is not NSL-KDD's: connection records hold NSL-KDD's 41 features")]
    NotNslKdd(String),
    #[error("cannot write the connection records: {0}")]
    Csv(#[from] csv::Error),
    #[error("cannot write the connection records: {0}")]
    Io(#[from] std::io::Error),
}

/// One value of a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Count(u64),
    Real(f64),
    Text(Cow<'static, str>),
}

impl Value {
    /// The value as a number; `None` for text.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Count(n) => Some(*n as f64),
            Value::Real(x) => Some(*x),
            Value::Text(_) => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Count(n) => write!(f, "{n}"),
            Value::Real(x) => write!(f, "{x}"),
            Value::Text(text) => f.write_str(text),
        }
    }
}

fn indicator(flag: bool) -> Value {
    Value::Count(u64::from(flag))
}

/// The 41 feature values, in NSL-KDD's order (features 1–41 of the data set's
/// documentation).
pub fn feature_values(conn: &Connection, window: &WindowFeatures) -> [Value; FEATURES] {
    let content = &conn.content;
    let count = |n: u32| Value::Count(u64::from(n));
    [
        Value::Real(conn.duration),
        Value::Text(Cow::Borrowed(conn.transport.name())),
        Value::Text(Cow::Borrowed(Service::of(conn).name())),
        Value::Text(Cow::Borrowed(conn.state.nsl_kdd_flag())),
        Value::Count(conn.orig_bytes),
        Value::Count(conn.resp_bytes),
        indicator(conn.land),
        count(conn.wrong_fragment),
        count(conn.urgent),
        count(content.hot),
        count(content.num_failed_logins),
        indicator(content.logged_in),
        count(content.num_compromised),
        indicator(content.root_shell),
        indicator(content.su_attempted),
        count(content.num_root),
        count(content.num_file_creations),
        count(content.num_shells),
        count(content.num_access_files),
        count(content.num_outbound_cmds),
        indicator(content.is_host_login),
        indicator(content.is_guest_login),
        count(window.count),
        count(window.srv_count),
        Value::Real(window.serror_rate),
        Value::Real(window.srv_serror_rate),
        Value::Real(window.rerror_rate),
        Value::Real(window.srv_rerror_rate),
        Value::Real(window.same_srv_rate),
        Value::Real(window.diff_srv_rate),
        Value::Real(window.srv_diff_host_rate),
        count(window.dst_host_count),
        count(window.dst_host_srv_count),
        Value::Real(window.dst_host_same_srv_rate),
        Value::Real(window.dst_host_diff_srv_rate),
        Value::Real(window.dst_host_same_src_port_rate),
        Value::Real(window.dst_host_srv_diff_host_rate),
        Value::Real(window.dst_host_serror_rate),
        Value::Real(window.dst_host_srv_serror_rate),
        Value::Real(window.dst_host_rerror_rate),
        Value::Real(window.dst_host_srv_rerror_rate),
    ]
}

/// The identity values, in the order of [`IDENTITY_COLUMNS`].
pub fn identity_values(conn: &Connection) -> [Value; IDENTITY_COLUMNS.len()] {
    let mut vlan = String::new();
    for (i, id) in conn.vlan.iter().enumerate() {
        if i > 0 {
            vlan.push(VLAN_SEPARATOR);
        }
        // Writing to a String cannot fail.
        let _ = write!(vlan, "{id}");
    }
    [
        Value::Real(conn.start),
        Value::Text(Cow::Owned(conn.orig_addr.to_string())),
        Value::Count(u64::from(conn.orig_port)),
        Value::Text(Cow::Owned(conn.resp_addr.to_string())),
        Value::Count(u64::from(conn.resp_port)),
        Value::Text(Cow::Borrowed(conn.transport.name())),
        Value::Count(conn.orig_packets),
        Value::Count(conn.resp_packets),
        Value::Text(Cow::Borrowed(conn.state.zeek_name())),
        Value::Text(Cow::Owned(vlan)),
    ]
}

/// Every column of a connection record: the NSL-KDD schema's features, then
/// [`IDENTITY_COLUMNS`].
pub fn columns() -> Vec<String> {
    Schema::nsl_kdd()
        .declared()
        .iter()
        .map(|feature| feature.name.clone())
        .chain(IDENTITY_COLUMNS.iter().map(|name| name.to_string()))
        .collect()
}

/// The values of [`columns`], in its order.
pub fn values(conn: &Connection, window: &WindowFeatures) -> Vec<Value> {
    feature_values(conn, window)
        .into_iter()
        .chain(identity_values(conn))
        .collect()
}

/// The features as the `Record` of `schema`, which must declare NSL-KDD's features (a
/// model's schema may have dropped some, which are left out): what a model scores, without a
/// trip through text.
pub fn to_record(
    schema: &Schema,
    conn: &Connection,
    window: &WindowFeatures,
) -> Result<Record, RecordError> {
    if !is_nsl_kdd(schema) {
        return Err(RecordError::NotNslKdd(schema.name().to_string()));
    }
    let mut numeric = Vec::with_capacity(schema.num_numeric());
    let mut categorical = Vec::with_capacity(schema.num_categorical());
    for (feature, value) in schema.declared().iter().zip(feature_values(conn, window)) {
        if feature.dropped {
            continue;
        }
        match (feature.kind, value) {
            (Kind::Categorical, value) => categorical.push(value.to_string()),
            // Never text: the kinds are the built-in schema's, checked above, whose numeric
            // features get numbers (test `feature_order_matches_the_schema`).
            (_, value) => numeric.push(value.as_f64().unwrap_or(f64::NAN)),
        }
    }
    Ok(Record {
        numeric,
        categorical,
    })
}

/// Whether `schema` declares the built-in NSL-KDD schema's features, of the same kinds, in
/// its order (dropped ones included).
fn is_nsl_kdd(schema: &Schema) -> bool {
    let built_in = Schema::nsl_kdd();
    schema.declared().len() == built_in.declared().len()
        && schema
            .declared()
            .iter()
            .zip(built_in.declared())
            .all(|(a, b)| a.name == b.name && a.kind == b.kind)
}

/// Connection records as CSV: a header of [`columns`], then one row per record; with a
/// label, the schema's label column after the features, the same value on every row (a
/// capture known to hold only normal traffic, or only one attack).
pub struct CsvWriter<W: Write> {
    writer: csv::Writer<W>,
    field: String,
    digits: itoa::Buffer,
    label: Option<String>,
}

impl<W: Write> CsvWriter<W> {
    /// A writer that has written the header.
    pub fn new(out: W) -> Result<CsvWriter<W>, RecordError> {
        CsvWriter::labelled(out, None)
    }

    /// A writer whose every record carries `label` in the NSL-KDD label column, when given.
    pub fn labelled(out: W, label: Option<String>) -> Result<CsvWriter<W>, RecordError> {
        let mut writer = csv::Writer::from_writer(out);
        let mut header = columns();
        if label.is_some() {
            header.insert(FEATURES, Schema::nsl_kdd().label().column.clone());
        }
        writer.write_record(header)?;
        Ok(CsvWriter {
            writer,
            field: String::new(),
            digits: itoa::Buffer::new(),
            label,
        })
    }

    pub fn write(&mut self, conn: &Connection, window: &WindowFeatures) -> Result<(), RecordError> {
        let features = feature_values(conn, window);
        for value in &features {
            self.write_value(value)?;
        }
        if let Some(label) = &self.label {
            self.writer.write_field(label)?;
        }
        for value in &identity_values(conn) {
            self.write_value(value)?;
        }
        self.writer.write_record(std::iter::empty::<&[u8]>())?;
        Ok(())
    }

    /// Writes one value as its `Display` does. Whole numbers, most of a record, go through
    /// `itoa`, several times faster than `fmt` and the same digits.
    fn write_value(&mut self, value: &Value) -> Result<(), RecordError> {
        let whole = match *value {
            Value::Count(n) => Some(n),
            // Exactly representable whole numbers print as integers under `Display` too.
            Value::Real(x) if x.fract() == 0.0 && x.is_sign_positive() && x < 9.0e15 => {
                Some(x as u64)
            }
            _ => None,
        };
        if let Some(n) = whole {
            self.writer.write_field(self.digits.format(n))?;
            return Ok(());
        }
        self.field.clear();
        // Writing to a String cannot fail.
        let _ = write!(self.field, "{value}");
        self.writer.write_field(&self.field)?;
        Ok(())
    }

    /// Flushes and gives back the output.
    pub fn into_inner(self) -> Result<W, RecordError> {
        self.writer
            .into_inner()
            .map_err(|error| RecordError::Io(error.into_error()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer's fast path for whole numbers writes what `Display` writes.
    #[test]
    fn written_values_are_their_display() {
        let values = [
            Value::Count(0),
            Value::Count(u64::MAX),
            Value::Real(0.0),
            Value::Real(-0.0),
            Value::Real(1.0),
            Value::Real(255.0),
            Value::Real(0.5),
            Value::Real(1e-7),
            Value::Real(1389721044.8200462),
            Value::Real(8.9e15),
            Value::Real(9.0e15),
            Value::Real(1e300),
            Value::Real(f64::NAN),
            Value::Real(f64::INFINITY),
            Value::Text(Cow::Borrowed("a,b")),
        ];
        let mut writer = CsvWriter {
            writer: csv::WriterBuilder::new().from_writer(Vec::new()),
            field: String::new(),
            digits: itoa::Buffer::new(),
            label: None,
        };
        for value in &values {
            writer.write_value(value).unwrap();
        }
        writer
            .writer
            .write_record(std::iter::empty::<&[u8]>())
            .unwrap();
        let written = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        let mut expected = csv::Writer::from_writer(Vec::new());
        expected
            .write_record(values.iter().map(ToString::to_string))
            .unwrap();
        assert_eq!(
            written,
            String::from_utf8(expected.into_inner().unwrap()).unwrap()
        );
    }

    /// The record's feature values line up with the schema's declared features: the
    /// categorical features are where the schema puts them.
    #[test]
    fn feature_order_matches_the_schema() {
        let schema = Schema::nsl_kdd();
        assert_eq!(schema.declared().len(), FEATURES);
        let conn = Connection {
            start: 1.5,
            duration: 0.25,
            transport: crate::Transport::Tcp,
            orig_addr: "10.0.0.1".parse().unwrap(),
            resp_addr: "10.0.0.2".parse().unwrap(),
            orig_port: 40000,
            resp_port: 80,
            vlan: vec![10, 20],
            state: crate::ConnState::SF,
            orig_bytes: 100,
            resp_bytes: 2000,
            orig_packets: 5,
            resp_packets: 4,
            land: false,
            wrong_fragment: 0,
            urgent: 0,
            content: Default::default(),
        };
        assert_eq!(identity_values(&conn)[9], Value::Text("10/20".into()));
        let values = feature_values(&conn, &WindowFeatures::default());
        for (feature, value) in schema.declared().iter().zip(&values) {
            assert_eq!(
                feature.kind == Kind::Categorical,
                matches!(value, Value::Text(_)),
                "{}",
                feature.name
            );
        }
    }

    #[test]
    fn identity_columns_are_not_schema_columns() {
        let schema = Schema::nsl_kdd();
        for name in IDENTITY_COLUMNS {
            let normal = nadir_data::schema::normalise_name(name);
            assert!(
                schema
                    .declared()
                    .iter()
                    .all(|f| nadir_data::schema::normalise_name(&f.name) != normal),
                "{name}"
            );
            assert_ne!(
                normal,
                nadir_data::schema::normalise_name(&schema.label().column)
            );
            for never in schema.never_features() {
                assert_ne!(normal, nadir_data::schema::normalise_name(never));
            }
        }
    }
}
