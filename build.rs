//! Embeds the browser client's built bundle (web/dist, committed) in the
//! binary, so that `cargo run --release` serves it with no Node.js around.
//!
//! A build script rather than rust-embed or include_dir: it writes one
//! `include_bytes!` per file, so Cargo tracks every file, and
//! `rerun-if-changed=web/dist` (a directory: Cargo scans it all) catches the
//! new content-hashed names of each rebuild — a derive macro cannot tell
//! Cargo about files added later, and a stale bundle would be served.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(relative) = path.strip_prefix(root) {
            let name = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.push((name, path));
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=web/dist");
    println!("cargo:rerun-if-changed=build.rs");
    // sqlx::migrate! embeds the migrations when the crate compiles, but
    // Cargo does not know of them: a new one would be left out of the
    // binary until something else changed.
    println!("cargo:rerun-if-changed=migrations");
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dist = Path::new(&manifest).join("web").join("dist");
    let mut files = Vec::new();
    collect(&dist, &dist, &mut files);
    files.sort();
    let mut code = String::from(
        "/// The files of web/dist: (path relative to it, contents).\npub static ASSETS: &[(&str, &[u8])] = &[\n",
    );
    for (name, path) in &files {
        writeln!(
            code,
            "    ({name:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .expect("writing to a String cannot fail");
    }
    code.push_str("];\n");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(Path::new(&out).join("web_assets.rs"), code).expect("write web_assets.rs");
}
