//! `yhsm-lint`: checks of the workspace's sources that no test can make at run time (see
//! SECURITY.md "How it is checked"). `.ci/run` runs it in its lints step:
//!
//! ```text
//! cargo run --locked -p yhsm-lint [-- REPO]
//! ```
//!
//! - `secrets`: types that hold secrets keep no raw byte buffer outside the fields listed
//!   as public, and no shipped line compares a MAC, cryptogram, receipt, tag, digest or
//!   MAC chain with `==` or `!=`.
//! - `commands`: every command type of `proto/src/command` is listed in its registry.
//!
//! It reads files as text and goes by names: a rename it does not know about is reported
//! (so the table below is kept up to date), a MAC held in a variable with another name
//! escapes it. It complements the run-time tests and review; it replaces neither.

mod commands;
mod secrets;
mod source;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let root = std::env::args_os().nth(1).map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")),
        PathBuf::from,
    );
    let mut failed = false;
    for (name, findings) in
        [("secrets", secrets::check(&root)), ("commands", commands::check(&root))]
    {
        for finding in &findings {
            eprintln!("{finding}");
        }
        if findings.is_empty() {
            println!("yhsm-lint {name}: ok");
        } else {
            eprintln!("yhsm-lint {name}: {} finding(s)", findings.len());
            failed = true;
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
