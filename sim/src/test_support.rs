//! Helpers shared by the unit tests: a scratch directory, and OpenSSL and OpenSSH as
//! independent implementations (when installed; `.ci/run` installs them and requires them
//! with `YHSM_REQUIRE_TOOLS=1`).

use std::path::PathBuf;
use std::process::Command;

/// A scratch directory under the system temporary directory, removed on drop.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("yhsm-sim-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }
    pub fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `program ARGS`; `None` when it is not installed (unless `YHSM_REQUIRE_TOOLS` is
/// set).
pub fn tool(program: &str, args: &[&str]) -> Option<std::process::Output> {
    match Command::new(program).args(args).output() {
        Ok(out) => Some(out),
        Err(_) if std::env::var_os("YHSM_REQUIRE_TOOLS").is_none() => {
            eprintln!("{program} is not installed: the cross-check with it is skipped");
            None
        }
        Err(e) => panic!("{program} is required (YHSM_REQUIRE_TOOLS) but did not run: {e}"),
    }
}

/// Runs `openssl ARGS`, which must succeed; `None` when openssl is not installed.
pub fn openssl(args: &[&str]) -> Option<Vec<u8>> {
    let out = tool("openssl", args)?;
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    Some(out.stdout)
}
