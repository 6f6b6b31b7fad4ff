//! Every error the API answers with: a status and a JSON body that always holds an `error`
//! string, so a client can show any failure the same way. That includes the answers hyper
//! gives itself to requests it cannot parse ([`JsonHeadErrors`]).

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nadir_data::Rejects;
use serde::Serialize;
use serde_json::{Value, json};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
    /// Headers the answer carries besides its content type (few and rare: a list, which
    /// keeps the error small where it is returned).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// A problem of a listed bad record of a request body: which record (0-based), on which line
/// of the body (CSV and NDJSON), which field, the value given and what is wrong with it.
pub use nadir_data::rejects::RecordError;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: json!({ "error": message.into() }),
            headers: Vec::new(),
        }
    }

    /// The error with `name: value` among its answer's headers.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> ApiError {
        self.headers.push((name, value));
        self
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
            headers: Vec::new(),
        }
    }

    /// 422 for a body with bad records: `errors` lists every problem of the first ones
    /// ([`Rejects::errors`]), `error_counts` counts them all. `records`: the body's records,
    /// valid or not. `can_skip`: the route and body allow `?on_error=skip` (a batch on a
    /// `/v1` route), so the message may suggest it.
    pub fn invalid_records(rejects: &Rejects, records: usize, can_skip: bool) -> ApiError {
        let mut message = format!(
            "{} of {records} record(s) are invalid ({} problem(s)); nothing was scored",
            rejects.len(),
            rejects.problems()
        );
        if rejects.unlisted() > 0 {
            message.push_str(&format!(
                "; `errors` lists the first {} of them, `error_counts` counts all",
                rejects.listed().len()
            ));
        }
        if can_skip {
            message.push_str(" (send ?on_error=skip to score the valid ones)");
        }
        let errors: Vec<RecordError> = rejects.errors().collect();
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({ "error": message, "errors": errors, "error_counts": rejects.counts() }),
            headers: Vec::new(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, json_bytes(&self.body, 128)).into_response();
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        headers.insert(
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

/// A connection on which hyper's own error answers get a JSON body like every other error.
///
/// hyper answers a request whose head it cannot parse (a header holding a NUL or another
/// control character, a malformed request line, headers or a URI too long) itself, before
/// any route or middleware sees it: a 400, 431 or 414 with an empty body, and it offers no
/// hook to change that. This wrapper of the connection's socket recognises that answer as
/// hyper writes it (one of those statuses, headers only, an empty body and no content type:
/// every answer of the routes has one) and writes in its place the same head with a JSON body
/// saying what was wrong. Anything else is written as is.
pub struct JsonHeadErrors<IO> {
    io: IO,
    replacing: Option<Replacing>,
}

/// A JSON answer being written in place of hyper's.
struct Replacing {
    answer: Vec<u8>,
    written: usize,
    /// The length of hyper's answer, reported as written once ours is.
    replaced: usize,
}

impl<IO> JsonHeadErrors<IO> {
    pub fn new(io: IO) -> JsonHeadErrors<IO> {
        JsonHeadErrors {
            io,
            replacing: None,
        }
    }
}

impl<IO: AsyncWrite + Unpin> JsonHeadErrors<IO> {
    /// Writes the answer being replaced; done, reports hyper's as written.
    fn write_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Self { io, replacing } = self;
        let Some(r) = replacing else {
            return Poll::Ready(Ok(0));
        };
        while r.written < r.answer.len() {
            match ready!(Pin::new(&mut *io).poll_write(cx, &r.answer[r.written..]))? {
                0 => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                n => r.written += n,
            }
        }
        let replaced = r.replaced;
        *replacing = None;
        Poll::Ready(Ok(replaced))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for JsonHeadErrors<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for JsonHeadErrors<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.replacing.is_none()
            && let Some(answer) = json_head_error(buf)
        {
            this.replacing = Some(Replacing {
                answer,
                written: 0,
                replaced: buf.len(),
            });
        }
        if this.replacing.is_some() {
            return this.write_replacement(cx);
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut filled = bufs.iter().filter(|b| !b.is_empty());
        if this.replacing.is_none()
            && let (Some(only), None) = (filled.next(), filled.next())
            && let Some(answer) = json_head_error(only)
        {
            this.replacing = Some(Replacing {
                answer,
                written: 0,
                replaced: only.len(),
            });
        }
        if this.replacing.is_some() {
            return this.write_replacement(cx);
        }
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// The answer to write instead of `bytes` when they are hyper's own answer to a request it
/// could not parse: a 400, 414 or 431 head alone, with `content-length: 0` and no content
/// type. The same head, its length and type those of a JSON body saying what was wrong.
fn json_head_error(bytes: &[u8]) -> Option<Vec<u8>> {
    let head = std::str::from_utf8(bytes).ok()?.strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let code = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))?;
    let message = match code.get(..3)? {
        "400" => {
            "the request could not be read: its request line or a header is malformed \
             (header values cannot hold control characters such as NUL)"
        }
        "414" => "the request's URI is too long",
        "431" => "the request's headers are too large",
        _ => return None,
    };
    let mut kept = vec![status_line];
    let mut empty = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        if name.eq_ignore_ascii_case("content-type") {
            return None;
        }
        if name.eq_ignore_ascii_case("content-length") {
            empty = value.trim() == "0";
        } else {
            kept.push(line);
        }
    }
    if !empty {
        return None;
    }
    let body = json_bytes(&json!({ "error": message }), 160);
    let mut answer = kept.join("\r\n").into_bytes();
    answer.extend_from_slice(
        format!(
            "\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    answer.extend(body);
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYPER_400: &[u8] = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: Thu, 03 Dec 2026 12:24:21 GMT\r\n\r\n";

    #[test]
    fn only_hypers_empty_answers_to_unreadable_requests_are_replaced() {
        let answer = String::from_utf8(json_head_error(HYPER_400).unwrap()).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ndate: "));
        assert!(head.contains("content-type: application/json"));
        assert!(head.ends_with(&format!("content-length: {}", body.len())));
        let body: Value = serde_json::from_str(body).unwrap();
        assert!(body["error"].as_str().unwrap().contains("NUL"));
        let too_large = String::from_utf8_lossy(HYPER_400)
            .replace("400 Bad Request", "431 Request Header Fields Too Large");
        assert!(json_head_error(too_large.as_bytes()).is_some());
        for other in [
            // Another status, a body, a content type, more than a head, less than a head.
            String::from_utf8_lossy(HYPER_400).replace("400 Bad Request", "404 Not Found"),
            String::from_utf8_lossy(HYPER_400).replace("content-length: 0", "content-length: 2"),
            String::from_utf8_lossy(HYPER_400)
                .replace("date:", "content-type: text/plain\r\ndate:"),
            format!("{}{{}}", String::from_utf8_lossy(HYPER_400)),
            String::from_utf8_lossy(&HYPER_400[..30]).into_owned(),
        ] {
            assert_eq!(json_head_error(other.as_bytes()), None, "{other}");
        }
    }

    /// A socket that takes at most 7 bytes per write, and nothing every other time.
    #[derive(Default)]
    struct Narrow {
        written: Vec<u8>,
        calls: usize,
    }

    impl AsyncWrite for Narrow {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            this.calls += 1;
            if this.calls.is_multiple_of(2) {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let n = buf.len().min(7);
            this.written.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn the_replacement_is_written_whole_through_a_narrow_socket() {
        // The answer goes out in pieces, and hyper is told its own answer was written once
        // all of ours is; what follows is written as is.
        let mut wrapped = JsonHeadErrors::new(Narrow::default());
        for bytes in [HYPER_400, b"more"] {
            let written =
                std::future::poll_fn(|cx| Pin::new(&mut wrapped).poll_write(cx, bytes)).await;
            assert_eq!(written.unwrap(), bytes.len());
        }
        let expected = [json_head_error(HYPER_400).unwrap(), b"more".to_vec()].concat();
        assert_eq!(wrapped.io.written, expected);
    }
}
