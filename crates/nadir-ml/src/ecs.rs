//! A scored record as an Elastic Common Schema document: what `--format ecs` writes
//! (`nadir predict`, `nadir stream`, the HTTP API's `?format=ecs`), one JSON object per line,
//! so that a SIEM ingests nadir's verdicts as it ingests an IDS's. Built here once, from the
//! model, the prediction, what the record says about its connection ([`Subject`]) and the
//! scoring time; the front ends only choose which records to write.
//!
//! Fields (ECS [`ECS_VERSION`]; nested objects, never dotted keys):
//!
//! - `@timestamp`: the connection's start when the record carries one (the `start_time`
//!   column of `nadir extract`'s records, UNSW-NB15's `stime`), else the scoring time;
//!   `event.created` is always the scoring time, `event.start` the connection's start when
//!   known. ISO 8601 in UTC, to the millisecond.
//! - `ecs.version`.
//! - `event.kind`: `alert` for a record predicted an attack (ECS: "an alert or notable
//!   event, triggered by a detection rule executing externally to the Elastic Stack"), else
//!   `event` (ECS: "events that indicate that something happened": a connection seen and
//!   judged normal). `signal` is not used: ECS keeps it for alerts made by Kibana's own rules.
//! - `event.category`: `["network", "intrusion_detection"]` for an alert, `["network"]` for
//!   a normal record; `event.type`: `["info"]`, a type ECS expects under both categories.
//! - `event.module` `nadir`, `event.dataset` [`DATASET`], and `observer` (`vendor` and
//!   `product` `nadir`, `type` `ids`, `version`): who judged the record.
//! - `event.risk_score`: the model's score as it is (ECS: "use your system's original
//!   value"). `event.severity` is not written: ECS leaves its scale to the source, and nadir
//!   has no severity beyond the score. Nor `event.risk_score_norm` (0–100): only a
//!   probability would scale to it, not the isolation forest's anomaly score.
//! - `rule.name`: the model's name (a model file's kind, a server's loaded name).
//! - where the record came from ([`Place`]): `nadir.row` and `nadir.line` (a file),
//!   `nadir.index` (a request body), or `event.id` (a stream entry's ID).
//! - `source.ip`, `source.port`, `destination.ip`, `destination.port` when the record carries
//!   them (`nadir extract`'s `orig_addr`, `orig_port`, `resp_addr`, `resp_port`; UNSW-NB15's
//!   `srcip`, `sport`, `dstip`, `dsport`) and they are an IP address and a port; no ports
//!   for ICMP, whose records hold the message type and code there.
//! - `network.transport`: the record's transport in lower case (the `transport` column, or
//!   the feature NSL-KDD calls `protocoltype` and UNSW-NB15 `proto`), as IANA names them.
//! - nadir's own fields under `nadir`: `prediction` (the verdict word), `score`,
//!   `score_kind` (the score's field name elsewhere: `probability`, `anomaly_score`,
//!   `score`), `fired` (the hybrid's part that flagged the record), `family` and
//!   `family_probability` (the record's most probable attack family, when the model file
//!   has a family model) and `warning` (unseen categories) when there are some. ECS defines
//!   no custom fields; its guidance is to nest them under a proper name (a tool's or a
//!   project's), which ECS itself never uses for a field set, so `nadir.*` will not collide
//!   with a future ECS field.
//! - `nadir.explanation`, when asked for ([`add_explanation`]): the record's strongest
//!   features, the object every output writes ([`crate::explain::TopFeatures`]: `space`,
//!   `base`, `features` of `feature`, `value`, `typical`, `contribution`, and
//!   `explanation_method`).
//!
//! The date is formatted here (a dozen lines of civil-calendar arithmetic) rather than
//! through a date crate, which would bring a dependency for one conversion.

use crate::file::Prediction;
use crate::output;
use crate::registry::ModelKind;
use nadir_data::{Record, Schema};
use serde_json::{Map, Value, json};
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// The ECS version the documents follow, written in `ecs.version`.
pub const ECS_VERSION: &str = "8.11.0";
/// `event.dataset`: ECS's `module.dataset` naming.
pub const DATASET: &str = "nadir.verdict";
/// `event.kind` of a record predicted an attack.
pub const KIND_ALERT: &str = "alert";
/// `event.kind` of a record predicted normal.
pub const KIND_EVENT: &str = "event";
/// The media type of a body of ECS documents, one per line.
pub const MEDIA_TYPE: &str = "application/x-ndjson";

/// Columns holding a connection's start, in seconds since the Unix epoch.
pub const START_COLUMNS: [&str; 2] = ["start_time", "stime"];
/// Columns holding the originator's address and port.
pub const SOURCE_COLUMNS: [(&str, &str); 2] = [("orig_addr", "orig_port"), ("srcip", "sport")];
/// Columns holding the responder's address and port.
pub const DESTINATION_COLUMNS: [(&str, &str); 2] =
    [("resp_addr", "resp_port"), ("dstip", "dsport")];
/// A record's own column naming its transport (`nadir extract`'s).
pub const TRANSPORT_COLUMN: &str = "transport";
/// The categorical features naming a record's transport: NSL-KDD's and UNSW-NB15's.
pub const TRANSPORT_FEATURES: [&str; 2] = ["protocoltype", "proto"];

/// One end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: Option<u16>,
}

/// What a record says about the connection it describes; every part optional, since a
/// data set's record may say nothing of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Subject {
    /// The connection's start, in milliseconds since the Unix epoch.
    pub start_ms: Option<i64>,
    pub source: Option<Endpoint>,
    pub destination: Option<Endpoint>,
    /// Lower case.
    pub transport: Option<String>,
}

impl Subject {
    /// The subject of a record from its own columns (name, value: those its schema does not
    /// know) and its transport feature ([`transport_feature`]), which the `transport` column
    /// overrides. Values that are not what their column should hold are left out.
    pub fn new<'a>(
        own: impl IntoIterator<Item = (&'a str, &'a str)>,
        transport_feature: Option<&str>,
    ) -> Subject {
        let own: Vec<(&str, &str)> = own.into_iter().collect();
        let value = |name: &str| {
            own.iter()
                .find(|(column, _)| *column == name)
                .map(|(_, value)| value.trim())
                .filter(|value| !value.is_empty())
        };
        let transport = value(TRANSPORT_COLUMN)
            .or(transport_feature.map(str::trim).filter(|t| !t.is_empty()))
            .map(str::to_ascii_lowercase);
        let has_ports = !transport
            .as_deref()
            .is_some_and(|t| t == "icmp" || t == "ipv6-icmp");
        let endpoint = |columns: &[(&str, &str)]| {
            columns.iter().find_map(|(ip, port)| {
                let ip = value(ip)?.parse().ok()?;
                let port = value(port)
                    .filter(|_| has_ports)
                    .and_then(|p| p.parse().ok());
                Some(Endpoint { ip, port })
            })
        };
        Subject {
            start_ms: START_COLUMNS
                .iter()
                .find_map(|column| value(column).and_then(epoch_ms)),
            source: endpoint(&SOURCE_COLUMNS),
            destination: endpoint(&DESTINATION_COLUMNS),
            transport,
        }
    }
}

/// A record's value of the feature naming its transport ([`TRANSPORT_FEATURES`]), when its
/// schema has one.
pub fn transport_feature<'a>(schema: &Schema, record: &'a Record) -> Option<&'a str> {
    let position = schema
        .categorical()
        .position(|f| TRANSPORT_FEATURES.contains(&f.name.as_str()))?;
    record.categorical.get(position).map(String::as_str)
}

/// What every document of one scoring run shares.
#[derive(Debug, Clone, Copy)]
pub struct Scoring<'a> {
    /// The model's name (`rule.name`).
    pub rule: &'a str,
    /// The model's kind, which says what its score is.
    pub kind: ModelKind,
    /// When the records were scored.
    pub at: SystemTime,
}

/// Where the scored record came from, in the front end's own terms, so that an alert leads
/// back to its input.
#[derive(Debug, Clone, Copy)]
pub enum Place<'a> {
    /// A file's record (`nadir predict`): its 1-based position among the records and its line,
    /// as `nadir.row` and `nadir.line`.
    Row { row: usize, line: u64 },
    /// A request body's record (the HTTP API): its 0-based position, as `nadir.index`.
    Index(usize),
    /// A stream entry (`nadir stream`): its ID, as `event.id` (ECS: an event's unique ID).
    Entry(&'a str),
}

/// The ECS document of one scored record.
pub fn document(
    scoring: &Scoring<'_>,
    place: Place<'_>,
    prediction: &Prediction,
    subject: &Subject,
) -> Value {
    let kind = scoring.kind;
    let scored_ms = scoring
        .at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let created = timestamp(scored_ms);
    let start = subject.start_ms.map(timestamp);
    let (event_kind, category) = if prediction.is_attack {
        (KIND_ALERT, json!(["network", "intrusion_detection"]))
    } else {
        (KIND_EVENT, json!(["network"]))
    };
    let mut event = Map::new();
    if let Place::Entry(id) = place {
        event.insert("id".into(), id.into());
    }
    event.insert("kind".into(), event_kind.into());
    event.insert("category".into(), category);
    event.insert("type".into(), json!(["info"]));
    event.insert("module".into(), "nadir".into());
    event.insert("dataset".into(), DATASET.into());
    event.insert("created".into(), created.clone().into());
    if let Some(start) = &start {
        event.insert("start".into(), start.clone().into());
    }
    event.insert("risk_score".into(), finite(prediction.score));

    let mut nadir = Map::new();
    match place {
        Place::Row { row, line } => {
            nadir.insert("row".into(), row.into());
            nadir.insert("line".into(), line.into());
        }
        Place::Index(index) => {
            nadir.insert("index".into(), index.into());
        }
        Place::Entry(_) => {}
    }
    nadir.insert("prediction".into(), prediction.verdict().into());
    nadir.insert("score".into(), finite(prediction.score));
    nadir.insert("score_kind".into(), kind.score_field().into());
    if let Some(fired) = prediction.fired {
        nadir.insert(output::FIRED.into(), fired.name().into());
    }
    if let Some(family) = &prediction.family {
        nadir.insert(output::FAMILY.into(), family.family.clone().into());
        nadir.insert(
            output::FAMILY_PROBABILITY.into(),
            finite(family.probability),
        );
    }
    if !prediction.unseen.is_empty() {
        nadir.insert("warning".into(), prediction.warning_text().into());
    }

    let mut document = Map::new();
    document.insert("@timestamp".into(), start.unwrap_or(created).into());
    document.insert("ecs".into(), json!({ "version": ECS_VERSION }));
    document.insert("event".into(), event.into());
    document.insert(
        "observer".into(),
        json!({
            "vendor": "nadir",
            "product": "nadir",
            "type": "ids",
            "version": env!("CARGO_PKG_VERSION"),
        }),
    );
    document.insert("rule".into(), json!({ "name": scoring.rule }));
    for (name, end) in [
        ("source", subject.source),
        ("destination", subject.destination),
    ] {
        if let Some(end) = end {
            let mut object = Map::new();
            object.insert("ip".into(), end.ip.to_string().into());
            if let Some(port) = end.port {
                object.insert("port".into(), port.into());
            }
            document.insert(name.into(), object.into());
        }
    }
    if let Some(transport) = &subject.transport {
        document.insert("network".into(), json!({ "transport": transport }));
    }
    document.insert("nadir".into(), nadir.into());
    document.into()
}

/// Adds a record's explanation to its [`document`], as `nadir.explanation`.
pub fn add_explanation(document: &mut Value, explanation: &crate::explain::TopFeatures) {
    let explanation = serde_json::to_value(explanation).expect("explanations serialise");
    if let Some(nadir) = document.get_mut("nadir").and_then(Value::as_object_mut) {
        nadir.insert(output::EXPLANATION.into(), explanation);
    }
}

/// A score as JSON: a number, or `null` for one that is not finite (which JSON cannot hold).
fn finite(score: f64) -> Value {
    serde_json::Number::from_f64(score).map_or(Value::Null, Value::Number)
}

/// Seconds since the Unix epoch, as a record writes them, in milliseconds; `None` for text
/// that is not a time from 1970 to 9999.
fn epoch_ms(text: &str) -> Option<i64> {
    const YEAR_10000_MS: f64 = 253_402_300_800_000.0;
    let seconds: f64 = text.parse().ok()?;
    let ms = (seconds * 1000.0).round();
    (ms.is_finite() && (0.0..YEAR_10000_MS).contains(&ms)).then_some(ms as i64)
}

/// Milliseconds since the Unix epoch as ISO 8601 in UTC: `2026-12-03T22:26:34.123Z`.
pub fn timestamp(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil_date(days);
    let seconds = ms_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        ms_of_day % 1000
    )
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`: eras of 400 years, years starting in March so that the leap day is last).
fn civil_date(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Fired;
    use nadir_data::UnseenCategory;
    use std::time::Duration;

    /// The ECS definitions of the fields written (ECS reference 8.11,
    /// https://www.elastic.co/guide/en/ecs/8.11/ecs-field-reference.html and its
    /// categorization pages): the field's path, its ECS type, and its allowed values where
    /// ECS lists them (empty: any value of the type).
    const DEFINITIONS: &[(&str, Type, &[&str])] = &[
        ("@timestamp", Type::Date, &[]),
        ("ecs.version", Type::Keyword, &[]),
        ("event.id", Type::Keyword, &[]),
        (
            "event.kind",
            Type::Keyword,
            &[
                "alert",
                "asset",
                "enrichment",
                "event",
                "metric",
                "state",
                "pipeline_error",
                "signal",
            ],
        ),
        (
            "event.category",
            Type::KeywordArray,
            &[
                "api",
                "authentication",
                "configuration",
                "database",
                "driver",
                "email",
                "file",
                "host",
                "iam",
                "intrusion_detection",
                "library",
                "malware",
                "network",
                "package",
                "process",
                "registry",
                "session",
                "threat",
                "vulnerability",
                "web",
            ],
        ),
        (
            "event.type",
            Type::KeywordArray,
            &[
                "access",
                "admin",
                "allowed",
                "change",
                "connection",
                "creation",
                "deletion",
                "denied",
                "device",
                "end",
                "error",
                "group",
                "indicator",
                "info",
                "installation",
                "protocol",
                "start",
                "user",
            ],
        ),
        ("event.module", Type::Keyword, &[]),
        ("event.dataset", Type::Keyword, &[]),
        ("event.created", Type::Date, &[]),
        ("event.start", Type::Date, &[]),
        ("event.risk_score", Type::Float, &[]),
        ("observer.vendor", Type::Keyword, &[]),
        ("observer.product", Type::Keyword, &[]),
        ("observer.type", Type::Keyword, &[]),
        ("observer.version", Type::Keyword, &[]),
        ("rule.name", Type::Keyword, &[]),
        ("source.ip", Type::Ip, &[]),
        ("source.port", Type::Long, &[]),
        ("destination.ip", Type::Ip, &[]),
        ("destination.port", Type::Long, &[]),
        ("network.transport", Type::Keyword, &[]),
    ];

    /// ECS's expected `event.type` values per `event.category` (the categories written).
    const EXPECTED_TYPES: &[(&str, &[&str])] = &[
        (
            "network",
            &[
                "access",
                "allowed",
                "connection",
                "denied",
                "end",
                "info",
                "protocol",
                "start",
            ],
        ),
        ("intrusion_detection", &["allowed", "denied", "info"]),
    ];

    #[derive(Debug, Clone, Copy)]
    enum Type {
        Date,
        Keyword,
        KeywordArray,
        Float,
        Long,
        Ip,
    }

    /// Every leaf of a document, by its dotted path.
    fn leaves(value: &Value, path: String, out: &mut Vec<(String, Value)>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    assert!(
                        !key.contains('.') || key == "@timestamp",
                        "dotted key {key}"
                    );
                    let path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    leaves(value, path, out);
                }
            }
            other => out.push((path, other.clone())),
        }
    }

    fn is_iso_utc(text: &str) -> bool {
        let bytes = text.as_bytes();
        text.len() == 24
            && bytes.iter().enumerate().all(|(i, b)| match i {
                4 | 7 => *b == b'-',
                10 => *b == b'T',
                13 | 16 => *b == b':',
                19 => *b == b'.',
                23 => *b == b'Z',
                _ => b.is_ascii_digit(),
            })
    }

    fn check_type(path: &str, ty: Type, value: &Value, allowed: &[&str]) {
        let allowed_word = |word: &str| {
            assert!(
                allowed.is_empty() || allowed.contains(&word),
                "{path}: `{word}` is not an allowed value"
            )
        };
        match ty {
            Type::Date => assert!(
                value.as_str().is_some_and(is_iso_utc),
                "{path}: {value} is not an ISO 8601 UTC date"
            ),
            Type::Keyword => {
                let word = value.as_str().unwrap_or_else(|| panic!("{path}: {value}"));
                allowed_word(word);
            }
            Type::KeywordArray => {
                let words = value
                    .as_array()
                    .unwrap_or_else(|| panic!("{path}: {value}"));
                assert!(!words.is_empty(), "{path} is empty");
                for word in words {
                    allowed_word(word.as_str().unwrap_or_else(|| panic!("{path}: {word}")));
                }
            }
            Type::Float => assert!(value.is_f64(), "{path}: {value} is not a float"),
            Type::Long => assert!(value.is_u64(), "{path}: {value} is not a long"),
            Type::Ip => assert!(
                value
                    .as_str()
                    .and_then(|s| s.parse::<IpAddr>().ok())
                    .is_some(),
                "{path}: {value} is not an IP address"
            ),
        }
    }

    /// Checks every ECS field of `document` against [`DEFINITIONS`] (a field ECS does not
    /// define must be nadir's own, under `nadir`), and the categorization as a whole; returns
    /// the document's leaves.
    fn check(document: &Value) -> Vec<(String, Value)> {
        let mut fields = Vec::new();
        leaves(document, String::new(), &mut fields);
        for (path, value) in &fields {
            match DEFINITIONS.iter().find(|(name, ..)| name == path) {
                Some((_, ty, allowed)) => check_type(path, *ty, value, allowed),
                None => assert!(
                    path.starts_with("nadir."),
                    "{path} is neither ECS nor nadir's"
                ),
            }
        }
        let event = &document["event"];
        let kind = event["kind"].as_str().unwrap();
        for category in event["category"].as_array().unwrap() {
            let (_, expected) = EXPECTED_TYPES.iter().find(|(c, _)| category == c).unwrap();
            for ty in event["type"].as_array().unwrap() {
                assert!(expected.contains(&ty.as_str().unwrap()), "{category}: {ty}");
            }
        }
        let attack = document["nadir"]["prediction"] == "attack";
        assert_eq!(kind, if attack { "alert" } else { "event" });
        assert_eq!(document["ecs"]["version"], ECS_VERSION);
        fields
    }

    fn prediction(is_attack: bool, score: f64) -> Prediction {
        Prediction {
            is_attack,
            score,
            unseen: Vec::new(),
            fired: None,
            family: None,
        }
    }

    fn scoring(rule: &'static str, kind: ModelKind) -> Scoring<'static> {
        Scoring {
            rule,
            kind,
            at: UNIX_EPOCH + Duration::from_millis(1_764_800_794_250),
        }
    }

    #[test]
    fn a_record_without_identity_is_stamped_with_its_scoring_time() {
        let subject = Subject::new([], Some("TCP"));
        let p = prediction(false, 0.125);
        let doc = document(
            &scoring("random_forest", ModelKind::RandomForest),
            Place::Index(3),
            &p,
            &subject,
        );
        let fields = check(&doc);
        assert_eq!(doc["@timestamp"], "2025-12-03T22:26:34.250Z");
        assert_eq!(doc["event"]["created"], doc["@timestamp"]);
        assert_eq!(doc["event"]["kind"], "event");
        assert_eq!(doc["event"]["category"], json!(["network"]));
        assert_eq!(doc["rule"]["name"], "random_forest");
        assert_eq!(doc["network"]["transport"], "tcp");
        assert_eq!(doc["nadir"]["score"], 0.125);
        assert_eq!(doc["event"]["risk_score"], 0.125);
        assert_eq!(doc["nadir"]["score_kind"], "probability");
        assert_eq!(doc["nadir"]["index"], 3);
        assert!(doc.get("source").is_none() && doc.get("destination").is_none());
        assert!(doc["event"].get("start").is_none());
        let paths: Vec<&str> = fields.iter().map(|(p, _)| p.as_str()).collect();
        assert!(!paths.contains(&"nadir.fired") && !paths.contains(&"nadir.warning"));
    }

    #[test]
    fn a_connection_record_names_its_ends_and_start() {
        let own = [
            ("start_time", "1700000000.1234"),
            ("orig_addr", "192.168.1.7"),
            ("orig_port", "51234"),
            ("resp_addr", "2001:db8::1"),
            ("resp_port", "443"),
            ("transport", "tcp"),
            ("conn_state", "SF"),
        ];
        let subject = Subject::new(own, Some("udp"));
        let mut p = prediction(true, 0.75);
        p.fired = Some(Fired::Both);
        p.family = Some(crate::family::FamilyPrediction {
            family: "DoS".into(),
            probability: 0.875,
        });
        p.unseen.push(UnseenCategory {
            row: 0,
            feature: "service".into(),
            value: "gopher_v2".into(),
        });
        let doc = document(
            &scoring("hybrid", ModelKind::Hybrid),
            Place::Entry("1764800794250-0"),
            &p,
            &subject,
        );
        check(&doc);
        assert_eq!(doc["@timestamp"], "2023-11-14T22:13:20.123Z");
        assert_eq!(doc["event"]["start"], doc["@timestamp"]);
        assert_eq!(doc["event"]["created"], "2025-12-03T22:26:34.250Z");
        assert_eq!(doc["event"]["kind"], "alert");
        assert_eq!(
            doc["event"]["category"],
            json!(["network", "intrusion_detection"])
        );
        assert_eq!(doc["source"], json!({"ip": "192.168.1.7", "port": 51234}));
        assert_eq!(
            doc["destination"],
            json!({"ip": "2001:db8::1", "port": 443})
        );
        assert_eq!(doc["network"]["transport"], "tcp", "the column wins");
        assert_eq!(doc["nadir"]["fired"], "both");
        assert_eq!(doc["nadir"]["family"], "DoS");
        assert_eq!(doc["nadir"]["family_probability"], 0.875);
        assert_eq!(doc["event"]["id"], "1764800794250-0");
        assert_eq!(doc["nadir"]["score_kind"], "score");
        assert_eq!(doc["nadir"]["prediction"], "attack");
        assert!(
            doc["nadir"]["warning"]
                .as_str()
                .unwrap()
                .contains("gopher_v2")
        );
    }

    #[test]
    fn icmp_has_no_ports_and_bad_values_are_left_out() {
        let subject = Subject::new(
            [
                ("start_time", "not a time"),
                ("orig_addr", "10.0.0.1"),
                ("orig_port", "8"),
                ("resp_addr", "not an address"),
                ("resp_port", "0"),
            ],
            Some("icmp"),
        );
        assert_eq!(subject.start_ms, None);
        assert_eq!(
            subject.source,
            Some(Endpoint {
                ip: "10.0.0.1".parse().unwrap(),
                port: None
            })
        );
        assert_eq!(subject.destination, None);
        let doc = document(
            &scoring("isolation_forest", ModelKind::IsolationForest),
            Place::Row { row: 2, line: 3 },
            &prediction(true, 0.61),
            &subject,
        );
        check(&doc);
        assert_eq!(doc["source"], json!({"ip": "10.0.0.1"}));
        assert_eq!(doc["nadir"]["score_kind"], "anomaly_score");
        assert_eq!(
            (&doc["nadir"]["row"], &doc["nadir"]["line"]),
            (&json!(2), &json!(3))
        );
        let udp = Subject::new([("srcip", "10.0.0.2"), ("sport", "70000")], Some("udp"));
        assert_eq!(udp.source.unwrap().port, None, "not a port");
    }

    #[test]
    fn an_explanation_goes_under_nadir_as_every_output_writes_it() {
        let top = crate::explain::TopFeatures {
            space: crate::explain::Space::LogOdds,
            base: -1.5,
            features: vec![crate::explain::FeatureContribution {
                feature: "service".into(),
                value: "private".into(),
                typical: Some("http".into()),
                contribution: 2.25,
            }],
            method: crate::explain::Method::TreeShap,
            part: None,
            nearest_normal: None,
        };
        let mut doc = document(
            &scoring("gradient_boosting", ModelKind::GradientBoosting),
            Place::Index(0),
            &prediction(true, 0.68),
            &Subject::new([], Some("tcp")),
        );
        add_explanation(&mut doc, &top);
        check(&doc);
        assert_eq!(
            doc["nadir"]["explanation"],
            json!({
                "space": "log_odds",
                "base": -1.5,
                "features": [{"feature": "service", "value": "private", "typical": "http", "contribution": 2.25}],
                "explanation_method": "tree_shap",
            })
        );
        assert_eq!(
            doc["nadir"]["explanation"],
            serde_json::to_value(&top).unwrap()
        );
    }

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(timestamp(951_868_799_999), "2000-02-29T23:59:59.999Z");
        assert_eq!(timestamp(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
        assert_eq!(timestamp(253_402_300_799_000), "9999-12-31T23:59:59.000Z");
        assert_eq!(epoch_ms("1.0005"), Some(1001));
        assert_eq!(epoch_ms("-1"), None);
        assert_eq!(epoch_ms("1e300"), None);
        assert_eq!(epoch_ms("NaN"), None);
    }

    #[test]
    fn the_transport_feature_is_found_by_schema() {
        let nsl = Schema::nsl_kdd();
        let mut record = Record {
            numeric: vec![0.0; nsl.num_numeric()],
            categorical: vec!["icmp".into(), "ecr_i".into(), "SF".into()],
        };
        assert_eq!(transport_feature(&nsl, &record), Some("icmp"));
        let unsw = Schema::unsw_nb15();
        record.categorical = vec!["ospf".into(), "-".into(), "INT".into()];
        assert_eq!(transport_feature(&unsw, &record), Some("ospf"));
    }
}
