//! Does a text show a secret? The redaction tests of every crate build values from
//! [`marker`] bytes and search their `Debug` output, error messages and other output with
//! [`assert_hidden`] and [`assert_debug_hides`].

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a failed check is a panic on purpose"
)]

use std::fmt::Debug;

/// `n` marker bytes: every 4-byte run is distinct and unlikely to occur by chance.
pub fn marker(seed: u8, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| seed.wrapping_add(u8::try_from(i % 256).unwrap().wrapping_mul(0x3b)) ^ 0x5a)
        .collect()
}

/// [`marker`] as an array.
pub fn marker_array<const N: usize>(seed: u8) -> [u8; N] {
    marker(seed, N).try_into().unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Fails when `text` shows any 4-byte run of `secret` in hex (either case, any
/// separators) or as decimal numbers (a byte array's `Debug`, flat or pretty), or any
/// 12-byte run of it as text.
pub fn assert_hidden(what: &str, text: &str, secret: &[u8]) {
    assert!(secret.len() >= 4, "{what}: a secret of {} bytes cannot be checked", secret.len());
    let squashed: String =
        text.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase();
    let numbers: Vec<u32> =
        text.split(|c: char| !c.is_ascii_digit()).filter_map(|s| s.parse().ok()).collect();
    for w in secret.windows(4) {
        assert!(!squashed.contains(&hex(w)), "{what} shows secret bytes in hex: {text}");
        let decimal: Vec<u32> = w.iter().map(|&b| u32::from(b)).collect();
        assert!(
            !numbers.windows(4).any(|n| n == decimal.as_slice()),
            "{what} shows secret bytes as numbers: {text}"
        );
    }
    // As text: runs of 12 characters, so that a password is caught but an opaque object
    // that happens to say "opaque" is not.
    for w in secret.windows(12.min(secret.len())) {
        if let Ok(s) = std::str::from_utf8(w) {
            assert!(!text.contains(s), "{what} shows secret text: {text}");
        }
    }
}

/// `{:?}` and `{:#?}` of `value` show none of `secrets`.
pub fn assert_debug_hides<T: Debug + ?Sized>(what: &str, value: &T, secrets: &[&[u8]]) {
    let text = format!("{value:?}\n{value:#?}");
    for secret in secrets {
        assert_hidden(what, &text, secret);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checker_finds_secrets_in_every_spelling() {
        let secret = marker(1, 8);
        let spellings = [
            format!("{secret:?}"),
            format!("{secret:#?}"),
            format!("{secret:02x?}"),
            hex(&secret),
            hex(&secret).to_uppercase(),
            secret.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"),
        ];
        for text in spellings {
            let caught = std::panic::catch_unwind(|| assert_hidden("probe", &text, &secret));
            assert!(caught.is_err(), "missed {text}");
        }
        let password = b"Zq9!vK3#pW8$";
        let caught =
            std::panic::catch_unwind(|| assert_hidden("probe", "pw: \"Zq9!vK3#pW8$\"", password));
        assert!(caught.is_err());
        assert_hidden("probe", "SecretBytes(8 bytes, redacted)", &secret);
    }
}
