//! The pool holds real keys, a scope answers from it and counts the rest, every hook
//! does nothing outside a scope, and the cheap prime answers agree with the full test.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::fmt::Write as _;

use rand_core::SeedableRng;
use rsa::traits::PublicKeyParts as _;

use super::*;

const SIZES: [Algorithm; 3] = [Algorithm::RSA2048, Algorithm::RSA3072, Algorithm::RSA4096];

/// The RNG seed pool key `index` of `alg` was generated with.
fn pool_seed(alg: Algorithm, index: usize) -> [u8; 32] {
    let mut seed = [0u8; 32];
    let tag = format!("yhsm fuzz rsa pool {alg} {index}");
    seed[..tag.len()].copy_from_slice(tag.as_bytes());
    seed
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The pool file as `rsa::generate` (a prime search, outside a scope) makes it.
fn generate_pool_text() -> String {
    let mut text = String::from(
        "# RSA keys of the fuzzing configuration (rsa_work.rs): `algorithm p q`, primes in hex.\n\
         # Key i of rsaN is rsa::generate with ChaCha20Rng::from_seed(\"yhsm fuzz rsa pool rsaN i\",\n\
         # zero-padded to 32 bytes); regenerate with the ignored test rsa_work::tests::regenerates_the_pool.\n",
    );
    for alg in SIZES {
        for index in 0..KEYS_PER_SIZE {
            let mut rng = ChaCha20Rng::from_seed(pool_seed(alg, index));
            let body = sim_rsa::generate(alg, &mut rng).unwrap();
            let Body::Rsa { p, q, .. } = &body else { panic!("not RSA") };
            let (p, q) = (to_hex(p.expose_secret()), to_hex(q.expose_secret()));
            writeln!(text, "{alg} {p} {q}").unwrap();
        }
    }
    text
}

#[test]
#[ignore = "a prime search for nine keys; FUZZ_RSA_POOL=path writes the file there"]
fn regenerates_the_pool() {
    let text = generate_pool_text();
    if let Some(path) = std::env::var_os("FUZZ_RSA_POOL") {
        std::fs::write(path, &text).unwrap();
    }
    assert_eq!(text, POOL_TEXT, "rsa_pool.txt is what its seeds generate");
}

fn pq(alg: Algorithm, index: usize) -> Vec<u8> {
    let (p, q) = pool_primes(alg).nth(index).unwrap();
    [p, q].concat()
}

fn full_test(bytes: &[u8]) -> bool {
    crypto_primes::is_prime(crypto_primes::Flavor::Any, &BoxedUint::from_be_slice_vartime(bytes))
}

#[test]
fn the_pool_holds_distinct_real_keys_of_every_size() {
    let mut primes = Vec::new();
    for alg in SIZES {
        assert_eq!(pool_primes(alg).count(), KEYS_PER_SIZE, "{alg}");
        for (p, q) in pool_primes(alg) {
            assert!(full_test(p) && full_test(q), "{alg}: not two primes");
            primes.extend([p, q]);
            // Outside a scope: the full checks and key arithmetic give the pool's body.
            let body = sim_rsa::from_primes(alg, &[p, q].concat()).unwrap();
            let pooled = pool().iter().find(|k| k.p == p).unwrap();
            assert_eq!(body, pooled.body, "{alg}");
        }
    }
    let count = primes.len();
    primes.sort();
    primes.dedup();
    assert_eq!(primes.len(), count, "a prime repeats");
}

#[test]
fn a_pool_line_that_does_not_parse_is_named() {
    let line = POOL_TEXT.lines().find(|l| l.starts_with("rsa2048")).unwrap();
    assert_eq!(parse_pool(&format!("# c\n{line}\n")).unwrap().len(), 1);
    let (alg, rest) = line.split_once(' ').unwrap();
    let (p, q) = rest.split_once(' ').unwrap();
    for bad in [
        format!("rsa9999 {p} {q}"),
        format!("{alg} {p}"),
        format!("{alg} {p} {q} 00"),
        format!("{alg} {p}0 {q}"),
        format!("{alg} {q} {q}"),
        format!("{alg} x{} {q}", &p[1..]),
        format!("rsa4096 {p} {q}"),
    ] {
        assert_eq!(parse_pool(&format!("# c\n{line}\n{bad}\n")).err(), Some(3), "{bad:.20}");
    }
}

#[test]
fn a_scope_takes_generated_keys_from_the_pool_and_counts_the_rest() {
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    forget_answers();
    let scope = Scope::enter();
    let body = sim_rsa::generate(Algorithm::RSA4096, &mut rng).unwrap();
    assert!(pool().iter().any(|k| k.alg == Algorithm::RSA4096 && k.body == body));
    // A pool key's put: two cheap prime checks, its key arithmetic cached.
    let put = sim_rsa::from_primes(Algorithm::RSA3072, &pq(Algorithm::RSA3072, 1)).unwrap();
    assert_eq!(
        scope.work(),
        Work { pooled_keys: 1, cheap_prime_checks: 2, ..Work::default() },
        "no arithmetic yet"
    );
    // The same primes the other way round are not a pool key: built, and counted.
    let (p, q) = pool_primes(Algorithm::RSA3072).nth(1).unwrap();
    let swapped = sim_rsa::from_primes(Algorithm::RSA3072, &[q, p].concat()).unwrap();
    assert_ne!(swapped, put);
    // A signature: one private-key operation.
    let sig = sim_rsa::sign_pkcs1(Algorithm::RSA3072, &put, &[7; 32], &mut rng).unwrap();
    assert_eq!(sig.len(), 384);
    // A composite without small factors: one Miller-Rabin round, refused.
    let (p, _) = pool_primes(Algorithm::RSA2048).next().unwrap();
    let square = BoxedUint::from_be_slice(p, 2048).unwrap().wrapping_square().to_be_bytes();
    let (_, q) = pool_primes(Algorithm::RSA4096).next().unwrap();
    let composite = [&square, q].concat();
    assert!(sim_rsa::from_primes(Algorithm::RSA4096, &composite).is_err());
    let work = scope.work();
    assert_eq!(
        work,
        Work {
            pooled_keys: 1,
            cheap_prime_checks: 4,
            miller_rabin_checks: 1,
            key_builds: 1,
            private_ops: 1,
            remembered_ops: 0,
            generated_keys: 0,
            cost_ms: Op::KeyBuild.cost_ms(384)
                + Op::PrivateOp.cost_ms(384)
                + Op::MillerRabin.cost_ms(512),
        }
    );
    drop(scope);
    // Closed: nothing is answered or counted any more.
    assert_eq!(known_prime(p), None);
    assert!(pooled_private_key(Algorithm::RSA2048, p, q).is_none());
    assert!(pooled_key(Algorithm::RSA2048, &mut rng).is_none());
    assert_eq!(Scope::enter().work(), Work::default(), "a new scope starts from zero");
}

#[test]
fn outside_a_scope_the_hooks_do_nothing() {
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    let mut twin = ChaCha20Rng::from_seed([2; 32]);
    let (p, q) = pool_primes(Algorithm::RSA2048).next().unwrap();
    assert_eq!(known_prime(p), None);
    assert_eq!(known_prime(&[0x0f; 128]), None, "a small factor is left to the full test");
    assert!(pooled_private_key(Algorithm::RSA2048, p, q).is_none());
    assert!(pooled_key(Algorithm::RSA2048, &mut rng).is_none());
    assert_eq!(rng.next_u64(), twin.next_u64(), "no randomness drawn");
    let key = pool().first().unwrap();
    assert!(private_op(&key.key, &[1; 256]).is_none());
    // A signature is blinded with the device's randomness.
    sim_rsa::sign_pkcs1(key.alg, &key.body, &[7; 32], &mut rng).unwrap();
    assert_ne!(rng.next_u64(), twin.next_u64());
    assert_eq!(Scope::enter().work(), Work::default());
}

#[test]
fn a_scope_remembers_private_key_operations_and_leaves_the_device_rng_alone() {
    forget_answers();
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    let mut twin = ChaCha20Rng::from_seed([3; 32]);
    let key = pool().iter().find(|k| k.alg == Algorithm::RSA2048).unwrap();
    let sign = |digest: usize, rng: &mut ChaCha20Rng| {
        let digest = [u8::try_from(digest).unwrap(); 32];
        sim_rsa::sign_pkcs1(key.alg, &key.body, &digest, rng).unwrap()
    };
    let ops = |scope: &Scope| (scope.work().private_ops, scope.work().remembered_ops);

    let scope = Scope::enter();
    let first = sign(1, &mut rng);
    assert_eq!(sign(1, &mut rng), first);
    assert_eq!(ops(&scope), (1, 1));
    assert_eq!(scope.work().cost_ms, Op::PrivateOp.cost_ms(256), "remembered costs nothing");
    assert_eq!(rng.next_u64(), twin.next_u64(), "no device randomness for blinding");
    drop(scope);
    // Remembered across scopes, as across inputs.
    let scope = Scope::enter();
    assert_eq!(sign(1, &mut rng), first);
    assert_ne!(sign(2, &mut rng), first);
    assert_eq!(ops(&scope), (1, 1));
    // The remembered answer is the operation's: the public key recovers the padding.
    let public = rsa::PublicKey::new(key.key.n().as_ref().clone(), 65537u64.into()).unwrap();
    let m = rsa::hazmat::rsa_encrypt(&public, &BoxedUint::from_be_slice(&first, 2048).unwrap());
    let em = m.unwrap().to_be_bytes();
    assert!(em.starts_with(&[0, 1, 0xff]) && em.ends_with(&[1; 32]));
    // Only the last CACHED_OPS answers are kept: after as many others, the first is
    // computed again.
    for digest in 3..3 + CACHED_OPS {
        sign(digest, &mut rng);
    }
    let scope = Scope::enter();
    sign(1, &mut rng);
    assert_eq!(ops(&scope), (1, 0));
}

#[test]
fn cheap_answers_agree_with_the_full_test() {
    let _scope = Scope::enter();
    // Every number of two bytes, also with leading zeros (a prime is half a modulus).
    for n in 0u32..=0xffff {
        let bytes = n.to_be_bytes();
        let full = full_test(&bytes);
        for candidate in [&bytes[2..], &bytes[..]] {
            let answer = known_prime(candidate).unwrap_or(full);
            assert_eq!(answer, full, "{n}");
        }
    }
    // The pool's primes are primes; their neighbours are not.
    for (p, _) in pool_primes(Algorithm::RSA2048) {
        assert_eq!(known_prime(p), Some(true));
        let mut next = p.to_vec();
        *next.last_mut().unwrap() ^= 2;
        assert_eq!(known_prime(&next), Some(full_test(&next)));
    }
    // Where the answers differ: a strong pseudoprime to base 2 with no factor below 256
    // (the smallest, 280601 = 277 · 1013), which only the Lucas half of the full test
    // refuses. A fuzzer does not make one of 1024 bits.
    let pseudoprime = 280_601u32.to_be_bytes();
    assert_eq!(known_prime(&pseudoprime), Some(true));
    assert!(!full_test(&pseudoprime));
}
