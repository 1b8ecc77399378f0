//! Domain code is free of HTTP: outside the HTTP layer (`src/http/`, `src/server.rs`) and the
//! error table (`src/error.rs`), no source file imports `crate::http` or builds/returns
//! `ApiError`/`ApiResult`. Domain errors are `thiserror` enums mapped into the table once, in
//! `src/error.rs`. This test walks `src/` and names every offending line.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed step should fail the test at that line"
)]

use std::path::{Path, PathBuf};

/// The HTTP layer and the error table: they may use both.
const HTTP_LAYER: &[&str] = &["src/http/", "src/server.rs", "src/error.rs"];

/// Allowed for good, with the reason.
const ALLOWED: &[&str] = &[
    // The composition root: it holds the HTTP layer's shared parts (route table, rejection
    // sampler) next to every other handle. Domain code reads AppState, never those fields.
    "src/state.rs",
];

/// A module (`src/modules/<name>/`) holds its HTTP face next to its domain code, in known places:
/// its descriptor (`src/modules/<name>/mod.rs`, which lists its routes) and its handlers under
/// `src/modules/<name>/http/` (or a single `http.rs`). Every other file of a module is domain
/// code, whatever it contains. `src/modules/mod.rs` defines the descriptor type, whose routes
/// are the HTTP layer's `Route`s, and registers the descriptors: it is the seam itself.
fn module_http_face(rel: &str) -> bool {
    let Some(inside) = rel.strip_prefix("src/modules/") else {
        return false;
    };
    // A part of a module with its own routes (listed in MODULE_PARTS) has the same layout one
    // level down: its `mod.rs` gives the routes to the module's descriptor, its handlers are in
    // its `http/`.
    if let Some(part) = MODULE_PARTS.iter().find_map(|p| {
        inside
            .strip_prefix(p)
            .and_then(|rest| rest.strip_prefix('/'))
    }) {
        return part == "mod.rs" || part == "http.rs" || part.starts_with("http/");
    }
    match inside.split_once('/') {
        None => inside == "mod.rs",
        Some((_, rest)) => rest == "mod.rs" || rest == "http.rs" || rest.starts_with("http/"),
    }
}

/// Parts of modules that contribute routes to their module's descriptor (`src/modules/<module>/
/// <part>/`): the AI module is assembled from parts (`src/modules/ai/mod.rs`).
const MODULE_PARTS: &[&str] = &["ai/mcp", "ai/tasks"];

/// An operation declared outside a module's HTTP face or the HTTP layer: a handler in a domain
/// file.
fn misplaced_handler(rel: &str, text: &str) -> bool {
    rel.starts_with("src/modules/") && !module_http_face(rel) && text.contains("#[utoipa::path")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The offending lines of `text`: code (not comments) naming the HTTP module or the API error.
fn offences(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.trim_start();
            !code.starts_with("//")
                && (code.contains("crate::http")
                    || code.contains("contextbay::http")
                    || code.contains("super::http")
                    || (code.starts_with("use crate::{") && code.contains("http"))
                    || code.contains("ApiError")
                    || code.contains("ApiResult"))
        })
        .map(|(i, line)| (i + 1, line))
        .collect()
}

#[test]
fn domain_code_does_not_depend_on_http() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    assert!(
        files.len() > 20,
        "found only {} files under src/",
        files.len()
    );
    let mut found = Vec::new();
    for file in &files {
        let rel = file
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if HTTP_LAYER
            .iter()
            .chain(ALLOWED)
            .any(|prefix| rel.starts_with(prefix))
        {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        if misplaced_handler(&rel, &text) {
            found.push(format!(
                "{rel}: declares a #[utoipa::path] operation; handlers go in the module's http/"
            ));
        }
        if module_http_face(&rel) {
            continue;
        }
        for (line, code) in offences(&text) {
            found.push(format!("{rel}:{line}: {}", code.trim()));
        }
    }
    assert!(
        found.is_empty(),
        "domain code depends on the HTTP layer; return a thiserror enum and map it into the \
         error table in src/error.rs instead:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_what_it_must_refuse() {
    let text = "use crate::http::users;\n// crate::http in a comment\nfn f() -> ApiResult<()> {}\n\
                use crate::{error, http};\nlet e = ApiError::bad_request(\"x\");\nfn ok() {}\n\
                contextbay::http::routes::all();\n";
    let lines: Vec<usize> = offences(text).iter().map(|(n, _)| *n).collect();
    assert_eq!(lines, [1, 3, 4, 5, 7]);
}

#[test]
fn only_a_modules_descriptor_and_http_folder_are_its_http_face() {
    assert!(module_http_face("src/modules/alerting/mod.rs"));
    assert!(module_http_face("src/modules/alerting/http/alerts.rs"));
    assert!(module_http_face("src/modules/example/http.rs"));
    assert!(module_http_face("src/modules/mod.rs"));
    assert!(!module_http_face("src/modules/promql.rs"));
    assert!(!module_http_face("src/modules/alerting/ingest.rs"));
    assert!(!module_http_face("src/modules/alerting/store/mod.rs"));
    assert!(!module_http_face("src/modules/alerting/httpx.rs"));
    assert!(!module_http_face("src/http/users.rs"));
    assert!(module_http_face("src/modules/ai/mcp/mod.rs"));
    assert!(module_http_face("src/modules/ai/mcp/http/servers.rs"));
    assert!(!module_http_face("src/modules/ai/mcp/store.rs"));
    assert!(misplaced_handler(
        "src/modules/alerting/rules.rs",
        "#[utoipa::path(get, path = \"/x\")]"
    ));
    assert!(!misplaced_handler(
        "src/modules/alerting/http/alerts.rs",
        "#[utoipa::path(get, path = \"/x\")]"
    ));
}
