//! Handing out the shares of the new wrap key: at a terminal, each shown alone on a
//! cleared screen and typed back without echo by its custodian (a mismatch shows it
//! again); without one, one file per custodian in `--shares-dir` (0600, never over an
//! existing file).

use std::path::{Path, PathBuf};

use yhsm_proto::ObjectId;
use yhsm_proto::secret::ct_eq;
use yhsm_proto::shares::{KCV_LEN, Share};

use crate::error::{Error, Result};
use crate::util::files;
use crate::util::prompt::Prompter;
use crate::wrapkey::shares::normalize_share_text;

/// The file of share `index` of wrap key `wrap_id` in `--shares-dir`:
/// `0x0002-wrap-key-share-1.txt`.
pub fn share_file_name(wrap_id: ObjectId, index: u8) -> String {
    format!("0x{wrap_id:04x}-wrap-key-share-{index}.txt")
}

/// Checks that the shares directory, if it exists, holds no share file of any wrap key (a
/// share of an earlier setup must not sit beside the new ones). It is created (0700) when
/// the shares are written.
pub fn check_shares_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let listing = std::fs::read_dir(dir).map_err(|e| {
        Error::failure(format!("cannot read the shares directory `{}`", dir.display()))
            .with_source(e)
    })?;
    let mut names: Vec<String> = listing
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("-wrap-key-share-"))
        .collect();
    names.sort();
    if let Some(first) = names.first() {
        return Err(Error::failure(format!(
            "the shares directory `{}` already holds {first}: setup never writes over a share",
            dir.display()
        ))
        .with_hint(
            "give each setup an empty shares directory (or finish the earlier setup with \
             --resume)",
        ));
    }
    Ok(())
}

/// Creates `dir` (and its parents) with mode 0700 when it does not exist.
pub(super) fn create_private_dir(dir: &Path, what: &str) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| {
        Error::failure(format!("cannot create the {what} `{}`", dir.display())).with_source(e)
    })
}

/// Writes one file per share into `dir`, never over an existing file; the paths written.
pub fn write_files(
    dir: &Path,
    wrap_id: ObjectId,
    kcv: [u8; KCV_LEN],
    shares: &[Share],
) -> Result<Vec<PathBuf>> {
    create_private_dir(dir, "shares directory")?;
    let count = shares.len();
    let mut written = Vec::with_capacity(count);
    for share in shares {
        let index = share.index();
        let path = dir.join(share_file_name(wrap_id, index));
        let text = zeroize::Zeroizing::new(format!(
            "# yhsm setup: share {index} of {count} of wrap key 0x{wrap_id:04x} (any {} \
             recover it; key check value {}).\n# Share check value {}. Keep this file secret: \
             give it to custodian {index} alone.\n{}\n",
            share.threshold(),
            hex::encode(kcv),
            hex::encode(share.check_value()),
            share.render().as_str()
        ));
        files::write_file(&path, text.as_bytes(), false, "share file")?;
        written.push(path);
    }
    Ok(written)
}

fn terminal(e: std::io::Error) -> Error {
    Error::failure("cannot hand out the shares at the terminal")
        .with_source(e)
        .with_hint("give --shares-dir DIR to write one file per custodian instead")
}

/// Shows each share alone on a cleared screen, then has its custodian type it back
/// without echo; a share typed back wrong is shown again. Fails only when the terminal
/// does (or its input ends).
pub fn show(
    p: &mut dyn Prompter,
    wrap_id: ObjectId,
    kcv: [u8; KCV_LEN],
    shares: &[Share],
) -> Result<()> {
    let count = shares.len();
    let threshold = shares.first().map_or(0, Share::threshold);
    p.message(&format!(
        "\n*** WARNING ***\nThe wrap key 0x{wrap_id:04x} is about to be shown as {count} shares, \
         any {threshold} of which recover it and every object backed up under it. Each share \
         is shown alone to its custodian, who records it and types it back; the screen is \
         cleared in between. Nobody else should look.\nKey check value of the wrap key (not \
         secret; record it with each share): {}\n",
        hex::encode(kcv)
    ))
    .map_err(terminal)?;
    for share in shares {
        let index = share.index();
        let text = share.render();
        let ended = || {
            Error::failure(format!("the terminal's input ended while share {index} was handed out"))
        };
        p.read_line(&format!(
            "Custodian {index}: are you ready to see key share {index} of {count}? Press Enter"
        ))
        .map_err(terminal)?
        .ok_or_else(ended)?;
        loop {
            p.clear_screen().map_err(terminal)?;
            p.message(&format!(
                "Key share {index} of {count} (share check value {}):\n\n{}\n",
                hex::encode(share.check_value()),
                text.as_str()
            ))
            .map_err(terminal)?;
            p.read_line("Have you recorded the key share? Press Enter to hide it")
                .map_err(terminal)?
                .ok_or_else(ended)?;
            p.clear_screen().map_err(terminal)?;
            let typed = p
                .read_secret(&format!(
                    "Custodian {index}: type key share {index} back (not shown): "
                ))
                .map_err(terminal)?
                .ok_or_else(ended)?;
            // Canonical text (hex case, blanks, base64 padding do not matter).
            let typed = Share::parse(normalize_share_text(&typed)).map(|s| s.render());
            if typed.is_ok_and(|t| t.len() == text.len() && ct_eq(t.as_bytes(), text.as_bytes())) {
                p.message(&format!("Key share {index} confirmed.")).map_err(terminal)?;
                break;
            }
            p.message(&format!(
                "That is not key share {index} as shown: it is shown again. Press Enter when \
                 ready."
            ))
            .map_err(terminal)?;
            p.read_line("").map_err(terminal)?.ok_or_else(ended)?;
        }
    }
    p.clear_screen().map_err(terminal)?;
    Ok(())
}
