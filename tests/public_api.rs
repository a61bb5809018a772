//! The public API of `sse-runtime`, every feature on, listed in
//! `sse-runtime/public-api.txt`: this test fails when the API changes and
//! the file does not, so that every change to what users can name is a
//! reviewed diff. After an intended change:
//! `UPDATE_PUBLIC_API=1 cargo test --test public_api`, and review the diff.
//!
//! The listing is the `public-api` crate's, read from rustdoc's JSON output.
//! That format is unstable and belongs to the compiler, so it is made with
//! the pinned stable toolchain (`RUSTC_BOOTSTRAP=1` lets its rustdoc write
//! JSON), and checked only there, as the trybuild suite is; elsewhere the
//! test says so and skips.

use std::path::Path;
use std::process::Command;

const PINNED_RUSTC: &str = "rustc 1.95.";

#[test]
fn the_public_api_is_the_one_listed() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default();
    if !version.starts_with(PINNED_RUSTC) {
        eprintln!(
            "NOTICE: skipping the public API listing: it reads the rustdoc JSON of {PINNED_RUSTC}x, \
             this is {version:?}"
        );
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // A target directory of its own: the one `cargo test` uses may be
    // locked while tests run.
    let target = root.join("target").join("public-api");
    let status = Command::new(cargo)
        .current_dir(root)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", &target)
        .args([
            "rustdoc",
            "--quiet",
            "--package",
            "sse-runtime",
            "--all-features",
            "--lib",
        ])
        .args(["--", "-Z", "unstable-options", "--output-format", "json"])
        .status()
        .expect("run cargo rustdoc");
    assert!(status.success(), "cargo rustdoc failed");
    // What users name and implement: not the impls every type gets from
    // std (blanket and auto traits), which would drown it.
    let api = public_api::Builder::from_rustdoc_json(target.join("doc").join("sse_runtime.json"))
        .omit_blanket_impls(true)
        .omit_auto_trait_impls(true)
        .build()
        .expect("read the rustdoc JSON");
    let listed = api.to_string();
    let file = root.join("sse-runtime").join("public-api.txt");
    if std::env::var_os("UPDATE_PUBLIC_API").is_some() {
        std::fs::write(&file, &listed).expect("write public-api.txt");
        return;
    }
    let expected = std::fs::read_to_string(&file).unwrap_or_default();
    if expected != listed {
        let expected: std::collections::BTreeSet<&str> = expected.lines().collect();
        let listed: std::collections::BTreeSet<&str> = listed.lines().collect();
        let added: Vec<&&str> = listed.difference(&expected).collect();
        let removed: Vec<&&str> = expected.difference(&listed).collect();
        panic!(
            "the public API changed; if that is intended, run \
             UPDATE_PUBLIC_API=1 cargo test --test public_api and review the diff.\n\
             added:\n{added:#?}\nremoved:\n{removed:#?}"
        );
    }
}
