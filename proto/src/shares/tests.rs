use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::convert::Infallible;

use proptest::prelude::*;
use rand_core::{TryCryptoRng, TryRng};
use yhsm_test_support::TestRng;

use super::*;
use crate::object::{Capabilities, Domains};

/// Returns zero bytes for its first `zeros` bytes, then 1, 2, 3, …
struct ZerosFirst {
    zeros: usize,
    next: u8,
}

impl TryRng for ZerosFirst {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for b in dst {
            if self.zeros > 0 {
                self.zeros -= 1;
                *b = 0;
            } else {
                self.next = self.next.wrapping_add(1);
                *b = self.next;
            }
        }
        Ok(())
    }
}

impl TryCryptoRng for ZerosFirst {}

fn secret(key_len: usize, fill: u8) -> WrapKeySecret {
    WrapKeySecret::new(
        0x0102,
        Domains(0x8001),
        Capabilities::EXPORT_WRAPPED | Capabilities::IMPORT_WRAPPED,
        Capabilities(0x0000_0001_0105_39f0),
        SecretBytes::new((0..=u8::MAX).take(key_len).map(|i| fill ^ i).collect()),
    )
    .unwrap()
}

fn make(format: ShareFormat, k: u8, n: u8, key_len: usize, seed: u64) -> Vec<Share> {
    split(&secret(key_len, 0x5a), k, n, format, &mut TestRng(seed)).unwrap()
}

fn text(share: &Share) -> String {
    share.render().to_string()
}

fn parse_problem(text: &str) -> ShareProblem {
    match Share::parse(text) {
        Err(ShareError::Malformed { share: None, problem }) => problem,
        other => panic!("{text:?} gave {other:?}"),
    }
}

/// `text` with the character at 1-based `position` replaced by `c`.
fn replace_at(text: &str, position: usize, c: char) -> String {
    text.chars().enumerate().map(|(i, old)| if i + 1 == position { c } else { old }).collect()
}

#[test]
fn round_trips_split_and_combine_for_both_formats() {
    for format in ShareFormat::ALL {
        for &key_len in format.key_lengths() {
            let original = secret(key_len, 0x33);
            let shares = split(&original, 3, 5, format, &mut TestRng(7)).unwrap();
            assert_eq!(shares.len(), 5);
            for (i, share) in shares.iter().enumerate() {
                assert_eq!(
                    (share.format(), share.threshold(), usize::from(share.index())),
                    (format, 3, i + 1)
                );
                assert_eq!(share.data().len(), 20 + key_len);
                assert_eq!(&Share::parse(&share.render()).unwrap(), share);
            }
            let recovered = combine(&shares[1..4]).unwrap();
            assert_eq!(
                recovered,
                Recovered { secret: original.clone(), format, threshold: 3, combined: 3 }
            );
            assert_eq!(combine(&shares).unwrap().combined, shares.len());
            assert_eq!(combine(&shares).unwrap().secret, original);
        }
    }
}

#[test]
fn renders_the_documented_text() {
    let setup = make(ShareFormat::YubihsmSetup, 2, 3, 32, 1);
    let manager = make(ShareFormat::YubihsmManager, 4, 9, 24, 1);
    let t = text(&setup[2]);
    assert!(t.starts_with("2-3-") && t.len() == 74, "{t}");
    assert!(t[4..].chars().all(is_base64));
    let t = text(&manager[8]);
    assert!(t.starts_with("4-9-") && t.len() == 4 + 88, "{t}");
    assert!(t[4..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
}

#[test]
fn parses_uppercase_hex_and_surrounding_whitespace() {
    let share = &make(ShareFormat::YubihsmManager, 2, 2, 16, 3)[1];
    let canonical = text(share);
    let upper = format!("  \t{}\r\n", canonical.to_uppercase());
    let parsed = Share::parse(&upper).unwrap();
    assert_eq!(&parsed, share);
    assert_eq!(*parsed.render(), canonical);
}

#[test]
fn hex_looking_base64_of_70_characters_is_setup() {
    // 'A' last: the only hex digit whose padding bits are zero.
    let payload = format!("{}A", &"0123456789abcdefABCDEF".repeat(4)[..69]);
    let share = Share::parse(&format!("2-1-{payload}")).unwrap();
    assert_eq!(share.format(), ShareFormat::YubihsmSetup);
    assert_eq!(share.data().expose_secret(), STANDARD_NO_PAD.decode(&payload).unwrap());
    assert_eq!(share.render()[4..], payload);
}

#[test]
fn setup_threshold_one_shares_combine() {
    // yubihsm-setup allows threshold 1: every share is the secret itself.
    let original = secret(32, 0x77);
    let payload = STANDARD_NO_PAD.encode(original.to_bytes());
    let one = Share::parse(&format!("1-1-{payload}")).unwrap();
    let two = Share::parse(&format!("1-2-{payload}")).unwrap();
    assert_eq!(combine(core::slice::from_ref(&one)).unwrap().secret, original);
    assert_eq!(combine(&[two.clone(), one.clone()]).unwrap().secret, original);
    let other =
        Share::parse(&format!("1-3-{}", STANDARD_NO_PAD.encode(secret(32, 0x78).to_bytes())))
            .unwrap();
    assert_eq!(
        combine(&[one, two, other]),
        Err(ShareError::Inconsistent { share: 3, threshold: 1 })
    );
}

#[test]
fn rejects_malformed_text() {
    let setup = text(&make(ShareFormat::YubihsmSetup, 3, 3, 32, 9)[0]);
    let manager = text(&make(ShareFormat::YubihsmManager, 3, 3, 32, 9)[0]);
    let setup_payload = &setup[4..];
    let manager_payload = &manager[4..];
    // Make sure the setup payload is not all hex, or the length guess below would differ.
    assert!(!setup_payload.bytes().all(|b| b.is_ascii_hexdigit()));

    let cases: Vec<(String, ShareProblem)> = alloc::vec![
        (String::new(), ShareProblem::Empty),
        (" \n\t".into(), ShareProblem::Empty),
        ("3-1".into(), ShareProblem::NotThreeFields),
        (setup_payload.into(), ShareProblem::NotThreeFields),
        (format!("x-1-{setup_payload}"), ShareProblem::BadThreshold),
        (format!("-1-{setup_payload}"), ShareProblem::BadThreshold),
        (format!("10-1-{setup_payload}"), ShareProblem::BadThreshold),
        (format!("3-a-{setup_payload}"), ShareProblem::BadIndex),
        (format!("3-11-{manager_payload}"), ShareProblem::BadIndex),
        ("3-1-".into(), ShareProblem::NoData),
        (
            format!("0-1-{setup_payload}"),
            ShareProblem::ThresholdOutOfRange { threshold: 0, format: ShareFormat::YubihsmSetup },
        ),
        (
            format!("0-1-{manager_payload}"),
            ShareProblem::ThresholdOutOfRange { threshold: 0, format: ShareFormat::YubihsmManager },
        ),
        (
            format!("1-1-{manager_payload}"),
            ShareProblem::ThresholdOutOfRange { threshold: 1, format: ShareFormat::YubihsmManager },
        ),
        (format!("3-0-{setup_payload}"), ShareProblem::IndexZero),
        (format!("3-0-{manager_payload}"), ShareProblem::IndexZero),
        (
            setup[..setup.len() - 1].into(),
            ShareProblem::WrongLength { format: ShareFormat::YubihsmSetup, got: 69 },
        ),
        (
            format!("{setup}A"),
            ShareProblem::WrongLength { format: ShareFormat::YubihsmSetup, got: 71 },
        ),
        (
            manager[..manager.len() - 1].into(),
            ShareProblem::WrongLength { format: ShareFormat::YubihsmManager, got: 103 },
        ),
        (
            format!("{manager}00"),
            ShareProblem::WrongLength { format: ShareFormat::YubihsmManager, got: 106 },
        ),
        (replace_at(&setup, 12, '*'), ShareProblem::BadCharacter { position: 12 }),
        (replace_at(&setup, 5, '-'), ShareProblem::BadCharacter { position: 5 }),
        (replace_at(&setup, 40, 'é'), ShareProblem::BadCharacter { position: 40 }),
        (replace_at(&setup, 30, ' '), ShareProblem::BadCharacter { position: 30 }),
        (format!("{setup}=="), ShareProblem::BadCharacter { position: 75 }),
        (replace_at(&manager, 20, 'g'), ShareProblem::BadCharacter { position: 20 }),
        (replace_at(&manager, 108, '+'), ShareProblem::BadCharacter { position: 108 }),
    ];
    for (input, expected) in cases {
        assert_eq!(parse_problem(&input), expected, "{input:?}");
    }
}

#[test]
fn rejects_a_mistyped_last_base64_character() {
    let setup = text(&make(ShareFormat::YubihsmSetup, 2, 2, 32, 4)[1]);
    // 52 bytes = 69 full characters and one carrying 2 data bits and 4 zero bits.
    let last = setup.chars().last().unwrap();
    let mut rejected = 0;
    for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".chars() {
        let candidate = replace_at(&setup, 74, c);
        match Share::parse(&candidate) {
            Ok(_) => assert_eq!(STANDARD_NO_PAD_INDEX(c) & 0x0f, 0, "{c}"),
            Err(e) => {
                assert_eq!(
                    e,
                    ShareError::Malformed {
                        share: None,
                        problem: ShareProblem::NonCanonical { position: 74 }
                    }
                );
                assert_ne!(c, last);
                rejected += 1;
            }
        }
    }
    assert_eq!(rejected, 60);
}

#[allow(non_snake_case, reason = "reads like the table it stands for")]
fn STANDARD_NO_PAD_INDEX(c: char) -> u8 {
    u8::try_from(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".find(c).unwrap(),
    )
    .unwrap()
}

#[test]
fn errors_name_the_share_position_and_never_its_text() {
    let shares = make(ShareFormat::YubihsmSetup, 2, 3, 32, 5);
    let good: Vec<String> = shares.iter().map(text).collect();
    let bad = replace_at(&good[2], 33, '#');
    let err = parse_shares(&[good[0].as_str(), good[1].as_str(), bad.as_str()]).unwrap_err();
    assert_eq!(
        err,
        ShareError::Malformed {
            share: Some(3),
            problem: ShareProblem::BadCharacter { position: 33 }
        }
    );
    assert_eq!(err.share(), Some(3));
    let message = err.to_string();
    assert_eq!(message, "share 3: bad character at position 33");
    assert_eq!(parse_shares(&good).unwrap(), shares);

    // No message ever contains a piece of a share.
    let errors = [
        err,
        Share::parse(&good[0][..60]).unwrap_err(),
        combine(&shares[..1]).unwrap_err(),
        ShareError::Inconsistent { share: 3, threshold: 2 },
        ShareError::DuplicateData { share: 2, first: 1 },
    ];
    for e in errors {
        let message = e.to_string();
        for t in &good {
            for window in t.as_bytes()[4..].windows(6) {
                assert!(!message.contains(core::str::from_utf8(window).unwrap()), "{message}");
            }
        }
    }
}

#[test]
fn rejects_mixed_formats() {
    let setup = make(ShareFormat::YubihsmSetup, 2, 3, 32, 1);
    let manager = make(ShareFormat::YubihsmManager, 2, 3, 32, 1);
    let err = combine(&[setup[0].clone(), setup[1].clone(), manager[2].clone()]).unwrap_err();
    assert_eq!(
        err,
        ShareError::MixedFormats {
            share: 3,
            first: ShareFormat::YubihsmSetup,
            found: ShareFormat::YubihsmManager
        }
    );
    assert!(err.to_string().starts_with("share 3 is a yubihsm-manager share but share 1"));
}

#[test]
fn rejects_mixed_thresholds() {
    let two = make(ShareFormat::YubihsmManager, 2, 3, 32, 1);
    let three = make(ShareFormat::YubihsmManager, 3, 3, 32, 1);
    assert_eq!(
        combine(&[two[0].clone(), three[1].clone(), two[2].clone()]),
        Err(ShareError::MixedThresholds { share: 2, first: 2, found: 3 })
    );
}

#[test]
fn rejects_mixed_lengths() {
    let short = make(ShareFormat::YubihsmManager, 2, 3, 16, 1);
    let long = make(ShareFormat::YubihsmManager, 2, 3, 32, 1);
    assert_eq!(
        combine(&[short[0].clone(), short[1].clone(), long[2].clone()]),
        Err(ShareError::MixedLengths { share: 3, first: 36, found: 52 })
    );
}

#[test]
fn rejects_duplicate_indexes_and_repeated_shares() {
    let a = make(ShareFormat::YubihsmSetup, 2, 3, 32, 1);
    let b = make(ShareFormat::YubihsmSetup, 2, 3, 32, 2);
    assert_eq!(
        combine(&[a[0].clone(), a[1].clone(), b[1].clone()]),
        Err(ShareError::DuplicateIndex { share: 3, first: 2, index: 2 })
    );
    assert_eq!(
        combine(&[a[0].clone(), a[2].clone(), a[0].clone()]),
        Err(ShareError::SameShare { share: 3, first: 1 })
    );
}

#[test]
fn rejects_duplicate_data_under_another_index() {
    let a = make(ShareFormat::YubihsmManager, 3, 3, 24, 1);
    let copied = Share::parse(&format!("3-3-{}", &text(&a[0])[4..])).unwrap();
    let err = combine(&[a[1].clone(), a[0].clone(), copied]).unwrap_err();
    assert_eq!(err, ShareError::DuplicateData { share: 3, first: 2 });
    assert_eq!(err.share(), Some(3));
}

#[test]
fn rejects_too_few_shares() {
    assert_eq!(combine(&[]), Err(ShareError::NoShares));
    let shares = make(ShareFormat::YubihsmSetup, 4, 7, 32, 1);
    for have in 1..4 {
        assert_eq!(combine(&shares[7 - have..]), Err(ShareError::TooFewShares { have, need: 4 }));
    }
    assert!(combine(&shares[3..]).is_ok());
}

#[test]
fn detects_an_extra_share_that_does_not_fit() {
    for format in ShareFormat::ALL {
        let a = make(format, 3, 5, 32, 1);
        let b = make(format, 3, 5, 32, 2);
        // A share of another split (same threshold and length).
        assert_eq!(
            combine(&[a[0].clone(), a[1].clone(), a[2].clone(), a[3].clone(), b[4].clone()]),
            Err(ShareError::Inconsistent { share: 5, threshold: 3 })
        );
        // A typo in one of the first three is caught by the fourth.
        let t = text(&a[1]);
        let typo = replace_at(&t, 30, if t.as_bytes()[29] == b'a' { 'b' } else { 'a' });
        let typo = Share::parse(&typo).unwrap();
        assert_eq!(
            combine(&[a[0].clone(), typo, a[2].clone(), a[3].clone()]),
            Err(ShareError::Inconsistent { share: 4, threshold: 3 })
        );
    }
}

#[test]
fn split_refuses_bad_parameters() {
    let s32 = secret(32, 1);
    let s16 = secret(16, 1);
    let mut rng = TestRng(1);
    for format in ShareFormat::ALL {
        for (k, n, err) in [
            (0, 3, ShareError::InvalidThreshold { threshold: 0 }),
            (1, 1, ShareError::InvalidThreshold { threshold: 1 }),
            (1, 3, ShareError::InvalidThreshold { threshold: 1 }),
            (10, 10, ShareError::InvalidThreshold { threshold: 10 }),
            (3, 2, ShareError::InvalidCount { count: 2, threshold: 3 }),
            (2, 10, ShareError::InvalidCount { count: 10, threshold: 2 }),
        ] {
            assert_eq!(split(&s32, k, n, format, &mut rng), Err(err), "{format} {k}-of-{n}");
        }
    }
    assert_eq!(
        split(&s16, 2, 3, ShareFormat::YubihsmSetup, &mut rng),
        Err(ShareError::KeyLengthNotSupported { format: ShareFormat::YubihsmSetup, len: 16 })
    );
    assert_eq!(
        split_with_coefficients(
            &s32,
            &[vec![0u8; 52], vec![1u8; 51]],
            3,
            ShareFormat::YubihsmManager
        ),
        Err(ShareError::CoefficientLength { row: 2, len: 51, expected: 52 })
    );
    let no_rows: [[u8; 52]; 0] = [];
    assert_eq!(
        split_with_coefficients(&s32, &no_rows, 3, ShareFormat::YubihsmManager),
        Err(ShareError::InvalidThreshold { threshold: 1 })
    );
}

#[test]
fn the_highest_coefficient_is_never_zero() {
    // An RNG whose first 2·52 bytes are zero: every coefficient drawn first is zero.
    let original = secret(32, 0x10);
    let bytes = original.to_bytes();
    for format in ShareFormat::ALL {
        let shares =
            split(&original, 3, 9, format, &mut ZerosFirst { zeros: 2 * 52 + 10, next: 0 })
                .unwrap();
        assert_eq!(combine(&shares[6..]).unwrap().secret, original);
        // With a non-zero top coefficient no two shares lie on a line through the secret:
        // two shares alone never recover a byte.
        let field = format.field();
        for pair in [[0usize, 1], [2, 5], [3, 8]] {
            let xs = [shares[pair[0]].index(), shares[pair[1]].index()];
            let w = field.lagrange_weights(&xs, 0).unwrap();
            for (b, &s) in bytes.iter().enumerate() {
                let ys = pair.map(|i| shares[i].data().expose_secret()[b]);
                assert_ne!(field.combine(&w, ys), s, "byte {b} of {format}");
            }
        }
    }
}

#[test]
fn coefficients_are_not_restricted_to_odd_values() {
    // With threshold 2, coefficient 1 of each byte is share(1) − secret.
    let original = secret(32, 0x42);
    let shares = split(&original, 2, 2, ShareFormat::YubihsmManager, &mut TestRng(11)).unwrap();
    let c1: Vec<u8> = original
        .to_bytes()
        .iter()
        .zip(shares[0].data().expose_secret())
        .map(|(s, y)| s ^ y)
        .collect();
    assert!(c1.iter().any(|c| c & 1 == 0), "{c1:02x?}");
    assert!(c1.iter().all(|&c| c != 0));
}

#[test]
fn debug_never_shows_share_bytes() {
    let shares = make(ShareFormat::YubihsmManager, 2, 2, 32, 1);
    let rendered = text(&shares[0]);
    let debug = format!("{:?} {:#?}", shares[0], combine(&shares).unwrap());
    assert!(debug.contains("YubihsmManager") && debug.contains("threshold: 2"));
    assert!(!debug.contains(&rendered[4..12]));
    assert!(!debug.contains("5a5b") && !debug.contains("5a, 5b"), "{debug}");
}

#[test]
fn format_names_round_trip() {
    for format in ShareFormat::ALL {
        assert_eq!(format.to_string().parse::<ShareFormat>(), Ok(format));
    }
    assert!("yubihsm".parse::<ShareFormat>().is_err());
    assert_eq!(ShareFormat::YubihsmSetup.field().polynomial(), 0x11d);
    assert_eq!(ShareFormat::YubihsmManager.field().polynomial(), 0x11b);
}

fn any_format() -> impl Strategy<Value = ShareFormat> {
    prop_oneof![Just(ShareFormat::YubihsmSetup), Just(ShareFormat::YubihsmManager)]
}

proptest! {
    #[test]
    fn round_trips_random_splits(
        format in any_format(),
        key_choice in 0usize..3,
        k in 2u8..=9,
        extra in 0u8..=7,
        seed in any::<u64>(),
        key in proptest::collection::vec(any::<u8>(), 32),
        id in any::<u16>(),
        pick in proptest::sample::subsequence((0usize..9).collect::<Vec<_>>(), 9),
        order_seed in any::<u64>(),
    ) {
        let n = (k + extra).min(9);
        let lengths = format.key_lengths();
        let key_len = lengths[key_choice % lengths.len()];
        let original = WrapKeySecret::new(
            id, Domains(id.rotate_left(3)), Capabilities(u64::from(id) << 12), Capabilities::ALL,
            SecretBytes::from_slice(&key[..key_len]),
        ).unwrap();
        let shares = split(&original, k, n, format, &mut TestRng(seed)).unwrap();
        prop_assert_eq!(shares.len(), usize::from(n));

        // A random k-subset, in a random order.
        let mut chosen: Vec<Share> = pick.iter().filter(|&&i| i < usize::from(n))
            .map(|&i| shares[i].clone()).collect();
        for s in shares.iter() {
            if chosen.len() >= usize::from(k) { break; }
            if !chosen.contains(s) { chosen.push(s.clone()); }
        }
        chosen.truncate(usize::from(k));
        let len = chosen.len();
        chosen.rotate_left(usize::try_from(order_seed % 9).unwrap() % len);
        if order_seed & 1 == 1 { chosen.reverse(); }

        let recovered = combine(&chosen).unwrap();
        prop_assert_eq!(&recovered.secret, &original);
        prop_assert_eq!(recovered.format, format);
        prop_assert_eq!(recovered.threshold, k);
        prop_assert_eq!(
            combine(&chosen[1..]),
            Err(ShareError::TooFewShares { have: usize::from(k) - 1, need: k })
        );
        prop_assert_eq!(&combine(&shares).unwrap().secret, &original);

        for share in &shares {
            let rendered = share.render();
            prop_assert_eq!(&Share::parse(&rendered).unwrap(), share);
        }
    }

    #[test]
    fn parse_never_panics(text in "\\PC{0,120}") {
        let _ = Share::parse(&text);
    }

    #[test]
    fn parse_never_panics_on_near_shares(text in "[0-9x]-[0-9-]-[0-9a-zA-Z+/=é -]{0,110}") {
        if let Ok(share) = Share::parse(&text) {
            // Whatever parses renders to the same share.
            prop_assert_eq!(&Share::parse(&share.render()).unwrap(), &share);
        }
    }
}
