//! HTTP/1.x (80): request lines and the status lines answering them, matched in order
//! (pipelined requests are answered in order; `1xx` responses are interim).
//!
//! KDD's HTTP connections are `logged_in` when served (90 % of them): a `2xx` or `3xx`
//! answer logs in. A `401` answering a request that carried credentials (`Authorization:`)
//! is a failed login. A request target is read percent-decoded: each access control file it
//! names is an operation on it and a `hot` indicator, as is running a CGI program
//! (`/cgi-bin/`, KDD's `phf` attack) or climbing out of the document root (`../`).

use super::Outstanding;
use super::commands::access_file_mentions;
use super::lines::{LineReader, contains_lower, starts_with_lower};
use super::{add, failed_login};
use crate::connection::ContentFeatures;

/// Bytes of a server line read: enough for a status line's version and code
/// (`HTTP/1.1 200`); the rest of each line, and of each body, is skipped.
const STATUS_HEAD: usize = 16;

#[derive(Debug, Default)]
pub(crate) struct Http {
    server: LineReader<STATUS_HEAD>,
    client: LineReader,
    /// Requests sent and not yet answered; `true` for those that carried credentials.
    requests: Outstanding<bool>,
    target: Vec<u8>,
}

impl Http {
    pub(crate) fn client(&mut self, bytes: &[u8], features: &mut ContentFeatures) {
        let requests = &mut self.requests;
        let target = &mut self.target;
        self.client.feed(bytes, |line| {
            if let Some(raw_target) = request_target(line) {
                percent_decode(raw_target, target);
                let accesses = access_file_mentions(target);
                add(&mut features.num_access_files, accesses);
                add(&mut features.hot, accesses);
                if contains_lower(target, b"/cgi-bin/") {
                    add(&mut features.hot, 1);
                }
                if contains_lower(target, b"../") {
                    add(&mut features.hot, 1);
                }
                requests.push(false);
            } else if starts_with_lower(line, b"authorization:")
                && let Some(credentials) = requests.newest_mut()
            {
                *credentials = true;
            }
        });
    }

    pub(crate) fn server(&mut self, bytes: &[u8], features: &mut ContentFeatures) {
        let requests = &mut self.requests;
        self.server.feed(bytes, |line| {
            let Some(status) = status_code(line) else {
                return;
            };
            if status < 200 {
                return;
            }
            let credentials = requests.pop() == Some(true);
            match status {
                200..=399 => features.logged_in = true,
                401 if credentials => {
                    failed_login(features);
                }
                _ => {}
            }
        });
    }

    pub(crate) fn buffered_bytes(&self) -> usize {
        self.server.buffered_bytes() + self.client.buffered_bytes() + self.target.capacity()
    }
}

/// The target of a request line (`GET /index.html HTTP/1.1`).
fn request_target(line: &[u8]) -> Option<&[u8]> {
    let mut parts = line.split(|&b| b == b' ').filter(|part| !part.is_empty());
    let method = parts.next()?;
    let target = parts.next()?;
    let version = parts.next()?;
    let is_request = !method.is_empty()
        && method.iter().all(u8::is_ascii_uppercase)
        && version.starts_with(b"HTTP/")
        && parts.next().is_none();
    is_request.then_some(target)
}

/// The status code of a status line (`HTTP/1.1 200 OK`).
fn status_code(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/")?;
    let space = rest.iter().position(|&b| b == b' ')?;
    let digits = rest.get(space + 1..space + 4)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0, |code, digit| code * 10 + u16::from(digit - b'0')),
    )
}

/// `raw` with `%XX` escapes decoded (a malformed escape kept as written), into `decoded`.
fn percent_decode(raw: &[u8], decoded: &mut Vec<u8>) {
    decoded.clear();
    let mut at = 0;
    while at < raw.len() {
        let escaped = match raw.get(at..at + 3) {
            Some([b'%', high, low]) => hex_digit(*high).zip(hex_digit(*low)),
            _ => None,
        };
        match escaped {
            Some((high, low)) => {
                decoded.push(high << 4 | low);
                at += 3;
            }
            None => {
                decoded.push(raw[at]);
                at += 1;
            }
        }
    }
}

fn hex_digit(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_status_lines() {
        assert_eq!(request_target(b"GET /a%20b HTTP/1.0"), Some(&b"/a%20b"[..]));
        assert_eq!(request_target(b"Host: example.org"), None);
        assert_eq!(request_target(b"the GET / HTTP/1.0"), None);
        assert_eq!(status_code(b"HTTP/1.1 401 Unauthorized"), Some(401));
        assert_eq!(status_code(b"HTTP/1.1 x"), None);
    }

    #[test]
    fn percent_decoding_keeps_malformed_escapes() {
        let mut decoded = Vec::new();
        percent_decode(
            b"/cgi-bin/phf?Qalias=x%0a/bin/cat%20/etc/passwd%+f%2",
            &mut decoded,
        );
        assert_eq!(decoded, b"/cgi-bin/phf?Qalias=x\n/bin/cat /etc/passwd%+f%2");
    }
}
