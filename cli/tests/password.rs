//! Where the password comes from: `--password-file`, `-p`, `YHSM_PASSWORD`, a prompt, in
//! that order (library level; the `-p` warning is in golden/shares.txt).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::PathBuf;

use yhsm::util::password::{Password, PasswordOptions, resolve_password};
use yhsm_proto::SecretBytes;
use zeroize::Zeroizing;

fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("yhsm-password-{}-{name}", std::process::id()));
    fs::write(&path, contents).unwrap();
    path
}

fn never_prompt(_: &str) -> io::Result<Option<Zeroizing<String>>> {
    panic!("prompted although another source was given")
}

fn resolve(options: &PasswordOptions, env: Option<&str>) -> yhsm::Result<Password> {
    resolve_password(options, 1, env.map(OsString::from), &mut never_prompt)
}

fn password(s: &str) -> Password {
    Password::new(SecretBytes::from_slice(s.as_bytes()))
}

#[test]
fn a_file_gives_its_first_line_without_the_line_ending() {
    for (name, contents) in [
        ("lf", &b"password\n"[..]),
        ("crlf", b"password\r\nsecond line\r\n"),
        ("bare", b"password"),
        ("lines", b"password\nnot this\n"),
        ("byte-order-mark", b"\xef\xbb\xbfpassword\r\n"),
    ] {
        let path = temp_file(name, contents);
        let options = PasswordOptions { file: Some(path.clone()), argument: None };
        let got = resolve(&options, Some("from-env")).unwrap();
        assert_eq!(got.expose_secret(), b"password", "{name}");
        let _ = fs::remove_file(path);
    }
}

#[test]
fn a_file_wins_over_the_environment_and_keeps_other_bytes() {
    let path = temp_file("spaces", b" pass word \t\n");
    let options = PasswordOptions { file: Some(path.clone()), argument: None };
    assert_eq!(resolve(&options, Some("env")).unwrap().expose_secret(), b" pass word \t");
    let _ = fs::remove_file(path);
}

#[test]
fn an_empty_or_missing_file_is_an_error_naming_it() {
    let path = temp_file("empty", b"\nsecond\n");
    let options = PasswordOptions { file: Some(path.clone()), argument: None };
    let e = resolve(&options, None).unwrap_err().chain();
    assert!(e.contains("is empty") && e.contains(&path.display().to_string()), "{e}");
    let _ = fs::remove_file(&path);
    let e = resolve(&options, None).unwrap_err().chain();
    assert!(e.starts_with("cannot open password file"), "{e}");
}

#[test]
fn the_argument_comes_before_the_environment() {
    let options = PasswordOptions { file: None, argument: Some(password("from-p")) };
    assert_eq!(resolve(&options, Some("from-env")).unwrap().expose_secret(), b"from-p");
}

#[test]
fn the_environment_comes_before_the_prompt() {
    let options = PasswordOptions::default();
    assert_eq!(resolve(&options, Some("from-env")).unwrap().expose_secret(), b"from-env");
}

#[test]
fn the_prompt_is_last_and_names_the_key() {
    let mut shown = Vec::new();
    let mut prompt = |p: &str| {
        shown.push(p.to_owned());
        Ok(Some(Zeroizing::new("typed".to_owned())))
    };
    let options = PasswordOptions::default();
    // An empty variable counts as unset.
    let got = resolve_password(&options, 0x10, Some(OsString::new()), &mut prompt).unwrap();
    assert_eq!(got.expose_secret(), b"typed");
    assert_eq!(shown, ["Password for authentication key 0x0010: "]);
}

#[test]
fn no_answer_at_the_prompt_is_an_error() {
    let options = PasswordOptions::default();
    let e = resolve_password(&options, 1, None, &mut |_: &str| Ok(None)).unwrap_err();
    assert_eq!(e.chain(), "no password entered");
    let e =
        resolve_password(&options, 1, None, &mut |_: &str| Ok(Some(Zeroizing::new(String::new()))))
            .unwrap_err();
    assert_eq!(e.chain(), "no password entered");
    let e = resolve_password(&options, 1, None, &mut |_: &str| {
        Err(io::Error::new(io::ErrorKind::NotFound, "no tty"))
    })
    .unwrap_err();
    assert_eq!(e.chain(), "cannot read the password from the terminal: no tty");
    assert!(e.hint().unwrap().contains("--password-file"));
}

#[test]
fn debug_never_shows_the_password() {
    let text = format!("{:?}", password("hunter2"));
    assert!(!text.contains("hunter2"), "{text}");
}
