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
use std::process::{Command, Stdio};
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

fn wait_for(screen: &Mutex<Vec<u8>>, text: &str, after: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();
        if let Some(at) = seen.get(after..).and_then(|s| s.find(text)) {
            return after + at + text.len();
        }
        assert!(Instant::now() < deadline, "timed out waiting for {text:?}; screen:\n{seen}");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn shares_typed_at_the_terminal_are_not_echoed() {
    if !has_script() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_yhsm");
    assert!(!bin.contains('\''), "the test quotes the binary's path with '");
    let mut child = Command::new("script")
        .args(["--quiet", "--return", "--flush", "--echo", "always", "--command"])
        .arg(format!("'{bin}' shares combine --reveal"))
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
    let mut keyboard = child.stdin.take().unwrap();
    let mut type_line = |line: &str| {
        // rpassword turns echo off right after it shows the prompt; give it that moment.
        thread::sleep(Duration::from_millis(300));
        keyboard.write_all(format!("{line}\r").as_bytes()).unwrap();
        keyboard.flush().unwrap();
    };

    let at = wait_for(&screen, "Enter the number of shares: ", 0);
    type_line("2");
    let at = wait_for(&screen, "Enter share number 1: ", at);
    type_line(S1);
    let at = wait_for(&screen, "Received share 1 of 2", at);
    let at = wait_for(&screen, "Enter share number 2: ", at);
    type_line(S2);
    wait_for(&screen, "algorithm:", at);
    drop(keyboard);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let screen = String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();

    assert!(status.success(), "yhsm failed; screen:\n{screen}");
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
    let bin = env!("CARGO_BIN_EXE_yhsm");
    assert!(!bin.contains('\'') && !example.contains('\''), "the test quotes paths with '");
    let mut child = Command::new("script")
        .args(["--quiet", "--return", "--flush", "--echo", "always", "--command"])
        .arg(format!("'{bin}' -c sim: restore '{example}'"))
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
    let mut keyboard = child.stdin.take().unwrap();
    let mut type_line = |line: &str| {
        thread::sleep(Duration::from_millis(300));
        keyboard.write_all(format!("{line}\r").as_bytes()).unwrap();
        keyboard.flush().unwrap();
    };

    let at = wait_for(&screen, "Enter the number of shares: ", 0);
    type_line("2");
    let at = wait_for(&screen, "Enter share number 1: ", at);
    type_line(shares[2]);
    let at = wait_for(&screen, "Received share 1 of 2", at);
    let at = wait_for(&screen, "Enter share number 2: ", at);
    type_line(shares[0]);
    let at = wait_for(&screen, "Received share 2 of 2", at);
    let at = wait_for(&screen, "Password for authentication key 0x0001: ", at);
    type_line("password");
    wait_for(&screen, "All done", at);
    drop(keyboard);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let screen = String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();

    assert!(status.success(), "yhsm failed; screen:\n{screen}");
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
