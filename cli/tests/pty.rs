//! Shares and passwords typed at the terminal are not echoed. `yhsm shares combine`,
//! `yhsm restore`, `yhsm change-password` and `yhsm put-authkey` run on a pseudo-terminal
//! made by util-linux `script` (with terminal echo on); the tests type like a person,
//! waiting for each prompt, and read everything the terminal shows. `yhsm delete` and
//! `yhsm reset` ask their confirmations there too, with echo: nothing in them is secret.
//!
//! The number of shares is read with echo, so it must appear: that proves echo was on and
//! that the test would see a share if one were echoed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a failed test"
)]

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const S1: &str = "2-1-DzyKRzPN4fnv9gpd4MgmRClmJxHZxEEEZTHp4eGICmQPjjS75HZhJKJAP6EESSFPBmzYhw";
const S2: &str = "2-2-Hn4VkmaH3+/D8US63Y1MiFHDBS+vloQNxm3F1scWCtUKFnp65d/0fWW/RGYguWyzKP+PMg";
/// The example backup, whose shares are typed at the terminal.
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/backup");

fn has_script() -> bool {
    Command::new("script")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether util-linux `script` is missing: the test is then skipped, saying so.
fn no_script() -> bool {
    let missing = !has_script();
    if missing {
        eprintln!("skipped: util-linux `script` is not installed");
    }
    missing
}

/// The shares of the example backup (`examples/backup/shares.txt`): any two give its
/// wrap key.
fn example_shares() -> Vec<String> {
    let text = std::fs::read_to_string(format!("{EXAMPLE}/shares.txt")).unwrap();
    text.lines().filter(|l| !l.starts_with('#')).map(str::to_owned).collect()
}

/// Answers the numbered share prompts: how many, then each share, each acknowledged.
fn type_shares(t: &mut Terminal, shares: &[&str]) {
    let count = shares.len();
    t.wait_for("Enter the number of shares: ");
    t.type_line(&count.to_string());
    for (i, share) in shares.iter().enumerate() {
        t.wait_for(&format!("Enter share number {}: ", i + 1));
        t.type_line(share);
        t.wait_for(&format!("Received share {} of {count}", i + 1));
    }
}

/// No part of any of `shares` past its `T-N-` prefix is on `screen`.
fn assert_not_echoed(what: &str, screen: &str, shares: &[&str]) {
    for share in shares {
        assert!(!screen.contains(&share[4..20]), "{what}: a share was echoed; screen:\n{screen}");
    }
}

/// A `yhsm` command line running on a pseudo-terminal made by `script`, with everything
/// the terminal shows collected by a reader thread.
struct Terminal {
    child: Child,
    screen: Arc<Mutex<Vec<u8>>>,
    reader: thread::JoinHandle<()>,
    keyboard: ChildStdin,
    /// How much of the screen the last `wait_for` consumed.
    at: usize,
}

impl Terminal {
    /// Runs `yhsm ARGS` (ARGS already quoted for the shell) with terminal echo on.
    fn spawn(args: &str) -> Self {
        let bin = env!("CARGO_BIN_EXE_yhsm");
        assert!(!bin.contains('\''), "the test quotes the binary's path with '");
        let mut child = Command::new("script")
            .args(["--quiet", "--return", "--flush", "--echo", "always", "--command"])
            .arg(format!("'{bin}' {args}"))
            .arg("/dev/null")
            .env_remove("YHSM_PASSWORD")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let screen = Arc::new(Mutex::new(Vec::new()));
        let mut out = child.stdout.take().unwrap();
        let reader = {
            let screen = Arc::clone(&screen);
            thread::spawn(move || {
                let mut buf = [0u8; 256];
                while let Ok(n) = out.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    screen.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            })
        };
        let keyboard = child.stdin.take().unwrap();
        Self { child, screen, reader, keyboard, at: 0 }
    }

    /// Waits until `text` appears after what earlier waits consumed.
    fn wait_for(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let seen = String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned();
            if let Some(at) = seen.get(self.at..).and_then(|s| s.find(text)) {
                self.at += at + text.len();
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {text:?}; screen:\n{seen}");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types `line` and Enter, like a person who has just read the prompt.
    fn type_line(&mut self, line: &str) {
        // rpassword turns echo off right after it shows the prompt; give it that moment.
        thread::sleep(Duration::from_millis(300));
        self.keyboard.write_all(format!("{line}\r").as_bytes()).unwrap();
        self.keyboard.flush().unwrap();
    }

    /// Closes the keyboard, waits for the command and returns its success and the screen.
    fn finish(self) -> (bool, String) {
        drop(self.keyboard);
        let mut child = self.child;
        let status = child.wait().unwrap();
        self.reader.join().unwrap();
        let screen = String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned();
        (status.success(), screen)
    }
}

#[test]
fn shares_typed_at_the_terminal_are_not_echoed() {
    if no_script() {
        return;
    }
    let mut t = Terminal::spawn("shares combine --reveal");
    type_shares(&mut t, &[S1, S2]);
    t.wait_for("algorithm:");
    let (ok, screen) = t.finish();

    assert!(ok, "yhsm failed; screen:\n{screen}");
    assert!(
        screen.contains("Enter the number of shares: 2"),
        "the count should have been echoed (is echo on?); screen:\n{screen}"
    );
    // The shares were received: the key they hold is printed (--reveal).
    assert!(
        screen.contains("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
        "screen:\n{screen}"
    );
    assert_not_echoed("shares combine", &screen, &[S1, S2]);
}

/// `yhsm restore` asks for the password first (yubihsm-setup's order: a wrong password is
/// caught before the custodians type) and then for the shares, echoing neither, and goes
/// on to restore the example backup onto the simulator. A wrong password is asked again.
#[cfg(feature = "sim")]
#[test]
fn restore_prompts_for_shares_and_password_without_echo() {
    if no_script() {
        return;
    }
    let shares = example_shares();
    assert!(!EXAMPLE.contains('\''), "the test quotes paths with '");
    let mut t = Terminal::spawn(&format!("-c sim: restore '{EXAMPLE}'"));
    t.wait_for("Password for authentication key 0x0001: ");
    t.type_line("not it");
    t.wait_for("Wrong password for authentication key 0x0001");
    t.wait_for("Password for authentication key 0x0001: ");
    t.type_line("password");
    t.wait_for("Using authentication key 0x0001");
    type_shares(&mut t, &[&shares[2], &shares[0]]);
    t.wait_for("All done");
    let (ok, screen) = t.finish();

    assert!(ok, "yhsm failed; screen:\n{screen}");
    assert!(screen.contains("Enter the number of shares: 2"), "echo is off? screen:\n{screen}");
    assert!(screen.contains("Previous authentication key 0x0001 deleted"), "screen:\n{screen}");
    assert_not_echoed("restore", &screen, &[&shares[0], &shares[2]]);
    let prompt = "Password for authentication key 0x0001: ";
    for (at, _) in screen.match_indices(prompt) {
        let line = screen[at + prompt.len()..].split(['\r', '\n']).next().unwrap();
        assert!(!line.contains("password"), "the password was echoed; screen:\n{screen}");
        assert!(!line.contains("not it"), "the password was echoed; screen:\n{screen}");
    }
}

/// A scratch directory for a simulator state file (the device starts in factory state).
#[cfg(feature = "sim")]
fn state_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("yhsm-pty-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    assert!(!dir.to_string_lossy().contains('\''), "the test quotes paths with '");
    dir
}

/// The line the terminal shows after `prompt` (what was echoed there, if anything).
fn after(screen: &str, prompt: &str, nth: usize) -> String {
    let at = screen
        .match_indices(prompt)
        .nth(nth)
        .unwrap_or_else(|| panic!("prompt {prompt:?} #{nth} not shown; screen:\n{screen}"));
    screen[at.0 + prompt.len()..].split(['\r', '\n']).next().unwrap().to_owned()
}

/// `yhsm change-password` asks for the current password and the new one twice, echoing
/// none of them, and the new one then logs in.
#[cfg(feature = "sim")]
#[test]
fn change_password_echoes_no_password() {
    if no_script() {
        return;
    }
    let dir = state_dir("change-password");
    let state = dir.join("dev.state");
    let mut t = Terminal::spawn(&format!("-c sim:'{}' change-password", state.display()));
    t.wait_for("Password for authentication key 0x0001: ");
    t.type_line("password");
    t.wait_for("New password for authentication key 0x0001: ");
    t.type_line("first-Secret-7");
    t.wait_for("Type the new password again: ");
    t.type_line("first-Secret-8");
    t.wait_for("The two passwords differ; type them again.");
    t.wait_for("New password for authentication key 0x0001: ");
    t.type_line("second-Secret-9");
    t.wait_for("Type the new password again: ");
    t.type_line("second-Secret-9");
    t.wait_for("opens a session with the new password");
    let (ok, screen) = t.finish();
    assert!(ok, "yhsm failed; screen:\n{screen}");
    for secret in ["first-Secret", "second-Secret"] {
        assert!(!screen.contains(secret), "{secret:?} was echoed; screen:\n{screen}");
    }
    for (prompt, nth) in [
        ("New password for authentication key 0x0001: ", 0),
        ("New password for authentication key 0x0001: ", 1),
        ("Type the new password again: ", 0),
        ("Type the new password again: ", 1),
    ] {
        assert_eq!(after(&screen, prompt, nth), "", "echoed after {prompt:?}; screen:\n{screen}");
    }
    assert_eq!(after(&screen, "Password for authentication key 0x0001: ", 0), "");

    // The new password logs in.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_yhsm"))
        .args(["-c", &format!("sim:{}", state.display()), "list"])
        .env("YHSM_PASSWORD", "second-Secret-9")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `yhsm put-authkey` asks for the new key's password twice without echo; `yhsm delete`
/// asks y/N with echo (nothing secret), and `yhsm reset` wants the serial typed.
#[cfg(feature = "sim")]
#[test]
fn put_authkey_delete_and_reset_at_a_terminal() {
    if no_script() {
        return;
    }
    let dir = state_dir("admin");
    let state = dir.join("dev.state");
    std::fs::write(dir.join("pw"), "password\n").unwrap();
    let global =
        format!("-c sim:'{}' --password-file '{}'", state.display(), dir.join("pw").display());

    let mut t = Terminal::spawn(&format!("{global} put-authkey --profile audit -d 1 -i 4"));
    t.wait_for("New password for authentication key 0x0004: ");
    t.type_line("Audit-Secret-1");
    t.wait_for("Type the new password again: ");
    t.type_line("Audit-Secret-1");
    t.wait_for("opens a session with its password");
    let (ok, screen) = t.finish();
    assert!(ok, "screen:\n{screen}");
    assert!(!screen.contains("Audit-Secret"), "the password was echoed; screen:\n{screen}");

    let mut t = Terminal::spawn(&format!("{global} delete 4 authentication-key"));
    t.wait_for("[y/N]: ");
    t.type_line("n");
    let (ok, screen) = t.finish();
    assert!(!ok, "a no must fail; screen:\n{screen}");
    assert!(screen.contains("[y/N]: n"), "the answer is echoed; screen:\n{screen}");
    assert!(screen.contains("not confirmed: nothing was deleted"), "screen:\n{screen}");

    let mut t = Terminal::spawn(&format!("{global} reset"));
    t.wait_for("This erases the YubiHSM 1000001");
    t.wait_for("Type `reset 1000001` to confirm: ");
    t.type_line("reset 1000001");
    t.wait_for("reset: it holds only the factory authentication key");
    let (ok, screen) = t.finish();
    assert!(ok, "screen:\n{screen}");
    assert_eq!(after(&screen, "Type `reset 1000001` to confirm: ", 0), "reset 1000001");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Before (issue 10 §5): `--shares-file -` read a terminal with echo on, so every share
/// typed there stayed on the screen; `inspect` had no prompt at all. Now `-` on a
/// terminal reads one share per line without echo, for every command that takes shares,
/// and `inspect` without a key asks for the shares as restore does.
#[test]
fn shares_from_a_terminal_on_standard_input_are_not_echoed() {
    if no_script() {
        return;
    }
    // S1 and S2 are shares of the vectors' AES-256 wrap key.
    let vectors = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/wrapped");
    assert!(!vectors.contains('\''), "the test quotes paths with '");
    let file = format!("'{vectors}/opaque_data.yhw'");
    for (args, done) in [
        ("shares combine --shares-file - --reveal".to_owned(), "algorithm:"),
        ("shares convert --shares-file - --to yubihsm-manager".to_owned(), "2-2-"),
        (format!("inspect --shares-file - {file}"), "origin:"),
    ] {
        let mut t = Terminal::spawn(&args);
        t.wait_for("Share 1: ");
        t.type_line(S1);
        t.wait_for("Share 2: ");
        t.type_line(S2);
        t.wait_for("Share 3: ");
        t.type_line("");
        t.wait_for(done);
        let (ok, screen) = t.finish();
        assert!(ok, "{args}: yhsm failed; screen:\n{screen}");
        assert_not_echoed(&args, &screen, &[S1, S2]);
    }
}

#[test]
fn inspect_without_a_key_asks_for_the_shares_without_echo() {
    if no_script() {
        return;
    }
    let shares = example_shares();
    let mut t = Terminal::spawn(&format!("inspect '{EXAMPLE}/0x0200-opaque.yhw'"));
    type_shares(&mut t, &[&shares[0], &shares[1]]);
    t.wait_for("origin:");
    let (ok, screen) = t.finish();
    assert!(ok, "yhsm failed; screen:\n{screen}");
    assert!(screen.contains("type:"), "{screen}");
    assert_not_echoed("inspect", &screen, &[&shares[0], &shares[1]]);
}

/// With exactly the threshold of shares typed and no wrap-key description to check them
/// against, `yhsm restore` shows the wrap key's attributes and asks the person at the
/// terminal to confirm them before anything is written; the shares are not echoed.
#[cfg(feature = "sim")]
#[test]
fn restore_asks_to_confirm_the_wrap_key_when_nothing_vouches_for_it() {
    if no_script() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("yhsm-pty-confirm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(EXAMPLE).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yhw") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    let shares = example_shares();
    let path = dir.display().to_string();
    assert!(!path.contains('\''), "the test quotes paths with '");
    let mut t = Terminal::spawn(&format!("-c sim: restore '{path}'"));
    t.wait_for("Password for authentication key 0x0001: ");
    t.type_line("password");
    type_shares(&mut t, &[&shares[0], &shares[2]]);
    t.wait_for("key check value a5f1d7). Is this the backup's wrap key?");
    t.wait_for("[y/N]: ");
    t.type_line("y");
    t.wait_for("All done");
    let (ok, screen) = t.finish();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok, "yhsm failed; screen:\n{screen}");
    assert!(screen.contains("Previous authentication key 0x0001 deleted"), "screen:\n{screen}");
    assert_not_echoed("restore", &screen, &[&shares[0], &shares[2]]);
}

/// `yhsm setup` at a terminal: the passwords are not echoed; each share is shown after a
/// cleared screen, the screen is cleared before its custodian types it back, and what is
/// typed back is not echoed; a share typed back wrong is shown again.
#[cfg(feature = "sim")]
#[test]
fn setup_shows_each_share_alone_and_echoes_no_secret() {
    if no_script() {
        return;
    }
    const CLEAR: &str = "\x1b[H\x1b[2J\x1b[3J";
    let dir = state_dir("setup");
    let state = dir.join("dev.state");
    let mut t = Terminal::spawn(&format!(
        "-c sim:'{}' setup '{}' -d 1 --wrap-key-id 2 -t 2 -n 2 --app-key-id 3 --no-audit \
         --no-rsa-decryption --yes",
        state.display(),
        dir.join("backup").display()
    ));
    t.wait_for("Password for authentication key 0x0001: ");
    t.type_line("password");
    t.wait_for("New password for the application key 0x0003: ");
    t.type_line("app-Secret-42");
    t.wait_for("Type the new password again: ");
    t.type_line("app-Secret-42");
    let share_of = |t: &Terminal, index: u8| -> String {
        let screen = String::from_utf8_lossy(&t.screen.lock().unwrap()).into_owned();
        let head = format!("{index}-");
        screen
            .split(['\r', '\n'])
            .rev()
            .find(|l| l.len() == 74 && l.get(2..).is_some_and(|rest| rest.starts_with(&head)))
            .unwrap_or_else(|| panic!("share {index} not shown; screen:\n{screen}"))
            .to_owned()
    };
    let mut shares = Vec::new();
    for index in 1..=2u8 {
        t.wait_for(&format!("Custodian {index}: are you ready to see key share {index} of 2?"));
        t.type_line("");
        t.wait_for("Have you recorded the key share? Press Enter to hide it");
        let share = share_of(&t, index);
        t.type_line("");
        t.wait_for(&format!("Custodian {index}: type key share {index} back (not shown): "));
        if index == 2 {
            t.type_line("2-2-mistyped-by-a-tired-custodian");
            t.wait_for("That is not key share 2 as shown: it is shown again.");
            t.type_line("");
            t.wait_for("Have you recorded the key share? Press Enter to hide it");
            t.type_line("");
            t.wait_for("Custodian 2: type key share 2 back (not shown): ");
        }
        t.type_line(&share);
        t.wait_for(&format!("Key share {index} confirmed."));
        shares.push(share);
    }
    t.wait_for("Keys that can log in: 0x0003");
    let (ok, screen) = t.finish();
    assert!(ok, "yhsm failed; screen:\n{screen}");
    for secret in ["app-Secret-42", "mistyped-by-a-tired"] {
        assert!(!screen.contains(secret), "{secret:?} was echoed; screen:\n{screen}");
    }
    assert_eq!(after(&screen, "Password for authentication key 0x0001: ", 0), "");
    // Each share appears only where it is shown (share 2 twice), each time right after a
    // cleared screen, and the screen is cleared before it is typed back (not echoed).
    for (index, share) in shares.iter().enumerate() {
        let shown: Vec<usize> = screen.match_indices(share.as_str()).map(|(at, _)| at).collect();
        assert_eq!(
            shown.len(),
            if index == 0 { 1 } else { 2 },
            "share {}; screen:\n{screen}",
            index + 1
        );
        for at in shown {
            let before = &screen[..at];
            let last_clear = before.rfind(CLEAR).expect("a clear before the share");
            assert!(!before[last_clear..].contains("type key share"), "screen:\n{screen}");
            let after_share = &screen[at..];
            let prompt = after_share.find("type key share").unwrap();
            assert!(after_share[..prompt].contains(CLEAR), "not cleared before typing back");
        }
        let prompt =
            format!("Custodian {}: type key share {} back (not shown): ", index + 1, index + 1);
        for nth in 0..screen.matches(&prompt).count() {
            assert_eq!(
                after(&screen, &prompt, nth),
                "",
                "echoed after {prompt:?}; screen:\n{screen}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
