//! Shares and passwords typed at the terminal are not echoed. `yhsm shares combine` and
//! `yhsm restore` run on a pseudo-terminal made by util-linux `script` (with terminal
//! echo on); the tests type like a person, waiting for each prompt, and read everything
//! the terminal shows.
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

fn has_script() -> bool {
    Command::new("script")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
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
    if !has_script() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let mut t = Terminal::spawn("shares combine --reveal");
    t.wait_for("Enter the number of shares: ");
    t.type_line("2");
    t.wait_for("Enter share number 1: ");
    t.type_line(S1);
    t.wait_for("Received share 1 of 2");
    t.wait_for("Enter share number 2: ");
    t.type_line(S2);
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
    for share in [S1, S2] {
        assert!(!screen.contains(&share[4..20]), "a share was echoed; screen:\n{screen}");
    }
}

/// `yhsm restore` asks for the shares and then the password at the terminal, echoing
/// neither, and goes on to restore the example backup onto the simulator.
#[cfg(feature = "sim")]
#[test]
fn restore_prompts_for_shares_and_password_without_echo() {
    if !has_script() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/backup");
    let shares = std::fs::read_to_string(format!("{example}/shares.txt")).unwrap();
    let shares: Vec<&str> = shares.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(!example.contains('\''), "the test quotes paths with '");
    let mut t = Terminal::spawn(&format!("-c sim: restore '{example}'"));
    t.wait_for("Enter the number of shares: ");
    t.type_line("2");
    t.wait_for("Enter share number 1: ");
    t.type_line(shares[2]);
    t.wait_for("Received share 1 of 2");
    t.wait_for("Enter share number 2: ");
    t.type_line(shares[0]);
    t.wait_for("Received share 2 of 2");
    t.wait_for("Password for authentication key 0x0001: ");
    t.type_line("password");
    t.wait_for("All done");
    let (ok, screen) = t.finish();

    assert!(ok, "yhsm failed; screen:\n{screen}");
    assert!(screen.contains("Enter the number of shares: 2"), "echo is off? screen:\n{screen}");
    assert!(screen.contains("Previous authentication key 0x0001 deleted"), "screen:\n{screen}");
    for share in [shares[0], shares[2]] {
        assert!(!screen.contains(&share[4..20]), "a share was echoed; screen:\n{screen}");
    }
    let prompt = "Password for authentication key 0x0001: ";
    let after = &screen[screen.find(prompt).unwrap() + prompt.len()..];
    let line = after.split(['\r', '\n']).next().unwrap();
    assert!(!line.contains("password"), "the password was echoed; screen:\n{screen}");
}
