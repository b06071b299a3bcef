//! Records what `yhsm --version -v` prints so that an auditor can rebuild the exact binary
//! (docs/AUDIT.md): the commit, the cargo features, the Rust toolchain, the C compiler
//! (it builds libusb and, as the linker driver, links every build) and the target.
//!
//! The commit comes from, in order: the `YHSM_COMMIT` variable (for packagers); the file
//! `COMMIT` next to this script, which `git archive` fills in (`export-subst` in
//! `.gitattributes`; packaging/source-archive.sh and packaging/reproducible-build.sh build
//! from such archives); `git` in a checkout, with `(modified)` when tracked sources differ
//! from that commit; otherwise `unknown`. Nothing here reads a clock or a path, so two
//! builds of one commit record the same text.

use std::env;
use std::fs;
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=YHSM_COMMIT");
    println!("cargo:rerun-if-changed=COMMIT");
    let commit = commit();
    let features = features();
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let toolchain = output(Command::new(rustc).arg("-V")).unwrap_or_else(|| "unknown".to_owned());
    let target = env::var("TARGET").unwrap_or_else(|_| "unknown".to_owned());
    let cc = c_compiler(&target);
    println!("cargo:rustc-env=YHSM_BUILD_COMMIT={commit}");
    println!("cargo:rustc-env=YHSM_BUILD_FEATURES={features}");
    println!("cargo:rustc-env=YHSM_BUILD_TOOLCHAIN={toolchain}");
    println!("cargo:rustc-env=YHSM_BUILD_CC={cc}");
    println!("cargo:rustc-env=YHSM_BUILD_TARGET={target}");
}

/// The first line of `--version` of the C compiler the `cc` crate would pick (the same
/// variables, in its order), `cc` by default.
fn c_compiler(target: &str) -> String {
    let names = [format!("CC_{target}"), format!("CC_{}", target.replace('-', "_"))];
    let names = names.iter().map(String::as_str).chain(["TARGET_CC", "CC"]);
    let mut cc = "cc".to_owned();
    for name in names {
        println!("cargo:rerun-if-env-changed={name}");
        if let Ok(value) = env::var(name)
            && !value.trim().is_empty()
        {
            cc = value.trim().to_owned();
            break;
        }
    }
    // A compiler with arguments (`CC="ccache gcc"`) is asked as a command line.
    let mut words = cc.split_whitespace();
    let Some(program) = words.next() else { return "unknown".to_owned() };
    let version = output(Command::new(program).args(words).arg("--version"));
    version
        .and_then(|v| v.lines().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn commit() -> String {
    if let Ok(commit) = env::var("YHSM_COMMIT")
        && !commit.trim().is_empty()
    {
        return commit.trim().to_owned();
    }
    let archived = fs::read_to_string("COMMIT").unwrap_or_default();
    let archived = archived.trim();
    if is_commit_id(archived) {
        return archived.to_owned();
    }
    from_git().unwrap_or_else(|| "unknown".to_owned())
}

/// The checkout's HEAD, marked when the sources that go into the binary are modified.
fn from_git() -> Option<String> {
    let head = output(Command::new("git").args(["rev-parse", "HEAD"]))?;
    if !is_commit_id(&head) {
        return None;
    }
    // Rerun when HEAD moves or a source changes (the reflog is written on every commit,
    // checkout and reset). Untracked files are not sources of the build.
    if let Some(git_dir) = output(Command::new("git").args(["rev-parse", "--absolute-git-dir"])) {
        println!("cargo:rerun-if-changed={git_dir}/HEAD");
        println!("cargo:rerun-if-changed={git_dir}/logs/HEAD");
    }
    let sources = ["../Cargo.toml", "../Cargo.lock", "../.cargo", "../proto", "../transport"];
    let sources = sources.iter().chain(&["../sim", "Cargo.toml", "build.rs", "src"]);
    let mut status = Command::new("git");
    status.args(["status", "--porcelain", "--untracked-files=no", "--"]);
    for source in sources.clone() {
        if Path::new(source).exists() {
            println!("cargo:rerun-if-changed={source}");
            status.arg(source);
        }
    }
    let modified = !output(&mut status)?.is_empty();
    Some(if modified { format!("{head} (modified)") } else { head })
}

fn is_commit_id(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The enabled cargo features of this package, sorted, as they are spelled in Cargo.toml.
fn features() -> String {
    let mut features: Vec<String> = env::vars()
        .filter_map(|(k, _)| {
            k.strip_prefix("CARGO_FEATURE_").map(|f| f.to_lowercase().replace('_', "-"))
        })
        .collect();
    features.sort();
    if features.is_empty() { "none".to_owned() } else { features.join(" ") }
}

fn output(command: &mut Command) -> Option<String> {
    let out = command.output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8(out.stdout).ok()?.trim().to_owned())
}
