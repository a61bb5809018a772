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

/// The compile errors name nothing a user cannot write: no generated
/// identifier (they all start with `__`) and none of the hidden items that
/// the typed events' expansion goes through.
#[test]
fn compile_errors_name_nothing_hidden() {
    const HIDDEN: &[&str] = &[
        "__private",
        "TypedEvents",
        "VariantContent",
        "VariantData",
        "SerdeAttributes",
        "SerializeContent",
        "UncheckedContent",
        "ValueSerializer",
        "TsEvents",
        "TsData",
        "TsContent",
        "DescribedContent",
        "UndescribedContent",
        "TsPayload",
        "decode_variant",
        "decode_unit",
        "decode_struct",
        "typed_yield",
        "into_event_of",
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("trybuild/fail");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "stderr") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (number, line) in text.lines().enumerate() {
            // `__` and then a letter: an identifier, not rustc's `|____^`.
            let generated = line
                .match_indices("__")
                .any(|(at, _)| line[at + 2..].starts_with(|c: char| c.is_alphanumeric()));
            let hidden = HIDDEN.iter().find(|name| line.contains(*name));
            if generated || hidden.is_some() {
                found.push(format!("{}:{}: {line}", path.display(), number + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "hidden names in compile errors:\n{}",
        found.join("\n")
    );
}
