//! `commands`: every command type of `proto/src/command` is in the registry
//! (`every_command!` in `registry.rs`), so that its facts (repeatable, mutating, what to
//! hide in traces) are found by code and the fuzz entry calls it. The run-time half, that
//! every named command code has a type, is a test in `yhsm-proto`.

use std::collections::BTreeSet;
use std::path::Path;

use crate::source::{self, Finding};

/// Macros of `proto/src/command` that declare a command type: their invocations hold doc
/// comments, then `Name, CODE, …`.
const DECLARING_MACROS: [&str; 3] =
    ["empty_request! {", "rsa_export_request! {", "key_and_data_request! {"];

/// A second form of a registered type (same code, same facts), not listed on purpose.
const SECOND_FORMS: [&str; 1] = ["GetPartNumber"];

pub fn check(root: &Path) -> Vec<Finding> {
    let dir = root.join("proto/src/command");
    let registry = dir.join("registry.rs");
    let listed = listed(&registry);
    let mut findings = Vec::new();
    if listed.is_empty() {
        findings.push(Finding {
            path: registry.clone(),
            line: 1,
            message: "no `every_command!` list found (renamed? update yhsm-lint)".into(),
        });
        return findings;
    }
    for path in source::files(&dir) {
        let lines = source::lines(&path);
        let mut at = 0;
        while let Some((number, line)) = lines.get(at) {
            at += 1;
            let line = line.trim();
            let name = if let Some(rest) = line.strip_prefix("impl Command for ") {
                // `$name` is a macro's template; its invocations are read below.
                Some(rest.trim_end_matches(" {").to_owned()).filter(|n| !n.starts_with('$'))
            } else if DECLARING_MACROS.contains(&line) {
                let decl = lines.get(at..).unwrap_or_default().iter().map(|(_, l)| l.trim());
                let decl = decl.into_iter().find(|l| !l.is_empty()).unwrap_or_default();
                decl.split([',', '{']).next().map(|n| n.trim().to_owned())
            } else {
                None
            };
            if let Some(name) = name
                && !listed.contains(&name)
                && !SECOND_FORMS.contains(&name.as_str())
            {
                findings.push(Finding {
                    path: path.clone(),
                    line: *number,
                    message: format!("command type `{name}` is not in `every_command!`"),
                });
            }
        }
    }
    findings
}

/// The type names in the `every_command!` macro of `registry.rs`.
fn listed(registry: &Path) -> BTreeSet<String> {
    let lines = source::lines(registry);
    let body = lines
        .iter()
        .map(|(_, l)| l.trim())
        .skip_while(|l| !l.starts_with("macro_rules! every_command"))
        .skip_while(|l| !l.starts_with("$m! {"))
        .skip(2) // `$m! {`, `$($args)*;`
        .take_while(|l| !l.starts_with('}'));
    body.flat_map(|l| l.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect()
}
