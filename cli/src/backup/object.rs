//! What a decrypted backup object is, without its secret parts (docs/PROTOCOL.md §5): the
//! header, the delegated capabilities, and the public key of an asymmetric key. Restore,
//! verify and inspect all see a `.yhw` file through this.

use yhsm_proto::Capabilities;
use yhsm_proto::wrap::{WrapHeader, WrappedObject};

/// A decrypted object without its secret parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub header: WrapHeader,
    /// For authentication and wrap keys.
    pub delegated: Option<Capabilities>,
    /// EC `X || Y`, the ed25519 public key or the RSA modulus.
    pub public_key: Option<Vec<u8>>,
}

impl Summary {
    /// The public parts of `object`.
    pub fn of(object: &WrappedObject) -> Self {
        Self {
            header: object.header,
            delegated: object.body.delegated_capabilities(),
            public_key: object.public_key(),
        }
    }
}
