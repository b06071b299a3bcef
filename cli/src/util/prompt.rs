//! Asking a person for things at a terminal, behind a trait so that the flows are tested
//! with scripted answers. The binary implements [`Prompter`] on the terminal (`/dev/tty`),
//! with echo off for secrets.
//!
//! The share flow follows yubihsm-setup's restore (docs/PROTOCOL.md §6.2): the number of shares
//! first, then each share without echo.

use std::collections::VecDeque;
use std::io;

use yhsm_proto::shares::Share;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// A terminal, or a script of answers.
pub trait Prompter {
    /// Shows `prompt` and reads one line with echo; `None` at end of input.
    fn read_line(&mut self, prompt: &str) -> io::Result<Option<Zeroizing<String>>>;
    /// Shows `prompt` and reads one line without echo; `None` at end of input.
    fn read_secret(&mut self, prompt: &str) -> io::Result<Option<Zeroizing<String>>>;
    /// Shows a line of text (progress, or why an answer was refused).
    fn message(&mut self, text: &str) -> io::Result<()>;
    /// Clears the screen and its scrollback, so that a secret shown for a person to record
    /// (a share, by `yhsm setup`) is gone before the next person looks. Nothing unless
    /// the prompter is a terminal.
    fn clear_screen(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Whether standard input is a terminal, so that `-` (read standard input) is typed
    /// by a person and must not be echoed. `false` unless the prompter knows better.
    fn stdin_is_terminal(&self) -> bool {
        false
    }
    /// Whether a person at a terminal runs the command (standard input is a terminal), so
    /// that a question the command line did not answer (`--allow-skipped`) may be asked.
    /// `false` unless the prompter knows better: scripts are never asked.
    fn is_interactive(&self) -> bool {
        false
    }
}

/// Answers from a list, recording everything shown. For tests (here and in the device
/// commands' tests).
#[derive(Debug, Default)]
pub struct ScriptedPrompter {
    answers: VecDeque<Zeroizing<String>>,
    /// Prompts and messages in order; secret prompts are prefixed with `(secret) `, a
    /// cleared screen is [`CLEARED`].
    pub transcript: Vec<String>,
    /// What [`Prompter::is_interactive`] answers (default `false`).
    pub interactive: bool,
}

impl ScriptedPrompter {
    pub fn new<S: AsRef<str>>(answers: &[S]) -> Self {
        Self {
            answers: answers.iter().map(|a| Zeroizing::new(a.as_ref().to_owned())).collect(),
            transcript: Vec::new(),
            interactive: false,
        }
    }

    /// The same, as a person at a terminal.
    pub fn interactive<S: AsRef<str>>(answers: &[S]) -> Self {
        Self { interactive: true, ..Self::new(answers) }
    }
}

impl Prompter for ScriptedPrompter {
    fn read_line(&mut self, prompt: &str) -> io::Result<Option<Zeroizing<String>>> {
        self.transcript.push(prompt.to_owned());
        Ok(self.answers.pop_front())
    }

    fn read_secret(&mut self, prompt: &str) -> io::Result<Option<Zeroizing<String>>> {
        self.transcript.push(format!("(secret) {prompt}"));
        Ok(self.answers.pop_front())
    }

    fn message(&mut self, text: &str) -> io::Result<()> {
        self.transcript.push(text.to_owned());
        Ok(())
    }

    fn clear_screen(&mut self) -> io::Result<()> {
        self.transcript.push(CLEARED.to_owned());
        Ok(())
    }

    fn is_interactive(&self) -> bool {
        self.interactive
    }
}

/// What [`ScriptedPrompter`] records for a cleared screen.
pub const CLEARED: &str = "(screen cleared)";

/// Asks a yes-or-no `question` (` [y/N]: ` is appended): `y` or `yes` (any case) is yes,
/// anything else, or the end of input, no.
pub fn confirm(p: &mut dyn Prompter, question: &str) -> Result<bool> {
    let answer = p.read_line(&format!("{question} [y/N]: ")).map_err(confirm_error)?;
    Ok(answer.is_some_and(|a| {
        let a = a.trim();
        a.eq_ignore_ascii_case("y") || a.eq_ignore_ascii_case("yes")
    }))
}

/// Asks the person to type `expected` (for what cannot be undone): true only when the
/// line typed is `expected`, surrounding spaces aside.
pub fn confirm_typed(p: &mut dyn Prompter, expected: &str) -> Result<bool> {
    let answer = p.read_line(&format!("Type `{expected}` to confirm: ")).map_err(confirm_error)?;
    Ok(answer.is_some_and(|a| a.trim() == expected))
}

fn confirm_error(e: io::Error) -> Error {
    Error::failure("cannot ask for confirmation at the terminal").with_source(e)
}

fn terminal_error(e: io::Error) -> Error {
    Error::failure("cannot read from the terminal")
        .with_source(e)
        .with_hint("give the shares in a file with --shares-file FILE (one share per line)")
}

fn said(p: &mut dyn Prompter, text: &str) -> Result<()> {
    p.message(text).map_err(terminal_error)
}

/// Asks how many shares will be entered, then each share (without echo), checking each as
/// it comes: a malformed share, or one of another format, threshold or with an index
/// already entered, is refused and asked again. When the first share shows that more
/// shares are needed than will be entered, that is said and the number asked again
/// (the share just typed is kept, so nobody types it twice). Returns the shares in the
/// order typed; they are combined (and checked against each other) by the caller.
pub fn prompt_shares(p: &mut dyn Prompter) -> Result<Vec<Share>> {
    prompt_shares_checked(p, ShareAdvice::default(), &|_| None)
}

/// What the share prompt tells the custodians before they start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShareAdvice {
    /// Each share will be checked against a check value recorded at setup.
    pub recorded: bool,
    /// The recorded split, `(threshold, count)`, when there is one.
    pub split: Option<(u8, u8)>,
}

impl ShareAdvice {
    fn text(self) -> String {
        if self.recorded {
            let split = self.split.map_or(String::new(), |(k, n)| {
                format!("The backup's wrap key was split {k} of {n}. ")
            });
            return format!(
                "{split}Each share is checked against the check value recorded at setup as it \
                 is entered."
            );
        }
        "Enter one share more than the threshold if one more custodian is present: the shares \
         carry no checksum, and with an extra share a mistyped one is caught before anything \
         is written."
            .to_owned()
    }
}

/// [`prompt_shares`], telling the custodians `advice` first and refusing (and asking
/// again for) each share `refuse` has a reason against (a check value recorded for it).
pub fn prompt_shares_checked(
    p: &mut dyn Prompter,
    advice: ShareAdvice,
    refuse: &dyn Fn(&Share) -> Option<String>,
) -> Result<Vec<Share>> {
    said(p, &advice.text())?;
    let mut kept: Option<Share> = None;
    'count: loop {
        let count = ask_count(p)?;
        let mut shares: Vec<Share> = Vec::with_capacity(usize::from(count));
        if let Some(first) = kept.take() {
            if first.threshold() > count {
                said(p, &too_few(first.threshold(), count))?;
                kept = Some(first);
                continue 'count;
            }
            shares.push(first);
            said(p, &format!("Received share 1 of {count}"))?;
        }
        while shares.len() < usize::from(count) {
            let number = shares.len() + 1;
            let share = loop {
                let text = p
                    .read_secret(&format!("Enter share number {number}: "))
                    .map_err(terminal_error)?
                    .ok_or_else(|| {
                        Error::failure(format!("share {number} of {count} was not entered"))
                    })?;
                let checked =
                    check_next_share(&text, &shares, count).and_then(|share| {
                        match refuse(&share) {
                            Some(why) => Err(Refusal::Retry(why)),
                            None => Ok(share),
                        }
                    });
                match checked {
                    Ok(share) => break share,
                    Err(Refusal::Retry(why)) => {
                        said(p, &format!("Share {number} refused: {why}. Enter it again."))?;
                    }
                    Err(Refusal::TooFew(share)) if refuse(&share).is_some() => {
                        let why = refuse(&share).unwrap_or_default();
                        said(p, &format!("Share {number} refused: {why}. Enter it again."))?;
                    }
                    Err(Refusal::TooFew(share)) => {
                        said(p, &too_few(share.threshold(), count))?;
                        kept = Some(share);
                        continue 'count;
                    }
                }
            };
            shares.push(share);
            said(p, &format!("Received share {number} of {count}"))?;
        }
        return Ok(shares);
    }
}

fn too_few(threshold: u8, count: u8) -> String {
    format!(
        "These shares need {threshold} to recover the key, but {count} will be entered: enter \
         the number of shares again (at least {threshold}); the share just typed is kept."
    )
}

fn ask_count(p: &mut dyn Prompter) -> Result<u8> {
    loop {
        let line = p
            .read_line("Enter the number of shares: ")
            .map_err(terminal_error)?
            .ok_or_else(|| Error::failure("no number of shares entered"))?;
        match line.trim().parse::<u8>() {
            Ok(n @ 1..=9) => return Ok(n),
            _ => said(p, "Expected a number from 1 to 9.")?,
        }
    }
}

enum Refusal {
    /// Refused: ask for this share again.
    Retry(String),
    /// A first share whose threshold is above the number of shares to be entered.
    TooFew(Share),
}

fn check_next_share(text: &str, earlier: &[Share], count: u8) -> Result<Share, Refusal> {
    let share = crate::wrapkey::shares::parse_share(text).map_err(Refusal::Retry)?;
    let Some(first) = earlier.first() else {
        if share.threshold() > count {
            return Err(Refusal::TooFew(share));
        }
        return Ok(share);
    };
    if share.format() != first.format() {
        return Err(Refusal::Retry(format!(
            "it is a {} share but the first one is a {} share",
            share.format(),
            first.format()
        )));
    }
    if share.threshold() != first.threshold() {
        return Err(Refusal::Retry(format!(
            "it has threshold {} but the first share has threshold {}",
            share.threshold(),
            first.threshold()
        )));
    }
    if let Some(i) = earlier.iter().position(|s| s.index() == share.index()) {
        return Err(Refusal::Retry(format!(
            "share number {} has index {} too",
            i + 1,
            share.index()
        )));
    }
    Ok(share)
}
