//! Secrets in the tool's library (see SECURITY.md "How it is checked"): `Debug` of
//! passwords, options, wrap-key sources, loaded keys, shares files, recovered keys and
//! the prompter shows none of them; the text shown while shares are typed and the
//! human/JSON output without `--reveal` carry no share and no key; errors about a mistyped
//! share or key name a line or a count, never the text. That the types keep secrets only
//! in zeroizing containers is the lint `tests/lint`.
//!
//! The binary's terminal behaviour is tested elsewhere: `pty.rs` (shares typed at a real
//! terminal are not echoed) and the device commands' `-v` frame log tests.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests, and test helpers outside #[test] functions"
)]

use yhsm::options::GlobalOptions;
use yhsm::util::password::{Password, PasswordOptions, read_password_file};
use yhsm::util::prompt::ScriptedPrompter;
use yhsm::wrapkey::shares::{self, SplitOptions};
use yhsm::wrapkey::{self, WrapKeySource};
use yhsm_proto::shares::ShareFormat;
use yhsm_proto::wrap::WrapKey;
use yhsm_proto::{Capabilities, Domains, SecretBytes};
use yhsm_test_support::leaks::{assert_debug_hides, assert_hidden, marker};
use zeroize::Zeroizing;

const PASSWORD: &[u8] = b"Zq9!vK3#pW8$-cli-marker";

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("yhsm-secrets-{}-{name}", std::process::id()))
}

#[test]
fn passwords_and_options_redact() {
    let password = Password::new(SecretBytes::from_slice(PASSWORD));
    assert_debug_hides("Password", &password, &[PASSWORD]);
    let options = PasswordOptions { file: None, argument: Some(password) };
    assert_debug_hides("PasswordOptions", &options, &[PASSWORD]);
    let global = GlobalOptions { password: options, ..GlobalOptions::default() };
    assert_debug_hides("GlobalOptions", &global, &[PASSWORD]);

    let path = temp("password");
    std::fs::write(&path, [PASSWORD, b"\nsecond line"].concat()).unwrap();
    let read = read_password_file(&path, "password file").unwrap();
    assert_eq!(read.expose_secret(), PASSWORD);
    assert_debug_hides("Password (file)", &read, &[PASSWORD]);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn wrap_key_sources_and_loaded_keys_redact() {
    let key = marker(0x90, 32);
    let hex_key = hex::encode(&key);
    let source = WrapKeySource::Hex(Zeroizing::new(hex_key.clone()));
    assert_debug_hides("WrapKeySource::Hex", &source, &[&key, hex_key.as_bytes()]);
    let loaded = wrapkey::load(&source, &mut ScriptedPrompter::default()).unwrap();
    assert_eq!(loaded.key.expose_secret(), key.as_slice());
    assert_debug_hides("LoadedWrapKey", &loaded, &[&key, hex_key.as_bytes()]);

    // A key one digit short: the error counts digits, it does not quote them.
    let short = WrapKeySource::Hex(Zeroizing::new(hex_key[1..].to_owned()));
    let err = wrapkey::load(&short, &mut ScriptedPrompter::default()).unwrap_err();
    let text = format!("{err} {err:?} {}", err.chain());
    assert_hidden("--wrap-key error", &text, &hex_key.as_bytes()[1..]);
    assert_hidden("--wrap-key error", &text, &key[1..]);
}

fn split_key(key: &[u8], format: ShareFormat) -> Vec<yhsm_proto::shares::Share> {
    shares::split(
        &WrapKey::new(key).unwrap(),
        &SplitOptions {
            threshold: 2,
            count: 3,
            format,
            wrap_key_id: 0x0042,
            domains: Domains(1),
            capabilities: Capabilities::ALL,
            delegated: Capabilities::ALL,
        },
    )
    .unwrap()
}

#[test]
fn shares_files_and_recovered_keys_redact() {
    for format in ShareFormat::ALL {
        let key = marker(0x91, 32);
        let list = split_key(&key, format);
        let text = shares::render_shares(&list);
        // Sized up front: growing would leave a copy of the shares in freed memory.
        assert_eq!(text.capacity(), text.len(), "the rendered shares grew");
        let file = shares::parse_shares_text(text.as_bytes(), "shares.txt").unwrap();
        let mut secrets: Vec<Vec<u8>> = vec![key.clone()];
        for share in &list {
            secrets.push(share.data().expose_secret().to_vec());
            secrets.push(share.render().as_bytes()[4..].to_vec());
        }
        let secrets: Vec<&[u8]> = secrets.iter().map(Vec::as_slice).collect();
        assert_debug_hides("SharesFile", &file, &secrets);

        let recovered = shares::combine_shares_file(&file, "shares.txt").unwrap();
        assert_debug_hides("RecoveredKey", &recovered, &secrets);
        let source = WrapKeySource::SharesFiles(vec![{
            let path = temp(&format!("shares-{format}"));
            std::fs::write(&path, text.as_bytes()).unwrap();
            path
        }]);
        let loaded = wrapkey::load(&source, &mut ScriptedPrompter::default()).unwrap();
        assert_debug_hides("LoadedWrapKey (shares)", &loaded, &secrets);
        let _ = std::fs::remove_file(temp(&format!("shares-{format}")));

        // Without --reveal the outputs carry attributes only; with it, the key (so the
        // checker is looking at the right bytes).
        assert_hidden("combine output", &recovered.render_human(false), &key);
        assert_hidden("combine --json", &recovered.to_json(false, None).to_pretty(), &key);
        let revealed = recovered.render_human(true);
        let caught = std::panic::catch_unwind(|| assert_hidden("probe", &revealed, &key));
        assert!(caught.is_err(), "--reveal shows the key");

        // A mistyped share: the error names the line, not the share.
        let mut typo = list[1].render().to_string();
        typo.replace_range(12..13, "!");
        let bad = format!("{}\n{typo}\n", list[0].render().as_str());
        let err = shares::parse_shares_text(bad.as_bytes(), "shares.txt").unwrap_err();
        let text = format!("{err} {err:?} {}", err.chain());
        assert!(text.contains("line 2"), "{text}");
        assert_hidden("shares file error", &text, &typo.as_bytes()[4..]);
        assert_hidden("shares file error", &text, &list[0].render().as_bytes()[4..]);
    }
}

#[test]
fn typed_shares_are_never_shown() {
    let key = marker(0x92, 32);
    let list = split_key(&key, ShareFormat::YubihsmManager);
    let rendered: Vec<String> = list.iter().map(|s| s.render().to_string()).collect();
    let mut typo = rendered[0].clone();
    typo.replace_range(20..21, "!");
    // The number of shares, a mistyped share (refused, asked again), then two good ones.
    let answers = ["2".to_owned(), typo.clone(), rendered[0].clone(), rendered[2].clone()];
    let mut prompter = ScriptedPrompter::new(&answers);
    let loaded = wrapkey::load_or_prompt(None, &mut prompter).unwrap();
    assert_eq!(loaded.key.expose_secret(), key.as_slice());
    let shown = prompter.transcript.join("\n");
    assert!(shown.contains("refused"), "{shown}");
    for text in rendered.iter().chain([&typo]) {
        assert_hidden("prompt transcript", &shown, &text.as_bytes()[4..]);
    }
    assert_hidden("prompt transcript", &shown, &key);
    assert_debug_hides("ScriptedPrompter", &prompter, &[&key, &rendered[1].as_bytes()[4..]]);
    let unused = ScriptedPrompter::new(&rendered);
    for text in &rendered {
        assert_debug_hides("ScriptedPrompter (answers)", &unused, &[&text.as_bytes()[4..]]);
    }
}
