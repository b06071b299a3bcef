//! What `yhsm setup` says as it goes ([`Line`]) and at the end ([`SetupReport`]): what is
//! on the device, the files written, the keys that can log in, the key check value, and
//! the next step.

use std::fmt::Write as _;
use std::path::PathBuf;

use yhsm_proto::ObjectId;
use yhsm_proto::shares::{KCV_LEN, SHARE_CHECK_LEN};

use crate::util::text;

/// One line of progress: for standard output, or a warning for standard error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    Out(String),
    Warning(String),
}

/// The end of a setup that finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupReport {
    pub serial: u32,
    pub profile: &'static str,
    /// The wrap key's id, and whether this run stored it (false: an earlier run did).
    pub wrap_id: ObjectId,
    pub wrap_stored: bool,
    pub kcv: [u8; KCV_LEN],
    pub threshold: u8,
    pub count: u8,
    pub share_checks: Vec<(u8, [u8; SHARE_CHECK_LEN])>,
    /// Authentication keys made (or found from an earlier run) and proven, by id and role.
    pub keys: Vec<(ObjectId, &'static str)>,
    /// The backup directory and the files written there.
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
    /// The share files written (`--shares-dir`).
    pub share_files: Vec<PathBuf>,
    /// The login key, and why it was kept (`None`: deleted).
    pub login: ObjectId,
    pub login_kept: Option<String>,
}

impl SetupReport {
    /// The summary printed at the end.
    pub fn render(&self) -> String {
        let mut out =
            format!("\nSetup of YubiHSM {} finished (profile {}).\n", self.serial, self.profile);
        let _ = writeln!(out, "On the device:");
        let _ = writeln!(
            out,
            "  wrap key 0x{:04x} (aes256-ccm-wrap){}; key check value {}",
            self.wrap_id,
            if self.wrap_stored { "" } else { ", stored by an earlier run" },
            hex::encode(self.kcv)
        );
        for (id, role) in &self.keys {
            let _ = writeln!(out, "  {role} authentication key 0x{id:04x}, its password proven");
        }
        match &self.login_kept {
            None => {
                let _ =
                    writeln!(out, "  authentication key 0x{:04x} (the login) deleted", self.login);
            }
            Some(why) => {
                let _ = writeln!(
                    out,
                    "  authentication key 0x{:04x} (the login) kept: {why}",
                    self.login
                );
            }
        }
        let checks: Vec<String> =
            self.share_checks.iter().map(|(i, c)| format!("{i} {}", hex::encode(c))).collect();
        let _ = writeln!(
            out,
            "Shares: {}, any {} recover the wrap key; share check values {}",
            self.count,
            self.threshold,
            checks.join(", ")
        );
        let _ =
            writeln!(out, "Files written in {}:", text::quoted(&self.dir.display().to_string()));
        for f in &self.files {
            let _ = writeln!(out, "  {}", f.display());
        }
        if !self.share_files.is_empty() {
            let _ =
                writeln!(out, "Share files (one per custodian: hand them out, then delete them):");
            for f in &self.share_files {
                let _ = writeln!(out, "  {}", f.display());
            }
        }
        let mut login: Vec<String> =
            self.keys.iter().map(|(id, _)| format!("0x{id:04x}")).collect();
        if self.login_kept.is_some() {
            login.push(format!("0x{:04x}", self.login));
        }
        let _ = writeln!(out, "Keys that can log in: {}", login.join(", "));
        // Into this directory: its description keeps the key and share check values that
        // restore checks each share against (--force: the exports above are made again).
        let dir = text::printable(&self.dir.display().to_string());
        let _ = writeln!(
            out,
            "Next: generate or import the application's keys, then `yhsm dump -w 0x{:04x} \
             --force {dir}` to back them up beside the check values; on the secondary, \
             `yhsm restore {dir}` with {} of the shares.",
            self.wrap_id, self.threshold
        );
        out
    }
}
