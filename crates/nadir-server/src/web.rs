//! The web page served at `/` (being built: issue 6).

use axum::Router;
use std::path::PathBuf;

/// The page's routes: `/`, its assets and `/report`. `report` is the HTML report file to
/// serve at `/report`.
pub fn routes(_report: Option<PathBuf>) -> Router {
    Router::new()
}
