//! The public API of `sse-runtime`, every feature on, listed in
//! `sse-runtime/public-api.txt`: this test fails when the API changes and
//! the file does not, so that every change to what users can name is a
//! reviewed diff. After an intended change:
//! `UPDATE_PUBLIC_API=1 cargo test --test public_api`, and review the diff.
//!
//! It also checks that every public item has an example in its docs.
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
    let json_path = target.join("doc").join("sse_runtime.json");
    check_examples(&json_path);
    let api = public_api::Builder::from_rustdoc_json(&json_path)
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

/// Every public item the crate defines (types, traits and their items,
/// functions, methods, constants, macros) has an example in its docs: a
/// reader of the docs never meets an item without one.
fn check_examples(json_path: &Path) {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json_path).expect("rustdoc JSON")).unwrap();
    let index = json["index"].as_object().expect("an index");
    let mut missing = Vec::new();
    let mut seen = std::collections::HashSet::new();
    visit(
        index,
        &json["root"],
        &mut Vec::new(),
        &mut seen,
        &mut missing,
    );
    assert!(
        missing.is_empty(),
        "public items without an example in their docs:\n{}",
        missing.join("\n")
    );
}

fn visit(
    index: &serde_json::Map<String, serde_json::Value>,
    id: &serde_json::Value,
    path: &mut Vec<String>,
    seen: &mut std::collections::HashSet<String>,
    missing: &mut Vec<String>,
) {
    let key = id.to_string();
    let Some(item) = index.get(&key) else { return };
    if !seen.insert(key) || item["crate_id"].as_u64() != Some(0) {
        return;
    }
    let has_example = item["docs"]
        .as_str()
        .is_some_and(|docs| docs.contains("```"));
    let name = item["name"].as_str().unwrap_or_default().to_owned();
    let inner = item["inner"].as_object().expect("an item kind");
    let (kind, body) = inner.iter().next().expect("one kind");
    let mut here = |path: &Vec<String>, what: &str| {
        if !has_example {
            missing.push(format!("{}::{name} ({what})", path.join("::")));
        }
    };
    match kind.as_str() {
        "use" if !body["id"].is_null() => visit(index, &body["id"], path, seen, missing),
        "module" => {
            path.push(name.clone());
            for child in body["items"].as_array().into_iter().flatten() {
                visit(index, child, path, seen, missing);
            }
            path.pop();
        }
        "struct" | "enum" | "trait" => {
            here(path, kind);
            path.push(name.clone());
            let members = if kind == "trait" {
                &body["items"]
            } else {
                &body["impls"]
            };
            for member in members.as_array().into_iter().flatten() {
                let Some(member_item) = index.get(&member.to_string()) else {
                    continue;
                };
                if kind == "trait" {
                    check_member(member_item, path, missing);
                    continue;
                }
                // Inherent impls only: trait impls are documented on the trait.
                let implementation = &member_item["inner"]["impl"];
                if !implementation["trait"].is_null()
                    || implementation["synthetic"].as_bool() == Some(true)
                    || !implementation["blanket_impl"].is_null()
                {
                    continue;
                }
                for method in implementation["items"].as_array().into_iter().flatten() {
                    if let Some(method) = index.get(&method.to_string()) {
                        if method["visibility"] == "public" {
                            check_member(method, path, missing);
                        }
                    }
                }
            }
            path.pop();
        }
        "function" | "constant" | "macro" | "proc_macro" | "type_alias" | "static" => {
            here(path, kind)
        }
        _ => {}
    }
}

fn check_member(item: &serde_json::Value, path: &[String], missing: &mut Vec<String>) {
    if !item["docs"]
        .as_str()
        .is_some_and(|docs| docs.contains("```"))
    {
        missing.push(format!(
            "{}::{}",
            path.join("::"),
            item["name"].as_str().unwrap_or_default()
        ));
    }
}
