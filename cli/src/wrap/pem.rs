//! PEM armor (RFC 7468): the base64 between `-----BEGIN LABEL-----` and `-----END
//! LABEL-----`. Hand-written on the `base64` crate already in the build; `pem-rfc7468`
//! would add two crates for these few lines.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

/// A decoded PEM block.
#[derive(Debug)]
pub struct Block {
    pub label: String,
    pub der: Zeroizing<Vec<u8>>,
}

/// Whether `input` looks like PEM rather than DER.
pub fn is_pem(input: &[u8]) -> bool {
    input.windows(11).any(|w| w == b"-----BEGIN ")
}

/// The first block of `input` whose label is not in `skip` (OpenSSL writes an `EC
/// PARAMETERS` block before some EC keys).
pub fn decode(input: &[u8], skip: &[&str]) -> Result<Block, String> {
    let text = std::str::from_utf8(input).map_err(|_| "the PEM file is not text".to_owned())?;
    let mut lines = text.lines().map(str::trim);
    loop {
        let label = loop {
            match lines.next() {
                None => return Err("no PEM block (-----BEGIN ...-----) found".to_owned()),
                Some(line) => {
                    if let Some(label) =
                        line.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----"))
                    {
                        break label.to_owned();
                    }
                }
            }
        };
        let end = format!("-----END {label}-----");
        // Sized up front: growing would leave copies of the key in freed memory.
        let mut body = Zeroizing::new(String::with_capacity(text.len()));
        loop {
            match lines.next() {
                None => return Err(format!("the PEM block `{label}` has no END line")),
                Some(line) if line == end => break,
                Some(line) if line.contains(':') => {
                    if line.starts_with("Proc-Type:") && line.contains("ENCRYPTED") {
                        return Err(format!(
                            "the PEM block `{label}` is encrypted; decrypt it first, e.g. \
                             `openssl pkey -in FILE -out PLAIN.pem`"
                        ));
                    }
                    // Other RFC 1421 headers carry nothing this tool needs.
                }
                Some(line) => body.push_str(line),
            }
        }
        if skip.contains(&label.as_str()) {
            continue;
        }
        let der = STANDARD
            .decode(body.as_bytes())
            .map_err(|_| format!("the PEM block `{label}` is not valid base64"))?;
        return Ok(Block { label, der: Zeroizing::new(der) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_first_wanted_block() {
        let pem = "junk\n-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC \
                   PARAMETERS-----\n-----BEGIN EC PRIVATE KEY-----\r\nAAEC\r\nAw==\r\n-----END \
                   EC PRIVATE KEY-----\n";
        let b = decode(pem.as_bytes(), &["EC PARAMETERS"]).unwrap();
        assert_eq!(b.label, "EC PRIVATE KEY");
        assert_eq!(&b.der[..], &[0, 1, 2, 3]);
        assert!(is_pem(pem.as_bytes()));
        assert!(!is_pem(&[0x30, 0x82]));
    }

    #[test]
    fn rejects_broken_armor() {
        assert!(decode(b"nothing", &[]).unwrap_err().contains("no PEM block"));
        let e = decode(b"-----BEGIN X-----\nAAAA\n", &[]).unwrap_err();
        assert!(e.contains("no END line"), "{e}");
        let e = decode(b"-----BEGIN X-----\nA!AA\n-----END X-----\n", &[]).unwrap_err();
        assert!(e.contains("not valid base64"), "{e}");
        let e = decode(
            b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAAAA\n-----END RSA \
              PRIVATE KEY-----\n",
            &[],
        )
        .unwrap_err();
        assert!(e.contains("encrypted"), "{e}");
    }
}
