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

    link_order(Path::new(&manifest));
}

/// Lays out the functions the server runs while it starts and serves
/// (server/link-order.txt, written by bench/link-order.sh) together in the
/// release executable. The kernel maps a page of code with its 64 KiB
/// neighbourhood, so the same code scattered over the text segment kept
/// several megabytes more resident (docs/performance/README.md).
///
/// The option is lld's, the linker rustc uses on x86-64 Linux since 1.90.
/// A rustc built to use the system's linker, or a build configured with
/// another one, may not know it: a one-line program is linked first with
/// this build's rustc, target, flags and linker, and only if that works is
/// the order handed over; otherwise the build goes on with the compiler's
/// layout and says so. Symbols the list names that the build no longer has
/// are skipped without a warning.
/// An environment variable Cargo gives build scripts, or "" when unset.
fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

fn link_order(manifest: &Path) {
    println!("cargo:rerun-if-changed=server/link-order.txt");
    // The probe's answer depends on the flags and the linker: ask again when
    // they change (a cross build does not always rebuild this script then).
    let target = var("TARGET").to_uppercase().replace('-', "_");
    for name in [
        "RUSTFLAGS".to_owned(),
        "CARGO_ENCODED_RUSTFLAGS".to_owned(),
        "CARGO_BUILD_RUSTFLAGS".to_owned(),
        format!("CARGO_TARGET_{target}_RUSTFLAGS"),
        format!("CARGO_TARGET_{target}_LINKER"),
    ] {
        println!("cargo:rerun-if-env-changed={name}");
    }
    let order = manifest.join("server").join("link-order.txt");
    if var("PROFILE") != "release" || var("CARGO_CFG_TARGET_OS") != "linux" || !order.is_file() {
        return;
    }
    let args = [
        format!("-Wl,--symbol-ordering-file={}", order.display()),
        "-Wl,--no-warn-symbol-ordering".to_owned(),
    ];
    if links_with(&args) {
        for arg in &args {
            println!("cargo:rustc-link-arg-bin=plenary={arg}");
        }
    } else {
        println!(
            "cargo:warning=the linker does not take a symbol order (lld's --symbol-ordering-file): \
             the server's functions keep the compiler's layout"
        );
    }
}

/// Whether rustc links a program with the linker arguments `args`, for this
/// build's target, with its flags and the linker Cargo chose.
fn links_with(args: &[String]) -> bool {
    let out = PathBuf::from(var("OUT_DIR"));
    let source = out.join("link_probe.rs");
    if std::fs::write(&source, "fn main() {}\n").is_err() {
        return false;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let mut command = std::process::Command::new(rustc);
    command
        .arg("--crate-type=bin")
        .arg("--target")
        .arg(var("TARGET"))
        .arg("-o")
        .arg(out.join("link_probe"))
        .arg(&source);
    let flags = var("CARGO_ENCODED_RUSTFLAGS");
    command.args(flags.split('\x1f').filter(|flag| !flag.is_empty()));
    if let Ok(linker) = std::env::var("RUSTC_LINKER") {
        command.arg(format!("-Clinker={linker}"));
    }
    for arg in args {
        command.arg(format!("-Clink-arg={arg}"));
    }
    command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
