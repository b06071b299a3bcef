//! SSH certificate signing against independent implementations: the `rsa` crate signs the
//! timestamps and verifies the certificate signatures, and OpenSSH's `ssh-keygen -L` (when
//! installed) parses and checks the finished certificate.

use ::rsa::BoxedUint;
use ::rsa::pkcs1v15::Pkcs1v15Sign;
use base64::Engine as _;
use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use super::*;

/// The OpenSSL-made RSA keys of tests/data/rsa_keys.json: (p, q, n).
fn test_key(index: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rsa_keys.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let key = &json["keys"][index];
    let field = |name: &str| hex::decode(key[name].as_str().unwrap()).unwrap();
    (field("p"), field("q"), field("n"))
}

fn private(p: &[u8], q: &[u8]) -> ::rsa::PrivateKey {
    ::rsa::PrivateKey::from_p_q(
        BoxedUint::from_be_slice_vartime(p),
        BoxedUint::from_be_slice_vartime(q),
        BoxedUint::from(65537u64),
    )
    .unwrap()
}

fn public(n: &[u8]) -> ::rsa::PublicKey {
    ::rsa::PublicKey::new(BoxedUint::from_be_slice_vartime(n), BoxedUint::from(65537u64)).unwrap()
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&u32::try_from(s.len()).unwrap().to_be_bytes());
    out.extend_from_slice(s);
}

/// An SSH mpint of a positive big-endian number.
fn mpint(out: &mut Vec<u8>, v: &[u8]) {
    let v = &v[v.iter().position(|b| *b != 0).unwrap_or(v.len())..];
    let mut m = Vec::new();
    if v.first().is_some_and(|b| b & 0x80 != 0) {
        m.push(0);
    }
    m.extend_from_slice(v);
    string(out, &m);
}

/// An ssh-rsa public key blob.
fn rsa_blob(n: &[u8]) -> Vec<u8> {
    let mut blob = Vec::new();
    string(&mut blob, b"ssh-rsa");
    mpint(&mut blob, &[1, 0, 1]);
    mpint(&mut blob, n);
    blob
}

/// A user certificate for `user_n` with `principals`, to be signed by the CA `ca_n`.
fn certificate(user_n: &[u8], principals: &[&str], ca_n: &[u8]) -> Vec<u8> {
    let mut c = Vec::new();
    string(&mut c, b"ssh-rsa-cert-v01@openssh.com");
    string(&mut c, &[0x5a; 32]);
    mpint(&mut c, &[1, 0, 1]);
    mpint(&mut c, user_n);
    c.extend_from_slice(&7u64.to_be_bytes());
    c.extend_from_slice(&1u32.to_be_bytes());
    string(&mut c, b"user-identity");
    let mut list = Vec::new();
    for p in principals {
        string(&mut list, p.as_bytes());
    }
    string(&mut c, &list);
    c.extend_from_slice(&0u64.to_be_bytes());
    c.extend_from_slice(&u64::MAX.to_be_bytes());
    string(&mut c, b"");
    let mut extensions = Vec::new();
    string(&mut extensions, b"permit-pty");
    string(&mut extensions, b"");
    string(&mut c, &extensions);
    string(&mut c, b"");
    string(&mut c, &rsa_blob(ca_n));
    c
}

fn template(ts_n: &[u8], ca_keys: &[u16], blocked: &[&str]) -> Vec<u8> {
    let mut t = vec![TAG_TIMESTAMP_ALGORITHM, 0, 1, Algorithm::RSA2048.0];
    t.extend_from_slice(&[TAG_TIMESTAMP_KEY, 1, 0]);
    t.extend_from_slice(ts_n);
    t.push(TAG_CA_KEYS);
    t.extend_from_slice(&u16::try_from(2 * ca_keys.len()).unwrap().to_be_bytes());
    for id in ca_keys {
        t.extend_from_slice(&id.to_be_bytes());
    }
    t.extend_from_slice(&[TAG_NOT_BEFORE, 0, 4, 0, 0, 0, 0]);
    t.extend_from_slice(&[TAG_NOT_AFTER, 0, 4, 0, 0, 0, 0]);
    let names: Vec<u8> = blocked.iter().flat_map(|b| [b.as_bytes(), &[0]].concat()).collect();
    t.push(TAG_PRINCIPALS_BLOCKLIST);
    t.extend_from_slice(&u16::try_from(names.len()).unwrap().to_be_bytes());
    t.extend_from_slice(&names);
    t
}

/// `timestamp || signature || certificate`, the timestamp signed by the `rsa` crate.
fn request(ts_key: &::rsa::PrivateKey, timestamp: u32, cert: &[u8]) -> Vec<u8> {
    let ts = timestamp.to_be_bytes();
    let signed = Sha256::new().chain_update(Sha256::digest(cert)).chain_update(ts).finalize();
    let sig = ts_key.sign(Pkcs1v15Sign::new::<Sha256>(), &signed).unwrap();
    [&ts[..], &sig, cert].concat()
}

struct Setup {
    ts_key: ::rsa::PrivateKey,
    ca_body: Body,
    ca_n: Vec<u8>,
    user_n: Vec<u8>,
    template: Template,
}

fn setup() -> Setup {
    let (p, q, ts_n) = test_key(0);
    let (cp, cq, ca_n) = test_key(1);
    let (_, _, user_n) = test_key(2);
    let ca_body = rsa::from_primes(Algorithm::RSA3072, &[cp, cq].concat()).unwrap();
    let template = Template::parse(&template(&ts_n, &[1, 5, 0x3a], &["root", "toor"])).unwrap();
    Setup { ts_key: private(&p, &q), ca_body, ca_n, user_n, template }
}

fn ca(s: &Setup, id: u16) -> CaKey<'_> {
    CaKey { id, algorithm: Algorithm::RSA3072, body: &s.ca_body }
}

#[test]
fn signs_a_request_as_openssh_and_the_rsa_crate_verify() {
    let s = setup();
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let cert = certificate(&s.user_n, &["user1", "user2"], &s.ca_n);
    let req = request(&s.ts_key, 1_529_508_128, &cert);
    for (scheme, name) in [
        (Algorithm::RSA_PKCS1_SHA1, "ssh-rsa"),
        (Algorithm::RSA_PKCS1_SHA256, "rsa-sha2-256"),
        (Algorithm::RSA_PKCS1_SHA512, "rsa-sha2-512"),
    ] {
        let out = sign(&s.template, ca(&s, 5), scheme, &req, &mut rng).unwrap();
        // uint32 length || string name || string signature.
        let mut r = Reader::new(&out);
        let len = r.u32("len").unwrap();
        assert_eq!(usize::try_from(len).unwrap(), out.len() - 4);
        let n = usize::try_from(r.u32("name").unwrap()).unwrap();
        assert_eq!(r.take(n, "name").unwrap(), name.as_bytes());
        let n = usize::try_from(r.u32("sig").unwrap()).unwrap();
        let sig = r.take(n, "sig").unwrap();
        r.finish("out").unwrap();
        let verified = match scheme {
            Algorithm::RSA_PKCS1_SHA1 => {
                public(&s.ca_n).verify(Pkcs1v15Sign::new::<Sha1>(), &Sha1::digest(&cert), sig)
            }
            Algorithm::RSA_PKCS1_SHA256 => {
                public(&s.ca_n).verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(&cert), sig)
            }
            _ => public(&s.ca_n).verify(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(&cert), sig),
        };
        assert!(verified.is_ok(), "{name}");
        check_with_ssh_keygen(&[cert.as_slice(), &out].concat(), name);
    }
}

/// `ssh-keygen -L` parses the certificate and verifies its CA signature.
fn check_with_ssh_keygen(full: &[u8], name: &str) {
    use crate::test_support::{Scratch, tool};
    let dir = Scratch::new(&format!("ssh-{name}"));
    let list = |cert: &[u8]| {
        let file = dir.path("id-cert.pub");
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert);
        std::fs::write(&file, format!("ssh-rsa-cert-v01@openssh.com {b64}\n")).unwrap();
        tool("ssh-keygen", &["-L", "-f", file.to_str().unwrap()])
    };
    let Some(out) = list(full) else { return };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "ssh-keygen: {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("user1") && text.contains("user2"), "{text}");
    assert!(text.contains(&format!("using {name}")), "{text}");
    // It checks the signature: a flipped bit in it is refused.
    let mut bad = full.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(!list(&bad).unwrap().status.success());
}

#[test]
fn refuses_what_the_template_forbids() {
    let s = setup();
    let mut rng = ChaCha20Rng::from_seed([2; 32]);
    let cert = certificate(&s.user_n, &["user1"], &s.ca_n);
    let req = request(&s.ts_key, 1000, &cert);
    let sha256 = Algorithm::RSA_PKCS1_SHA256;
    let violation = Err(ErrorCode::SSH_CA_CONSTRAINT_VIOLATION);
    // A CA key not in the list.
    assert_eq!(sign(&s.template, ca(&s, 6), sha256, &req, &mut rng), violation);
    // A blocked principal, even among others.
    let root = certificate(&s.user_n, &["user1", "root"], &s.ca_n);
    let root_req = request(&s.ts_key, 1000, &root);
    assert_eq!(sign(&s.template, ca(&s, 5), sha256, &root_req, &mut rng), violation);
    // A timestamp that is not the one signed, a certificate altered after signing, a
    // signature by another key.
    let mut later = req.clone();
    later[3] ^= 1;
    assert_eq!(sign(&s.template, ca(&s, 5), sha256, &later, &mut rng), violation);
    let mut altered = req.clone();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    assert_eq!(sign(&s.template, ca(&s, 5), sha256, &altered, &mut rng), violation);
    // The timestamp key's signature of another certificate, with this one.
    let elsewhere = request(&s.ts_key, 1000, &certificate(&s.user_n, &["user2"], &s.ca_n));
    let swapped = [&elsewhere[..260], &cert[..]].concat();
    assert_eq!(sign(&s.template, ca(&s, 5), sha256, &swapped, &mut rng), violation);
    // A timestamp signature made by a key of another size does not even parse.
    let (p, q, _) = test_key(2);
    let other = request(&private(&p, &q), 1000, &cert);
    assert_eq!(
        sign(&s.template, ca(&s, 5), sha256, &other, &mut rng),
        Err(ErrorCode::INVALID_DATA)
    );
    // Only RSA CA keys, and only hashes with an SSH name.
    assert_eq!(
        sign(&s.template, ca(&s, 5), Algorithm::RSA_PKCS1_SHA384, &req, &mut rng),
        Err(ErrorCode::INVALID_DATA)
    );
    let ec = crate::keys::asymmetric_generate(Algorithm::ECP256, &mut rng).unwrap();
    let ec_ca = CaKey { id: 5, algorithm: Algorithm::ECP256, body: &ec };
    assert_eq!(sign(&s.template, ec_ca, sha256, &req, &mut rng), Err(ErrorCode::INVALID_DATA));
    // Every truncation of the request is refused.
    for len in 0..req.len() {
        assert!(sign(&s.template, ca(&s, 5), sha256, &req[..len], &mut rng).is_err(), "{len}");
    }
    assert!(
        sign(&s.template, ca(&s, 5), sha256, &[req.as_slice(), &[0]].concat(), &mut rng).is_err()
    );
}

#[test]
fn parses_templates_and_refuses_malformed_ones() {
    let (_, _, ts_n) = test_key(0);
    let good = template(&ts_n, &[1, 0xab], &["root", "toor"]);
    let t = Template::parse(&good).unwrap();
    assert_eq!(t.timestamp_key, ts_n);
    assert_eq!(t.ca_keys, [1, 0xab]);
    assert_eq!((t.not_before, t.not_after), (Some(0), Some(0)));
    assert_eq!(t.blocked_principals, [b"root".to_vec(), b"toor".to_vec()]);
    // Every truncation that cuts an entry, or drops the timestamp key or the key list.
    for len in 0..good.len() {
        let cut = &good[..len];
        if len < 3 + 1 + 3 + 256 + 3 + 4 {
            assert_eq!(Template::parse(cut), Err(ErrorCode::INVALID_DATA), "{len}");
        }
    }
    // A repeated tag, a modulus of the wrong size, an odd key list.
    let twice = [good.as_slice(), &[TAG_NOT_AFTER, 0, 4, 0, 0, 0, 1]].concat();
    assert_eq!(Template::parse(&twice), Err(ErrorCode::INVALID_DATA));
    let short = template(&ts_n[1..], &[1], &[]);
    assert_eq!(Template::parse(&short), Err(ErrorCode::INVALID_DATA));
    let mut odd = good.clone();
    let at = 4 + 3 + 256;
    odd[at + 2] = 3;
    assert_eq!(Template::parse(&odd), Err(ErrorCode::INVALID_DATA));
    // Random bytes (as yubihsm-shell's own tests store) are a template object, not a
    // template.
    assert_eq!(Template::parse(&[0x5a; 512]), Err(ErrorCode::INVALID_DATA));
}

#[test]
fn reads_principals_of_every_key_type_and_refuses_others() {
    let (_, _, n) = test_key(0);
    let cert = certificate(&n, &["a", "bc"], &n);
    assert_eq!(principals(&cert).unwrap(), [&b"a"[..], b"bc"]);
    assert_eq!(principals(&certificate(&n, &[], &n)).unwrap(), Vec::<&[u8]>::new());
    let mut other = Vec::new();
    string(&mut other, b"ssh-ed25519-cert-v01@openssh.com");
    let tail_at = 4 + 28 + 4 + 32 + (4 + 3) + (4 + 257);
    string(&mut other, &[1; 32]); // nonce
    string(&mut other, &[2; 32]); // pk
    other.extend_from_slice(&cert[tail_at..]);
    assert_eq!(principals(&other).unwrap(), [&b"a"[..], b"bc"]);
    let mut unknown = Vec::new();
    string(&mut unknown, b"ssh-foo-cert-v01@openssh.com");
    unknown.extend_from_slice(&cert[32..]);
    assert_eq!(principals(&unknown), Err(ErrorCode::INVALID_DATA));
    for len in 0..cert.len() {
        assert_eq!(principals(&cert[..len]), Err(ErrorCode::INVALID_DATA), "{len}");
    }
}
/// Through the device's handler: the CA key needs sign-ssh-certificate, the session too;
/// the template is found by id and must parse.
#[test]
fn the_device_signs_with_a_stored_key_and_template() {
    use crate::clock::ManualClock;
    use crate::cmd::{Ctx, execute};
    use crate::device::{Config, Device};
    use crate::store::Authority;
    use yhsm_proto::command::{
        Command, ObjectHeader, PutAsymmetricKey, PutTemplate, SignSshCertificate,
    };
    use yhsm_proto::frame::CommandCode;
    use yhsm_proto::secret::SecretBytes;
    use yhsm_proto::{Capabilities, Domains, Label};

    let s = setup();
    let mut dev =
        Device::with_clock_and_seed(Config::default(), Box::new(ManualClock::new()), [5; 32]);
    let ctx = |capabilities| Ctx {
        authority: Authority {
            key_id: 1,
            capabilities,
            delegated: Capabilities::ALL,
            domains: Domains::ALL,
        },
    };
    let all = ctx(Capabilities::ALL);
    let header = |id, algorithm, capabilities| ObjectHeader {
        id,
        label: Label::default(),
        domains: Domains(1),
        capabilities,
        algorithm,
    };
    let (p, q, _) = test_key(1);
    let ssh_cap = Capabilities::SIGN_SSH_CERTIFICATE;
    for (id, cap) in [(5, ssh_cap), (1, Capabilities::SIGN_PKCS)] {
        let put = PutAsymmetricKey {
            header: header(id, Algorithm::RSA3072, cap),
            key: SecretBytes::new([p.as_slice(), &q].concat()),
        };
        execute(&mut dev, &all, CommandCode::PUT_ASYMMETRIC_KEY, &put.to_data()).unwrap();
    }
    let (_, _, ts_n) = test_key(0);
    for (id, data) in [(10, template(&ts_n, &[1, 5], &["root"])), (11, vec![0x5a; 64])] {
        let put = PutTemplate {
            header: header(id, Algorithm::TEMPLATE_SSH, Capabilities::NONE),
            template: data,
        };
        execute(&mut dev, &all, CommandCode::PUT_TEMPLATE, &put.to_data()).unwrap();
    }
    let cert = certificate(&s.user_n, &["user1"], &s.ca_n);
    let sign = |key_id, template_id| SignSshCertificate {
        key_id,
        template_id,
        algorithm: Algorithm::RSA_PKCS1_SHA256,
        request: request(&s.ts_key, 99, &cert),
    };
    let code = CommandCode::SIGN_SSH_CERTIFICATE;
    let done = execute(&mut dev, &all, code, &sign(5, 10).to_data()).unwrap();
    // PKCS#1 v1.5 is deterministic: the same signature as the module's.
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    let direct = super::sign(
        &Template::parse(&template(&ts_n, &[1, 5], &["root"])).unwrap(),
        ca(&s, 5),
        Algorithm::RSA_PKCS1_SHA256,
        &sign(5, 10).request,
        &mut rng,
    )
    .unwrap();
    assert_eq!(done.data.as_slice(), direct.as_slice());
    let refused = |dev: &mut Device, ctx: &Ctx, req: SignSshCertificate| {
        execute(dev, ctx, code, &req.to_data()).err()
    };
    // Key 1 is in the template's list but lacks the capability; a session key without it.
    assert_eq!(refused(&mut dev, &all, sign(1, 10)), Some(ErrorCode::INSUFFICIENT_PERMISSIONS));
    let weak = ctx(Capabilities::SIGN_PKCS);
    assert_eq!(refused(&mut dev, &weak, sign(5, 10)), Some(ErrorCode::INSUFFICIENT_PERMISSIONS));
    // No such template; a template object that is not an SSH template.
    assert_eq!(refused(&mut dev, &all, sign(5, 12)), Some(ErrorCode::OBJECT_NOT_FOUND));
    assert_eq!(refused(&mut dev, &all, sign(5, 11)), Some(ErrorCode::INVALID_DATA));
}
