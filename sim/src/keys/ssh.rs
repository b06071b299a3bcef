//! SSH certificate signing (SIGN_SSH_CERTIFICATE, docs/PROTOCOL.md §7.5; Yubico's command
//! reference, the OpenSSH certificates usage guide, and the request and template formats
//! of Yubico's `yubihsm-ssh-tool` and libyubihsm's `ssh` example).
//!
//! A template object (algorithm template-ssh) holds the CA's constraints as
//! `tag(1) length(2) value` entries: tag 1 the timestamp key's algorithm
//! (rsa2048/3072/4096), 2 its modulus (e = 65537), 3 the CA key ids allowed to sign (2
//! bytes each), 4 and 5 not-before and not-after offsets (4 bytes each), 6 blocked
//! principals (each NUL-terminated).
//!
//! The request after `key_id(2) template_id(2) algorithm(1)` is `timestamp(4)
//! signature(modulus size) certificate`: the certificate to sign is an OpenSSH certificate
//! (PROTOCOL.certkeys) up to and including its signature key, and the timestamp signature is
//! RSASSA-PKCS1-v1_5 with SHA-256, by the template's timestamp key, over
//! `SHA-256(SHA-256(certificate) || timestamp)`. The answer is the certificate's signature
//! field: `uint32 length || string name || string signature` ("ssh-rsa" for SHA-1,
//! "rsa-sha2-256" and "rsa-sha2-512", RFC 8332), ready to append to the request's
//! certificate. Only RSA CA keys sign, as on the device.
//!
//! Refusals: a CA key not in the template's list, a timestamp signature that does not verify
//! and a blocked principal are ssh-ca-constraint-violation; a malformed template, request
//! or certificate is invalid-data. The validity window (tags 4 and 5) is not enforced: how
//! the device applies it is not published, and the requests Yubico's own tools make by
//! default (valid from 0 to 2^64 − 1, under a 0 / 0xffffffff template in libyubihsm's
//! example) must be signed.

use chacha20::ChaCha20Rng;
use yhsm_proto::Algorithm;
use yhsm_proto::codec::Reader;
use yhsm_proto::frame::ErrorCode;
use yhsm_proto::wrap::Body;

use super::rsa::{self, Hash};

const TAG_TIMESTAMP_ALGORITHM: u8 = 1;
const TAG_TIMESTAMP_KEY: u8 = 2;
const TAG_CA_KEYS: u8 = 3;
const TAG_NOT_BEFORE: u8 = 4;
const TAG_NOT_AFTER: u8 = 5;
const TAG_PRINCIPALS_BLOCKLIST: u8 = 6;

/// An SSH template, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    /// The timestamp key's modulus.
    pub timestamp_key: Vec<u8>,
    /// CA key ids allowed to sign.
    pub ca_keys: Vec<u16>,
    pub not_before: Option<u32>,
    pub not_after: Option<u32>,
    /// Principals that must not appear in a certificate.
    pub blocked_principals: Vec<Vec<u8>>,
}

fn malformed<T>(_: T) -> ErrorCode {
    ErrorCode::INVALID_DATA
}

impl Template {
    /// Parses a template object's data. Unknown tags are skipped; a repeated tag, a missing
    /// timestamp key or CA key list, or a length that overruns is invalid-data.
    pub fn parse(data: &[u8]) -> Result<Self, ErrorCode> {
        let mut r = Reader::new(data);
        let mut seen = [false; 7];
        let (mut alg, mut key, mut ca_keys) = (None, None, None);
        let (mut not_before, mut not_after, mut blocked) = (None, None, Vec::new());
        while !r.is_empty() {
            let tag = r.u8("ssh template: tag").map_err(malformed)?;
            let len = usize::from(r.u16("ssh template: length").map_err(malformed)?);
            let value = r.take(len, "ssh template: value").map_err(malformed)?;
            if let Some(seen) = seen.get_mut(usize::from(tag))
                && std::mem::replace(seen, true)
            {
                return Err(ErrorCode::INVALID_DATA);
            }
            let u32_of = |v: &[u8]| v.try_into().map(u32::from_be_bytes).map_err(malformed);
            match tag {
                TAG_TIMESTAMP_ALGORITHM => match value {
                    [a] => alg = Some(Algorithm(*a)),
                    _ => return Err(ErrorCode::INVALID_DATA),
                },
                TAG_TIMESTAMP_KEY => key = Some(value.to_vec()),
                TAG_CA_KEYS if value.len() % 2 == 0 => {
                    ca_keys = Some(
                        value.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect(),
                    );
                }
                TAG_NOT_BEFORE => not_before = Some(u32_of(value)?),
                TAG_NOT_AFTER => not_after = Some(u32_of(value)?),
                TAG_PRINCIPALS_BLOCKLIST => {
                    // Each name ends with a NUL; a last one without is taken as it is.
                    blocked = value
                        .split(|b| *b == 0)
                        .filter(|p| !p.is_empty())
                        .map(<[u8]>::to_vec)
                        .collect();
                }
                TAG_CA_KEYS => return Err(ErrorCode::INVALID_DATA),
                _ => {}
            }
        }
        let (Some(alg), Some(timestamp_key), Some(ca_keys)) = (alg, key, ca_keys) else {
            return Err(ErrorCode::INVALID_DATA);
        };
        if alg.rsa_modulus_size() != Some(timestamp_key.len())
            || timestamp_key.first().is_none_or(|b| *b & 0x80 == 0)
        {
            return Err(ErrorCode::INVALID_DATA);
        }
        Ok(Self { timestamp_key, ca_keys, not_before, not_after, blocked_principals: blocked })
    }
}

/// The principals of an OpenSSH certificate without its signature (PROTOCOL.certkeys):
/// the whole certificate is read, so a truncated one or trailing bytes are invalid-data.
pub fn principals(certificate: &[u8]) -> Result<Vec<&[u8]>, ErrorCode> {
    fn string<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], ErrorCode> {
        let len = usize::try_from(r.u32("ssh: length").map_err(malformed)?).map_err(malformed)?;
        r.take(len, "ssh: string").map_err(malformed)
    }
    let mut r = Reader::new(certificate);
    let key_type = string(&mut r)?;
    // Strings between the key type and the serial: the nonce and the public key.
    let key_fields = match key_type {
        b"ssh-rsa-cert-v01@openssh.com" => 3,
        b"ssh-dss-cert-v01@openssh.com" => 5,
        b"ecdsa-sha2-nistp256-cert-v01@openssh.com"
        | b"ecdsa-sha2-nistp384-cert-v01@openssh.com"
        | b"ecdsa-sha2-nistp521-cert-v01@openssh.com" => 3,
        b"ssh-ed25519-cert-v01@openssh.com" => 2,
        _ => return Err(ErrorCode::INVALID_DATA),
    };
    for _ in 0..key_fields {
        string(&mut r)?;
    }
    r.u64("ssh: serial").map_err(malformed)?;
    r.u32("ssh: type").map_err(malformed)?;
    string(&mut r)?; // key id
    let mut list = Reader::new(string(&mut r)?);
    let mut names = Vec::new();
    while !list.is_empty() {
        names.push(string(&mut list)?);
    }
    r.u64("ssh: valid after").map_err(malformed)?;
    r.u64("ssh: valid before").map_err(malformed)?;
    for _ in 0..4 {
        // Critical options, extensions, reserved, signature key.
        string(&mut r)?;
    }
    r.finish("ssh certificate").map_err(malformed)?;
    Ok(names)
}

/// The SSH signature name and hash of a signing algorithm.
fn signature_scheme(alg: Algorithm) -> Option<(&'static [u8], Hash)> {
    match alg {
        Algorithm::RSA_PKCS1_SHA1 => Some((b"ssh-rsa", Hash::Sha1)),
        Algorithm::RSA_PKCS1_SHA256 => Some((b"rsa-sha2-256", Hash::Sha256)),
        Algorithm::RSA_PKCS1_SHA512 => Some((b"rsa-sha2-512", Hash::Sha512)),
        _ => None,
    }
}

/// The CA key that signs a request.
#[derive(Clone, Copy, Debug)]
pub struct CaKey<'a> {
    pub id: u16,
    pub algorithm: Algorithm,
    pub body: &'a Body,
}

/// Checks `request` against `template` and signs its certificate with `ca` and the signing
/// algorithm `scheme`; returns the certificate's signature field.
pub fn sign(
    template: &Template,
    ca: CaKey<'_>,
    scheme: Algorithm,
    request: &[u8],
    rng: &mut ChaCha20Rng,
) -> Result<Vec<u8>, ErrorCode> {
    let (name, hash) = signature_scheme(scheme).ok_or(ErrorCode::INVALID_DATA)?;
    if ca.algorithm.rsa_modulus_size().is_none() {
        return Err(ErrorCode::INVALID_DATA);
    }
    let (timestamp, rest) = request.split_at_checked(4).ok_or(ErrorCode::WRONG_LENGTH)?;
    let (ts_signature, certificate) =
        rest.split_at_checked(template.timestamp_key.len()).ok_or(ErrorCode::WRONG_LENGTH)?;
    let names = principals(certificate)?;
    if !template.ca_keys.contains(&ca.id) {
        return Err(ErrorCode::SSH_CA_CONSTRAINT_VIOLATION);
    }
    let request_hash = Hash::Sha256.digest(&[certificate]);
    let signed = Hash::Sha256.digest(&[&request_hash, timestamp]);
    if !rsa::verify_pkcs1(&template.timestamp_key, &signed, ts_signature) {
        return Err(ErrorCode::SSH_CA_CONSTRAINT_VIOLATION);
    }
    if names.iter().any(|n| template.blocked_principals.iter().any(|b| b.as_slice() == *n)) {
        return Err(ErrorCode::SSH_CA_CONSTRAINT_VIOLATION);
    }
    let digest = hash.digest(&[certificate]);
    let signature = rsa::sign_pkcs1(ca.algorithm, ca.body, &digest, rng)?;
    let mut blob = Vec::with_capacity(12 + name.len() + signature.len());
    for part in [name, &signature] {
        blob.extend_from_slice(&len32(part.len())?);
        blob.extend_from_slice(part);
    }
    let mut out = len32(blob.len())?.to_vec();
    out.extend_from_slice(&blob);
    Ok(out)
}

fn len32(n: usize) -> Result<[u8; 4], ErrorCode> {
    u32::try_from(n).map(u32::to_be_bytes).map_err(malformed)
}

#[cfg(test)]
mod tests;
