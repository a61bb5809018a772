//! The chat page's TypeScript: generated from the server's Rust
//! `ChatEvent` and checked in next to the example (`examples/chat/events.d.ts`
//! and `events.js`), then type-checked with the TypeScript compiler together
//! with the page's script and two consumers, one of which holds mistakes that
//! must fail (see `examples/chat/typecheck/mistakes.ts`).
//!
//! After changing `ChatEvent`, regenerate and review the diff:
//! `UPDATE_TYPESCRIPT=1 cargo test --test typescript`.
//!
//! The compiler comes from npm (`tests/browser/package.json`; `.ci/run`
//! installs it, and this test runs `npm ci` itself when it is missing).
//! Without Node.js or npm it prints a notice and passes, except under
//! `CI=true`, where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use sse_runtime::typescript;
use sse_suite::chat::ChatEvent;

fn chat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/chat")
}

#[test]
fn generated_files_are_up_to_date() {
    let update = std::env::var("UPDATE_TYPESCRIPT").as_deref() == Ok("1");
    let files = [
        ("events.d.ts", typescript::declarations::<ChatEvent>()),
        ("events.js", typescript::client::<ChatEvent>()),
    ];
    for (name, generated) in files {
        let path = chat_dir().join(name);
        if update {
            std::fs::write(&path, &generated).expect("write the generated file");
            continue;
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == generated,
            "{} is out of date with `ChatEvent`; regenerate with \
             `UPDATE_TYPESCRIPT=1 cargo test --test typescript` and review the diff",
            path.display()
        );
    }
}

fn missing(what: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what}; under CI=true the TypeScript check must run (.ci/run installs it)");
    }
    eprintln!("NOTICE: skipping the TypeScript check: {what}");
}

#[test]
fn the_page_and_a_consumer_type_check_and_the_mistakes_do_not() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let packages = root.join("tests/browser");
    let tsc = packages.join("node_modules/typescript/bin/tsc");
    if !tsc.exists() {
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&packages)
            .status();
        if !matches!(installed, Ok(status) if status.success()) || !tsc.exists() {
            return missing(
                "the TypeScript compiler is not installed (npm ci --prefix tests/browser)",
            );
        }
    }
    let output = match Command::new("node")
        .arg(&tsc)
        .arg("-p")
        .arg(chat_dir().join("tsconfig.json"))
        .output()
    {
        Ok(output) => output,
        Err(error) => return missing(&format!("node cannot be run: {error}")),
    };
    assert!(
        output.status.success(),
        "tsc found errors (or a mistake in typecheck/mistakes.ts that is no longer caught):\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
