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

use crate::connection::{Connection, ContentFeatures};
use crate::service::Service;
use crate::window::WindowFeatures;
use nadir_data::{Kind, Record, Schema};
use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::Write;
use std::net::IpAddr;
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
    /// An address, written as `IpAddr`'s `Display` writes it.
    Addr(IpAddr),
}

impl Value {
    /// The value as a number; `None` for text and addresses.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Count(n) => Some(*n as f64),
            Value::Real(x) => Some(*x),
            Value::Text(_) | Value::Addr(_) => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Count(n) => write!(f, "{n}"),
            Value::Real(x) => write!(f, "{x}"),
            Value::Text(text) => f.write_str(text),
            Value::Addr(addr) => write!(f, "{addr}"),
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
        Value::Addr(conn.orig_addr),
        Value::Count(u64::from(conn.orig_port)),
        Value::Addr(conn.resp_addr),
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
///
/// The header goes through the `csv` crate; the rows are laid out here, straight into one
/// reused line buffer, with the bytes the `csv` crate would write for [`values`]: no value of
/// a record but the label can need quotes (names, numbers and addresses hold no comma, quote
/// or line break; test `fields_need_no_quotes`), so the label is quoted once, up front, as
/// the crate quotes (test `rows_are_what_the_csv_crate_writes`). Each field is written from
/// the connection as it is, with no [`Value`] in between, and the 13 content features, all
/// zero on most connections, as one piece then. On a SYN flood, where every packet is a
/// record, the `csv` crate's per-field checks and `fmt` were most of the time.
pub struct CsvWriter<W: Write> {
    out: W,
    line: Vec<u8>,
    digits: itoa::Buffer,
    fractions: ryu::Buffer,
    /// Rates written lately, by their bits ([`RecentRates`]).
    rates: RecentRates,
    /// The label as a CSV field, quoted if it needs to be.
    label: Option<Vec<u8>>,
}

impl<W: Write> CsvWriter<W> {
    /// A writer that has written the header.
    pub fn new(out: W) -> Result<CsvWriter<W>, RecordError> {
        CsvWriter::labelled(out, None)
    }

    /// A writer whose every record carries `label` in the NSL-KDD label column, when given.
    pub fn labelled(mut out: W, label: Option<String>) -> Result<CsvWriter<W>, RecordError> {
        let mut header = columns();
        if label.is_some() {
            header.insert(FEATURES, Schema::nsl_kdd().label().column.clone());
        }
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(header)?;
        let header = writer
            .into_inner()
            .map_err(|error| RecordError::Io(error.into_error()))?;
        out.write_all(&header)?;
        Ok(CsvWriter {
            out,
            line: Vec::with_capacity(512),
            digits: itoa::Buffer::new(),
            fractions: ryu::Buffer::new(),
            rates: RecentRates::default(),
            label: label.map(|label| csv_field(&label)),
        })
    }

    /// Writes one record: the fields of [`feature_values`], the label if any, then those of
    /// [`identity_values`], each as its [`Value`]'s `Display` writes it.
    pub fn write(&mut self, conn: &Connection, window: &WindowFeatures) -> Result<(), RecordError> {
        /// The 13 content features when all are zero.
        const NO_CONTENT: &[u8] = b"0,0,0,0,0,0,0,0,0,0,0,0,0,";
        self.line.clear();
        self.push_real(conn.duration);
        self.push_text(conn.transport.name());
        self.push_text(Service::of(conn).name());
        self.push_text(conn.state.nsl_kdd_flag());
        self.push_count(conn.orig_bytes);
        self.push_count(conn.resp_bytes);
        self.push_count(u64::from(conn.land));
        self.push_count(u64::from(conn.wrong_fragment));
        self.push_count(u64::from(conn.urgent));
        let content = &conn.content;
        if *content == ContentFeatures::default() {
            self.line.extend_from_slice(NO_CONTENT);
        } else {
            for n in [
                content.hot,
                content.num_failed_logins,
                u32::from(content.logged_in),
                content.num_compromised,
                u32::from(content.root_shell),
                u32::from(content.su_attempted),
                content.num_root,
                content.num_file_creations,
                content.num_shells,
                content.num_access_files,
                content.num_outbound_cmds,
                u32::from(content.is_host_login),
                u32::from(content.is_guest_login),
            ] {
                self.push_count(u64::from(n));
            }
        }
        self.push_count(u64::from(window.count));
        self.push_count(u64::from(window.srv_count));
        for rate in [
            window.serror_rate,
            window.srv_serror_rate,
            window.rerror_rate,
            window.srv_rerror_rate,
            window.same_srv_rate,
            window.diff_srv_rate,
            window.srv_diff_host_rate,
        ] {
            self.push_real(rate);
        }
        self.push_count(u64::from(window.dst_host_count));
        self.push_count(u64::from(window.dst_host_srv_count));
        for rate in [
            window.dst_host_same_srv_rate,
            window.dst_host_diff_srv_rate,
            window.dst_host_same_src_port_rate,
            window.dst_host_srv_diff_host_rate,
            window.dst_host_serror_rate,
            window.dst_host_srv_serror_rate,
            window.dst_host_rerror_rate,
            window.dst_host_srv_rerror_rate,
        ] {
            self.push_real(rate);
        }
        if let Some(label) = &self.label {
            self.line.extend_from_slice(label);
            self.line.push(b',');
        }
        self.push_real(conn.start);
        self.push_addr(conn.orig_addr);
        self.push_count(u64::from(conn.orig_port));
        self.push_addr(conn.resp_addr);
        self.push_count(u64::from(conn.resp_port));
        self.push_text(conn.transport.name());
        self.push_count(conn.orig_packets);
        self.push_count(conn.resp_packets);
        self.push_text(conn.state.zeek_name());
        for (i, &id) in conn.vlan.iter().enumerate() {
            if i > 0 {
                self.line.push(VLAN_SEPARATOR as u8);
            }
            self.push_whole(u64::from(id));
        }
        // The line ends where the last field's comma would be.
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        Ok(())
    }

    /// A [`Value::Count`], then a comma.
    #[inline]
    fn push_count(&mut self, n: u64) {
        self.push_whole(n);
        self.line.push(b',');
    }

    /// A [`Value::Text`], then a comma.
    #[inline]
    fn push_text(&mut self, text: &str) {
        self.line.extend_from_slice(text.as_bytes());
        self.line.push(b',');
    }

    /// A [`Value::Real`] as `Display` writes it, then a comma. Exactly representable whole
    /// numbers print as integers under `Display` too (`x as u64` gives them back exactly,
    /// and costs less than `fract`).
    #[inline]
    fn push_real(&mut self, x: f64) {
        if x.is_sign_positive() && x < 9.0e15 && (x as u64) as f64 == x {
            self.push_whole(x as u64);
        } else {
            self.push_fraction(x);
        }
        self.line.push(b',');
    }

    /// A [`Value::Addr`] as `IpAddr`'s `Display` writes it, then a comma: IPv4 octet by
    /// octet, IPv6 through `fmt`.
    #[inline]
    fn push_addr(&mut self, addr: IpAddr) {
        match addr {
            IpAddr::V4(addr) => {
                let [a, b, c, d] = addr.octets();
                self.push_octet(a);
                self.line.push(b'.');
                self.push_octet(b);
                self.line.push(b'.');
                self.push_octet(c);
                self.line.push(b'.');
                self.push_octet(d);
            }
            IpAddr::V6(_) => {
                // Writing to a Vec cannot fail.
                let _ = write!(self.line, "{addr}");
            }
        }
        self.line.push(b',');
    }

    /// An address octet's decimal digits.
    #[inline]
    fn push_octet(&mut self, n: u8) {
        if n >= 100 {
            self.line
                .extend_from_slice(&[b'0' + n / 100, b'0' + n / 10 % 10, b'0' + n % 10]);
        } else if n >= 10 {
            self.line.extend_from_slice(&[b'0' + n / 10, b'0' + n % 10]);
        } else {
            self.line.push(b'0' + n);
        }
    }

    /// A number that is not a whole one below 9e15 as `Display` writes it. `ryu` finds the
    /// same shortest digits that read back to the same `f64` several times faster, and
    /// writes them the same way when it writes no exponent, except that the two break a tie
    /// apart: when `x` lies exactly halfway between the two nearest candidates of that
    /// length (`fmt` rounds the last digit up, `ryu` to even). `x` is then an odd multiple of
    /// 2^-(k+1), k being the digits after the point, which is checked; `fmt` writes those
    /// and the rest (test `fractions_are_what_display_writes`). Fractions between 0 and 1,
    /// the rates, are written from [`RecentRates`] when they were written lately.
    fn push_fraction(&mut self, x: f64) {
        if x > 0.0 && x < 1.0 {
            if let Some(text) = self.rates.get(x) {
                self.line.extend_from_slice(text);
                return;
            }
            let start = self.line.len();
            self.push_new_fraction(x);
            self.rates.put(x, &self.line[start..]);
        } else {
            self.push_new_fraction(x);
        }
    }

    /// [`CsvWriter::push_fraction`] without the recent rates.
    fn push_new_fraction(&mut self, x: f64) {
        if x.is_finite() && x.abs() < 9.0e15 && (x as i64) as f64 != x {
            let text = self.fractions.format_finite(x);
            let after_point = text.find('.').map(|point| text.len() - point - 1);
            if !text.contains(['e', 'E'])
                && after_point.is_some_and(|k| fraction_bits(x) != k as i64 + 1)
            {
                self.line.extend_from_slice(text.as_bytes());
                return;
            }
        }
        // Writing to a Vec cannot fail.
        let _ = write!(self.line, "{x}");
    }

    /// A whole number's digits: one by hand (most counts and rates of a record on a flood
    /// are 0 or 1), more through `itoa`.
    #[inline]
    fn push_whole(&mut self, n: u64) {
        if n < 10 {
            self.line.push(b'0' + n as u8);
        } else {
            self.line
                .extend_from_slice(self.digits.format(n).as_bytes());
        }
    }

    /// Flushes and gives back the output.
    pub fn into_inner(mut self) -> Result<W, RecordError> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// The text of rates written lately, by their bits, one per place of a small direct-mapped
/// table: a row holds 15 rates, each a count over a window's count, so the same few values
/// (0.01, 0.5, ...) come back row after row, and copying their text costs less than finding
/// their shortest digits again. A value seen for the first time takes its place.
struct RecentRates {
    /// (bits, text length, text); bits 0 (the number 0, never held) marks an empty place.
    places: Box<[(u64, u8, [u8; RecentRates::TEXT]); RecentRates::PLACES]>,
}

impl Default for RecentRates {
    fn default() -> RecentRates {
        RecentRates {
            places: Box::new([(0, 0, [0; RecentRates::TEXT]); RecentRates::PLACES]),
        }
    }
}

impl RecentRates {
    const PLACES: usize = 64;
    /// The longest text held; longer ones are written each time.
    const TEXT: usize = 22;

    fn place(x: f64) -> usize {
        (x.to_bits().wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58) as usize
    }

    fn get(&self, x: f64) -> Option<&[u8]> {
        let (bits, len, text) = &self.places[RecentRates::place(x)];
        (*bits == x.to_bits() && x.to_bits() != 0).then(|| &text[..usize::from(*len)])
    }

    fn put(&mut self, x: f64, written: &[u8]) {
        if written.len() <= RecentRates::TEXT && x.to_bits() != 0 {
            let mut text = [0; RecentRates::TEXT];
            text[..written.len()].copy_from_slice(written);
            self.places[RecentRates::place(x)] = (x.to_bits(), written.len() as u8, text);
        }
    }
}

/// How many binary digits after the point a finite `x` has (0 for whole numbers): `x` is
/// an odd multiple of 2^-(this).
fn fraction_bits(x: f64) -> i64 {
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1 << 52) - 1);
    let (mantissa, power) = if exponent == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), exponent - 1075)
    };
    if mantissa == 0 {
        return 0;
    }
    (-(power + i64::from(mantissa.trailing_zeros()))).max(0)
}

/// `text` as one CSV field, as the `csv` crate writes it by default: in double quotes, its
/// quotes doubled, when it holds a comma, a quote or a line break; as it is otherwise.
fn csv_field(text: &str) -> Vec<u8> {
    if !text
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        return text.as_bytes().to_vec();
    }
    let mut field = Vec::with_capacity(text.len() + 2);
    field.push(b'"');
    for byte in text.bytes() {
        if byte == b'"' {
            field.push(b'"');
        }
        field.push(byte);
    }
    field.push(b'"');
    field
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(orig: &str, resp: &str, vlan: Vec<u16>) -> Connection {
        Connection {
            start: 1.5,
            duration: 0.25,
            transport: crate::Transport::Tcp,
            orig_addr: orig.parse().unwrap(),
            resp_addr: resp.parse().unwrap(),
            orig_port: 40000,
            resp_port: 80,
            vlan,
            state: crate::ConnState::SF,
            orig_bytes: 100,
            resp_bytes: 2000,
            orig_packets: 5,
            resp_packets: 4,
            land: false,
            wrong_fragment: 0,
            urgent: 0,
            content: Default::default(),
        }
    }

    /// Fractions written through `ryu` are the bytes `Display` writes: rates (whole numbers
    /// over window sizes), capture timestamps in seconds, and a million numbers of every
    /// magnitude drawn from a seeded generator.
    #[test]
    fn fractions_are_what_display_writes() {
        let mut writer = CsvWriter::new(Vec::new()).unwrap();
        let mut check = |x: f64| {
            writer.line.clear();
            writer.push_fraction(x);
            assert_eq!(
                String::from_utf8_lossy(&writer.line),
                x.to_string(),
                "{x:e}"
            );
        };
        for whole in 1..=600u32 {
            for part in 0..=whole {
                check(f64::from(part) / f64::from(whole));
            }
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..1_000_000 {
            let bits = next();
            // Nanosecond timestamps over 2000–2040 in seconds, then any bit pattern.
            check((946_684_800_000_000_000 + bits % 1_262_304_000_000_000_000) as f64 / 1e9);
            check(f64::from_bits(bits));
            // Fractions of every size up to 2^53, each with its share of fraction bits.
            check((bits >> 11) as f64 / (1u64 << (bits % 53)) as f64);
        }
        for x in [
            0.1,
            1e-5,
            1e-7,
            1e15 + 0.5,
            8.9e15 + 1.0,
            1658206780088562.0 + 0.25,
            688656154615.0 + 0.65625,
            -2.5,
            -0.0,
            1e22,
            5e-324,
        ] {
            check(x);
        }
    }

    /// The rows laid out by hand are the bytes the `csv` crate writes for the values'
    /// `Display`: whole numbers (through `itoa`), fractions, non-finite and negative
    /// numbers, IPv4 and IPv6 addresses, VLAN ids, content features zero or not, and labels
    /// that need quotes or not.
    #[test]
    fn rows_are_what_the_csv_crate_writes() {
        let reals = [
            0.0,
            -0.0,
            1.0,
            255.0,
            0.5,
            1.0 / 3.0,
            1e-7,
            1389721044.8200462,
            8.9e15,
            9.0e15,
            1e300,
            -2.5,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        let addresses = [
            ("10.0.0.1", "255.255.255.255"),
            ("0.0.0.0", "192.168.100.7"),
            ("2001:db8::1", "::ffff:10.1.2.3"),
            ("fe80::1:2:3:4", "::1"),
            ("100.99.10.9", "1.20.199.250"),
        ];
        let labels = [
            None,
            Some(""),
            Some("normal"),
            Some("a,b"),
            Some("say \"hi\"\n"),
        ];
        for label in labels {
            let mut writer = CsvWriter::labelled(Vec::new(), label.map(String::from)).unwrap();
            let mut expected = csv::Writer::from_writer(Vec::new());
            let mut header = columns();
            if label.is_some() {
                header.insert(FEATURES, Schema::nsl_kdd().label().column.clone());
            }
            expected.write_record(header).unwrap();
            for (i, &x) in reals.iter().enumerate() {
                let (orig, resp) = addresses[i % addresses.len()];
                let mut conn = connection(orig, resp, vec![7; i % 3]);
                conn.start = x;
                conn.duration = reals[(i + 1) % reals.len()];
                conn.orig_bytes = u64::MAX >> i;
                // Every other row carries content features, flags and odd counts.
                if i % 2 == 1 {
                    conn.content = ContentFeatures {
                        hot: i as u32,
                        logged_in: true,
                        num_root: 300,
                        num_outbound_cmds: 10,
                        is_guest_login: true,
                        ..ContentFeatures::default()
                    };
                    conn.land = true;
                    conn.urgent = 7 * i as u32;
                    conn.wrong_fragment = 12;
                    conn.resp_port = 23;
                    conn.orig_packets = 1 << i;
                }
                let window = WindowFeatures {
                    count: i as u32,
                    serror_rate: reals[(i + 2) % reals.len()],
                    dst_host_srv_rerror_rate: reals[(i + 3) % reals.len()],
                    ..WindowFeatures::default()
                };
                writer.write(&conn, &window).unwrap();
                let mut row: Vec<String> = values(&conn, &window)
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                if let Some(label) = label {
                    row.insert(FEATURES, label.to_string());
                }
                expected.write_record(row).unwrap();
            }
            let written = String::from_utf8(writer.into_inner().unwrap()).unwrap();
            let expected = String::from_utf8(expected.into_inner().unwrap()).unwrap();
            assert_eq!(written, expected, "label {label:?}");
        }
    }

    /// No name a record holds needs CSV quotes, which the writer relies on.
    #[test]
    fn fields_need_no_quotes() {
        use crate::connection::{ConnState, Transport};
        let special = |name: &str| {
            name.bytes()
                .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
        };
        let names = Service::ALL
            .iter()
            .copied()
            .chain(
                ConnState::ALL
                    .iter()
                    .flat_map(|s| [s.zeek_name(), s.nsl_kdd_flag()]),
            )
            .chain([Transport::Tcp, Transport::Udp, Transport::Icmp].map(Transport::name));
        for name in names {
            assert!(!special(name), "{name}");
        }
        // The VLAN column: digits and the separator.
        assert!(!special(VLAN_SEPARATOR.encode_utf8(&mut [0; 4])));
        assert!(special("a,b") && special("\"") && special("\r"));
    }

    /// The record's feature values line up with the schema's declared features: the
    /// categorical features are where the schema puts them.
    #[test]
    fn feature_order_matches_the_schema() {
        let schema = Schema::nsl_kdd();
        assert_eq!(schema.declared().len(), FEATURES);
        let conn = connection("10.0.0.1", "10.0.0.2", vec![10, 20]);
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
