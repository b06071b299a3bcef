//! The one error type of the command-line tool: what failed (naming the file, option or
//! share), why (the cause chain), and what to do about it.
//!
//! Messages never contain secret bytes: a share, a key or a password is named by its file,
//! line or position, never quoted.

use std::fmt;

/// Decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The command line is wrong: an unknown option, a missing or malformed value. Exit 2.
    Usage,
    /// The command ran and failed. Exit 1.
    Failure,
}

/// The exit code of a successful run.
pub const EXIT_OK: u8 = 0;
/// The exit code of a failed run.
pub const EXIT_FAILURE: u8 = 1;
/// The exit code of a usage error.
pub const EXIT_USAGE: u8 = 2;

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error to show the user: a message, an optional cause and an optional hint.
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Source>,
    hint: Option<String>,
}

/// A result whose error is shown to the user.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The command failed: `message` says what failed.
    pub fn failure(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Failure, message: message.into(), source: None, hint: None }
    }

    /// The command line is wrong.
    pub fn usage(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Usage, message: message.into(), source: None, hint: None }
    }

    /// Adds the cause, shown after the message.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Adds what the user can do about it.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Puts `context` before the message: `context: message`.
    #[must_use]
    pub fn context(mut self, context: &str) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// Adds `hint` unless the error already has one.
    #[must_use]
    pub fn or_hint(mut self, hint: impl Into<String>) -> Self {
        if self.hint.is_none() {
            self.hint = Some(hint.into());
        }
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What failed, without the cause.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// 1 for a failure, 2 for a usage error.
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            ErrorKind::Usage => EXIT_USAGE,
            ErrorKind::Failure => EXIT_FAILURE,
        }
    }

    /// What the binary prints on standard error for this error: `yhsm: error: ` and the
    /// [`chain`](Self::chain), then `yhsm: hint: ` and the hint, one line each.
    pub fn render(&self) -> String {
        self.render_with_hint(self.hint.as_deref())
    }

    /// [`render`](Self::render) with `hint` in place of the error's own.
    pub fn render_with_hint(&self, hint: Option<&str>) -> String {
        let mut text = format!("yhsm: error: {}\n", self.chain());
        if let Some(hint) = hint {
            text.push_str(&format!("yhsm: hint: {hint}\n"));
        }
        text
    }

    /// The message followed by every cause, joined by `: `.
    pub fn chain(&self) -> String {
        let mut out = self.message.clone();
        let mut next: Option<&(dyn std::error::Error + 'static)> =
            self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static));
        while let Some(e) = next {
            let text = e.to_string();
            // Some errors repeat their source in their own message (at the end, or before
            // advice of their own); say it once.
            if !out.contains(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            next = e.source();
        }
        out
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("source", &self.source)
            .field("hint", &self.hint)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("outer")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    /// Names its source in the middle of its own message, as `ClientError` does.
    #[derive(Debug)]
    struct Quoting(std::io::Error);
    impl fmt::Display for Quoting {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "delete-object: {}; it may have run", self.0)
        }
    }
    impl std::error::Error for Quoting {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn chain_says_a_cause_quoted_inside_a_message_once() {
        let e = Error::failure("cannot delete")
            .with_source(Quoting(std::io::Error::other("no answer within 5 s")));
        assert_eq!(
            e.chain(),
            "cannot delete: delete-object: no answer within 5 s; it may have run"
        );
    }

    #[test]
    fn chain_joins_every_cause() {
        let e = Error::failure("cannot read `x`")
            .with_source(Outer(std::io::Error::other("disk on fire")))
            .with_hint("try again");
        assert_eq!(e.chain(), "cannot read `x`: outer: disk on fire");
        assert_eq!(e.hint(), Some("try again"));
        assert_eq!(
            e.render(),
            "yhsm: error: cannot read `x`: outer: disk on fire\nyhsm: hint: try again\n"
        );
        assert_eq!(e.exit_code(), EXIT_FAILURE);
        assert_eq!(Error::usage("bad").exit_code(), EXIT_USAGE);
    }
}
