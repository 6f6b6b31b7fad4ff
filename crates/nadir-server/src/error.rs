//! Every error the API answers with: a status and a JSON body that always holds an `error`
//! string, so a client can show any failure the same way.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
}

/// A bad record or field of a request body: which record (0-based), on which line of the
/// body (CSV and NDJSON), which field, the value given and what is wrong with it.
pub use nadir_data::json::RecordError;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: json!({ "error": message.into() }),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 naming the model asked for and the ones that exist.
    pub fn unknown_model(name: &str, known: Vec<&str>, hint: Option<String>) -> ApiError {
        let mut message = format!("no model named `{name}` is loaded");
        if let Some(hint) = hint {
            message.push_str("; ");
            message.push_str(&hint);
        }
        ApiError {
            status: StatusCode::NOT_FOUND,
            body: json!({ "error": message, "models": known }),
        }
    }

    /// 422 listing every bad field of every record. `can_skip`: the route and body allow
    /// `?on_error=skip` (a batch on a `/v1` route), so the message may suggest it.
    pub fn invalid_records(errors: Vec<RecordError>, records: usize, can_skip: bool) -> ApiError {
        let bad: std::collections::BTreeSet<usize> = errors.iter().map(|e| e.index).collect();
        let mut message = format!(
            "{} of {records} record(s) are invalid ({} problem(s)); nothing was scored",
            bad.len(),
            errors.len()
        );
        if can_skip {
            message.push_str(" (send ?on_error=skip to score the valid ones)");
        }
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({ "error": message, "errors": errors }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, json_bytes(&self.body, 128)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

/// A value as a JSON response body.
pub fn json_response(status: StatusCode, value: &impl Serialize) -> Response {
    json_response_with_capacity(status, 256, value)
}

/// [`json_response`] written into a buffer of `capacity` bytes to start with: a large answer
/// sized in advance is not copied as it grows.
pub fn json_response_with_capacity(
    status: StatusCode,
    capacity: usize,
    value: &impl Serialize,
) -> Response {
    let mut response = (status, json_bytes(value, capacity)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn json_bytes(value: &impl Serialize, capacity: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut bytes, value) {
        Ok(()) => bytes,
        Err(_) => br#"{"error":"the response could not be encoded"}"#.to_vec(),
    }
}
