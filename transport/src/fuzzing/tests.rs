//! The `connector` entry over its seeds, corruptions of them and the saved regression
//! inputs; and the writer of its seed corpus that `fuzz/seed.sh` calls.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::fs;
use std::path::Path;

use super::*;

const REGRESSIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/regressions/connector");

/// Named seeds: responses as yubihsm-connector (Go `net/http`) writes them, status pages
/// and URLs of every form.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let frame = [0x81, 0x00, 0x02, 0x68, 0x69];
    let mut chunked =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    chunked.extend_from_slice(b"3\r\n\x81\x00\x02\r\n2;ext=1\r\nhi\r\n0\r\n\r\n");
    let responses: Vec<(&str, Vec<u8>)> = vec![
        ("length", [&b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"[..], &frame].concat()),
        ("chunked", chunked),
        ("close", [&b"HTTP/1.0 200 OK\r\n\r\n"[..], &frame].concat()),
        ("interim", [&b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\n"[..], &frame].concat()),
        ("error", b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 3\r\n\r\nbad".to_vec()),
        ("no-content", b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()),
    ];
    let pages: [(&str, &[u8]); 3] = [
        ("ok", b"status=OK\nserial=*\nversion=3.0.4\npid=77\naddress=localhost\nport=12345\n"),
        ("no-device", b"status=NO_DEVICE\r\nserial=0012345678\r\n"),
        ("blank-lines", b"\n\nstatus=OK\n\nversion=\n"),
    ];
    let urls = [
        "yhusb://",
        "yhusb://serial=0012345678",
        "yhusb://foo=bar&serial=7",
        "http://127.0.0.1:12345",
        "http://localhost",
        "http://[::1]:12345/prefix/",
        "HTTP://example.org:8080/a/b",
        "sim:",
        "sim:state/device.bin",
        "https://x",
    ];
    let mut out = Vec::new();
    for (name, r) in responses {
        out.push((format!("http-{name}"), [&[0u8][..], &r].concat()));
    }
    for (name, p) in pages {
        out.push((format!("status-{name}"), [&[1u8][..], p].concat()));
    }
    for (i, u) in urls.iter().enumerate() {
        out.push((format!("url-{i}"), [&[2u8][..], u.as_bytes()].concat()));
    }
    out
}

#[test]
fn every_seed_and_its_corruptions_pass() {
    for (name, seed) in seeds() {
        println!("connector/{name}");
        connector(&seed);
        for n in 1..seed.len() {
            connector(&seed[..n]);
            let mut flipped = seed.clone();
            flipped[n] ^= 1 << (n % 8);
            connector(&flipped);
        }
    }
}

#[test]
fn the_seeds_parse() {
    for (name, seed) in seeds() {
        let ok = match seed[0] {
            0 => {
                let mut r = &seed[1..];
                wire::read_head(&mut r)
                    .and_then(|h| wire::read_body(&mut r, h.framing, MAX_FRAME_LEN))
                    .is_ok()
            }
            1 => ConnectorStatus::parse(&seed[1..]).is_ok(),
            _ => std::str::from_utf8(&seed[1..]).unwrap().parse::<ConnectorUrl>().is_ok(),
        };
        // `https://` is refused on purpose.
        assert_eq!(ok, !name.ends_with("url-9"), "{name}");
    }
}

/// Found by the fuzzer (`regressions/connector/status-value-ending-in-cr`): the entry
/// re-rendered status lines with `\n`, which loses a value's trailing `\r`; the parser
/// drops one `\r` per line and keeps the rest of the value as sent.
#[test]
fn a_status_value_may_end_in_a_carriage_return() {
    let status = ConnectorStatus::parse(b"status=OK\r\r\nversion=3\x01\n").unwrap();
    assert_eq!(status.status(), "OK\r");
    assert_eq!(status.version(), Some("3\x01"));
    connector(b"\x01status=OK\r\r\n");
}

#[test]
fn replays_saved_regressions() {
    // The directory holds at least the input of the first finding: a wrong path fails.
    let mut replayed = 0;
    for e in fs::read_dir(REGRESSIONS).expect("fuzz/regressions/connector") {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with(".md") {
            continue;
        }
        println!("replaying {}", path.display());
        connector(&fs::read(&path).unwrap());
        replayed += 1;
    }
    assert!(replayed >= 1, "no regression input in {REGRESSIONS}");
}

/// Writes the seed corpus to `$FUZZ_CORPUS/connector/` (run by `fuzz/seed.sh`).
#[test]
#[ignore = "writes files; run by fuzz/seed.sh"]
fn write_seed_corpus() {
    let root = std::env::var_os("FUZZ_CORPUS").expect("set FUZZ_CORPUS to the corpus directory");
    let dir = Path::new(&root).join("connector");
    fs::create_dir_all(&dir).unwrap();
    for (name, seed) in seeds() {
        fs::write(dir.join(format!("seed-{name}")), seed).unwrap();
    }
}
