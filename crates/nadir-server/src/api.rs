//! The routes: one table ([`ROUTES`]) that both builds the router and writes the OpenAPI
//! document, so the two cannot drift apart. Handlers are thin: they read the request, call
//! [`AppState`] and the body parser, and shape the JSON answer.

use crate::body::{self, AnswerFormat, Batch, Format, OnError, ScoreQuery};
use crate::error::{ApiError, RecordError, json_response, json_response_with_capacity};
use crate::models::{DEFAULT_CLASSIFIER, DEFAULT_DETECTOR, LoadedModel, training_hint};
use crate::state::{AppState, Slot};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use nadir_data::UnseenCategory;
use nadir_data::rejects::ErrorCounts;
use nadir_ml::ModelKind;
use nadir_ml::explain::TopFeatures;
use nadir_ml::file::Prediction;
use nadir_ml::tree::IN_PLACE_ROWS;
use nadir_ml::{ecs, output};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Bodies larger than this are parsed and scored on rayon's pool, so that a big batch never
/// stalls the async workers that serve everyone else; smaller ones (a few records) are
/// parsed in place, and scored in place by the models that do so without the pool (the
/// tree models, up to `IN_PLACE_ROWS` records), cheaper than handing them over.
const INLINE_BODY_BYTES: usize = 16 * 1024;

/// The most records one request may have explained (`?explain=K`). An explanation costs
/// hundreds of times a prediction (every tree walked down both sides of its splits), so
/// without a cap one request could hold every core for minutes; a larger batch is refused
/// whole (413), before any work, and is sent in pieces of this size instead.
pub const MAX_EXPLAINED_RECORDS: usize = 1000;

// Bodies parsed in place must be parsed without rayon's pool, which only larger ones use.
const _: () = assert!(
    INLINE_BODY_BYTES < body::PARALLEL_JSON_BYTES && INLINE_BODY_BYTES < body::PARALLEL_CSV_BYTES
);

/// What a route takes as its body, for the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBody {
    None,
    /// One record, an array of records, CSV or NDJSON.
    Records,
    /// `{"features": [every feature's value in file order]}`.
    Legacy,
}

/// One route of the API.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    pub body: RequestBody,
    /// The component schema of the success answer (`None`: plain text).
    pub answer: Option<&'static str>,
    /// Status codes the route answers with, and when.
    pub responses: &'static [(u16, &'static str)],
    handler: fn() -> MethodRouter<Arc<AppState>>,
}

const SCORE_RESPONSES: &[(u16, &str)] = &[
    (
        200,
        "One result for one JSON object; otherwise the results, the skipped records (the first listed, all counted) and a summary. With format=ecs: one ECS document per scored record (per attack with attacks_only=true), a line each",
    ),
    (
        400,
        "Malformed JSON, CSV or NDJSON, an empty body, or a bad query parameter (attacks_only=true without format=ecs; explain=K with K not from 1 to the schema's feature count)",
    ),
    (404, "No such model is loaded"),
    (
        413,
        "The body is larger than the server's limit, or explain=K asks to explain more than 1000 records (MAX_EXPLAINED_RECORDS)",
    ),
    (
        415,
        "The content type is not JSON, CSV or NDJSON, or the body is compressed (Content-Encoding)",
    ),
    (
        422,
        "Invalid records (with on_error=reject, or a single object): every bad field of the first ones, all of them counted; or explain=K for a model that cannot be explained (the reason)",
    ),
    (503, "The request timed out"),
];

/// Every API route. The web page's routes (`/`, `/report`) come from [`crate::web`].
pub static ROUTES: [Route; 10] = [
    Route {
        method: Method::POST,
        path: "/v1/models/{name}/predict",
        summary: "Score records with the named model",
        body: RequestBody::Records,
        answer: Some("Scored"),
        responses: SCORE_RESPONSES,
        handler: || post(predict_named),
    },
    Route {
        method: Method::POST,
        path: "/v1/predict",
        summary: "Score records with the default classifier (random_forest)",
        body: RequestBody::Records,
        answer: Some("Scored"),
        responses: SCORE_RESPONSES,
        handler: || post(predict_default),
    },
    Route {
        method: Method::POST,
        path: "/v1/anomaly",
        summary: "Score records with the default anomaly detector (isolation_forest)",
        body: RequestBody::Records,
        answer: Some("Scored"),
        responses: SCORE_RESPONSES,
        handler: || post(anomaly),
    },
    Route {
        method: Method::POST,
        path: "/predict",
        summary: "The original Flask apps' contract: one value per feature in file order, random_forest",
        body: RequestBody::Legacy,
        answer: Some("LegacyAnswer"),
        responses: &[
            (
                200,
                "1 and \"Anomaly\" for an attack, 0 and \"Normal\" otherwise",
            ),
            (400, "Malformed JSON or no `features` array"),
            (404, "random_forest is not loaded"),
            (413, "The body is larger than the server's limit"),
            (
                415,
                "The content type is not JSON, or the body is compressed (Content-Encoding)",
            ),
            (422, "Not one value per feature, or invalid values"),
        ],
        handler: || post(legacy_predict),
    },
    Route {
        method: Method::GET,
        path: "/v1/models",
        summary: "The loaded models and the schema of the records they score",
        body: RequestBody::None,
        answer: Some("ModelList"),
        responses: &[(200, "The models")],
        handler: || get(list_models),
    },
    Route {
        method: Method::GET,
        path: "/healthz",
        summary: "Liveness: the process answers",
        body: RequestBody::None,
        answer: Some("Status"),
        responses: &[(200, "Alive")],
        handler: || get(healthz),
    },
    Route {
        method: Method::GET,
        path: "/readyz",
        summary: "Readiness: at least one model is loaded and the server is not saturated; its load against the limits",
        body: RequestBody::None,
        answer: Some("Status"),
        responses: &[
            (200, "Ready"),
            (
                503,
                "No model is loaded, or every scoring slot is in use, or the connection limit is reached",
            ),
        ],
        handler: || get(readyz),
    },
    Route {
        method: Method::GET,
        path: "/metrics",
        summary: "Prometheus metrics: requests and latency by route and model, predictions by class",
        body: RequestBody::None,
        answer: None,
        responses: &[(200, "Prometheus text format")],
        handler: || get(metrics),
    },
    Route {
        method: Method::GET,
        path: "/openapi.json",
        summary: "This document",
        body: RequestBody::None,
        answer: Some("OpenApi"),
        responses: &[(200, "The OpenAPI 3.1 document")],
        handler: || get(openapi),
    },
    Route {
        method: Method::POST,
        path: "/v1/admin/reload",
        summary: "Reload every model file atomically (bearer token from NADIR_ADMIN_TOKEN)",
        body: RequestBody::None,
        answer: Some("Reloaded"),
        responses: &[
            (200, "The new models are serving"),
            (401, "Missing or wrong bearer token"),
            (
                404,
                "Disabled: the server was started without NADIR_ADMIN_TOKEN",
            ),
            (
                409,
                "A model file is bad: nothing changed, the previous models keep serving",
            ),
        ],
        handler: || post(admin_reload),
    },
];

/// The API router: [`ROUTES`] with JSON answers for unknown paths and wrong methods.
pub fn router() -> axum::Router<Arc<AppState>> {
    ROUTES
        .iter()
        .fold(axum::Router::new(), |router, route| {
            router.route(route.path, (route.handler)())
        })
        .method_not_allowed_fallback(method_not_allowed)
}

pub async fn not_found(request: Request) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route for {} {}", request.method(), request.uri().path()),
    )
    .into_response()
}

async fn method_not_allowed(request: Request) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
    .into_response()
}

/// The name of the model a request used, for the metrics and the request log.
#[derive(Debug, Clone)]
pub struct ModelLabel(pub String);

async fn predict_named(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    slot: Option<Extension<Slot>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    score_route(state, &name, query, slot, &headers, body).await
}

async fn predict_default(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    slot: Option<Extension<Slot>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    score_route(state, DEFAULT_CLASSIFIER, query, slot, &headers, body).await
}

async fn anomaly(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    slot: Option<Extension<Slot>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    score_route(state, DEFAULT_DETECTOR, query, slot, &headers, body).await
}

async fn score_route(
    state: Arc<AppState>,
    name: &str,
    query: Option<String>,
    slot: Option<Extension<Slot>>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let model = match find_model(&state, name) {
        Ok(model) => model,
        Err(e) => return e.into_response(),
    };
    let label = ModelLabel(model.name.clone());
    let mut response = score(
        state,
        model,
        query,
        slot.map(|Extension(slot)| slot),
        headers,
        body,
    )
    .await
    .unwrap_or_else(IntoResponse::into_response);
    response.extensions_mut().insert(label);
    response
}

fn find_model(state: &AppState, name: &str) -> Result<Arc<LoadedModel>, ApiError> {
    let models = state.models();
    models.get(name).cloned().ok_or_else(|| {
        ApiError::unknown_model(name, models.names(), training_hint(name, &models.dir))
    })
}

fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        let status = rejection.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "the body is larger than the server's limit (--max-body)".to_string()
        } else {
            format!("cannot read the body: {}", rejection.body_text())
        };
        ApiError::new(status, message)
    })
}

async fn score(
    state: Arc<AppState>,
    model: Arc<LoadedModel>,
    query: Option<String>,
    slot: Option<Slot>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let query = ScoreQuery::from_query(query.as_deref())?;
    if let Some(k) = query.explain {
        check_explain(k, &model)?;
    }
    let format = Format::from_headers(headers)?;
    let body = body_bytes(body)?;
    // Explanations cost far more than scores: always on the pool, never on an async worker.
    if body.len() > INLINE_BODY_BYTES || query.explain.is_some() {
        return on_rayon(slot, move || {
            let batch = body::parse(format, &body, &model.fields)?;
            answer(&state, &model, batch, query)
        })
        .await;
    }
    let batch = body::parse(format, &body, &model.fields)?;
    let (kind, records) = (model.model.kind(), batch.records.len());
    score_small(kind, records, slot, move || {
        answer(&state, &model, batch, query)
    })
    .await
}

/// `explain=K` asks for at most as many features as the model's schema has.
fn check_explain(k: usize, model: &LoadedModel) -> Result<(), ApiError> {
    let schema = model.model.pipeline.schema();
    let features = schema.num_features();
    if k > features {
        return Err(ApiError::bad_request(format!(
            "explain must be a number of features from 1 to {features} (the features of \
             the {} schema), got `{k}`",
            schema.name()
        )));
    }
    Ok(())
}

/// Each record's `k` strongest features ([`nadir_ml::explain`]): 413 for more than
/// [`MAX_EXPLAINED_RECORDS`] records, 422 with the reason for a model that cannot be
/// explained.
fn explain(
    model: &LoadedModel,
    records: &[nadir_data::Record],
    k: usize,
) -> Result<Vec<TopFeatures>, ApiError> {
    if records.len() > MAX_EXPLAINED_RECORDS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "explain: at most {MAX_EXPLAINED_RECORDS} records are explained per request \
                 (MAX_EXPLAINED_RECORDS), this one has {}; send them in smaller batches",
                records.len()
            ),
        ));
    }
    model.model.explain_top(records, k).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("explain: cannot explain {}'s predictions: {e}", model.name),
        )
    })
}

/// Runs the scoring `work` of a small batch of `records` records in place when a model of
/// `kind` scores that many without rayon's pool, and on the pool otherwise ([`on_rayon`]).
async fn score_small(
    kind: ModelKind,
    records: usize,
    slot: Option<Slot>,
    work: impl FnOnce() -> Result<Response, ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    if kind.scores_small_batches_in_place() && records <= IN_PLACE_ROWS {
        work()
    } else {
        on_rayon(slot, work).await
    }
}

/// Runs `work` on rayon's pool and waits for it without holding up the async worker.
///
/// Rayon's pool rather than tokio's blocking pool: parsing a large body and scoring it run
/// on rayon's threads anyway, and a blocking thread would only hand the work over and wait
/// for it, twice per batch. And no async worker ever waits for rayon itself: a model that
/// scores even a small batch through the pool could wait there behind a long batch, and the
/// worker with it, with every connection it serves. The job keeps the request's slot until
/// it ends, even if the request has timed out or its client has gone; a job whose client
/// has gone before it starts does nothing.
async fn on_rayon(
    slot: Option<Slot>,
    work: impl FnOnce() -> Result<Response, ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    let (done, result) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let _slot = slot;
        if !done.is_closed() {
            let _ = done.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)));
        }
    });
    match result.await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) | Err(_) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "scoring failed: the scoring task panicked",
        )),
    }
}

fn answer(
    state: &AppState,
    model: &LoadedModel,
    batch: Batch,
    query: ScoreQuery,
) -> Result<Response, ApiError> {
    let rejected = batch.rejects.len();
    if rejected > 0 && (query.on_error == OnError::Reject || batch.single) {
        state
            .metrics
            .predictions(&model.name, 0, 0, rejected as u64);
        return Err(ApiError::invalid_records(
            &batch.rejects,
            batch.total,
            !batch.single,
        ));
    }
    let explanations = match query.explain {
        Some(k) => Some(explain(model, &batch.records, k)?),
        None => None,
    };
    let predictions = model.model.predict(&batch.records, None);
    let attacks = predictions.iter().filter(|p| p.is_attack).count();
    let normal = predictions.len() - attacks;
    state
        .metrics
        .predictions(&model.name, attacks as u64, normal as u64, rejected as u64);
    if query.format == AnswerFormat::Ecs {
        return Ok(ecs_answer(
            model,
            &batch,
            &predictions,
            explanations.as_deref(),
            query.attacks_only,
        ));
    }
    let results: Vec<ResultOut> = batch
        .indices
        .iter()
        .zip(&predictions)
        .enumerate()
        .map(|(i, (&index, prediction))| ResultOut {
            index,
            prediction,
            model,
            explanation: explanations.as_ref().map(|e| &e[i]),
        })
        .collect();
    if batch.single {
        return Ok(json_response(StatusCode::OK, &results[0]));
    }
    let errors: Vec<RecordError> = batch.rejects.errors().collect();
    // Sized for the answer (a result is 110–130 bytes, more with warnings), so that it is
    // written once rather than copied as it grows.
    let capacity = 512 + 160 * results.len() + 200 * errors.len();
    Ok(json_response_with_capacity(
        StatusCode::OK,
        capacity,
        &BatchOut {
            model: &model.name,
            results,
            errors,
            error_counts: batch.rejects.counts(),
            summary: Summary {
                records: batch.total,
                scored: predictions.len(),
                attacks,
                normal,
                rejected,
            },
        },
    ))
}

/// The answer with `format=ecs`: one ECS document per scored record (per predicted attack
/// with `attacks_only`), a line each, stamped with the scoring time; the records' transport
/// feature fills `network.transport` (a request's records carry no addresses); with
/// `explanations` (one per record), each document's `nadir.explanation`.
fn ecs_answer(
    model: &LoadedModel,
    batch: &Batch,
    predictions: &[Prediction],
    explanations: Option<&[TopFeatures]>,
    attacks_only: bool,
) -> Response {
    let scoring = ecs::Scoring {
        rule: &model.name,
        kind: model.model.kind(),
        at: std::time::SystemTime::now(),
    };
    let schema = model.model.pipeline.schema();
    let mut body = Vec::with_capacity(640 * predictions.len());
    for (i, ((&index, prediction), record)) in batch
        .indices
        .iter()
        .zip(predictions)
        .zip(&batch.records)
        .enumerate()
    {
        if attacks_only && !prediction.is_attack {
            continue;
        }
        let subject = ecs::Subject::new([], ecs::transport_feature(schema, record));
        let mut document = ecs::document(&scoring, ecs::Place::Index(index), prediction, &subject);
        if let Some(explanations) = explanations {
            ecs::add_explanation(&mut document, &explanations[i]);
        }
        body.extend_from_slice(document.to_string().as_bytes());
        body.push(b'\n');
    }
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(ecs::MEDIA_TYPE),
    );
    response
}

/// The answer to anything but one JSON object.
#[derive(Serialize)]
struct BatchOut<'a> {
    model: &'a str,
    results: Vec<ResultOut<'a>>,
    /// Every problem of the first bad records.
    errors: Vec<RecordError>,
    /// Every bad record counted.
    error_counts: ErrorCounts<'a>,
    summary: Summary,
}

#[derive(Serialize)]
struct Summary {
    records: usize,
    scored: usize,
    attacks: usize,
    normal: usize,
    rejected: usize,
}

/// One scored record as the API writes it.
struct ResultOut<'a> {
    index: usize,
    prediction: &'a Prediction,
    model: &'a LoadedModel,
    /// With `explain=K`: the record's strongest features.
    explanation: Option<&'a TopFeatures>,
}

/// Writes every field of [`Prediction`]: `is_attack` as `prediction` (`attack` or `normal`),
/// `score` under the model's [`ModelKind::score_field`] (`probability`, `anomaly_score` or
/// `score`: [`nadir_ml::output`]), `unseen` as `warnings`, and the rest under their own names
/// (`fired`); then, when asked for, the explanation under [`output::EXPLANATION`]. Written field by field rather than through a `serde_json::Value` of the
/// prediction, which cost a map per record. The prediction is destructured without `..`, so
/// a field added to `Prediction` does not compile here until it is written
/// (`result_writes_every_field_of_a_prediction` checks the serialised names).
impl Serialize for ResultOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Prediction {
            is_attack,
            score,
            unseen,
            fired,
            family,
        } = self.prediction;
        let saved = &self.model.model;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("index", &self.index)?;
        map.serialize_entry("prediction", output::verdict(*is_attack))?;
        map.serialize_entry(saved.kind().score_field(), score)?;
        map.serialize_entry("threshold", &saved.threshold)?;
        map.serialize_entry("model", &self.model.name)?;
        map.serialize_entry("warnings", &Warnings(unseen))?;
        if let Some(fired) = fired {
            map.serialize_entry(output::FIRED, fired)?;
        }
        if let Some(family) = family {
            map.serialize_entry(output::FAMILY, &family.family)?;
            map.serialize_entry(output::FAMILY_PROBABILITY, &family.probability)?;
        }
        if let Some(explanation) = self.explanation {
            map.serialize_entry(output::EXPLANATION, explanation)?;
        }
        map.end()
    }
}

/// A result's warnings: one sentence per unseen category value, in
/// [`UnseenCategory`]'s wording (the one `nadir predict` writes).
struct Warnings<'a>(&'a [UnseenCategory]);

impl Serialize for Warnings<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(ToString::to_string))
    }
}

async fn legacy_predict(
    State(state): State<Arc<AppState>>,
    slot: Option<Extension<Slot>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let model = match find_model(&state, DEFAULT_CLASSIFIER) {
        Ok(model) => model,
        Err(e) => return e.into_response(),
    };
    let label = ModelLabel(model.name.clone());
    let slot = slot.map(|Extension(slot)| slot);
    let mut response = legacy_answer(&state, &model, slot, &headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    response.extensions_mut().insert(label);
    response
}

async fn legacy_answer(
    state: &Arc<AppState>,
    model: &Arc<LoadedModel>,
    slot: Option<Slot>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    if Format::from_headers(headers)? != Format::Json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "POST /predict takes application/json: {{\"features\": [{}]}}",
                model.fields.in_file_order()
            ),
        ));
    }
    let body = body_bytes(body)?;
    let record = body::parse_legacy(&body, &model.fields)?.map_err(|rejects| {
        state.metrics.predictions(&model.name, 0, 0, 1);
        ApiError::invalid_records(&rejects, 1, false)
    })?;
    let kind = model.model.kind();
    let (state, model) = (Arc::clone(state), Arc::clone(model));
    score_small(kind, 1, slot, move || legacy_scored(&state, &model, record)).await
}

/// The original apps' answer for one record.
fn legacy_scored(
    state: &AppState,
    model: &LoadedModel,
    record: nadir_data::Record,
) -> Result<Response, ApiError> {
    let prediction = &model.model.predict(std::slice::from_ref(&record), None)[0];
    let attack = prediction.is_attack;
    state
        .metrics
        .predictions(&model.name, u64::from(attack), u64::from(!attack), 0);
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "prediction": u8::from(attack),
            "message": if attack { "Anomaly" } else { "Normal" },
        }),
    ))
}

async fn list_models(State(state): State<Arc<AppState>>) -> Response {
    let models = state.models();
    let summaries: Vec<&serde_json::Value> = models.iter().map(|m| &m.summary).collect();
    let Some(schema) = models.schema() else {
        return json_response(
            StatusCode::OK,
            &json!({ "schema": null, "models": summaries, "default_model": DEFAULT_CLASSIFIER, "features": [] }),
        );
    };
    // The category values some loaded model was trained on, so a client (the web page's
    // form) can offer them; any other value is still accepted, with a warning.
    let mut categorical = 0;
    let features: Vec<serde_json::Value> = schema
        .features()
        .map(|f| {
            if f.kind != nadir_data::Kind::Categorical {
                return json!({ "name": f.name, "kind": f.kind.name() });
            }
            let values: BTreeSet<&str> = models
                .iter()
                .flat_map(|m| m.model.pipeline.vocabulary(categorical))
                .map(String::as_str)
                .collect();
            categorical += 1;
            json!({ "name": f.name, "kind": f.kind.name(), "values": values })
        })
        .collect();
    let label = schema.label();
    // The columns a record may carry besides the features, which the server ignores.
    let other_columns: Vec<&str> = std::iter::once(&label.column)
        .chain(&label.binary)
        .chain(schema.never_features())
        .chain(schema.dropped().map(|f| &f.name))
        .map(String::as_str)
        .collect();
    json_response(
        StatusCode::OK,
        &json!({
            "schema": {
                "name": schema.name(),
                "title": schema.title(),
                "description": schema.description(),
                "headerless": schema.headerless(),
                "label": label.column,
                "other_columns": other_columns,
            },
            "models": summaries,
            "default_model": DEFAULT_CLASSIFIER,
            "features": features,
        }),
    )
}

async fn healthz() -> Response {
    json_response(StatusCode::OK, &json!({ "status": "ok" }))
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let models = state.models();
    let load = state.load();
    if models.is_empty() {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({
                "error": format!(
                    "no model is loaded from {}; train some with `nadir train --out {}` then reload",
                    models.dir.display(),
                    models.dir.display()
                ),
                "models": [],
                "load": load,
            }),
        );
    }
    if let Some(why) = load.saturation() {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({ "error": why, "models": models.names(), "load": load }),
        );
    }
    json_response(
        StatusCode::OK,
        &json!({ "status": "ready", "models": models.names(), "load": load }),
    )
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let text = state.metrics.render(&state.load());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

async fn openapi(State(state): State<Arc<AppState>>) -> Response {
    let models = state.models();
    json_response(
        StatusCode::OK,
        &crate::openapi::document(models.schema().map(|s| &**s), &models.names()),
    )
}

async fn admin_reload(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let Some(token) = state.admin_token() else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "the reload endpoint is disabled: start the server with NADIR_ADMIN_TOKEN set \
             (SIGHUP reloads too)",
        )
        .into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
        let mut response = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "a valid `Authorization: Bearer <NADIR_ADMIN_TOKEN>` header is required",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    let reloading = state.clone();
    match tokio::task::spawn_blocking(move || reloading.reload()).await {
        Ok(Ok(names)) => json_response(
            StatusCode::OK,
            &json!({ "status": "reloaded", "models": names }),
        ),
        Ok(Err(e)) => json_response(
            StatusCode::CONFLICT,
            &json!({
                "error": format!("reload failed; the previous models keep serving: {e}"),
                "models": state.models().names(),
            }),
        ),
        Err(e) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reload failed: {e}"),
        )
        .into_response(),
    }
}

/// Compares secrets without an early exit, so the time taken does not reveal how much of a
/// guessed token was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_writes_every_field_of_a_prediction() {
        let prediction = Prediction {
            is_attack: true,
            score: 0.75,
            unseen: vec![UnseenCategory {
                row: 0,
                feature: "service".into(),
                value: "quantum".into(),
            }],
            fired: Some(nadir_ml::model::Fired::Both),
            family: Some(nadir_ml::family::FamilyPrediction {
                family: "DoS".into(),
                probability: 0.5,
            }),
        };
        let serde_json::Value::Object(fields) = serde_json::to_value(&prediction).unwrap() else {
            panic!("a prediction serialises as an object")
        };
        let written = [
            "is_attack",
            "score",
            "unseen",
            "fired",
            "family",
            "family_probability",
        ];
        for key in fields.keys() {
            assert!(
                written.contains(&key.as_str()),
                "Prediction has a field `{key}` that ResultOut does not write"
            );
        }
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
