//! `yhsm --version -v` names what an auditor needs to rebuild this very binary
//! (docs/AUDIT.md): the commit, the cargo features, the toolchains and the target.

#![allow(clippy::unwrap_used, clippy::panic, reason = "test code: a panic is a failed test")]

use std::process::{Command, Output};

fn yhsm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_yhsm")).args(args).output().unwrap()
}

/// The value of the `name: value` line of `text`.
fn field<'a>(text: &'a str, name: &str) -> &'a str {
    let prefix = format!("{name}: ");
    let line = text.lines().find(|l| l.starts_with(&prefix));
    line.unwrap_or_else(|| panic!("no `{name}:` line in\n{text}")).trim_start_matches(&prefix)
}

#[test]
fn version_alone_is_one_line() {
    let out = yhsm(&["--version"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "yhsm 0.1.0\n");
}

#[test]
fn version_verbose_names_commit_features_and_toolchain() {
    for args in [&["--version", "-v"][..], &["-v", "--version"], &["-V", "--verbose"]] {
        let out = yhsm(args);
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with("yhsm 0.1.0\n"), "{text}");

        let commit = field(&text, "commit");
        let id = commit.strip_suffix(" (modified)").unwrap_or(commit);
        assert!(
            id == "unknown" || (id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit())),
            "{commit}"
        );

        // Exactly the features this test binary's `yhsm` was built with.
        let features: Vec<&str> = field(&text, "features").split(' ').collect();
        for (feature, on) in [
            ("usb", cfg!(feature = "usb")),
            ("http", cfg!(feature = "http")),
            ("p256", cfg!(feature = "p256")),
            ("keys", cfg!(feature = "keys")),
            ("sim", cfg!(feature = "sim")),
            ("usb-gadget", cfg!(feature = "usb-gadget")),
        ] {
            assert_eq!(features.contains(&feature), on, "{feature} in {features:?}");
        }

        assert!(field(&text, "toolchain").starts_with("rustc 1."), "{text}");
        assert!(!field(&text, "c compiler").is_empty(), "{text}");
        assert!(field(&text, "target").split('-').count() >= 3, "{text}");
    }
}

#[test]
fn version_refuses_other_arguments() {
    let out = yhsm(&["--version", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unknown option `--json`"), "{err}");
    assert!(out.stdout.is_empty());
}
