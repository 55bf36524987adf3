//! The management web UI: static files from `ui/app/`, served without authentication (the
//! page itself logs in against `/api/`). `index.html` is at `/`, every other file under
//! `/ui/`, so no asset can shadow an API path.
//!
//! Release builds embed the files at compile time; debug builds read them from the source
//! tree at run time (rust-embed's behaviour), so the UI can be edited without rebuilding.
//! Every answer carries a Content-Security-Policy that allows only this origin's scripts
//! (no inline script), `nosniff`, and `frame-ancestors 'none'`; files are revalidated by
//! their SHA-256 `ETag`.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

/// The UI's files, `ui/app/` at the top of the repository.
#[derive(RustEmbed)]
#[folder = "ui/app/"]
struct Assets;

/// The policy every UI answer carries: scripts, styles, images and API calls from this
/// origin only, no plugins, no framing, no `<base>` rewriting.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The UI's routes: `/` and `/ui/{path}`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/ui/{*path}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

/// Whether `path` names a file inside the asset folder: relative, no `..`, no backslash.
fn is_safe_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

/// The `Content-Type` for a file name: JavaScript as `text/javascript`, text with UTF-8.
fn content_type(path: &str, guessed: &str) -> String {
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "js" | "mjs" => "text/javascript; charset=utf-8".to_string(),
        "html" => "text/html; charset=utf-8".to_string(),
        "css" => "text/css; charset=utf-8".to_string(),
        "txt" | "LICENSE" => "text/plain; charset=utf-8".to_string(),
        _ if guessed.starts_with("text/") => format!("{guessed}; charset=utf-8"),
        _ => guessed.to_string(),
    }
}

/// Whether an `If-None-Match` header value matches `etag` (weak comparison, `*`, lists).
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

/// Lowercase hex of a digest.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The security headers on every UI answer, found or not.
fn secure(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn not_found() -> Response {
    secure(
        (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Not Found\n",
        )
            .into_response(),
    )
}

/// One file, or 304 when the client's copy is current, or 404.
fn serve(path: &str, headers: &HeaderMap) -> Response {
    if !is_safe_path(path) {
        return not_found();
    }
    let Some(file) = Assets::get(path) else {
        return not_found();
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()));
    let content_type = content_type(path, file.metadata.mimetype());
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| etag_matches(v, &etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, content_type)],
            file.data.into_owned(),
        )
            .into_response()
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_served() {
        assert!(is_safe_path("js/main.js"));
        assert!(is_safe_path("index.html"));
        for bad in [
            "",
            "/etc/passwd",
            "../Cargo.toml",
            "js/../../x",
            "a//b",
            "a\\b",
            "./a",
        ] {
            assert!(!is_safe_path(bad), "{bad}");
        }
    }

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let tag = "\"abc\"";
        assert!(etag_matches("\"abc\"", tag));
        assert!(etag_matches("W/\"abc\"", tag));
        assert!(etag_matches("\"x\", \"abc\"", tag));
        assert!(etag_matches("*", tag));
        assert!(!etag_matches("\"abcd\"", tag));
    }

    #[test]
    fn scripts_are_text_javascript_and_text_has_a_charset() {
        assert_eq!(
            content_type("js/a.js", "application/javascript"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type("a.svg", "image/svg+xml"),
            "image/svg+xml".to_string()
        );
        assert_eq!(content_type("a.png", "image/png"), "image/png");
        assert_eq!(
            content_type("a.md", "text/markdown"),
            "text/markdown; charset=utf-8"
        );
    }
}
