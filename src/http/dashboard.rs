//! The dashboard: static assets embedded at build time, with an SPA fallback to `index.html`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

include!(concat!(env!("OUT_DIR"), "/dashboard_assets.rs"));

fn find(path: &str) -> Option<&'static [u8]> {
    ASSETS.iter().find(|(p, _)| *p == path).map(|(_, b)| *b)
}

/// Serves `req.path()` from the embedded assets. Hashed files under `assets/` are immutable;
/// `index.html` must be revalidated so a new build is picked up.
pub fn serve(req: &HttpRequest) -> HttpResponse {
    let path = req.path().trim_start_matches('/');
    if !path.is_empty()
        && let Some(body) = find(path)
    {
        let mime = mime_guess::from_path(path).first_or_octet_stream();
        let cache = if path.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return HttpResponse::Ok()
            .content_type(mime.as_ref())
            .insert_header((header::CACHE_CONTROL, cache))
            .body(body);
    }
    match find("index.html") {
        Some(index) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(index),
        None => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(NOT_BUILT),
    }
}

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>ContextBay</title>\
<body style=\"font-family:sans-serif;max-width:40em;margin:4em auto\"><h1>ContextBay</h1>\
<p>The API is running, but this binary was built without the dashboard.</p>\
<p>Build it with <code>scripts/serve</code> (or <code>npm --prefix web ci &amp;&amp; npm --prefix web run build</code>, then rebuild the binary).</p>\
<p>API: <a href=\"/api/openapi.json\">/api/openapi.json</a></p></body>";
