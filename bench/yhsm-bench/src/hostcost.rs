//! Benchmark 3, host cost of the protocol (in process, no I/O), next to the AES-NI bound
//! for the same AES blocks:
//!
//! - SCP03 (docs/PROTOCOL.md §4.4 "Session messages"): the client's seal of the largest command
//!   that fits a frame and open of an equally large response. The responses are recorded
//!   once from a device session and replayed into a client session opened with the same
//!   challenges (sealing is deterministic), so the timed loop holds client work only.
//! - `.yhw` unwrap (docs/PROTOCOL.md §5): AES-CCM open and decoding of a 2,048-byte blob.
//!
//! The bound: AES-CBC encryption and CMAC are serial (each block needs the previous
//! ciphertext, so one block per AES latency), CBC decryption and CTR are parallel (one
//! block per AES throughput slot). Both rates are measured here with the `aes` crate,
//! and the bound is `serial blocks × latency + parallel blocks × throughput`.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

use aes::cipher::{Block, BlockCipherEncrypt, KeyInit};
use aes::{Aes128, Aes256};
use yhsm_proto::frame::{self, CommandCode, MAX_DATA_LEN};
use yhsm_proto::object::{Algorithm, Capabilities, Domains, Label, ObjectType, Origin};
use yhsm_proto::scp03::{CreateSessionRequest, DeviceHandshake, MAX_INNER_LEN};
use yhsm_proto::wrap::{self, Body, WrapHeader, WrapKey, WrappedObject};
use yhsm_proto::{ClientHandshake, ClientSession, DeviceSession, SecretArray, SecretBytes};
use yhsm_proto::{StaticKeys, scp03};

use crate::stats::{Summary, fmt_range};

const BLOCK: usize = 16;
/// Size of the `.yhw` blob (binary) that is unwrapped.
const BLOB_LEN: usize = 2048;

#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub runs: usize,
    /// Scales every loop (1.0 for the report, less for a smoke run).
    pub scale: f64,
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "a loop count: truncation of a fraction is the rounding wanted"
)]
fn iterations(base: usize, scale: f64) -> usize {
    // At least one: a smoke run still runs every loop.
    ((base as f64 * scale) as usize).max(1)
}

/// How many times one timing is tried before a preempted one is kept anyway.
const ATTEMPTS: usize = 50;

/// Involuntary context switches of this thread so far (Linux `/proc/thread-self/status`).
fn preemptions() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/thread-self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("nonvoluntary_ctxt_switches:"))?.trim().parse().ok()
}

/// Timings thrown away because the thread was preempted while they ran: on a shared
/// machine those include time spent waiting for a CPU, not computing.
#[derive(Default)]
struct Discarded {
    preempted: usize,
    kept_anyway: usize,
}

/// Time per iteration in ns of one call of `f(iters)` during which the thread was not
/// preempted (up to [`ATTEMPTS`] tries).
fn time_per_op(iters: usize, f: &mut impl FnMut(usize), discarded: &mut Discarded) -> f64 {
    let mut ns = f64::NAN;
    for _ in 0..ATTEMPTS {
        let before = preemptions();
        let start = Instant::now();
        f(iters);
        ns = start.elapsed().as_secs_f64() * 1e9 / iters as f64;
        if before.is_none() || preemptions() == before {
            return ns;
        }
        discarded.preempted += 1;
    }
    discarded.kept_anyway += 1;
    ns
}

/// One run's raw AES rates for one key size: ns per block when blocks are independent
/// (pipelined) and when each block depends on the previous one (latency).
#[derive(Clone, Copy)]
struct AesRates {
    parallel_ns: f64,
    serial_ns: f64,
}

/// Measures the raw rates of `cipher` over `blocks`, `reps` times, and a chain of `chain`
/// dependent blocks.
fn aes_rates<C: BlockCipherEncrypt>(
    cipher: &C,
    blocks: &mut [Block<C>],
    (reps, chain): (usize, usize),
    discarded: &mut Discarded,
) -> AesRates {
    let mut encrypt_all = |n| {
        for _ in 0..n {
            cipher.encrypt_blocks(black_box(&mut *blocks));
        }
    };
    let per_rep = time_per_op(reps, &mut encrypt_all, discarded);
    let mut block = Block::<C>::default();
    let mut encrypt_chain = |n| {
        for _ in 0..n {
            cipher.encrypt_block(black_box(&mut block));
        }
    };
    let serial_ns = time_per_op(chain, &mut encrypt_chain, discarded);
    AesRates { parallel_ns: per_rep / blocks.len().max(1) as f64, serial_ns }
}

/// AES block operations of one measured operation.
struct Blocks {
    /// Blocks in a dependency chain, or single blocks that wait for their own result.
    serial: usize,
    /// Blocks that can be pipelined.
    parallel: usize,
}

impl Blocks {
    fn total(&self) -> usize {
        self.serial + self.parallel
    }

    fn bound_ns(&self, rates: AesRates) -> f64 {
        self.serial as f64 * rates.serial_ns + self.parallel as f64 * rates.parallel_ns
    }

    fn throughput_bound_ns(&self, rates: AesRates) -> f64 {
        self.total() as f64 * rates.parallel_ns
    }
}

/// Blocks of one SCP03 seal plus one open of an inner frame of `inner_len` bytes each way.
fn scp03_blocks(inner_len: usize) -> Blocks {
    let cbc = inner_len / BLOCK + 1; // padding adds 1..=16 bytes
    // The MAC covers the 16-byte chaining value, `code len sid` and the ciphertext; CMAC
    // also encrypts a zero block for its subkeys.
    let cmac = (BLOCK + 3 + 1 + cbc * BLOCK).div_ceil(BLOCK) + 1;
    // seal: ICV + CBC encryption (serial) + C-MAC (serial);
    // open: R-MAC (serial) + ICV + CBC decryption (parallel).
    Blocks { serial: (1 + cbc + cmac) + (cmac + 1), parallel: cbc }
}

/// Blocks of AES-CCM over `payload` bytes without associated data: CBC-MAC over B0 and
/// the payload (serial), CTR over the payload and the tag block (parallel).
fn ccm_blocks(payload: usize) -> Blocks {
    let n = payload.div_ceil(BLOCK);
    Blocks { serial: 1 + n, parallel: n + 1 }
}

fn session_pair(keys: &StaticKeys) -> Result<(ClientSession, DeviceSession), String> {
    let err = |e: yhsm_proto::SessionError| format!("session set-up: {e}");
    let client = ClientHandshake::new(1, keys, [0x11; scp03::CHALLENGE_LEN]);
    let CreateSessionRequest::Symmetric { auth_key_id, host_challenge } =
        CreateSessionRequest::parse(&client.request()).map_err(err)?
    else {
        return Err("session set-up: not a symmetric request".to_owned());
    };
    let (device, response) =
        DeviceHandshake::new(auth_key_id, host_challenge, keys, [0x22; scp03::CHALLENGE_LEN], 0);
    let (client, request) = client.on_create_session_response(&response).map_err(err)?;
    let (device, response) = device.on_authenticate_request(&request).map_err(err)?;
    let client = client.on_authenticate_response(&response).map_err(err)?;
    Ok((client, device))
}

struct Scp03Case {
    keys: StaticKeys,
    command: Vec<u8>,
    expected: Vec<u8>,
    responses: Vec<Vec<u8>>,
}

fn scp03_case(iters: usize) -> Result<Scp03Case, String> {
    let keys = StaticKeys::new(SecretArray::new([0x40; 16]), SecretArray::new([0x41; 16]));
    let data = crate::echo::pattern(MAX_INNER_LEN - 3);
    let command = frame::encode(CommandCode::ECHO.0, &data).map_err(|e| e.to_string())?;
    let expected = frame::encode(CommandCode::ECHO.response(), &data).map_err(|e| e.to_string())?;
    let (mut client, mut device) = session_pair(&keys)?;
    let mut responses = Vec::with_capacity(iters);
    for _ in 0..iters {
        let sealed = client.seal(&command).map_err(|e| format!("seal: {e}"))?;
        if sealed.len() - 3 > MAX_DATA_LEN {
            return Err("sealed frame exceeds the frame limit".to_owned());
        }
        let opened = device.open_command(&sealed).map_err(|e| format!("device open: {e}"))?;
        if opened != command {
            return Err("device opened other bytes".to_owned());
        }
        let response = device.seal_response(&expected).map_err(|e| format!("device seal: {e}"))?;
        client.open(&response).map_err(|e| format!("open: {e}"))?;
        responses.push(response);
    }
    Ok(Scp03Case { keys, command, expected, responses })
}

fn blob(key: &WrapKey) -> Result<Vec<u8>, String> {
    let body_len = BLOB_LEN - wrap::NONCE_LEN - wrap::TAG_LEN - WrapHeader::LEN;
    let object = WrappedObject {
        header: WrapHeader {
            wrap_algorithm: key.algorithm(),
            capabilities: Capabilities(0),
            id: 0x0101,
            length: u16::try_from(body_len).map_err(|e| e.to_string())?,
            domains: Domains(1),
            object_type: ObjectType::OPAQUE,
            algorithm: Algorithm::OPAQUE_DATA,
            sequence: 0,
            origin: Origin::IMPORTED,
            label: Label::default(),
        },
        body: Body::Raw(SecretBytes::new(crate::echo::pattern(body_len))),
    };
    let blob = wrap::wrap(key, [0x33; wrap::NONCE_LEN], &object).map_err(|e| e.to_string())?;
    if blob.len() != BLOB_LEN {
        return Err(format!("blob is {} bytes, not {BLOB_LEN}", blob.len()));
    }
    Ok(blob)
}

/// The per-run figures of one measured operation.
#[derive(Default)]
struct Samples {
    ns: Vec<f64>,
    bound_ns: Vec<f64>,
    throughput_bound_ns: Vec<f64>,
    ratio: Vec<f64>,
}

impl Samples {
    fn push(&mut self, ns: f64, blocks: &Blocks, rates: AesRates) {
        let bound = blocks.bound_ns(rates);
        self.ns.push(ns);
        self.bound_ns.push(bound);
        self.throughput_bound_ns.push(blocks.throughput_bound_ns(rates));
        self.ratio.push(ns / bound);
    }
}

/// One row of the table.
struct Row {
    what: String,
    bytes: usize,
    blocks: Blocks,
    aes: &'static str,
    samples: Samples,
}

/// Runs the measurements and returns the Markdown section. Each run measures the raw AES
/// rates and then every operation, so that each ratio compares figures taken moments
/// apart, under the same load; the table gives the medians over the runs.
pub fn run(opts: Options) -> Result<String, String> {
    let aes128 = Aes128::new(&Default::default());
    let aes256 = Aes256::new(&Default::default());
    let mut blocks128 = vec![Block::<Aes128>::default(); 4096];
    let mut blocks256 = vec![Block::<Aes256>::default(); 4096];
    // Short timings (about 0.1 to 3 ms each), so that most run without being preempted.
    let aes_loops = (iterations(16, opts.scale), iterations(1 << 14, opts.scale));
    let mut discarded = Discarded::default();

    let scp03_iters = iterations(200, opts.scale);
    let case = scp03_case(scp03_iters)?;
    let mut failure = None;
    let mut scp03 = |n: usize| {
        let Ok((mut client, _)) = session_pair(&case.keys) else {
            failure = Some("SCP03 session set-up failed");
            return;
        };
        for response in case.responses.iter().take(n) {
            let sealed = client.seal(black_box(&case.command));
            let opened = client.open(black_box(response));
            if !matches!((&sealed, &opened), (Ok(_), Ok(o)) if *o == case.expected) {
                failure = Some("a replayed SCP03 exchange failed");
            }
            drop(black_box((sealed, opened)));
        }
    };

    let key = WrapKey::new(&[0x5a; 32]).map_err(|e| e.to_string())?;
    let blob = blob(&key)?;
    let text = wrap::encode_text(&blob);
    let unwrap_iters = iterations(500, opts.scale);
    let mut unwrap_failed = false;
    let mut unwrap = |n: usize| {
        for _ in 0..n {
            unwrap_failed |= wrap::unwrap(&key, black_box(&blob)).is_err();
        }
    };
    let mut text_failed = false;
    let mut decode_unwrap = |n: usize| {
        for _ in 0..n {
            let ok = wrap::decode_text(black_box(text.as_bytes()))
                .is_ok_and(|b| wrap::unwrap(&key, &b).is_ok());
            text_failed |= !ok;
        }
    };

    let inner = MAX_INNER_LEN;
    let payload = BLOB_LEN - wrap::NONCE_LEN - wrap::TAG_LEN;
    let mut rows = [
        Row {
            what: format!("SCP03 seal + open, {inner}-byte inner frame each way"),
            bytes: 2 * inner,
            blocks: scp03_blocks(inner),
            aes: "AES-128",
            samples: Samples::default(),
        },
        Row {
            what: format!("`.yhw` unwrap, {BLOB_LEN}-byte blob (aes256-ccm-wrap)"),
            bytes: BLOB_LEN,
            blocks: ccm_blocks(payload),
            aes: "AES-256",
            samples: Samples::default(),
        },
        Row {
            what: format!("`.yhw` base64 decode + unwrap ({}-byte text)", text.len()),
            bytes: BLOB_LEN,
            blocks: ccm_blocks(payload),
            aes: "AES-256",
            samples: Samples::default(),
        },
    ];
    let mut rates = (Vec::new(), Vec::new(), Vec::new(), Vec::new());

    // Warm-up: caches, branch predictors, the CPU's clock.
    aes_rates(&aes128, &mut blocks128, aes_loops, &mut discarded);
    aes_rates(&aes256, &mut blocks256, aes_loops, &mut discarded);
    discarded = Discarded::default();
    scp03(scp03_iters.div_ceil(10));
    unwrap(unwrap_iters.div_ceil(10));
    decode_unwrap(unwrap_iters.div_ceil(10));
    for _ in 0..opts.runs {
        let r128 = aes_rates(&aes128, &mut blocks128, aes_loops, &mut discarded);
        let r256 = aes_rates(&aes256, &mut blocks256, aes_loops, &mut discarded);
        let times = [
            time_per_op(scp03_iters, &mut scp03, &mut discarded),
            time_per_op(unwrap_iters, &mut unwrap, &mut discarded),
            time_per_op(unwrap_iters, &mut decode_unwrap, &mut discarded),
        ];
        for (row, ns) in rows.iter_mut().zip(times) {
            let r = if row.aes == "AES-128" { r128 } else { r256 };
            row.samples.push(ns, &row.blocks, r);
        }
        rates.0.push(r128.parallel_ns);
        rates.1.push(r128.serial_ns);
        rates.2.push(r256.parallel_ns);
        rates.3.push(r256.serial_ns);
    }
    if let Some(f) = failure {
        return Err(f.to_owned());
    }
    if unwrap_failed || text_failed {
        return Err("unwrap of the benchmark blob failed".to_owned());
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} runs; each measures the raw AES rates and then every operation, and the table \
         gives medians over the runs (min–max), the \"× bound\" column the median of the \
         per-run ratios. A timing during which the thread was preempted (Linux \
         `nonvoluntary_ctxt_switches`) was taken again: {} were, {} kept after {ATTEMPTS} \
         tries. AES-NI {}. The largest inner frame that fits one session message \
         is {inner} bytes (`cmd len data` padded to {} bytes, plus session id and MAC: {} of \
         the {MAX_DATA_LEN} data bytes a frame allows), so that is the size measured. MB/s \
         counts the inner frame both ways for SCP03 and the binary blob for unwrap.\n",
        opts.runs,
        discarded.preempted,
        discarded.kept_anyway,
        if aes_ni_detected() {
            "detected and used by the `aes` crate"
        } else {
            "NOT detected (software AES)"
        },
        (inner / BLOCK + 1) * BLOCK,
        1 + (inner / BLOCK + 1) * BLOCK + 8,
    );
    let _ = writeln!(
        out,
        "| operation | time, ns | MB/s | AES blocks (serial + parallel) | AES bound, ns | × bound | throughput-only bound, ns |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    let mut verdicts = Vec::new();
    for row in &rows {
        let summaries = (
            Summary::of(&row.samples.ns),
            Summary::of(&row.samples.bound_ns),
            Summary::of(&row.samples.throughput_bound_ns),
            Summary::of(&row.samples.ratio),
        );
        let (Some(ns), Some(bound), Some(tp), Some(ratio)) = summaries else {
            return Err(format!("no measurement of {}", row.what));
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {} ({} + {}) {} | {:.0} | **{:.2}** ({:.2}–{:.2}) | {:.0} |",
            row.what,
            fmt_range(ns, 0),
            row.bytes as f64 / ns.median * 1e3,
            row.blocks.total(),
            row.blocks.serial,
            row.blocks.parallel,
            row.aes,
            bound.median,
            ratio.median,
            ratio.min,
            ratio.max,
            tp.median,
        );
        verdicts.push(format!(
            "- {}: {:.2}× the AES bound (target ≤ 3×): {}",
            row.what,
            ratio.median,
            if ratio.median <= 3.0 { "met" } else { "**not met**" }
        ));
    }
    let rate = |v: &[f64]| Summary::of(v).map_or_else(|| "—".to_owned(), |s| fmt_range(s, 2));
    let _ = writeln!(
        out,
        "\nRaw AES on this machine (`aes` crate), ns per block, median (min–max): \
         AES-128 pipelined {}, serial {}; AES-256 pipelined {}, serial {}. \"Serial\" is one \
         block after another, each the input of the next (the CBC-MAC/CMAC/CBC-encrypt \
         pattern: one block per AES latency, about 10 rounds × 3–4 cycles for AES-128); \
         \"pipelined\" is {} independent blocks at a time (CBC decryption, CTR). The \
         throughput-only bound pretends every block could be pipelined, which the serial \
         modes forbid.\n",
        rate(&rates.0),
        rate(&rates.1),
        rate(&rates.2),
        rate(&rates.3),
        blocks128.len(),
    );
    let _ = writeln!(out, "{}", verdicts.join("\n"));
    Ok(out)
}

fn aes_ni_detected() -> bool {
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    {
        std::arch::is_x86_feature_detected!("aes")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_blocks_of_a_largest_session_message() {
        // 3119 bytes pad to 195 blocks; the MAC input is 16 + 4 + 3120 = 3140 bytes (197
        // blocks) plus the subkey block.
        let b = scp03_blocks(3119);
        assert_eq!(b.parallel, 195);
        assert_eq!(b.serial, 1 + 195 + 198 + 198 + 1);
    }

    #[test]
    fn counts_the_blocks_of_ccm() {
        let b = ccm_blocks(2019);
        assert_eq!((b.serial, b.parallel), (128, 128));
    }

    #[test]
    fn builds_a_blob_of_the_measured_size_that_unwraps() {
        let key = WrapKey::new(&[7; 32]).unwrap();
        let blob = blob(&key).unwrap();
        assert_eq!(blob.len(), BLOB_LEN);
        assert_eq!(wrap::unwrap(&key, &blob).unwrap().header.object_type, ObjectType::OPAQUE);
    }

    #[test]
    fn replays_recorded_responses_into_a_fresh_session() {
        let case = scp03_case(3).unwrap();
        let (mut client, _) = session_pair(&case.keys).unwrap();
        for response in &case.responses {
            client.seal(&case.command).unwrap();
            assert_eq!(client.open(response).unwrap(), case.expected);
        }
    }
}
