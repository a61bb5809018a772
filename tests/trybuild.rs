//! Compile-time errors the macros promise, one misuse per file under
//! `trybuild/fail/` with the expected compiler output beside it, and code that
//! must compile under `trybuild/pass/`.
//!
//! The `.stderr` files hold rustc's own wording too, which changes between
//! compiler releases, so they are checked only on the toolchain they were
//! written with ([`PINNED_RUSTC`]); elsewhere the test says so and skips.
//! Regenerate them with `TRYBUILD=overwrite cargo test --test trybuild` and
//! review the diff.

use std::process::Command;

const PINNED_RUSTC: &str = "rustc 1.95.";

#[test]
fn compile_errors() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default();
    if !version.starts_with(PINNED_RUSTC) {
        eprintln!(
            "NOTICE: skipping the trybuild suite: its .stderr files were written with {PINNED_RUSTC}x, \
             this is {version:?}. Regenerate with TRYBUILD=overwrite and review the diff."
        );
        return;
    }
    let cases = trybuild::TestCases::new();
    cases.compile_fail("trybuild/fail/*.rs");
    cases.pass("trybuild/pass/*.rs");
}
