//! Frame length rules every transport enforces (docs/PROTOCOL.md §2): a request must be one
//! well-formed frame of at most [`MAX_FRAME_LEN`] bytes before anything is sent, and a
//! response must be `code || len(2) || data` with `len` matching exactly.

use yhsm_proto::frame::{self, HEADER_LEN, MAX_FRAME_LEN};

use crate::TransportError;

/// Checks a request before it is sent.
pub fn check_request(request: &[u8]) -> Result<(), TransportError> {
    if request.len() > MAX_FRAME_LEN {
        return Err(TransportError::RequestTooLong { len: request.len() });
    }
    frame::decode(request)
        .map(|_| ())
        .map_err(|e| TransportError::InvalidRequest { what: e.to_string() })
}

/// Checks a response as received: at least the header, at most one frame, and
/// `len == HEADER_LEN + BE16(bytes 1..3)`.
pub fn check_response(response: &[u8]) -> Result<(), TransportError> {
    if response.len() > MAX_FRAME_LEN {
        return Err(TransportError::Malformed {
            what: format!("{} bytes, more than a frame ({MAX_FRAME_LEN} bytes)", response.len()),
        });
    }
    if response.len() < HEADER_LEN {
        return Err(TransportError::Malformed {
            what: format!("{} bytes, shorter than a frame header", response.len()),
        });
    }
    frame::decode(response).map(|_| ()).map_err(|_| {
        let declared = response
            .get(1..3)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map_or(0, |b| usize::from(u16::from_be_bytes(b)));
        TransportError::Malformed {
            what: format!(
                "length field says {declared} data bytes but {} arrived",
                response.len() - HEADER_LEN
            ),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_exact_frames() {
        check_response(&[0x81, 0, 0]).unwrap();
        check_response(&[0x81, 0, 2, 1, 2]).unwrap();
        let mut max = vec![0x85, 0x0c, 0x40];
        max.resize(MAX_FRAME_LEN, 0);
        check_response(&max).unwrap();
        check_request(&max).unwrap();
    }

    #[test]
    fn rejects_length_mismatches() {
        for bad in
            [&[][..], &[0x81], &[0x81, 0], &[0x81, 0, 1], &[0x81, 0, 1, 1, 2], &[0x81, 0, 0, 0]]
        {
            let e = check_response(bad).unwrap_err();
            assert!(matches!(e, TransportError::Malformed { .. }), "{bad:?}: {e:?}");
        }
        let msg = check_response(&[0x81, 0, 5, 1]).unwrap_err().to_string();
        assert!(msg.contains("says 5 data bytes but 1 arrived"), "{msg}");
    }

    #[test]
    fn rejects_oversized_frames() {
        let mut long = vec![0x85, 0x0c, 0x41];
        long.resize(MAX_FRAME_LEN + 1, 0);
        assert!(check_response(&long).unwrap_err().to_string().contains("more than a frame"));
        assert_eq!(
            check_request(&long),
            Err(TransportError::RequestTooLong { len: MAX_FRAME_LEN + 1 })
        );
    }

    #[test]
    fn rejects_requests_that_are_not_frames() {
        assert!(matches!(
            check_request(&[0x01, 0, 2, 9]),
            Err(TransportError::InvalidRequest { .. })
        ));
        assert!(matches!(check_request(&[0x01]), Err(TransportError::InvalidRequest { .. })));
        check_request(&[0x01, 0, 1, 9]).unwrap();
    }
}
