//! Reaching the Redis server: the errors a consumer and a publisher share when they start.

use redis::{Client, Connection, RedisError};
use std::time::Duration;
use thiserror::Error;

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The server cannot be used: its address is malformed, or nothing answers there.
#[derive(Debug, Error)]
pub enum ServerError {
    #[error("`{url}` is not a Redis address (redis://HOST:PORT): {source}")]
    BadUrl {
        url: String,
        #[source]
        source: RedisError,
    },
    #[error("cannot reach Redis at {url}: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: RedisError,
    },
}

/// A client for `url`, its address checked (nothing is connected yet).
pub fn client(url: &str) -> Result<Client, ServerError> {
    Client::open(url).map_err(|source| ServerError::BadUrl {
        url: url.to_string(),
        source,
    })
}

/// `error`, as met while reaching the server at `url`.
pub fn unreachable(url: &str, source: RedisError) -> ServerError {
    ServerError::Unreachable {
        url: url.to_string(),
        source,
    }
}

/// A connection to `url`, within [`CONNECT_TIMEOUT`].
pub fn connect(client: &Client, url: &str) -> Result<Connection, ServerError> {
    client
        .get_connection_with_timeout(CONNECT_TIMEOUT)
        .map_err(|source| unreachable(url, source))
}
