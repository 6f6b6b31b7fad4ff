//! The OpenAPI 3.1 document, built from the code it describes: the paths from the route
//! table the router is built from ([`crate::api::ROUTES`]), the record schema from the
//! loaded models' [`Schema`], the media types from the body parser. A derive crate (utoipa)
//! would need annotations repeating what the table already says, and a proc-macro build for
//! one JSON document.

use crate::api::{ROUTES, RequestBody};
use crate::body::MEDIA_TYPES;
use nadir_data::record::SHOWN_CHARS;
use nadir_data::rejects::LISTED_PROBLEMS;
use nadir_data::{ErrorKind, Kind, Schema};
use nadir_ml::ModelKind;
use nadir_ml::ecs;
use nadir_ml::explain::{Method, Space};
use nadir_ml::model::Fired;
use nadir_ml::output::{self, ScoreKind};
use serde_json::{Map, Value, json};

/// The whole document, for records of `schema` and the models named `models` (the loaded
/// ones; with none, the record schema is an empty object and any model name is documented).
pub fn document(schema: Option<&Schema>, models: &[&str]) -> Value {
    let num_features = schema.map_or(0, Schema::num_features);
    let csv_description = match schema {
        Some(schema) => format!(
            "Rows of the {num_features} features, with a header (any column order; {} allowed and ignored){}",
            ignored_columns(schema).join(", "),
            if schema.headerless() {
                " or without (file order, then optionally the label and the schema's other columns)"
            } else {
                ""
            }
        ),
        None => "Rows of the loaded models' features, with a header".to_string(),
    };
    let mut paths = Map::new();
    for route in &ROUTES {
        let mut operation = Map::new();
        operation.insert("summary".into(), json!(route.summary));
        let mut parameters = Vec::new();
        if route.path.contains("{name}") {
            parameters.push(json!({
                "name": "name", "in": "path", "required": true,
                "description": "A model's name: its file stem in the model directory (see GET /v1/models)",
                "schema": if models.is_empty() {
                    json!({ "type": "string" })
                } else {
                    json!({ "type": "string", "enum": models })
                },
            }));
        }
        match route.body {
            RequestBody::Records => {
                parameters.push(json!({
                    "name": "on_error", "in": "query", "required": false,
                    "description": "reject (default): 422 for any bad record, nothing scored; \
                                    skip: score the valid records. Either way the first bad records \
                                    are listed in `errors` and all of them counted in `error_counts`",
                    "schema": { "type": "string", "enum": ["reject", "skip"], "default": "reject" },
                }));
                parameters.push(json!({
                    "name": "format", "in": "query", "required": false,
                    "description": "json (default): the results as JSON; ecs: one Elastic Common \
                                    Schema document per scored record, a line each \
                                    (application/x-ndjson), event.kind alert for an attack",
                    "schema": { "type": "string", "enum": ["json", "ecs"], "default": "json" },
                }));
                parameters.push(json!({
                    "name": "attacks_only", "in": "query", "required": false,
                    "description": "With format=ecs: write only the records predicted attacks (the alerts)",
                    "schema": { "type": "string", "enum": ["true", "false"], "default": "false" },
                }));
                let features = schema.map(Schema::num_features);
                parameters.push(json!({
                    "name": "explain", "in": "query", "required": false,
                    "description": format!(
                        "Explain each scored record: its K strongest features, with the record's \
                         value, the training data's typical value and a signed contribution, and \
                         the base value they add up to with every feature's (an Explanation, \
                         under `explanation`, or `nadir.explanation` with format=ecs). K from 1 \
                         to the schema's feature count (400 otherwise); at most {} records per \
                         request (413 otherwise); 422 for a model that cannot be explained",
                        crate::api::MAX_EXPLAINED_RECORDS
                    ),
                    "schema": match features {
                        Some(n) => json!({ "type": "integer", "minimum": 1, "maximum": n }),
                        None => json!({ "type": "integer", "minimum": 1 }),
                    },
                }));
                let content: Map<String, Value> = MEDIA_TYPES
                    .iter()
                    .map(|&media| {
                        let schema = match media {
                            "application/json" => json!({ "oneOf": [
                                { "$ref": "#/components/schemas/Record" },
                                { "type": "array", "minItems": 1,
                                  "items": { "$ref": "#/components/schemas/Record" } },
                            ]}),
                            "text/csv" => json!({
                                "type": "string",
                                "description": csv_description,
                            }),
                            _ => json!({
                                "type": "string",
                                "description": "One Record object per line",
                            }),
                        };
                        (media.to_string(), json!({ "schema": schema }))
                    })
                    .collect();
                operation.insert(
                    "requestBody".into(),
                    json!({ "required": true, "content": content }),
                );
            }
            RequestBody::Legacy => {
                operation.insert(
                    "requestBody".into(),
                    json!({ "required": true, "content": { "application/json": {
                        "schema": { "$ref": "#/components/schemas/LegacyRequest" } } } }),
                );
            }
            RequestBody::None => {}
        }
        if route.path == "/v1/admin/reload" {
            operation.insert("security".into(), json!([{ "bearer": [] }]));
        }
        if !parameters.is_empty() {
            operation.insert("parameters".into(), Value::Array(parameters));
        }
        let responses: Map<String, Value> = route
            .responses
            .iter()
            .map(|&(status, description)| {
                let content = match (status < 300, route.answer) {
                    (true, Some(schema)) if route.body == RequestBody::Records => json!({
                        "application/json": {
                            "schema": { "$ref": format!("#/components/schemas/{schema}") } },
                        ecs::MEDIA_TYPE: {
                            "schema": {
                                "type": "string",
                                "description": "With format=ecs: one EcsDocument per line",
                            },
                            "x-nadir-line-schema": { "$ref": "#/components/schemas/EcsDocument" },
                        },
                    }),
                    (true, Some(schema)) => json!({ "application/json": {
                        "schema": { "$ref": format!("#/components/schemas/{schema}") } } }),
                    (true, None) => json!({ "text/plain": { "schema": { "type": "string" } } }),
                    (false, _) => json!({ "application/json": {
                        "schema": { "$ref": "#/components/schemas/Error" } } }),
                };
                (
                    status.to_string(),
                    json!({ "description": description, "content": content }),
                )
            })
            .collect();
        operation.insert("responses".into(), Value::Object(responses));
        let item = paths
            .entry(route.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        item[route.method.as_str().to_ascii_lowercase()] = Value::Object(operation);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "nadir scoring service",
            "version": env!("CARGO_PKG_VERSION"),
            "description": match schema {
                Some(schema) => format!(
                    "Scores records of schema `{}`{} with the models trained by `nadir train`.",
                    schema.title(),
                    if schema.description().is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", schema.description())
                    }
                ),
                None => "Scores records with the models trained by `nadir train`; no model is loaded yet.".to_string(),
            },
            "x-nadir-schema": schema.map(Schema::title),
        },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas(schema),
        },
    })
}

/// What the server accepts for one feature ([`nadir_data::Record::from_typed`]'s rules): a
/// number, or text holding one (read like a CSV field, blanks around it allowed), for the
/// numeric kinds; non-blank text for the categorical ones.
fn feature_schema(kind: Kind) -> Value {
    let mut schema = match kind {
        Kind::Count | Kind::Indicator => json!({ "type": "number", "minimum": 0 }),
        Kind::Rate => json!({ "type": "number", "minimum": 0, "maximum": 1 }),
        Kind::Continuous => json!({ "type": "number" }),
        Kind::Categorical => json!({ "type": "string", "pattern": "\\S" }),
    };
    schema["description"] = json!(match kind {
        Kind::Categorical =>
            "categorical: text (a value never seen in training is scored, with a warning)"
                .to_string(),
        kind => format!(
            "{}: a number (text holding one, \"491\", is accepted too)",
            kind.name()
        ),
    });
    schema
}

/// The score fields, for descriptions: `probability, anomaly_score or score`.
fn score_fields() -> String {
    let fields = ScoreKind::ALL.map(ScoreKind::field);
    let (last, rest) = fields.split_last().expect("score kinds");
    format!("{} or {last}", rest.join(", "))
}

/// The columns a record may carry besides the features, which the server ignores.
fn ignored_columns(schema: &Schema) -> Vec<&str> {
    let label = schema.label();
    std::iter::once(&label.column)
        .chain(&label.binary)
        .chain(schema.never_features())
        .chain(schema.dropped().map(|f| &f.name))
        .map(String::as_str)
        .collect()
}

fn schemas(schema: Option<&Schema>) -> Value {
    let properties: Map<String, Value> = schema
        .into_iter()
        .flat_map(Schema::features)
        .map(|f| (f.name.clone(), feature_schema(f.kind)))
        .collect();
    let num_features = properties.len();
    let required: Vec<&String> = properties.keys().collect();
    let record_description = match schema {
        Some(schema) => format!(
            "One record of schema `{}`: its {num_features} features by name. Every feature \
             is required, once, under the name listed here (the server also takes any \
             spelling that differs from it only in case, underscores and spaces: a_b, AB, \
             \"A b\" all name ab); it answers 422 naming any feature missing or given twice. \
             Numbers may be sent as text; other fields ({}, your own) are ignored.",
            schema.title(),
            ignored_columns(schema).join(", ")
        ),
        None => "No model is loaded, so no record schema is known yet: load models and \
            reload to see their features here."
            .to_string(),
    };
    let legacy_description = match schema {
        Some(schema) => format!(
            "The {num_features} features of schema `{}` in file order; categories as text",
            schema.title()
        ),
        None => "The loaded models' features in file order; categories as text".to_string(),
    };
    let kinds: Vec<&str> = Kind::ALL.map(Kind::name).to_vec();
    let verdicts = [output::ATTACK, output::NORMAL];
    let mut result_properties = Map::new();
    result_properties.insert("index".into(), json!({ "type": "integer" }));
    result_properties.insert(
        "prediction".into(),
        json!({ "type": "string", "enum": verdicts }),
    );
    // One score field per result, named by what the model's score is.
    for score in ScoreKind::ALL {
        let models: Vec<&str> = score.models().map(ModelKind::name).collect();
        result_properties.insert(
            score.field().into(),
            json!({ "type": "number", "description": format!(
                "the {} ({}); a result holds exactly one of {}",
                score.description(),
                models.join(", "),
                score_fields(),
            ) }),
        );
    }
    result_properties.insert("threshold".into(), json!({ "type": "number" }));
    result_properties.insert("model".into(), json!({ "type": "string" }));
    result_properties.insert(
        "warnings".into(),
        json!({ "type": "array", "items": { "type": "string" },
            "description": "one per category value not seen in training, e.g. \
                \"service value `gopher_v2` was not seen in training (encoded as none of the known values)\"" }),
    );
    result_properties.insert(
        output::FIRED.into(),
        json!({ "type": "string", "enum": ["classifier", "novelty", "both"],
            "description": "hybrid models: which part flagged the record (absent when none did)" }),
    );
    result_properties.insert(
        output::EXPLANATION.into(),
        json!({ "$ref": "#/components/schemas/Explanation" }),
    );
    result_properties.insert(
        output::FAMILY.into(),
        json!({ "type": "string",
            "description": "the record's most probable attack family (e.g. normal, DoS, Probe, \
                R2L, U2R on NSL-KDD); absent when the model file has no family model" }),
    );
    result_properties.insert(
        output::FAMILY_PROBABILITY.into(),
        json!({ "type": "number", "minimum": 0, "maximum": 1,
            "description": "the family model's probability of `family`" }),
    );
    let error_entry = json!({
        "type": "object",
        "description": format!(
            "One problem of a listed bad record. The first bad records are listed whole, while \
             at most {LISTED_PROBLEMS} problems are listed (the first bad record always)"
        ),
        "required": ["index", "message"],
        "properties": {
            "index": { "type": "integer", "description": "0-based record index in the body" },
            "line": { "type": "integer", "description": "1-based line of the body (CSV, NDJSON)" },
            "field": { "type": "string", "description": "The feature; absent when the whole record is wrong" },
            "value": { "type": "string", "description": format!(
                "The value given, its first {SHOWN_CHARS} characters then `…` when longer") },
            "message": { "type": "string" },
        },
    });
    let counts = |what: &str| {
        json!({
            "type": "object", "additionalProperties": { "type": "integer" }, "description": what,
        })
    };
    let error_counts = json!({
        "type": "object",
        "description": "Every bad record of the body counted, listed in `errors` or not",
        "required": ["records", "problems", "unlisted_records", "unlisted_problems", "by_field", "by_problem"],
        "properties": {
            "records": { "type": "integer", "description": "Bad records" },
            "problems": { "type": "integer", "description": "Their problems: bad values, and records wrong as a whole" },
            "unlisted_records": { "type": "integer", "description": "Bad records not in `errors`" },
            "unlisted_problems": { "type": "integer", "description": "Problems not in `errors`" },
            "by_field": counts("Bad values per field"),
            "by_problem": counts(&format!(
                "Problems per kind: {}",
                ErrorKind::ALL.map(ErrorKind::name).join(", ")
            )),
        },
    });
    json!({
        "Record": {
            "type": "object",
            "description": record_description,
            "required": required,
            "properties": properties,
        },
        "Result": {
            "type": "object",
            "required": ["index", "prediction", "threshold", "model", "warnings"],
            "properties": result_properties,
        },
        "Batch": {
            "type": "object",
            "required": ["model", "results", "errors", "error_counts", "summary"],
            "properties": {
                "model": { "type": "string" },
                "results": { "type": "array", "items": { "$ref": "#/components/schemas/Result" } },
                "errors": { "type": "array", "items": { "$ref": "#/components/schemas/RecordError" } },
                "error_counts": { "$ref": "#/components/schemas/ErrorCounts" },
                "summary": { "type": "object", "properties": {
                    "records": { "type": "integer" }, "scored": { "type": "integer" },
                    "attacks": { "type": "integer" }, "normal": { "type": "integer" },
                    "rejected": { "type": "integer" } } },
            },
        },
        "Scored": { "oneOf": [
            { "$ref": "#/components/schemas/Result" },
            { "$ref": "#/components/schemas/Batch" },
        ]},
        "EcsDocument": ecs_document(),
        "Explanation": explanation(),
        "RecordError": error_entry,
        "ErrorCounts": error_counts,
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": { "type": "string" },
                "errors": { "type": "array", "items": { "$ref": "#/components/schemas/RecordError" } },
                "error_counts": { "$ref": "#/components/schemas/ErrorCounts" },
                "models": { "type": "array", "items": { "type": "string" } },
            },
        },
        "LegacyRequest": {
            "type": "object",
            "required": ["features"],
            "properties": { "features": {
                "type": "array", "minItems": num_features, "maxItems": num_features,
                "description": legacy_description,
            } },
        },
        "LegacyAnswer": {
            "type": "object",
            "properties": {
                "prediction": { "type": "integer", "enum": [0, 1] },
                "message": { "type": "string", "enum": ["Anomaly", "Normal"] },
            },
        },
        "ModelList": {
            "type": "object",
            "properties": {
                "schema": { "type": ["object", "null"],
                    "description": "The schema of the records the loaded models score (null when none is loaded)",
                    "properties": {
                        "name": { "type": "string" },
                        "title": { "type": "string", "description": "The name, and the features the models leave out if any" },
                        "description": { "type": "string" },
                        "headerless": { "type": "boolean", "description": "Whether CSV records may come without a header" },
                        "label": { "type": "string", "description": "The label column (ignored when scoring)" },
                        "other_columns": { "type": "array", "items": { "type": "string" },
                            "description": "Columns a record may carry besides the features; ignored" } } },
                "models": { "type": "array", "items": { "type": "object", "properties": {
                    "name": { "type": "string" }, "kind": { "type": "string" },
                    "schema": { "type": "string" },
                    "detector": { "type": "boolean" },
                    "score_field": { "type": "string", "enum": ScoreKind::ALL.map(ScoreKind::field),
                        "description": "The key of the score in this model's results (and the column of `nadir predict`)" },
                    "score_description": { "type": "string", "description": "What the score is, in words" },
                    "columns": { "type": "array", "items": { "type": "string" },
                        "description": "The columns of `nadir predict`'s CSV for this model" },
                    "threshold": { "type": "number" },
                    "threshold_rule": { "type": "string" }, "describe": { "type": "string" },
                    "training": { "type": "object" }, "metrics": { "type": "object" },
                    "nadir_version": { "type": "string" } } } },
                "default_model": { "type": "string",
                    "description": "The model `POST /v1/predict` uses; clients that offer a choice of models start with it when it is loaded" },
                "features": { "type": "array", "items": { "type": "object", "properties": {
                    "name": { "type": "string" },
                    "kind": { "type": "string", "enum": kinds },
                    "values": { "type": "array", "items": { "type": "string" },
                        "description": "categorical features: the values the loaded models were trained on" } } } },
            },
        },
        "Status": { "type": "object", "properties": {
            "status": { "type": "string" },
            "models": { "type": "array", "items": { "type": "string" } } } },
        "Reloaded": { "type": "object", "properties": {
            "status": { "type": "string" },
            "models": { "type": "array", "items": { "type": "string" } } } },
        "OpenApi": { "type": "object" },
    })
}

/// A line of a `format=ecs` answer ([`nadir_ml::ecs`]): the ECS fields written, with their
/// ECS types, and nadir's own under `nadir`.
fn ecs_document() -> Value {
    let keyword = json!({ "type": "string" });
    let date = json!({ "type": "string", "format": "date-time" });
    let fired = [Fired::Classifier, Fired::Novelty, Fired::Both].map(Fired::name);
    json!({
        "type": "object",
        "description": format!(
            "An Elastic Common Schema {} document: a record predicted an attack is an alert \
             (event.kind alert, event.category network and intrusion_detection), any other an \
             event (event.kind event, event.category network). @timestamp and event.created: \
             the scoring time. network.transport: the record's protocol feature, in lower case",
            ecs::ECS_VERSION
        ),
        "required": ["@timestamp", "ecs", "event", "observer", "rule", "nadir"],
        "properties": {
            "@timestamp": date,
            "ecs": { "type": "object", "properties": { "version": { "const": ecs::ECS_VERSION } } },
            "event": {
                "type": "object",
                "properties": {
                    "kind": { "type": "string", "enum": [ecs::KIND_ALERT, ecs::KIND_EVENT] },
                    "category": { "type": "array", "items": {
                        "type": "string", "enum": ["network", "intrusion_detection"] } },
                    "type": { "type": "array", "items": { "const": "info" } },
                    "module": { "const": "nadir" },
                    "dataset": { "const": ecs::DATASET },
                    "created": date,
                    "risk_score": { "type": "number", "description": "The model's score" },
                },
            },
            "observer": { "type": "object", "properties": {
                "vendor": keyword, "product": keyword, "type": keyword, "version": keyword } },
            "rule": { "type": "object", "properties": {
                "name": { "type": "string", "description": "The model's name" } } },
            "network": { "type": "object", "properties": { "transport": keyword } },
            "nadir": {
                "type": "object",
                "required": ["index", "prediction", "score", "score_kind"],
                "properties": {
                    "index": { "type": "integer", "minimum": 0,
                               "description": "The record's 0-based position in the body" },
                    "prediction": { "type": "string", "enum": [output::ATTACK, output::NORMAL] },
                    "score": { "type": ["number", "null"] },
                    "score_kind": { "type": "string",
                                    "enum": ScoreKind::ALL.map(ScoreKind::field) },
                    "fired": { "type": "string",
                               "enum": fired,
                               "description": "The hybrid only: which part flagged the record" },
                    "family": { "type": "string",
                                "description": "The record's most probable attack family, \
                                    when the model file has a family model" },
                    "family_probability": { "type": "number", "minimum": 0, "maximum": 1,
                                            "description": "The family model's probability of `family`" },
                    "warning": { "type": "string",
                                 "description": "Category values not seen in training" },
                    "explanation": { "$ref": "#/components/schemas/Explanation" },
                },
            },
        },
    })
}

/// A record's explanation with `explain=K` ([`nadir_ml::explain::TopFeatures`]).
fn explanation() -> Value {
    let spaces = [
        Space::Probability,
        Space::LogOdds,
        Space::AnomalyScore,
        Space::Distance,
        Space::ReconstructionError,
    ]
    .map(Space::name);
    let methods = [
        Method::TreeShap,
        Method::Linear,
        Method::SamplingShapley,
        Method::PathLength,
        Method::DistanceShare,
        Method::MemberMean,
        Method::ReconstructionShare,
    ]
    .map(Method::name);
    json!({
        "type": "object",
        "description": "Why the record scored as it did: its strongest features' signed \
                        contributions (positive pushes towards attack). The base plus every \
                        feature's contribution is the explained output, of which these are the \
                        K largest in magnitude; features contributing nothing are left out",
        "required": ["space", "base", "features", "explanation_method"],
        "properties": {
            "space": { "type": "string", "enum": spaces,
                       "description": "What the contributions add up to: the probability of \
                                       attack, its log-odds (gradient boosting, the linear \
                                       models), the isolation forest's anomaly score, or a \
                                       hybrid's novelty distance" },
            "explanation_method": { "type": "string", "enum": methods,
                       "description": "How the contributions were computed" },
            "explained_part": { "type": "string", "enum": ["classifier", "novelty"],
                       "description": "Hybrids only: the part explained, the one that decided" },
            "nearest_normal": { "type": "object", "additionalProperties": { "type": "string" },
                       "description": "Hybrids explained by distance shares: the most similar \
                                       normal training connection, feature by feature" },
            "base": { "type": "number",
                      "description": "The model's expected output over its training rows, \
                                      knowing nothing of the record" },
            "features": { "type": "array", "items": {
                "type": "object",
                "required": ["feature", "value", "contribution"],
                "properties": {
                    "feature": { "type": "string" },
                    "value": { "type": "string", "description": "The record's value, as text" },
                    "typical": { "type": "string",
                                 "description": "The training data's median (numeric \
                                                 features) or most frequent value \
                                                 (categorical features)" },
                    "contribution": { "type": "number" },
                },
            } },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_and_feature_is_documented() {
        let nsl = Schema::nsl_kdd();
        let doc = document(Some(&nsl), &["random_forest"]);
        for route in &ROUTES {
            let method = route.method.as_str().to_ascii_lowercase();
            assert!(
                doc["paths"][route.path][&method].is_object(),
                "{} {}",
                route.method,
                route.path
            );
        }
        let record = &doc["components"]["schemas"]["Record"];
        assert_eq!(record["properties"].as_object().unwrap().len(), 41);
        assert_eq!(record["required"].as_array().unwrap().len(), 41);
        let name = &doc["paths"]["/v1/models/{name}/predict"]["post"]["parameters"][0];
        assert_eq!(name["schema"]["enum"], json!(["random_forest"]));
        assert_eq!(
            record["properties"]["dsthostsrvrerrorrate"]["maximum"],
            json!(1)
        );
        assert_eq!(record["properties"]["service"]["type"], json!("string"));
        assert_eq!(doc["info"]["x-nadir-schema"], json!("nsl-kdd"));
        // A result's score field is documented under every name a model scores by.
        for kind in ModelKind::ALL {
            let field = &doc["components"]["schemas"]["Result"]["properties"][kind.score_field()];
            assert!(
                field["description"].as_str().unwrap().contains(kind.name()),
                "{kind}: {field}"
            );
        }
        // The scoring routes document `format=ecs`, `attacks_only` and the ECS answer.
        let predict = &doc["paths"]["/v1/predict"]["post"];
        let names: Vec<&str> = predict["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["on_error", "format", "attacks_only", "explain"]);
        assert_eq!(predict["parameters"][3]["schema"]["maximum"], json!(41));
        let explanation = &doc["components"]["schemas"]["Explanation"];
        assert_eq!(
            explanation["properties"]["space"]["enum"],
            json!([
                "probability",
                "log_odds",
                "anomaly_score",
                "distance",
                "reconstruction_error"
            ])
        );
        assert!(predict["responses"]["200"]["content"][ecs::MEDIA_TYPE].is_object());
        // Every reference points at a schema that exists, with or without a loaded schema.
        let empty = document(None, &[]);
        assert_eq!(
            empty["components"]["schemas"]["Record"]["properties"],
            json!({})
        );
        for doc in [doc, empty] {
            let text = doc.to_string();
            for piece in text.split("#/components/schemas/").skip(1) {
                let name = &piece[..piece.find('"').unwrap()];
                assert!(
                    doc["components"]["schemas"][name].is_object(),
                    "dangling $ref {name}"
                );
            }
        }
    }
}
