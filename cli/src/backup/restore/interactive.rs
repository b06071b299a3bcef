//! Second chances at a terminal (issue 10 §5): what restore asks a person when the
//! shares are typed, and the one question it asks about files under another key.
//!
//! - Shares that recover a key under which no file decrypts (a share mistyped in its key
//!   part: yubihsm-setup shares carry no checksum) are refused at once, and the shares
//!   asked for again, up to [`SHARE_ROUNDS`] times; a count below the threshold is asked
//!   again by the prompt itself ([`prompt_shares`](crate::util::prompt::prompt_shares)).
//! - Files that do not decrypt under the shares' key may be another backup's (yubihsm-setup
//!   "restores only the files it can decrypt") or this backup's, damaged: the two look the
//!   same, so by default they keep the login key. A person at a terminal is shown them and
//!   asked; `--allow-skipped` answers for a script.
//!
//! Logging in before the shares are asked for, with three password attempts, is
//! [`device::login_now`](crate::device::login_now).

use super::{Args, WrapKeyToStore};
use crate::backup::Backup;
use crate::error::{Error, Result};
use crate::util::prompt::{Prompter, confirm};
use crate::wrapkey::shares::{self, ShareChecks};

/// How many times the custodians may enter shares under which nothing decrypts.
pub const SHARE_ROUNDS: usize = 3;

fn terminal(e: std::io::Error) -> Error {
    Error::failure("cannot write to the terminal").with_source(e)
}

/// Asks for the shares (each checked against `checks` as it is typed) until they
/// recover a key under which some file of `backup` decrypts, or [`SHARE_ROUNDS`] times. Shares that do not combine are asked for again
/// as well. After the last round the key is returned as it is, and preflight says that
/// nothing decrypts.
pub fn shares_until_they_decrypt(
    backup: &Backup,
    prompter: &mut dyn Prompter,
    checks: &ShareChecks,
) -> Result<WrapKeyToStore> {
    let mut round = 1;
    loop {
        let last = round == SHARE_ROUNDS;
        let recovered = match shares::combine_prompted_checked(prompter, checks) {
            Ok(recovered) => recovered,
            Err(e) if !last && e.message().starts_with("the shares entered do not combine") => {
                prompter
                    .message(&format!("{}. Enter the shares again.", e.chain()))
                    .map_err(terminal)?;
                round += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        let wrap = WrapKeyToStore::from_recovered(&recovered)?;
        drop(recovered);
        if last || backup.decrypts_under(&wrap.key) != Some(false) {
            return Ok(wrap);
        }
        let n = backup.files.len();
        let files = if n == 1 {
            "The .yhw file does not decrypt".to_owned()
        } else {
            format!("None of the {n} .yhw files decrypts")
        };
        let left = SHARE_ROUNDS - round;
        prompter
            .message(&format!(
                "{files} under the key these shares recover: a share is wrong (mistyped, or of \
                 another wrap key). Nothing was written. Enter the shares again ({left} {} \
                 left).",
                if left == 1 { "try" } else { "tries" },
            ))
            .map_err(terminal)?;
        round += 1;
    }
}

/// Whether the files that do not decrypt under `wrap` belong to another backup, as a
/// person at a terminal answers: asked only when some do and others decrypt, the login
/// key would otherwise be deleted, and nothing on the command line answered already.
/// Decrypts `backup` (preflight would).
pub fn ask_about_skipped(
    backup: &mut Backup,
    wrap: &WrapKeyToStore,
    args: &Args,
    prompter: &mut dyn Prompter,
) -> Result<bool> {
    if args.allow_skipped || args.keep_authkey || args.dry_run || !prompter.is_interactive() {
        return Ok(false);
    }
    backup.decrypt(&wrap.key);
    let names = backup.not_under_key();
    if names.is_empty() || backup.decryptable() == 0 {
        return Ok(false);
    }
    let mut text = format!(
        "{} of the backup's .yhw files {} not decrypt under the key from the shares:",
        names.len(),
        if names.len() == 1 { "does" } else { "do" }
    );
    for name in &names {
        text.push_str(&format!("\n  {name}"));
    }
    text.push_str(
        "\nFiles of another backup (under another wrap key) look exactly like damaged files \
         of this one. If they belong to another backup, the login key can be deleted once \
         everything else is restored; if they may be this backup's, it is kept.",
    );
    prompter.message(&text).map_err(terminal)?;
    confirm(prompter, "Do these files belong to another backup?")
}
