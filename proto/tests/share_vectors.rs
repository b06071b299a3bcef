//! Known answers for wrap-key shares (docs/PROTOCOL.md §6): every file under `vectors/shares/`,
//! made by yubihsm-setup's and yubihsm-manager's own splitting libraries. Each failure
//! names the file it came from.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers: a malformed vector file is a test failure"
)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use yhsm_proto::shares::gf256::Field;
use yhsm_proto::shares::{
    Share, ShareError, ShareFormat, WrapKeySecret, combine, split, split_with_coefficients,
};
use yhsm_test_support::TestRng;

const SHARES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/shares");

/// Every JSON file under `dir`, recursively, sorted.
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(json_files(&path));
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn load(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hex(v: &Value) -> Vec<u8> {
    ::hex::decode(v.as_str().unwrap()).unwrap()
}

/// The split vectors (objects); the error lists are arrays.
fn split_vectors() -> Vec<(String, Value)> {
    let files: Vec<(String, Value)> = json_files(Path::new(SHARES))
        .into_iter()
        .map(|p| (p.strip_prefix(SHARES).unwrap().display().to_string(), load(&p)))
        .filter(|(_, v)| v.is_object())
        .collect();
    assert!(files.len() >= 6, "expected the six split vectors, found {}", files.len());
    files
}

fn format_of(name: &str, v: &Value) -> ShareFormat {
    let format = match v["field_poly"].as_str().unwrap() {
        "0x11d" => ShareFormat::YubihsmSetup,
        "0x11b" => ShareFormat::YubihsmManager,
        other => panic!("{name}: unknown field {other}"),
    };
    assert!(name.contains(format.name()), "{name}: {format} vector in the wrong directory");
    format
}

fn kn(v: &Value) -> (usize, usize) {
    let field = |f: &str| usize::try_from(v[f].as_u64().unwrap()).unwrap();
    (field("k"), field("n"))
}

fn byte(n: usize) -> u8 {
    u8::try_from(n).unwrap()
}

/// All k-element subsets of 0..n, as index lists in increasing order.
fn subsets(n: usize, k: usize) -> Vec<Vec<usize>> {
    if k == 0 {
        return vec![vec![]];
    }
    if n < k {
        return vec![];
    }
    let mut with_last = subsets(n - 1, k - 1);
    for s in &mut with_last {
        s.push(n - 1);
    }
    let mut all = subsets(n - 1, k);
    all.extend(with_last);
    all
}

fn parsed_shares(name: &str, v: &Value) -> Vec<Share> {
    v["shares"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| Share::parse(t.as_str().unwrap()).unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect()
}

#[test]
fn parses_every_share_to_its_bytes_and_renders_it_back() {
    for (name, v) in split_vectors() {
        let format = format_of(&name, &v);
        let (k, n) = kn(&v);
        let shares = parsed_shares(&name, &v);
        assert_eq!(shares.len(), n, "{name}");
        for (i, share) in shares.iter().enumerate() {
            assert_eq!(share.format(), format, "{name} share {}", i + 1);
            assert_eq!(usize::from(share.threshold()), k, "{name} share {}", i + 1);
            assert_eq!(
                u64::from(share.index()),
                v["x_coordinates"][i].as_u64().unwrap(),
                "{name} share {}",
                i + 1
            );
            assert_eq!(
                share.data().expose_secret(),
                hex(&v["share_data_hex"][i]),
                "{name} share {}",
                i + 1
            );
            assert_eq!(*share.render(), v["shares"][i].as_str().unwrap(), "{name} share {}", i + 1);
        }
    }
}

#[test]
fn decodes_the_secret_fields() {
    for (name, v) in split_vectors() {
        let secret = WrapKeySecret::from_bytes(&hex(&v["secret_hex"])).unwrap();
        let f = &v["fields"];
        assert_eq!(u64::from(secret.wrap_key_id), f["wrap_key_id"].as_u64().unwrap(), "{name}");
        assert_eq!(secret.domains.0.to_be_bytes().to_vec(), hex(&f["domains_hex"]), "{name}");
        let domains: Vec<u64> =
            f["domains"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).collect();
        assert_eq!(secret.domains.iter().map(u64::from).collect::<Vec<_>>(), domains, "{name}");
        assert_eq!(
            secret.capabilities.0.to_be_bytes().to_vec(),
            hex(&f["capabilities_hex"]),
            "{name}"
        );
        assert_eq!(
            secret.delegated.0.to_be_bytes().to_vec(),
            hex(&f["delegated_capabilities_hex"]),
            "{name}"
        );
        for (caps, list) in [
            (secret.capabilities, &f["capabilities"]),
            (secret.delegated, &f["delegated_capabilities"]),
        ] {
            let mut expected: Vec<&str> =
                list.as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
            let mut names: Vec<&str> = caps.names().collect();
            expected.sort_unstable();
            names.sort_unstable();
            assert_eq!(names, expected, "{name}");
        }
        assert_eq!(secret.key().expose_secret(), hex(&f["key_hex"]), "{name}");
        assert_eq!(
            u64::try_from(secret.key().len()).unwrap(),
            f["key_len"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(*secret.to_bytes(), hex(&v["secret_hex"]), "{name}");
    }
}

#[test]
fn combines_every_k_subset_in_several_orders() {
    for (name, v) in split_vectors() {
        let format = format_of(&name, &v);
        let (k, n) = kn(&v);
        let shares = parsed_shares(&name, &v);
        let expected = WrapKeySecret::from_bytes(&hex(&v["secret_hex"])).unwrap();
        let subsets = subsets(n, k);
        assert_eq!(
            u64::try_from(subsets.len()).unwrap(),
            v["checks"]["crate_recover_all_k_subsets_ok"].as_u64().unwrap(),
            "{name}"
        );
        for subset in subsets {
            let mut chosen: Vec<Share> = subset.iter().map(|&i| shares[i].clone()).collect();
            for order in 0..3 {
                match order {
                    1 => chosen.reverse(),
                    2 => chosen.rotate_left(1),
                    _ => {}
                }
                let got = combine(&chosen).unwrap_or_else(|e| panic!("{name} {subset:?}: {e}"));
                assert_eq!(got.secret, expected, "{name} {subset:?} order {order}");
                assert_eq!((got.format, usize::from(got.threshold)), (format, k), "{name}");
            }
        }
        // All n shares: the extra ones fit the polynomial of the first k.
        assert_eq!(combine(&shares).unwrap().secret, expected, "{name}");
        let mut reversed = shares.clone();
        reversed.reverse();
        assert_eq!(combine(&reversed).unwrap().secret, expected, "{name}");
    }
}

#[test]
fn k_minus_one_shares_are_too_few() {
    for (name, v) in split_vectors() {
        let (k, n) = kn(&v);
        let shares = parsed_shares(&name, &v);
        for subset in subsets(n, k - 1) {
            let chosen: Vec<Share> = subset.iter().map(|&i| shares[i].clone()).collect();
            assert_eq!(
                combine(&chosen),
                Err(ShareError::TooFewShares { have: k - 1, need: byte(k) }),
                "{name} {subset:?}"
            );
        }
    }
}

#[test]
fn regenerates_every_share_from_the_coefficients() {
    for (name, v) in split_vectors() {
        let format = format_of(&name, &v);
        let (_, n) = kn(&v);
        let rows: Vec<Vec<u8>> =
            v["poly_coefficients_hex"].as_array().unwrap().iter().map(hex).collect();
        assert_eq!(rows[0], hex(&v["secret_hex"]), "{name}: row 0 is the secret");
        let secret = WrapKeySecret::from_bytes(&rows[0]).unwrap();
        let shares = split_with_coefficients(&secret, &rows[1..], byte(n), format)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let texts: Vec<String> = shares.iter().map(|s| s.render().to_string()).collect();
        let expected: Vec<&str> =
            v["shares"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        assert_eq!(texts, expected, "{name}");
    }
}

/// Lagrange interpolation at 0 in an arbitrary field, straight from the share bytes.
fn interpolate(field: Field, shares: &[&Share]) -> Vec<u8> {
    let xs: Vec<u8> = shares.iter().map(|s| s.index()).collect();
    let w = field.lagrange_weights(&xs, 0).unwrap();
    (0..shares[0].data().len())
        .map(|b| field.combine(&w, shares.iter().map(|s| s.data().expose_secret()[b])))
        .collect()
}

#[test]
fn the_other_field_gives_a_wrong_secret() {
    for (name, v) in split_vectors() {
        let format = format_of(&name, &v);
        let (k, n) = kn(&v);
        let shares = parsed_shares(&name, &v);
        let secret = hex(&v["secret_hex"]);
        let other = match format {
            ShareFormat::YubihsmSetup => Field::MANAGER,
            ShareFormat::YubihsmManager => Field::SETUP,
        };
        let mut wrong = 0;
        let mut either = Vec::new();
        let all = subsets(n, k);
        for subset in &all {
            let chosen: Vec<&Share> = subset.iter().map(|&i| &shares[i]).collect();
            assert_eq!(interpolate(format.field(), &chosen), secret, "{name} {subset:?}");
            if interpolate(other, &chosen) == secret {
                either
                    .push(subset.iter().map(|&i| u64::from(shares[i].index())).collect::<Vec<_>>());
            } else {
                wrong += 1;
            }
        }
        // The vectors record which subsets cannot tell the fields apart (README pitfall:
        // x = {1,2,3} and {1,4,5} for k = 3); every other subset must.
        let recorded: Vec<Vec<u64>> = v["checks"]["k_subsets_recoverable_with_either_poly"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect())
            .collect();
        assert_eq!(either, recorded, "{name}");
        assert_eq!(
            format!("{wrong}/{}", all.len()),
            v["checks"]["k_subsets_where_other_poly_gives_wrong_secret"].as_str().unwrap(),
            "{name}"
        );
        assert!(wrong > 0, "{name}: no subset distinguishes the fields");
    }
}

#[test]
fn split_with_threshold_one_is_refused_like_yubihsm_manager() {
    let path = Path::new(SHARES).join("yubihsm-manager/threshold1_errors.json");
    let cases = load(&path);
    let cases = cases.as_array().unwrap();
    assert!(!cases.is_empty());
    let (_, v) = split_vectors().into_iter().find(|(n, _)| n.contains("manager")).unwrap();
    let secret = WrapKeySecret::from_bytes(&hex(&v["secret_hex"])).unwrap();
    for case in cases {
        assert_eq!(case["error"], "SharingMinThreshold");
        let (k, n) = kn(case);
        let (k, n) = (byte(k), byte(n));
        let refused = Err(ShareError::InvalidThreshold { threshold: k });
        assert_eq!(split(&secret, k, n, ShareFormat::YubihsmManager, &mut TestRng(1)), refused);
        let no_rows: &[Vec<u8>] = &[];
        assert_eq!(
            split_with_coefficients(&secret, no_rows, n, ShareFormat::YubihsmManager),
            refused
        );
    }
}

/// Solves for the coefficients of the polynomial of degree < points.len() through
/// `points` (Lagrange basis expanded into monomials).
fn coefficients(field: Field, points: &[(u8, u8)]) -> Vec<u8> {
    let mut out = vec![0u8; points.len()];
    for (i, &(xi, yi)) in points.iter().enumerate() {
        let mut basis = vec![1u8];
        let mut denominator = 1u8;
        for (j, &(xj, _)) in points.iter().enumerate() {
            if i != j {
                // basis *= (x + xj)
                let mut next = vec![0u8; basis.len() + 1];
                for (t, &c) in basis.iter().enumerate() {
                    next[t + 1] ^= c;
                    next[t] ^= field.mul(c, xj);
                }
                basis = next;
                denominator = field.mul(denominator, xi ^ xj);
            }
        }
        let scale = field.mul(yi, field.inv(denominator));
        for (o, &c) in out.iter_mut().zip(&basis) {
            *o ^= field.mul(c, scale);
        }
    }
    out
}

/// Why `split` does not copy yubihsm-manager's odd coefficients: its shares leak. With
/// k−1 shares, only the secret bytes whose interpolated coefficients are all odd remain
/// possible, a half or less of the 256 values per byte.
#[test]
fn odd_coefficients_of_yubihsm_manager_leak_secret_bits() {
    for (name, v) in split_vectors() {
        if format_of(&name, &v) != ShareFormat::YubihsmManager {
            continue;
        }
        assert_eq!(v["checks"]["all_random_coefficients_odd"], true, "{name}");
        for row in &v["poly_coefficients_hex"].as_array().unwrap()[1..] {
            assert!(hex(row).iter().all(|c| c & 1 == 1), "{name}");
        }
        let (k, n) = kn(&v);
        let shares = parsed_shares(&name, &v);
        let secret = hex(&v["secret_hex"]);
        for subset in subsets(n, k - 1) {
            let mut candidates = 0usize;
            for (b, &s) in secret.iter().enumerate() {
                let possible: Vec<u8> =
                    (0..=255u8)
                        .filter(|&guess| {
                            let mut points = vec![(0u8, guess)];
                            points.extend(subset.iter().map(|&i| {
                                (shares[i].index(), shares[i].data().expose_secret()[b])
                            }));
                            coefficients(Field::MANAGER, &points)[1..].iter().all(|c| c & 1 == 1)
                        })
                        .collect();
                assert!(possible.contains(&s), "{name} {subset:?} byte {b}");
                candidates += possible.len();
            }
            assert!(candidates <= 128 * secret.len(), "{name} {subset:?}: {candidates}");
        }
    }
}
