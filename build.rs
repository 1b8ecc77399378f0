//! Embeds the dashboard (`web/dist`, built by `npm run build`) into the binary. Without a build
//! the master still runs and `/` explains how to build the dashboard.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let dist = PathBuf::from("web/dist");
    println!("cargo:rerun-if-changed=web/dist");
    let mut files = Vec::new();
    if dist.is_dir() {
        collect(&dist, &dist, &mut files);
    }
    files.sort();
    let mut code = String::from(
        "/// Dashboard assets: (path, contents).\npub static ASSETS: &[(&str, &[u8])] = &[\n",
    );
    for (rel, abs) in &files {
        println!("cargo:rerun-if-changed={}", abs.display());
        let _ = writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?})),",
            abs.display().to_string()
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()))
        .join("dashboard_assets.rs");
    if let Err(e) = std::fs::write(&out, code) {
        println!("cargo:warning=writing dashboard assets: {e}");
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if let (Ok(rel), Ok(abs)) = (path.strip_prefix(root), path.canonicalize()) {
            out.push((rel.to_string_lossy().replace('\\', "/"), abs));
        }
    }
}
