//! The web page served at `/`: score records, browse the loaded models, read the report.
//!
//! The page is plain HTML, CSS and JavaScript embedded in the binary, so a user needs no
//! build step and no internet access: everything it shows comes from this server's JSON API.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use std::path::PathBuf;

/// The page's files: name under `/assets/`, media type, contents.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/app.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../assets/favicon.svg"),
    ),
];

const INDEX: &str = include_str!("../assets/index.html");

/// The page loads nothing from elsewhere; saying so lets the browser refuse anything else.
const PAGE_POLICY: &str = "default-src 'self'; img-src 'self' data:; frame-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'";

/// Browsers must revalidate: a restarted server may carry a newer page.
const NO_CACHE: &str = "no-cache";

/// The page's routes: `/`, its assets and `/report`. `report` is the HTML report file to
/// serve at `/report`; it is read on every request, so a report written after the server
/// started shows up without a restart.
pub fn routes(report: Option<PathBuf>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/assets/{name}", get(asset))
        .route("/favicon.ico", get(favicon))
        .route("/report", get(move || report_page(report.clone())))
}

async fn index() -> Response {
    (
        [
            (header::CACHE_CONTROL, NO_CACHE),
            (header::CONTENT_SECURITY_POLICY, PAGE_POLICY),
        ],
        Html(INDEX),
    )
        .into_response()
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(asset, _, _)| *asset == name) {
        Some((_, media_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *media_type),
                (header::CACHE_CONTROL, NO_CACHE),
            ],
            *bytes,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!("no asset `{name}`; the page's assets are app.js, app.css and favicon.svg"),
        )
            .into_response(),
    }
}

/// Browsers ask for `/favicon.ico` whatever the page says; answer with the page's icon.
async fn favicon() -> Response {
    asset(Path("favicon.svg".to_string())).await
}

async fn report_page(report: Option<PathBuf>) -> Response {
    if let Some(path) = &report {
        let file = path.clone();
        let read = tokio::task::spawn_blocking(move || std::fs::read(file))
            .await
            .unwrap_or_else(|join| Err(std::io::Error::other(join)));
        match read {
            Ok(bytes) => {
                let mut response = bytes.into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_CACHE));
                return response;
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html(no_report_page(&format!(
                        "The report file <code>{}</code> cannot be read: {}.",
                        html_escape(&path.display().to_string()),
                        html_escape(&error.to_string())
                    ))),
                )
                    .into_response();
            }
        }
    }
    let why = match &report {
        Some(path) => format!(
            "The report file <code>{}</code> does not exist yet.",
            html_escape(&path.display().to_string())
        ),
        None => "This server was started without a report (<code>--report FILE</code>).".into(),
    };
    (StatusCode::NOT_FOUND, Html(no_report_page(&why))).into_response()
}

/// The page shown at `/report` when there is no report to show: what to run to get one.
/// `why` is HTML.
fn no_report_page(why: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nadir — no report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1b1f24}}
code,pre{{font-family:ui-monospace,Menlo,Consolas,monospace}}pre{{background:#f3f5f7;padding:.7rem 1rem;border-radius:4px;overflow-x:auto}}</style>
</head><body>
<h1>No report to show</h1>
<p>{why}</p>
<p>Write the report of the trained models, then start the server with it:</p>
<pre>nadir report --models DIR --out DIR/report.html
nadir serve --models DIR --report DIR/report.html</pre>
<p>The report is read on every visit, so once the file exists this page shows it.</p>
</body></html>
"#
    )
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(response: Response) -> (StatusCode, String, String) {
        let status = response.status();
        let media_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            media_type,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    #[tokio::test]
    async fn the_page_and_every_asset_it_names_are_served() {
        let (status, media_type, page) = body_of(index().await).await;
        assert_eq!(status, StatusCode::OK);
        assert!(media_type.starts_with("text/html"), "{media_type}");
        for (name, expected_type, _) in ASSETS {
            assert!(page.contains(&format!("/assets/{name}")), "{name}");
            let (status, media_type, body) = body_of(asset(Path(name.to_string())).await).await;
            assert_eq!(status, StatusCode::OK, "{name}");
            assert_eq!(media_type, *expected_type, "{name}");
            assert!(!body.is_empty(), "{name}");
        }
        let (status, _, _) = body_of(asset(Path("missing.js".into())).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn report_is_the_given_file_or_a_page_saying_how_to_make_one() {
        let (status, _, body) = body_of(report_page(None).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("nadir report --models DIR --out DIR/report.html"));
        assert!(body.contains("<code>--report FILE</code>"), "{body}");

        let dir = std::env::temp_dir().join(format!("nadir-web-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("<report>.html");
        let _ = std::fs::remove_file(&file);
        let (status, _, body) = body_of(report_page(Some(file.clone())).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            body.contains("&lt;report&gt;.html</code> does not exist yet"),
            "{body}"
        );

        std::fs::write(&file, "<h1>the <b>report</b></h1>").unwrap();
        let (status, media_type, body) = body_of(report_page(Some(file)).await).await;
        assert_eq!(status, StatusCode::OK);
        assert!(media_type.starts_with("text/html"));
        assert_eq!(body, "<h1>the <b>report</b></h1>");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
