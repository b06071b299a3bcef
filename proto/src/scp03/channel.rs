//! The session message layer shared by both halves (docs/PROTOCOL.md §4.4 "Session messages"):
//! padding, the counter-derived ICV, AES-CBC, C-MAC chaining and the R-MAC.
//!
//! CBC is written out over the block cipher: it is a handful of lines, needs no padding
//! mode of its own (SCP03 pads by hand) and spares a dependency.

use alloc::vec::Vec;

use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use aes::{Aes128, Block};
use cmac::{Cmac, Mac};
use zeroize::{Zeroize, Zeroizing};

use super::SessionError;
use super::keys::{KEY_LEN, SessionKeys, cmac_aes128};
use crate::codec::{DecodeError, Reader};
use crate::frame::{CommandCode, HEADER_LEN};
use crate::secret::ct_eq;

/// Length of the C-MAC and R-MAC at the end of a session frame.
pub(crate) const MAC_LEN: usize = 8;
const BLOCK_LEN: usize = 16;
const COMMAND_CODE: u8 = CommandCode::SESSION_MESSAGE.0;
const RESPONSE_CODE: u8 = CommandCode::SESSION_MESSAGE.response();

/// Field names used when decoding one direction's frames.
struct Names {
    data: &'static str,
    inner_code: &'static str,
    inner_len: &'static str,
    inner_data: &'static str,
    inner: &'static str,
}

const COMMAND: Names = Names {
    data: "session command: data",
    inner_code: "session command: inner code",
    inner_len: "session command: inner length",
    inner_data: "session command: inner data",
    inner: "session command: inner frame",
};

const RESPONSE: Names = Names {
    data: "session response: data",
    inner_code: "session response: inner code",
    inner_len: "session response: inner length",
    inner_data: "session response: inner data",
    inner: "session response: inner frame",
};

/// A session frame split up: the MACed part (everything before the MAC), the
/// ciphertext within it, and the MAC.
struct Parts<'a> {
    authenticated: &'a [u8],
    ct: &'a [u8],
    mac: &'a [u8],
}

/// Keys, MAC chaining value and counter of an authenticated session.
///
/// The key schedules of S-ENC, S-MAC and S-RMAC are expanded once per session rather
/// than once per message (the `aes` and `cmac` types wipe them on drop: feature
/// `zeroize`); each MAC starts from a clone of its keyed state. The MAC chaining value
/// is wiped too.
pub(crate) struct Channel {
    enc: Aes128,
    mac: Cmac<Aes128>,
    rmac: Cmac<Aes128>,
    chain: Zeroizing<[u8; BLOCK_LEN]>,
    counter: u64,
    session_id: u8,
}

impl Channel {
    /// A channel right after authentication: the counter starts at 1.
    pub(crate) fn new(keys: SessionKeys, session_id: u8, chain: [u8; BLOCK_LEN]) -> Self {
        let key: &[u8; KEY_LEN] = keys.enc.expose_secret();
        Self {
            enc: Aes128::new(key.into()),
            mac: cmac_aes128(keys.mac.expose_secret()),
            rmac: cmac_aes128(keys.rmac.expose_secret()),
            chain: Zeroizing::new(chain),
            counter: 1,
            session_id,
        }
    }

    pub(crate) fn session_id(&self) -> u8 {
        self.session_id
    }

    pub(crate) fn counter(&self) -> u64 {
        self.counter
    }

    /// Client: `05 len sid ct mac`; advances the MAC chain.
    pub(crate) fn seal_command(
        &mut self,
        inner: &[u8],
        max_data_len: usize,
    ) -> Result<Vec<u8>, SessionError> {
        let mut frame = self.encrypt(COMMAND_CODE, inner, max_data_len, &COMMAND)?;
        let mut m = self.mac.clone();
        m.update(self.chain.as_slice());
        m.update(&frame);
        *self.chain = m.finalize().into_bytes().into();
        frame.extend_from_slice(&self.chain[..MAC_LEN]);
        Ok(frame)
    }

    /// Device: `85 len sid ct rmac`; the exchange is complete, so the counter moves on.
    pub(crate) fn seal_response(
        &mut self,
        inner: &[u8],
        max_data_len: usize,
    ) -> Result<Vec<u8>, SessionError> {
        let next = self.counter.checked_add(1).ok_or(SessionError::CounterExhausted)?;
        let mut frame = self.encrypt(RESPONSE_CODE, inner, max_data_len, &RESPONSE)?;
        let rmac = self.rmac(&frame);
        frame.extend_from_slice(&rmac);
        self.counter = next;
        Ok(frame)
    }

    /// Device: checks the C-MAC of a `05` frame, advances the chain, returns the inner
    /// command. The inner length field is left to the command decoder, so that a device
    /// can answer a malformed command inside the session.
    pub(crate) fn open_command(&mut self, frame: &[u8]) -> Result<Vec<u8>, SessionError> {
        let Parts { authenticated, ct, mac } = self.split(frame, COMMAND_CODE, &COMMAND)?;
        let mut m = self.mac.clone();
        m.update(self.chain.as_slice());
        m.update(authenticated);
        let chain: [u8; BLOCK_LEN] = m.finalize().into_bytes().into();
        if !ct_eq(&chain[..MAC_LEN], mac) {
            return Err(SessionError::CommandMacMismatch);
        }
        *self.chain = chain;
        self.decrypt(ct)
    }

    /// Client: checks the R-MAC of an `85` frame before decrypting, returns the inner
    /// response after checking its length field; the exchange is complete.
    pub(crate) fn open_response(&mut self, frame: &[u8]) -> Result<Vec<u8>, SessionError> {
        let next = self.counter.checked_add(1).ok_or(SessionError::CounterExhausted)?;
        let Parts { authenticated, ct, mac } = self.split(frame, RESPONSE_CODE, &RESPONSE)?;
        if !ct_eq(&self.rmac(authenticated), mac) {
            return Err(SessionError::ResponseMacMismatch);
        }
        let mut inner = self.decrypt(ct)?;
        if let Err(e) = check_inner(&inner, &RESPONSE) {
            inner.zeroize();
            return Err(e.into());
        }
        self.counter = next;
        Ok(inner)
    }

    fn rmac(&self, authenticated: &[u8]) -> [u8; MAC_LEN] {
        let mut m = self.rmac.clone();
        m.update(self.chain.as_slice());
        m.update(authenticated);
        let full: [u8; BLOCK_LEN] = m.finalize().into_bytes().into();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    /// `code len sid ct`, with `len` already counting the MAC that follows.
    fn encrypt(
        &self,
        code: u8,
        inner: &[u8],
        max_data_len: usize,
        names: &Names,
    ) -> Result<Vec<u8>, SessionError> {
        check_inner(inner, names)?;
        let padded_len = (inner.len() / BLOCK_LEN + 1) * BLOCK_LEN;
        let data_len = 1 + padded_len + MAC_LEN;
        let len = u16::try_from(data_len)
            .ok()
            .filter(|_| data_len <= max_data_len)
            .ok_or(SessionError::TooLong { len: data_len, max: max_data_len })?;
        let mut frame = Vec::with_capacity(HEADER_LEN + data_len);
        frame.push(code);
        frame.extend_from_slice(&len.to_be_bytes());
        frame.push(self.session_id);
        let start = frame.len();
        frame.extend_from_slice(inner);
        frame.push(0x80);
        frame.resize(start + padded_len, 0);
        cbc_encrypt(&self.enc, self.icv(), &mut frame[start..]);
        Ok(frame)
    }

    /// Splits `code len sid ct mac` into the MACed part, the ciphertext and the MAC.
    fn split<'a>(
        &self,
        frame: &'a [u8],
        code: u8,
        names: &Names,
    ) -> Result<Parts<'a>, SessionError> {
        let (got, data) = crate::frame::decode(frame)?;
        if got != code {
            return Err(SessionError::UnexpectedCode { expected: code, got });
        }
        let ct_len = data.len().saturating_sub(1 + MAC_LEN);
        if ct_len == 0 || ct_len % BLOCK_LEN != 0 {
            return Err(DecodeError::bad_length(names.data, data.len()).into());
        }
        let mut r = Reader::new(data);
        let sid = r.u8(names.data)?;
        let ct = r.take(ct_len, names.data)?;
        let mac = r.take(MAC_LEN, names.data)?;
        r.finish(names.data)?;
        if sid != self.session_id {
            return Err(SessionError::SessionIdMismatch { expected: self.session_id, got: sid });
        }
        let authenticated =
            frame.get(..HEADER_LEN + 1 + ct_len).ok_or(DecodeError::invalid(names.data))?;
        Ok(Parts { authenticated, ct, mac })
    }

    /// Decrypts and unpads; no plaintext escapes when the padding is wrong.
    fn decrypt(&self, ct: &[u8]) -> Result<Vec<u8>, SessionError> {
        let mut buf = ct.to_vec();
        cbc_decrypt(&self.enc, self.icv(), ct, &mut buf);
        match unpadded_len(&buf) {
            Some(n) => {
                buf[n..].zeroize();
                buf.truncate(n);
                Ok(buf)
            }
            None => {
                buf.zeroize();
                Err(SessionError::BadPadding)
            }
        }
    }

    /// The ICV: the counter as a 16-byte big-endian block, encrypted with S-ENC.
    fn icv(&self) -> [u8; BLOCK_LEN] {
        let mut block = u128::from(self.counter).to_be_bytes();
        self.enc.encrypt_block((&mut block).into());
        block
    }
}

/// Checks that `inner` is one whole frame `code len(2) data`.
fn check_inner(inner: &[u8], names: &Names) -> Result<(), DecodeError> {
    let mut r = Reader::new(inner);
    r.u8(names.inner_code)?;
    let len = r.u16(names.inner_len)?;
    r.take(usize::from(len), names.inner_data)?;
    r.finish(names.inner)
}

/// Length of `buf` without its `80 00..` padding (1 to 16 bytes, all in the last block),
/// or `None` if the padding is wrong.
fn unpadded_len(buf: &[u8]) -> Option<usize> {
    let floor = buf.len().saturating_sub(BLOCK_LEN);
    let mut i = buf.len();
    while i > floor {
        i -= 1;
        match buf.get(i) {
            Some(0x00) => {}
            Some(0x80) => return Some(i),
            _ => return None,
        }
    }
    None
}

fn cbc_encrypt(cipher: &Aes128, iv: [u8; BLOCK_LEN], buf: &mut [u8]) {
    let (blocks, _) = buf.as_chunks_mut::<BLOCK_LEN>();
    let mut prev = iv;
    for block in blocks {
        for (b, p) in block.iter_mut().zip(prev) {
            *b ^= p;
        }
        cipher.encrypt_block(block.into());
        prev = *block;
    }
}

/// CBC decryption of `buf`, a copy of the ciphertext `ct`. Unlike encryption it has no
/// chain through the cipher: every block is decrypted at once (AES-NI pipelines them),
/// then XORed with the ciphertext block before it.
fn cbc_decrypt(cipher: &Aes128, iv: [u8; BLOCK_LEN], ct: &[u8], buf: &mut [u8]) {
    let (blocks, _) = Block::slice_as_chunks_mut(buf);
    cipher.decrypt_blocks(blocks);
    let (previous, _) = ct.as_chunks::<BLOCK_LEN>();
    for (block, prev) in blocks.iter_mut().zip(core::iter::once(&iv).chain(previous)) {
        for (b, p) in block.iter_mut().zip(prev) {
            *b ^= p;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpads_only_80_then_zeros_within_the_last_block() {
        let mut b = [0u8; 32];
        b[20] = 0x80;
        assert_eq!(unpadded_len(&b), Some(20));
        b[16] = 0x80;
        b[20] = 0;
        assert_eq!(unpadded_len(&b), Some(16));
        // Padding reaching into the previous block is not SCP03 padding.
        b[16] = 0;
        b[15] = 0x80;
        assert_eq!(unpadded_len(&b), None);
        // No 0x80 at all, or a non-zero byte after it.
        assert_eq!(unpadded_len(&[0u8; 16]), None);
        let mut c = [0u8; 16];
        c[3] = 0x80;
        c[9] = 1;
        assert_eq!(unpadded_len(&c), None);
        c[9] = 0;
        assert_eq!(unpadded_len(&c), Some(3));
        assert_eq!(unpadded_len(&[]), None);
    }

    fn keys() -> SessionKeys {
        use crate::secret::SecretArray;
        SessionKeys::new(
            SecretArray::new([1; 16]),
            SecretArray::new([2; 16]),
            SecretArray::new([3; 16]),
        )
    }

    /// A client session and a device channel in step, with a command sealed and opened:
    /// the device channel can then forge a response with a valid R-MAC around any
    /// plaintext.
    fn pending_exchange() -> (super::super::ClientSession, Channel) {
        let mut client = super::super::ClientSession::new(Channel::new(keys(), 5, [9; 16]), 1);
        let mut device = Channel::new(keys(), 5, [9; 16]);
        let frame = client.seal(&[0x01, 0x00, 0x02, 0xaa, 0xbb]).unwrap();
        assert_eq!(device.open_command(&frame).unwrap(), [0x01, 0x00, 0x02, 0xaa, 0xbb]);
        (client, device)
    }

    /// `85 len sid ct rmac` around `plaintext` (already a multiple of 16, padded or not).
    fn forge(device: &Channel, plaintext: &[u8]) -> Vec<u8> {
        let mut frame = alloc::vec![0x85];
        let len = u16::try_from(1 + plaintext.len() + MAC_LEN).unwrap();
        frame.extend_from_slice(&len.to_be_bytes());
        frame.push(device.session_id);
        let start = frame.len();
        frame.extend_from_slice(plaintext);
        cbc_encrypt(&device.enc, device.icv(), &mut frame[start..]);
        let rmac = device.rmac(&frame);
        frame.extend_from_slice(&rmac);
        frame
    }

    #[test]
    fn forged_frames_with_good_padding_open() {
        // The forgery helper itself is right: well-formed plaintext opens.
        let (mut client, device) = pending_exchange();
        let mut plain = [0u8; 16];
        plain[..4].copy_from_slice(&[0x81, 0x00, 0x00, 0x80]);
        assert_eq!(client.open(&forge(&device, &plain)).unwrap(), [0x81, 0, 0]);
        assert!(!client.is_poisoned());
    }

    #[test]
    fn rejects_bad_padding_under_a_valid_rmac() {
        for plain in [[0u8; 16], [0x81; 16], {
            let mut p = [0u8; 16];
            p[..5].copy_from_slice(&[0x81, 0x00, 0x00, 0x80, 0x01]);
            p
        }] {
            let (mut client, device) = pending_exchange();
            assert_eq!(client.open(&forge(&device, &plain)), Err(SessionError::BadPadding));
            assert!(client.is_poisoned());
            assert_eq!(client.seal(&[0x01, 0, 0]), Err(SessionError::Poisoned));
        }
        // Padding of a whole extra block that starts in the block before.
        let (mut client, device) = pending_exchange();
        let mut plain = [0u8; 32];
        plain[..4].copy_from_slice(&[0x81, 0x00, 0x00, 0x80]);
        assert_eq!(client.open(&forge(&device, &plain)), Err(SessionError::BadPadding));
    }

    #[test]
    fn rejects_an_inner_length_mismatch_under_a_valid_rmac() {
        for header in [[0x81, 0x00, 0x01], [0x81, 0x00, 0x00], [0x81, 0xff, 0xff]] {
            let (mut client, device) = pending_exchange();
            let mut plain = [0u8; 16];
            plain[..3].copy_from_slice(&header);
            plain[5] = 0x80; // two data bytes, so only [0x81, 0, 2] would match
            assert!(
                matches!(client.open(&forge(&device, &plain)), Err(SessionError::Malformed(_))),
                "{header:?}"
            );
            assert!(client.is_poisoned());
        }
    }

    #[test]
    fn seal_rejects_malformed_inner_frames_without_ending_the_session() {
        let mut client = super::super::ClientSession::new(Channel::new(keys(), 5, [9; 16]), 1);
        for bad in [&[][..], &[0x01], &[0x01, 0x00], &[0x01, 0x00, 0x01], &[0x01, 0x00, 0x00, 0x00]]
        {
            assert!(matches!(client.seal(bad), Err(SessionError::Malformed(_))), "{bad:?}");
        }
        assert!(!client.is_poisoned());
        assert!(client.seal(&[0x01, 0x00, 0x00]).is_ok());
    }

    #[test]
    fn cbc_round_trips_and_chains_blocks() {
        let cipher = Aes128::new((&[3u8; 16]).into());
        let mut buf = [0x5au8; 48];
        cbc_encrypt(&cipher, [1; 16], &mut buf);
        // Equal plaintext blocks give different ciphertext blocks.
        assert_ne!(buf[..16], buf[16..32]);
        assert_ne!(buf[16..32], buf[32..]);
        let ct = buf;
        cbc_decrypt(&cipher, [1; 16], &ct, &mut buf);
        assert_eq!(buf, [0x5a; 48]);
        // Block by block, as CBC is defined: P_i = D(C_i) xor C_{i-1}, C_0 = IV.
        let mut prev = [1u8; 16];
        for chunk in ct.chunks(16) {
            let mut block: [u8; 16] = chunk.try_into().unwrap();
            cipher.decrypt_block((&mut block).into());
            for (b, p) in block.iter_mut().zip(prev) {
                *b ^= p;
            }
            assert_eq!(block, [0x5a; 16]);
            prev = chunk.try_into().unwrap();
        }
    }
}
